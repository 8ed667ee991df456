"""The hand-audit form: a seeded sample of stored answers, and reading the verdicts back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from eval.audit import check_audit, write_audit
from eval.results import EvalError

REPORT = Path(__file__).resolve().parents[2] / "eval" / "reports" / "acme"


@pytest.fixture
def run(tmp_path: Path) -> Path:
    out = tmp_path / "run"
    out.mkdir()
    shutil.copy(REPORT / "results.jsonl", out / "results.jsonl")
    return out


def test_the_form_samples_answers_by_seed(run):
    text = write_audit(run, n=30, seed=0).read_text()
    assert text.count("\n### ") == 30 and text.count("- Verdict: \n") == 30
    assert "- Automatic verdict: " in text and "- Gold: " in text
    again = write_audit(run, n=30, seed=0).read_text()  # no verdicts yet: redrawn the same
    assert again == text
    assert write_audit(run, n=30, seed=1).read_text() != text


def test_filled_verdicts_are_counted_against_the_automatic_ones(run):
    path = write_audit(run, n=4, seed=0)
    text = path.read_text()
    autos = [line.split(": ", 1)[1] for line in text.splitlines()
             if line.startswith("- Automatic verdict: ")]
    filled = text
    for i, auto in enumerate(autos):  # agree on all but the first
        verdict = "partial" if i == 0 else auto
        filled = filled.replace("- Verdict: \n", f"- Verdict: {verdict}\n", 1)
    path.write_text(filled)
    result = check_audit(path)
    assert result["n"] == 4 and result["agree"] == 3 and result["verdicts"]["partial"] == 1
    with pytest.raises(EvalError, match="already holds verdicts"):
        write_audit(run, n=4, seed=0)


def test_an_unfilled_or_unknown_verdict_is_named(run):
    path = write_audit(run, n=2, seed=0)
    with pytest.raises(EvalError, match="entry 1 .*verdict ''"):
        check_audit(path)
    path.write_text(path.read_text().replace("- Verdict: \n", "- Verdict: maybe\n"))
    with pytest.raises(EvalError, match="'maybe' is not one of"):
        check_audit(path)
