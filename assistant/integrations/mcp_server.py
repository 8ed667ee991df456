"""The assistant as an MCP server (the official ``mcp`` SDK, 2.x ``MCPServer``).

Three tools, for agents such as Claude Desktop or IDE assistants:

- ``search(query, k=5, mode="hybrid")``: the best passages, as readable text and as
  ``{"results": [passage, ...]}`` structured content;
- ``documents(status=None, source=None)``: the documents answered from, one line each
  (source, title, status, effective date, successor), and the ``GET /v1/documents``
  page as structured content, so an agent can tell a current policy from an old one;
- ``answer(question, k=5, adapter=None)``: the cited answer as text with ``[n] source
  p.N`` lines, and the answer record as structured content. Listed only when the
  backend can answer (a ``LocalClient`` without an answerer cannot).

``build_mcp(backend)`` builds the server over an ``AssistantClient`` (a running HTTP
server), a ``LocalClient``, a ``Searcher`` or an ``Answerer``; ``run_mcp(backend)``
serves it over stdio until the client hangs up. Failures the caller can act on (a bad
``k``, an unknown adapter, the HTTP server unreachable) come back as tool errors with
the message (locally, an adapter the model has not loaded: ``client.resolve_adapter``);
anything else is logged and reported as a crash by the SDK.
"""

from __future__ import annotations

import logging
from typing import Annotated, Any, Literal

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import CallToolResult, TextContent
from pydantic import Field

from assistant.integrations.client import answer_text, as_backend, where
from core.errors import AssistantError
from ingest.versions import DocStatus

logger = logging.getLogger(__name__)

MAX_K = 50  # as the HTTP API: more passages than this do not fit a prompt anyway
INSTRUCTIONS = (
    "Searches and answers from the company's own documents. Use `answer` for a question "
    "a person would ask (it cites its sources, or says the documents do not cover it); "
    "use `search` to read the passages themselves, and `documents` to see which documents "
    "there are and which of them are current."
)

Query = Annotated[str, Field(min_length=1, max_length=4000, description="what to look for")]
K = Annotated[int, Field(ge=1, le=MAX_K, description="how many passages to use")]
Mode = Annotated[Literal["bm25", "dense", "hybrid"],
                 Field(description="bm25 (words), dense (meaning) or hybrid (both)")]
Question = Annotated[str, Field(min_length=1, max_length=4000,
                                description="a self-contained question")]
Adapter = Annotated[str | None, Field(description="LoRA adapter name; null = base model")]
Status = Annotated[DocStatus | None,
                   Field(description="only documents with this version status; null = all")]
Source = Annotated[str | None, Field(min_length=1, max_length=1000,
                                     description="only documents whose path equals or "
                                                 "glob-matches this (policies/*); null = all")]
MAX_LISTED = 1000  # documents listed in one call; the text says how many more there are


def build_mcp(backend: Any, name: str = "acme-assistant") -> MCPServer:
    """An MCP server named ``name`` with ``search``, ``documents`` and (when possible)
    ``answer`` tools.

    ``backend`` is an ``AssistantClient``, ``LocalClient``, ``Searcher`` or ``Answerer``;
    ``TypeError`` for anything else. Note that the SDK sets up root logging on stderr
    (``logging.basicConfig``) when the server is built, as a server process would.
    """
    client = as_backend(backend)
    mcp = MCPServer(name, instructions=INSTRUCTIONS)

    @mcp.tool(name="search", title="Search the documents")
    def search(query: Query, k: K = 5, mode: Mode = "hybrid") -> CallToolResult:
        """Find the passages of the company's documents that best match ``query``."""
        results = _call(client.search, query, k=k, mode=mode)
        return CallToolResult(content=[TextContent(type="text", text=search_text(results))],
                              structured_content={"results": results})

    @mcp.tool(name="documents", title="List the documents")
    def documents(status: Status = None, source: Source = None) -> CallToolResult:
        """List the documents the assistant answers from, with status and effective date."""
        page = _call(client.documents, source=source, status=status, limit=MAX_LISTED)
        return CallToolResult(content=[TextContent(type="text", text=documents_text(page))],
                              structured_content=page)

    if getattr(client, "can_answer", True):

        @mcp.tool(name="answer", title="Answer from the documents")
        def answer(question: Question, k: K = 5, adapter: Adapter = None) -> CallToolResult:
            """Answer ``question`` from the company's documents, citing the passages used."""
            record = _call(client.answer, question, k=k, adapter=adapter)
            return CallToolResult(content=[TextContent(type="text", text=answer_text(record))],
                                  structured_content=record)

    return mcp


def run_mcp(backend: Any, name: str = "acme-assistant") -> None:
    """Serve ``build_mcp(backend, name)`` over stdio until the client disconnects.

    stdout carries the protocol, so nothing else may print there; logs go to stderr.
    """
    logger.info("serving MCP over stdio with %s", type(backend).__name__)
    build_mcp(backend, name).run("stdio")


def search_text(results: list[dict]) -> str:
    """Search results as numbered, readable passages."""
    if not results:
        return "No passages matched."
    blocks = []
    for n, passage in enumerate(results, 1):
        text = " ".join(str(passage.get("text", "")).split())
        blocks.append(f"[{n}] {where(passage)} (chunk {passage.get('chunk_id')}, "
                      f"score {float(passage.get('score') or 0.0):.4f})\n{text}")
    return "\n\n".join(blocks)


def documents_text(page: dict) -> str:
    """A ``documents`` page as one readable line per document: source, title, status,
    effective date and, for an old version, the document that replaced it."""
    listed = page.get("documents") or []
    if not listed:
        return "No documents matched."
    lines = []
    for doc in listed:
        title = f" \"{doc['title']}\"" if doc.get("title") else ""
        line = (f"{doc.get('source')}{title}: {doc.get('status', 'unknown')}, effective "
                f"{doc.get('effective_date') or 'date unknown'}")
        if doc.get("superseded_by"):
            line += f", superseded by {doc['superseded_by']}"
        lines.append(line)
    total, offset = int(page.get("total") or len(listed)), int(page.get("offset") or 0)
    if (more := total - offset - len(listed)) > 0:
        lines.append(f"... and {more} more (narrow the list with status or source)")
    return "\n".join(lines)


def _call(method: Any, *args: Any, **kwargs: Any) -> Any:
    """Call a ``Backend`` method; its expected failures become ``ToolError`` messages."""
    try:
        return method(*args, **kwargs)
    except AssistantError as exc:  # includes AssistantAPIError and ConfigError
        raise ToolError(str(exc)) from exc


