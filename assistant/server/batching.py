"""Merge concurrent generations into one batched ``generate_many`` call.

``BatchingGenerator`` wraps a ``Generator`` (``generate``, ``generate_many``, ``stream``;
see ``assistant.answering.answer``). ``generate`` from many request threads lands in one queue; a
single worker thread takes the oldest request, waits up to ``window_s`` for others with
the same adapter and decoding settings (at most ``max_batch``), and runs them as one
``generate_many``. The model is serialized anyway (one lock per base model), so while a
batch runs the next one fills up: throughput grows with the number of users instead of
each waiting for all before it. Greedy results equal those of one call per prompt.

``stream`` calls are batched the same way, among themselves, through the wrapped
generator's ``stream_many`` (one ``model.generate`` whose tokens fan out to one stream per
request): a call returns its stream once its batch has started, and the worker waits for
that batch's generation to end before it forms the next one.

A request whose deadline (``deadline`` context variable of
``assistant.answering.generation``, set by the server) passed while it waited is dropped
from its batch. The worker thread does not see the requests' context, so it hands each
batch the latest of its requests' deadlines (in the ``GenerationConfig``, and as its own
``deadline``): generation stops once that has passed (none when one request has none),
and a request whose generation was cut off there gets ``TimeoutError``. If a batch
fails, its prompts are retried one by one so that a single bad prompt (too long, say)
fails only its own request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

from assistant.answering.generation import GenerationConfig, deadline, with_deadline

__all__ = ["BatchingGenerator", "deadline"]  # ``deadline`` re-exported: it lives below

logger = logging.getLogger(__name__)


@dataclass(eq=False)
class _Pending:
    messages: Any
    config: Any
    adapter: str | None
    stream: bool = False
    future: Future = field(default_factory=Future)
    until: float | None = field(default_factory=deadline.get)  # the submitter's deadline

    @property
    def key(self) -> tuple:
        return (self.stream, self.adapter, self.config)


class BatchingGenerator:
    """A ``Generator`` that batches concurrent ``generate`` calls (see module docs).

    ``on_batch(size)`` is told the size of each batch run (metrics, tests). Call
    ``close()`` to stop the worker thread; pending requests then fail.
    """

    def __init__(self, inner: Any, window_s: float = 0.015, max_batch: int = 8,
                 on_batch: Callable[[int], None] | None = None) -> None:
        if window_s < 0 or max_batch < 1:
            raise ValueError("window_s must be >= 0 and max_batch >= 1")
        self.inner, self.window_s, self.max_batch = inner, window_s, max_batch
        self._on_batch = on_batch or (lambda n: None)
        self._queue: deque[_Pending] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._worker = threading.Thread(target=self._run, name="assistant-batcher", daemon=True)
        self._worker.start()

    # -- the Generator protocol ----------------------------------------------------

    def generate(self, messages: Any, config: Any, adapter: str | None = None) -> Any:
        """Queue one prompt and block until its batch has run; returns its Generation.

        Raises what the wrapped generator raised for this prompt, or ``TimeoutError``
        when the request's deadline passes first.
        """
        return self._submit(_Pending(messages, config, adapter))

    def generate_many(self, batch: Sequence[Any], config: Any,
                      adapter: str | None = None) -> list[Any]:
        return self.inner.generate_many(batch, config, adapter)

    def stream(self, messages: Any, config: Any, adapter: str | None = None) -> Iterator[str]:
        """Queue one prompt for a batched stream; returns its stream once the batch has
        started. Same errors as ``generate``."""
        return self._submit(_Pending(messages, config, adapter, stream=True))

    def _submit(self, pending: _Pending) -> Any:
        with self._cond:
            if self._closed:
                raise RuntimeError("the batching generator is closed")
            self._queue.append(pending)
            self._cond.notify_all()
        limit = pending.until
        timeout = None if limit is None else max(0.0, limit - time.monotonic())
        try:
            result = pending.future.result(timeout=timeout)
        except FutureTimeout:
            if not pending.future.cancel():  # already running: nobody will read it
                pending.future.add_done_callback(_close_result)
            raise TimeoutError("generation did not finish before the request deadline") from None
        if getattr(result, "finish_reason", None) == "deadline":  # cut off there
            raise TimeoutError("generation did not finish before the request deadline")
        return result

    def __getattr__(self, name: str) -> Any:  # anything else the wrapped generator offers
        return getattr(self.inner, name)

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
        self._worker.join(timeout=5)

    # -- the worker ----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            batch = self._next_batch()
            if batch is None:
                return
            self._execute(batch)

    def _next_batch(self) -> list[_Pending] | None:
        with self._cond:
            while not self._queue and not self._closed:
                self._cond.wait()
            if self._closed:
                for pending in self._queue:
                    if pending.future.set_running_or_notify_cancel():  # not timed out
                        pending.future.set_exception(RuntimeError("server shutting down"))
                self._queue.clear()
                return None
            key = self._queue[0].key
            until = time.monotonic() + self.window_s
            while True:
                same = sum(1 for p in self._queue if p.key == key)
                left = until - time.monotonic()
                if same >= self.max_batch or left <= 0 or self._closed:
                    break
                self._cond.wait(timeout=left)
            batch, rest = [], deque()
            for pending in self._queue:
                if pending.key == key and len(batch) < self.max_batch:
                    batch.append(pending)
                else:
                    rest.append(pending)
            self._queue = rest
        return [p for p in batch if p.future.set_running_or_notify_cancel()]

    def _execute(self, batch: list[_Pending]) -> None:
        if not batch:
            return
        adapter, config = batch[0].adapter, batch[0].config
        stream = self._stream_many if batch[0].stream else self.inner.generate_many

        def run(group: list[_Pending]) -> list[Any]:
            until = _latest([p.until for p in group])
            token = deadline.set(until)  # for generators that read the context variable
            try:
                return stream([p.messages for p in group], _with_until(config, until),
                              adapter)
            finally:
                deadline.reset(token)

        self._on_batch(len(batch))
        try:
            results = run(batch)
        except Exception as exc:
            if len(batch) == 1:
                batch[0].future.set_exception(exc)
                return
            logger.info("batch of %d failed (%s); retrying one by one", len(batch), exc)
            results = []
            for pending in batch:
                try:
                    (result,) = run([pending])
                    pending.future.set_result(result)
                    results.append(result)
                except Exception as single:
                    pending.future.set_exception(single)
        else:
            for pending, result in zip(batch, results, strict=True):
                pending.future.set_result(result)
        if batch[0].stream:  # the model is busy until these streams are generated
            for result in results:
                wait = getattr(result, "wait", None)
                if wait is not None:
                    wait()

    def _stream_many(self, batch: list[Any], config: Any, adapter: str | None) -> list[Any]:
        many = getattr(self.inner, "stream_many", None)
        if many is not None:
            return list(many(batch, config, adapter))
        return [self.inner.stream(messages, config, adapter) for messages in batch]


def _latest(deadlines: list[float | None]) -> float | None:
    """The latest deadline, or None (no deadline) when any of them is None."""
    known = [d for d in deadlines if d is not None]
    return max(known) if known and len(known) == len(deadlines) else None


def _with_until(config: Any, until: float | None) -> Any:
    """A ``GenerationConfig`` with the batch's deadline; other configs (test doubles) as
    they are."""
    return with_deadline(config, until) if isinstance(config, GenerationConfig) else config


def _close_result(future: Future) -> None:
    """Close the stream a timed-out request will never read (its row stops)."""
    if not future.cancelled() and future.exception() is None:
        close = getattr(future.result(), "close", None)
        if close is not None:
            close()
