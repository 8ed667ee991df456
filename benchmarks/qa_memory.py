"""Would a memory of the company's answered questions answer new ones? Dev only.

    python -m benchmarks.qa_memory

Support systems often match a new question against questions answered before (an FAQ
memory) instead of reading the documents. For each dev question of both corpora this
finds the nearest training question (``examples/acme/qa.jsonl``,
``examples/postgresql/train_qa.jsonl``; bundled MiniLM, cosine of the two questions) and
asks whether its recorded answer is the dev question's answer (either holds the other or
an alias, ``eval.answer_metrics.holds``). Per cosine threshold: how many dev questions
would be answered from memory, how many of those with the same answer, with another
answer, and how many unanswerable ones would get an answer. Then the closest pairs.

It also checks the yardstick: a dev question that repeats a training question's fact
would make any method trained on the training questions look better than it is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SETS = {"acme": (ROOT / "examples/acme/qa.jsonl", ROOT / "examples/acme/eval_questions.jsonl"),
        "postgresql": (ROOT / "examples/postgresql/train_qa.jsonl",
                       ROOT / "examples/postgresql/questions.jsonl")}
TAUS = (0.9, 0.85, 0.8, 0.75, 0.7, 0.65)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--show", type=int, default=8, help="closest pairs to print per corpus")
    args = parser.parse_args(argv)

    from eval.answer_metrics import holds
    from finetune.sources import read_qa
    from ingest.embedding import Embedder

    embedder = Embedder()
    print("| corpus | cosine >= | matched | same answer | another answer | unanswerable matched |")
    print("| --- | --- | --- | --- | --- | --- |")
    closest = {}
    for corpus, (train_file, eval_file) in SETS.items():
        train, _ = read_qa(train_file, split="train")
        dev, _ = read_qa(eval_file, split="dev")
        sims = embedder.encode([r.question for r in dev]) @ \
            embedder.encode([r.question for r in train]).T
        rows = []
        for i, record in enumerate(dev):
            j = int(sims[i].argmax())
            known = train[j]
            if record.answer is None:
                same = None
            else:
                golds = [record.answer, *record.aliases]
                same = known.answer is not None and any(
                    holds(known.answer, g) or holds(g, known.answer) for g in golds)
            rows.append((float(sims[i, j]), same, record, known))
        rows.sort(key=lambda row: -row[0])
        closest[corpus] = rows[:args.show]
        for tau in TAUS:
            hit = [row for row in rows if row[0] >= tau]
            print(f"| {corpus} ({len(dev)} dev) | {tau} | {len(hit)} | "
                  f"{sum(row[1] is True for row in hit)} | {sum(row[1] is False for row in hit)} "
                  f"| {sum(row[1] is None for row in hit)} |")
    for corpus, rows in closest.items():
        print(f"\n{corpus}: closest pairs (cosine, dev question -> training question, answers)")
        for cos, _, record, known in rows:
            print(f"- {cos:.2f} {record.question!r} -> {known.question!r}: "
                  f"{record.answer!r} / {known.answer!r}")


if __name__ == "__main__":
    main()
