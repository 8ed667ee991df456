"""``assistant mcp`` over a local index with the real bundled SmolLM2: its backend built as
the command builds it (``mcp_backend``, without stdio) and its ``answer`` tool called
in-process. With generation off (the default) the model is found and its tokenizer read,
but the weights never load; with generation on they load once, at start, as ``ask``'s.
"""

from __future__ import annotations

import asyncio

import pytest
from isolated_home import isolated_home  # noqa: F401  (autouse: a fresh ASSISTANT_HOME)

from assistant.answering.models import BUNDLED_MODEL
from assistant.cli.main import build_parser
from assistant.cli.serve import cmd_mcp, mcp_backend
from assistant.integrations.mcp_server import build_mcp

QUESTIONS = ("How many days do I have to return a product?",  # in the corpus
             "What is the warranty on the SweepBot battery?")  # not in it


def mcp_over(index_dir):
    """The MCP server ``assistant mcp --index INDEX --device cpu`` would serve."""
    args = build_parser().parse_args(["mcp", "--index", str(index_dir), "--device", "cpu"])
    assert args.func is cmd_mcp and args.model == BUNDLED_MODEL
    return build_mcp(mcp_backend(args))


def answered(mcp, question: str) -> dict:
    """The answer tool's record for ``question``, checked to be no tool error."""
    result = asyncio.run(mcp.call_tool("answer", {"question": question, "k": 3}))
    assert not result.is_error, result.content
    record = result.structured_content
    assert record["question"] == question and record["model"] == BUNDLED_MODEL
    return record


def test_generation_off_answers_without_loading_the_weights(index_dir, weight_loads,
                                                            monkeypatch):
    """A fresh home: the tokenizer is read from the GGUF, nothing is converted or loaded,
    and every answer is extracted with its citations, or declined."""
    from core.settings import get_settings

    monkeypatch.delenv("ASSISTANT_ANSWER_GENERATE", raising=False)
    get_settings.cache_clear()
    mcp = mcp_over(index_dir)
    kinds = []
    for question in QUESTIONS:
        record = answered(mcp, question)
        kinds.append(record["answer_kind"])
        assert record["answer_kind"] in ("extracted", "abstained") and record["passages"]
        if record["answer_kind"] == "extracted":
            assert record["answer"].strip() and record["citations"]
            assert {c["source"] for c in record["citations"]} <= {
                p["source"] for p in record["passages"]}
    assert kinds[0] == "extracted"  # the corpus says 30 days: not everything is declined
    assert weight_loads == []
    assert not (get_settings().models_dir / BUNDLED_MODEL).exists()  # never converted


@pytest.mark.slow
def test_generation_on_loads_the_weights_once(index_dir, bundled_home, weight_loads,
                                              monkeypatch):
    """With ``ASSISTANT_ANSWER_GENERATE=true`` the model answers what extraction cannot, so
    its weights load when the backend is built (from the session's conversion), and only
    then: the answers that follow, one of them generated, load nothing more."""
    from core.settings import get_settings

    monkeypatch.setenv("ASSISTANT_ANSWER_GENERATE", "true")
    get_settings.cache_clear()
    mcp = mcp_over(index_dir)
    assert len(weight_loads) == 1  # at start, as ask and serve load them
    extracted, uncovered = (answered(mcp, question) for question in QUESTIONS)
    assert extracted["answer_kind"] == "extracted"
    # What extraction cannot answer goes to the model now (declined with generation off).
    assert "generate" in uncovered["timings"], uncovered
    assert len(weight_loads) == 1


def test_an_unknown_adapter_is_a_tool_error(index_dir):
    """As the HTTP API's 404 ``adapter_not_found``: an adapter the model has not loaded is
    refused naming the known ones, also when answers are extracted (no adapter writes)."""
    from mcp import Client
    from mcp.server.mcpserver.exceptions import ToolError

    mcp = mcp_over(index_dir)
    with pytest.raises(ToolError, match="unknown adapter 'nosuch'; known adapters: none"):
        asyncio.run(mcp.call_tool("answer", {"question": QUESTIONS[0], "adapter": "nosuch"}))

    async def over_the_protocol():
        async with Client(mcp) as client:
            return await client.call_tool("answer", {"question": QUESTIONS[0],
                                                     "adapter": "nosuch"})

    result = asyncio.run(over_the_protocol())
    assert result.is_error and "unknown adapter 'nosuch'" in result.content[0].text
