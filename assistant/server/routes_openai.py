"""OpenAI-compatible chat: ``POST /v1/chat/completions`` and ``GET /v1/models``.

``model`` is the base model's id (or ``base``) or an adapter name from ``/v1/models``
(``support``, or a pinned version ``support@v3``). Any other value (an OpenAI client's
default ``gpt-4o``, say) is a 404 ``adapter_not_found`` whose message says what ``model``
means here and lists the accepted values (also in the error's ``accepted`` key), never an
answer from another model. The conversation's last message is
the question; earlier ones are history (text parts of list contents are joined; tool
and developer messages are passed as system turns). The answer is grounded in the index
as everywhere else, and the citations ride in extra top-level fields that OpenAI
clients keep (``response.model_extra["citations"]``): ``citations``, ``answer_id``
(for ``/v1/feedback``), ``adapter`` (the version that answered), ``abstained`` and
``related_passages``. An abstention's content is the refusal with the related passages
(the closest evidence found) listed under it, so a client that shows only the content
still shows them; the same passages ride in ``related_passages``.

Streaming sends ``chat.completion.chunk`` objects as ``data:`` lines, the last one with
``finish_reason`` and the extra fields, then ``data: [DONE]``. Sampling fields
(``temperature``, ``top_p``, ...) are accepted and ignored: answers are greedy.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator

from fastapi import APIRouter, Depends, Request
from fastapi.responses import JSONResponse

from assistant.answering.records import Answer, Message
from assistant.server.auth import key_of, require_key
from assistant.server.errors import ApiError
from assistant.server.routes_answer import (
    ANSWERING,
    JSON_BODY,
    KEYED,
    check_question,
    options_of,
    runtime_of,
    split_conversation,
)
from assistant.server.schemas import ChatCompletionRequest
from assistant.server.services import Runtime
from assistant.server.streaming import AnswerStream, event_source
from core.render import RELATED_SHOWN, related_text

router = APIRouter(dependencies=[Depends(require_key)], tags=["openai"], responses=KEYED)

BASE_ALIAS = "base"
_ROLES = {"system": "system", "developer": "system", "tool": "system", "function": "system",
          "user": "user", "assistant": "assistant"}


@router.get("/v1/models", summary="The base model and the adapters, as OpenAI models")
async def models(request: Request) -> dict:
    runtime = runtime_of(request)
    created = int(request.app.state.started)
    data = [{"id": runtime.model_id, "object": "model", "created": created,
             "owned_by": "acme-assistant", "adapter": None, "canary": None}]
    if runtime.router is not None:
        scopes = key_of(request).scopes
        for entry in runtime.router.describe():
            if not scopes.allows_adapter(entry["id"]):
                continue  # adapters this key may not use are not listed to it
            data.append({"object": "model", "created": created, "owned_by": "acme-assistant",
                         **entry})
    return {"object": "list", "data": data}


def adapter_for(runtime: Runtime, model: str) -> str | None:
    """The adapter a ``model`` field asks for (None: the base model)."""
    return None if model in (runtime.model_id, BASE_ALIAS) else model


def unknown_model(runtime: Runtime, model: str, exc: ApiError) -> ApiError:
    """The 404 for a ``model`` that is neither the base model nor an adapter here, with a
    message an OpenAI client's user can act on: what ``model`` selects on this server and
    the values it takes. ``exc`` is the router's error; its ``known`` adapters are already
    only those the request's key may use."""
    known = list(exc.extra.get("known") or [])
    accepted = [runtime.model_id, BASE_ALIAS, *known]
    registry = runtime.router is not None and runtime.router.registry is not None
    pinned = " (a registered adapter's version may be pinned as name@vN)" if registry else ""
    adapters = (f", or an adapter's name: {', '.join(repr(n) for n in known)}{pinned}"
                if known else "; there are no adapters to choose from")
    message = (
        f"body.model: {model!r} is neither this server's base model nor one of its "
        f"adapters (unknown adapter {model!r}). Here `model` selects which one answers "
        f"from the documents, not an OpenAI model, and no other model is used in its "
        f"place. Send model={runtime.model_id!r} (or {BASE_ALIAS!r}) for the base model"
        f"{adapters}. GET /v1/models lists the accepted values.")
    return ApiError(404, exc.type, message, field=exc.field, known=known, accepted=accepted)


def _is_unknown_model(exc: ApiError) -> bool:
    """An adapter router's "unknown adapter" for the ``model`` field (it carries the
    ``known`` names; an adapter that exists but cannot be loaded does not)."""
    return exc.type == "adapter_not_found" and exc.field == "body.model" and "known" in exc.extra


@router.post("/v1/chat/completions", summary="OpenAI-compatible chat completion with citations",
             dependencies=JSON_BODY,
             responses={200: {"content": {"application/json": {}, "text/event-stream": {}},
                              "description": "a chat.completion object, or with "
                                             "stream=true chat.completion.chunk events"},
                        **ANSWERING})
async def chat_completions(body: ChatCompletionRequest, request: Request):
    runtime = runtime_of(request)
    messages = []
    for i, m in enumerate(body.messages):
        role = _ROLES.get(m.role)
        if role is None:
            raise ApiError(422, "validation_error", f"body.messages.{i}.role: unknown role "
                           f"{m.role!r}", field=f"body.messages.{i}.role")
        messages.append(Message(role, m.text()))
    question, history = split_conversation(messages, "body.messages")
    check_question(runtime, question, "body.messages")
    options = options_of(runtime, body, adapter_for(runtime, body.model),
                         body.max_completion_tokens or body.max_tokens)
    try:
        if not body.stream:
            answer = await runtime.answer(question, history, options, field="body.model",
                                          key=key_of(request))
            return JSONResponse(completion(answer, body.model))
        stream = await runtime.stream(question, history, options, field="body.model",
                                      key=key_of(request))
    except ApiError as exc:
        if _is_unknown_model(exc):
            raise unknown_model(runtime, body.model, exc) from exc
        raise
    return event_source(chunks(stream, body.model), stream)


def _extras(answer: Answer) -> dict:
    return {
        "citations": [c.to_json() for c in answer.citations],
        "answer_id": answer.id,
        "adapter": answer.adapter,
        "abstained": answer.abstained,
        "related_passages": _related(answer),
    }


def _related(answer: Answer) -> list[dict]:
    """An abstention's closest evidence (passage records); none for an answer."""
    if not answer.abstained:
        return []
    return [p.to_json() for p in answer.passages[:RELATED_SHOWN]]


def content(answer: Answer) -> str:
    """The message content: the answer; for an abstention, the refusal and the related
    passages under it, so a chat client that shows only the content still shows the
    closest evidence (the same lines as ``answer_text`` gives MCP and LangChain)."""
    related = related_text(_related(answer))
    return f"{answer.answer}\n\n{related}" if related else answer.answer


def _usage(answer: Answer) -> dict:
    prompt = int(answer.usage.get("prompt_tokens", 0) or 0)
    done = int(answer.usage.get("completion_tokens", 0) or 0)
    return {"prompt_tokens": prompt, "completion_tokens": done, "total_tokens": prompt + done}


def completion(answer: Answer, model: str) -> dict:
    """The ``chat.completion`` object for an answer."""
    return {
        "id": f"chatcmpl-{answer.id}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "finish_reason": "stop", "logprobs": None,
                     "message": {"role": "assistant", "content": content(answer)}}],
        "usage": _usage(answer),
        **_extras(answer),
    }


async def chunks(stream: AnswerStream, model: str) -> AsyncIterator[dict[str, str]]:
    """The stream as ``chat.completion.chunk`` events for ``event_source``: a role chunk,
    content chunks, a last chunk with ``finish_reason`` and the extra fields, then
    ``[DONE]``; or an error object (then ``[DONE]``). Every chunk's ``id`` is
    ``chatcmpl-<answer_id>``, as the non-streamed completion's."""
    chunk_id, created = f"chatcmpl-{stream.answer_id}", int(time.time())

    def chunk(delta: dict, finish: str | None = None, **extra) -> dict[str, str]:
        body = {"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                "model": model,
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish,
                             "logprobs": None}], **extra}
        return {"data": json.dumps(body, ensure_ascii=False)}

    sent = ""
    yield chunk({"role": "assistant", "content": ""})
    try:
        async for event in stream:
            if isinstance(event, ApiError):
                yield {"data": json.dumps(event.body())}
                break
            if hasattr(event, "answer"):
                final: Answer = event.answer
                # Abstentions stream no tokens; the final text may also extend the pieces.
                text = content(final)
                if text.startswith(sent) and len(text) > len(sent):
                    yield chunk({"content": text[len(sent):]})
                yield chunk({}, "stop", usage=_usage(final), **_extras(final))
            else:
                sent += event.text
                yield chunk({"content": event.text})
        yield {"data": "[DONE]"}
    finally:  # also when the response is torn down mid-stream: stop generating
        stream.cancel()
