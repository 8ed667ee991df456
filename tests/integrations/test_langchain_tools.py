"""The LangChain retriever and answer tool, over the real index (locally and over HTTP)."""

from __future__ import annotations

import re

import pytest
from langchain_core.documents import Document
from langchain_core.messages import ToolMessage

from assistant.integrations.client import AssistantClient, LocalClient, answer_text
from assistant.integrations.langchain_tools import (
    AssistantRetriever,
    make_answer_tool,
    supports_artifacts,
)
from core.errors import ConfigError

KEYS = {"source", "page_index", "page_label", "heading", "chunk_id", "score"}


def test_retriever_over_a_local_searcher(searcher):
    retriever = AssistantRetriever(backend=searcher, k=2, mode="bm25")
    docs = retriever.invoke("rinse the dust filter")
    assert 1 <= len(docs) <= 2 and all(isinstance(d, Document) for d in docs)
    top = docs[0]
    assert set(top.metadata) == KEYS
    assert top.metadata["source"] == "manuals/sweepbot-x9.pdf"
    assert top.metadata["page_index"] == 2 and top.metadata["page_label"] == "2"
    assert "dust filter" in top.page_content and top.id == top.metadata["chunk_id"]
    assert top.metadata["score"] >= docs[-1].metadata["score"]


def test_retriever_hybrid_headings_and_source_filter(searcher):
    docs = AssistantRetriever(backend=searcher, k=3).invoke("a damaged item is replaced")
    assert docs[0].metadata["source"] == "policies/refunds.md"
    assert docs[0].metadata["heading"] == "Refunds > Damaged items"
    assert docs[0].metadata["page_index"] is None
    only = AssistantRetriever(backend=searcher, k=5, sources=["support/*"]).invoke("refund")
    assert {d.metadata["source"] for d in only} == {"support/wifi.md"}


def test_retriever_over_http_matches_local(live, searcher):
    from fastapi import FastAPI

    app = FastAPI()  # CONTRACT TEST APP: only the search route, in the API's shape

    @app.get("/v1/search")
    def search(q: str, k: int = 5, mode: str = "hybrid") -> dict:
        return {"results": [p.to_json() for p in searcher.search(q, k=k, mode=mode)]}

    server = live(app)
    with AssistantClient(server.url, timeout=30) as client:
        remote = AssistantRetriever(backend=client, k=3, mode="bm25").invoke("brush cover")
    local = AssistantRetriever(backend=searcher, k=3, mode="bm25").invoke("brush cover")
    assert [(d.page_content, d.metadata) for d in remote] == \
           [(d.page_content, d.metadata) for d in local]


def test_retriever_rejects_bad_settings_and_backends(searcher):
    with pytest.raises(ValueError):
        AssistantRetriever(backend=searcher, k=0)
    with pytest.raises(ValueError):
        AssistantRetriever(backend=searcher, mode="fuzzy")
    with pytest.raises(ValueError, match="expected an AssistantClient"):
        AssistantRetriever(backend=42)
    with pytest.raises(ValueError):
        AssistantRetriever(backend=searcher, top_k=3)  # unknown keys are errors
    with pytest.raises(ConfigError, match="query is empty"):
        AssistantRetriever(backend=searcher).invoke("   ")


def test_answer_tool_returns_text_with_citation_lines(fixed_answerer):
    tool = make_answer_tool(fixed_answerer, k=2, mode="bm25")
    assert tool.name == "ask_documents" and set(tool.args) == {"question"}
    text = tool.invoke({"question": "Rinse the dust filter how often?"})
    assert text.startswith(fixed_answerer.TEXT)
    lines = text.splitlines()
    assert lines[-2] == "Sources:"
    assert re.fullmatch(r"\[1\] manuals/sweepbot-x9\.pdf p\.2", lines[-1])
    _, _, options = fixed_answerer.calls[-1]
    assert (options.k, options.mode) == (2, "bm25")


@pytest.mark.skipif(not supports_artifacts(), reason="langchain-core without tool artifacts")
def test_answer_tool_carries_the_record_as_artifact(fixed_answerer):
    tool = make_answer_tool(LocalClient(answerer=fixed_answerer))
    call = {"type": "tool_call", "id": "call-1", "name": tool.name,
            "args": {"question": "How do I set up wifi?"}}
    message = tool.invoke(call)
    assert isinstance(message, ToolMessage)
    assert "[1] support/wifi.md" in message.content
    record = message.artifact
    assert record["question"] == "How do I set up wifi?" and record["citations"][0]["n"] == 1
    assert message.content == answer_text(record)


def test_answer_text_of_an_abstention_and_of_pdf_labels():
    abstained = {"answer": "The documents do not cover this.", "abstained": True,
                 "abstain_reason": "no passage scored above the threshold", "citations": []}
    text = answer_text(abstained)
    assert "Sources:" not in text and "no passage scored above the threshold" in text
    assert "Related passages" not in text  # none were found
    related = dict(abstained, passages=[
        {"n": 1, "source": "c.md", "heading": "Shipping", "text": "Orders  ship in\n2 days."}])
    assert answer_text(related).splitlines()[-2:] == [
        "Related passages:", "- c.md \u00a7 Shipping: Orders ship in 2 days."]
    cited = {"answer": "Yes [2][1][2].", "abstained": False, "citations": [
        {"n": 2, "source": "a.pdf", "page_index": 3, "page_label": "iii", "heading": ""},
        {"n": 1, "source": "b.md", "page_index": None, "page_label": None, "heading": "H > I"},
        {"n": 2, "source": "a.pdf", "page_index": 3, "page_label": "iii", "heading": ""},
    ]}
    assert answer_text(cited).splitlines()[-2:] == ["[1] b.md \u00a7 H > I",
                                                     "[2] a.pdf p.3 (label iii)"]
