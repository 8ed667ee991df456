"""How often the gold passage ranks first, per index and search mode, on a Q&A split.

Compares an index built with the bundled embedder and one re-built with a tuned embedder
(``assistant finetune --mode retriever``) on the same held-out questions:

    python -m benchmarks.retriever_tuning --data examples/acme/qa.jsonl --split test \\
        --index bundled=.demo/index --index tuned=/tmp/tuned-index

Prints a Markdown table: for each index and mode, hit@1 (the gold passage is ranked
first: the passage a grounded answer sees as [1]), MRR and recall within the top k, over
the answerable questions that name gold sources. A passage is gold when it matches one of
the question's sources as the eval harness decides (``eval.answer_metrics.gold_index``).

A second table shows what the abstention check (``min_retrieval_score``, a dense cosine)
would see with each index: the best dense cosine of every answerable and unanswerable
question of the file (all splits) and of ``OFF_TOPIC``, general-knowledge questions no
company corpus answers. A tuned embedder moves these, so the threshold needs checking.
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


OFF_TOPIC = (
    "What is the capital of France?", "How do I make pancakes?", "Who won the 2018 World Cup?",
    "How tall is Mount Everest?", "What is the boiling point of water?",
    "How do I learn to play guitar?", "What is the best recipe for lasagna?",
    "When did the Roman Empire fall?", "How many moons does Jupiter have?", "Who wrote Hamlet?",
)


def cosine_table(data: Path, indexes: dict[str, Path], k: int) -> list[dict]:
    """Per index: the best dense cosine of answerable, unanswerable and off-topic questions
    (min, median and max of each group)."""
    import statistics

    from finetune.sources import read_qa
    from index.searcher import Searcher

    records, _ = read_qa(data, split=None)
    groups = {"answerable": [r.question for r in records if r.answer is not None],
              "unanswerable": [r.question for r in records if r.answer is None],
              "off-topic": list(OFF_TOPIC)}
    rows = []
    for label, path in indexes.items():
        searcher = Searcher(path)
        for group, questions in groups.items():
            if not questions:
                continue
            best = [max(p.scores.get("dense", -1.0) for p in passages)
                    for passages in searcher.search_batch(questions, k=k, mode="dense")]
            rows.append({"index": label, "group": group, "n": len(best), "min": min(best),
                         "median": statistics.median(best), "max": max(best)})
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
    print("\nBest dense cosine per question (what min_retrieval_score is compared with):\n")
    print("| index | questions | n | min | median | max |")
    print("|---|---|---|---|---|---|")
    for row in cosine_table(args.data, indexes, args.k):
        print(f"| {row['index']} | {row['group']} | {row['n']} | {row['min']:.3f} | "
              f"{row['median']:.3f} | {row['max']:.3f} |")


if __name__ == "__main__":
    main()
