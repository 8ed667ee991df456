"""The API's happy paths on a real uvicorn server: the tiny model through the real
generation code, the real searcher on a small index, the real citation checker."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from server_doubles import sse_events

from assistant.server import create_app


def test_answer_returns_the_answer_record_and_stores_it(live, settings, services):
    app = create_app(settings(), services())
    server = live(app)
    r = httpx.post(f"{server.url}/v1/answer", timeout=30,
                   json={"question": "How many days do I have to return a product?", "k": 3})
    assert r.status_code == 200, r.text
    record = r.json()
    assert set(record) >= {"id", "question", "answer", "citations", "passages", "adapter",
                           "usage", "abstained"}
    assert record["question"] == "How many days do I have to return a product?"
    assert record["adapter"] is None and 1 <= len(record["passages"]) <= 3
    assert any(p["source"] == "policies/refunds.md" for p in record["passages"])
    stored = app.state.runtime.feedback.get_answer(record["id"])
    assert stored["answer"] == record["answer"]


def test_chat_streams_tokens_then_the_answer_event(live, settings, services):
    server = live(create_app(settings(server_max_new_tokens=6), services()))
    r = httpx.post(f"{server.url}/v1/chat", timeout=30,
                   json={"messages": [{"role": "user", "content": "How do I set up wifi?"}]})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
    assert r.headers["cache-control"] == "no-cache" and r.headers["x-accel-buffering"] == "no"
    # the chat page splits events on "\n\n" and reads "event:"/"data:" lines: no "\r",
    # no comment (ping) lines, one event and one data line per block
    assert "\r" not in r.text and r.text.endswith("\n\n")
    for block in r.text[:-2].split("\n\n"):
        event, data = block.split("\n")
        assert event.startswith("event: ") and data.startswith("data: {")
    events = sse_events(r)
    kinds = [kind for kind, _ in events]
    assert kinds[-1] == "answer" and kinds[:-1] == ["token"] * (len(kinds) - 1)
    assert len(kinds) >= 2, "no token was streamed"
    streamed = "".join(data["text"] for kind, data in events if kind == "token")
    final = events[-1][1]
    assert streamed.strip() and final["id"] and final["question"] == "How do I set up wifi?"


def test_search_and_probes_and_docs(live, settings, services):
    app = create_app(settings(), services())
    server = live(app)
    with httpx.Client(base_url=server.url, timeout=30) as http:
        r = http.get("/v1/search", params={"q": "rinse the dust filter", "k": 2, "mode": "bm25"})
        assert r.status_code == 200, r.text
        body = r.json()
        assert body["index_version"] == app.state.runtime.services.searcher.version
        top = body["results"][0]
        assert top["source"] == "manuals/sweepbot-x9.pdf" and top["page_index"] == 2
        only = http.get("/v1/search", params={"q": "refund", "source": "support/*"}).json()
        assert {p["source"] for p in only["results"]} == {"support/wifi.md"}

        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert ready.json()["model"] == "tiny"
        paths = http.get("/openapi.json").json()["paths"]
        assert {"/v1/answer", "/v1/chat", "/v1/chat/completions", "/v1/search",
                "/v1/documents", "/v1/feedback", "/v1/models"} <= set(paths)
        assert http.get("/docs").status_code == 200
        page = http.get("/")
        assert page.status_code == 200 and "/static/chat.js" in page.text
        assert "http" not in page.text.replace("http-equiv", "")  # nothing external
        assert http.get("/static/chat.js").status_code == 200

        http.post("/v1/answer", json={"question": "refund days?", "max_new_tokens": 3})
        metrics = http.get("/metrics").text
        assert 'assistant_requests_total{method="POST",route="/v1/answer",status="200"} 1.0' \
            in metrics
        assert "assistant_tokens_generated_total 3.0" in metrics
        assert f'assistant_index_info{{version="{body["index_version"]}"}} 1.0' in metrics
        assert "assistant_generations_in_flight 0.0" in metrics


def test_models_lists_the_base_model(live, settings, services):
    server = live(create_app(settings(), services()))
    data = httpx.get(f"{server.url}/v1/models").json()["data"]
    assert data[0]["id"] == "tiny" and data[0]["object"] == "model"


def test_feedback_is_stored_survives_a_restart_and_exports(live, settings, services, tmp_path):
    from assistant.feedback import export_feedback

    first = live(create_app(settings(), services()))
    answer = httpx.post(f"{first.url}/v1/answer", timeout=30,
                        json={"question": "How long do refunds take?"}).json()
    r = httpx.post(f"{first.url}/v1/feedback",
                   json={"answer_id": answer["id"], "rating": -1,
                         "correction": "Refunds are paid within 5 business days [1]."})
    assert r.status_code == 201 and r.json()["rating"] == -1
    missing = httpx.post(f"{first.url}/v1/feedback", json={"answer_id": "nope", "rating": 1})
    assert missing.status_code == 404 and missing.json()["error"]["type"] == "answer_not_found"
    bad = httpx.post(f"{first.url}/v1/feedback", json={"answer_id": answer["id"], "rating": 3})
    assert bad.status_code == 422 and bad.json()["error"]["field"] == "body.rating"
    first.stop()

    second = live(create_app(settings(), services()))  # same SQLite file
    again = httpx.post(f"{second.url}/v1/feedback",
                       json={"answer_id": answer["id"], "rating": 1})
    assert again.status_code == 201
    out = tmp_path / "feedback.jsonl"
    second.stop()
    assert export_feedback(tmp_path / "feedback.sqlite3", out) == 1
    record = json.loads(out.read_text())
    assert record["answer_id"] == answer["id"] and record["origin"] == "feedback"
    assert record["question"] == "How long do refunds take?"
    assert record["answer"] == answer["answer"] and record["rating"] == 1  # latest: +1


@pytest.mark.parametrize("header", ["authorization", "x-api-key"])
def test_api_keys(live, settings, services, header):
    server = live(create_app(settings(server_api_keys=["s3cret", "other"]), services()))
    url = f"{server.url}/v1/search"
    assert httpx.get(url, params={"q": "refund"}).status_code == 401
    value = "Bearer s3cret" if header == "authorization" else "s3cret"
    wrong = "Bearer nope" if header == "authorization" else "nope"
    denied = httpx.get(url, params={"q": "refund"}, headers={header: wrong})
    assert denied.status_code == 401 and denied.json()["error"]["type"] == "unauthorized"
    assert httpx.get(url, params={"q": "refund"}, headers={header: value}).status_code == 200
    # probes and the page stay open
    assert httpx.get(f"{server.url}/healthz").status_code == 200
    assert httpx.get(f"{server.url}/").status_code == 200


def test_chat_answer_event_carries_checked_citations(live, settings, services):
    from server_doubles import Quoting

    server = live(create_app(settings(), services(generator=Quoting())))
    r = httpx.post(f"{server.url}/v1/chat", timeout=30, json={
        "messages": [{"role": "user", "content": "Tell me about refunds."},
                     {"role": "assistant", "content": "Refunds are possible."},
                     {"role": "user", "content": "How many days do I have to return it?"}],
        "k": 3})
    events = sse_events(r)
    final = events[-1][1]
    assert events[-1][0] == "answer" and not final["abstained"]
    streamed = "".join(d["text"] for kind, d in events if kind == "token")
    assert streamed == final["answer"] and "30 days" in streamed
    (citation,) = final["citations"]
    assert citation["source"] == "policies/refunds.md" and "30 days" in citation["quote"]


def test_a_failure_mid_stream_is_an_error_event(live, settings, services):
    from server_doubles import Quoting

    class FailsMidway(Quoting):
        def stream(self, messages, config, adapter=None):
            def pieces():
                yield "You can"
                raise RuntimeError("device lost")

            return pieces()

    server = live(create_app(settings(), services(generator=FailsMidway())))
    r = httpx.post(f"{server.url}/v1/chat", timeout=30,
                   json={"messages": [{"role": "user", "content": "refund days?"}]})
    events = sse_events(r)
    assert [kind for kind, _ in events] == ["token", "error"]
    assert events[1][1]["error"]["type"] == "internal_error"
    # the slot was given back
    assert "assistant_generations_in_flight 0.0" in httpx.get(f"{server.url}/metrics").text


@pytest.mark.parametrize("path", ["/v1/chat", "/v1/chat/completions"])
def test_a_client_going_away_stops_generation(live, settings, services, path):
    from server_doubles import Quoting

    class Watched(Quoting):
        pieces_made = 0
        closed = threading.Event()

        def stream(self, messages, config, adapter=None):
            watched = self

            def pieces():
                try:
                    for _ in range(1000):
                        watched.pieces_made += 1
                        time.sleep(0.01)
                        yield " word"
                finally:
                    watched.closed.set()

            return pieces()

    generator = Watched()
    server = live(create_app(settings(), services(generator=generator)))
    body = {"messages": [{"role": "user", "content": "refund days?"}]}
    if path == "/v1/chat/completions":
        body |= {"model": "tiny", "stream": True}
    with httpx.stream("POST", f"{server.url}{path}", timeout=30, json=body) as r:
        for line in r.iter_lines():
            if line.startswith("data:"):
                break  # read one event, then hang up
    assert generator.closed.wait(10), "generation went on after the client left"
    assert generator.pieces_made < 1000


def test_citations_are_checked_with_the_verifier_embedder_when_one_is_set(
        live, settings, services, embedder):
    from ingest.embedding import Embedder

    verifier = Embedder()  # another instance: as a bundled verifier beside a tuned index
    app = create_app(settings(), services(make_answerer=None, verifier_embedder=verifier))
    server = live(app)
    r = httpx.post(f"{server.url}/v1/answer", timeout=30,
                   json={"question": "How many days do I have to return a product?", "k": 3})
    assert r.status_code == 200, r.text
    answerer = app.state.runtime.answerer
    assert answerer.verifier.embedder is verifier
    assert answerer.searcher is app.state.runtime.services.searcher

    plain = create_app(settings(), services(make_answerer=None))
    live(plain)
    assert plain.state.runtime.answerer.verifier.embedder is embedder


def test_requests_without_a_mode_search_with_the_servers_default(live, settings, services):
    server = live(create_app(settings(server_search_mode="dense"), services()))
    with httpx.Client(base_url=server.url, timeout=30) as http:
        assert http.get("/v1/search", params={"q": "refund"}).json()["mode"] == "dense"
        named = http.get("/v1/search", params={"q": "refund", "mode": "bm25"}).json()
        assert named["mode"] == "bm25"
        dense = http.get("/v1/search", params={"q": "rinse the dust filter"}).json()
        # A cosine, not a fused rank score (RRF scores stay below 2 / 61).
        assert dense["results"][0]["score"] > 0.1
        r = http.post("/v1/answer", json={"question": "How do I set up wifi?", "k": 2})
        assert r.status_code == 200, r.text
    plain = live(create_app(settings(), services()))
    assert httpx.get(f"{plain.url}/v1/search", params={"q": "refund"},
                     timeout=30).json()["mode"] == "hybrid"


def test_by_default_the_server_extracts_or_declines_without_the_model(live, settings,
                                                                      services):
    """The answerer the server builds itself (no test answerer): with the settings'
    defaults the model never writes an answer; every answer is a quote or a refusal."""
    server = live(create_app(settings(), services(make_answerer=None)))
    with httpx.Client(base_url=server.url, timeout=30) as http:
        # The second passes retrieval and evidence scoring but no unit answers it by
        # extraction: with generation on, the model would be asked (8 tokens here).
        for question in ("How many days do I have to return a product?",
                         "Who pays for replacing a broken product?"):
            r = http.post("/v1/answer", json={"question": question, "k": 3})
            assert r.status_code == 200, r.text
            record = r.json()
            assert record["answer_kind"] in ("extracted", "abstained"), record
            assert record["usage"]["completion_tokens"] == 0
            if record["abstained"]:
                assert record["passages"]  # shown as related passages
            else:
                assert record["citations"] and record["citations"][0]["quote"]
    # The app's own settings decide (not the process environment): generation on asks
    # the model for the question extraction cannot answer.
    server = live(create_app(settings(answer_generate=True), services(make_answerer=None)))
    r = httpx.post(f"{server.url}/v1/answer", timeout=30,
                   json={"question": "Who pays for replacing a broken product?", "k": 3})
    assert r.status_code == 200 and r.json()["usage"]["completion_tokens"] > 0, r.text


# Two families with an old version each (one archived by its own notice, one superseded
# by a later effective date) beside a document that has no other version.
VERSIONED = {
    "policies/refunds-2023.md": "# Refund Policy (2023)\n\n> ARCHIVED: replaced by the 2025 "
                                "policy.\n\nEffective: 1 January 2023.\n\nCustomers may "
                                "request a refund within 14 days.\n",
    "policies/refunds-2025.md": "# Refund Policy\n\nEffective: 1 April 2025.\n\nReturn any "
                                "product within 30 days.\n",
    "policies/shipping-2024.md": "# Shipping Policy\n\nEffective: 1 March 2024.\n\nOrders "
                                 "ship within five days.\n",
    "policies/shipping-2025.md": "# Shipping Policy\n\nEffective: 1 March 2025.\n\nOrders "
                                 "ship within two days.\n",
    "support/wifi.md": "# Wi-Fi setup\n\nHold the pairing button for five seconds.\n",
}


@pytest.fixture(scope="module")
def versioned_index(tmp_path_factory, embedder):
    from index.build import ingest

    root = tmp_path_factory.mktemp("versioned")
    for name, text in VERSIONED.items():
        (root / "docs" / name).parent.mkdir(parents=True, exist_ok=True)
        (root / "docs" / name).write_text(text)
    ingest([root / "docs"], root / "index", progress=False, embedder=embedder)
    return root / "index"


def test_documents_lists_filters_and_pages(live, settings, services, versioned_index,
                                           embedder):
    from index.searcher import Searcher

    searcher = Searcher(versioned_index, embedder=embedder)
    server = live(create_app(settings(server_index=versioned_index),
                             services(index_dir=versioned_index, searcher=searcher)))
    with httpx.Client(base_url=server.url, timeout=30) as http:
        def listed(**params) -> dict:
            r = http.get("/v1/documents", params=params)
            assert r.status_code == 200, r.text
            return r.json()

        every = listed()
        assert every["index_version"] == searcher.version
        assert (every["total"], every["offset"], every["limit"]) == (5, 0, 1000)
        assert every["documents"] == [d.to_json() for d in searcher.documents()]
        assert [d["source"] for d in every["documents"]] == sorted(VERSIONED)  # index order
        by_source = {d["source"]: d for d in every["documents"]}
        old = by_source["policies/refunds-2023.md"]
        assert (old["status"], old["effective_date"], old["superseded_by"]) == (
            "archived", "2023-01-01", "policies/refunds-2025.md")

        def sources(**params) -> list[str]:
            return [d["source"] for d in listed(**params)["documents"]]

        assert sources(status="current") == ["policies/refunds-2025.md",
                                             "policies/shipping-2025.md", "support/wifi.md"]
        assert sources(status="superseded") == ["policies/shipping-2024.md"]
        assert listed(status="unknown") == {**every, "total": 0, "documents": []}
        assert sources(source="policies/refunds-*") == ["policies/refunds-2023.md",
                                                        "policies/refunds-2025.md"]
        assert sources(source=["support/*", "policies/shipping-2025.md"]) == [
            "policies/shipping-2025.md", "support/wifi.md"]
        assert sources(source="policies/*", status="current") == [
            "policies/refunds-2025.md", "policies/shipping-2025.md"]
        # pages: ``total`` counts every filtered document, the pages add up to the list
        pages = [listed(limit=2, offset=offset) for offset in (0, 2, 4, 6)]
        assert [p["total"] for p in pages] == [5, 5, 5, 5]
        assert [len(p["documents"]) for p in pages] == [2, 2, 1, 0]
        assert [d for p in pages for d in p["documents"]] == every["documents"]
        assert (pages[1]["offset"], pages[1]["limit"]) == (2, 2)
        current = listed(status="current", limit=1, offset=1)
        assert current["total"] == 3
        assert [d["source"] for d in current["documents"]] == ["policies/shipping-2025.md"]
