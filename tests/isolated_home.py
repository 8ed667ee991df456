"""An autouse fixture that gives every test its own ``ASSISTANT_HOME``, so nothing writes
to the real one. Import it into a conftest or test module to apply it there."""

from __future__ import annotations

import pytest


@pytest.fixture(name="_isolated_home", autouse=True)
def isolated_home(tmp_path, monkeypatch):
    from core.settings import get_settings

    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "assistant-home"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()
