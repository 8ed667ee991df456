"""Records of the training-data side: Q&A records in, chat examples and a build report out."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from core.errors import AssistantError

KINDS = ("closed_book", "grounded", "pubmedqa")
ROLES = ("system", "user", "assistant")


class DatasetError(AssistantError):
    """Training data is unusable: a file cannot be read, or nothing is left to train on."""


class TrainingError(AssistantError):
    """Training cannot start or finish: no examples, a stale or missing checkpoint, an
    output directory that already holds an adapter."""


@dataclass(frozen=True)
class SourceRef:
    """Where a gold answer lives: ``file`` relative to the corpus root, the 1-based physical
    ``page`` for PDFs (else None), and the section ``heading`` (may be None).

    ``role`` is ``gold`` (it answers the question) or ``stale`` (an archived or earlier
    document that says something else: never a gold source, kept to tell stale answers and
    stale citations apart).
    """

    file: str
    page: int | None = None
    heading: str | None = None
    role: str = "gold"

    def to_json(self) -> dict:
        out = {"file": self.file, "page": self.page, "heading": self.heading}
        if self.role != "gold":
            out["role"] = self.role
        return out


@dataclass(frozen=True)
class QARecord:
    """One question with its gold answer (``None``: the documents do not answer it).

    ``split`` is ``train``/``dev``/``test``/None (unknown); ``origin`` says where it came
    from (``qa``, ``feedback``, ``pubmedqa``). ``rating`` is kept for feedback exports.
    Evaluation sets may add ``aliases`` (other ways to write the same answer),
    ``answer_parts`` (every span a complete answer must hold), ``stale_answer`` (what an
    outdated document says instead) and ``qtype`` (``type`` in the file: factoid,
    paraphrase, table, conflict, unanswerable, ...). A follow-up in a conversation carries
    the earlier turns in ``history`` (``(role, content)`` pairs, oldest first) and may
    give the question written out in full as ``standalone``.
    """

    id: str
    question: str
    answer: str | None
    sources: tuple[SourceRef, ...] = ()
    split: str | None = None
    origin: str = "qa"
    rating: float | None = None
    aliases: tuple[str, ...] = ()
    answer_parts: tuple[str, ...] = ()
    stale_answer: str | None = None
    qtype: str | None = None
    history: tuple[tuple[str, str], ...] = ()
    standalone: str | None = None

    @property
    def gold_sources(self) -> tuple[SourceRef, ...]:
        """The sources that answer the question (``role`` gold), without stale ones."""
        return tuple(s for s in self.sources if s.role == "gold")

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "question": self.question,
            "answer": self.answer,
            "sources": [s.to_json() for s in self.sources],
            "split": self.split,
            "origin": self.origin,
            "rating": self.rating,
            **({"aliases": list(self.aliases)} if self.aliases else {}),
            **({"answer_parts": list(self.answer_parts)} if self.answer_parts else {}),
            **({"stale_answer": self.stale_answer} if self.stale_answer else {}),
            **({"type": self.qtype} if self.qtype else {}),
            **({"history": [{"role": r, "content": c} for r, c in self.history]}
               if self.history else {}),
            **({"standalone": self.standalone} if self.standalone else {}),
        }


@dataclass(frozen=True)
class Example:
    """One chat training example; the last message is the assistant target.

    ``messages`` are ``{"role", "content"}`` dicts (system/user/assistant); ``meta`` holds
    JSON-safe facts about how it was built (record id, gold position, split, origin).
    """

    id: str
    kind: str
    messages: tuple[dict, ...]
    meta: dict = field(default_factory=dict, compare=False, hash=False)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise DatasetError(f"example {self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        if not self.messages or self.messages[-1].get("role") != "assistant":
            raise DatasetError(f"example {self.id}: the last message must be the assistant's")
        for m in self.messages:
            if m.get("role") not in ROLES or not isinstance(m.get("content"), str):
                raise DatasetError(f"example {self.id}: bad message {m!r}")

    @property
    def prompt(self) -> tuple[dict, ...]:
        return self.messages[:-1]

    @property
    def target(self) -> str:
        return self.messages[-1]["content"]

    @property
    def question(self) -> str:
        """The last user turn (for grounded examples it includes the passages)."""
        users = [m["content"] for m in self.messages if m["role"] == "user"]
        return users[-1] if users else ""

    def to_json(self) -> dict:
        return {"id": self.id, "kind": self.kind, "messages": list(self.messages),
                "meta": self.meta}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Example:
        unknown = set(data) - {"id", "kind", "messages", "meta"}
        if unknown:
            raise DatasetError(f"example has unknown keys: {sorted(unknown)}")
        return cls(
            id=str(data["id"]),
            kind=data["kind"],
            messages=tuple({"role": m["role"], "content": m["content"]} for m in data["messages"]),
            meta=dict(data.get("meta") or {}),
        )


@dataclass
class BuildReport:
    """What a build or ``prepare`` kept and dropped, and why.

    ``dropped`` maps a reason to a count; ``problems`` holds ``(where, reason)`` pairs for
    input lines that were skipped (never their content: it may hold personal data).
    """

    kept: int = 0
    dropped: Counter = field(default_factory=Counter)
    kinds: Counter = field(default_factory=Counter)
    problems: list[tuple[str, str]] = field(default_factory=list)
    pii: Counter = field(default_factory=Counter)
    redaction: str = "not run"
    gold_eligible: int = 0  # grounded examples of answerable questions whose gold was found
    gold_present: int = 0  # ... of which the gold passage is among the passages
    gold_by: Counter = field(default_factory=Counter)  # sources / retrieval
    lengths: list[int] = field(default_factory=list)
    train: int = 0
    val: int = 0
    data_hash: str = ""

    @property
    def gold_fraction(self) -> float | None:
        return self.gold_present / self.gold_eligible if self.gold_eligible else None

    def drop(self, reason: str, n: int = 1) -> None:
        self.dropped[reason] += n

    def merge(self, other: BuildReport) -> BuildReport:
        """A new report adding ``other``'s counts to this one's. When ``other`` comes from
        ``prepare`` (it has a ``data_hash``), what it kept is what survives both stages,
        so ``kept`` and ``kinds`` are taken from it instead of summed."""
        out = BuildReport(**{k: getattr(self, k) for k in self.__dataclass_fields__})
        final = bool(other.data_hash)
        out.kept = other.kept if final else self.kept + other.kept
        out.dropped = self.dropped + other.dropped
        out.kinds = other.kinds if final else self.kinds + other.kinds
        out.problems = self.problems + other.problems
        out.pii = self.pii + other.pii
        out.gold_present = self.gold_present + other.gold_present
        out.gold_by = self.gold_by + other.gold_by
        out.gold_eligible = self.gold_eligible + other.gold_eligible
        out.lengths = self.lengths + other.lengths
        if other.redaction != "not run":
            out.redaction = other.redaction
        if other.data_hash:
            out.train, out.val, out.data_hash = other.train, other.val, other.data_hash
        return out

    def length_stats(self) -> dict:
        if not self.lengths:
            return {}
        ordered = sorted(self.lengths)
        return {
            "min": ordered[0],
            "median": ordered[len(ordered) // 2],
            "p95": ordered[min(len(ordered) - 1, int(0.95 * len(ordered)))],
            "max": ordered[-1],
        }

    def to_json(self) -> dict:
        return {
            "kept": self.kept,
            "dropped": dict(sorted(self.dropped.items())),
            "kinds": dict(sorted(self.kinds.items())),
            "problems": [{"where": w, "reason": r} for w, r in self.problems],
            "pii": {"redaction": self.redaction, "counts": dict(sorted(self.pii.items()))},
            "gold_eligible": self.gold_eligible,
            "gold_present": self.gold_present,
            "gold_fraction": self.gold_fraction,
            "gold_found_by": dict(sorted(self.gold_by.items())),
            "lengths": self.length_stats(),
            "train": self.train,
            "val": self.val,
            "data_hash": self.data_hash,
        }

    def to_text(self) -> str:
        lines = [f"kept {self.kept} examples"]
        if self.kinds:
            kinds = ", ".join(f"{k} {v}" for k, v in sorted(self.kinds.items()))
            lines.append(f"  by kind: {kinds}")
        if self.train or self.val:
            lines.append(f"  split: {self.train} train, {self.val} validation")
        total_dropped = sum(self.dropped.values())
        lines.append(f"dropped {total_dropped}")
        for reason, n in sorted(self.dropped.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"  {n:5d}  {reason}")
        if self.gold_eligible:
            lines.append(
                f"answerable grounded examples {self.gold_eligible}: gold passage present in "
                f"{self.gold_present} ({self.gold_fraction:.0%}), abstention target otherwise"
            )
            if self.gold_by:
                lines.append("  gold found by: " + ", ".join(
                    f"{k} {v}" for k, v in sorted(self.gold_by.items())))
        lines.append(f"PII redaction: {self.redaction}")
        for entity, n in sorted(self.pii.items()):
            lines.append(f"  {n:5d}  {entity}")
        stats = self.length_stats()
        if stats:
            lines.append("tokens: " + ", ".join(f"{k} {v}" for k, v in stats.items()))
        if self.problems:
            lines.append(f"skipped input lines: {len(self.problems)}")
            lines.extend(f"  {where}: {reason}" for where, reason in self.problems[:50])
            if len(self.problems) > 50:
                lines.append(f"  ... and {len(self.problems) - 50} more")
        if self.data_hash:
            lines.append(f"data hash: {self.data_hash}")
        return "\n".join(lines)

    def to_json_str(self) -> str:
        return json.dumps(self.to_json(), indent=2)
