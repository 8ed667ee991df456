"""LangChain interfaces to the assistant: a retriever and an answering tool.

- ``AssistantRetriever(backend=...)``: a ``BaseRetriever`` over a local ``Searcher``, a
  ``LocalClient`` or an ``AssistantClient``; it returns ``Document``s whose metadata
  holds ``source``, ``page_index``, ``page_label``, ``heading``, ``chunk_id``, ``score``.
- ``make_answer_tool(answerer_or_client)``: a ``StructuredTool`` taking ``question`` that
  returns the cited answer as text with ``[n] source p.N`` lines; the answer record
  comes along as the tool message's ``artifact`` (``response_format="content_and_artifact"``)
  where the installed langchain-core supports it.
"""

from __future__ import annotations

import inspect
import logging
from typing import Any, Literal

from langchain_core.callbacks import CallbackManagerForRetrieverRun
from langchain_core.documents import Document
from langchain_core.retrievers import BaseRetriever
from langchain_core.tools import StructuredTool
from pydantic import BaseModel, ConfigDict, Field, field_validator

from assistant.integrations.client import Backend, answer_text, as_backend

logger = logging.getLogger(__name__)

Mode = Literal["bm25", "dense", "hybrid"]
METADATA_KEYS = ("source", "page_index", "page_label", "heading", "chunk_id", "score")
ANSWER_DESCRIPTION = (
    "Answer a question from the company's own documents. Returns the answer with numbered "
    "citations and a list of the sources (file, page, section) they point to, or says that "
    "the documents do not cover the question. Ask one self-contained question."
)


def passage_document(passage: dict) -> Document:
    """A passage record (``Passage.to_json()``) as a LangChain ``Document``."""
    metadata = {key: passage.get(key) for key in METADATA_KEYS}
    return Document(page_content=passage["text"], metadata=metadata, id=passage.get("chunk_id"))


class AssistantRetriever(BaseRetriever):
    """Retrieve passages from the assistant's index as ``Document``s.

    ``backend`` is a ``Searcher``, a ``LocalClient`` or an ``AssistantClient``; ``k``
    passages (1..1000, the HTTP API allows 50) are retrieved by ``mode`` from ``sources``
    (path patterns; None = all). Backend errors (``ConfigError``, ``AssistantAPIError``)
    propagate.
    """

    model_config = ConfigDict(extra="forbid", arbitrary_types_allowed=True)

    backend: Any
    k: int = Field(default=5, ge=1, le=1000)
    mode: Mode = "hybrid"
    sources: list[str] | None = None

    @field_validator("backend")
    @classmethod
    def _backend(cls, value: Any) -> Backend:
        try:
            return as_backend(value)
        except TypeError as exc:
            raise ValueError(str(exc)) from exc

    def _get_relevant_documents(
        self, query: str, *, run_manager: CallbackManagerForRetrieverRun
    ) -> list[Document]:
        results = self.backend.search(query, k=self.k, mode=self.mode, sources=self.sources)
        return [passage_document(p) for p in results]


class AnswerInput(BaseModel):
    """The answer tool's arguments."""

    model_config = ConfigDict(extra="forbid")

    question: str = Field(min_length=1, description="a self-contained question")


def supports_artifacts() -> bool:
    """True when this langchain-core's tools take ``response_format="content_and_artifact"``."""
    return "response_format" in inspect.signature(StructuredTool.from_function).parameters


def make_answer_tool(
    answerer_or_client: Any,
    *,
    name: str = "ask_documents",
    description: str = ANSWER_DESCRIPTION,
    k: int = 5,
    mode: Mode = "hybrid",
    adapter: str | None = None,
    sources: list[str] | None = None,
) -> StructuredTool:
    """A tool that answers ``question`` through ``answerer_or_client`` with citations.

    ``answerer_or_client`` is an ``Answerer`` (``RagAnswerer``), a ``LocalClient`` or an
    ``AssistantClient``; ``k``, ``mode``, ``adapter`` and ``sources`` are fixed for every
    call. The tool returns ``answer_text(record)``, plus the record as artifact when
    supported. Raises ``TypeError`` for an unusable backend.
    """
    backend = as_backend(answerer_or_client)
    with_artifact = supports_artifacts()

    def ask(question: str) -> Any:
        record = backend.answer(question, k=k, mode=mode, adapter=adapter, sources=sources)
        text = answer_text(record)
        return (text, record) if with_artifact else text

    extra: dict[str, Any] = {"response_format": "content_and_artifact"} if with_artifact else {}
    return StructuredTool.from_function(func=ask, name=name, description=description,
                                        args_schema=AnswerInput, **extra)
