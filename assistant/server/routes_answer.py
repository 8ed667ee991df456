"""The project's own answering endpoints: ``/v1/answer``, ``/v1/chat`` (SSE), ``/v1/feedback``.

``POST /v1/answer`` returns the answer record (``Answer.to_json()``). ``POST /v1/chat``
streams Server-Sent Events: ``event: token`` with ``{"text": piece}`` as text is
generated, then ``event: answer`` with the answer record (its ``answer`` is the final
text, which the widget shows in place of the streamed pieces), or ``event: error`` with
``{"error": {...}}``. Errors before the first event are plain JSON with a 4xx/5xx status.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse
from starlette.concurrency import run_in_threadpool

from assistant.answering.records import Message
from assistant.feedback import FeedbackStore, UnknownAnswerError
from assistant.server.auth import key_of, require_key
from assistant.server.errors import ApiError, error_responses, from_library
from assistant.server.keystore import KeyInfo
from assistant.server.schemas import AnswerRequest, ChatRequest, FeedbackRequest, RetrievalOptions
from assistant.server.services import Runtime
from assistant.server.streaming import AnswerStream, event_source


async def require_json(request: Request) -> None:
    """415 ``unsupported_media_type`` for a body sent without a JSON ``Content-Type``
    (``application/json`` or ``application/*+json``, which FastAPI reads as JSON), such
    as the form type that ``curl -d`` sends, instead of a 422 about the body not being
    an object."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    kind, _, subtype = media.partition("/")
    if kind == "application" and (subtype == "json" or subtype.endswith("+json")):
        return
    got = f"got Content-Type {content_type!r}" if content_type else "got no Content-Type"
    raise ApiError(415, "unsupported_media_type",
                   f"the request body must be JSON, sent with Content-Type: application/json; "
                   f"{got}", field="body")


# Every route here needs a key (401), may be refused to it (403) or be busy (429).
KEYED = error_responses(401, 403, 429)
ANSWERING = error_responses(400, 404, 413, 415, 422, 503, 504)
JSON_BODY = [Depends(require_json)]
router = APIRouter(dependencies=[Depends(require_key)], tags=["answers"], responses=KEYED)


def runtime_of(request: Request) -> Runtime:
    return request.app.state.runtime


def check_question(runtime: Runtime, question: str, field: str) -> str:
    """The question, or a 422 ``ApiError`` naming ``field`` if blank or too long."""
    limit = runtime.settings.server_max_question_chars
    if not question.strip():
        raise ApiError(422, "validation_error", f"{field}: the question is empty", field=field)
    if len(question) > limit:
        raise ApiError(422, "validation_error",
                       f"{field}: the question is {len(question)} characters; the limit is {limit}",
                       field=field)
    return question


def options_of(runtime: Runtime, body: RetrievalOptions, adapter: str | None = None,
               max_new_tokens: int | None = None):
    """``AnswerOptions`` for a request (``assistant.answering.answer``)."""
    from assistant.answering.answer import AnswerOptions

    cap = runtime.settings.server_max_new_tokens
    try:
        return AnswerOptions(
            k=body.k, mode=body.mode or runtime.settings.server_search_mode, adapter=adapter,
            sources=tuple(body.sources) if body.sources else None,
            # The server's limit caps what a request asks (the answer path's budget may give less).
            max_new_tokens=min(max_new_tokens or cap, cap),
        )
    except ValueError as exc:
        raise from_library(exc) from exc


def split_conversation(messages: Sequence[Message], field: str) -> tuple[str, list[Message]]:
    """(question, history): the last message must be the user's."""
    if not messages or messages[-1].role != "user":
        raise ApiError(422, "validation_error", f"{field}: the last message must be the user's",
                       field=field)
    return messages[-1].content, list(messages[:-1])


@router.post("/v1/answer", summary="Answer a question with citations (the answer record)",
             dependencies=JSON_BODY, responses=ANSWERING)
async def answer(body: AnswerRequest, request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    question = check_question(runtime, body.question, "body.question")
    history = [Message(m.role, m.content) for m in body.history]
    options = options_of(runtime, body, body.adapter, body.max_new_tokens)
    result = await runtime.answer(question, history, options, key=key_of(request))
    return JSONResponse(result.to_json())


@router.post("/v1/chat", summary="Stream an answer as Server-Sent Events",
             response_class=EventSourceResponse, dependencies=JSON_BODY,
             responses={200: {"content": {"text/event-stream": {}},
                              "description": "token* then answer, or error"},
                        **ANSWERING})
async def chat(body: ChatRequest, request: Request) -> EventSourceResponse:
    runtime = runtime_of(request)
    messages = [Message(m.role, m.content) for m in body.messages]
    question, history = split_conversation(messages, "body.messages")
    check_question(runtime, question, "body.messages")
    options = options_of(runtime, body, body.adapter, body.max_new_tokens)
    stream = await runtime.stream(question, history, options, key=key_of(request))
    return event_source(chat_events(stream), stream)


def sse(event: str, data: dict) -> dict[str, str]:
    """One chat event for ``event_source``: its name and its JSON ``data``."""
    return {"event": event, "data": json.dumps(data, ensure_ascii=False)}


async def chat_events(stream: AnswerStream) -> AsyncIterator[dict[str, str]]:
    """``token`` events as text comes, then ``answer``; or an ``error`` event."""
    try:
        async for event in stream:
            if isinstance(event, ApiError):
                yield sse("error", event.body())
            elif hasattr(event, "answer"):
                yield sse("answer", event.answer.to_json())
            else:
                yield sse("token", {"text": event.text})
    finally:  # also when the response is torn down mid-stream: stop generating
        stream.cancel()


def check_owner(store: FeedbackStore, answer_id: str, key: KeyInfo) -> None:
    """A key limited to part of the index rates only the answers it was given: any other
    id is unknown to it (404, as an id never stored), so it learns nothing of others'."""
    if key.scopes.access is None:
        return
    if store.get_answer(answer_id).get("key_id") != key.id:
        raise UnknownAnswerError(f"no answer with id {answer_id!r}")


@router.post("/v1/feedback", status_code=201, tags=["feedback"], dependencies=JSON_BODY,
             summary="Rate an answer (-1 or +1), optionally with a corrected answer",
             responses=error_responses(400, 404, 413, 415, 422, 503))
async def feedback(body: FeedbackRequest, request: Request) -> JSONResponse:
    runtime = runtime_of(request)
    store = runtime.feedback
    if store is None:
        raise ApiError(503, "not_ready", "the feedback store is not open yet")
    try:
        await run_in_threadpool(check_owner, store, body.answer_id, key_of(request))
        saved = await run_in_threadpool(store.add_feedback, body.answer_id, body.rating,
                                        body.correction, body.comment)
    except Exception as exc:
        raise from_library(exc) from exc
    return JSONResponse(saved.to_json(), status_code=201)
