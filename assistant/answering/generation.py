"""Generate text with a loaded base model, optionally through a LoRA adapter.

``generate`` blocks and returns a ``Generation``; ``generate_batch`` runs several prompts
through one ``model.generate`` call with left padding, for a server batching concurrent
requests. Streaming (``stream``, ``stream_batch``) lives in ``assistant.answering.text_stream``,
which shares this module's steps: ``loaded_model``, ``encode_prompt``, ``token_budget``,
``pad_left``, ``generate_kwargs``, ``activate``, ``finish_generation``, ``cut_at_stop``
and ``end_token_ids``.

The target is a ``LoadedModel`` or an ``AdapterSet``. Each call holds the model's lock
from start to last token (see ``assistant.answering.adapters``). A prompt is either a list of chat
messages (rendered with the tokenizer's chat template) or an already rendered string.

Deadlines: generation stops within one decoding step once ``GenerationConfig.deadline``
(a ``time.monotonic()`` value) has passed, with ``finish_reason`` ``deadline``. A config
without one takes the ``deadline`` context variable of the calling thread (the server
sets it per request) in ``generate_batch``; threads do not inherit it, so code that
generates for a request elsewhere (a batching worker, a stream's thread) passes it in
the config.
"""

from __future__ import annotations

import contextvars
import logging
import time
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

import torch
import transformers
from transformers import StoppingCriteria, StoppingCriteriaList

from assistant.answering.adapters import AdapterSet
from assistant.answering.models import AdapterError, LoadedModel
from core.errors import AssistantError, ConfigError

logger = logging.getLogger(__name__)

Messages = Sequence[Mapping[str, str]]
Prompt = str | Messages
Target = LoadedModel | AdapterSet

# Monotonic time by which the current request must be answered; None = no deadline. Set
# by the server for each request (``assistant.server``); read by ``generate_batch``.
deadline: contextvars.ContextVar[float | None] = contextvars.ContextVar(
    "assistant_server_deadline", default=None
)


class PromptError(AssistantError, ValueError):
    """A prompt is malformed (bad chat messages) or does not fit the context window."""


@dataclass(frozen=True)
class GenerationConfig:
    """Decoding settings. ``temperature`` 0 means greedy (deterministic).

    ``stop`` strings end generation where they appear; they are not part of the text.
    ``deadline`` (``time.monotonic()`` seconds, None: none) ends it once passed; it is
    not a decoding setting, so two configs differing only in it compare equal (and
    batch together). Raises ``ConfigError`` naming the field and its allowed range.
    """

    max_new_tokens: int = 256
    temperature: float = 0.0
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()
    deadline: float | None = field(default=None, compare=False, repr=False)

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
        if self.deadline is not None and not isinstance(self.deadline, int | float):
            raise ConfigError(f"deadline must be a monotonic time or None, got {self.deadline!r}")


def with_deadline(config: GenerationConfig, until: float | None) -> GenerationConfig:
    """``config`` with ``deadline`` set to ``until``, unless ``until`` is None (then
    ``config`` unchanged, whatever deadline it has)."""
    return config if until is None else replace(config, deadline=until)


@dataclass(frozen=True)
class Generation:
    """One completion. ``finish_reason``: ``stop`` (end token or stop string), ``length``
    (max_new_tokens or the context window reached), ``deadline`` (the config's deadline
    passed first: the text is cut short) or ``cancelled`` (stream closed)."""

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
    per prompt. Every ``Generation`` carries the batch's total ``seconds``. A config
    without a ``deadline`` takes the ``deadline`` context variable's. Same errors as
    ``generate``.
    """
    config = config or GenerationConfig()
    if config.deadline is None:
        config = with_deadline(config, deadline.get())
    clock = time.perf_counter()
    loaded = loaded_model(target)
    rows = [encode_prompt(loaded, p) for p in prompts]
    if not rows:
        return []
    max_new = token_budget(loaded, max(len(r) for r in rows), config)
    inputs = pad_left(loaded, rows)
    width = inputs["input_ids"].shape[1]
    with activate(target, adapter) as model:
        out = model.generate(**inputs, **generate_kwargs(loaded, config, max_new, width))
    seconds = time.perf_counter() - clock
    return [
        finish_generation(loaded, config, len(row), out[i, width:].tolist(), max_new, False,
                          seconds)
        for i, row in enumerate(rows)
    ]


def loaded_model(target: Target) -> LoadedModel:
    """The ``LoadedModel`` behind ``target`` (an ``AdapterSet``'s base model).

    Raises ``AdapterError`` for a bare ``LoadedModel`` that carries LoRA adapters: it
    must be used through its ``AdapterSet``.
    """
    if isinstance(target, AdapterSet):
        return target.loaded
    if hasattr(target.model, "peft_config"):
        raise AdapterError(
            f"{target.model_id} carries LoRA adapters; generate through its AdapterSet"
        )
    return target


def activate(target: Target, adapter: str | None) -> AbstractContextManager[Any]:
    """A context holding ``target``'s lock with ``adapter`` (None: the base) active; it
    yields the model to call ``generate`` on.

    Raises ``AdapterError`` for an unknown adapter, or any adapter on a bare model.
    """
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


def encode_prompt(loaded: LoadedModel, prompt: Prompt) -> list[int]:
    """Token ids of a prompt: chat messages rendered with the chat template (which holds
    every special token), or raw text with the tokenizer's own BOS, if any.

    Raises ``PromptError`` for bad messages or a prompt without any token.
    """
    tokenizer = loaded.tokenizer
    if isinstance(prompt, str):
        ids = tokenizer(prompt)["input_ids"]
    else:
        ids = tokenizer(render_chat(tokenizer, prompt), add_special_tokens=False)["input_ids"]
    if not ids:
        raise PromptError("prompt is empty")
    return list(ids)


def token_budget(loaded: LoadedModel, prompt_len: int, config: GenerationConfig) -> int:
    """New tokens a prompt of ``prompt_len`` tokens may get: ``config.max_new_tokens``,
    capped by the room left in the context window.

    Raises ``PromptError`` when the prompt leaves no room at all.
    """
    room = loaded.context_window - prompt_len
    if room < 1:
        raise PromptError(f"prompt is {prompt_len} tokens; {loaded.model_id} holds "
                          f"{loaded.context_window} in all, prompt plus answer")
    return min(config.max_new_tokens, room)


def pad_left(loaded: LoadedModel, rows: list[list[int]]) -> dict[str, Any]:
    """``input_ids`` and ``attention_mask`` tensors for ``rows``, left-padded with the
    pad token to the longest row, on the model's device."""
    width, pad = max(len(r) for r in rows), loaded.tokenizer.pad_token_id
    ids = [[pad] * (width - len(r)) + r for r in rows]
    mask = [[0] * (width - len(r)) + [1] * len(r) for r in rows]
    return {
        "input_ids": torch.tensor(ids, device=loaded.device),  # (batch, width)
        "attention_mask": torch.tensor(mask, device=loaded.device),
    }


def end_token_ids(loaded: LoadedModel) -> list[int]:
    """Every token id that ends a completion: the model's generation config's end tokens
    and the tokenizer's, sorted."""
    eos = loaded.model.generation_config.eos_token_id
    ids = set(eos if isinstance(eos, list) else [] if eos is None else [eos])
    if loaded.tokenizer.eos_token_id is not None:
        ids.add(loaded.tokenizer.eos_token_id)
    return sorted(ids)


def generate_kwargs(loaded: LoadedModel, config: GenerationConfig, max_new: int,
                    width: int) -> dict:
    """Keyword arguments for ``model.generate`` on a batch ``width`` tokens wide:
    ``generation_config`` (every field set from ``config``) and ``stopping_criteria``
    (the stop strings and the deadline, if any; a list callers may append to)."""
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
        eos_token_id=end_token_ids(loaded),
        pad_token_id=loaded.tokenizer.pad_token_id,
    )
    criteria: list[StoppingCriteria] = []
    if config.stop:
        criteria.append(_StopText(loaded.tokenizer, config.stop, width))
    if config.deadline is not None:
        criteria.append(_PastDeadline(config.deadline))
    return {"generation_config": hf, "stopping_criteria": StoppingCriteriaList(criteria)}


def finish_generation(loaded: LoadedModel, config: GenerationConfig, prompt_tokens: int,
                      generated: list[int], max_new: int, cancelled: bool,
                      seconds: float) -> Generation:
    """Turn one row's new token ids into a ``Generation``: the text up to its end token
    or stop string (which is cut off) and the reason it ended. Ids past its end (padding
    after an end token or a stop string, in a batch) are not counted; ``cancelled`` says
    the caller stopped it early. A row cut short with ``config.deadline`` passed ended
    at the deadline."""
    eos = set(end_token_ids(loaded))
    ended = next((i for i, t in enumerate(generated) if t in eos), None)
    end = len(generated) if ended is None else ended + 1
    stopped_at = _stop_index(loaded.tokenizer, generated[:end], config.stop)
    if stopped_at is not None:
        end = stopped_at
    generated = generated[:end]
    text = cut_at_stop(loaded.tokenizer.decode(generated, skip_special_tokens=True),
                       config.stop)[0]
    if stopped_at is not None or ended is not None:
        reason = "stop"
    elif len(generated) < max_new and config.deadline is not None \
            and time.monotonic() >= config.deadline:
        reason = "deadline"
    elif cancelled and len(generated) < max_new:
        reason = "cancelled"
    else:
        reason = "length"
    return Generation(text, prompt_tokens, len(generated), reason, seconds)


def _stop_index(tokenizer: Any, ids: list[int], stops: tuple[str, ...]) -> int | None:
    """Smallest k such that ``ids[:k]`` decodes to text holding a stop string, or None."""
    def hit(k: int) -> bool:
        return cut_at_stop(tokenizer.decode(ids[:k], skip_special_tokens=True), stops)[1]

    if not stops or not hit(len(ids)):
        return None
    low, high = 1, len(ids)  # binary search: once a stop string shows, it stays
    while low < high:
        mid = (low + high) // 2
        low, high = (low, mid) if hit(mid) else (mid + 1, high)
    return low


def cut_at_stop(text: str, stops: tuple[str, ...]) -> tuple[str, bool]:
    """``text`` up to the first stop string in it, and whether one was found."""
    hits = [i for i in (text.find(s) for s in stops) if i >= 0]
    return (text[: min(hits)], True) if hits else (text, False)


class _StopText(StoppingCriteria):
    """A row is done once its generated text (after ``start``) holds a stop string.

    Not ``generate(stop_strings=..., tokenizer=...)`` (transformers' ``StopStringCriteria``):
    that one matches the vocabulary's token strings, not the decoded text, so it cannot
    build on a tokenizer without a decoder (the tests' word-level one fails with
    "substring not found"), misses stop strings the decoder's joining spaces make, and
    also matches across the prompt boundary, where ``finish_generation`` would find no
    stop string in the completion to cut.
    """

    def __init__(self, tokenizer: Any, stops: tuple[str, ...], start: int) -> None:
        self._tokenizer, self._stops, self._start = tokenizer, stops, start

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        texts = self._tokenizer.batch_decode(input_ids[:, self._start:], skip_special_tokens=True)
        done = [any(s in t for s in self._stops) for t in texts]
        return torch.tensor(done, dtype=torch.bool, device=input_ids.device)


class _PastDeadline(StoppingCriteria):
    """Every row is done once ``time.monotonic()`` reaches ``until`` (checked after each
    decoding step, so a late request stops within one step)."""

    def __init__(self, until: float) -> None:
        self._until = until

    def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
        late = time.monotonic() >= self._until
        return torch.full((input_ids.shape[0],), late, dtype=torch.bool,
                          device=input_ids.device)


class Generator(Protocol):
    """The model as the answerers see it; ``LocalGenerator`` is the in-process one."""

    model_id: str
    context_window: int

    def count_tokens(self, text: str) -> int: ...

    def prompt_tokens(self, messages: Messages) -> int: ...

    def generate(self, messages: Messages, config: GenerationConfig,
                 adapter: str | None = None) -> Generation: ...

    def generate_many(self, batch: Sequence[Messages], config: GenerationConfig,
                      adapter: str | None = None) -> list[Generation]: ...

    def stream(self, messages: Messages, config: GenerationConfig,
               adapter: str | None = None) -> Iterator[str]: ...
