"""Builders and generator wrappers for the server tests (a tiny Llama, an index of
``small_corpus``, generators that count, slow down or script generation). A plain module, not the
conftest, so test files can import it by a name no other test folder uses."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path

import tiny_models

build_tiny_model = tiny_models.build_grounded_model
build_lora_adapter = tiny_models.build_lora_adapter


def build_index(docs: Path, index_dir: Path, embedder) -> Path:
    from index.build import ingest

    ingest([docs], index_dir, progress=False, embedder=embedder)
    return index_dir


def sse_events(response) -> list[tuple[str, dict]]:
    """(event, data) pairs of a Server-Sent Events body."""
    events = []
    for block in response.text.strip().split("\n\n"):
        fields = dict(line.split(": ", 1) for line in block.splitlines() if ": " in line)
        events.append((fields.get("event", "message"), json.loads(fields["data"])))
    return events


# -- generators around the real one ----------------------------------------------------


class Counting:
    """Generator protocol around another: records the size of every ``generate_many``
    and sleeps ``delay`` seconds before each generation (for limits and timeouts)."""

    def __init__(self, inner, delay: float = 0.0) -> None:
        self.inner, self.delay = inner, delay
        self.batches: list[int] = []
        self.calls: list[tuple[str | None, list[str]]] = []  # (adapter, raw texts)
        self.streams = 0
        self.stream_batches: list[int] = []

    def __getattr__(self, name):  # model_id, context_window, count_tokens, ...
        return getattr(self.inner, name)

    def generate(self, messages, config, adapter=None):
        return self.generate_many([messages], config, adapter)[0]

    def generate_many(self, batch, config, adapter=None):
        self.batches.append(len(batch))
        time.sleep(self.delay)
        results = self.inner.generate_many(batch, config, adapter)
        self.calls.append((adapter, [g.text for g in results]))
        return results

    def stream(self, messages, config, adapter=None):
        self.streams += 1
        time.sleep(self.delay)
        return self.inner.stream(messages, config, adapter)

    def stream_many(self, batch, config, adapter=None):
        self.stream_batches.append(len(batch))
        self.streams += len(batch)
        time.sleep(self.delay)
        return self.inner.stream_many(batch, config, adapter)


_PASSAGE = re.compile(r"^\[(\d+)\] Source: [^\n]*\n(.+?)(?:\n\n\[\d+\] Source:|\n\nQuestion:)",
                      re.S | re.M)


class Quoting:
    """A scripted Generator: answers with the first sentence of the passage that best
    overlaps the question, cited -- what a well-tuned model does -- so the real citation
    checker has something to verify. Streams it word by word, ``delay`` s apart."""

    model_id = "quoting"
    context_window = 4096

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def prompt_tokens(self, messages) -> int:
        return sum(self.count_tokens(m["content"]) + 4 for m in messages)

    def _reply(self, messages) -> str:
        user = messages[-1]["content"]
        question = set(re.findall(r"\w+", user.rsplit("Question:", 1)[-1].lower()))
        best, best_n, best_score = None, 0, -1
        for n, text in _PASSAGE.findall(user):
            score = len(question & set(re.findall(r"\w+", text.lower())))
            if score > best_score:
                best, best_n, best_score = text, int(n), score
        if best is None:
            return "The documents do not cover this."
        sentence = re.split(r"(?<=[.!?])\s+", " ".join(best.split()))[0].rstrip(".")
        return f"{sentence} [{best_n}]."

    def _generation(self, messages):
        from assistant.answering.generation import Generation

        text = self._reply(messages)
        return Generation(text, self.prompt_tokens(messages), len(text.split()), "stop", 0.0)

    def generate(self, messages, config, adapter=None):
        return self._generation(messages)

    def generate_many(self, batch, config, adapter=None):
        return [self._generation(m) for m in batch]

    def stream(self, messages, config, adapter=None):
        return _WordStream(self._generation(messages), self.delay)


class _WordStream:
    """Iterator of words with ``result`` once exhausted, like ``TextStream``."""

    def __init__(self, generation, delay: float) -> None:
        self._generation, self._delay, self.result = generation, delay, None
        words = generation.text.split(" ")
        self._pieces = iter([words[0]] + [" " + w for w in words[1:]])

    def __iter__(self):
        return self

    def __next__(self) -> str:
        try:
            piece = next(self._pieces)
        except StopIteration:
            self.result = self._generation
            raise
        time.sleep(self._delay)
        return piece

    def close(self) -> None:
        pass


# -- fixtures ---------------------------------------------------------------------------
