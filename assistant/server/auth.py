"""API keys: ``Authorization: Bearer KEY`` or ``X-API-Key: KEY`` on every ``/v1`` route.

With no keys configured the API is open (meant for loopback or a trusted network).
``/healthz``, ``/readyz``, ``/metrics``, the chat page and the OpenAPI docs stay open:
probes and scrapers carry no keys, and none of them reveals documents or answers; the
chat page asks for a key when the API answers 401. Keys are compared with
``hmac.compare_digest`` against every configured key, so timing tells nothing.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from fastapi import Request

from assistant.server.errors import ApiError


class ApiKeys:
    """The configured keys; ``check(request)`` raises a 401 ``ApiError`` without a good one."""

    def __init__(self, keys: Sequence[str]) -> None:
        if any(not key or key != key.strip() for key in keys):
            raise ValueError("API keys must be non-empty and without surrounding spaces")
        self._keys = [key.encode() for key in keys]

    @property
    def enabled(self) -> bool:
        return bool(self._keys)

    def check(self, request: Request) -> None:
        if not self._keys:
            return
        given = _presented(request)
        if given is None:
            raise _unauthorized("missing API key: send 'Authorization: Bearer KEY' or 'X-API-Key'")
        candidate = given.encode()
        matched = False
        for key in self._keys:  # no early exit: every key is compared
            matched |= hmac.compare_digest(candidate, key)
        if not matched:
            raise _unauthorized("invalid API key")


def _presented(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if header:
        scheme, _, value = header.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            return value.strip()
    key = request.headers.get("x-api-key")
    return key.strip() if key and key.strip() else None


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


async def require_key(request: Request) -> None:
    """FastAPI dependency: the app's ``ApiKeys`` must accept the request."""
    request.app.state.keys.check(request)
