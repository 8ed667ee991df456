"""One streamed answer: events made by a worker thread, read by the event loop.

``Runtime.stream`` starts it; the SSE routes (``/v1/chat``, streaming
``/v1/chat/completions``) iterate it and send it with ``event_source``. The deadline
covers the whole stream: past it the reader gets a 504 ``ApiError`` item, generation
stops (``generation.deadline``, set in the worker) and the worker sends nothing more.
"""

from __future__ import annotations

import asyncio
import contextvars
import threading
import time
import uuid
from collections.abc import AsyncIterable, Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from sse_starlette import EventSourceResponse

from assistant.answering.generation import deadline
from assistant.server.errors import ApiError, from_library


class AnswerStream:
    """Events of one streamed answer, produced by a worker thread, read asynchronously.

    Iterate with ``async for``: ``TokenEvent``/``FinalEvent`` objects, or one
    ``ApiError`` if the answer failed or ran past the deadline. ``cancel()`` (called
    when the client goes away) makes the worker close the event iterator, which stops
    generation.

    ``answer_id`` is the id the final answer will have (``Runtime.stream`` gives it to
    the answer), known from the start so that every chunk of a streamed
    ``/v1/chat/completions`` carries the ``chatcmpl-<answer_id>`` of the whole answer.
    """

    _END = object()

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        self.answer_id = uuid.uuid4().hex
        self._until = time.monotonic() + timeout_s
        self._queue: asyncio.Queue = asyncio.Queue()
        self._cancel = threading.Event()
        self._first: Any = None

    def start(self, executor: ThreadPoolExecutor, events: Callable[[], Iterator[Any]],
              release: Callable[[], None]) -> None:
        loop = asyncio.get_running_loop()
        until = self._until

        def put(item: Any) -> None:
            try:
                loop.call_soon_threadsafe(self._queue.put_nowait, item)
            except RuntimeError:  # the loop is gone (server shut down): nobody listens
                self._cancel.set()

        def work() -> None:
            deadline.set(until)
            iterator = None
            try:
                iterator = events()
                for event in iterator:
                    if time.monotonic() >= until:  # made from a generation cut off there
                        put(timeout_error(self.timeout_s))
                        break
                    put(event)
                    if self._cancel.is_set():
                        break
            except Exception as exc:
                put(from_library(exc))
            finally:
                if iterator is not None:
                    iterator.close()
                release()
                put(self._END)

        try:
            executor.submit(contextvars.copy_context().run, work)
        except RuntimeError:  # executor shut down
            release()
            raise

    async def _get(self) -> Any:
        left = self._until - time.monotonic()
        try:
            return await asyncio.wait_for(self._queue.get(), timeout=max(left, 0.0))
        except TimeoutError:
            self.cancel()
            return timeout_error(self.timeout_s)

    async def first(self) -> None:
        item = await self._get()
        if isinstance(item, ApiError):
            raise item
        self._first = item

    def cancel(self) -> None:
        self._cancel.set()

    async def __aiter__(self):
        item, self._first = self._first, None
        try:
            while True:
                if item is None:
                    item = await self._get()
                if item is self._END:
                    return
                yield item
                if isinstance(item, ApiError):
                    return
                item = None
        finally:
            self.cancel()


def event_source(events: AsyncIterable[Mapping[str, str]],
                 stream: AnswerStream) -> EventSourceResponse:
    """A ``text/event-stream`` response sending ``events`` as they come.

    Each event is a mapping with ``data`` (one line of text) and optionally ``event``;
    it goes out as ``event: NAME\\ndata: TEXT\\n\\n``. Lines end in ``\\n`` (the chat page
    splits events on a blank ``\\n\\n`` line), no keep-alive comments are sent, and
    ``Cache-Control`` is ``no-cache``. A client that goes away cancels ``stream`` (which
    stops generation). When the server shuts down, a stream under way may run to its own
    deadline, as it could before; uvicorn's graceful-shutdown limit still ends it.
    """

    async def client_gone(message: Mapping[str, Any]) -> None:
        stream.cancel()

    return EventSourceResponse(events, headers={"Cache-Control": "no-cache"}, sep="\n",
                               ping=0, client_close_handler_callable=client_gone,
                               shutdown_grace_period=stream.timeout_s)


def timeout_error(limit: float) -> ApiError:
    return ApiError(504, "timeout", f"no answer within the server's limit of {limit:g} s")
