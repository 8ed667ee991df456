"""The MCP server: its tools called in-process through the SDK, over the protocol with the
SDK's in-memory client, and once over stdio in a subprocess, on the real small index.

``answer`` goes through the fixed-answer TEST DOUBLE (conftest ``FixedAnswerer``): these
tests check the plumbing (arguments in, text and record out), not answer quality.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest
from mcp import Client, StdioServerParameters
from mcp.server.mcpserver.exceptions import ToolError

from assistant.integrations.client import AssistantClient, LocalClient
from assistant.integrations.mcp_server import build_mcp, documents_text
from ingest.versions import STATUSES

REPO = Path(__file__).resolve().parents[2]


def run(coro):
    return asyncio.run(coro)


def test_tools_and_their_schemas(searcher, fixed_answerer):
    tools = {t.name: t for t in run(build_mcp(fixed_answerer).list_tools())}
    assert set(tools) == {"search", "documents", "answer"}
    search = tools["search"].input_schema
    assert search["required"] == ["query"]
    assert set(search["properties"]) == {"query", "k", "mode"}
    assert search["properties"]["mode"]["enum"] == ["bm25", "dense", "hybrid"]
    assert (search["properties"]["k"]["minimum"], search["properties"]["k"]["maximum"]) == (1, 50)
    answer = tools["answer"].input_schema
    assert answer["required"] == ["question"] and set(answer["properties"]) == {
        "question", "k", "adapter"}
    assert tools["answer"].description and tools["search"].description
    documents = tools["documents"].input_schema
    assert "required" not in documents and set(documents["properties"]) == {"status", "source"}
    assert documents["properties"]["status"]["anyOf"][0]["enum"] == list(STATUSES)
    assert tools["documents"].description.startswith("List the documents the assistant")
    # An index without a model: nothing to answer with, so no answer tool is offered.
    only_search = run(build_mcp(LocalClient(searcher=searcher)).list_tools())
    assert [t.name for t in only_search] == ["search", "documents"]


def test_search_returns_passages_from_the_real_index(searcher):
    mcp = build_mcp(searcher)
    result = run(mcp.call_tool("search", {"query": "rinse the dust filter", "k": 2,
                                          "mode": "bm25"}))
    assert not result.is_error
    results = result.structured_content["results"]
    assert 1 <= len(results) <= 2
    assert results[0]["source"] == "manuals/sweepbot-x9.pdf" and results[0]["page_index"] == 2
    text = result.content[0].text
    assert text.startswith("[1] manuals/sweepbot-x9.pdf p.2") and "dust filter" in text


def test_documents_lists_one_line_per_document(searcher):
    mcp = build_mcp(searcher)
    result = run(mcp.call_tool("documents", {}))
    assert not result.is_error
    assert result.structured_content == LocalClient(searcher=searcher).documents()
    assert result.content[0].text.splitlines() == [
        f'manuals/sweepbot-x9.pdf "sweepbot-x9": current, effective '
        f'{result.structured_content["documents"][0]["effective_date"]}',  # the PDF's date
        'policies/refunds.md "Refunds": current, effective date unknown',
        'support/wifi.md "Wi-Fi setup": current, effective date unknown',
    ]
    only = run(mcp.call_tool("documents", {"source": "support/*", "status": "current"}))
    assert only.content[0].text == 'support/wifi.md "Wi-Fi setup": current, effective date unknown'
    none = run(mcp.call_tool("documents", {"status": "archived"}))
    assert none.content[0].text == "No documents matched."
    assert none.structured_content["total"] == 0
    with pytest.raises(ToolError, match="Input should be 'current'"):
        run(mcp.call_tool("documents", {"status": "old"}))


def test_documents_text_names_the_successor_and_what_was_left_out():
    old = {"source": "policies/refunds-2023.md", "title": "Refund Policy (2023)",
           "status": "archived", "effective_date": "2023-01-01",
           "superseded_by": "policies/refunds-2025.md"}
    untitled = {"source": "notes.txt", "title": "", "status": "unknown",
                "effective_date": None, "superseded_by": None}
    text = documents_text({"total": 5, "offset": 0, "documents": [old, untitled]})
    assert text.splitlines() == [
        'policies/refunds-2023.md "Refund Policy (2023)": archived, effective 2023-01-01, '
        "superseded by policies/refunds-2025.md",
        "notes.txt: unknown, effective date unknown",
        "... and 3 more (narrow the list with status or source)",
    ]


def test_answer_through_the_test_double(fixed_answerer):
    mcp = build_mcp(fixed_answerer)
    result = run(mcp.call_tool("answer", {"question": "How do I set up wifi?", "k": 3,
                                          "adapter": "support-v1"}))
    assert not result.is_error
    text = result.content[0].text
    assert text.startswith(fixed_answerer.TEXT)
    assert text.splitlines()[-2:] == ["Sources:", "[1] support/wifi.md \u00a7 Wi-Fi setup"]
    record = result.structured_content
    assert record["question"] == "How do I set up wifi?" and record["adapter"] == "support-v1"
    _, _, options = fixed_answerer.calls[-1]
    assert (options.k, options.adapter, options.mode) == (3, "support-v1", "hybrid")


def test_bad_arguments_and_backend_failures_are_tool_errors(searcher):
    mcp = build_mcp(searcher)
    with pytest.raises(ToolError, match="greater than or equal to 1"):
        run(mcp.call_tool("search", {"query": "refund", "k": 0}))
    with pytest.raises(ToolError, match="query is empty"):  # the searcher's own ConfigError
        run(mcp.call_tool("search", {"query": "   "}))
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with AssistantClient(f"http://127.0.0.1:{port}", timeout=5) as dead, \
            pytest.raises(ToolError, match="connection_error"):
        run(build_mcp(dead).call_tool("answer", {"question": "refunds?"}))


def test_over_the_protocol_backed_by_the_real_http_server(real_server, fixed_answerer):
    client, _ = real_server

    async def session():
        async with Client(build_mcp(client)) as mcp:
            names = sorted(t.name for t in (await mcp.list_tools()).tools)
            found = await mcp.call_tool("search", {"query": "return a product", "k": 2,
                                                   "mode": "bm25"})
            answered = await mcp.call_tool("answer", {"question": "Refund time?", "k": 2})
            missing = await mcp.call_tool("answer", {"question": "Refund time?",
                                                     "adapter": "nope"})
            listed = await mcp.call_tool("documents", {"source": "policies/*"})
            return names, found, answered, missing, listed

    names, found, answered, missing, listed = run(session())
    assert names == ["answer", "documents", "search"]
    assert listed.structured_content == client.documents(source="policies/*")
    assert listed.content[0].text == ('policies/refunds.md "Refunds": current, '
                                      "effective date unknown")
    assert found.structured_content["results"][0]["source"] == "policies/refunds.md"
    assert fixed_answerer.TEXT in answered.content[0].text
    assert answered.structured_content["model"] == "fixed-test-double"
    assert missing.is_error and "adapter_not_found" in missing.content[0].text


def test_run_mcp_serves_over_stdio(index_dir):
    """A real subprocess, as an MCP host would start it (bm25 only: no embedder load)."""
    script = ("import sys; from pathlib import Path; from index.searcher import Searcher; "
              "from assistant.integrations.mcp_server import run_mcp; "
              "run_mcp(Searcher(Path(sys.argv[1])))")
    params = StdioServerParameters(command=sys.executable, args=["-c", script, str(index_dir)],
                                   cwd=str(REPO))

    async def session():
        async with Client(params, read_timeout_seconds=60) as mcp:
            names = [t.name for t in (await mcp.list_tools()).tools]
            result = await mcp.call_tool("search", {"query": "pairing button", "k": 1,
                                                    "mode": "bm25"})
            return names, result

    names, result = run(session())
    assert names == ["search", "documents"]
    assert result.structured_content["results"][0]["source"] == "support/wifi.md"
