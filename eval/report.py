"""Results in, ``report.md``, ``report.html`` and their plots (``plots/*.png``) out.

Both state the command, machine and date, the setups and their adapters, every metric
per setup with its 95% interval, which differences between setups are significant
(paired permutation test, p < 0.05, unadjusted), a PubMedQA comparison with published
figures when the question set is PubMedQA, where the citations of setups with retrieval
point (written passage numbers beside where the gold passage was shown), and plots. The
HTML adds a per-question drill-down (passages, answer, citations, per-sentence
support), rendered from the Jinja template ``eval/templates/report.html.j2`` with
autoescape on, so every piece of text from questions, documents or the model is
HTML-escaped. Plots are PNGs drawn with matplotlib's Agg canvas and written once, under
``plots/`` beside both reports, which link to them by relative path.
"""

from __future__ import annotations

import io
import logging
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from eval.answer_metrics import LONG_ANSWER_WORDS, METRICS, Comparison, Estimate, MetricSpec
from eval.config import EvalConfig, SetupConfig

logger = logging.getLogger(__name__)

# RAFT (Zhang et al., 2024), Table 1, PubMedQA accuracy (%), and the PubMedQA paper's
# majority-class baseline (Jin et al., 2019), as quoted in ../shared/data/README.md.
RAFT_PUBMEDQA: tuple[tuple[str, str | None, float], ...] = (
    ("LLaMA2-7B-chat (no retrieval)", "base", 56.5),
    ("LLaMA2-7B-chat + RAG", "rag", 58.8),
    ("Domain-specific fine-tune (DSF)", "finetune", 59.7),
    ("DSF + RAG", "combined", 71.6),
    ("RAFT (LLaMA2-7B)", "combined", 73.3),
    ("GPT-3.5 + RAG", None, 71.6),
    ("Majority class (PubMedQA paper)", None, 55.2),
)
_ROLE_NAMES = {"base": "base", "rag": "RAG-only", "finetune": "fine-tune-only",
               "combined": "combined"}
_MAX_PASSAGE_CHARS = 800


@dataclass
class ReportData:
    """Everything a report shows; ``records`` are results.jsonl lines of this run."""

    config: EvalConfig
    setups: Sequence[SetupConfig]
    skipped: dict[str, str]
    records: list[dict]
    summary: dict[str, dict[str, Estimate]]
    comparisons: list[Comparison]
    manifest: dict = field(default_factory=dict)
    command: str | None = None
    n_questions: int = 0
    # eval.results.breakdown: {"type" | "answer_kind": {setup: {group: {metric: Estimate}}}}
    breakdown: dict = field(default_factory=dict)

    def shown_metrics(self) -> list[MetricSpec]:
        def present(key: str) -> bool:
            keys = (key, "latency_p50") if key == "latency_s" else (key,)
            return any(k in s for s in self.summary.values() for k in keys)

        return [m for m in METRICS if present(m.key)]


def write_reports(out_dir: Path, data: ReportData) -> tuple[Path, Path]:
    """Write ``report.md``, ``report.html`` and ``plots/*.png`` under ``out_dir``."""
    out_dir = Path(out_dir)
    plots = render_plots(data)
    (out_dir / "plots").mkdir(exist_ok=True)
    for name, png in plots.items():
        (out_dir / "plots" / f"{name}.png").write_bytes(png)
    md, page = out_dir / "report.md", out_dir / "report.html"
    md.write_text(render_markdown(data, list(plots)), encoding="utf-8")
    page.write_text(render_html(data, list(plots)), encoding="utf-8")
    return md, page


# -- values -------------------------------------------------------------------------------


def fmt(est: Estimate | None, unit: str = "fraction") -> str:
    """``0.512 [0.410, 0.600]`` (seconds and tokens with fewer digits), ``-`` when absent."""
    if est is None:
        return "-"
    digits = 3 if unit == "fraction" else 2 if unit == "seconds" else 1
    return f"{est.value:.{digits}f} [{est.low:.{digits}f}, {est.high:.{digits}f}]"


def _rows(data: ReportData) -> list[tuple[str, str, list[Estimate | None]]]:
    """(label, unit, estimate per setup) for every shown metric, latency as p50/p95."""
    rows = []
    for m in data.shown_metrics():
        if m.key == "latency_s":
            for key, label in (("latency_p50", "Latency p50 (s)"),
                               ("latency_p95", "Latency p95 (s)")):
                rows.append((label, "seconds", [data.summary[s.name].get(key)
                                                for s in data.setups]))
            continue
        rows.append((m.label, m.unit, [data.summary[s.name].get(m.key) for s in data.setups]))
    return rows


def _n(data: ReportData, key: str) -> str:
    ns = {e.n for s in data.summary.values() if (e := s.get(key)) is not None}
    return "/".join(str(n) for n in sorted(ns)) or "0"


def metric_label(key: str) -> str:
    """A metric's label in reports (``METRICS``), or the key itself for an unknown one."""
    return next((m.label for m in METRICS if m.key == key), key)


def _setup_line(data: ReportData, s: SetupConfig) -> tuple[str, str, str, str]:
    retrieval = (f"k={s.k}, {s.mode}" + (f", reranker {s.reranker}" if s.reranker else "")
                 if s.retrieval else "none")
    adapter = "none"
    info = (data.manifest.get("adapters") or {}).get(s.name)
    if info:
        adapter = (f"{info['registry_name']} v{info['version']}" if info.get("registry_name")
                   else info["path"])
    return s.name, _ROLE_NAMES[s.role], retrieval, adapter


def _machine(data: ReportData) -> str:
    m = data.manifest.get("machine", {})
    gpu = f", {m['gpu']}" if m.get("gpu") else ""
    return (f"{m.get('platform', '?')}, {m.get('cpu_count', '?')} CPUs, torch device "
            f"{m.get('torch_device', '?')}{gpu}")


def _meta(data: ReportData) -> list[tuple[str, str]]:
    man, cfg = data.manifest, data.config
    code = man.get("code_version", {})
    commit = (code.get("commit") or "unknown")[:12] + (" (modified)" if code.get("dirty") else "")
    models = man.get("base_models") or {}
    base = ", ".join(f"{b} (weights {v.get('weights_hash')}, {v.get('device')})"
                     for b, v in models.items()) or cfg.model.base
    return [
        ("Command", data.command or "(library call)"),
        ("Date", man.get("finished_at", "")),
        ("Machine", _machine(data)),
        ("Config", f"{cfg.path} (hash {cfg.hash})"),
        ("Code", commit),
        ("Base model", base),
        ("Questions", f"{data.n_questions} from {cfg.questions.path} "
                      f"({cfg.questions.format}, split {cfg.questions.split})"),
        ("Corpus", f"{cfg.corpus.kind}" + (f" ({cfg.corpus.docs})" if cfg.corpus.docs else "")),
        ("Max new tokens / batch", f"{cfg.run.max_new_tokens} / {cfg.run.batch_size} "
                                   "(an answer's latency includes its whole batch)"),
    ]


def _significant(data: ReportData) -> list[Comparison]:
    return [c for c in data.comparisons if c.significant]


def _pubmedqa_rows(data: ReportData) -> list[tuple[str, str, str]]:
    """(row, accuracy %, where it comes from) for ours and the published figures."""
    rows = []
    for s in data.setups:
        est = data.summary[s.name].get("accuracy")
        value = "-" if est is None else (f"{100 * est.value:.1f} "
                                         f"[{100 * est.low:.1f}, {100 * est.high:.1f}]")
        rows.append((f"ours: {s.name} ({_ROLE_NAMES[s.role]})", value,
                     f"{data.config.model.base}, n={est.n if est else 0}"))
    for label, _, value in RAFT_PUBMEDQA:
        source = "PubMedQA paper" if "Majority" in label else "RAFT paper, Table 1"
        rows.append((label, f"{value:.1f}", source))
    return rows


PUBMEDQA_NOTE = (
    "Our RAG setups retrieve the top k passages from an index of the CONTEXTS of all 500 "
    "test questions (corpus kind 'contexts'), so the gold abstract's sections compete with "
    "other abstracts' sections: the closest match to RAFT's test setting (the question with "
    "its gold document among distractor documents). Corpus kind 'gold' passes the gold "
    "contexts alone (an oracle, easier than RAFT's). Accuracy parses the first "
    "yes/no/maybe word of the answer; an abstention counts as wrong. The paper's models "
    "are 7B+ parameters; compare the gaps between setups more than the absolute values.")


# -- markdown -----------------------------------------------------------------------------


POSITIONS_NOTE = (
    "Answered questions with gold sources, per setup with retrieval: how many answers "
    "cite each passage number, and at which number the first gold passage was shown. "
    "A model that cites where gold passages usually sit, rather than where this one is, "
    "writes low numbers far more often than the gold column shows them.")


def citation_positions(groups: Mapping[str, Iterable[dict]],
                       ) -> tuple[list[str], list[tuple[str, ...]]]:
    """The table behind "Where citations point", from result records by setup label:
    one row per passage number (then a row for questions whose shown passages held no
    gold one), two columns per setup: its answers that cite that number (as the model
    wrote it), and its questions whose first gold passage was shown there. Answered
    questions with gold sources count; setups that wrote no citation are left out, and
    without any the table is empty."""
    written = {name: Counter() for name in groups}
    gold_at = {name: Counter() for name in groups}
    for name, records in groups.items():
        for r in records:
            answer = r.get("answer")
            if (r.get("error") or not answer or answer["abstained"]
                    or r["gold"]["answer"] is None or not r["gold"]["sources"]):
                continue
            sentences = (r.get("verification") or {}).get("sentences", [])
            written[name].update({n for s in sentences for n in s.get("cited", [])})
            gold_ids = {p["chunk_id"] for p in r.get("retrieved", []) if p.get("gold")}
            gold_at[name][next((p["n"] for p in answer["passages"]
                                if p["chunk_id"] in gold_ids), None)] += 1
    shown = [name for name in groups if written[name]]
    if not shown:
        return [], []
    numbers = sorted({n for name in shown for n in (*written[name], *gold_at[name])
                      if n is not None})
    header = ["passage", *(f"{name}: {what}" for name in shown
                           for what in ("answers citing it", "gold shown first"))]
    rows = [(f"[{n}]", *(str(c[n]) for name in shown for c in (written[name], gold_at[name])))
            for n in numbers]
    rows.append(("no gold shown", *(cell for name in shown
                                    for cell in ("-", str(gold_at[name][None])))))
    return header, rows


def _positions(data: ReportData) -> tuple[list[str], list[tuple[str, ...]]]:
    return citation_positions({s.name: [r for r in data.records if r["setup"] == s.name]
                               for s in data.setups if s.retrieval})


def _md_cell(text: str) -> str:
    return " ".join(str(text).split()).replace("|", "\\|")


def md_table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """A Markdown table's lines (cells escaped), followed by a blank line."""
    lines = ["| " + " | ".join(_md_cell(h) for h in header) + " |",
             "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_md_cell(c) for c in row) + " |" for row in rows]
    return lines + [""]


def render_markdown(data: ReportData, plot_names: Sequence[str] = ()) -> str:
    """The report as Markdown (no per-question passages; see report.html and results)."""
    names = [s.name for s in data.setups]
    out = [f"# Eval report: {_md_cell(data.config.run.name)}", ""]
    out += md_table(["", ""], _meta(data))
    out += ["## Setups", ""]
    out += md_table(["setup", "kind", "retrieval", "adapter"],
                     [_setup_line(data, s) for s in data.setups])
    for name, reason in data.skipped.items():
        out.append(f"- **skipped {name}**: {reason}")
    if data.skipped:
        out.append("")
    out += ["## Results (mean [95% bootstrap interval])", ""]
    out += md_table(["metric", *names],
                     [(label, *(fmt(e, unit) for e in ests)) for label, unit, ests in _rows(data)])
    out += ["## Differences between setups", "",
            "Paired sign-flip permutation test on the questions both setups have a value for; "
            "p < 0.05 marks a real difference (not adjusted for multiple comparisons).", ""]
    sig = _significant(data)
    if sig:
        out += md_table(["metric", "setups", "difference", "p", "n"],
                         [(metric_label(c.metric), f"{c.a} - {c.b}", f"{c.diff:+.3f}",
                           f"{c.p_value:.4f}", str(c.n)) for c in sig])
    else:
        out += ["No difference between setups is significant at p < 0.05.", ""]
    out += ["<details><summary>All paired tests</summary>", ""]
    out += md_table(["metric", "setups", "difference", "p", "n", "significant"],
                     [(metric_label(c.metric), f"{c.a} - {c.b}", f"{c.diff:+.3f}",
                       f"{c.p_value:.4f}", str(c.n), "yes" if c.significant else "no")
                      for c in data.comparisons])
    out += ["</details>", ""]
    header, rows = _positions(data)
    if rows:
        out += ["## Where citations point", "", POSITIONS_NOTE, ""]
        out += md_table(header, rows)
    for axis, title in BREAKDOWN_AXES:
        header, rows = breakdown_table(data, axis)
        if rows:
            out += [f"## {title}", ""] + md_table(header, rows)
    flagged = long_answers(data)
    if flagged:
        out += [f"## Answers longer than {LONG_ANSWER_WORDS} words", ""]
        out += md_table(["setup", "question", "words", "answer (start)"], flagged)
    if data.config.questions.format == "pubmedqa":
        out += ["## PubMedQA beside published figures (accuracy, %)", ""]
        out += md_table(["system", "accuracy", "source"], _pubmedqa_rows(data))
        out += [PUBMEDQA_NOTE, ""]
    if plot_names:
        out += ["## Plots", ""] + [f"![{n}](plots/{n}.png)" for n in plot_names] + [""]
    out += ["## Per question", ""]
    out += md_table(["question", "setup", "answer", "metrics"], [
        (r["question_id"], r["setup"], _short(r), _metric_text(r["metrics"]))
        for r in data.records])
    return "\n".join(out)


BREAKDOWN_METRICS = ("answered", "correct", "wrong", "correct_and_cited", "stale",
                     "abstain_recall", "latency_p50", "latency_p95")
BREAKDOWN_AXES = (("type", "By question type"), ("answer_kind", "By answer kind"))


def breakdown_table(data: ReportData, axis: str) -> tuple[list[str], list[tuple[str, ...]]]:
    """(header, rows) of one axis of the breakdown: a row per group and metric, a column
    per setup, each cell ``mean [interval] (n)``; empty when the run has none."""
    by_setup = data.breakdown.get(axis) or {}
    if not by_setup:
        return [], []
    names = [s.name for s in data.setups if s.name in by_setup]
    groups = sorted({g for s in names for g in by_setup[s]})
    rows = []
    for group in groups:
        for key in BREAKDOWN_METRICS:
            ests = [by_setup[s].get(group, {}).get(key) for s in names]
            if all(e is None for e in ests):
                continue
            unit = "seconds" if key.startswith("latency") else "fraction"
            label = {"latency_p50": "Latency p50 (s)", "latency_p95": "Latency p95 (s)"}.get(
                key, metric_label(key))
            rows.append((group, label, *(f"{fmt(e, unit)} ({e.n})" if e else "-"
                                         for e in ests)))
    return ["group", "metric", *names], rows


def long_answers(data: ReportData) -> list[tuple[str, str, str, str]]:
    """(setup, question id, words, the answer's start) of each answer flagged as longer
    than ``LONG_ANSWER_WORDS`` words."""
    out = []
    for r in data.records:
        if (r.get("metrics") or {}).get("long_answer"):
            text = " ".join((r.get("answer") or {}).get("answer", "").split())
            out.append((r["setup"], r["question_id"], str(len(text.split())), text[:120]))
    return out


def _short(record: dict, limit: int = 160) -> str:
    if record.get("error"):
        return f"ERROR: {record['error']}"[:limit]
    text = " ".join((record["answer"] or {}).get("answer", "").split())
    if record["answer"] and record["answer"]["abstained"]:
        text = f"(abstained) {text}"
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _metric_text(metrics: dict) -> str:
    keys = ("exact_match", "token_f1", "contains_answer", "accuracy", "recall@k",
            "citation_recall", "valid_citation", "abstained")
    return ", ".join(f"{k}={metrics[k]:.2f}" for k in keys if metrics.get(k) is not None)


# -- html ---------------------------------------------------------------------------------

TEMPLATE = "report.html.j2"


@lru_cache(maxsize=1)
def _templates():
    """The Jinja environment over ``eval/templates`` (autoescaped; None renders empty)."""
    from jinja2 import Environment, PackageLoader, StrictUndefined

    return Environment(loader=PackageLoader("eval", "templates"), autoescape=True,
                       undefined=StrictUndefined, trim_blocks=True, lstrip_blocks=True,
                       keep_trailing_newline=False,
                       finalize=lambda value: "" if value is None else value)


def render_html(data: ReportData, plot_names: Iterable[str] = ()) -> str:
    """The report as one HTML page with a per-question drill-down; each of ``plot_names``
    is shown from ``plots/NAME.png`` beside the page (``write_reports`` writes them).
    Every piece of text is HTML-escaped by the template. Raises ``jinja2.TemplateError``
    only for a broken template (a bug)."""
    names = [s.name for s in data.setups]
    header, rows = _positions(data)
    tables = [(title, breakdown_table(data, axis)) for axis, title in BREAKDOWN_AXES]
    breakdowns = [{"title": title, "table": table} for title, table in tables if table[1]]
    pubmedqa = ({"rows": _pubmedqa_rows(data), "note": PUBMEDQA_NOTE}
                if data.config.questions.format == "pubmedqa" else None)
    return _templates().get_template(TEMPLATE).render(
        title=data.config.run.name,
        meta=_meta(data),
        setups=[_setup_line(data, s) for s in data.setups],
        skipped=data.skipped,
        results_header=["metric", *names],
        results=[(label, *(fmt(e, unit) for e in ests)) for label, unit, ests in _rows(data)],
        comparisons=[{"significant": c.significant,
                      "cells": (metric_label(c.metric), f"{c.a} - {c.b}", f"{c.diff:+.3f}",
                                f"{c.p_value:.4f}", str(c.n))} for c in data.comparisons],
        positions={"header": header, "rows": rows, "note": POSITIONS_NOTE},
        pubmedqa=pubmedqa,
        breakdowns=breakdowns,
        long_answers=long_answers(data),
        long_words=LONG_ANSWER_WORDS,
        plots=list(plot_names),
        questions=_question_views(data),
    ) + "\n"


def _question_views(data: ReportData) -> list[dict]:
    """Per question (in report order): its gold answer and sources, then each setup's
    record as the drill-down shows it."""
    by_question: dict[str, list[dict]] = {}
    for r in data.records:
        by_question.setdefault(r["question_id"], []).append(r)
    out = []
    for qid, records in by_question.items():
        gold = records[0]["gold"]
        sources = "; ".join(
            s["file"] + (f" p.{s['page']}" if s.get("page") else "")
            + (f" \u00a7 {s['heading']}" if s.get("heading") else "") for s in gold["sources"])
        out.append({"id": qid, "question": records[0]["question"], "gold_answer": gold["answer"],
                    "unanswerable": gold["answer"] is None, "sources": sources or "-",
                    "setups": [_record_view(r) for r in records]})
    return out


def _record_view(r: dict) -> dict:
    """One setup's answer to one question, as plain values for the template."""
    if r.get("error"):
        return {"setup": r["setup"], "error": r["error"]}
    a = r["answer"]
    raw = r.get("raw")
    v = r.get("verification") or {}
    gold = {p["chunk_id"] for p in r.get("retrieved", []) if p.get("gold")}
    return {
        "setup": r["setup"], "error": None, "answer": a["answer"],
        "abstained": a["abstained"], "abstain_reason": a["abstain_reason"],
        "raw": raw if raw is not None and raw.strip() != a["answer"].strip() else None,
        "metrics": _metric_text(r["metrics"]), "latency": a["timings"].get("total", "-"),
        "citations": [(c["n"], c["source"], c["page_index"] or "", c["heading"], c["quote"],
                       c["support"]) for c in a["citations"]],
        "sentences": [(s["index"], s["text"], s["cited"], s["citations"], s["support"],
                       s["supported"], s["is_claim"]) for s in v.get("sentences") or []],
        "passages": [{
            "n": p["n"], "gold": p["chunk_id"] in gold,
            "where": p["source"] + (f" p.{p['page_index']}" if p.get("page_index") else "")
            + (f" \u00a7 {p['heading']}" if p.get("heading") else ""),
            "text": p["text"] if len(p["text"]) <= _MAX_PASSAGE_CHARS
            else p["text"][:_MAX_PASSAGE_CHARS] + " ...",
        } for p in a["passages"]],
    }


# -- plots --------------------------------------------------------------------------------


def render_plots(data: ReportData) -> dict[str, bytes]:
    """PNG bytes by name: ``metrics`` (each fraction metric per setup with its interval)
    and ``latency`` (p50 and p95 per setup). Drawn on matplotlib's Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    names = [s.name for s in data.setups]
    out: dict[str, bytes] = {}
    shown = [m for m in data.shown_metrics() if m.unit == "fraction"]
    if shown and names:
        cols = min(4, len(shown))
        rows = -(-len(shown) // cols)
        fig = Figure(figsize=(3.2 * cols, 2.6 * rows), dpi=90)
        FigureCanvasAgg(fig)
        for i, m in enumerate(shown):
            ax = fig.add_subplot(rows, cols, i + 1)
            _bars(ax, names, [data.summary[n].get(m.key) for n in names])
            ax.set_title(m.label, fontsize=9)
            ax.set_ylim(0, 1.05)
        fig.tight_layout()
        out["metrics"] = _png(fig)
    p50 = [data.summary[n].get("latency_p50") for n in names]
    p95 = [data.summary[n].get("latency_p95") for n in names]
    if any(p50):
        fig = Figure(figsize=(max(4.0, 1.4 * len(names) + 2), 3.2), dpi=90)
        FigureCanvasAgg(fig)
        ax = fig.add_subplot(1, 1, 1)
        _bars(ax, names, p50, offset=-0.2, width=0.4, label="p50")
        _bars(ax, names, p95, offset=0.2, width=0.4, label="p95")
        ax.set_ylabel("seconds per answer")
        ax.set_title("Latency (95% bootstrap intervals)", fontsize=9)
        ax.legend(fontsize=8)
        fig.tight_layout()
        out["latency"] = _png(fig)
    return out


def _bars(ax, names, ests, offset: float = 0.0, width: float = 0.6, label=None) -> None:
    xs = [i + offset for i in range(len(names))]
    values = [e.value if e else 0.0 for e in ests]
    low = [e.value - e.low if e else 0.0 for e in ests]
    high = [e.high - e.value if e else 0.0 for e in ests]
    ax.bar(xs, values, width=width, yerr=[low, high], capsize=3, label=label)
    ax.set_xticks(range(len(names)))
    ax.set_xticklabels(names, fontsize=8, rotation=20)


def _png(fig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    return buffer.getvalue()
