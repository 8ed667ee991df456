"""``assistant eval run --config FILE --out DIR [--limit N] [--split S]``: the harness from
the CLI (``--split`` overrides ``[questions] split``, e.g. ``dev`` for the tuning split);
``assistant eval compare RUN:SETUP RUN:SETUP ...``: setups of different runs side by side;
``assistant eval render DIR [--out OUT]``: a run's reports again from its stored answers;
``assistant eval audit DIR [--n 30] [--check]``: a hand audit of a run's answers.

``add_run_parser(esub)`` adds the ``run``, ``compare`` and ``render`` sub-commands to
``assistant eval``'s sub-parsers; ``cmd_eval_run(args)``, ``cmd_eval_compare(args)`` and
``cmd_eval_render(args)`` run them and return the exit code. Library errors
propagate to ``assistant.cli.main.main``, which turns them into one-line messages.
"""

from __future__ import annotations

import argparse
import logging
import shlex
import sys
from pathlib import Path

from core.progress import ProgressLines, for_stderr

logger = logging.getLogger(__name__)


def cmd_eval_run(args: argparse.Namespace) -> int:
    """Run or resume the eval ``args.config`` describes into ``args.out``; prints where the
    reports are and the headline figures. Returns 0."""
    from eval.config import load_config
    from eval.harness import run_eval

    config = load_config(Path(args.config))
    if getattr(args, "split", None):
        config = with_split(config, args.split)
    quiet = getattr(args, "quiet", False)
    progress = for_stderr(quiet, "eval")  # the index it builds, and a bar for the answers
    command = shlex.join(["assistant", *sys.argv[1:]]) if sys.argv[1:] else None
    # one line per batch of answers in a log (the index's stages are throttled)
    lines = ProgressLines("eval", every=0) if isinstance(progress, ProgressLines) else None
    result = run_eval(config, Path(args.out), limit=args.limit, progress=progress,
                      command=command, on_batch=lines)
    for name, reason in result.skipped_setups.items():
        print(f"skipped setup {name}: {reason}")
    headline = ("accuracy", "contains_answer", "token_f1", "valid_citation", "abstain_recall",
                "latency_p50")
    for name, figures in result.summary.items():
        shown = ", ".join(f"{k} {figures[k].value:.3f}" for k in headline if k in figures)
        print(f"{name}: {shown}")
    print(f"{result.new_results} new answers in {result.seconds:.0f}s; report: "
          f"{result.report_html} (also {result.report_md.name}, {result.results.name})")
    return 0


def cmd_eval_compare(args: argparse.Namespace) -> int:
    """Print (or write to ``--out``) the cross-run comparison table. Returns 0."""
    from eval.compare import compare_runs, format_comparison, parse_comparand

    result = compare_runs([parse_comparand(text) for text in args.runs])
    table = format_comparison(result)
    if args.out:
        Path(args.out).write_text(table + "\n")
        print(f"comparison of {len(result.labels)} setups on {result.questions} questions "
              f"written to {args.out}")
    else:
        print(table)
    return 0


def cmd_eval_render(args: argparse.Namespace) -> int:
    """Rewrite ``args.run``'s summary, reports and plots (into ``--out`` when given) from
    its manifest and results; prints where they are. Returns 0."""
    from eval.render import render_run

    result = render_run(Path(args.run), Path(args.out) if args.out else None)
    print(f"{result.questions} questions rendered from {Path(args.run) / 'results.jsonl'}; "
          f"report: {result.report_html} (also report.md, summary.json, plots/)")
    return 0


def cmd_eval_audit(args: argparse.Namespace) -> int:
    """Write ``args.run``'s hand-audit form, or with ``--check`` report a filled one's
    agreement with the automatic verdicts. Returns 0."""
    from eval.audit import AUDIT, check_audit, write_audit

    if args.check:
        result = check_audit(Path(args.run) / AUDIT)
        print(f"{result['n']} answers audited: {result['verdicts']}; the automatic verdict "
              f"agrees on {result['agree']} ({result['agreement']:.0%})")
        return 0
    path = write_audit(Path(args.run), n=args.n, seed=args.seed)
    print(f"audit form for {args.n} answers: {path} (fill in each Verdict and Reason)")
    return 0


def add_run_parser(esub) -> argparse.ArgumentParser:
    """Add ``run`` to the ``assistant eval`` sub-parsers ``esub``; returns the parser."""
    p = esub.add_parser("run", help="compare setups (base, RAG, fine-tune, both) on a "
                                    "question set; writes report.html/.md and results.jsonl")
    p.add_argument("--config", required=True, help="eval config (TOML)")
    p.add_argument("--out", required=True, help="output directory (a rerun resumes it)")
    p.add_argument("--split", default=None,
                   help="the question split to run, overriding [questions] split (e.g. dev "
                        "for every threshold and trial, test only to report)")
    p.add_argument("--limit", type=_limit, default=None,
                   help="only the first N questions (default: [run] limit, 0 = all)")
    p.set_defaults(func=cmd_eval_run)
    q = esub.add_parser("compare", help="setups of different eval runs side by side, with "
                                        "paired tests on the questions they share")
    q.add_argument("runs", nargs="+", metavar="RUN_DIR:SETUP",
                   help="a run's output directory and one of its setups, e.g. "
                        "eval/reports/acme:combined")
    q.add_argument("--out", help="write the Markdown table here instead of printing it")
    q.set_defaults(func=cmd_eval_compare)
    r = esub.add_parser("render", help="write a run's summary.json, report.md/.html and plots "
                                       "again from its results.jsonl and manifest.json, "
                                       "answering nothing")
    r.add_argument("run", metavar="RUN_DIR", help="a run's output directory, e.g. "
                                                  "eval/reports/acme")
    r.add_argument("--out", help="write into this directory instead of RUN_DIR")
    r.set_defaults(func=cmd_eval_render)
    a = esub.add_parser("audit", help="a seeded sample of a run's answers to read and judge "
                                      "by hand (audit.md), or --check a filled one")
    a.add_argument("run", metavar="RUN_DIR", help="a run's output directory")
    a.add_argument("--n", type=int, default=30, help="answers to draw (default 30)")
    a.add_argument("--seed", type=int, default=0)
    a.add_argument("--check", action="store_true",
                   help="read the filled audit.md and print the agreement")
    a.set_defaults(func=cmd_eval_audit)
    return p


def with_split(config, split: str):
    """``config`` with ``[questions] split`` set to ``split``: re-parsed from its raw
    tables, so the run's config hash (and its output folder's guard) follows the split."""
    from eval.config import parse_config

    raw = {**config.raw, "questions": {**config.raw.get("questions", {}), "split": split}}
    base_dir = config.path.parent if config.path.is_file() else config.path
    return parse_config(raw, base_dir, config.path)


def _limit(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--limit must be an integer, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError("--limit must be >= 0 (0 = all)")
    return value
