"""What extract or decline answers on the dev and training questions of both corpora, and
which answers a change moved: the check every extraction rule goes through before it
reaches the eval harness (and before a test split is ever run).

    python -m benchmarks.extraction_check --acme-index DIR [--pg-index DIR] [--pdfs-index DIR] \
        --out before.json
    # ... change the extraction code ...
    python -m benchmarks.extraction_check --acme-index DIR [--pg-index DIR] --compare before.json

Sets: acme dev (``examples/acme/eval_questions.jsonl``) and training (``qa.jsonl`` split
train); with ``--pg-index``, PostgreSQL dev (``examples/postgresql/questions.jsonl``)
and training (``train_qa.jsonl``); for each corpus its 60 more dev questions
(``more_dev_questions.jsonl``, written after the rules: PostgreSQL's in the eleventh
session, acme's in the twelfth) and its 80 fresh ones (``fresh_dev_questions.jsonl``,
the fifteenth session); with ``--pdfs-index``,
the public-PDF dev split (``examples/public-pdfs/questions.jsonl``: no training
questions), its 60 more dev questions (``more_dev_questions.jsonl``) and 60 fresh ones
(``fresh_dev_questions.jsonl``, the fifteenth session). Never a test split.
Each question is retrieved as the answer path retrieves it (hybrid k=5 over the index
with its own embedder,
``evidence_selection.load_cases``), its units scored by that embedder
(``EmbeddingScorer``) and read by ``extract_ranked`` with the corpus names stated, as
``eval/reports/*/eval.toml`` state them. Outcomes: ``right`` (the shown answer gives the
gold answer or an alias, ``eval.answer_metrics.gives_answer``), ``wrong``, ``none``
(declined); on unanswerable questions ``answered`` or ``declined``.

Retrieval and unit scores do not depend on the extraction code, so they are cached per
set under ``--cache`` (keyed by the index version and the question file's hash): a
second run after a change to ``extract`` takes seconds. Prints a table per set; with
``--compare``, every question whose outcome or answer differs from the earlier run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pickle
import tempfile
from collections import Counter
from pathlib import Path

from benchmarks.answer_gate import TRAIN
from benchmarks.evidence_selection import (
    QUESTIONS,
    gives_any,
    holds_any,
    load_cases,
    ranked,
    table,
)

NAMES = {"acme": ("Acme", "Acme Robotics"), "postgresql": ("PostgreSQL", "Postgres"),
         "public-pdfs": ()}
PDF_QUESTIONS = Path(__file__).resolve().parents[1] / "examples" / "public-pdfs" / "questions.jsonl"
# 60 more public-PDF questions, all dev (written in the tenth session, after the test runs)
MORE_PDF_QUESTIONS = PDF_QUESTIONS.with_name("more_dev_questions.jsonl")
# 60 fresh public-PDF questions, all dev (written in the fifteenth session)
FRESH_PDF_QUESTIONS = PDF_QUESTIONS.with_name("fresh_dev_questions.jsonl")
# 60 more PostgreSQL questions, all dev (written in the eleventh session, after the rules)
MORE_PG_QUESTIONS = QUESTIONS["postgresql"].with_name("more_dev_questions.jsonl")
# 60 more acme questions, all dev (written in the twelfth session, after the rules)
MORE_ACME_QUESTIONS = QUESTIONS["acme"].with_name("more_dev_questions.jsonl")
# 40 PostgreSQL release-note questions, all dev (written in the thirteenth session, before
# any rule was read off them): later releases re-fix what earlier ones said
RELEASE_PG_QUESTIONS = QUESTIONS["postgresql"].with_name("release_dev_questions.jsonl")
# 80 more questions per corpus, all dev (written in the fifteenth session from the
# documents alone, run once before any rule was read off them)
FRESH_QUESTIONS = {corpus: QUESTIONS[corpus].with_name("fresh_dev_questions.jsonl")
                   for corpus in ("acme", "postgresql")}


def _sets(acme: Path, pg: Path | None, pdfs: Path | None = None
          ) -> list[tuple[str, str, Path, Path, str]]:
    """``(name, corpus, index, questions file, split)`` of each set to check."""
    out = []
    for corpus, index in (("acme", acme), ("postgresql", pg)):
        if index is None:
            continue
        path, split = TRAIN[corpus]
        out += [(f"{corpus} dev", corpus, index, QUESTIONS[corpus], "dev"),
                (f"{corpus} training", corpus, index, path, split)]
        more = {"acme": MORE_ACME_QUESTIONS, "postgresql": MORE_PG_QUESTIONS}[corpus]
        out.append((f"{corpus} more dev", corpus, index, more, "dev"))
        out.append((f"{corpus} fresh dev", corpus, index, FRESH_QUESTIONS[corpus], "dev"))
        if corpus == "postgresql":
            out.append(("postgresql release dev", corpus, index, RELEASE_PG_QUESTIONS, "dev"))
    if pdfs is not None:  # no training questions: dev only
        out += [("public-pdfs dev", "public-pdfs", pdfs, PDF_QUESTIONS, "dev"),
                ("public-pdfs more dev", "public-pdfs", pdfs, MORE_PDF_QUESTIONS, "dev"),
                ("public-pdfs fresh dev", "public-pdfs", pdfs, FRESH_PDF_QUESTIONS, "dev")]
    return out


def _cache_key(index: Path, questions: Path, split: str) -> str:
    version = (index / "CURRENT").read_text().strip() if (index / "CURRENT").exists() else ""
    digest = hashlib.sha256(questions.read_bytes()).hexdigest()[:16]
    return hashlib.sha256(f"{index.resolve()}|{version}|{digest}|{split}".encode()
                          ).hexdigest()[:20]


def ranked_cases(corpus: str, index: Path, questions: Path, split: str,
                 cache: Path | None) -> list[tuple[object, list, list]]:
    """``(record, units best first, every unit)`` per question, from ``cache`` when it
    holds this index version's and question file's retrieval."""
    from assistant.answering.evidence_scoring import EmbeddingScorer

    where = cache / f"{corpus}-{split}-{_cache_key(index, questions, split)}.pkl" \
        if cache else None
    if where is not None and where.exists():
        return pickle.loads(where.read_bytes())  # our own file, written below
    cases, embedder = load_cases(split, index, 5, corpus, questions=questions)
    scorer = EmbeddingScorer(embedder)
    out = [(case.record, ranked(scorer, case) if case.units else [], case.units)
           for case in cases]
    if where is not None:
        where.parent.mkdir(parents=True, exist_ok=True)
        where.write_bytes(pickle.dumps(out))
    return out


def gold_rank(order: list, record) -> str:
    """Where the first unit holding ``record``'s gold answer ranks among the retrieved
    units, best first: ``top`` (the best-scored unit), ``2-3``, ``4-12`` (read by
    extraction as well), ``lower`` (retrieved, never read) or ``absent`` (in no unit of the
    retrieved passages)."""
    from assistant.answering.extract import DEEP_UNITS

    for rank, unit in enumerate(order):
        if holds_any(getattr(unit, "unit", unit).text, record):
            return ("top" if rank == 0 else "2-3" if rank < 3
                    else f"4-{DEEP_UNITS}" if rank < DEEP_UNITS else "lower")
    return "absent"


def check(name: str, corpus: str, cases: list) -> tuple[dict, dict[str, dict], dict]:
    """The outcome counts of one set, each question's outcome and answer, and where the
    answerable questions' gold units ranked, by outcome (``gold_rank``)."""
    from assistant.answering.extract import DEEP_UNITS, extract_ranked
    from eval.answer_metrics import strip_markers

    counts: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    answers: dict[str, dict] = {}
    for record, order, units in cases:
        found = extract_ranked(record.question, order[:DEEP_UNITS], pool=units,
                               corpus_names=NAMES[corpus])
        text = strip_markers(found.text) if found is not None else None
        if record.answer is None:
            outcome = "declined" if found is None else "answered"
        elif found is None:
            outcome = "none"
        else:
            right = gives_any(text, record)
            outcome = "right" if right else "wrong"
        if record.answer is not None and outcome != "right":
            lost[f"{outcome}, gold {gold_rank(order, record)}"] += 1
        counts[outcome] += 1
        answers[f"{name}: {record.id}"] = {"question": record.question, "outcome": outcome,
                                           "answer": text}
    n = sum(counts[k] for k in ("right", "wrong", "none"))
    unanswerable = counts["declined"] + counts["answered"]
    row = {"set": name, "answerable": n, "right": counts["right"], "wrong": counts["wrong"],
           "none": counts["none"],
           "unanswerable declined": f"{counts['declined']}/{unanswerable}"}
    ranks = ("top", "2-3", f"4-{DEEP_UNITS}", "lower", "absent")
    where = {"set": name, "answerable": n, "right": counts["right"],
             **{f"{outcome}, gold {rank}": lost[f"{outcome}, gold {rank}"]
                for outcome in ("none", "wrong") for rank in ranks}}
    return row, answers, where


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--acme-index", type=Path, required=True,
                        help="an index of examples/acme/docs (built there when missing)")
    parser.add_argument("--pg-index", type=Path, default=None,
                        help="an ingest of ../shared/data/postgresql-15-docs/html")
    parser.add_argument("--pdfs-index", type=Path, default=None,
                        help="an ingest of examples/public-pdfs/docs (its dev split only)")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "extraction-check",
                        help="where retrievals are cached (default: %(default)s)")
    parser.add_argument("--no-cache", action="store_true", help="retrieve afresh, keep nothing")
    parser.add_argument("--out", type=Path, default=None,
                        help="write every question's outcome and answer here (JSON)")
    parser.add_argument("--compare", type=Path, default=None,
                        help="an earlier --out file: print the questions that moved")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    earlier = json.loads(args.compare.read_text()) if args.compare else None

    rows, answers, lost = [], {}, []
    for name, corpus, index, questions, split in _sets(args.acme_index, args.pg_index,
                                                       args.pdfs_index):
        cases = ranked_cases(corpus, index, questions, split,
                             None if args.no_cache else args.cache)
        row, got, where = check(name, corpus, cases)
        rows.append(row)
        lost.append(where)
        answers.update(got)
    table(rows, "extract or decline, corpus names stated (never a test split)")
    table(lost, "where the answerable questions not answered right are lost: the rank of "
          "the first unit holding the gold answer (absent: in no retrieved passage)")
    if args.out:
        args.out.write_text(json.dumps(answers, indent=1, ensure_ascii=False))
    if earlier is not None:
        moved = [k for k, v in answers.items()
                 if k in earlier and (earlier[k]["outcome"], earlier[k]["answer"])
                 != (v["outcome"], v["answer"])]
        print(f"\n{len(moved)} of {len(answers)} answers moved against {args.compare}")
        for key in moved:
            print(f"- {key} {answers[key]['question']}\n"
                  f"  {earlier[key]['outcome']}: {earlier[key]['answer']}\n"
                  f"  {answers[key]['outcome']}: {answers[key]['answer']}")


if __name__ == "__main__":
    main()
