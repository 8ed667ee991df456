"""Write the topic-switch control sets: each fresh dev question asked after an unrelated
conversation.

Usage::

    .venv/bin/python examples/conversations/make_switch_questions.py          # write both
    .venv/bin/python examples/conversations/make_switch_questions.py --check  # exit 1 if stale

For each corpus, question ``i`` of ``fresh_dev_questions.jsonl`` gets the ``history`` of
dev conversation ``i mod 30`` of ``conversation_questions.jsonl`` (whose follow-up is not
asked), and ``standalone`` equal to the question. A support chat's next question is often
on a new topic: asked after those turns (``[questions] form = "asked"``) it must be
answered as when asked alone (``form = "standalone"``); a difference is the cost of taking
a new question for a follow-up. The output depends only on the two input files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parents[1]
CORPORA = ("acme", "postgresql")


def switch_rows(corpus: str) -> list[dict]:
    """The control rows of ``corpus``, in the fresh set's order."""
    folder = EXAMPLES / corpus
    fresh = [json.loads(line) for line in
             (folder / "fresh_dev_questions.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip()]
    talks = [row for line in
             (folder / "conversation_questions.jsonl").read_text(encoding="utf-8").splitlines()
             if line.strip() and (row := json.loads(line))["split"] == "dev"]
    return [{**row, "history": talks[i % len(talks)]["history"], "standalone": row["question"]}
            for i, row in enumerate(fresh)]


def render(corpus: str) -> str:
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in switch_rows(corpus))


def target(corpus: str) -> Path:
    return EXAMPLES / corpus / "switch_dev_questions.jsonl"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if a file is stale")
    args = parser.parse_args(argv)
    stale = [c for c in CORPORA if not target(c).is_file()
             or target(c).read_text(encoding="utf-8") != render(c)]
    if args.check:
        for corpus in stale:
            print(f"{target(corpus)} is stale: run {Path(__file__).name}", file=sys.stderr)
        return 1 if stale else 0
    for corpus in CORPORA:
        target(corpus).write_text(render(corpus), encoding="utf-8")
        print(f"wrote {target(corpus)} ({len(switch_rows(corpus))} rows)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
