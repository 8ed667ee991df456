"""Fixtures for the model layer: a tiny Llama + word-level tokenizer built offline, tiny
LoRA adapters, and (slow) the real bundled SmolLM2 converted into a temporary home."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest
import tiny_models
from isolated_home import isolated_home  # noqa: F401  (autouse: a fresh ASSISTANT_HOME)

TEXT = (  # the tiny tokenizer's whole vocabulary, besides the special tokens
    "the cat sat on a mat . who sat where ? answer with one word please . "
    "a dog ran to the park and the bird flew over it while people watched"
)


def build_tiny_model(directory: Path, seed: int = 0) -> Path:
    """The shared tiny Llama over this folder's vocabulary, 256 positions."""
    return tiny_models.build_tiny_model(directory, TEXT, seed=seed, max_positions=256)


def build_lora_adapter(base_dir: Path, out: Path, seed: int = 1) -> Path:
    """The shared untrained LoRA adapter, on q, v and o."""
    return tiny_models.build_lora_adapter(base_dir, out, seed=seed,
                                          target_modules=("q_proj", "v_proj", "o_proj"))


@pytest.fixture(scope="session")
def tiny_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny")


@pytest.fixture(scope="session")
def tiny_other_dir(tmp_path_factory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("models") / "tiny-other", seed=7)


@pytest.fixture(scope="session")
def tiny(tiny_dir):
    """The tiny model loaded once, never wrapped in an AdapterSet (tests must not)."""
    from assistant.models import ModelConfig, load_base

    return load_base(ModelConfig(base=str(tiny_dir), device="cpu"))


@pytest.fixture(scope="session")
def tiny_adapter(tiny_dir, tmp_path_factory) -> Path:
    return build_lora_adapter(tiny_dir, tmp_path_factory.mktemp("adapters") / "tiny-lora")


@pytest.fixture(scope="session")
def tiny_other_adapter(tiny_other_dir, tmp_path_factory) -> Path:
    return build_lora_adapter(tiny_other_dir, tmp_path_factory.mktemp("adapters") / "other")


@pytest.fixture(scope="session")
def make_lora_adapter():
    """``build_lora_adapter(base_dir, out)`` for tests that need one on another base."""
    return build_lora_adapter


@pytest.fixture(scope="session")
def smollm2(tmp_path_factory):
    """The bundled SmolLM2 converted into a fresh home, then loaded again from the cache.

    The second load runs with the converter replaced by one that fails, so it can only
    have come from the cache. Returns the second ``LoadedModel`` plus timings.
    """
    from assistant import models
    from assistant.settings import get_settings

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
