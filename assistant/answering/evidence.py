"""Evidence units: retrieved passages cut into sentences, list items and table rows, and
the few that answer a question chosen before anything is generated.

``split_passage`` turns one ``Passage`` into ``EvidenceUnit``s, in document order:

- prose is split into sentences; the splitter does not break after abbreviations
  ("e.g.", "Inc.", "9 a.m. Pacific"), inside decimals, times or versions ("1.5 m",
  "v2.9.0", "11:59"), and lines hard-wrapped by a PDF or text file are joined first;
- a list item (``-``, ``*``, ``1.``, ``2.1``) is one unit, kept whole;
- a Markdown table row carries its header row ("Plan: Plus; Price: $12.99"); a plain
  table (three or more short lines in a row, as PDF tables come out) carries its first
  line as the header ("Mode Suction: Turbo 4,500 Pa");
- a sentence under ``segment.MIN_WORDS`` words ("Yes.") is merged with the next one, and
  one that starts by referring back ("It ...", "This ...") with the one before, up to
  ``segment.MAX_MERGED_WORDS``; a lead-in ending in a colon with what follows it;
- heading lines, underlines and page furniture ("Guide - Page 3") are dropped; a heading
  line found inside the chunk (text files have no heading path) joins the unit's prefix.

``EvidenceUnit.text`` is cleaned for reading (whitespace collapsed, Markdown emphasis,
code marks and escapes removed); ``start``/``end`` point at the span of ``Passage.text``
it came from. The splitting itself is ``segment``'s.

``select_units`` scores every unit against the question with a ``UnitScorer`` (see
``evidence_scoring``), keeps the best ``k`` that fit ``budget_tokens`` and returns them in
document order, passages in retrieval order.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from assistant.answering.injection import instruction_reason
from assistant.answering.segment import norm, segment
from core.errors import ConfigError
from ingest.versions import STALE_STATUSES  # the statuses ingest gives outdated documents

if TYPE_CHECKING:
    import numpy as np

    from index.records import Passage


# Selection defaults, chosen on the acme dev split (benchmarks/evidence_selection.py).
DEFAULT_K = 3
DEFAULT_BUDGET_TOKENS = 160
DEFAULT_MIN_SCORE = 0.35


@dataclass(frozen=True)
class EvidenceUnit:
    """One sentence, list item or table row of a retrieved passage.

    ``prefix`` names where it is from (document title, heading path, a heading found in the
    chunk, and the document's status and effective date when the passage carries them);
    ``path`` is the same without status and date, what a scorer matches against;
    ``start``/``end`` are character offsets into the passage's text; ``passage_rank`` is
    the passage's place in the retrieval list and ``position`` the unit's place in it.
    """

    text: str
    prefix: str
    chunk_id: str
    source: str
    page_index: int | None
    page_label: str | None
    heading: tuple[str, ...]
    start: int
    end: int
    kind: str = "sentence"  # sentence | item | row | line | code
    passage_rank: int = 0
    position: int = 0
    status: str | None = None  # the document's, when the passage says (current, archived, ...)
    effective_date: str | None = None
    path: str = ""  # the prefix without status and date: title > headings
    # True: the question names this (superseded) document's date or version; False: it
    # names another version of the same document; None: it names none of its versions
    version_asked: bool | None = None

    @property
    def stale(self) -> bool:
        """Whether the unit's document is not the version that holds for the question:
        superseded or archived, unless the question names its version ("under the 2023
        policy"), or in force while the question names another of its versions."""
        if self.version_asked is not None:
            return not self.version_asked
        return self.status in STALE_STATUSES

    @property
    def display(self) -> str:
        """``[prefix] text``: the unit as a reader (or a prompt) sees it."""
        return f"[{self.prefix}] {self.text}" if self.prefix else self.text


@dataclass(frozen=True)
class ScoredUnit:
    unit: EvidenceUnit
    score: float
    rank: int  # 0 = the best-scoring unit of the selection


@dataclass(frozen=True)
class Selection:
    """The units kept for a question, in document order (passages in retrieval order).

    ``abstain`` is true when no unit scored at least ``min_score`` (or there were none);
    ``best_score`` is the top unit score (``-inf`` without units); ``n_candidates`` how
    many units the passages held.
    """

    units: tuple[ScoredUnit, ...]
    abstain: bool
    best_score: float
    min_score: float
    n_candidates: int

    def by_score(self) -> list[ScoredUnit]:
        """The kept units, best first."""
        return sorted(self.units, key=lambda s: s.rank)

    @property
    def texts(self) -> list[str]:
        return [s.unit.text for s in self.units]


def approx_tokens(text: str) -> int:
    """A tokenizer-free estimate of a text's length in tokens (4/3 per word)."""
    return math.ceil(len(text.split()) * 4 / 3)


def _path(passage: Passage, local_heading: str) -> str:
    title = (passage.title or "").strip()
    path = [h for h in passage.heading if h]
    if path and title and norm(path[0]) == norm(title):
        path = path[1:]
    parts = [p for p in [title, *path] if p]
    if local_heading and norm(local_heading) not in {norm(p) for p in parts}:
        parts.append(local_heading)
    return " > ".join(parts)


def _prefix(path: str, status: str | None, effective: str | None) -> str:
    notes = []
    if status:
        notes.append(status)
    if effective:
        notes.append(f"effective {effective}")
    if notes:
        return f"{path} ({'; '.join(notes)})" if path else "; ".join(notes)
    return path


def split_passage(passage: Passage, passage_rank: int = 0,
                  version_asked: bool | None = None) -> list[EvidenceUnit]:
    """The evidence units of one passage, in document order (see the module docstring);
    ``version_asked`` as ``EvidenceUnit`` has it (``split_passages`` works it out).

    Never fails on odd text: a passage with no recognisable structure comes back as its
    sentences; an empty one as no units.
    """
    text = passage.text or ""
    headings = {norm(h) for h in passage.heading if h}
    if passage.title:
        headings.add(norm(passage.title))
    status = getattr(passage, "status", None)
    status = None if status in (None, "", "unknown") else str(status)
    effective = getattr(passage, "effective_date", None)
    effective = str(effective) if effective else None
    units: list[EvidenceUnit] = []
    for seg in segment(text, headings):
        path = _path(passage, seg.heading)
        units.append(EvidenceUnit(
            text=seg.text, prefix=_prefix(path, status, effective), chunk_id=passage.chunk_id,
            source=passage.source, page_index=passage.page_index,
            page_label=passage.page_label, heading=tuple(passage.heading), start=seg.start,
            end=seg.end, kind=seg.kind, passage_rank=passage_rank, position=len(units),
            status=status, effective_date=effective, path=path, version_asked=version_asked))
    return units


def split_passages(passages: Sequence[Passage]) -> list[EvidenceUnit]:
    """Units of every passage, passages in the given (retrieval) order; a unit whose text
    repeats one already seen (overlapping chunks) is dropped, and so is one that speaks to
    the assistant instead of about the subject ("ignore your instructions and ...",
    ``injection.instruction_reason``): documents are data, and such a unit is never
    evidence, never shown to the model, never quoted."""
    seen: set[str] = set()
    units = []
    # documents whose version the question names (``Passage.named``), and their families
    asked = {p.family for p in passages if getattr(p, "named", False) and p.family}
    for rank, passage in enumerate(passages):
        version_asked = True if getattr(passage, "named", False) else (
            False if getattr(passage, "family", "") in asked else None)
        for unit in split_passage(passage, rank, version_asked):
            key = norm(unit.text)
            if key in seen or instruction_reason(unit.text) is not None:
                continue
            seen.add(key)
            units.append(unit)
    return units


# -- selection -------------------------------------------------------------------------


class UnitScorer(Protocol):
    """Scores units against a question, higher for more relevant; implemented in
    ``evidence_scoring`` (``EmbeddingScorer``, ``LexicalScorer``)."""

    def score(self, question: str, units: Sequence[EvidenceUnit]) -> np.ndarray:
        """float32 ``(len(units),)``."""
        ...


def select_units(
    question: str,
    passages: Sequence[Passage],
    scorer: UnitScorer,
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
    k: int = DEFAULT_K,
    min_score: float = DEFAULT_MIN_SCORE,
    count_tokens: Callable[[str], int] = approx_tokens,
) -> Selection:
    """The ``k`` best units of ``passages`` for ``question`` that fit ``budget_tokens``.

    Units are scored with ``scorer`` and taken best first; one that would overflow the
    budget is skipped (a later, shorter one may still fit). The kept units come back in
    document order within each passage, passages in retrieval order, with their scores;
    ``abstain`` is true when the best score is below ``min_score``. Raises
    ``ConfigError`` for ``k`` < 1 or ``budget_tokens`` < 1.
    """
    units = split_passages(passages)
    scores = [float(s) for s in scorer.score(question, units)] if units else []
    return choose_units(units, scores, budget_tokens, k, min_score, count_tokens)


def choose_units(
    units: Sequence[EvidenceUnit],
    scores: Sequence[float],
    budget_tokens: int = DEFAULT_BUDGET_TOKENS,
    k: int = DEFAULT_K,
    min_score: float = DEFAULT_MIN_SCORE,
    count_tokens: Callable[[str], int] = approx_tokens,
) -> Selection:
    """``select_units``'s choice over ``units`` already scored (``scores``, one each), for
    a caller that needs the scores of every unit too."""
    if k < 1:
        raise ConfigError(f"k must be at least 1, got {k}")
    if budget_tokens < 1:
        raise ConfigError(f"budget_tokens must be at least 1, got {budget_tokens}")
    if not units:
        return Selection((), True, float("-inf"), min_score, 0)
    order = sorted(range(len(units)), key=lambda i: (-scores[i], i))
    kept: list[int] = []
    used = 0
    for i in order:
        if len(kept) == k:
            break
        cost = count_tokens(units[i].text)
        if used + cost > budget_tokens:
            continue
        kept.append(i)
        used += cost
    rank = {i: r for r, i in enumerate(kept)}
    chosen = tuple(ScoredUnit(units[i], scores[i], rank[i])
                   for i in sorted(kept, key=lambda i: (units[i].passage_rank,
                                                        units[i].position)))
    best = scores[order[0]]
    return Selection(chosen, best < min_score, best, min_score, len(units))
