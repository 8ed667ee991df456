"""A server that builds its own services (``build_services``) from settings whose answers
are extracted or declined finds the model at start but loads its weights only on need:
ready, ``/readyz``, ``/v1/models`` and answers without them; with generation on, or an
adapter to serve, they load at start as before."""

from __future__ import annotations

import time

import httpx
from server_doubles import build_lora_adapter

from assistant.server import create_app


def started(live, settings) -> tuple:
    """A live server on ``settings`` (its services built in the background), once ready:
    ``(server, runtime)``."""
    app = create_app(settings)
    server = live(app)
    until = time.monotonic() + 120
    while (ready := httpx.get(f"{server.url}/readyz")).status_code != 200:
        assert time.monotonic() < until and "failed" not in ready.text, ready.text
        time.sleep(0.1)
    return server, app.state.runtime


def test_extract_or_decline_serves_without_loading_the_weights(live, settings, tiny_dir,
                                                               weight_loads):
    from assistant.answering.places import _gazetteer

    _gazetteer.cache_clear()
    server, runtime = started(live, settings(server_model=str(tiny_dir), server_device="cpu"))
    assert httpx.get(f"{server.url}/readyz").json()["model"] == tiny_dir.name
    assert _gazetteer.cache_info().currsize == 1  # loaded at start, not by a first question
    models = httpx.get(f"{server.url}/v1/models").json()["data"]
    assert [m["id"] for m in models] == [tiny_dir.name]
    for question in ("How many days do I have to return a product?",
                     "Who pays for replacing a broken product?"):
        r = httpx.post(f"{server.url}/v1/answer", timeout=30,
                       json={"question": question, "k": 3})
        assert r.status_code == 200 and r.json()["answer_kind"] in ("extracted", "abstained")
    loaded = runtime.services.generator.loaded
    assert weight_loads == [] and not loaded.is_loaded
    # A generation through the server's batching generator loads them, once.
    from assistant.answering.generation import GenerationConfig

    messages = [{"role": "user", "content": "who sat where ?"}]
    for _ in range(2):
        runtime.generator.generate(messages, GenerationConfig(max_new_tokens=2))
    assert loaded.is_loaded and len(weight_loads) == 1


def test_generation_on_loads_the_weights_at_start(live, settings, tiny_dir, weight_loads):
    _, runtime = started(live, settings(server_model=str(tiny_dir), server_device="cpu",
                                        answer_generate=True))
    assert len(weight_loads) == 1
    assert not hasattr(runtime.services.generator.loaded, "is_loaded")  # a LoadedModel


def test_an_adapter_to_serve_loads_the_weights_at_start(live, settings, tiny_dir, tmp_path,
                                                        weight_loads):
    lora = build_lora_adapter(tiny_dir, tmp_path / "lora")
    server, runtime = started(live, settings(server_model=str(tiny_dir), server_device="cpu",
                                             server_adapters={"lora": lora}))
    assert len(weight_loads) == 1 and runtime.services.generator.loaded.is_loaded
    ids = [m["id"] for m in httpx.get(f"{server.url}/v1/models").json()["data"]]
    assert ids == [tiny_dir.name, "lora"]


def test_a_registry_created_after_start_is_picked_up(live, settings, tiny_dir, tiny_set,
                                                     tmp_path):
    """No ``$ASSISTANT_HOME/adapters`` at start; a later ``finetune --promote`` makes it,
    and the server serves what it promoted without a restart."""
    from finetune.registry import AdapterRegistry

    config = settings(server_model=str(tiny_dir), server_device="cpu")
    assert not config.adapters_dir.exists()
    server, runtime = started(live, config)
    assert httpx.get(f"{server.url}/readyz").json()["adapters"] == []
    refused = httpx.post(f"{server.url}/v1/answer", timeout=30,
                         json={"question": "refund?", "adapter": "support"})
    assert refused.status_code == 404

    lora = build_lora_adapter(tiny_dir, tmp_path / "lora", tiny_set.loaded)
    AdapterRegistry(config.adapters_dir).register("support", lora, promote=True)
    until = time.monotonic() + 20
    while httpx.get(f"{server.url}/readyz").json()["adapters"] != ["support"]:
        assert time.monotonic() < until, "the new registry was never picked up"
        time.sleep(0.1)
    r = httpx.post(f"{server.url}/v1/answer", timeout=30,
                   json={"question": "How many days do I have to return a product?",
                         "adapter": "support"})
    assert r.status_code == 200, r.text
    assert r.json()["adapter"] == "support@v1"
    assert "support@v1" in runtime.services.adapters.names()
