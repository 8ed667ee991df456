"""Fixtures for the model layer: a tiny Llama + word-level tokenizer built offline, tiny
LoRA adapters (the real bundled SmolLM2, `smollm2`, is in the root conftest)."""

from __future__ import annotations

from pathlib import Path

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
    from assistant.answering.models import ModelConfig, load_base

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
