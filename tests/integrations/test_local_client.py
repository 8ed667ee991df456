"""``LocalClient`` and ``as_backend``: the in-process side of the integrations' backend."""

from __future__ import annotations

import pytest

from assistant.answering.records import Message
from assistant.integrations.client import AssistantClient, LocalClient, as_backend
from core.errors import ConfigError


def test_search_gives_the_api_passage_records(searcher):
    client = LocalClient(searcher=searcher)
    got = client.search("pairing button", k=2, mode="bm25", sources=["support/*"])
    want = [p.to_json() for p in searcher.search("pairing button", k=2, mode="bm25",
                                                 sources=["support/*"])]
    assert got == want and got[0]["source"] == "support/wifi.md"
    assert not client.can_answer


def test_documents_filter_and_page_as_the_api_does(searcher):
    from index.access import AccessFilter, restricted

    client = LocalClient(searcher=searcher)
    every = client.documents()
    assert every == {"index_version": searcher.version, "total": 3, "offset": 0, "limit": 1000,
                     "documents": [d.to_json() for d in searcher.documents()]}

    def sources(**kwargs) -> list[str]:
        return [d["source"] for d in client.documents(**kwargs)["documents"]]

    assert sources(source="support/*") == ["support/wifi.md"]  # one pattern, not letters
    assert sources(source=["support/*", "manuals/*.pdf"]) == ["manuals/sweepbot-x9.pdf",
                                                              "support/wifi.md"]
    assert sources(status="current") == sources() and sources(status="superseded") == []
    page = client.documents(limit=2, offset=2)
    assert (page["total"], page["limit"], page["offset"]) == (3, 2, 2)
    assert [d["source"] for d in page["documents"]] == ["support/wifi.md"]
    # a filter set for the context (as the server sets one per key) applies, as to search
    with restricted(AccessFilter(sources=("policies/*",))):
        scoped = client.documents()
    assert scoped["total"] == 1 and scoped["documents"][0]["source"] == "policies/refunds.md"
    for bad, message in (({"status": "old"}, "status must be one of"),
                         ({"limit": 0}, "limit must be in 1..5000"),
                         ({"limit": 5001}, "limit must be in 1..5000"),
                         ({"offset": -1}, "offset must be 0 or more"),
                         ({"source": [""]}, "non-empty path patterns")):
        with pytest.raises(ConfigError, match=message):
            client.documents(**bad)


def test_answer_passes_options_and_either_kind_of_history(fixed_answerer):
    client = as_backend(fixed_answerer)  # the answerer's own searcher comes along
    assert isinstance(client, LocalClient) and client.searcher is fixed_answerer.searcher
    history = [{"role": "user", "content": "hi"}, Message("assistant", "hello")]
    record = client.answer("refund days?", history=history, k=2, mode="bm25",
                           adapter="support", sources=["policies/*"], max_new_tokens=16)
    assert record["question"] == "refund days?" and record["adapter"] == "support"
    _, turns, options = fixed_answerer.calls[-1]
    assert turns == (Message("user", "hi"), Message("assistant", "hello"))
    assert (options.k, options.mode, options.adapter, options.sources,
            options.max_new_tokens) == (2, "bm25", "support", ("policies/*",), 16)


def test_missing_parts_and_bad_values_are_clear_errors(searcher, fixed_answerer):
    with pytest.raises(ConfigError, match="needs a searcher, an answerer or both"):
        LocalClient()
    with pytest.raises(ConfigError, match="without an answerer"):
        LocalClient(searcher=searcher).answer("refunds?")
    with pytest.raises(ConfigError, match="without a searcher"):
        LocalClient(answerer=fixed_answerer).search("refunds")
    with pytest.raises(ConfigError, match="without a searcher"):
        LocalClient(answerer=fixed_answerer).documents()
    with pytest.raises(ConfigError, match="k must be"):
        LocalClient(answerer=fixed_answerer).answer("refunds?", k=0)
    with pytest.raises(TypeError, match="expected an AssistantClient"):
        as_backend("http://localhost:8000")
    with AssistantClient("http://127.0.0.1:9") as http:
        assert as_backend(http) is http
    assert as_backend(searcher).searcher is searcher


def test_adapters_are_checked_against_the_ones_the_model_loaded(fixed_answerer):
    from types import SimpleNamespace

    from assistant.answering.models import AdapterError
    from assistant.integrations.client import known_adapters, resolve_adapter

    assert known_adapters(fixed_answerer) is None  # a double: cannot tell, passed on
    loaded = SimpleNamespace(names=lambda: ["support@v3", "hr"])
    fixed_answerer.generator = SimpleNamespace(target=loaded)  # as a LocalGenerator's
    assert known_adapters(fixed_answerer) == ["support@v3", "hr"]
    client = LocalClient(answerer=fixed_answerer)
    assert client.answer("refund days?", adapter="support")["adapter"] == "support@v3"
    assert client.answer("refund days?", adapter="hr")["adapter"] == "hr"
    with pytest.raises(AdapterError, match="unknown adapter 'nosuch'; known adapters: "
                                           "'support@v3', 'hr'"):
        client.answer("refund days?", adapter="nosuch")
    assert resolve_adapter("x", None) == "x"
    # the client's own adapter (assistant mcp --adapter) when a call names none
    defaulted = LocalClient(answerer=fixed_answerer, adapter="hr")
    assert defaulted.answer("refund days?")["adapter"] == "hr"
    assert defaulted.answer("refund days?", adapter="support")["adapter"] == "support@v3"
    fixed_answerer.generator = SimpleNamespace(target=SimpleNamespace())  # no adapter set
    with pytest.raises(AdapterError, match="known adapters: none"):
        client.answer("refund days?", adapter="support")
