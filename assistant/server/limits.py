"""Bounds that keep one client from taking the server down.

- ``BodyLimit``: ASGI middleware answering 413 when a request body is larger than the
  limit, by its ``Content-Length`` or, for chunked bodies, once the bytes read pass it.
- ``Slots``: at most N generations at once. A request that finds none free gets 429
  with ``Retry-After`` at once instead of queueing behind a long line: the client (or
  its load balancer) retries elsewhere or later. A slot is held until the generation
  really ends, so the bound holds for the work the model does and not just for open
  connections; generation itself stops at the request's deadline
  (``ASSISTANT_SERVER_TIMEOUT_S``), so a request that got its 504 frees its slot about
  one decoding step later.
- ``RateLimiter``: each key's request rate (its ``rate`` scope), 429 past it.
"""

from __future__ import annotations

import json
import math
import threading
from collections.abc import Callable

from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.server.errors import ApiError


class BodyLimit:
    """Refuse request bodies over ``max_bytes`` with a 413 JSON error."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and (not length.isdigit() or int(length) > self.max_bytes):
            await self._refuse(send)
            return
        seen, started = 0, False

        async def limited_receive() -> Message:
            nonlocal seen
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    # An HTTPException, since FastAPI turns other errors while reading
                    # the body into a 400 "error parsing the body".
                    raise HTTPException(413, f"request body is larger than {self.max_bytes} bytes")
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, tracking_send)
        except HTTPException as exc:
            if exc.status_code != 413 or started:
                raise
            await self._refuse(send)

    async def _refuse(self, send: Send) -> None:
        error = ApiError(413, "request_too_large",
                         f"request body is larger than {self.max_bytes} bytes")
        body = json.dumps(error.body()).encode()
        await send({"type": "http.response.start", "status": 413,
                    "headers": [(b"content-type", b"application/json"),
                                (b"content-length", str(len(body)).encode()),
                                (b"connection", b"close")]})
        await send({"type": "http.response.body", "body": body})


class Slots:
    """A non-blocking bound on concurrent generations.

    ``take()`` returns a release function or raises a 429 ``ApiError``; call the
    release function exactly once when the generation has ended. ``on_change(n)`` is
    told the number in use (the in-flight gauge).
    """

    def __init__(self, limit: int, on_change: Callable[[int], None] | None = None) -> None:
        if limit < 1:
            raise ValueError(f"limit must be >= 1, got {limit}")
        self.limit = limit
        self._used = 0
        self._lock = threading.Lock()
        self._on_change = on_change or (lambda n: None)

    @property
    def used(self) -> int:
        return self._used

    def take(self) -> Callable[[], None]:
        with self._lock:
            if self._used >= self.limit:
                raise ApiError(
                    429, "too_many_requests",
                    f"the server is running {self.limit} generations, its limit; retry shortly",
                    headers={"Retry-After": "1"},
                )
            self._used += 1
            self._on_change(self._used)
        released = threading.Event()

        def release() -> None:
            if released.is_set():
                return
            released.set()
            with self._lock:
                self._used -= 1
                self._on_change(self._used)

        return release


class RateLimiter:
    """Per-key request rates: a token bucket of ``rate.requests`` per ``rate.per_s``
    seconds for each key id. ``take(key_id, rate)`` raises a 429 ``ApiError`` with
    ``Retry-After`` (whole seconds until one request is allowed again) past it."""

    def __init__(self, clock: Callable[[], float] | None = None) -> None:
        import time

        self._clock = clock or time.monotonic
        self._buckets: dict[str, tuple[float, float]] = {}  # key id -> (tokens, when)
        self._lock = threading.Lock()

    def take(self, key_id: str, rate) -> None:
        if rate is None:
            return
        now = self._clock()
        capacity, per_token = float(rate.requests), rate.per_s / rate.requests
        with self._lock:
            tokens, when = self._buckets.get(key_id, (capacity, now))
            tokens = min(capacity, tokens + (now - when) / per_token)
            if tokens < 1.0:
                self._buckets[key_id] = (tokens, now)
                wait = max(1, math.ceil((1.0 - tokens) * per_token))
                raise ApiError(429, "too_many_requests",
                               f"this key is limited to {rate} requests; retry in {wait} s",
                               headers={"Retry-After": str(wait)})
            self._buckets[key_id] = (tokens - 1.0, now)
