"""``AssistantClient`` over real HTTP on loopback.

Two servers: a CONTRACT app defined here (the agreed request/response and error shapes,
nothing more) that pins down what the client sends and how it reads errors, and the
project's real ``create_app`` with the real searcher on a small index and the
fixed-answer test double in place of the model.
"""

from __future__ import annotations

import socket

import pytest
from fastapi import FastAPI, Query, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from assistant.integrations.client import AssistantAPIError, AssistantClient

KEY = "test-key-123"


def contract_app(searcher, answerer):
    """CONTRACT TEST APP: mimics the API's shapes and errors; not the real server."""
    app = FastAPI()
    app.state.bodies = []
    answers: dict[str, dict] = {}

    def error(status: int, type: str, message: str, field: str | None = None) -> JSONResponse:
        body = {"type": type, "message": message, **({"field": field} if field else {})}
        return JSONResponse({"error": body}, status_code=status)

    def unauthorized(request: Request) -> JSONResponse | None:
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return error(401, "unauthorized", "invalid API key")
        return None

    @app.get("/healthz")
    async def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/v1/search")
    async def search(request: Request, q: str, k: int = 5, mode: str = "hybrid",
                     source: list[str] | None = Query(None)) -> JSONResponse:  # noqa: B008
        if (denied := unauthorized(request)) is not None:
            return denied
        if not 1 <= k <= 50:
            return error(422, "validation_error", "query.k: must be in 1..50", "query.k")
        passages = searcher.search(q, k=k, mode=mode, sources=source)
        return JSONResponse({"query": q, "mode": mode, "k": k, "index_version": "v",
                             "results": [p.to_json() for p in passages]})

    @app.post("/v1/answer")
    async def answer(request: Request) -> JSONResponse:
        if (denied := unauthorized(request)) is not None:
            return denied
        from assistant.answering.answer import AnswerOptions
        from assistant.answering.records import Message

        body = await request.json()
        app.state.bodies.append(body)
        if body.get("adapter") == "missing":
            return error(404, "adapter_not_found", "no adapter named 'missing'", "body.adapter")
        options = AnswerOptions(k=body["k"], mode=body["mode"], adapter=body.get("adapter"),
                                sources=tuple(body["sources"]) if body.get("sources") else None)
        history = [Message(m["role"], m["content"]) for m in body["history"]]
        record = answerer.answer(body["question"], history, options).to_json()
        answers[record["id"]] = record
        return JSONResponse(record)

    @app.post("/v1/feedback")
    async def feedback(request: Request) -> JSONResponse:
        if (denied := unauthorized(request)) is not None:
            return denied
        body = await request.json()
        if body["answer_id"] not in answers:
            return error(404, "answer_not_found", f"no answer {body['answer_id']!r}",
                         "body.answer_id")
        return JSONResponse({**body, "id": 1}, status_code=201)

    @app.get("/broken")
    async def broken() -> PlainTextResponse:
        return PlainTextResponse("upstream exploded", status_code=502)

    return app


@pytest.fixture
def contract(live, searcher, fixed_answerer):
    app = contract_app(searcher, fixed_answerer)
    server = live(app)
    with AssistantClient(server.url, api_key=KEY, timeout=30) as client:
        yield app, client, server.url


def test_contract_search_returns_passage_records(contract):
    _, client, _ = contract
    results = client.search("rinse the dust filter", k=2, mode="bm25")
    assert 1 <= len(results) <= 2
    top = results[0]
    assert set(top) >= {"chunk_id", "text", "score", "source", "page_index", "page_label",
                        "heading"}
    assert top["source"] == "manuals/sweepbot-x9.pdf" and top["page_index"] == 2


def test_contract_search_sends_repeated_source_filters(contract):
    _, client, _ = contract
    results = client.search("refund device", k=5, mode="bm25",
                            sources=["support/*", "policies/refunds.md"])
    assert {r["source"] for r in results} == {"support/wifi.md", "policies/refunds.md"}
    only_wifi = client.search("refund device", k=5, mode="bm25", sources=["support/*"])
    assert {r["source"] for r in only_wifi} == {"support/wifi.md"}


def test_contract_answer_sends_the_agreed_body_and_returns_the_record(contract):
    app, client, _ = contract
    history = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    record = client.answer("How long do refunds take?", history=history, k=3, mode="bm25",
                           sources=["policies/*"])
    assert app.state.bodies[-1] == {"question": "How long do refunds take?", "k": 3,
                                    "mode": "bm25", "history": history,
                                    "sources": ["policies/*"]}  # adapter None is left out
    assert record["answer"] and record["citations"][0]["n"] == 1
    assert record["citations"][0]["source"] == "policies/refunds.md"


def test_contract_feedback_round_trip_and_unknown_id(contract):
    _, client, _ = contract
    record = client.answer("refund days", k=2, mode="bm25")
    saved = client.feedback(record["id"], 1, correction="30 days.")
    assert saved["answer_id"] == record["id"] and saved["correction"] == "30 days."
    with pytest.raises(AssistantAPIError) as info:
        client.feedback("no-such-answer", -1)
    err = info.value
    assert (err.status, err.type, err.field) == (404, "answer_not_found", "body.answer_id")
    assert "no-such-answer" in err.message and "404 answer_not_found" in str(err)


def test_contract_errors_become_api_errors(contract):
    _, client, url = contract
    with pytest.raises(AssistantAPIError) as info:
        client.answer("refunds?", adapter="missing")
    assert (info.value.status, info.value.type) == (404, "adapter_not_found")
    with pytest.raises(AssistantAPIError) as info:
        client.search("refund", k=500)
    assert (info.value.status, info.value.type, info.value.field) == (
        422, "validation_error", "query.k")
    with AssistantClient(url, api_key="wrong-key") as other, \
            pytest.raises(AssistantAPIError) as info:
        other.search("refund")
    assert (info.value.status, info.value.type) == (401, "unauthorized")
    with pytest.raises(AssistantAPIError) as info:  # an error that is not the JSON shape
        client._request("GET", "/broken")
    assert (info.value.status, info.value.type) == (502, "http_error")
    assert "upstream exploded" in info.value.message


def test_health_and_unreachable_server(contract):
    _, client, _ = contract
    assert client.health() == {"status": "ok"}
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with AssistantClient(f"http://127.0.0.1:{port}", timeout=5) as dead, \
            pytest.raises(AssistantAPIError) as info:
        dead.health()
    assert info.value.status is None and info.value.type == "connection_error"


@pytest.mark.parametrize("base_url, api_key", [("localhost:8000", None),
                                               ("http://x", " spaced "), ("http://x", "")])
def test_bad_client_settings_are_rejected(base_url, api_key):
    from core.errors import ConfigError

    with pytest.raises(ConfigError):
        AssistantClient(base_url, api_key=api_key)


# -- against the project's real server ----------------------------------------------------


def test_real_server_search_answer_feedback(real_server, fixed_answerer):
    client, _ = real_server
    assert client.health() == {"status": "ok"}
    results = client.search("return a product for a full refund", k=3, mode="bm25")
    assert results[0]["source"] == "policies/refunds.md"
    record = client.answer("How many days do I have to return a product?", k=2, mode="bm25",
                           history=[{"role": "user", "content": "hello"}])
    assert record["answer"] == fixed_answerer.TEXT and len(record["passages"]) <= 2
    question, history, options = fixed_answerer.calls[-1]
    assert [m.content for m in history] == ["hello"] and (options.k, options.mode) == (2, "bm25")
    saved = client.feedback(record["id"], -1, correction="Thirty days.")
    assert saved["answer_id"] == record["id"]


def test_real_server_documents_match_the_local_client(real_server, searcher):
    from assistant.integrations.client import LocalClient

    client, _ = real_server
    local = LocalClient(searcher=searcher)
    every = client.documents()
    assert every == local.documents()
    assert set(every) == {"index_version", "total", "offset", "limit", "documents"}
    assert (every["index_version"], every["total"], every["limit"]) == (searcher.version, 3, 1000)
    assert every["documents"] == [d.to_json() for d in searcher.documents()]
    for kwargs in ({"source": "support/*"}, {"source": ["support/*", "policies/*"]},
                   {"status": "current", "limit": 1, "offset": 1}, {"status": "archived"},
                   {"offset": 3}):
        over_http = client.documents(**kwargs)
        assert over_http == local.documents(**kwargs), kwargs
    assert [d["source"] for d in client.documents(source="support/*")["documents"]] == [
        "support/wifi.md"]
    page = client.documents(limit=1, offset=1)
    assert page["total"] == 3 and [d["source"] for d in page["documents"]] == [
        "policies/refunds.md"]
    assert client.documents(status="archived")["documents"] == []


def test_real_server_errors(real_server):
    client, url = real_server
    with pytest.raises(AssistantAPIError) as info:
        client.feedback("never-answered", 1)
    assert (info.value.status, info.value.type) == (404, "answer_not_found")
    with pytest.raises(AssistantAPIError) as info:
        client.answer("refunds?", adapter="nope")
    assert (info.value.status, info.value.type) == (404, "adapter_not_found")
    with pytest.raises(AssistantAPIError) as info:
        client.answer("refunds?", k=0)
    assert info.value.status == 422 and info.value.field == "body.k"
    with AssistantClient(url) as anonymous, pytest.raises(AssistantAPIError) as info:
        anonymous.search("refund")
    assert (info.value.status, info.value.type) == (401, "unauthorized")
    with pytest.raises(AssistantAPIError) as info:
        client.documents(status="old")
    assert info.value.status == 422 and info.value.field == "query.status"
    with pytest.raises(AssistantAPIError) as info:
        client.documents(limit=5001)
    assert info.value.status == 422 and info.value.field == "query.limit"
