"""Fixtures for the index tests (helpers live in ``synthetic.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def index_dir(tmp_path: Path) -> Path:
    return tmp_path / "index"
