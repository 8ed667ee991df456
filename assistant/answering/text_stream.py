"""Stream generated text: pieces as tokens come out, generation in a background thread.

``stream`` returns a ``TextStream`` that yields text pieces for one prompt; closing or
dropping the stream cancels it. ``stream_batch`` runs several prompts through one
``model.generate`` call with left padding, one ``TextStream`` per prompt, for a server
batching concurrent requests. The pieces of each stream add up to the text
``assistant.answering.generation.generate`` would return; encoding, the token budget,
decoding settings, stop strings and the final ``Generation`` come from that module.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from transformers import StoppingCriteria
from transformers.generation.streamers import BaseStreamer

from assistant.answering.adapters import AdapterSet
from assistant.answering.generation import (
    Generation,
    GenerationConfig,
    Prompt,
    Target,
    activate,
    cut_at_stop,
    encode_prompt,
    end_token_ids,
    finish_generation,
    generate_kwargs,
    loaded_model,
    pad_left,
    token_budget,
)
from assistant.answering.models import LoadedModel

logger = logging.getLogger(__name__)


def stream(target: Target, prompt: Prompt, config: GenerationConfig | None = None,
           adapter: str | None = None) -> TextStream:
    """Start generating in a background thread; iterate the result for text pieces.

    The pieces concatenate to the text ``generate`` would return. Bad adapters and
    prompts raise here, before anything starts; errors inside generation are re-raised
    by the iterator. ``close()`` (or dropping the stream) cancels generation.
    """
    return stream_batch(target, [prompt], config, adapter)[0]


def stream_batch(target: Target, prompts: Sequence[Prompt],
                 config: GenerationConfig | None = None,
                 adapter: str | None = None) -> list[TextStream]:
    """``stream`` for several prompts sharing one ``model.generate`` call: one
    ``TextStream`` per prompt, each yielding only its own row's pieces.

    A stream ends as soon as its row writes an end token; closing one stream stops its
    row only (the others go on), and generation stops once every row is done or closed.
    Greedy pieces equal those of ``stream`` on each prompt alone. Same errors as
    ``stream``, raised before anything starts.
    """
    config = config or GenerationConfig()
    loaded = loaded_model(target)
    if isinstance(target, AdapterSet):
        target.check(adapter)
    rows = [encode_prompt(loaded, p) for p in prompts]
    if not rows:
        return []
    max_new = token_budget(loaded, max(len(r) for r in rows), config)
    group = _StreamGroup([_StreamState(loaded, row, config, max_new) for row in rows])
    group.thread = threading.Thread(target=_work, args=(group, target, adapter),
                                    name="assistant-stream", daemon=True)
    group.thread.start()
    return [TextStream(group, i) for i in range(len(rows))]


class TextStream:
    """Iterator of text pieces from a running generation; ``result`` once it is over.

    ``result`` is the ``Generation`` (``finish_reason`` ``cancelled`` if closed early),
    set when the iterator is exhausted or closed; ``None`` before. ``wait()`` blocks until
    the generation behind it (its whole batch) has finished.
    """

    def __init__(self, group: _StreamGroup, row: int) -> None:
        # The thread and the piece generator share ``_StreamState``, never ``self``:
        # dropping the stream then frees it at once and ``__del__`` cancels its row.
        self._group = group
        self._state = group.states[row]
        self._pieces = _consume(group, self._state)

    @property
    def result(self) -> Generation | None:
        return self._state.result

    def __iter__(self) -> TextStream:
        return self

    def __next__(self) -> str:
        return next(self._pieces)

    def close(self) -> None:
        """Stop this row (if still running); with no row left, wait for the thread."""
        self._pieces.close()
        _shutdown(self._group, self._state)

    def wait(self, timeout: float | None = None) -> bool:
        """Wait for the batch's generation to end; whether it did within ``timeout``."""
        thread = self._group.thread
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    def __del__(self) -> None:
        self._state.cancel.set()


class _StreamState:
    """One row of a streamed batch: its queue of token ids, cancel flag and result."""

    def __init__(self, loaded: LoadedModel, row: list[int], config: GenerationConfig,
                 max_new: int) -> None:
        self.loaded, self.row, self.config, self.max_new = loaded, row, config, max_new
        self.queue: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.cancel = threading.Event()
        self.tokens: list[int] = []
        self.result: Generation | None = None
        self.clock = time.perf_counter()

    def finish(self, cancelled: bool) -> Generation:
        if self.result is None:
            self.result = finish_generation(self.loaded, self.config, len(self.row),
                                            self.tokens, self.max_new, cancelled,
                                            time.perf_counter() - self.clock)
        return self.result


class _StreamGroup:
    """The rows generated together, and the thread generating them."""

    def __init__(self, states: list[_StreamState]) -> None:
        self.states = states
        self.thread: threading.Thread | None = None


def _work(group: _StreamGroup, target: Target, adapter: str | None) -> None:
    states = group.states
    try:
        loaded = states[0].loaded
        inputs = pad_left(loaded, [s.row for s in states])
        width = inputs["input_ids"].shape[1]
        kwargs = generate_kwargs(loaded, states[0].config, states[0].max_new, width)
        kwargs["stopping_criteria"].append(_Cancel([s.cancel for s in states]))
        with activate(target, adapter) as model:
            model.generate(**inputs, streamer=_QueueStreamer([s.queue for s in states]),
                           **kwargs)
        for state in states:
            state.queue.put(("done", None))
    except BaseException as exc:  # handed to the consumer threads, which re-raise it
        for state in states:
            state.queue.put(("error", exc))


def _consume(group: _StreamGroup, state: _StreamState) -> Iterator[str]:
    tokenizer, stops = state.loaded.tokenizer, state.config.stop
    eos = set(end_token_ids(state.loaded))
    emitted = ""
    try:
        while True:
            kind, value = state.queue.get()
            if kind == "error":
                raise value
            if kind == "done":
                break
            state.tokens.extend(value)
            if eos.intersection(value):  # this row is over; the batch may go on
                break
            text = cut_at_stop(tokenizer.decode(state.tokens, skip_special_tokens=True),
                               stops)[0]
            safe = text[: len(text) - _held_back(text, stops)]
            if len(safe) > len(emitted) and safe.startswith(emitted):
                yield safe[len(emitted):]
                emitted = safe
        final = state.finish(cancelled=False).text
        if not final.startswith(emitted):
            logger.warning("streamed text diverged from the final decode")
        if len(final) > len(emitted):
            yield final[len(emitted):]
    finally:
        _shutdown(group, state)


def _shutdown(group: _StreamGroup, state: _StreamState) -> None:
    """Cancel this row and record a ``cancelled`` result if it has none. The last row of
    the group to shut down joins the thread (so the model is free when ``close`` returns)
    and collects any tokens still queued."""
    state.cancel.set()
    thread = group.thread
    last = all(s.cancel.is_set() for s in group.states)
    if last and thread is not None and thread is not threading.current_thread():
        thread.join()
    if state.result is None:
        while not state.queue.empty():
            kind, value = state.queue.get()
            if kind == "tokens":
                state.tokens.extend(value)
        state.finish(cancelled=True)


def _held_back(text: str, stops: tuple[str, ...]) -> int:
    """How many trailing characters to hold back: an incomplete UTF-8 character, or a
    suffix that may grow into a stop string."""
    if text.endswith("\ufffd"):
        return len(text) - len(text.rstrip("\ufffd"))
    longest = 0
    for stop in stops:
        for n in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:n]):
                longest = n
                break
    return longest


class _QueueStreamer(BaseStreamer):
    """A streamer that hands each row's new token ids to that row's queue (the prompt is
    skipped).

    Not ``TextIteratorStreamer``: that one takes one row only and decodes in windows
    reset at each newline, so its pieces need not add up to the blocking decode; here
    each consumer decodes its whole completion each step and yields the growth.
    """

    def __init__(self, queues: list[queue.Queue]) -> None:
        self._queues, self._prompt_seen = queues, False

    def put(self, value: Any) -> None:
        if not self._prompt_seen:
            self._prompt_seen = True
            return
        rows = value.reshape(len(self._queues), -1).tolist()
        for out, ids in zip(self._queues, rows, strict=True):
            out.put(("tokens", ids))

    def end(self) -> None:
        pass


class _Cancel(StoppingCriteria):
    """Ends each row whose ``events`` entry is set (its stream was closed or dropped)."""

    def __init__(self, events: list[threading.Event]) -> None:
        self._events = events

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        return torch.tensor([e.is_set() for e in self._events], dtype=torch.bool,
                            device=input_ids.device)
