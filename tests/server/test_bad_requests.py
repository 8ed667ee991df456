"""Every kind of bad request gets a 4xx/5xx JSON error with a reason, quickly: never a
500, never a hang. Also the bounds: 413, 429 with Retry-After, 504."""

from __future__ import annotations

import threading
import time

import httpx
import pytest
from server_doubles import Counting, build_index

from assistant.server import create_app


def error_of(response: httpx.Response) -> dict:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return response.json()["error"]


@pytest.fixture
def server(live, settings, services):
    return live(create_app(settings(server_max_question_chars=500,
                                    server_max_request_bytes=64 * 1024), services()))


@pytest.mark.parametrize(
    ("path", "body", "status", "field"),
    [
        ("/v1/answer", {"question": ""}, 422, "body.question"),
        ("/v1/answer", {"question": "   \n "}, 422, "body.question"),
        ("/v1/answer", {"question": "why? " * 200}, 422, "body.question"),
        ("/v1/answer", {}, 422, "body.question"),
        ("/v1/answer", {"question": 3}, 422, "body.question"),
        ("/v1/answer", {"question": "refund?", "k": 0}, 422, "body.k"),
        ("/v1/answer", {"question": "refund?", "mode": "magic"}, 422, "body.mode"),
        ("/v1/answer", {"question": "refund?", "colour": "red"}, 422, "body.colour"),
        ("/v1/answer", {"question": "refund?", "sources": [""]}, 422, "body.sources.0"),
        ("/v1/answer", {"question": "refund?", "sources": ["*.md", " "]}, 422,
         "body.sources.1"),
        ("/v1/chat/completions", {"model": "tiny", "messages": [{"role": "bot",
                                                                  "content": "refund?"}]},
         422, "body.messages.0.role"),
        ("/v1/answer", {"question": "q?", "history": [{"role": "bot", "content": "x"}]},
         422, "body.history.0.role"),
        ("/v1/chat", {"messages": []}, 422, "body.messages"),
        ("/v1/chat", {"messages": [{"role": "assistant", "content": "hi"}]}, 422,
         "body.messages"),
        ("/v1/chat/completions", {"messages": [{"role": "user", "content": "hi"}]}, 422,
         "body.model"),
        ("/v1/feedback", {"answer_id": "x", "rating": 0}, 422, "body.rating"),
        # Strict types: a string is no boolean, true/false no number.
        ("/v1/feedback", {"answer_id": "x", "rating": True}, 422, "body.rating"),
        ("/v1/feedback", {"answer_id": "x", "rating": "1"}, 422, "body.rating"),
        ("/v1/chat/completions", {"model": "tiny", "stream": "yes",
                                  "messages": [{"role": "user", "content": "refund?"}]},
         422, "body.stream"),
        ("/v1/chat/completions", {"model": "tiny", "stream": 1,
                                  "messages": [{"role": "user", "content": "refund?"}]},
         422, "body.stream"),
        ("/v1/answer", {"question": "refund?", "k": True}, 422, "body.k"),
        # ... and a string or a float is no integer, in every body (found by the QA
        # walkthrough: "k": "5" was read as 5)
        ("/v1/answer", {"question": "refund?", "k": "5"}, 422, "body.k"),
        ("/v1/answer", {"question": "refund?", "k": " 5 "}, 422, "body.k"),
        ("/v1/answer", {"question": "refund?", "k": 5.0}, 422, "body.k"),
        ("/v1/answer", {"question": "refund?", "max_new_tokens": "64"}, 422,
         "body.max_new_tokens"),
        ("/v1/answer", {"question": "refund?", "max_new_tokens": 64.0}, 422,
         "body.max_new_tokens"),
        ("/v1/chat", {"messages": [{"role": "user", "content": "refund?"}], "k": "3"}, 422,
         "body.k"),
        ("/v1/chat", {"messages": [{"role": "user", "content": "refund?"}],
                      "max_new_tokens": 8.0}, 422, "body.max_new_tokens"),
        ("/v1/chat/completions", {"model": "tiny", "k": "5",
                                  "messages": [{"role": "user", "content": "refund?"}]},
         422, "body.k"),
        ("/v1/chat/completions", {"model": "tiny", "max_tokens": "64",
                                  "messages": [{"role": "user", "content": "refund?"}]},
         422, "body.max_tokens"),
        ("/v1/chat/completions", {"model": "tiny", "max_completion_tokens": 64.0,
                                  "messages": [{"role": "user", "content": "refund?"}]},
         422, "body.max_completion_tokens"),
        ("/v1/chat/completions", {"model": "tiny", "n": "1",
                                  "messages": [{"role": "user", "content": "refund?"}]},
         422, "body.n"),
        ("/v1/chat/completions", {"model": "tiny", "stream": "true",
                                  "messages": [{"role": "user", "content": "refund?"}]},
         422, "body.stream"),
        ("/v1/feedback", {"answer_id": "x", "rating": 1.0}, 422, "body.rating"),
        ("/v1/feedback", {"answer_id": "x", "rating": -1.0}, 422, "body.rating"),
    ],
)
def test_invalid_bodies_name_the_field(server, path, body, status, field):
    r = httpx.post(server.url + path, json=body, timeout=10)
    assert r.status_code == status, r.text
    error = error_of(r)
    assert error["type"] == "validation_error" and error["field"] == field
    assert error["message"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"status": "old"}, "query.status"),
        ({"status": ""}, "query.status"),
        ({"limit": 0}, "query.limit"),
        ({"limit": 5001}, "query.limit"),
        ({"limit": "many"}, "query.limit"),
        ({"offset": -1}, "query.offset"),
        ({"source": ""}, "query.source.0"),
        ({"source": ["policies/*", " "]}, "query.source.1"),
        ({"stauts": "current"}, "query.stauts"),  # a typo is no silent "all documents"
    ],
)
def test_invalid_document_queries_name_the_field(server, params, field):
    r = httpx.get(server.url + "/v1/documents", params=params, timeout=10)
    assert r.status_code == 422, r.text
    error = error_of(r)
    assert error["type"] == "validation_error" and error["field"] == field
    if field == "query.status":  # the message names the statuses there are
        assert "'current'" in error["message"] and "'archived'" in error["message"]


def test_the_documents_statuses_are_the_indexs(settings, services):
    """``GET /v1/documents?status=`` takes the statuses ingest gives documents, from the
    one list of them (``ingest.versions.DocStatus``)."""
    from ingest.versions import STATUSES

    spec = create_app(settings(), services()).openapi()
    (status,) = [p for p in spec["paths"]["/v1/documents"]["get"]["parameters"]
                 if p["name"] == "status"]
    assert status["schema"]["anyOf"][0]["enum"] == list(STATUSES)


@pytest.mark.parametrize("path", ["/v1/answer", "/v1/chat", "/v1/chat/completions",
                                  "/v1/feedback"])
def test_malformed_json_is_a_400(server, path):
    r = httpx.post(server.url + path, content=b'{"question": "refund?"',
                   headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 400 and error_of(r)["type"] == "invalid_json"
    assert error_of(r)["field"] == "body"


@pytest.mark.parametrize("path", ["/v1/answer", "/v1/chat", "/v1/chat/completions",
                                  "/v1/feedback"])
@pytest.mark.parametrize("body", [b'{"question": "refund\xff?"}',
                                  b'{"question": "caf\xe9?"}', b"\xc3"])
def test_a_body_that_is_not_utf8_is_invalid_json(server, path, body):
    """Bytes that are no UTF-8 are malformed JSON: the same 400 ``invalid_json`` naming
    the body, not FastAPI's 400 ``http_error`` without a field (found by the walkthrough)."""
    r = httpx.post(server.url + path, content=body,
                   headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 400, r.text
    error = error_of(r)
    assert error["type"] == "invalid_json" and error["field"] == "body", error
    assert "UTF-8" in error["message"]


def test_numbers_of_the_openai_shape_are_still_read(server):
    """Strict integers take what OpenAI clients send: JSON integers, and a number field
    such as ``temperature`` (accepted and ignored) may be an integer."""
    r = httpx.post(server.url + "/v1/chat/completions", timeout=30, json={
        "model": "tiny", "k": 3, "max_tokens": 8, "n": 1, "temperature": 1, "top_p": 0.5,
        "stream": False, "messages": [{"role": "user", "content": "refund?"}]})
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("path", ["/v1/answer", "/v1/chat", "/v1/chat/completions",
                                  "/v1/feedback"])
@pytest.mark.parametrize("content_type", ["application/x-www-form-urlencoded", "text/plain",
                                          "multipart/form-data; boundary=x"])
def test_a_body_not_sent_as_json_is_a_415(server, path, content_type):
    """``curl -d '{...}'`` sends the form type: 415 saying the body must be JSON, not a
    422 about the body not being an object."""
    r = httpx.post(server.url + path, content=b'{"question": "refund?"}',
                   headers={"content-type": content_type}, timeout=10)
    assert r.status_code == 415, r.text
    error = error_of(r)
    assert error["type"] == "unsupported_media_type" and error["field"] == "body"
    assert "application/json" in error["message"] and content_type in error["message"]


def test_json_content_types_are_read_as_json(server):
    body = b'{"answer_id": "x", "rating": 1}'
    for content_type in ("application/json; charset=utf-8", "Application/JSON",
                         "application/merge-patch+json"):
        r = httpx.post(server.url + "/v1/feedback", content=body,
                       headers={"content-type": content_type}, timeout=10)
        assert r.status_code == 404 and error_of(r)["type"] == "answer_not_found", content_type
    r = httpx.post(server.url + "/v1/feedback", content=body, timeout=10)  # no Content-Type
    assert r.status_code == 415 and "got no Content-Type" in error_of(r)["message"]


def test_bodies_over_the_limit_get_413(server):
    big = {"question": "refund?", "history": [{"role": "user", "content": "x" * 70_000}]}
    r = httpx.post(server.url + "/v1/answer", json=big, timeout=10)
    assert r.status_code == 413 and error_of(r)["type"] == "request_too_large"

    def chunks():  # no Content-Length: counted while read
        yield b'{"question": "refund?", "pad": "'
        for _ in range(20):
            yield b"y" * 8192
        yield b'"}'

    r = httpx.post(server.url + "/v1/answer", content=chunks(),
                   headers={"content-type": "application/json"}, timeout=10)
    assert r.status_code == 413


def test_unknown_adapter_and_model_are_404_naming_the_known_ones(server):
    r = httpx.post(server.url + "/v1/answer", json={"question": "refund?", "adapter": "hr"},
                   timeout=10)
    assert r.status_code == 404
    error = error_of(r)
    assert error["type"] == "adapter_not_found" and "hr" in error["message"]
    assert error["known"] == [] and error["field"] == "body.adapter"
    r = httpx.post(server.url + "/v1/chat/completions", timeout=10,
                   json={"model": "gpt-4", "messages": [{"role": "user", "content": "hi"}]})
    assert r.status_code == 404 and error_of(r)["field"] == "body.model"


def test_unknown_routes_and_methods_are_json(server):
    assert error_of(httpx.get(server.url + "/v2/nothing"))["type"] == "not_found"
    r = httpx.get(server.url + "/v1/answer")
    assert r.status_code == 405 and error_of(r)["type"] == "method_not_allowed"


def test_missing_index_means_not_ready_then_ready_once_published(
        live, settings, services, tmp_path, docs, embedder):
    missing = tmp_path / "later-index"
    server = live(create_app(settings(server_index=missing), services(index_dir=missing)))
    ready = httpx.get(server.url + "/readyz", timeout=10)
    assert ready.status_code == 503 and "no index published" in ready.json()["reasons"][0]
    for method, path, kwargs in [
        ("POST", "/v1/answer", {"json": {"question": "refund?"}}),
        ("POST", "/v1/chat", {"json": {"messages": [{"role": "user", "content": "refund?"}]}}),
        ("POST", "/v1/chat/completions",
         {"json": {"model": "tiny", "messages": [{"role": "user", "content": "refund?"}]}}),
        ("GET", "/v1/search", {"params": {"q": "refund"}}),
        ("GET", "/v1/documents", {}),
    ]:
        r = httpx.request(method, server.url + path, timeout=10, **kwargs)
        assert r.status_code == 503, (path, r.text)
        assert error_of(r)["type"] == "not_ready" and "no index" in error_of(r)["message"]
        assert r.headers["retry-after"]
    assert httpx.get(server.url + "/healthz").status_code == 200

    build_index(docs, missing, embedder)  # the background refresh picks it up
    until = time.monotonic() + 20
    while httpx.get(server.url + "/readyz").status_code != 200:
        assert time.monotonic() < until, "never became ready"
        time.sleep(0.1)
    r = httpx.post(server.url + "/v1/answer", json={"question": "refund?"}, timeout=30)
    assert r.status_code == 200, r.text


def test_past_the_concurrency_limit_a_request_gets_429_at_once(
        live, settings, services, local_generator):
    slow = Counting(local_generator, delay=1.5)
    server = live(create_app(settings(server_max_concurrent=1), services(generator=slow)))
    first: list[httpx.Response] = []
    thread = threading.Thread(target=lambda: first.append(httpx.post(
        server.url + "/v1/answer", json={"question": "refund?"}, timeout=30)))
    thread.start()
    until = time.monotonic() + 10
    while not slow.batches:  # the first one is generating
        assert time.monotonic() < until
        time.sleep(0.01)
    clock = time.monotonic()
    r = httpx.post(server.url + "/v1/answer", json={"question": "wifi?"}, timeout=30)
    assert time.monotonic() - clock < 1.0
    assert r.status_code == 429 and r.headers["retry-after"] == "1"
    assert error_of(r)["type"] == "too_many_requests"
    r = httpx.post(server.url + "/v1/chat", timeout=30,
                   json={"messages": [{"role": "user", "content": "wifi?"}]})
    assert r.status_code == 429
    thread.join(30)
    assert first[0].status_code == 200
    assert httpx.post(server.url + "/v1/answer", json={"question": "wifi?"},
                      timeout=30).status_code == 200  # the slot was given back


def test_a_request_past_the_timeout_gets_504(live, settings, services, local_generator):
    slow = Counting(local_generator, delay=2.0)
    server = live(create_app(settings(server_timeout_s=0.5), services(generator=slow)))
    clock = time.monotonic()
    r = httpx.post(server.url + "/v1/answer", json={"question": "refund?"}, timeout=30)
    assert r.status_code == 504 and error_of(r)["type"] == "timeout"
    r = httpx.post(server.url + "/v1/chat", timeout=30,
                   json={"messages": [{"role": "user", "content": "refund?"}]})
    assert r.status_code == 504 and error_of(r)["type"] == "timeout"
    assert time.monotonic() - clock < 3.0


def _in_flight(server) -> float:
    metrics = httpx.get(f"{server.url}/metrics", timeout=30).text
    (line,) = [x for x in metrics.splitlines()
               if x.startswith("assistant_generations_in_flight ")]
    return float(line.split()[1])


@pytest.mark.parametrize("path", ["/v1/chat", "/v1/answer"])
def test_a_timed_out_generation_stops_and_frees_its_slot(
        live, settings, services, embedder, tiny_dir, monkeypatch, path):
    """The model itself stops at the deadline: a 504 does not leave it generating to
    max_new_tokens, holding the model (every later batch waits behind it) and, for a
    stream, the only slot (an evidence-first stream sends nothing until a sentence
    checks out, so its worker would wait for the end)."""
    from assistant.answering.answer import AnswerConfig, LocalGenerator, RagAnswerer
    from assistant.answering.citations import CitationVerifier
    from assistant.answering.models import ModelConfig, load_base

    def make_answerer(searcher, generator):  # evidence-first, always generating
        return RagAnswerer(searcher, generator, CitationVerifier(embedder),
                           AnswerConfig(evidence_first=True, extract_first=False))

    loaded = load_base(ModelConfig(base=str(tiny_dir), device="cpu"))  # its own, slowed
    forward = loaded.model.forward

    def slow(*args, **kwargs):  # 192 new tokens take over 10 s
        time.sleep(0.06)
        return forward(*args, **kwargs)

    monkeypatch.setattr(loaded.model, "forward", slow)
    server = live(create_app(
        settings(server_timeout_s=0.5, server_max_concurrent=1, server_max_new_tokens=256),
        services(generator=LocalGenerator(loaded), adapters=None,
                 make_answerer=make_answerer)))
    # the evidence is good enough to generate for; 192 tokens (``budget.question_budget``)
    question = "how many days until a refund is paid to the original payment method?"
    body = ({"messages": [{"role": "user", "content": question}]} if path == "/v1/chat"
            else {"question": question})
    clock = time.monotonic()
    r = httpx.post(f"{server.url}{path}", json=body, timeout=30)
    assert r.status_code == 504, r.text
    assert error_of(r)["type"] == "timeout"
    while _in_flight(server) > 0:  # about one step after the deadline; 10 s without
        assert time.monotonic() - clock < 6.0, "the slot is still held"
        time.sleep(0.05)
    assert _model_freed(loaded)  # and the model too: the next batch need not wait
    r = httpx.post(f"{server.url}{path}", json=body, timeout=30)
    assert r.status_code != 429, r.text  # the slot was free for the next request


def _model_freed(loaded, wait_s: float = 5.0) -> bool:
    """Whether the model's lock is let go within ``wait_s`` (the stream's thread ends
    just after the slot is given back)."""
    if loaded.lock.acquire(timeout=wait_s):
        loaded.lock.release()
        return True
    return False


def test_a_failing_generator_is_a_json_500_not_a_crash(live, settings, services):
    class Broken:
        def generate_many(self, batch, config, adapter=None):
            raise RuntimeError("CUDA fell over")

        def stream(self, messages, config, adapter=None):
            raise RuntimeError("CUDA fell over")

    server = live(create_app(settings(), services(generator=Broken())))
    r = httpx.post(server.url + "/v1/answer", json={"question": "refund?"}, timeout=30)
    assert r.status_code == 500 and error_of(r)["type"] == "internal_error"
    assert "CUDA fell over" not in r.text  # internals stay in the log
    assert httpx.get(server.url + "/healthz").status_code == 200


def test_an_unknown_search_parameter_is_named(server):
    r = httpx.get(server.url + "/v1/search", params={"q": "refund", "mdoe": "dense"},
                  timeout=10)
    assert r.status_code == 422, r.text
    error = error_of(r)
    assert error["type"] == "validation_error" and error["field"] == "query.mdoe"
    assert "q, k, mode, source" in error["message"] or "k, mode, q, source" in error["message"]
    ok = httpx.get(server.url + "/v1/search", params={"q": "refund", "mode": "bm25"},
                   timeout=10)
    assert ok.status_code == 200, ok.text


def _turns(n: int) -> list[dict]:
    """``n`` short turns, alternating, the last one the user's."""
    return [{"role": "user" if (n - i) % 2 else "assistant", "content": "refund?"}
            for i in range(n)]


@pytest.mark.parametrize(("path", "extra", "field", "limit"), [
    ("/v1/answer", {"question": "refund?"}, "history", 50),
    ("/v1/chat", {}, "messages", 51),
    ("/v1/chat/completions", {"model": "tiny"}, "messages", 51),
])
def test_conversation_length_limits(server, path, extra, field, limit):
    """The limits docs/api.md states: ``history`` at most 50 turns, ``messages`` at most
    51 (50 turns and the question); one more is a 422 naming the field."""
    from assistant.server.schemas import MAX_HISTORY

    assert limit in (MAX_HISTORY, MAX_HISTORY + 1)
    for n, refused in ((limit, False), (limit + 1, True)):
        r = httpx.post(server.url + path, json={**extra, field: _turns(n)}, timeout=30)
        if refused:
            assert r.status_code == 422, r.text
            error = error_of(r)
            assert error["field"] == f"body.{field}"
            assert f"at most {limit} items" in error["message"]
        else:
            assert r.status_code == 200, r.text


def test_the_api_docs_state_the_conversation_limits():
    from pathlib import Path

    from assistant.server.schemas import MAX_HISTORY

    docs = (Path(__file__).parents[2] / "docs" / "api.md").read_text()
    assert f"`history` (`[{{role, content}}]`, at most {MAX_HISTORY} items" in docs
    assert docs.count(f"`messages` (at most {MAX_HISTORY + 1} items") == 2
