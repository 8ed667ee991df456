"""What changes while the server runs: concurrent requests batched into one generation,
a re-index picked up without a restart, adapter promotions and canaries from the registry."""

from __future__ import annotations

import shutil
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from server_doubles import Counting, build_index, build_lora_adapter, sse_events

from assistant.server import create_app

QUESTIONS = [
    "How many days do I have to return a product?",
    "How do I pair the device over wifi?",
    "How often do I rinse the dust filter?",
    "What happens to a damaged item?",
]


def test_concurrent_answers_share_one_batched_generation(
        live, settings, services, local_generator, make_answerer, embedder, index_dir):
    from assistant.answering.answer import AnswerOptions
    from index.searcher import Searcher

    counting = Counting(local_generator)
    n = len(QUESTIONS)
    # The batch starts as soon as n prompts are in (max_batch), well inside the window.
    server = live(create_app(settings(server_max_batch=n, server_batch_window_ms=1000,
                                      server_max_new_tokens=8), services(generator=counting)))
    with ThreadPoolExecutor(n) as pool:
        responses = list(pool.map(lambda q: httpx.post(
            f"{server.url}/v1/answer", json={"question": q, "k": 2}, timeout=60), QUESTIONS))
    assert [r.status_code for r in responses] == [200] * n, [r.text for r in responses]
    assert counting.batches == [n]  # one generate_many call with every prompt

    sequential = make_answerer(Searcher(index_dir, embedder=embedder), local_generator)
    for question, response in zip(QUESTIONS, responses, strict=True):
        alone = sequential.answer(question, (), AnswerOptions(k=2, max_new_tokens=8))
        got = response.json()
        assert got["answer"] == alone.answer
        assert [c["chunk_id"] for c in got["citations"]] == [c.chunk_id for c in alone.citations]
        assert [p["chunk_id"] for p in got["passages"]] == [p.chunk_id for p in alone.passages]


def test_concurrent_chat_streams_share_one_batched_generation(
        live, settings, services, local_generator, make_answerer, embedder, index_dir):
    from assistant.answering.answer import AnswerOptions
    from index.searcher import Searcher

    counting = Counting(local_generator)
    n = len(QUESTIONS)
    server = live(create_app(settings(server_max_batch=n, server_batch_window_ms=1000,
                                      server_max_new_tokens=8), services(generator=counting)))

    def chat(question: str) -> tuple[str, dict]:
        r = httpx.post(f"{server.url}/v1/chat", timeout=60, json={
            "messages": [{"role": "user", "content": question}], "k": 2})
        assert r.status_code == 200, r.text
        events = sse_events(r)
        streamed = "".join(data["text"] for kind, data in events if kind == "token")
        return streamed, events[-1][1]

    with ThreadPoolExecutor(n) as pool:
        results = list(pool.map(chat, QUESTIONS))
    assert counting.stream_batches == [n] and counting.batches == []

    sequential = make_answerer(Searcher(index_dir, embedder=embedder), local_generator)
    for question, (streamed, final) in zip(QUESTIONS, results, strict=True):
        alone = sequential.answer(question, (), AnswerOptions(k=2, max_new_tokens=8))
        assert final["answer"] == alone.answer
        assert streamed.strip() and [c["chunk_id"] for c in final["citations"]] == [
            c.chunk_id for c in alone.citations]


def test_cpu_servers_do_not_batch_unless_asked(live, settings, services, local_generator):
    from assistant.server.services import max_batch

    assert max_batch(None, local_generator) == 1  # the tiny model runs on the CPU
    assert max_batch(3, local_generator) == 3
    counting = Counting(local_generator)
    server = live(create_app(settings(server_max_batch=None, server_batch_window_ms=300,
                                      server_max_new_tokens=4), services(generator=counting)))
    with ThreadPoolExecutor(3) as pool:
        codes = list(pool.map(lambda q: httpx.post(
            f"{server.url}/v1/answer", json={"question": q, "k": 2}, timeout=60).status_code,
            QUESTIONS[:3]))
    assert codes == [200] * 3 and counting.batches == [1, 1, 1]


def test_a_new_index_version_is_served_without_restart(
        live, settings, services, docs, embedder, tmp_path):
    corpus = tmp_path / "docs"
    shutil.copytree(docs, corpus)
    index = build_index(corpus, tmp_path / "index", embedder)
    app = create_app(settings(server_index=index), services(index_dir=index))
    server = live(app)
    query = {"q": "zebra crossing etiquette", "mode": "bm25", "k": 5}
    before = httpx.get(f"{server.url}/v1/search", params=query).json()
    assert "policies/zebra.md" not in {p["source"] for p in before["results"]}

    (corpus / "policies" / "zebra.md").write_text(
        "# Zebra crossings\n\nRobots must stop at every zebra crossing; etiquette matters.\n")
    build_index(corpus, index, embedder)
    until = time.monotonic() + 20
    while True:
        after = httpx.get(f"{server.url}/v1/search", params=query).json()
        if after["results"] and after["results"][0]["source"] == "policies/zebra.md":
            break
        assert time.monotonic() < until, "the new version was never served"
        time.sleep(0.1)
    assert after["index_version"] != before["index_version"]
    metrics = httpx.get(f"{server.url}/metrics").text
    assert f'assistant_index_info{{version="{after["index_version"]}"}} 1.0' in metrics
    assert before["index_version"] not in metrics


@pytest.fixture
def registry_setup(tiny_dir, tmp_path):
    """A fresh tiny model in its own AdapterSet and a registry with two versions of
    ``support``: v1 promoted, v2 registered only."""
    from assistant.answering.adapters import AdapterSet
    from assistant.answering.answer import LocalGenerator
    from assistant.answering.models import ModelConfig, load_base
    from finetune.registry import AdapterRegistry

    adapters = AdapterSet(load_base(ModelConfig(base=str(tiny_dir), device="cpu")))
    registry = AdapterRegistry(tmp_path / "registry")
    for version, seed in ((1, 11), (2, 22)):
        built = build_lora_adapter(tiny_dir, tmp_path / f"lora{version}", adapters.loaded, seed)
        registry.register("support", built, promote=version == 1)
    return adapters, Counting(LocalGenerator(adapters)), registry


def _adapter_of(url: str, adapter: str) -> str:
    r = httpx.post(f"{url}/v1/answer", json={"question": "refund?", "adapter": adapter,
                                             "max_new_tokens": 2}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()["adapter"]


def test_adapters_follow_promotions_rollbacks_and_canaries(
        live, settings, services, registry_setup):
    adapters, generator, registry = registry_setup
    app = create_app(settings(), services(generator=generator, adapters=adapters,
                                          registry=registry))
    server = live(app)
    url = server.url
    models = {m["id"]: m for m in httpx.get(f"{url}/v1/models").json()["data"]}
    assert models["support"]["adapter"] == "support@v1" and models["support"]["canary"] is None
    assert adapters.names() == ["support@v1"]  # preloaded at start

    r = httpx.post(f"{url}/v1/answer", json={"question": "refund?", "adapter": "support"},
                   timeout=30)
    record = r.json()
    assert record["adapter"] == "support@v1"
    assert app.state.runtime.feedback.get_answer(record["id"])["adapter"] == "support@v1"
    base = httpx.post(f"{url}/v1/answer", json={"question": "refund?"}, timeout=30).json()
    assert base["adapter"] is None
    (with_adapter, with_text), (without, base_text) = generator.calls[-2:]
    assert (with_adapter, without) == ("support@v1", None) and with_text != base_text

    registry.promote("support", 2)
    assert _adapter_of(url, "support") == "support@v2"  # next request, no restart
    until = time.monotonic() + 10
    while "support@v2" not in adapters.names():  # and the background sync loaded it
        assert time.monotonic() < until
        time.sleep(0.05)
    assert _adapter_of(url, "support@v1") == "support@v1"  # a pinned version

    registry.rollback("support")
    assert _adapter_of(url, "support") == "support@v1"

    registry.set_canary("support", 2, 0.5)
    seen = {_adapter_of(url, "support") for _ in range(24)}
    assert seen == {"support@v1", "support@v2"}
    models = {m["id"]: m for m in httpx.get(f"{url}/v1/models").json()["data"]}
    assert models["support"]["canary"] == {"adapter": "support@v2", "fraction": 0.5}

    missing = httpx.post(f"{url}/v1/answer", json={"question": "refund?", "adapter": "hr"})
    assert missing.status_code == 404 and missing.json()["error"]["known"] == ["support"]
    absent = httpx.post(f"{url}/v1/answer", json={"question": "q?", "adapter": "support@v9"})
    assert absent.status_code == 404
