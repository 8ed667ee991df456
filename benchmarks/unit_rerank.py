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

    python -m benchmarks.unit_rerank --acme-index /tmp/acme-index --pg-index /tmp/pg-index
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
ALPHAS = (0.0, 0.5, 0.7, 1.0)


def best_unit_scores(scorer, question: str, passages: list) -> dict[str, float]:
    """Each passage's best evidence-unit score, by chunk id."""
    from assistant.answering.evidence import split_passages

    units = split_passages(passages)
    best: dict[str, float] = {}
    for unit, value in zip(units, scorer.score(question, units), strict=True):
        best[unit.chunk_id] = max(best.get(unit.chunk_id, float("-inf")), value)
    return best


def reorder(passages: list, best: dict[str, float], alpha: float) -> list:
    """``passages`` by the mixed key of the module doc, best first."""
    n = max(len(passages), 1)

    def key(item: tuple[int, object]) -> float:
        rank, passage = item
        return -(alpha * best.get(passage.chunk_id, -1.0) + (1 - alpha) * (1 - rank / n))

    return [p for _, p in sorted(enumerate(passages), key=key)]


def _records(path: Path, split: str) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    return [r for r in rows if r["split"] == split and r.get("answer")]


def _gold(record: dict) -> set[str]:
    return {Path(s["file"]).name for s in record["sources"] if s.get("role") != "stale"}


def _searched(index: Path, embedder, records: list[dict], k: int) -> list[list]:
    from index.searcher import Searcher

    searcher = Searcher(index, embedder=embedder)
    try:
        return searcher.search_batch([r["question"] for r in records], k=k, mode="hybrid")
    finally:
        searcher.close()


def _bests(scorer, questions: list[dict], found: list[list]) -> list[dict[str, float]]:
    return [best_unit_scores(scorer, q["question"], passages)
            for q, passages in zip(questions, found, strict=True)]


def acme(index: Path, embedder, scorer, split: str, k: int) -> None:
    from benchmarks.current_first import load_questions, score

    conflicts = load_questions(split)
    records = _records(REPO / "examples" / "acme" / "eval_questions.jsonl", split)
    found_c = _searched(index, embedder, conflicts, k)
    found = _searched(index, embedder, records, k)
    best_c = _bests(scorer, conflicts, found_c)
    best = _bests(scorer, records, found)
    print(f"\n### acme {split}: {len(conflicts)} conflict questions, {len(records)} "
          f"answerable\n\n| alpha | top-1 current (conflict) | top-1 gold source |\n|---|---|---|")
    for alpha in ALPHAS:
        ordered = [reorder(ps, b, alpha) for ps, b in zip(found_c, best_c, strict=True)]
        current = score(conflicts, ordered)["top-1 current"]
        hits = sum(Path(reorder(ps, b, alpha)[0].source).name in _gold(r)
                   for r, ps, b in zip(records, found, best, strict=True) if ps)
        print(f"| {alpha} | {current:.3f} | {hits / len(records):.3f} |")


def postgresql(index: Path, embedder, scorer, split: str, k: int) -> None:
    from eval.answer_metrics import holds

    records = _records(REPO / "examples" / "postgresql" / "questions.jsonl", split)
    found = _searched(index, embedder, records, k)
    best = _bests(scorer, records, found)
    print(f"\n### PostgreSQL {split}: {len(records)} answerable\n\n"
          f"| alpha | top-1 gold page | top-1 holds answer |\n|---|---|---|")
    for alpha in ALPHAS:
        page = hold = 0
        for r, ps, b in zip(records, found, best, strict=True):
            if not ps:
                continue
            top = reorder(ps, b, alpha)[0]
            page += Path(top.source).name in _gold(r)
            hold += holds(top.text, r["answer"])
        print(f"| {alpha} | {page / len(records):.3f} | {hold / len(records):.3f} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--acme-index", type=Path, default=Path("/tmp/acme-index"),
                        help="an ingest of examples/acme/docs (built there when missing)")
    parser.add_argument("--pg-index", type=Path, default=None,
                        help="an ingest of the whole PostgreSQL manual (skipped without it)")
    parser.add_argument("--split", choices=["dev", "test"], default="dev")
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from assistant.answering.evidence_scoring import EmbeddingScorer
    from index.build import ingest
    from ingest.embedding import Embedder

    embedder = Embedder()
    scorer = EmbeddingScorer(embedder)
    if not (args.acme_index / "CURRENT").exists():
        ingest([REPO / "examples" / "acme" / "docs"], args.acme_index, progress=False,
               embedder=embedder)
    print(f"## Passages re-ordered by their best evidence unit (hybrid k={args.k})")
    acme(args.acme_index, embedder, scorer, args.split, args.k)
    if args.pg_index is not None:
        if not (args.pg_index / "CURRENT").exists():
            raise SystemExit(f"{args.pg_index}: no index; ingest the PostgreSQL manual there")
        postgresql(args.pg_index, embedder, scorer, args.split, args.k)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
