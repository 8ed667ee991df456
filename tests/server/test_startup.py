"""``assistant serve`` does not start when what it would load cannot be had: a bad or
missing device, a model that cannot be found, an adapter path, verifier embedder or unit
selector that is not there. It says which setting and why, and exits 2, before listening.
What only loading can tell fails in the background, and ``/healthz`` then says 503."""

from __future__ import annotations

import json
import time

import httpx
import pytest

from assistant.cli.main import main
from assistant.server import create_app
from assistant.server.startup import check_settings
from core.errors import ConfigError


@pytest.fixture
def offline(monkeypatch):
    """No model hub: a hub id must be in the local cache."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)


@pytest.fixture
def no_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)


@pytest.fixture
def started(monkeypatch) -> list:
    """uvicorn.run replaced: what the CLI would have started."""
    import uvicorn

    calls: list = []
    monkeypatch.setattr(uvicorn, "run", lambda *a, **kw: calls.append(kw))
    return calls


def test_the_device_is_checked(settings, no_gpu):
    with pytest.raises(ConfigError, match=r"--device / ASSISTANT_SERVER_DEVICE 'tpu': "
                                          r"device must be one of auto, cpu, cuda"):
        check_settings(settings(server_device="tpu"))
    for device in ("cuda", "cuda:1"):
        with pytest.raises(ConfigError, match="no CUDA GPU is available"):
            check_settings(settings(server_device=device))
    check_settings(settings(server_device="cpu"))
    check_settings(settings(server_device="auto"))


def test_the_model_is_found_without_loading_it(settings, tiny_dir, tmp_path, offline,
                                               weight_loads, monkeypatch):
    check_settings(settings())  # the bundled model
    check_settings(settings(server_model=str(tiny_dir), server_device="cpu"))
    empty = tmp_path / "empty"
    empty.mkdir()
    gguf = tmp_path / "model.gguf"
    text = tmp_path / "weights.txt"
    text.write_text("not a model")
    cases = {"nosuchmodel": "not in the local hub cache",
             str(empty): "has no config.json",
             str(gguf): "no such file",
             str(text): "not a .gguf file or a model directory",
             "./not/there": "no such file or directory",
             "not a/hub id": "no such file or directory"}
    for model, why in cases.items():
        with pytest.raises(ConfigError, match="--model / ASSISTANT_SERVER_MODEL") as info:
            check_settings(settings(server_model=model))
        assert why in str(info.value) and repr(model) in str(info.value)
    assert weight_loads == []

    # With the hub reachable, it is asked whether the model exists (nothing downloaded).
    import huggingface_hub

    asked = []

    def model_info(self, repo_id, **kwargs):
        asked.append(repo_id)
        raise OSError(f"{repo_id}: 404 repository not found")

    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr(huggingface_hub.HfApi, "model_info", model_info)
    with pytest.raises(ConfigError, match="not found on the model hub"):
        check_settings(settings(server_model="nosuchmodel"))
    assert asked == ["nosuchmodel"]


def test_adapters_embedder_selector_and_registry_are_checked(settings, tiny_dir, tmp_path,
                                                             offline):
    from server_doubles import build_lora_adapter

    lora = build_lora_adapter(tiny_dir, tmp_path / "lora")
    base = {"server_model": str(tiny_dir), "server_device": "cpu"}
    check_settings(settings(**base, server_adapters={"lora": lora},
                            server_verifier_embedder="all-MiniLM-L6-v2"))
    a_file = tmp_path / "file.txt"
    a_file.write_text("not a registry")
    cases = [
        ({"server_adapters": {"x": tmp_path / "nonexistent"}},
         "ASSISTANT_SERVER_ADAPTERS 'x=", "no such directory"),
        ({"server_adapters": {"x": tmp_path}}, "ASSISTANT_SERVER_ADAPTERS", "no adapter_config"),
        ({"server_verifier_embedder": "nosuch"}, "ASSISTANT_SERVER_VERIFIER_EMBEDDER 'nosuch'",
         "not in the local hub cache"),
        ({"server_verifier_embedder": "nosuch@v2"}, "ASSISTANT_SERVER_VERIFIER_EMBEDDER",
         "no tuned embedder"),
        ({"server_verifier_embedder": str(tmp_path / "gone")},
         "ASSISTANT_SERVER_VERIFIER_EMBEDDER", "no embedder directory"),
        ({"answer_unit_selector": "nosel@v1"}, "ASSISTANT_ANSWER_UNIT_SELECTOR",
         "nothing named 'nosel'"),
        ({"server_registry": a_file}, "--registry / ASSISTANT_SERVER_REGISTRY",
         "not an adapter registry"),
    ]
    for values, setting, why in cases:
        with pytest.raises(ConfigError, match="cannot serve") as info:
            check_settings(settings(**base, **values))
        assert setting in str(info.value) and why in str(info.value), str(info.value)
    # A registry that is not there yet is fine: one created later is picked up.
    check_settings(settings(**base, server_registry=tmp_path / "later"))


def test_serve_exits_2_before_listening(index_dir, tmp_path, capsys, started, no_gpu,
                                        offline, monkeypatch):
    from core.settings import get_settings

    serve = ["serve", "--index", str(index_dir), "--keys", str(tmp_path / "keys.sqlite")]
    for flags, message in ((["--device", "tpu"], "--device / ASSISTANT_SERVER_DEVICE 'tpu'"),
                           (["--device", "cuda"], "no CUDA GPU is available"),
                           (["--model", "nosuchmodel"],
                            "--model / ASSISTANT_SERVER_MODEL 'nosuchmodel'")):
        assert main([*serve, *flags]) == 2, flags
        err = capsys.readouterr().err
        assert err.startswith("assistant: error: cannot serve:") and message in err
    for name, value, message in (
            ("ASSISTANT_SERVER_ADAPTERS", json.dumps({"x": "/nonexistent"}),
             "ASSISTANT_SERVER_ADAPTERS 'x=/nonexistent': no such directory"),
            ("ASSISTANT_SERVER_VERIFIER_EMBEDDER", "nosuch",
             "ASSISTANT_SERVER_VERIFIER_EMBEDDER 'nosuch'")):
        monkeypatch.setenv(name, value)
        get_settings.cache_clear()
        assert main(serve) == 2, name
        assert message in capsys.readouterr().err
        monkeypatch.delenv(name)
        get_settings.cache_clear()
    assert started == []
    assert main(serve) == 0 and len(started) == 1  # the defaults: bundled model, auto


def test_healthz_is_503_once_loading_failed(live, settings, monkeypatch):
    from assistant.answering.models import ModelLoadError
    from assistant.server import app as app_module

    def fail(settings):
        raise ModelLoadError("tiny: weights unreadable")

    monkeypatch.setattr(app_module, "build_services", fail)
    server = live(create_app(settings()))
    until = time.monotonic() + 20
    while (health := httpx.get(f"{server.url}/healthz")).status_code == 200:
        assert time.monotonic() < until, "healthz never reported the failed load"
        time.sleep(0.05)
    assert health.status_code == 503
    assert health.json() == {"status": "failed", "reasons": [
        "model failed to load: ModelLoadError: tiny: weights unreadable"]}
    ready = httpx.get(f"{server.url}/readyz")
    assert ready.status_code == 503 and "model failed to load" in ready.json()["reasons"][0]
