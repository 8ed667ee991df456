"""Records of the answering side: messages in, a cited answer out.

``Answer.to_json()`` is the public answer record, the same in ``assistant ask --json``,
``POST /v1/answer``, the final event of ``POST /v1/chat`` and the eval's results.jsonl.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Literal

from index.records import Passage

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class Message:
    """One chat turn."""

    role: Role
    content: str


@dataclass(frozen=True)
class Citation:
    """A checked citation: the ``[n]`` marker, where it points, and the words that support it.

    ``n`` is the 1-based number of the passage in the prompt; ``quote`` is the span of
    that passage that supports the cited sentence; ``support`` the verifier's score.
    ``effective_date`` and ``status`` are the cited document's (``Passage``). ``origin``
    says who made it: ``model`` (the model wrote the ``[n]`` and the verifier confirmed
    it), ``verifier`` (the verifier moved it there or attached it to a supported sentence)
    or ``extract`` (an extracted answer citing its own unit).
    """

    n: int
    chunk_id: str
    source: str
    page_index: int | None
    page_label: str | None
    heading: str
    quote: str
    support: float = 0.0
    effective_date: str | None = None
    status: str = "unknown"
    origin: str = "model"

    def to_json(self) -> dict:
        return {
            "n": self.n,
            "chunk_id": self.chunk_id,
            "source": self.source,
            "page_index": self.page_index,
            "page_label": self.page_label,
            "heading": self.heading,
            "quote": self.quote,
            "support": round(self.support, 4),
            "effective_date": self.effective_date,
            "status": self.status,
            "origin": self.origin,
        }


@dataclass(frozen=True)
class Answer:
    """A grounded answer. ``abstained`` is true when the documents do not cover the question.

    ``answer_kind`` is how it was made: ``generated`` (the model's checked reply),
    ``extracted`` (a unit of the evidence itself, evidence-first answering) or
    ``abstained``; left empty, it is read from ``abstained``.
    """

    question: str
    answer: str
    abstained: bool
    citations: tuple[Citation, ...] = ()
    passages: tuple[Passage, ...] = ()
    model: str = ""
    adapter: str | None = None
    query: str = ""
    abstain_reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    usage: dict[str, int] = field(default_factory=dict)
    id: str = field(default_factory=lambda: uuid.uuid4().hex)
    answer_kind: str = ""

    def __post_init__(self) -> None:
        if not self.answer_kind:
            object.__setattr__(self, "answer_kind",
                               "abstained" if self.abstained else "generated")

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "answer_kind": self.answer_kind,
            "citations": [c.to_json() for c in self.citations],
            "passages": [
                {**p.to_json(), "n": i, "page_index": p.page_index}
                for i, p in enumerate(self.passages, 1)
            ],
            "model": self.model,
            "adapter": self.adapter,
            "query": self.query,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
            "usage": dict(self.usage),
        }
