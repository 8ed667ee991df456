"""Evidence-first answering on the acme sample corpus: are the right sentences selected,
does the extractive fallback answer right, and does it abstain when it should?

    python -m benchmarks.evidence_selection --split dev --grid   # choose defaults here
    python -m benchmarks.evidence_selection --split test         # then report, once
    python -m benchmarks.evidence_selection --split dev --selector acme-selector@v1
    python -m benchmarks.evidence_selection --corpus postgresql --index PG_INDEX --split dev

``--selector`` (repeatable: a tuned unit selector, ``NAME@vN`` or its directory, from
``assistant finetune --mode selector``) scores the units with it instead of the bundled
embedder (``EmbeddingScorer`` over it, same weights), and ends with a table comparing
each scorer's unit hit@1/hit@3 and extraction outcome on the split.

Retrieval is hybrid k=5 with the bundled embedder over an index of
``examples/acme/docs`` (built into ``--index`` on first use, reused after). Every
retrieved passage is split into evidence units (``assistant.answering.evidence``); the
units are embedded once (``EmbeddingScorer`` caches them) and scored for each setting.

Tables (Markdown), over the split's answerable questions unless said otherwise:

- with ``--grid``: unit hit@1 and hit@3 of the full unit ranking for each lexical weight,
  with and without the prefix in the embedded text; then hit@k within each token budget;
  then the abstention trade-off of ``min_score``; then the extractive fallback for its
  coverage thresholds. These are for choosing defaults, on dev only.
- the chosen setting: passage hit@5 (the gold answer string in a retrieved passage),
  unit hit@1 and hit@3 of the selection, and the extraction outcome: a span that holds
  the gold answer or an alias (``eval.answer_metrics.holds``), a span that does not
  (wrong), or no answer; the same per question type; and on the unanswerable questions
  how many the selection would abstain on (``min_score``) and how many ``extract``
  declines.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ACME = ROOT / "examples" / "acme"
DEFAULT_INDEX = Path(tempfile.gettempdir()) / "evidence-selection-acme-index"
# The evaluation questions per corpus; the PostgreSQL index must be given (``--index``: an
# ingest of ../shared/data/postgresql-15-docs/html, 8 minutes on two cores).
QUESTIONS = {"acme": ACME / "eval_questions.jsonl",
             "postgresql": ROOT / "examples" / "postgresql" / "questions.jsonl"}


@dataclass
class Case:
    record: object  # finetune.records.QARecord
    passages: list
    units: list  # every evidence unit of the passages


def golds(record) -> list[str]:
    return [record.answer, *record.aliases] if record.answer else []


def holds_any(text: str, record) -> bool:
    from eval.answer_metrics import holds

    return any(holds(text, g) for g in golds(record))


def gives_any(text: str, record) -> bool:
    """Whether ``text`` gives the record's gold answer or an alias as the eval scores a
    shown answer (``eval.answer_metrics.gives_answer``)."""
    from eval.answer_metrics import gives_answer

    return any(gives_answer(text, g, record.question) for g in golds(record))


def load_cases(split: str, index: Path, k: int, corpus: str = "acme",
               questions: Path | None = None) -> tuple[list[Case], object]:
    """The split's questions of ``corpus`` (or of the ``questions`` file: a company's
    training Q&A, say) with their retrieved passages and units, and the index's embedder
    (which searched them). The acme index is built into ``index`` with the bundled
    embedder when missing; a PostgreSQL one must exist (``SystemExit`` naming it
    otherwise)."""
    from assistant.answering.build import open_index
    from assistant.answering.evidence import split_passages
    from assistant.answering.extract import search_query
    from finetune.sources import read_qa
    from index.build import ingest
    from ingest.embedding import Embedder

    if not (index / "CURRENT").exists():
        if corpus != "acme":
            raise SystemExit(f"{index}: no index; pass --index with an ingest of the "
                             f"{corpus} documents")
        ingest([ACME / "docs"], index, progress=False, embedder=Embedder())
    records, _ = read_qa(questions or QUESTIONS[corpus], split=split)
    # The index's own embedder (a tuned one too) searches and scores units, as in `ask`.
    searcher, embedder = open_index(index, required=True)
    try:
        results = searcher.search_batch([search_query(r.question) for r in records], k=k,
                                        mode="hybrid")
    finally:
        searcher.close()
    cases = [Case(r, ps, split_passages(ps)) for r, ps in zip(records, results, strict=True)]
    return cases, embedder


def ranked(scorer, case: Case) -> list:
    scores = scorer.score(case.record.question, case.units)
    return [case.units[i] for i in sorted(range(len(case.units)), key=lambda i: -scores[i])]


def ranking_row(orders: list[tuple[Case, list]]) -> dict:
    """Over ``(case, its units best first)`` pairs: unit hit@1 and hit@3 (a unit holding
    the gold answer) and what ``extract`` answers from the top units: a span holding the
    gold (right), another span (wrong), nothing (none). ``n`` cases."""
    from assistant.answering.extract import extract_ranked

    n = len(orders)
    at1 = at3 = right = wrong = none = 0
    for case, order in orders:
        at1 += any(holds_any(u.text, case.record) for u in order[:1])
        at3 += any(holds_any(u.text, case.record) for u in order[:3])
        found = extract_ranked(case.record.question, order, pool=case.units)
        if found is None:
            none += 1
        elif holds_any(found.span, case.record):
            right += 1
        else:
            wrong += 1
    return {"n": n, "unit hit@1": round(at1 / n, 3), "unit hit@3": round(at3 / n, 3),
            "extract right": right, "extract wrong": wrong, "extract none": none}


def table(rows: list[dict], title: str) -> None:
    print(f"\n### {title}\n")
    if not rows:
        print("(none)")
        return
    keys = list(rows[0])
    print("| " + " | ".join(keys) + " |")
    print("|" + "---|" * len(keys))
    for row in rows:
        cells = [f"{v:.3f}" if isinstance(v, float) else str(v) for v in row.values()]
        print("| " + " | ".join(cells) + " |")


def grid(cases: list[Case], scorer, unanswerable: list[Case]) -> None:
    """The tables defaults are chosen from (dev only)."""
    from assistant.answering.evidence import select_units
    from assistant.answering.extract import extract

    rows = []
    for pw in (0.0, 0.5, 0.75, 1.0):
        for w, rw in ((0.0, 0.0), (0.15, 0.0), (0.3, 0.0), (0.45, 0.0), (1.0, 0.0),
                      (0.15, 0.1), (0.3, 0.1), (0.3, 0.2), (0.45, 0.1)):
            scorer.prefix_weight, scorer.lexical_weight, scorer.rank_weight = pw, w, rw
            top = [ranked(scorer, c) for c in cases]
            rows.append({"prefix weight": pw, "lexical weight": w, "rank weight": rw,
                         "hit@1": _share(cases, top, 1), "hit@3": _share(cases, top, 3),
                         "hit@5": _share(cases, top, 5)})
    table(rows, f"Unit ranking, no budget (n={len(cases)})")

    _choose(scorer)
    rows = []
    for budget in (60, 100, 160, 240, 400):
        row: dict = {"budget tokens": budget}
        for k in (1, 3, 5):
            sels = [select_units(c.record.question, c.passages, scorer, budget, k, -1.0)
                    for c in cases]
            row[f"hit@{k}"] = sum(any(holds_any(s.unit.text, c.record) for s in sel.units)
                                  for c, sel in zip(cases, sels, strict=True)) / len(cases)
        rows.append(row)
    table(rows, "Selection hit@k within a token budget")

    best_a = [select_units(c.record.question, c.passages, scorer).best_score for c in cases]
    best_u = [select_units(c.record.question, c.passages, scorer).best_score
              for c in unanswerable]
    rows = [{"min_score": t, "answerable abstained": sum(b < t for b in best_a),
             f"unanswerable abstained (of {len(best_u)})": sum(b < t for b in best_u)}
            for t in (0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55)]
    table(rows, "Abstention by min_score (best unit score)")
    print(f"\nbest score, answerable: min {min(best_a):.3f} median {statistics.median(best_a):.3f}"
          f"; unanswerable: min {min(best_u):.3f} median {statistics.median(best_u):.3f}"
          f" max {max(best_u):.3f}")

    rows = []
    for n_units in (3, 5, 10):
        for cov in (0.34, 0.5, 0.6):
            for other in (0.5, 0.6, 0.75, 1.0):
                right = wrong = declined_u = 0
                for c in cases:
                    ex = extract(c.record.question, ranked(scorer, c)[:n_units], cov, other)
                    if ex is not None:
                        right += holds_any(ex.span, c.record)
                        wrong += not holds_any(ex.span, c.record)
                for c in unanswerable:
                    declined_u += extract(c.record.question, ranked(scorer, c)[:n_units],
                                          cov, other) is None
                rows.append({"units": n_units, "min_coverage": cov, "other_min_coverage": other,
                             "right": right, "wrong": wrong,
                             f"unanswerable declined (of {len(unanswerable)})": declined_u})
    table(rows, "Extractive fallback by its thresholds (answerable: right/wrong span)")


def _share(cases: list[Case], tops: list[list], n: int) -> float:
    return sum(any(holds_any(u.text, c.record) for u in top[:n])
               for c, top in zip(cases, tops, strict=True)) / len(cases)


def _choose(scorer) -> None:
    """Set ``scorer`` to the chosen defaults."""
    from assistant.answering import evidence_scoring as defaults

    scorer.prefix_weight = defaults.DEFAULT_PREFIX_WEIGHT
    scorer.lexical_weight = defaults.DEFAULT_LEXICAL_WEIGHT
    scorer.rank_weight = defaults.DEFAULT_RANK_WEIGHT


def report(cases: list[Case], scorer, unanswerable: list[Case], split: str) -> dict:
    """The figures of the chosen defaults; returns the totals for ``compare``."""
    from assistant.answering.evidence import (
        DEFAULT_BUDGET_TOKENS,
        DEFAULT_K,
        DEFAULT_MIN_SCORE,
        select_units,
    )
    from assistant.answering.extract import (
        DEEP_MIN_COVERAGE,
        DEEP_UNITS,
        EXTRACT_UNITS,
        MIN_COVERAGE,
        OTHER_MIN_COVERAGE,
        extract_ranked,
    )

    _choose(scorer)
    print(f"\nchosen: lexical weight {scorer.lexical_weight}, prefix weight "
          f"{scorer.prefix_weight}, rank weight {scorer.rank_weight}, k {DEFAULT_K}, "
          f"budget {DEFAULT_BUDGET_TOKENS} tokens, "
          f"min_score {DEFAULT_MIN_SCORE}; extract over the top {EXTRACT_UNITS} units "
          f"(then down to {DEEP_UNITS} at {DEEP_MIN_COVERAGE} of the key terms), "
          f"min_coverage {MIN_COVERAGE}, other_min_coverage {OTHER_MIN_COVERAGE}")
    per_type: dict[str, Counter] = defaultdict(Counter)
    for c in cases:
        t = per_type[c.record.qtype or "?"]
        sel = select_units(c.record.question, c.passages, scorer)
        by_score = sel.by_score()
        t["n"] += 1
        t["passage hit@5"] += any(holds_any(p.text, c.record) for p in c.passages)
        t["unit hit@1"] += bool(by_score) and holds_any(by_score[0].unit.text, c.record)
        t["unit hit@3"] += any(holds_any(s.unit.text, c.record) for s in by_score[:3])
        t["abstained"] += sel.abstain
        ex = extract_ranked(c.record.question, ranked(scorer, c), pool=c.units)
        if ex is None:
            t["extract: none"] += 1
        elif holds_any(ex.span, c.record):
            t["extract: right span"] += 1
        else:
            t["extract: wrong span"] += 1
            t["wrong, sentence holds gold"] += holds_any(ex.unit.text, c.record)
    keys = ["n", "passage hit@5", "unit hit@1", "unit hit@3", "abstained", "extract: right span",
            "extract: wrong span", "wrong, sentence holds gold", "extract: none"]
    total = Counter()
    for t in per_type.values():
        total.update(t)
    rows = [{"type": name, **{key: per_type[name][key] for key in keys}}
            for name in sorted(per_type)]
    rows.append({"type": "all", **{key: total[key] for key in keys}})
    n = total["n"]
    rows.append({"type": "all (share)", **{key: round(total[key] / n, 3) for key in keys}})
    table(rows, f"{split}: answerable questions (counts)")

    sels = [select_units(c.record.question, c.passages, scorer) for c in unanswerable]
    exs = [extract_ranked(c.record.question, ranked(scorer, c), pool=c.units)
           for c in unanswerable]
    rows = [{"n": len(unanswerable), "selection abstains (min_score)": sum(s.abstain for s in sels),
             "extract declines": sum(e is None for e in exs),
             "either": sum(s.abstain or e is None for s, e in zip(sels, exs, strict=True))}]
    table(rows, f"{split}: unanswerable questions")
    for c, e in zip(unanswerable, exs, strict=True):
        if e is not None:
            print(f"- {c.record.id} answered: {c.record.question!r} -> {e.span!r} ({e.reason})")
    return {**{key: total[key] for key in keys}, "unanswerable": rows[0]}


def compare(results: dict[str, dict], split: str) -> None:
    """One row per scorer: unit hit@1/hit@3 and the extraction outcome."""
    rows = []
    for name, r in results.items():
        n = r["n"]
        rows.append({"scorer": name, "n": n, "unit hit@1": round(r["unit hit@1"] / n, 3),
                     "unit hit@3": round(r["unit hit@3"] / n, 3),
                     "extract right": r["extract: right span"],
                     "extract wrong": r["extract: wrong span"],
                     "extract none": r["extract: none"], "abstained": r["abstained"],
                     "unanswerable declined (either)":
                         f"{r['unanswerable']['either']} of {r['unanswerable']['n']}"})
    table(rows, f"{split}: scorers compared (answerable questions unless said otherwise)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--split", choices=("dev", "test"), default="dev")
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX,
                        help="acme index (built from examples/acme/docs when missing); "
                             "with --corpus postgresql, an ingest of the manual (required)")
    parser.add_argument("--corpus", choices=tuple(QUESTIONS), default="acme",
                        help="whose evaluation questions (postgresql needs --index)")
    parser.add_argument("--k", type=int, default=5, help="passages retrieved (hybrid)")
    parser.add_argument("--grid", action="store_true",
                        help="also print the tables defaults are chosen from (dev only)")
    parser.add_argument("--verbose", action="store_true",
                        help="print each answerable question's extraction")
    parser.add_argument("--selector", action="append", default=[], metavar="PATH",
                        help="a tuned unit selector (NAME@vN or its directory) to score the "
                             "units with as well; repeatable")
    args = parser.parse_args(argv)
    if args.grid and args.split != "dev":
        parser.error("--grid chooses defaults: run it on the dev split only")
    if args.corpus != "acme" and args.index == DEFAULT_INDEX:
        parser.error(f"--corpus {args.corpus} needs --index: an ingest of its documents")

    from assistant.answering.evidence_scoring import EmbeddingScorer
    from assistant.answering.selector import load_selector

    selectors = {spec: load_selector(spec) for spec in args.selector}  # bad ones fail first
    cases, embedder = load_cases(args.split, args.index, args.k, args.corpus)
    answerable = [c for c in cases if c.record.answer is not None]
    unanswerable = [c for c in cases if c.record.answer is None]
    results = {}
    for name, model in {f"index embedder ({embedder.config.model})": embedder,
                        **selectors}.items():
        scorer = EmbeddingScorer(model)
        print(f"## Evidence selection, {args.corpus} {args.split}: {len(answerable)} answerable, "
              f"{len(unanswerable)} unanswerable; hybrid k={args.k}; units scored with "
              f"{name}")
        if args.grid:
            grid(answerable, scorer, unanswerable)
        results[name] = report(answerable, scorer, unanswerable, args.split)
        if args.verbose:
            _verbose(answerable, scorer)
    if selectors:
        compare(results, args.split)


def _verbose(cases: list[Case], scorer) -> None:
    from assistant.answering.extract import asked_for, extract_ranked

    print()
    for c in cases:
        ex = extract_ranked(c.record.question, ranked(scorer, c), pool=c.units)
        mark = "none" if ex is None else ("RIGHT" if holds_any(ex.span, c.record) else "WRONG")
        top = ranked(scorer, c)[0].text if c.units else ""
        print(f"{c.record.id} [{c.record.qtype}/{asked_for(c.record.question).value}] {mark}: "
              f"{c.record.question} | gold {c.record.answer!r} | span "
              f"{ex.span if ex else None!r} | top1 {top[:90]!r}")


if __name__ == "__main__":
    main()
