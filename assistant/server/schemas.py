"""Request bodies of the HTTP API, as pydantic models (they make the OpenAPI docs too).

Unknown fields are an error in the project's own endpoints; the OpenAI-compatible one
accepts (and ignores) the many OpenAI fields it does not use, so existing clients work.
Length limits that depend on settings (question size) are checked in the routes.

The schema states what the server accepts: a text that must hold a non-space character
says so with ``pattern: "\\S"`` (checked in the routes with a clearer message than a
pattern error); the rules JSON Schema cannot state (the last message of a conversation
must be the user's, its text is the question and must not be blank) are in the
descriptions. ``ErrorResponse`` is the body of every 4xx/5xx answer.

Types are strict in every request body (``RequestBody``): an integer field takes a JSON
integer (not ``"5"``, ``5.0`` or ``true``), a boolean ``true``/``false`` (not ``"yes"`` or
``1``), a text a JSON string; a 422 names the field. A number field would still take an
integer (``1`` -> ``1.0``), as OpenAI clients send. JSON Schema counts ``5.0`` as an
integer, so the schema cannot state that one rule (docs/api.md does).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field

Mode = Literal["bm25", "dense", "hybrid"]
MAX_K = 50
MAX_HISTORY = 50
NOT_BLANK = {"pattern": r"\S"}  # JSON Schema: holds a non-space character


def _not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("a source pattern must not be blank")
    return value


def _correction_not_blank(value: str | None) -> str | None:
    if value is not None and not value.strip():
        raise ValueError("the correction must not be blank")
    return value


def _json_integer(value: Any) -> Any:
    """A literal of integers takes only a JSON integer: pydantic compares literals by
    equality, so even in strict mode ``1.0`` and ``true`` would pass as ``1``."""
    if type(value) is not int:
        raise ValueError("a JSON integer is expected")
    return value


class RequestBody(BaseModel):
    """Base of every request body: strict types (see above), unknown fields forbidden
    (the OpenAI-compatible models allow them)."""

    model_config = ConfigDict(strict=True, extra="forbid")


SourcePattern = Annotated[
    str,
    Field(min_length=1, max_length=1000, json_schema_extra=NOT_BLANK,
          description="a source path or glob pattern (not blank)"),
    AfterValidator(_not_blank),
]


class ErrorInfo(BaseModel):
    """What went wrong: ``type`` (machine-readable, also in ``code``), a ``message``, and
    for a bad request the ``field`` at fault (``body.question``) and its last part
    (``param``). Some errors add keys (``errors`` for validation, ``known`` adapters)."""

    model_config = ConfigDict(extra="allow")

    type: str
    message: str
    code: str
    field: str | None = None
    param: str | None = None


class ErrorResponse(BaseModel):
    """The body of every error answer: ``{"error": {...}}``."""

    error: ErrorInfo


class ChatMessage(RequestBody):
    """One chat turn."""

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=100_000)


class RetrievalOptions(RequestBody):
    """How to retrieve and generate; shared by ``/v1/answer`` and ``/v1/chat``."""

    k: int = Field(default=5, ge=1, le=MAX_K, description="passages to retrieve")
    mode: Mode | None = Field(
        default=None,
        description="bm25, dense or hybrid retrieval; null = the server's default (hybrid "
                    "unless ASSISTANT_SERVER_SEARCH_MODE says otherwise)")
    adapter: str | None = Field(
        default=None, min_length=1, max_length=200,
        description="LoRA adapter name (registry name or name@vN); null = base model",
    )
    sources: list[SourcePattern] | None = Field(
        default=None, max_length=50,
        description="keep passages whose source equals or glob-matches one of these "
                    "(an empty list: no filter)",
    )
    max_new_tokens: int | None = Field(
        default=None, ge=1, le=8192,
        description="at most this many tokens of answer; the server caps it at its "
                    "ASSISTANT_SERVER_MAX_NEW_TOKENS and may give short questions less")


class AnswerRequest(RetrievalOptions):
    """``POST /v1/answer``: one question, optionally with the conversation so far."""

    question: str = Field(
        min_length=1, json_schema_extra=NOT_BLANK,
        description="the question to answer (not blank; at most "
                    "ASSISTANT_SERVER_MAX_QUESTION_CHARS characters, 4000 by default)")
    history: list[ChatMessage] = Field(default_factory=list, max_length=MAX_HISTORY)


class ChatRequest(RetrievalOptions):
    """``POST /v1/chat``: the conversation; the last message is the user's question."""

    messages: list[ChatMessage] = Field(
        min_length=1, max_length=MAX_HISTORY + 1,
        description="the conversation, oldest first; the last message must be the user's "
                    "and is the question (not blank, at most "
                    "ASSISTANT_SERVER_MAX_QUESTION_CHARS characters), else 422")


class FeedbackRequest(RequestBody):
    """``POST /v1/feedback``: -1 (bad) or +1 (good), optionally a corrected answer."""

    answer_id: str = Field(min_length=1, max_length=200)
    rating: Annotated[Literal[-1, 1], BeforeValidator(_json_integer)] = Field(
        description="-1 = bad answer, 1 = good answer")
    correction: Annotated[str | None, AfterValidator(_correction_not_blank)] = Field(
        default=None, min_length=1, max_length=20_000, json_schema_extra=NOT_BLANK,
        description="the right answer, if the rated one was wrong (not blank)")
    comment: str | None = Field(default=None, max_length=5_000)


# Tool and developer messages are passed to the model as system turns.
OpenAIRole = Literal["system", "developer", "user", "assistant", "tool", "function"]


class OpenAIMessage(RequestBody):
    """An OpenAI chat message; ``content`` may be a string or a list of text parts."""

    model_config = ConfigDict(extra="allow")

    role: OpenAIRole
    content: str | list[dict[str, Any]] | None = None

    def text(self) -> str:
        if self.content is None:
            return ""
        if isinstance(self.content, str):
            return self.content
        return "".join(
            str(part.get("text", "")) for part in self.content if part.get("type") == "text"
        )


class ChatCompletionRequest(RequestBody):
    """``POST /v1/chat/completions`` (the OpenAI shape). ``model`` picks the adapter or
    the base model (see ``GET /v1/models``); ``k``, ``mode`` and ``sources`` are extras."""

    model_config = ConfigDict(extra="allow")

    model: str = Field(min_length=1, max_length=200)
    messages: list[OpenAIMessage] = Field(
        min_length=1, max_length=MAX_HISTORY + 1,
        description="the conversation, oldest first; the last message must be the user's "
                    "and its text is the question (not blank), else 422")
    stream: bool = False  # true or false; "yes" or 1 is a 422
    max_tokens: int | None = Field(default=None, ge=1, le=8192)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=8192)
    n: int = Field(default=1, ge=1, le=1)
    k: int = Field(default=5, ge=1, le=MAX_K)
    mode: Mode | None = None  # None: the server's default search mode
    sources: list[SourcePattern] | None = Field(default=None, max_length=50)
