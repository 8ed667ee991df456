"""Would ordering search results by their best evidence unit put the right document first?

Search ranks passages by hybrid retrieval (BM25 + dense, version policy ``prefer``). The
answer path then splits the top ``k`` into evidence units and scores each against the
question (``evidence_scoring.EmbeddingScorer``, the bundled embedder). This script
re-orders the ``k`` passages by

    alpha * (best unit score of the passage) + (1 - alpha) * (1 - retrieval rank / k)

and prints, per ``alpha`` (0 = search as it is):

- acme: ``top-1 current`` over the conflict questions (``benchmarks.current_first``'s
  measure) and ``top-1 gold source`` over every answerable question;
- PostgreSQL (``--pg-index``, an ingest of the whole manual): ``top-1 gold page`` and
  ``top-1 holds answer`` (the gold answer string in the top passage) over the answerable
  questions.

Dev split by default; ``--split test`` only to confirm a value chosen on dev. Example::

    python -m benchmarks.unit_rerank --pg-index /tmp/pg-index

The questions, their retrieved passages and units come from
``benchmarks.evidence_selection.load_cases`` (the index's own embedder searches and scores;
the acme index is built at ``--acme-index`` when missing).
"""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from benchmarks.evidence_selection import DEFAULT_INDEX, load_cases

ALPHAS = (0.0, 0.5, 0.7, 1.0)


def best_unit_scores(scorer, case) -> dict[str, float]:
    """Each retrieved passage's best evidence-unit score, by chunk id."""
    best: dict[str, float] = {}
    for unit, value in zip(case.units, scorer.score(case.record.question, case.units),
                           strict=True):
        best[unit.chunk_id] = max(best.get(unit.chunk_id, float("-inf")), value)
    return best


def reorder(passages: list, best: dict[str, float], alpha: float) -> list:
    """``passages`` by the mixed key of the module doc, best first."""
    n = max(len(passages), 1)

    def key(item: tuple[int, object]) -> float:
        rank, passage = item
        return -(alpha * best.get(passage.chunk_id, -1.0) + (1 - alpha) * (1 - rank / n))

    return [p for _, p in sorted(enumerate(passages), key=key)]


def _scored(index: Path, split: str, k: int, corpus: str) -> list[tuple[object, dict]]:
    """``(case, best unit score per passage)`` for every question of the split."""
    from assistant.answering.evidence_scoring import EmbeddingScorer

    cases, embedder = load_cases(split, index, k, corpus)
    scorer = EmbeddingScorer(embedder)
    return [(case, best_unit_scores(scorer, case)) for case in cases]


def _gold(record) -> set[str]:
    return {Path(s.file).name for s in record.gold_sources}


def _top(case, best: dict[str, float], alpha: float):
    return reorder(case.passages, best, alpha)[0]


def acme(index: Path, split: str, k: int) -> None:
    from benchmarks.current_first import load_questions, score

    scored = _scored(index, split, k, "acme")
    by_id = {case.record.id: (case, best) for case, best in scored}
    conflicts = load_questions(split)
    answerable = [(c, b) for c, b in scored if c.record.answer is not None]
    print(f"\n### acme {split}: {len(conflicts)} conflict questions, {len(answerable)} "
          f"answerable\n\n| alpha | top-1 current (conflict) | top-1 gold source |\n|---|---|---|")
    for alpha in ALPHAS:
        ordered = [reorder(by_id[q["id"]][0].passages, by_id[q["id"]][1], alpha)
                   for q in conflicts]
        current = score(conflicts, ordered)["top-1 current"]
        hits = sum(Path(_top(c, b, alpha).source).name in _gold(c.record)
                   for c, b in answerable if c.passages)
        print(f"| {alpha} | {current:.3f} | {hits / len(answerable):.3f} |")


def postgresql(index: Path, split: str, k: int) -> None:
    from eval.answer_metrics import holds

    answerable = [(c, b) for c, b in _scored(index, split, k, "postgresql")
                  if c.record.answer is not None]
    print(f"\n### PostgreSQL {split}: {len(answerable)} answerable\n\n"
          f"| alpha | top-1 gold page | top-1 holds answer |\n|---|---|---|")
    for alpha in ALPHAS:
        page = hold = 0
        for case, best in answerable:
            if not case.passages:
                continue
            top = _top(case, best, alpha)
            page += Path(top.source).name in _gold(case.record)
            hold += holds(top.text, case.record.answer)
        print(f"| {alpha} | {page / len(answerable):.3f} | {hold / len(answerable):.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acme-index", type=Path, default=DEFAULT_INDEX,
                        help="an ingest of examples/acme/docs (built there when missing)")
    parser.add_argument("--pg-index", type=Path, default=None,
                        help="an ingest of the whole PostgreSQL manual (skipped without it)")
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    print(f"## Passages re-ordered by their best evidence unit (hybrid k={args.k})")
    acme(args.acme_index, args.split, args.k)
    if args.pg_index is not None:
        postgresql(args.pg_index, args.split, args.k)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
