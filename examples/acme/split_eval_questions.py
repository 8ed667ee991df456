"""Assign the dev/test split of ``examples/acme/eval_questions.jsonl``.

Usage::

    .venv/bin/python examples/acme/split_eval_questions.py          # rewrite the split fields
    .venv/bin/python examples/acme/split_eval_questions.py --check  # exit 1 if they differ

The split is stratified by question type: within each type the ids are sorted, shuffled
with ``random.Random(f"{SEED}:{type}")`` and the first ``round(DEV_FRACTION * n)`` become
``dev``, the rest ``test``. It depends only on each question's id and type, so editing
a question's text never moves it between splits, and rerunning the script is a no-op.

``dev`` is for choosing every threshold, default and trial; ``test`` is only reported.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

SEED = 20250801
DEV_FRACTION = 0.4
QUESTIONS_PATH = Path(__file__).resolve().parent / "eval_questions.jsonl"


def assign_splits(records: list[dict]) -> dict[str, str]:
    """Map each record's ``id`` to ``"dev"`` or ``"test"``, stratified by ``type``.

    ``records`` need ``id`` and ``type`` keys; other keys are ignored. Raises
    ``ValueError`` on a duplicate id.
    """
    by_type: dict[str, list[str]] = defaultdict(list)
    seen: set[str] = set()
    for record in records:
        if record["id"] in seen:
            raise ValueError(f"duplicate id {record['id']!r}")
        seen.add(record["id"])
        by_type[record["type"]].append(record["id"])
    splits: dict[str, str] = {}
    for type_, ids in sorted(by_type.items()):
        ids = sorted(ids)
        random.Random(f"{SEED}:{type_}").shuffle(ids)
        n_dev = round(DEV_FRACTION * len(ids))
        for i, qid in enumerate(ids):
            splits[qid] = "dev" if i < n_dev else "test"
    return splits


def read_questions(path: Path = QUESTIONS_PATH) -> list[dict]:
    """The JSON objects of ``path``, one per non-empty line (``json.JSONDecodeError`` if a
    line is not JSON)."""
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


def main(argv: list[str] | None = None) -> int:
    """Rewrite (or with ``--check`` verify) the ``split`` field of every question."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=QUESTIONS_PATH)
    parser.add_argument("--check", action="store_true", help="only verify; exit 1 on a difference")
    args = parser.parse_args(argv)
    records = read_questions(args.path)
    splits = assign_splits(records)
    wrong = [r["id"] for r in records if r.get("split") != splits[r["id"]]]
    if args.check:
        if wrong:
            print(f"{len(wrong)} questions have another split than the script assigns: "
                  f"{', '.join(wrong[:10])}", file=sys.stderr)
            return 1
        print(f"{len(records)} questions, splits as assigned (seed {SEED})")
        return 0
    for record in records:
        record["split"] = splits[record["id"]]
    with args.path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record, ensure_ascii=False) + "\n")
    counts = {s: sum(1 for v in splits.values() if v == s) for s in ("dev", "test")}
    print(f"{len(records)} questions: {counts['dev']} dev, {counts['test']} test "
          f"({len(wrong)} changed; seed {SEED})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
