"""Re-render a finished run's reports from what it stored, without answering anything.

``render_run(run_dir)`` reads a run directory's ``manifest.json`` (the config, the setups
it skipped, the last run's command and question count) and ``results.jsonl`` (every
answer), scores the stored answers by today's definitions as ``run_eval`` does, and
writes ``summary.json``, ``report.md``, ``report.html`` and ``plots/*.png`` again. No
model, index, adapter registry or question file is opened: the questions, their order
and the gold answers come from the records, so a committed report re-renders on any
machine. ``manifest.json`` and ``results.jsonl`` are left as they are.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from eval.answer_metrics import Comparison, Estimate
from eval.config import EvalConfig, EvalConfigError, parse_config
from eval.results import MANIFEST, RESULTS, EvalError, load_results, score_and_report

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class RenderResult:
    """What ``render_run`` wrote: where, for how many questions, and the figures."""

    out_dir: Path
    questions: int
    summary: dict[str, dict[str, Estimate]]
    comparisons: list[Comparison]

    @property
    def report_html(self) -> Path:
        return self.out_dir / "report.html"


def render_run(run_dir: Path | str, out_dir: Path | str | None = None) -> RenderResult:
    """Write ``summary.json``, ``report.md``, ``report.html`` and ``plots/`` of the run in
    ``run_dir`` into ``out_dir`` (default: ``run_dir`` itself), from its stored records.

    The config is the one the manifest recorded; its relative paths are resolved as the
    run resolved them, from the recorded config path (relative to the current directory
    when it was given relatively). The questions are those of the last run (its count,
    in the order the records first name them). Raises ``EvalError`` when the manifest or
    results are missing or unreadable, or the manifest's config no longer parses.
    """
    run_dir = Path(run_dir)
    out = Path(out_dir) if out_dir is not None else run_dir
    manifest = _read_manifest(run_dir)
    config = manifest_config(manifest, run_dir)
    records = load_results(run_dir / RESULTS)
    if not records:
        raise EvalError(f"{run_dir}: no answers in {RESULTS}; nothing to render")
    skipped = dict(manifest.get("skipped_setups") or {})
    active = [s for s in config.setups if s.name not in skipped]
    runs = manifest.get("runs") or [{}]
    order = list(dict.fromkeys(qid for _, qid in records))
    questions = order[: runs[-1].get("questions", len(order))]
    summary, comparisons = score_and_report(out, config, active, skipped, records, questions,
                                            manifest, runs[-1].get("command"))
    logger.info("rendered %s from %d stored answers into %s", run_dir, len(records), out)
    return RenderResult(out, len(questions), summary, comparisons)


def manifest_config(manifest: dict, run_dir: Path) -> EvalConfig:
    """The ``EvalConfig`` a run's manifest recorded (its parsed TOML and path). Raises
    ``EvalError`` when the manifest holds no config or it does not parse today."""
    raw, where = manifest.get("config"), manifest.get("config_path")
    if not isinstance(raw, dict) or not where:
        raise EvalError(f"{run_dir / MANIFEST} records no config; cannot re-render")
    path = Path(where).expanduser()
    try:
        return parse_config(raw, path.resolve().parent, path)
    except EvalConfigError as exc:
        raise EvalError(f"{run_dir / MANIFEST}: its config no longer loads ({exc})") from exc


def _read_manifest(run_dir: Path) -> dict:
    path = run_dir / MANIFEST
    if not (run_dir / RESULTS).is_file() or not path.is_file():
        raise EvalError(f"{run_dir} is not an eval run directory: it needs {MANIFEST} and "
                        f"{RESULTS}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise EvalError(f"{path} is not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise EvalError(f"{path} is not a JSON object")
    return manifest
