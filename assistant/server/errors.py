"""Every failure of the API as JSON: ``{"error": {"type", "message", ...}}``.

``ApiError`` is raised by routes for 4xx/5xx answers with a reason; FastAPI's own
validation errors (422) and malformed JSON or a body that is not UTF-8 (400) are
rewritten into the same shape with the offending ``field`` (``body.question``); library
errors map to statuses in ``from_library``. The OpenAI-compatible route's errors also
carry ``code`` and ``param``, which OpenAI clients read.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from assistant.answering.generation import PromptError
from assistant.answering.models import AdapterError
from assistant.feedback import UnknownAnswerError
from assistant.server.schemas import ErrorResponse
from core.errors import AssistantError, ConfigError, IndexNotFoundError

logger = logging.getLogger(__name__)

# What each error status means, for the OpenAPI document (``error_responses``).
STATUS_MEANINGS = {
    400: "Malformed JSON or a body that is not UTF-8 (`invalid_json`), a question that "
         "does not fit the model's context window (`prompt_too_long`) or options the "
         "answer path refuses (`invalid_request`)",
    401: "Missing or invalid API key (`unauthorized`)",
    403: "The API key is not allowed this route, index or source (`forbidden`)",
    404: "An unknown adapter (`adapter_not_found`) or answer id (`answer_not_found`)",
    413: "The request body is larger than ASSISTANT_SERVER_MAX_REQUEST_BYTES "
         "(`request_too_large`)",
    415: "The body is not sent as JSON: `Content-Type` must be `application/json` "
         "(`unsupported_media_type`)",
    422: "A field is invalid; `field` names it (`validation_error`)",
    429: "All generation slots are busy, or the key's rate limit is reached "
         "(`too_many_requests`); retry after `Retry-After` seconds",
    503: "The index or model is not loaded yet (`not_ready`); retry after `Retry-After`",
    504: "No answer within ASSISTANT_SERVER_TIMEOUT_S (`timeout`)",
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """FastAPI ``responses=`` documenting ``statuses`` with the JSON error body."""
    return {status: {"model": ErrorResponse, "description": STATUS_MEANINGS[status]}
            for status in statuses}


class ApiError(Exception):
    """An error answer: HTTP ``status``, a machine-readable ``type`` and a message.

    ``field`` names the request field at fault; ``extra`` adds keys to the error object
    (``known`` adapters, for instance); ``headers`` are sent with it (``Retry-After``).
    """

    def __init__(self, status: int, type: str, message: str, field: str | None = None,
                 headers: dict[str, str] | None = None, **extra: Any) -> None:
        super().__init__(message)
        self.status, self.type, self.message, self.field = status, type, message, field
        self.headers, self.extra = headers or {}, extra

    def body(self) -> dict:
        error = {"type": self.type, "message": self.message}
        if self.field is not None:
            error["field"] = self.field
            error["param"] = self.field.split(".")[-1]
        error["code"] = self.type
        return {"error": {**error, **self.extra}}

    def response(self) -> JSONResponse:
        return JSONResponse(self.body(), status_code=self.status, headers=self.headers)


def not_ready(reason: str) -> ApiError:
    return ApiError(503, "not_ready", reason, headers={"Retry-After": "5"})


def from_library(exc: Exception, field: str | None = None) -> ApiError:
    """The ``ApiError`` for an exception raised by the answering stack."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, UnknownAnswerError):
        return ApiError(404, "answer_not_found", str(exc.args[0]), field="body.answer_id")
    if isinstance(exc, AdapterError):
        return ApiError(404, "adapter_not_found", str(exc), field=field)
    if isinstance(exc, PromptError):
        return ApiError(400, "prompt_too_long", str(exc), field=field)
    if isinstance(exc, ConfigError):
        return ApiError(400, "invalid_request", str(exc), field=field)
    if isinstance(exc, IndexNotFoundError):
        return not_ready(str(exc))
    if isinstance(exc, TimeoutError):
        return ApiError(504, "timeout", "the request took longer than the server allows")
    if isinstance(exc, AssistantError):
        return ApiError(500, "internal_error", str(exc))
    logger.exception("unexpected error", exc_info=exc)
    return ApiError(500, "internal_error", f"{type(exc).__name__}: unexpected server error")


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into the JSON shape above."""

    @app.exception_handler(ApiError)
    async def _api_error(request: Request, exc: ApiError) -> JSONResponse:
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        return validation_error(exc.errors()).response()

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
            # FastAPI's 400 "There was an error parsing the body": bytes that are no
            # UTF-8 (json.loads raised UnicodeDecodeError) are malformed JSON too
            return invalid_json(f"not UTF-8 ({exc.__cause__.reason} at byte "
                                f"{exc.__cause__.start})").response()
        kind = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized",
                413: "request_too_large"}.get(exc.status_code, "http_error")
        return ApiError(exc.status_code, kind, str(exc.detail),
                        headers=dict(exc.headers or {})).response()

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        return from_library(exc).response()


def validation_error(errors: list[dict]) -> ApiError:
    """The first pydantic error as an ``ApiError``: 400 for malformed JSON, else 422."""
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": "invalid"}
    if first.get("type") == "json_invalid":
        return invalid_json(str(first.get("ctx", {}).get("error", "")))
    loc = [str(part) for part in first.get("loc", ())]
    field = ".".join(loc) or None
    message = f"{field}: {first.get('msg')}" if field else str(first.get("msg"))
    return ApiError(422, "validation_error", message, field=field,
                    errors=[{"field": ".".join(str(p) for p in e.get("loc", ())),
                             "message": e.get("msg")} for e in errors[:20]])


def invalid_json(reason: str) -> ApiError:
    """400 ``invalid_json`` naming the body: malformed JSON or bytes that are not UTF-8."""
    return ApiError(400, "invalid_json", f"request body is not valid JSON: {reason}"
                    .rstrip(": "), field="body")
