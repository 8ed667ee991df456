"""Grounded (RAFT-style) training examples on evidence units: the prompt an adapter is
trained on is exactly the one evidence-first answering sends.

Serving (``AnswerConfig.evidence_first``) retrieves passages, cuts them into evidence units
and numbers the few ``select_units`` keeps (``evidence_first.gather``); the model must
answer from those units or abstain. For each training question this module builds the
same prompt (``gather`` over the retrieved passages, ``build_grounded_messages`` over its
units) and a short target:

- **gold present** (a fraction ``p_gold`` of the answerable questions): the gold unit, the
  unit of a gold source (the record's ``sources``, else the best-retrieved passage holding
  the answer) whose text holds the answer or an alias, is among the units. When the
  selector keeps it by itself the prompt is the serving prompt unchanged (``gold_selected:
  selector``); when not, it is scored above every other unit, so the selector keeps it and
  draws the rest as it does (``forced``; a gold passage the retriever missed is put among
  the retrieved ones at a random place first). The target is the answer as one short
  sentence citing the gold unit: ``"24 hours [2]."``;
- **gold absent** (the rest): every unit holding the answer (or an alias) is scored below
  all others and dropped if kept anyway, so the selector draws distractors only; the
  target is the abstention sentence;
- **unanswerable** questions (``answer: null``): the units the selector keeps, and the
  abstention.

Only current documents are used: passages are retrieved with the ``only-current`` version
policy and a superseded or archived passage is never shown nor taken as gold (a record
whose gold sources are all outdated is dropped: its answer is the outdated one).

It lives above both ``finetune`` (records, gold sources, the build report) and
``assistant.answering`` (the unit splitter and selector), which must not import each other
this way round; ``assistant finetune --mode grounded-units`` calls it.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from assistant.answering.evidence import (
    EvidenceUnit,
    UnitScorer,
    split_passage,
)
from assistant.answering.evidence_first import gather
from assistant.answering.segment import norm
from core.errors import ConfigError
from core.prompt_format import ABSTAIN_TEXT, build_grounded_messages
from finetune.raft import (
    answer_needles,
    chunks_per_source,
    cited_answer,
    current_golds,
    golds_by_sources,
    holds_needle,
    in_force,
)
from finetune.records import BuildReport, Example, QARecord
from index.records import Passage
from index.searcher import MODES, Searcher

logger = logging.getLogger(__name__)

# Far outside the scorer's scale (cosines and overlaps in [-1, 2]).
_TOP, _BOTTOM = 1e6, -1e6


@dataclass(frozen=True)
class UnitsConfig:
    """``k`` passages retrieved per question (``mode``), as the serving setup retrieves
    them (the eval's ``[retrieval] k``, 5); ``p_gold`` of the answerable questions show
    their gold unit; ``depth`` passages are searched for a gold passage by retrieval when a
    record's sources match nothing; ``seed`` draws which questions show the gold unit and
    where a missed gold passage goes."""

    k: int = 5
    p_gold: float = 0.8
    seed: int = 0
    mode: str = "hybrid"
    depth: int = 20

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= 20:
            raise ConfigError(f"k must be an integer in 1..20, got {self.k!r}")
        if not 0.0 <= self.p_gold <= 1.0:
            raise ConfigError(f"p_gold must be in [0, 1], got {self.p_gold!r}")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if not self.k <= self.depth <= 1000:
            raise ConfigError(f"depth must be in k..1000 ({self.k}..1000), got {self.depth}")


class _Adjusted:
    """A ``UnitScorer`` that scores units as ``base`` does, except a unit whose text
    (``norm``) is in ``top`` (above everything) and one holding any of ``bottom``
    (answer strings, ``flat``; below everything)."""

    def __init__(self, base: UnitScorer, top: frozenset[str] = frozenset(),
                 bottom: Sequence[str] = ()) -> None:
        self.base, self.top, self.bottom = base, top, tuple(bottom)

    def score(self, question: str, units: Sequence[EvidenceUnit]) -> np.ndarray:
        scores = np.asarray(self.base.score(question, units), dtype=np.float32).copy()
        for i, unit in enumerate(units):
            if norm(unit.text) in self.top:
                scores[i] = _TOP
            elif self.bottom and holds_needle(self.bottom, unit.text):
                scores[i] = _BOTTOM
        return scores


def build_grounded_units(
    records: Sequence[QARecord], searcher: Searcher, scorer: UnitScorer,
    config: UnitsConfig | None = None,
) -> tuple[list[Example], BuildReport]:
    """One example per usable record (see the module docstring) and a report of what was
    kept and dropped, and why. ``scorer`` must be the one serving scores units with
    (``EmbeddingScorer`` over the index's embedder) for the prompts to be the same.

    Dropped: answerable records whose gold sources are all superseded or archived, whose
    gold passage is found nowhere in the current documents or has no unit holding the
    answer, whose gold unit is longer than the selector's budget, and records for which
    no unit (or no distractor) is left.
    """
    config = config or UnitsConfig()
    rng = random.Random(config.seed)
    report = BuildReport()
    if not records:
        return [], report
    questions = [r.question for r in records]
    retrieved = [in_force(h) for h in searcher.search_batch(
        questions, k=config.k, mode=config.mode, versions="only-current")]
    deep = [in_force(h) for h in searcher.search_batch(
        questions, k=config.depth, mode=config.mode, versions="only-current")]
    by_sources = golds_by_sources(records, searcher, chunks_per_source(searcher))

    plans = []  # (record, its retrieved passages, gold passages, gold units, found_by)
    for record, hits, cited, deeper in zip(records, retrieved, by_sources, deep, strict=True):
        if record.answer is None:
            plans.append((record, hits, [], [], None))
            continue
        needles = answer_needles(record)
        golds, found_by = current_golds(record, cited, deeper)
        if not golds:
            report.drop(found_by or "gold passage not found in the current documents")
            continue
        units = [u for g in golds for u in split_passage(g) if holds_needle(needles, u.text)]
        if not units:
            report.drop("no unit of the gold passage holds the answer")
            continue
        plans.append((record, hits, golds, units, found_by))

    answerable = [i for i, plan in enumerate(plans) if plan[3]]
    with_gold = set(rng.sample(answerable, round(config.p_gold * len(answerable))))

    examples = []
    for i, (record, hits, golds, gold_units, found_by) in enumerate(plans):
        needles = answer_needles(record)
        meta = {"record_id": record.id, "origin": record.origin, "split": record.split,
                "answerable": record.answer is not None, "gold_found_by": found_by}
        if record.answer is None:
            shown = gather(record.question, hits, scorer).passages
            positions, target, how = [], ABSTAIN_TEXT, None
        elif i in with_gold:
            passages = _with_golds(hits, golds, rng)
            gold_texts = {norm(u.text) for u in gold_units}
            shown = gather(record.question, passages, scorer).passages
            how = "selector"
            if not any(norm(p.text) in gold_texts for p in shown):
                how = "forced"
                best = _best(record.question, gold_units, scorer)
                force = _Adjusted(scorer, top=frozenset({norm(best.text)}))
                shown = gather(record.question, passages, force).passages
            positions = [n for n, p in enumerate(shown, 1) if norm(p.text) in gold_texts]
            if not positions:
                report.drop("gold unit longer than the selector's token budget")
                continue
            target = cited_answer(record.answer, positions)
        else:
            passages = _with_golds(hits, golds, rng)
            mask = _Adjusted(scorer, bottom=needles)
            shown = [p for p in gather(record.question, passages, mask).passages
                     if not holds_needle(needles, p.text)]
            positions, target, how = [], ABSTAIN_TEXT, None
        if not shown:
            report.drop("no evidence units left to show")
            continue
        messages = (*build_grounded_messages(record.question, shown),
                    {"role": "assistant", "content": target})
        examples.append(Example(
            id=f"{record.id}:units", kind="grounded", messages=tuple(messages),
            meta={**meta, "gold_positions": positions, "gold_selected": how,
                  "chunk_ids": [p.chunk_id for p in shown],
                  "units": [p.text for p in shown]},
        ))
        report.kinds["grounded"] += 1
        if record.answer is None:
            report.kinds["grounded_unanswerable"] += 1
        else:
            report.gold_eligible += 1
            report.gold_by[found_by] += 1
            report.gold_present += bool(positions)
            if how is not None:
                report.kinds[f"gold_unit_{how}"] += 1
    report.kept = len(examples)
    logger.info("unit examples: %d kept, %d dropped", report.kept,
                sum(report.dropped.values()))
    return examples, report


def _with_golds(hits: list[Passage], golds: list[Passage], rng: random.Random) -> list[Passage]:
    """``hits`` with each gold passage they lack inserted at a random place."""
    out = list(hits)
    have = {p.chunk_id for p in out}
    for gold in golds:
        if gold.chunk_id not in have:
            out.insert(rng.randrange(len(out) + 1), gold)
            have.add(gold.chunk_id)
    return out


def _best(question: str, units: list[EvidenceUnit], scorer: UnitScorer) -> EvidenceUnit:
    """The gold unit the scorer ranks highest (the one forced into the selection)."""
    if len(units) == 1:
        return units[0]
    scores = scorer.score(question, units)
    return units[int(np.argmax(scores))]

