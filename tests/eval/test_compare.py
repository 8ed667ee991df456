"""``assistant eval compare``: setups of different runs, on the committed acme report."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from eval.compare import compare_runs, format_comparison, parse_comparand
from eval.results import EvalError

ACME = Path(__file__).resolve().parents[2] / "eval" / "reports" / "acme"


def test_two_setups_of_one_run_match_the_reports_paired_tests():
    result = compare_runs([parse_comparand(f"{ACME}:rag"),
                           parse_comparand(f"{ACME}:combined")])
    assert result.questions == 57
    committed = json.loads((ACME / "summary.json").read_text())
    want = {(c["metric"], c["a"], c["b"]): c for c in committed["comparisons"]
            if c["a"] == "rag" and c["b"] == "combined"}
    got = {(c.metric, c.a.rsplit(":", 1)[1], c.b.rsplit(":", 1)[1]): c
           for c in result.comparisons}
    for metric in ("valid_citation", "token_f1", "contains_answer", "abstain_recall"):
        key = (metric, "rag", "combined")
        assert got[key].diff == pytest.approx(want[key]["diff"]) and got[key].n == want[key]["n"]
    valid = result.summary[f"{ACME}:combined"]["valid_citation"]
    assert valid.value == pytest.approx(
        committed["setups"]["combined"]["valid_citation"]["value"])
    table = format_comparison(result)
    assert "| Valid citation rate |" in table and "57 questions" in table
    # RAG-only never cites, so only the adapter's columns; its 32 scored answers each
    # had their gold passage shown somewhere (or not at all)
    header, rows = result.positions
    assert header == ["passage", f"{ACME}:combined: answers citing it",
                      f"{ACME}:combined: gold shown first"]
    assert sum(int(row[2]) for row in rows) == valid.n == 32
    assert "Where citations point" in table


def test_runs_are_paired_on_the_questions_they_share(tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    lines = (ACME / "results.jsonl").read_text().splitlines()
    kept = [line for line in lines if json.loads(line)["setup"] == "combined"][:10]
    (other / "results.jsonl").write_text("\n".join(kept) + "\n")
    result = compare_runs([parse_comparand(f"{ACME}:combined"),
                           parse_comparand(f"{other}:combined")])
    assert result.questions == 10
    assert all(c.diff == 0.0 for c in result.comparisons)  # same answers, same scores


def test_bad_arguments_name_what_is_wrong(tmp_path):
    with pytest.raises(EvalError, match="RUN_DIR:SETUP"):
        parse_comparand("no-colon")
    with pytest.raises(EvalError, match="no results.jsonl"):
        parse_comparand(f"{tmp_path}:combined")
    with pytest.raises(EvalError, match="no setup 'nope'.*base, combined, finetune, rag"):
        compare_runs([parse_comparand(f"{ACME}:nope"), parse_comparand(f"{ACME}:rag")])
    with pytest.raises(EvalError, match="at least two"):
        compare_runs([parse_comparand(f"{ACME}:rag")])
    with pytest.raises(EvalError, match="once"):
        compare_runs([parse_comparand(f"{ACME}:rag"), parse_comparand(f"{ACME}:rag")])
    copy = tmp_path / "copy"
    copy.mkdir()
    shutil.copy(ACME / "results.jsonl", copy / "results.jsonl")
    rows = [json.loads(line) for line in (copy / "results.jsonl").read_text().splitlines()]
    for row in rows:
        row["question_id"] = "x-" + row["question_id"]
    (copy / "results.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(EvalError, match="share no question"):
        compare_runs([parse_comparand(f"{ACME}:rag"), parse_comparand(f"{copy}:rag")])


def test_cli_prints_the_table_and_writes_it(tmp_path):
    out = tmp_path / "cmp.md"
    done = subprocess.run([sys.executable, "-m", "assistant.cli.main", "eval", "compare",
                           f"{ACME}:rag", f"{ACME}:combined", "--out", str(out)],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "2 setups on 57 questions" in done.stdout
    assert "| Valid citation rate |" in out.read_text()
    bad = subprocess.run([sys.executable, "-m", "assistant.cli.main", "eval", "compare",
                          f"{ACME}:nope", f"{ACME}:rag"], capture_output=True, text=True,
                         timeout=120)
    assert bad.returncode != 0 and "no setup 'nope'" in bad.stderr
