"""Request bodies of the HTTP API, as pydantic models (they make the OpenAPI docs too).

Unknown fields are an error in the project's own endpoints; the OpenAI-compatible one
accepts (and ignores) the many OpenAI fields it does not use, so existing clients work.
Length limits that depend on settings (question size) are checked in the routes.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Mode = Literal["bm25", "dense", "hybrid"]
MAX_K = 50
MAX_HISTORY = 50


class ChatMessage(BaseModel):
    """One chat turn."""

    model_config = ConfigDict(extra="forbid")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=100_000)


class RetrievalOptions(BaseModel):
    """How to retrieve and generate; shared by ``/v1/answer`` and ``/v1/chat``."""

    model_config = ConfigDict(extra="forbid")

    k: int = Field(default=5, ge=1, le=MAX_K, description="passages to retrieve")
    mode: Mode | None = Field(
        default=None,
        description="bm25, dense or hybrid retrieval; null = the server's default (hybrid "
                    "unless ASSISTANT_SERVER_SEARCH_MODE says otherwise)")
    adapter: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="LoRA adapter name (registry name or name@vN); null = base model",
    )
    sources: list[str] | None = Field(
        default=None, max_length=50,
        description="keep passages whose source equals or glob-matches one of these",
    )
    max_new_tokens: int | None = Field(default=None, ge=1, le=8192)

    @field_validator("sources")
    @classmethod
    def _sources_not_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not all(s.strip() for s in value):
            raise ValueError("source patterns must not be empty")
        return value or None


class AnswerRequest(RetrievalOptions):
    """``POST /v1/answer``: one question, optionally with the conversation so far."""

    question: str = Field(min_length=1, description="the question to answer")
    history: list[ChatMessage] = Field(default_factory=list, max_length=MAX_HISTORY)


class ChatRequest(RetrievalOptions):
    """``POST /v1/chat``: the conversation; the last message is the user's question."""

    messages: list[ChatMessage] = Field(min_length=1, max_length=MAX_HISTORY + 1)


class FeedbackRequest(BaseModel):
    """``POST /v1/feedback``: -1 (bad) or +1 (good), optionally a corrected answer."""

    model_config = ConfigDict(extra="forbid")

    answer_id: str = Field(min_length=1, max_length=200)
    rating: Literal[-1, 1] = Field(description="-1 = bad answer, 1 = good answer")
    correction: str | None = Field(default=None, min_length=1, max_length=20_000)
    comment: str | None = Field(default=None, max_length=5_000)


class OpenAIMessage(BaseModel):
    """An OpenAI chat message; ``content`` may be a string or a list of text parts."""

    model_config = ConfigDict(extra="allow")

    role: str
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(
            str(part.get("text", "")) for part in self.content if part.get("type") == "text"
        )


class ChatCompletionRequest(BaseModel):
    """``POST /v1/chat/completions`` (the OpenAI shape). ``model`` picks the adapter or
    the base model (see ``GET /v1/models``); ``k``, ``mode`` and ``sources`` are extras."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=200)
    messages: list[OpenAIMessage] = Field(min_length=1, max_length=MAX_HISTORY + 1)
    stream: bool = False
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=8192)
    n: int = Field(default=1, ge=1, le=1)
    k: int = Field(default=5, ge=1, le=MAX_K)
    mode: Mode | None = None  # None: the server's default search mode
    sources: list[str] | None = Field(default=None, max_length=50)
