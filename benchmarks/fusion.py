"""How should hybrid search fuse BM25 and dense results? Passage hit@1 and hit@5 per fusion.

For every answerable question of each set: is the gold answer string (or an alias) in the
top passage, and in one of the top 5 (``holds``, as the evidence benchmarks count it)?
Search is the answer path's (``extract.search_query`` of the question, hybrid, k=5,
version policy ``prefer``) under each fusion:

- ``rrf``: reciprocal-rank fusion, equal weights, k=60 (the default before);
- ``convex w``: BM25 scores divided by the best one, cosine min-max scaled over the dense
  candidates, summed with dense weight ``w`` (``index.hybrid.convex``);
- with ``codes x1`` a code the question quotes ("25006", "22P02") counts once in BM25,
  like any term; the default counts it ``BM25Config.code_weight`` (3) times.

Sets: the acme dev split and training questions (``examples/acme/qa.jsonl``), the
PostgreSQL dev split and training questions (``examples/postgresql/train_qa.jsonl``).
Choose on these; ``--split test`` reports the test splits instead, once a choice is made.
Example (the PostgreSQL index is an ingest of the whole manual, 8 minutes on two cores)::

    python -m benchmarks.fusion --acme-index /tmp/acme-index --pg-index /tmp/pg-index

Prints one Markdown table; ends with the questions each variant gains and loses against
``rrf`` over all sets, at hit@1 and hit@5, with a paired permutation test
(``eval.metrics.paired_permutation_test``).
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from benchmarks.evidence_selection import DEFAULT_INDEX, QUESTIONS, ROOT, holds_any

TRAIN = {"acme": ROOT / "examples" / "acme" / "qa.jsonl",
         "postgresql": ROOT / "examples" / "postgresql" / "train_qa.jsonl"}
# (label, fusion, dense weight, code weight)
VARIANTS = [("rrf", "rrf", None, 1), ("rrf, codes x3", "rrf", None, 3),
            ("convex 0.4", "convex", 0.4, 1), ("convex 0.5", "convex", 0.5, 1),
            ("convex 0.6", "convex", 0.6, 1), ("convex 0.5, codes x3 (default)", "convex", 0.5, 3)]


def question_sets(split: str) -> list[tuple[str, str, Path, str | None]]:
    """(label, corpus, questions file, split) of each set to score."""
    if split == "test":
        return [("acme test", "acme", QUESTIONS["acme"], "test"),
                ("PostgreSQL test", "postgresql", QUESTIONS["postgresql"], "test")]
    return [("acme dev", "acme", QUESTIONS["acme"], "dev"),
            ("acme train", "acme", TRAIN["acme"], None),
            ("PostgreSQL dev", "postgresql", QUESTIONS["postgresql"], "dev"),
            ("PostgreSQL train", "postgresql", TRAIN["postgresql"], None)]


def hits(index: Path, records: list, fusion: str, dense: float | None,
         code_weight: int) -> list[tuple[bool, bool]]:
    """(gold in the top passage, gold in the top 5) per record under one variant."""
    from assistant.answering.extract import search_query
    from index.hybrid import HybridConfig
    from index.searcher import Searcher

    hybrid = HybridConfig(fusion=fusion, dense_weight=dense,
                          bm25_weight=None if dense is None else 1.0 - dense)
    searcher = Searcher(index, hybrid=hybrid)
    try:
        bm25 = searcher._snapshot.bm25  # the loaded index's query-time code weight
        bm25.config = dataclasses.replace(bm25.config, code_weight=code_weight)
        results = searcher.search_batch([search_query(r.question) for r in records], k=5,
                                        mode="hybrid")
    finally:
        searcher.close()
    return [(bool(ps) and holds_any(ps[0].text, r), any(holds_any(p.text, r) for p in ps))
            for r, ps in zip(records, results, strict=True)]


def main(argv: list[str] | None = None) -> None:
    from finetune.sources import read_qa
    from index.build import ingest
    from ingest.embedding import Embedder

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--acme-index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--pg-index", type=Path, required=True)
    parser.add_argument("--split", choices=["dev", "test"], default="dev",
                        help="dev: the dev splits and training questions (choose here)")
    args = parser.parse_args(argv)
    if not (args.acme_index / "CURRENT").exists():
        ingest([ROOT / "examples" / "acme" / "docs"], args.acme_index, progress=False,
               embedder=Embedder())
    if not (args.pg_index / "CURRENT").exists():
        raise SystemExit(f"{args.pg_index}: no index; ingest the PostgreSQL manual there")
    indexes = {"acme": args.acme_index, "postgresql": args.pg_index}
    sets = question_sets(args.split)
    table: dict[str, list[list[tuple[bool, bool]]]] = {label: [] for label, *_ in VARIANTS}
    sizes = []
    for _, corpus, path, split in sets:
        records = [r for r in read_qa(path, split=split)[0] if r.answer]
        sizes.append(len(records))
        for label, fusion, dense, codes in VARIANTS:
            table[label].append(hits(indexes[corpus], records, fusion, dense, codes))
    print("| fusion | " + " | ".join(f"{name} ({n}): hit@1 / hit@5"
                                       for (name, *_), n in zip(sets, sizes, strict=True))
          + " |")
    print("| --- |" + " --- |" * len(sets))
    for label, per_set in table.items():
        cells = [f"{sum(a for a, _ in h) / len(h):.3f} / {sum(b for _, b in h) / len(h):.3f}"
                 for h in per_set]
        print(f"| {label} | " + " | ".join(cells) + " |")
    from eval.metrics import paired_permutation_test

    print("\nAgainst rrf, over all sets (questions gained / lost, paired permutation p):")
    for label, per_set in list(table.items())[1:]:
        cells = []
        for at, name in ((0, "hit@1"), (1, "hit@5")):
            base = [float(h[at]) for hs in table["rrf"] for h in hs]
            mine = [float(h[at]) for hs in per_set for h in hs]
            gained = sum(m > o for m, o in zip(mine, base, strict=True))
            lost = sum(o > m for m, o in zip(mine, base, strict=True))
            cells.append(f"{name} +{gained} / -{lost} (p = "
                         f"{paired_permutation_test(mine, base):.3f})")
        print(f"- {label}: " + "; ".join(cells))


if __name__ == "__main__":
    main()
