"""How often the gold passage ranks first, per index and search mode, on a Q&A split.

Compares an index built with the bundled embedder and one re-built with a tuned embedder
(``assistant finetune --mode retriever``) on the same held-out questions:

    python -m benchmarks.retriever_tuning --data examples/acme/qa.jsonl --split test \\
        --index bundled=.demo/index --index tuned=/tmp/tuned-index

Prints a Markdown table: for each index and mode, hit@1 (the gold passage is ranked
first: the passage a grounded answer sees as [1]), MRR and recall within the top k, over
the answerable questions that name gold sources. A passage is gold when it matches one of
the question's sources as the eval harness decides (``eval.answer_metrics.gold_index``).
"""

from __future__ import annotations

import argparse
from pathlib import Path


def rank_table(data: Path, split: str, indexes: dict[str, Path], k: int,
               modes: tuple[str, ...]) -> list[dict]:
    """One row per (index, mode): ``hit@1``, ``mrr@k``, ``recall@k`` and ``n``."""
    from eval.answer_metrics import gold_index
    from finetune.sources import read_qa
    from index.searcher import Searcher

    records, _ = read_qa(data, split=split)
    records = [r for r in records if r.answer is not None and r.sources]
    if not records:
        raise SystemExit(f"{data}: no answerable questions with sources in split {split!r}")
    rows = []
    for label, path in indexes.items():
        searcher = Searcher(path)
        for mode in modes:
            results = searcher.search_batch([r.question for r in records], k=k, mode=mode)
            hit, rr, found = 0, 0.0, 0
            for record, passages in zip(records, results, strict=True):
                ranks = [i for i, p in enumerate(passages)
                         if gold_index(p, record.sources) is not None]
                if ranks:
                    found += 1
                    rr += 1 / (ranks[0] + 1)
                    hit += ranks[0] == 0
            n = len(records)
            rows.append({"index": label, "embedder": searcher.manifest.embedder.model_id,
                         "mode": mode, "n": n, "hit@1": hit / n, f"mrr@{k}": rr / n,
                         f"recall@{k}": found / n})
        searcher.close()
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="Q&A JSONL/CSV with sources")
    parser.add_argument("--split", default="test")
    parser.add_argument("--index", action="append", required=True,
                        help="LABEL=DIR, repeatable")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--modes", default="bm25,dense,hybrid")
    args = parser.parse_args(argv)
    indexes = {}
    for spec in args.index:
        label, _, path = spec.partition("=")
        if not path:
            parser.error(f"--index {spec!r}: expected LABEL=DIR")
        indexes[label] = Path(path)
    rows = rank_table(args.data, args.split, indexes, args.k, tuple(args.modes.split(",")))
    keys = ["hit@1", f"mrr@{args.k}", f"recall@{args.k}"]
    print(f"{args.data} split {args.split}: {rows[0]['n']} answerable questions with sources\n")
    print("| index | embedder | mode | " + " | ".join(keys) + " |")
    print("|---|---|---|" + "---|" * len(keys))
    for row in rows:
        print(f"| {row['index']} | {row['embedder']} | {row['mode']} | "
              + " | ".join(f"{row[key]:.3f}" for key in keys) + " |")


if __name__ == "__main__":
    main()
