"""Assign each PostgreSQL question to the dev or test split, stratified by type.

About 40% of every question type goes to ``dev`` (thresholds, defaults, trials) and the
rest to ``test`` (reported only, never tuned on). The assignment depends only on the
seed, the question type and the set of ids of that type, so it is the same on every run
and machine; adding questions of one type does not move questions of another.

    .venv/bin/python examples/postgresql/split_questions.py           # rewrite in place
    .venv/bin/python examples/postgresql/split_questions.py --check   # exit 1 if stale
    .venv/bin/python examples/postgresql/split_questions.py \
        examples/public-pdfs/questions.jsonl --seed 1787           # another set, its seed
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

SEED = 15
DEV_FRACTION = 0.4
QUESTIONS = Path(__file__).resolve().parent / "questions.jsonl"


def read_rows(path: Path) -> list[dict]:
    """The JSON objects of ``path``, one per non-blank line. Raises ``ValueError`` naming
    the line for a line that is not a JSON object with string ``id`` and ``type``."""
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        row = json.loads(line)
        if not isinstance(row, dict) or not isinstance(row.get("id"), str) \
                or not isinstance(row.get("type"), str):
            raise ValueError(f"{path} line {number}: expected an object with 'id' and 'type'")
        rows.append(row)
    return rows


def assign_splits(rows: list[dict], seed: int = SEED,
                  dev_fraction: float = DEV_FRACTION) -> dict[str, str]:
    """Question id -> ``"dev"`` or ``"test"``: per type, the ids are sorted, shuffled with
    a generator seeded by ``seed`` and the type name, and the first
    ``round(dev_fraction * n)`` go to dev."""
    by_type: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        by_type[row["type"]].append(row["id"])
    splits = {}
    for kind, ids in by_type.items():
        ids = sorted(ids)
        random.Random(f"{seed}:{kind}").shuffle(ids)
        n_dev = round(dev_fraction * len(ids))
        for i, question_id in enumerate(ids):
            splits[question_id] = "dev" if i < n_dev else "test"
    return splits


def main(argv: list[str] | None = None) -> int:
    """Rewrite the ``split`` of every question (or, with ``--check``, report whether the
    file already holds the assigned splits). Returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("path", nargs="?", type=Path, default=QUESTIONS)
    parser.add_argument("--seed", type=int, default=SEED,
                        help="the seed (default %(default)s, this set's; another question "
                             "set keeps its own, e.g. 1787 for examples/public-pdfs)")
    parser.add_argument("--check", action="store_true",
                        help="change nothing; exit 1 if any split differs from the assignment")
    args = parser.parse_args(argv)
    rows = read_rows(args.path)
    splits = assign_splits(rows, seed=args.seed)
    stale = [row["id"] for row in rows if row.get("split") != splits[row["id"]]]
    if args.check:
        if stale:
            print(f"{len(stale)} questions hold another split, e.g. {stale[:5]}")
            return 1
        return 0
    for row in rows:
        row["split"] = splits[row["id"]]
    args.path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows),
                         encoding="utf-8")
    counts: dict[tuple[str, str], int] = defaultdict(int)
    for row in rows:
        counts[row["type"], row["split"]] += 1
    for kind in sorted({k for k, _ in counts}):
        print(f"{kind:16} dev {counts[kind, 'dev']:3}  test {counts[kind, 'test']:3}")
    print(f"{'total':16} dev {sum(v for (_, s), v in counts.items() if s == 'dev'):3}  "
          f"test {sum(v for (_, s), v in counts.items() if s == 'test'):3}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
