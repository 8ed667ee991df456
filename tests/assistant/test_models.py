"""Base model loading: config validation, device/dtype choice, local dirs, GGUF cache,
hub ids offline, and LoRA adapters attached per name."""

from __future__ import annotations

import json

import pytest
import torch

from assistant.answering.adapters import AdapterSet
from assistant.answering.models import (
    BUNDLED_MODEL,
    AdapterError,
    ModelConfig,
    ModelLoadError,
    load_base,
    resolve_dtype,
    weights_hash,
)
from core.errors import ConfigError

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")


@pytest.mark.parametrize(
    ("field", "kwargs"),
    [
        ("device", {"device": "gpu"}),
        ("device", {"device": "cuda:x"}),
        ("dtype", {"dtype": "int8"}),
        ("base", {"base": " "}),
    ],
)
def test_config_rejects_bad_values_naming_the_field(field, kwargs):
    with pytest.raises(ConfigError, match=field):
        ModelConfig(**kwargs)


@no_cuda
@pytest.mark.parametrize("device", ["cuda", "cuda:0"])
def test_cuda_without_gpu_is_a_config_error(device):
    with pytest.raises(ConfigError, match="no CUDA GPU"):
        ModelConfig(device=device)


@no_cuda
def test_auto_picks_cpu_and_float32(tiny):
    assert resolve_dtype("auto", "cpu") == "float32"
    assert tiny.device == "cpu"
    assert tiny.dtype == "float32"
    assert next(tiny.model.parameters()).dtype == torch.float32


def test_local_directory_loads_ready_to_generate(tiny, tiny_dir):
    assert tiny.model_id == "tiny"
    assert tiny.path == tiny_dir.resolve()
    assert not tiny.model.training
    assert tiny.tokenizer.chat_template
    assert tiny.tokenizer.pad_token == "<pad>"
    assert tiny.context_window == 256
    assert tiny.weights_hash == weights_hash(tiny_dir)
    assert len(tiny.weights_hash) == 16
    assert not tiny.converted


def test_explicit_bfloat16_on_cpu(tiny_dir):
    loaded = load_base(ModelConfig(base=str(tiny_dir), device="cpu", dtype="bfloat16"))
    assert next(loaded.model.parameters()).dtype == torch.bfloat16


def test_weights_hash_changes_with_weights(tiny_dir, tiny_other_dir):
    assert weights_hash(tiny_dir) != weights_hash(tiny_other_dir)


def test_directory_without_config_fails_clearly(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(ModelLoadError, match="no config.json"):
        load_base(ModelConfig(base=str(tmp_path / "empty"), device="cpu"))


def test_missing_gguf_file_fails_clearly(tmp_path):
    with pytest.raises(ModelLoadError, match="not a .gguf file"):
        load_base(ModelConfig(base=str(tmp_path / "nope.gguf"), device="cpu"))


def test_broken_gguf_fails_and_leaves_no_cache(tmp_path):
    from core.settings import get_settings

    bad = tmp_path / "broken.gguf"
    bad.write_bytes(b"not a gguf file at all")
    with pytest.raises(ModelLoadError, match="GGUF conversion failed"):
        load_base(ModelConfig(base=str(bad), device="cpu"))
    models_dir = get_settings().models_dir
    assert [p.name for p in models_dir.iterdir() if not p.name.endswith(".lock")] == []


@pytest.fixture
def fake_dequantize(monkeypatch):
    """Replace the 15 s transformers conversion by a slow fake that writes one file."""
    import time

    from assistant.answering import models

    calls = []

    def dequantize(gguf, out):
        calls.append(gguf)
        time.sleep(0.3)  # long enough for a second converter to queue on the lock
        (out / "model.safetensors").write_bytes(gguf.read_bytes())

    monkeypatch.setattr(models, "_dequantize", dequantize)
    return calls


def test_gguf_is_converted_once_under_concurrency(tmp_path, fake_dequantize):
    from concurrent.futures import ThreadPoolExecutor

    from assistant.answering.models import ensure_converted

    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"weights v1")
    models_dir = tmp_path / "models"
    with ThreadPoolExecutor(2) as pool:
        results = list(pool.map(lambda _: ensure_converted(gguf, models_dir), range(2)))
    assert len(fake_dequantize) == 1
    assert results[0][0] == results[1][0]
    assert sorted(converted for _, converted in results) == [False, True]
    target = results[0][0]
    assert target.name.startswith("m-") and len(target.name) == len("m-") + 12
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["source_gguf"] == str(gguf)
    assert not list(models_dir.glob(".*.tmp-*"))
    assert ensure_converted(gguf, models_dir) == (target, False)


def test_changed_gguf_under_a_fixed_name_is_reconverted(tmp_path, fake_dequantize):
    from assistant.answering.models import ensure_converted

    gguf, models_dir = tmp_path / "m.gguf", tmp_path / "models"
    gguf.write_bytes(b"weights v1")
    target, _ = ensure_converted(gguf, models_dir, "bundled")
    old = json.loads((target / "manifest.json").read_text())
    gguf.write_bytes(b"weights v2, a different file")
    assert ensure_converted(gguf, models_dir, "bundled") == (target, True)
    new = json.loads((target / "manifest.json").read_text())
    assert new["source_sha256"] != old["source_sha256"]
    assert (target / "model.safetensors").read_bytes() == b"weights v2, a different file"
    assert len(fake_dequantize) == 2


def test_hub_id_offline_names_the_id(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="acme/no-such-model"):
        load_base(ModelConfig(base="acme/no-such-model", device="cpu"))


# ---- adapters -------------------------------------------------------------------------


@pytest.fixture
def adapters(tiny_dir):
    """A fresh AdapterSet on its own copy of the tiny model (adding one mutates it)."""
    return AdapterSet(load_base(ModelConfig(base=str(tiny_dir), device="cpu")))


def test_adapter_loads_and_is_listed(adapters, tiny_adapter):
    adapters.add("faq", tiny_adapter)
    adapters.add("hr", tiny_adapter)
    assert adapters.names() == ["faq", "hr"]
    assert adapters.path("hr") == tiny_adapter
    adapters.remove("faq")
    assert adapters.names() == ["hr"]


def test_adapter_default_path_is_under_home(adapters, tiny_adapter):
    import shutil

    from core.settings import get_settings

    shutil.copytree(tiny_adapter, get_settings().adapters_dir / "faq")
    adapters.add("faq")
    assert adapters.path("faq") == get_settings().adapters_dir / "faq"


def test_unknown_adapter_lists_known_ones(adapters, tiny_adapter):
    adapters.add("faq", tiny_adapter)
    with pytest.raises(AdapterError, match=r"unknown adapter 'hr'.*'faq'"):
        adapters.check("hr")
    with pytest.raises(AdapterError, match="already loaded"):
        adapters.add("faq", tiny_adapter)


def test_adapter_for_another_base_is_refused(adapters, tiny_other_adapter):
    with pytest.raises(AdapterError, match=r"tiny-other.*loaded base is 'tiny'"):
        adapters.add("other", tiny_other_adapter)
    assert adapters.names() == []


def test_adapter_manifest_hash_mismatch_is_refused(adapters, tiny_adapter, tmp_path):
    import shutil

    copy = shutil.copytree(tiny_adapter, tmp_path / "copy")
    (copy / "manifest.json").write_text(
        json.dumps({"base_model_id": "tiny", "base_weights_hash": "0123456789abcdef"})
    )
    with pytest.raises(AdapterError, match=r"0123456789abcdef.*" + adapters.loaded.weights_hash):
        adapters.add("faq", copy)


def test_adapter_manifest_match_is_accepted(adapters, tiny_adapter, tmp_path):
    import shutil

    copy = shutil.copytree(tiny_adapter, tmp_path / "copy")
    config = json.loads((copy / "adapter_config.json").read_text())
    config["base_model_name_or_path"] = "somewhere/else"  # the manifest takes precedence
    (copy / "adapter_config.json").write_text(json.dumps(config))
    (copy / "manifest.json").write_text(json.dumps(
        {"base_model_id": "tiny", "base_weights_hash": adapters.loaded.weights_hash}
    ))
    adapters.add("faq", copy)
    assert adapters.names() == ["faq"]


def test_directory_without_adapter_config_is_refused(adapters, tmp_path):
    with pytest.raises(AdapterError, match="adapter_config.json"):
        adapters.add("faq", tmp_path)


# ---- slow: the real bundled model -----------------------------------------------------


@pytest.mark.slow
def test_bundled_model_converts_once_then_loads_from_cache(smollm2):
    loaded = smollm2.loaded
    assert smollm2.first.converted
    assert not loaded.converted  # the converter was disabled for the second load
    assert loaded.model_id == BUNDLED_MODEL
    assert loaded.path == smollm2.home / "models" / BUNDLED_MODEL
    manifest = json.loads((loaded.path / "manifest.json").read_text())
    assert manifest["source_gguf"].endswith(".gguf")
    assert len(manifest["source_sha256"]) == 64
    assert manifest["weights_hash"] == loaded.weights_hash == smollm2.first.weights_hash
    assert {"created_at", "transformers_version"} <= manifest.keys()
    assert sorted(p.name for p in loaded.path.glob("*.safetensors")) == ["model.safetensors"]
    assert not list((smollm2.home / "models").glob(".*.tmp-*"))
    assert loaded.context_window == 8192
    assert "<|im_start|>" in loaded.tokenizer.chat_template
    assert loaded.tokenizer.pad_token is not None
    print(f"\nconvert {smollm2.convert_s:.1f} s, cached load {smollm2.cached_s:.2f} s")


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_auto_loads_in_bfloat16(tiny_dir):
    from assistant.answering.generation import GenerationConfig, generate

    loaded = load_base(ModelConfig(base=str(tiny_dir), device="cuda"))
    assert loaded.dtype == "bfloat16"
    assert next(loaded.model.parameters()).device.type == "cuda"
    out = generate(loaded, "the cat", GenerationConfig(max_new_tokens=5))
    assert out.completion_tokens == 5
