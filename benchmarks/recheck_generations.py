"""Re-check a stored eval run's generations with today's answer checks, without generating:
which policy (extract first or not) and which checks would have answered what.

    python -m benchmarks.recheck_generations eval/reports/acme-dev-evidence-first/results.jsonl \\
        --setup evidence --split dev [--verbose]

For each question of the run's evidence-first setup: extraction runs live over the same
retrieval (``benchmarks.evidence_selection``: hybrid k=5, bundled embedder, index of
``examples/acme/docs``); the model's stored raw reply is checked again with
``evidence_first.check_generated`` against the units the run showed it. Prints, for
"generate then extract" (the order the run used, with today's checks) and "extract first",
answered / correct / wrong of answered / abstention recall, and how many answers each kind
gave. Use it on dev only: it is for choosing checks and thresholds. ``--corpus postgresql
--index DIR`` does the same for a PostgreSQL run (DIR: an index of the whole manual).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from benchmarks.evidence_selection import (
    DEFAULT_INDEX,
    QUESTIONS,
    holds_any,
    load_cases,
    ranked,
)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("results", type=Path, help="an eval run's results.jsonl")
    parser.add_argument("--setup", default="evidence", help="the evidence-first setup's name")
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--corpus", choices=sorted(QUESTIONS), default="acme",
                        help="whose evaluation questions (postgresql needs --index)")
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--min-supported-fraction", type=float, default=0.5)
    parser.add_argument("--verbose", action="store_true", help="print every wrong answer")
    args = parser.parse_args(argv)

    from assistant.answering import evidence_first
    from assistant.answering.citations import CitationVerifier
    from assistant.answering.evidence_scoring import EmbeddingScorer
    from assistant.answering.extract import EXTRACT_UNITS, extract
    from index.records import Passage

    cases, embedder = load_cases(args.split, args.index, 5, args.corpus)
    scorer, verifier = EmbeddingScorer(embedder), CitationVerifier(embedder)
    by_id = {c.record.id: c for c in cases}
    fields = set(Passage.__dataclass_fields__)
    rows = [json.loads(line) for line in args.results.read_text().splitlines() if line.strip()]
    rows = [r for r in rows if r["setup"] == args.setup and r["question_id"] in by_id]
    if not rows:
        parser.error(f"no rows of setup {args.setup!r} on the {args.split} split in "
                     f"{args.results}")
    outcomes: dict[str, list[tuple[str, bool | None]]] = {"generate then extract": [],
                                                          "extract first": []}
    for row in rows:
        case = by_id[row["question_id"]]
        record = case.record
        found = extract(record.question, ranked(scorer, case)[:EXTRACT_UNITS]) \
            if case.units else None
        shown = row["answer"]["passages"]
        if row["answer"].get("answer_kind") == "extracted" and shown:
            shown = shown[:-1]  # the extracted unit the run appended after the prompt's
        passages = [Passage(doc_id="", **{k: (tuple(v.split(" > ")) if k == "heading" else v)
                                          for k, v in p.items() if k in fields})
                    for p in shown]
        checked = evidence_first.check_generated(
            row.get("raw") or "", record.question, passages, verifier,
            args.min_supported_fraction) if passages else None
        generated = checked.text if checked is not None and checked.failure is None else None
        extracted = found.text if found is not None else None
        for policy, first, second in (("generate then extract", generated, extracted),
                                      ("extract first", extracted, generated)):
            text, kind = (first, "first") if first else (second, "second")
            if not text:
                outcomes[policy].append(("abstained", None))
                continue
            right = record.answer is not None and holds_any(text, record)
            label = ("generated" if (policy == "generate then extract") == (kind == "first")
                     else "extracted")
            outcomes[policy].append((label, right))
            if args.verbose and not right:
                print(f"WRONG [{policy}] {label} {record.id}: {record.question} -> {text[:120]}")
    answerable = [by_id[r["question_id"]].record.answer is not None for r in rows]
    print(f"{args.results} ({args.setup}, {args.split}): {len(rows)} questions, "
          f"{sum(answerable)} answerable\n")
    print("| policy | answered | correct (answerable) | wrong of answered | abstention recall "
          "| extracted (wrong) | generated (wrong) |")
    print("|---|---|---|---|---|---|---|")
    for policy, results in outcomes.items():
        answered = [(k, ok) for k, ok in results if k != "abstained"]
        correct = sum(1 for (k, ok), a in zip(results, answerable, strict=True) if a and ok)
        wrong = sum(1 for _, ok in answered if not ok)
        recall = sum(1 for (k, _), a in zip(results, answerable, strict=True)
                     if not a and k == "abstained")
        per = {kind: (sum(1 for k, _ in answered if k == kind),
                      sum(1 for k, ok in answered if k == kind and not ok))
               for kind in ("extracted", "generated")}
        print(f"| {policy} | {len(answered)} | {correct / max(1, sum(answerable)):.2f} | "
              f"{wrong / max(1, len(answered)):.2f} | {recall}/{answerable.count(False)} | "
              f"{per['extracted'][0]} ({per['extracted'][1]}) | "
              f"{per['generated'][0]} ({per['generated'][1]}) |")


if __name__ == "__main__":
    main()
