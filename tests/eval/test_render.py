"""``assistant eval render``: a committed report written again from its stored answers
gives the same summary and Markdown, and an HTML page that links its plot files."""

from __future__ import annotations

import argparse
import json
import re
import shutil
from pathlib import Path

import pytest

from eval import cli
from eval.render import render_run
from eval.results import EvalError

ROOT = Path(__file__).resolve().parents[2]
# the smallest committed run (one setup, 100 PubMedQA questions)
REPORT = ROOT / "eval" / "reports" / "pubmedqa-closed-book-3ep"


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _as_committed(text: str) -> str:
    """The committed reports were rendered in a checkout at /work/main; the config's
    relative paths resolve against wherever this one is."""
    return text.replace(str(ROOT.parent), "/work")


def test_committed_report_renders_the_same(tmp_path, monkeypatch):
    monkeypatch.chdir(ROOT)  # the manifest names its config relative to the checkout
    before = _snapshot(REPORT)
    result = render_run(REPORT.relative_to(ROOT), tmp_path)
    assert result.questions == 100 and result.report_html == tmp_path / "report.html"
    assert (tmp_path / "summary.json").read_text() == (REPORT / "summary.json").read_text()
    assert json.loads((tmp_path / "summary.json").read_text())["setups"]["finetune-3ep"]
    assert _as_committed((tmp_path / "report.md").read_text()) == \
        (REPORT / "report.md").read_text()
    page = (tmp_path / "report.html").read_text()
    assert "data:image" not in page
    sources = re.findall(r'<img alt="\w+" src="([^"]+)"', page)
    assert sources == ["plots/metrics.png", "plots/latency.png"]
    for src in sources:
        assert (tmp_path / src).read_bytes() == (REPORT / src).read_bytes()
    assert _snapshot(REPORT) == before  # the committed run itself is untouched


def test_cli_render_in_place(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    run = tmp_path / "run"
    shutil.copytree(REPORT, run)
    for name in ("summary.json", "report.md", "report.html"):
        (run / name).unlink()
    shutil.rmtree(run / "plots")
    parser = argparse.ArgumentParser()
    cli.add_run_parser(parser.add_subparsers(dest="eval_command"))
    args = parser.parse_args(["render", str(run)])
    assert args.func(args) == 0
    assert "100 questions rendered" in capsys.readouterr().out
    assert (run / "summary.json").read_text() == (REPORT / "summary.json").read_text()
    assert (run / "plots" / "metrics.png").is_file()
    assert (run / "manifest.json").read_bytes() == (REPORT / "manifest.json").read_bytes()


def test_render_refuses_what_is_not_a_run(tmp_path):
    with pytest.raises(EvalError, match="not an eval run directory"):
        render_run(tmp_path)
    (tmp_path / "results.jsonl").write_text("")
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(EvalError, match="not valid JSON"):
        render_run(tmp_path)
    (tmp_path / "manifest.json").write_text(json.dumps({"runs": []}))
    with pytest.raises(EvalError, match="records no config"):
        render_run(tmp_path)
    manifest = json.loads((REPORT / "manifest.json").read_text())
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(EvalError, match="no answers"):
        render_run(tmp_path)
    manifest["config"]["run"]["colour"] = "blue"
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(EvalError, match="no longer loads.*colour"):
        render_run(tmp_path)
    assert not (tmp_path / "report.html").exists()
