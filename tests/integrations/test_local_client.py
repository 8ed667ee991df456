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
    with pytest.raises(ConfigError, match="k must be"):
        LocalClient(answerer=fixed_answerer).answer("refunds?", k=0)
    with pytest.raises(TypeError, match="expected an AssistantClient"):
        as_backend("http://localhost:8000")
    with AssistantClient("http://127.0.0.1:9") as http:
        assert as_backend(http) is http
    assert as_backend(searcher).searcher is searcher
