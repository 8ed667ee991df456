"""The ``assistant`` command line: exit codes, summaries and the JSON shapes it promises."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from assistant.cli.main import main

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    docs = root / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text(
        "# Refunds\n\n## Refund window\n\nReturn any product within 30 days for a refund.\n"
    )
    (docs / "shipping.txt").write_text("Express shipping costs $19 and takes two days.\n")
    assert main(["-q", "ingest", str(docs), "--index", str(root / "index")]) == 0
    return root


def test_search_json_has_the_documented_fields(indexed, capsys):
    code = main(["search", "refund window days", "--index", str(indexed / "index"), "--json",
                 "-k", "2"])
    assert code == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert len(results) == 2
    assert set(results[0]) == {"chunk_id", "text", "score", "source", "page_index",
                               "page_label", "heading", "effective_date", "status"}
    assert results[0]["source"] == "refunds.md"
    assert results[0]["status"] == "current" and results[0]["effective_date"] is None
    assert results[0]["heading"] == "Refunds > Refund window"


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_each_mode_finds_the_shipping_text(indexed, capsys, mode):
    assert main(["search", "express shipping price", "--index", str(indexed / "index"),
                 "--mode", mode, "-k", "1"]) == 0
    assert "shipping.txt" in capsys.readouterr().out


def test_index_info_reports_embedder_and_counts(indexed, capsys):
    assert main(["index", "info", "--index", str(indexed / "index"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["n_docs"] == 2 and info["n_chunks"] >= 2
    assert "all-MiniLM-L6-v2" in json.dumps(info)


def test_ingest_with_a_bad_file_exits_3_and_names_it(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "ok.txt").write_text("The warranty lasts 24 months.\n")
    (docs / "bad.pdf").write_bytes(b"not a pdf at all")
    code = main(["-q", "ingest", str(docs), "--index", str(tmp_path / "index")])
    out = capsys.readouterr().out
    assert code == 3
    assert "1 added" in out and "skipped  bad.pdf:" in out


def test_ingest_into_a_log_shows_plain_progress_lines(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(3):
        (docs / f"note{i}.txt").write_text(f"Note {i}: the warranty lasts {i + 1} years.\n")
    # pytest's captured stderr is no terminal: a log gets lines, not a bar's carriage returns
    assert main(["ingest", str(docs), "--index", str(tmp_path / "index")]) == 0
    err = capsys.readouterr().err
    assert "ingest: parse 0/3 files" in err and "ingest: parse 3/3 files" in err
    assert "ingest: embed 1/1 slices of" in err and "\r" not in err
    assert main(["-q", "ingest", str(docs), "--index", str(tmp_path / "again")]) == 0
    assert "ingest:" not in capsys.readouterr().err


def test_usage_errors_exit_2_with_a_message(tmp_path, capsys):
    assert main(["search", "x", "--index", str(tmp_path / "nothing")]) == 2
    assert "no index" in capsys.readouterr().err.lower()
    assert main(["ingest", str(tmp_path / "missing"), "--index", str(tmp_path / "i")]) == 2
    assert "does not exist" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:
        main(["search", "x", "--index", str(tmp_path), "--mode", "fuzzy"])
    assert exc.value.code == 2


@pytest.mark.parametrize("value", ["nan", "inf", "0", "-1", "lots"])
def test_a_bad_max_file_size_is_a_usage_error(tmp_path, capsys, value):
    with pytest.raises(SystemExit) as exc:
        main(["ingest", str(tmp_path), "--index", str(tmp_path / "i"), "--max-file-mb", value])
    assert exc.value.code == 2
    assert f"--max-file-mb: must be a number of megabytes above 0, got '{value}'" in (
        capsys.readouterr().err)


def test_training_data_with_no_record_stops_before_any_model_loads(tmp_path, capsys):
    data = tmp_path / "qa.jsonl"
    data.write_text('{"question": "broken\nnot json\n')
    code = main(["finetune", "--data", str(data), "--mode", "closed-book", "--name", "t",
                 "--model", str(tmp_path / "no-such-model")])
    err = capsys.readouterr().err
    assert code == 1 and "no such" not in err.lower()  # the model was never looked for
    assert "qa.jsonl:2: skipped: invalid JSON (Expecting value: column 1)" in err
    assert "no Q&A record of split 'train' to train on (2 lines skipped)" in err


def test_an_unknown_training_split_is_a_usage_error(tmp_path, capsys):
    data = tmp_path / "qa.jsonl"
    data.write_text(json.dumps({"question": "Q?", "answer": "A", "split": "train"}) + "\n")
    code = main(["finetune", "--data", str(data), "--mode", "closed-book", "--name", "t",
                 "--split", "bogus", "--model", str(tmp_path / "no-such-model")])
    err = capsys.readouterr().err
    assert code == 2
    assert ("assistant: error: --split must be one of train, test, validation, dev, all, "
            "got 'bogus'") in err
    assert "Traceback" not in err


def test_a_reader_that_leaves_early_is_no_traceback(indexed):
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli.main", "index", "docs", "--index",
         str(indexed / "index")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=REPO,
    )
    proc.stdout.close()  # before it prints anything (`assistant index docs | head -0`)
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 1
    assert "Traceback" not in err and "BrokenPipe" not in err


def test_console_script_runs_as_a_process(indexed):
    proc = subprocess.run(
        [sys.executable, "-m", "assistant.cli.main", "search", "refund", "--index",
         str(indexed / "index"), "--mode", "bm25", "--json"],
        capture_output=True, text=True, cwd=REPO, timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout)["results"][0]["source"] == "refunds.md"
