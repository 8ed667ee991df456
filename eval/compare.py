"""Compare setups across eval runs: ``assistant eval compare DIR:SETUP DIR:SETUP ...``.

A new adapter version is judged against the one before it on the same questions, but the
old version's answers often live in an earlier run (a committed report) and its weights
may be gone. This reads each run's ``results.jsonl``, scores every stored answer by
today's definitions (as reports do), and gives each named setup's means with bootstrap
intervals and paired permutation tests between them on the questions they share.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from eval.answer_metrics import (
    METRICS,
    Comparison,
    Estimate,
    compare_setups,
    summarize,
)
from eval.report import POSITIONS_NOTE, citation_positions, fmt, md_table, metric_label
from eval.results import RESULTS, EvalError, load_results, rescore_answer


@dataclass(frozen=True)
class Comparand:
    """One setup of one run; ``label`` names it in tables (``RUN:SETUP`` by default)."""

    run: Path
    setup: str
    label: str


def parse_comparand(text: str) -> Comparand:
    """``DIR:SETUP`` (``DIR`` holding a ``results.jsonl``) into a ``Comparand``; an
    ``EvalError`` names what is wrong."""
    run, sep, setup = text.rpartition(":")
    if not sep or not run or not setup:
        raise EvalError(f"{text!r}: expected RUN_DIR:SETUP, e.g. eval/reports/acme:combined")
    path = Path(run)
    if not (path / RESULTS).is_file():
        raise EvalError(f"{text!r}: no {RESULTS} in {path}")
    return Comparand(path, setup, text)


@dataclass(frozen=True)
class CrossRunComparison:
    """Per-comparand summaries and pairwise tests, over the questions all of them have."""

    labels: list[str]
    questions: int
    summary: dict[str, dict[str, Estimate]]
    comparisons: list[Comparison]
    positions: tuple[list[str], list[tuple[str, ...]]] = ([], [])


def compare_runs(comparands: Sequence[Comparand], n_resamples: int = 10_000,
                 seed: int = 0) -> CrossRunComparison:
    """Summaries and paired tests of ``comparands`` (at least two, distinct labels) on the
    questions every one of them answered. ``EvalError`` for a setup missing from its run
    or no shared question."""
    if len(comparands) < 2:
        raise EvalError("compare needs at least two RUN_DIR:SETUP arguments")
    if len({c.label for c in comparands}) < len(comparands):
        raise EvalError("each RUN_DIR:SETUP may be given once")
    runs: dict[str, dict[str, dict]] = {}
    for c in comparands:
        stored = load_results(c.run / RESULTS)
        records = {qid: r for (setup, qid), r in stored.items() if setup == c.setup}
        if not records:
            setups = sorted({s for s, _ in stored})
            raise EvalError(f"{c.label}: no setup {c.setup!r} in {c.run / RESULTS} "
                            f"(it has {', '.join(setups) or 'none'})")
        for record in records.values():
            rescore_answer(record)
        runs[c.label] = records
    shared = set.intersection(*(set(records) for records in runs.values()))
    if not shared:
        raise EvalError("the runs share no question ids; were they run on the same questions?")
    runs = {label: {q: r for q, r in records.items() if q in shared}
            for label, records in runs.items()}
    per = {label: {q: r["metrics"] for q, r in records.items()}
           for label, records in runs.items()}
    summary = {label: summarize(m, seed=seed) for label, m in per.items()}
    positions = citation_positions({label: records.values() for label, records in runs.items()})
    return CrossRunComparison(list(per), len(shared), summary,
                              compare_setups(per, n_resamples=n_resamples, seed=seed),
                              positions)


def format_comparison(result: CrossRunComparison) -> str:
    """A Markdown table of means [95% interval] (n) per metric and comparand, then the
    paired tests (difference, p, n), in the report's formatting."""
    rows = []
    for spec in METRICS:
        cells = [result.summary[label].get(spec.key) for label in result.labels]
        if any(c is not None for c in cells):
            rows.append([spec.label, *(f"{fmt(c, spec.unit)} (n={c.n})" if c else "-"
                                       for c in cells)])
    tests = [[metric_label(c.metric), f"{c.a} - {c.b}", f"{c.diff:+.3f}",
              f"{c.p_value:.4f}" + (" *" if c.significant else ""), str(c.n)]
             for c in result.comparisons]
    lines = [f"{result.questions} questions shared by every run", ""]
    lines += md_table(["metric", *result.labels], rows)
    lines += md_table(["metric", "a - b", "difference", "p", "n"], tests)
    lines.append("* p < 0.05, paired sign-flip permutation test on the questions both have a "
                 "value for")
    header, rows = result.positions
    if rows:
        lines += ["", "Where citations point. " + POSITIONS_NOTE, ""]
        lines += md_table(header, rows)
    return "\n".join(lines)
