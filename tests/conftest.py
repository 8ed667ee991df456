"""Shared fixtures: the real bundled embedder, loaded once per session (0.2 s, 90 MB)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def embedder():
    from ingest.embedding import Embedder

    return Embedder()
