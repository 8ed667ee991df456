"""Generate text with a loaded base model, optionally through a LoRA adapter.

``generate`` blocks and returns a ``Generation``; ``stream`` returns a ``TextStream`` that
yields text pieces as tokens come out (generation runs in a thread; closing or dropping
the stream cancels it); ``generate_batch`` and ``stream_batch`` run several prompts
through one ``model.generate`` call with left padding, for a server batching concurrent
requests.

The target is a ``LoadedModel`` or an ``AdapterSet``. Each call holds the model's lock
from start to last token (see ``assistant.adapters``). A prompt is either a list of chat
messages (rendered with the tokenizer's chat template) or an already rendered string.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import Any

import torch
import transformers
from transformers import StoppingCriteria, StoppingCriteriaList
from transformers.generation.streamers import BaseStreamer

from assistant.adapters import AdapterSet
from assistant.models import AdapterError, LoadedModel
from ingest.errors import AssistantError, ConfigError

logger = logging.getLogger(__name__)

Messages = Sequence[Mapping[str, str]]
Prompt = str | Messages
Target = LoadedModel | AdapterSet


class PromptError(AssistantError, ValueError):
    """A prompt is malformed (bad chat messages) or does not fit the context window."""


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings. ``temperature`` 0 means greedy (deterministic).

    ``stop`` strings end generation where they appear; they are not part of the text.
    Raises ``ConfigError`` naming the field and its allowed range.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.max_new_tokens < 1:
            raise ConfigError(f"max_new_tokens must be >= 1, got {self.max_new_tokens}")
        if not 0.0 <= self.temperature <= 5.0:
            raise ConfigError(f"temperature must be in [0, 5] (0 = greedy), got {self.temperature}")
        if not 0.0 < self.top_p <= 1.0:
            raise ConfigError(f"top_p must be in (0, 1], got {self.top_p}")
        if not 0.0 < self.repetition_penalty <= 10.0:
            raise ConfigError(
                f"repetition_penalty must be in (0, 10], got {self.repetition_penalty}"
            )
        if isinstance(self.stop, str) or not all(isinstance(s, str) and s for s in self.stop):
            raise ConfigError(f"stop must be a tuple of non-empty strings, got {self.stop!r}")


@dataclass(frozen=True)
class Generation:
    """One completion. ``finish_reason``: ``stop`` (end token or stop string), ``length``
    (max_new_tokens or the context window reached) or ``cancelled`` (stream closed)."""

    text: str
    prompt_tokens: int
    completion_tokens: int
    finish_reason: str
    seconds: float


def render_chat(tokenizer: Any, messages: Messages, add_generation_prompt: bool = True) -> str:
    """Render chat ``messages`` (dicts with string ``role`` and ``content``) to prompt text.

    Raises ``PromptError`` for an empty list or a message without string role/content.
    """
    if isinstance(messages, str) or not messages:
        raise PromptError("messages must be a non-empty list of {'role', 'content'} dicts")
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str) \
                or not isinstance(m.get("content"), str):
            raise PromptError(f"message {i} must have string 'role' and 'content', got {m!r}")
    plain = [{"role": m["role"], "content": m["content"]} for m in messages]
    return tokenizer.apply_chat_template(
        plain, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def count_tokens(tokenizer: Any, text: str) -> int:
    """Number of tokens in ``text``, without special tokens added by the tokenizer."""
    return len(tokenizer(text, add_special_tokens=False)["input_ids"])


def generate(target: Target, prompt: Prompt, config: GenerationConfig | None = None,
             adapter: str | None = None) -> Generation:
    """Generate one completion for ``prompt`` (messages or rendered text), blocking.

    Raises ``AdapterError`` for an unknown adapter, ``PromptError`` for a bad or too long
    prompt.
    """
    return generate_batch(target, [prompt], config, adapter)[0]


def generate_batch(target: Target, prompts: Sequence[Prompt],
                   config: GenerationConfig | None = None,
                   adapter: str | None = None) -> list[Generation]:
    """Generate a completion for each prompt in one ``model.generate`` call.

    Prompts are left-padded to a common length; greedy results equal those of one call
    per prompt. Every ``Generation`` carries the batch's total ``seconds``. Same errors
    as ``generate``.
    """
    config = config or GenerationConfig()
    clock = time.perf_counter()
    loaded = _loaded(target)
    rows = [_encode(loaded, p) for p in prompts]
    if not rows:
        return []
    max_new = _budget(loaded, max(len(r) for r in rows), config)
    inputs = _pad_left(loaded, rows)
    width = inputs["input_ids"].shape[1]
    with _activate(target, adapter) as model:
        out = model.generate(**inputs, **_generate_kwargs(loaded, config, max_new, width))
    seconds = time.perf_counter() - clock
    return [
        _finish(loaded, config, len(row), out[i, width:].tolist(), max_new, False, seconds)
        for i, row in enumerate(rows)
    ]


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
    loaded = _loaded(target)
    if isinstance(target, AdapterSet):
        target.check(adapter)
    rows = [_encode(loaded, p) for p in prompts]
    if not rows:
        return []
    max_new = _budget(loaded, max(len(r) for r in rows), config)
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
            self.result = _finish(self.loaded, self.config, len(self.row), self.tokens,
                                  self.max_new, cancelled, time.perf_counter() - self.clock)
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
        inputs = _pad_left(loaded, [s.row for s in states])
        width = inputs["input_ids"].shape[1]
        kwargs = _generate_kwargs(loaded, states[0].config, states[0].max_new, width)
        kwargs["stopping_criteria"].append(_Cancel([s.cancel for s in states]))
        with _activate(target, adapter) as model:
            model.generate(**inputs, streamer=_QueueStreamer([s.queue for s in states]),
                           **kwargs)
        for state in states:
            state.queue.put(("done", None))
    except BaseException as exc:  # handed to the consumer threads, which re-raise it
        for state in states:
            state.queue.put(("error", exc))


def _consume(group: _StreamGroup, state: _StreamState) -> Iterator[str]:
    tokenizer, stops = state.loaded.tokenizer, state.config.stop
    eos = set(_eos_ids(state.loaded))
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
            text = _cut(tokenizer.decode(state.tokens, skip_special_tokens=True), stops)[0]
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


def _loaded(target: Target) -> LoadedModel:
    if isinstance(target, AdapterSet):
        return target.loaded
    if hasattr(target.model, "peft_config"):
        raise AdapterError(
            f"{target.model_id} carries LoRA adapters; generate through its AdapterSet"
        )
    return target


def _activate(target: Target, adapter: str | None) -> AbstractContextManager[Any]:
    if isinstance(target, AdapterSet):
        return target.activate(adapter)
    if adapter is not None:
        raise AdapterError(f"adapter {adapter!r} asked for, but no adapters are loaded; "
                           "wrap the model in an AdapterSet and add it")
    return _locked(target)


@contextmanager
def _locked(loaded: LoadedModel) -> Iterator[Any]:
    with loaded.lock:
        yield loaded.model


def _encode(loaded: LoadedModel, prompt: Prompt) -> list[int]:
    tokenizer = loaded.tokenizer
    if isinstance(prompt, str):  # raw text: let the tokenizer add its BOS, if any
        ids = tokenizer(prompt)["input_ids"]
    else:  # the chat template already holds every special token
        ids = tokenizer(render_chat(tokenizer, prompt), add_special_tokens=False)["input_ids"]
    if not ids:
        raise PromptError("prompt is empty")
    return list(ids)


def _budget(loaded: LoadedModel, prompt_len: int, config: GenerationConfig) -> int:
    room = loaded.context_window - prompt_len
    if room < 1:
        raise PromptError(f"prompt is {prompt_len} tokens; {loaded.model_id} holds "
                          f"{loaded.context_window} in all, prompt plus answer")
    return min(config.max_new_tokens, room)


def _pad_left(loaded: LoadedModel, rows: list[list[int]]) -> dict[str, Any]:
    width, pad = max(len(r) for r in rows), loaded.tokenizer.pad_token_id
    ids = [[pad] * (width - len(r)) + r for r in rows]
    mask = [[0] * (width - len(r)) + [1] * len(r) for r in rows]
    return {
        "input_ids": torch.tensor(ids, device=loaded.device),  # (batch, width)
        "attention_mask": torch.tensor(mask, device=loaded.device),
    }


def _eos_ids(loaded: LoadedModel) -> list[int]:
    eos = loaded.model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    if loaded.tokenizer.eos_token_id is not None:
        ids.add(loaded.tokenizer.eos_token_id)
    return sorted(ids)


def _generate_kwargs(loaded: LoadedModel, config: GenerationConfig, max_new: int,
                     width: int) -> dict:
    greedy = config.temperature == 0.0
    # Every field set explicitly: generate() fills unset ones from the checkpoint's
    # generation_config.json, which often asks for sampling.
    hf = transformers.GenerationConfig(
        max_new_tokens=max_new,
        do_sample=not greedy,
        temperature=1.0 if greedy else config.temperature,
        top_p=1.0 if greedy else config.top_p,
        top_k=50 if greedy else 0,
        repetition_penalty=config.repetition_penalty,
        eos_token_id=_eos_ids(loaded),
        pad_token_id=loaded.tokenizer.pad_token_id,
    )
    criteria = [_StopText(loaded.tokenizer, config.stop, width)] if config.stop else []
    return {"generation_config": hf, "stopping_criteria": StoppingCriteriaList(criteria)}


def _finish(loaded: LoadedModel, config: GenerationConfig, prompt_tokens: int,
            generated: list[int], max_new: int, cancelled: bool, seconds: float) -> Generation:
    """Turn one row's new token ids into a ``Generation``; ids past its end (padding
    after an end token or a stop string, in a batch) are not counted."""
    eos = set(_eos_ids(loaded))
    ended = next((i for i, t in enumerate(generated) if t in eos), None)
    end = len(generated) if ended is None else ended + 1
    stopped_at = _stop_index(loaded.tokenizer, generated[:end], config.stop)
    if stopped_at is not None:
        end = stopped_at
    generated = generated[:end]
    text = _cut(loaded.tokenizer.decode(generated, skip_special_tokens=True), config.stop)[0]
    if stopped_at is not None or ended is not None:
        reason = "stop"
    elif cancelled and len(generated) < max_new:
        reason = "cancelled"
    else:
        reason = "length"
    return Generation(text, prompt_tokens, len(generated), reason, seconds)


def _stop_index(tokenizer: Any, ids: list[int], stops: tuple[str, ...]) -> int | None:
    """Smallest k such that ``ids[:k]`` decodes to text holding a stop string, or None."""
    def hit(k: int) -> bool:
        return _cut(tokenizer.decode(ids[:k], skip_special_tokens=True), stops)[1]

    if not stops or not hit(len(ids)):
        return None
    low, high = 1, len(ids)  # binary search: once a stop string shows, it stays
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if hit(mid) else (mid + 1, high)
    return low


def _cut(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """Text up to the first stop string, and whether one was found."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[: min(hits)], True) if hits else (text, False)


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


class _StopText(StoppingCriteria):
    """A row is done once its generated text (after ``start``) holds a stop string."""

    def __init__(self, tokenizer: Any, stops: tuple[str, ...], start: int) -> None:
        self._tokenizer, self._stops, self._start = tokenizer, stops, start

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        texts = self._tokenizer.batch_decode(input_ids[:, self._start:], skip_special_tokens=True)
        done = [any(s in t for s in self._stops) for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _Cancel(StoppingCriteria):
    """Ends each row whose ``events`` entry is set (its stream was closed or dropped)."""

    def __init__(self, events: list[threading.Event]) -> None:
        self._events = events

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        return torch.tensor([e.is_set() for e in self._events], dtype=torch.bool,
                            device=input_ids.device)
