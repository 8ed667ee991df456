"""Shared fixtures: the real bundled embedder, loaded once per session (0.2 s, 90 MB), and
the bundled SmolLM2 converted once per session for every slow test that needs it."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest


@pytest.fixture(scope="session")
def embedder():
    from ingest.embedding import Embedder

    return Embedder()


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    """The bundled SmolLM2 converted into a fresh home, then loaded again from the cache.

    The second load runs with the converter replaced by one that fails, so it can only
    have come from the cache. Returns the second ``LoadedModel`` plus timings.
    """
    from assistant.answering import models
    from core.settings import get_settings

    home = tmp_path_factory.mktemp("smollm2-home")

    def no_conversion(*args, **kwargs):
        raise AssertionError("the second load must not convert the GGUF again")

    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ASSISTANT_HOME", str(home))
        get_settings.cache_clear()
        clock = time.perf_counter()
        first = models.load_base(models.ModelConfig(device="cpu"))
        convert_s = time.perf_counter() - clock
        first_info = SimpleNamespace(converted=first.converted, path=first.path,
                                     weights_hash=first.weights_hash)
        del first
        mp.setattr(models, "_convert", no_conversion)
        clock = time.perf_counter()
        loaded = models.load_base(models.ModelConfig(device="cpu"))
        cached_s = time.perf_counter() - clock
    get_settings.cache_clear()
    return SimpleNamespace(home=home, first=first_info, loaded=loaded,
                           convert_s=convert_s, cached_s=cached_s)


@pytest.fixture
def bundled_home(smollm2, tmp_path, monkeypatch) -> Path:
    """A fresh ``ASSISTANT_HOME`` (set in the environment) whose ``models/`` links to the
    session's converted SmolLM2, so a test loads it from the cache instead of converting
    the GGUF again (about 25 s each); adapters, feedback and the rest start empty."""
    from core.settings import get_settings

    home = tmp_path / "home"
    home.mkdir()
    (home / "models").symlink_to(smollm2.home / "models", target_is_directory=True)
    monkeypatch.setenv("ASSISTANT_HOME", str(home))
    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()


@pytest.fixture
def weight_loads(monkeypatch) -> list:
    """Every load of a base model's weights (``models._load_model``), recorded."""
    from assistant.answering import models

    loads, real = [], models._load_model

    def load(*args):
        loads.append(args[0])
        return real(*args)

    monkeypatch.setattr(models, "_load_model", load)
    return loads
