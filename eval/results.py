"""A run directory's stored results, and the one way they become a summary and reports.

A run directory holds ``manifest.json`` (the config, the setups skipped, each run's command
and question count), ``results.jsonl`` (one record per setup and question, appended as
answers come in) and what ``score_and_report`` derives from them: ``summary.json``,
``report.md``, ``report.html`` and ``plots/``. ``eval.harness`` (after answering),
``eval.render`` (from stored answers only) and ``eval.compare`` all read them here.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

from core.errors import AssistantError
from eval.answer_metrics import (
    Comparison,
    Estimate,
    answer_kind,
    answer_scores,
    compare_setups,
    outcome_scores,
    summarize,
)
from eval.config import EvalConfig, SetupConfig

logger = logging.getLogger(__name__)

RESULTS = "results.jsonl"
MANIFEST = "manifest.json"
SUMMARY = "summary.json"


class EvalError(AssistantError):
    """The run cannot go on: its output directory belongs to another config, or
    results.jsonl is corrupt before its last line."""


def rescore_answer(record: dict) -> None:
    """Recompute a stored record's answer-text metrics (they need only its answer and
    gold), so a report always scores every answer the same way."""
    answer, gold = record.get("answer"), record["gold"]
    record["metrics"].update(answer_scores(
        answer["answer"] if answer else "", bool(answer and answer["abstained"]),
        gold["answer"], gold["kind"]))
    record["metrics"].update(outcome_scores(answer, gold, record.get("error")))


def question_type(record: Mapping) -> str:
    """The question's ``type`` from its question file, else answerable/unanswerable."""
    gold = record["gold"]
    return gold.get("type") or ("unanswerable" if gold.get("answer") is None else "answerable")


def record_kind(record: Mapping) -> str:
    """How the record's answer was made (``eval.answer_metrics.answer_kind``)."""
    return answer_kind(record.get("answer"), record.get("error"))


def breakdown(records: Sequence[Mapping], n_resamples: int, seed: int,
              ) -> dict[str, dict[str, dict[str, dict[str, Estimate]]]]:
    """Each setup's figures split by question type and by answer kind:
    ``{"type" | "answer_kind": {setup: {group: {metric: Estimate}}}}``."""
    out: dict[str, dict[str, dict[str, dict[str, Estimate]]]] = {"type": {}, "answer_kind": {}}
    for axis, key in (("type", question_type), ("answer_kind", record_kind)):
        groups: dict[str, dict[str, dict[str, dict]]] = {}
        for r in records:
            groups.setdefault(r["setup"], {}).setdefault(key(r), {})[r["question_id"]] = \
                r["metrics"]
        out[axis] = {setup: {g: summarize(m, n_resamples, seed) for g, m in sorted(by.items())}
                     for setup, by in groups.items()}
    return out


def load_results(path: Path) -> dict[tuple[str, str], dict]:
    """``(setup, question id) -> record`` of ``results.jsonl`` (later lines win). A
    truncated last line (an interrupted write) is dropped and the file rewritten without
    it; a bad line elsewhere raises ``EvalError``."""
    if not path.is_file():
        return {}
    raw = path.read_bytes()
    lines = raw.split(b"\n")
    records: dict[tuple[str, str], dict] = {}
    kept: list[bytes] = []
    last = max((i for i, line in enumerate(lines) if line.strip()), default=-1)
    for i, line in enumerate(lines):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
            key = (record["setup"], record["question_id"])
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as exc:
            if i == last:
                logger.warning("%s: dropping a truncated last line", path)
                continue
            raise EvalError(f"{path} line {i + 1} is corrupt ({exc}); fix or remove it") from exc
        records[key] = record
        kept.append(line)
    if raw and (len(kept) != sum(1 for line in lines if line.strip()) or not raw.endswith(b"\n")):
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(b"".join(line + b"\n" for line in kept))
        os.replace(tmp, path)
    return records


def score_and_report(out_dir: Path, config: EvalConfig, active: Sequence[SetupConfig],
                     skipped: Mapping[str, str], records: dict[tuple[str, str], dict],
                     question_ids: Sequence[str], manifest: dict, command: str | None,
                     ) -> tuple[dict[str, dict[str, Estimate]], list[Comparison]]:
    """Score the stored ``records`` of ``question_ids`` by today's definitions and write
    ``summary.json``, ``report.md``, ``report.html`` and ``plots/`` into ``out_dir``.

    The per-setup metrics are gathered in ``records``' order, which the bootstrap
    resamples depend on, so a re-render reproduces a run's intervals exactly. Returns the
    per-setup summary and the paired comparisons.
    """
    from eval.report import ReportData, write_reports

    for record in records.values():  # stored answers, scored by today's definitions
        rescore_answer(record)
    wanted = set(question_ids)
    per_setup = {s.name: {qid: r["metrics"] for (name, qid), r in records.items()
                          if name == s.name and qid in wanted} for s in active}
    summary = {name: summarize(m, config.run.bootstrap_resamples, config.run.seed)
               for name, m in per_setup.items()}
    comparisons = compare_setups(per_setup, n_resamples=config.run.permutation_resamples,
                                 seed=config.run.seed)
    out_dir.mkdir(parents=True, exist_ok=True)
    ordered = [records[(s.name, q)] for q in question_ids for s in active
               if (s.name, q) in records]
    split = breakdown(ordered, config.run.bootstrap_resamples, config.run.seed)
    write_json(out_dir / SUMMARY, {
        "setups": {n: {k: e.to_json() for k, e in s.items()} for n, s in summary.items()},
        "comparisons": [c.to_json() for c in comparisons], "skipped_setups": dict(skipped),
        "breakdown": {axis: {setup: {g: {k: e.to_json() for k, e in m.items()}
                                     for g, m in groups.items()}
                             for setup, groups in by_setup.items()}
                      for axis, by_setup in split.items()}})
    write_reports(out_dir, ReportData(
        config=config, setups=active, skipped=dict(skipped), records=ordered, summary=summary,
        comparisons=comparisons, manifest=manifest, command=command,
        n_questions=len(question_ids), breakdown=split))
    return summary, comparisons


def write_json(path: Path, data: dict) -> None:
    """Write ``data`` as indented JSON, atomically (temp file, then ``os.replace``)."""
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2, default=str))
    os.replace(tmp, path)
