"""Base model loading: config validation, device/dtype choice, local dirs, GGUF cache,
hub ids offline, and LoRA adapters attached per name."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
import torch

from assistant.answering.adapters import AdapterSet
from assistant.answering.models import (
    BUNDLED_MODEL,
    AdapterError,
    ModelConfig,
    ModelLoadError,
    lazy_base,
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
    from assistant.answering.models import ModelNotFoundError, classify_base

    with pytest.raises(ModelNotFoundError, match="nope.gguf: no such file or directory"):
        load_base(ModelConfig(base=str(tmp_path / "nope.gguf"), device="cpu"))
    text = tmp_path / "weights.txt"
    text.write_text("not a model")
    with pytest.raises(ModelNotFoundError, match="not a .gguf file or a model directory"):
        load_base(ModelConfig(base=str(text), device="cpu"))
    # A path that is not there is never taken for a hub id (no hub request is made)
    assert classify_base(str(tmp_path / "no-dir")).kind == "missing"
    assert classify_base("./models/mine").kind == "missing"
    assert classify_base("org/some-model").kind == "hub"
    assert classify_base("SmolLM2-135M-Instruct").kind == "bundled"
    assert classify_base(str(tmp_path)).why == ("has no config.json; not a Hugging Face "
                                                "model directory")
    (tmp_path / "config.json").write_text("{}")
    assert classify_base(str(tmp_path)).kind == "directory"


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


# ---- lazy: found now, weights on first need ------------------------------------------


@pytest.mark.parametrize("make", ["dir-without-config", "missing-gguf", "no-bundle"])
def test_lazy_base_fails_at_start_like_load_base(make, tmp_path, monkeypatch):
    from assistant.answering import models

    base = {"dir-without-config": str(tmp_path), "missing-gguf": str(tmp_path / "no.gguf"),
            "no-bundle": BUNDLED_MODEL}[make]
    monkeypatch.setattr(models, "_BUNDLED_PACKAGE", "no_such_package_for_this_test")
    with pytest.raises(ModelLoadError) as eager:
        load_base(ModelConfig(base=base, device="cpu"))
    with pytest.raises(ModelLoadError) as lazy:
        lazy_base(ModelConfig(base=base, device="cpu"))
    assert str(lazy.value) == str(eager.value)


def test_lazy_base_counts_with_the_tokenizer_and_loads_the_weights_once(tiny, tiny_dir,
                                                                      monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    from assistant.answering import models

    loads = []
    real = models._load_model

    def slow_load(*args):
        loads.append(args)
        time.sleep(0.2)  # long enough for the other threads to ask meanwhile
        return real(*args)

    monkeypatch.setattr(models, "_load_model", slow_load)
    lazy = lazy_base(ModelConfig(base=str(tiny_dir), device="cpu"))
    assert not lazy.is_loaded and loads == []
    assert (lazy.model_id, lazy.device, lazy.dtype) == (tiny.model_id, "cpu", "float32")
    assert lazy.context_window == tiny.context_window == 256  # from config.json
    text = "the cat sat on a mat"
    assert lazy.tokenizer(text)["input_ids"] == tiny.tokenizer(text)["input_ids"]
    assert not lazy.is_loaded and loads == []
    with ThreadPoolExecutor(4) as pool:
        hashes = list(pool.map(lambda _: lazy.weights_hash, range(4)))
    assert len(loads) == 1 and set(hashes) == {tiny.weights_hash}
    loaded = lazy.load()
    assert lazy.is_loaded and lazy.model is loaded.model and len(loads) == 1
    assert loaded.lock is lazy.lock and loaded.tokenizer is lazy.tokenizer
    assert not lazy.converted and lazy.path == tiny_dir.resolve()


def test_lazy_gguf_saves_its_tokenizer_and_converts_on_first_need(tmp_path, tiny_dir,
                                                                 monkeypatch):
    import shutil

    from transformers import AutoTokenizer

    from assistant.answering import models
    from core.settings import get_settings

    gguf = tmp_path / "tiny.gguf"
    gguf.write_bytes(b"stands in for a GGUF")
    parsed, converted = [], []

    def gguf_tokenizer(path, model_id):  # what transformers reads from a real GGUF
        parsed.append(path)
        return models._checked_tokenizer(AutoTokenizer.from_pretrained(tiny_dir), model_id)

    def dequantize(source, out):  # the tiny model stands in for the GGUF's conversion
        converted.append(source)
        for file in tiny_dir.iterdir():
            shutil.copy(file, out / file.name)

    import core.hashing

    hashed, real_hash = [], core.hashing.file_sha256

    def file_sha256(path, *args):  # every read of a file's bytes for its hash
        hashed.append(path)
        return real_hash(path, *args)

    monkeypatch.setattr(models, "_load_gguf_tokenizer", gguf_tokenizer)
    monkeypatch.setattr(models, "_dequantize", dequantize)
    monkeypatch.setattr(core.hashing, "file_sha256", file_sha256)
    config = ModelConfig(base=str(gguf), device="cpu")
    lazy = lazy_base(config)
    models_dir = get_settings().models_dir
    saved = [p for p in models_dir.iterdir() if not p.name.endswith(".lock")]
    assert parsed == [gguf] and converted == [] and not lazy.is_loaded
    # Nothing converted; the tokenizer kept beside where the conversion will go.
    assert len(saved) == 1 and saved[0].name.startswith("tiny-")
    assert saved[0].name.endswith(".tokenizer")
    again = lazy_base(config)  # reads the saved tokenizer, not the GGUF
    assert parsed == [gguf]
    assert again.tokenizer("who sat where ?")["input_ids"] \
        == lazy.tokenizer("who sat where ?")["input_ids"]
    from_gguf = lazy.tokenizer
    loaded = lazy.load()  # converts, then loads with the conversion's own tokenizer
    assert converted == [gguf] and lazy.converted
    assert loaded.path == saved[0].with_name(saved[0].name.removesuffix(".tokenizer"))
    assert lazy.tokenizer is loaded.tokenizer is not from_gguf
    assert lazy.context_window == 256
    third = lazy_base(config)  # the conversion is there now: its tokenizer, no parse
    assert parsed == [gguf] and third.location.cached() == loaded.path
    assert not third.is_loaded and third.load().path == loaded.path and converted == [gguf]
    # Naming the cache, checking the saved tokenizer and converting all need the GGUF's
    # SHA-256: it is read once.
    assert hashed.count(gguf) == 1


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


@pytest.mark.slow
def test_bundled_model_read_lazily_counts_like_its_conversion(smollm2, tmp_path, monkeypatch):
    """In a home without the conversion the tokenizer is read from the GGUF (and saved
    for the next start): it counts and renders exactly as the converted model's."""
    from core.settings import get_settings

    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "fresh"))
    get_settings.cache_clear()
    lazy = lazy_base(ModelConfig(device="cpu"))
    models_dir = tmp_path / "fresh" / "models"
    assert not lazy.is_loaded and not (models_dir / BUNDLED_MODEL).exists()
    assert (models_dir / f"{BUNDLED_MODEL}.tokenizer" / "manifest.json").is_file()
    again = lazy_base(ModelConfig(device="cpu"))  # from the saved copy
    converted = smollm2.loaded.tokenizer
    messages = [{"role": "user", "content": "Héllo wörld 😀 <|im_start|> tabs\t\n"}]
    for text in ("How long do I have to return a product?", messages[0]["content"],
                 (Path(__file__).parents[2] / "README.md").read_text()):
        ids = converted(text, add_special_tokens=False)["input_ids"]
        assert lazy.tokenizer(text, add_special_tokens=False)["input_ids"] == ids
        assert again.tokenizer(text, add_special_tokens=False)["input_ids"] == ids
    for tokenizer in (lazy.tokenizer, again.tokenizer):
        assert tokenizer.apply_chat_template(messages, tokenize=False) \
            == converted.apply_chat_template(messages, tokenize=False)
        assert tokenizer.pad_token_id == converted.pad_token_id
    assert not lazy.is_loaded and not again.is_loaded


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
def test_cuda_auto_loads_in_bfloat16(tiny_dir):
    from assistant.answering.generation import GenerationConfig, generate

    loaded = load_base(ModelConfig(base=str(tiny_dir), device="cuda"))
    assert loaded.dtype == "bfloat16"
    assert next(loaded.model.parameters()).device.type == "cuda"
    out = generate(loaded, "the cat", GenerationConfig(max_new_tokens=5))
    assert out.completion_tokens == 5


def test_the_gguf_conversion_bar_follows_the_quiet_switch(capfd):
    """`assistant -q` (and runs without a terminal) turn transformers' bars off; its GGUF
    reader drew its own with plain tqdm, which ignored that."""
    from transformers import modeling_gguf_pytorch_utils as gguf_utils
    from transformers.utils import logging as hf_logging

    from assistant.answering.models import _gguf_bar_follows_transformers

    _gguf_bar_follows_transformers()
    assert gguf_utils.tqdm is hf_logging.tqdm
    hf_logging.disable_progress_bar()
    try:
        for _ in gguf_utils.tqdm(range(3), desc="Converting and de-quantizing GGUF tensors..."):
            pass
        assert "de-quantizing" not in capfd.readouterr().err
    finally:
        hf_logging.enable_progress_bar()
    for _ in gguf_utils.tqdm(range(3), desc="Converting and de-quantizing GGUF tensors..."):
        pass
    assert "de-quantizing" in capfd.readouterr().err
