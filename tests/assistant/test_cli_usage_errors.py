"""Usage errors exit 2 with one line naming the flag (docs/cli.md, exit codes): a path
that does not exist, a value out of range, a model or adapter that cannot be found; a
model that is found but does not load stays a failure (exit 1)."""

from __future__ import annotations

import json

import pytest

from assistant.cli.main import main


def _error(capsys) -> str:
    """The one stderr line of a usage error (no traceback)."""
    err = capsys.readouterr().err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("assistant: error: "), err
    return lines[0]


@pytest.fixture(scope="module")
def index(tmp_path_factory):
    root = tmp_path_factory.mktemp("usage")
    docs = root / "docs"
    docs.mkdir()
    (docs / "refunds.md").write_text("# Refunds\n\nReturn any product within 30 days.\n")
    assert main(["-q", "ingest", str(docs), "--index", str(root / "index")]) == 0
    return root / "index"


@pytest.fixture
def qa(tmp_path):
    data = tmp_path / "qa.jsonl"
    data.write_text(json.dumps({"question": "Q?", "answer": "A", "split": "train"}) + "\n")
    return data


def test_finetune_data_that_does_not_exist(tmp_path, capsys):
    missing = tmp_path / "nonexistent.jsonl"
    assert main(["finetune", "--data", str(missing), "--mode", "closed-book",
                 "--name", "t"]) == 2
    assert f"--data {missing}: no such file" in _error(capsys)


def test_finetune_bad_adapter_name(qa, capsys):
    assert main(["finetune", "--data", str(qa), "--mode", "closed-book",
                 "--name", "bad name!"]) == 2
    assert "--name: adapter name 'bad name!' is invalid" in _error(capsys)


def test_finetune_max_length_that_leaves_nothing_names_the_flag(qa, tiny_dir, tmp_path,
                                                              monkeypatch, capsys):
    """Found by the walkthrough: every example dropped as too long exited 1."""
    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path / "home"))
    assert main(["finetune", "--data", str(qa), "--mode", "closed-book", "--name", "t",
                 "--model", str(tiny_dir), "--max-length", "8"]) == 2
    line = _error(capsys)
    assert line.startswith("assistant: error: --max-length 8: no examples left to train on")
    assert line.endswith("raise it")


@pytest.mark.parametrize("fraction", ["5", "1", "-0.1", "nan"])
def test_canary_fraction_out_of_range(capsys, fraction):
    assert main(["adapters", "canary", "X", "1", "--fraction", fraction]) == 2
    assert "--fraction must be 0 (stop the canary) or a share of traffic above 0 and " \
           "below 1" in _error(capsys)


def test_adapters_unknown_name_is_a_usage_error(capsys):
    assert main(["adapters", "canary", "X", "1", "--fraction", "0.5"]) == 2
    assert "unknown adapter 'X'" in _error(capsys)


def test_feedback_export_db_that_does_not_exist(tmp_path, capsys):
    missing = tmp_path / "nonexistent.sqlite"
    assert main(["feedback", "export", "--db", str(missing),
                 "--out", str(tmp_path / "out.jsonl")]) == 2
    assert f"--db {missing}: no such file" in _error(capsys)


def test_feedback_export_into_a_folder_that_does_not_exist(tmp_path, capsys):
    from assistant.feedback import FeedbackStore

    db = tmp_path / "feedback.sqlite3"
    FeedbackStore(db).close()
    out = tmp_path / "nonexistent-dir" / "x.jsonl"
    assert main(["feedback", "export", "--db", str(db), "--out", str(out)]) == 2
    assert (f"--out {out}: the output folder {out.parent} does not exist"
            in _error(capsys))
    assert not out.parent.exists()  # nothing created
    assert main(["feedback", "export", "--db", str(db), "--out", str(tmp_path / "x.jsonl")]) == 0


def test_keys_empty_sources_names_the_flag(tmp_path, capsys):
    assert main(["keys", "create", "x", "--keys", str(tmp_path / "k.sqlite"),
                 "--sources", ""]) == 2
    assert "--sources '': an empty item" in _error(capsys)


@pytest.mark.parametrize("command", ["ask", "search"])
def test_empty_source_names_the_flag(index, capsys, command):
    assert main([command, "q", "--index", str(index), "--source", ""]) == 2
    assert "--source '': an empty pattern" in _error(capsys)


def test_ask_unknown_model(index, monkeypatch, capsys):
    import huggingface_hub

    def no_hub(repo_id, **kwargs):  # the hub's answer for an unknown id, offline or not
        raise OSError(f"404: no repository {repo_id}")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_hub)
    assert main(["ask", "q", "--index", str(index), "--model", "nosuchmodel"]) == 2
    line = _error(capsys)
    assert "--model nosuchmodel: no such model" in line and "404" in line
    assert main(["ask", "q", "--index", str(index), "--model", "/nonexistent"]) == 2
    assert "--model /nonexistent: no such file or directory" in _error(capsys)


def test_ask_unknown_adapter(index, capsys):
    assert main(["ask", "q", "--index", str(index), "--adapter", "nosuch"]) == 2
    assert "--adapter nosuch: unknown adapter 'nosuch'" in _error(capsys)
    assert main(["ask", "q", "--index", str(index), "--adapter", "./nosuch-dir"]) == 2
    assert "--adapter ./nosuch-dir: no such directory" in _error(capsys)


def test_unit_judge_path_that_does_not_exist(index, monkeypatch, capsys):
    from core.settings import get_settings

    monkeypatch.setenv("ASSISTANT_ANSWER_UNIT_JUDGE", "/nonexistent")
    get_settings.cache_clear()
    assert main(["ask", "refund window", "--index", str(index)]) == 2
    line = _error(capsys)
    assert "ASSISTANT_ANSWER_UNIT_JUDGE=/nonexistent: no such file or directory" in line
    assert "hub" not in line.split("(")[0]


def test_unit_judge_not_found_on_the_hub(monkeypatch):
    """A judge named as a hub id is looked for when extraction first declines: the error
    then raised is a usage error naming the variable."""
    import argparse

    import huggingface_hub

    from assistant.answering import models
    from assistant.cli.usage import not_found
    from core.settings import get_settings

    def no_hub(repo_id, **kwargs):
        raise OSError(f"404: no repository {repo_id}")

    monkeypatch.setattr(huggingface_hub, "snapshot_download", no_hub)
    monkeypatch.setenv("ASSISTANT_ANSWER_UNIT_JUDGE", "nosuchjudge")
    get_settings.cache_clear()
    with pytest.raises(models.ModelLoadError) as exc:
        models.locate_base(models.ModelConfig(base="nosuchjudge", device="cpu"))
    message = not_found(argparse.Namespace(model="SmolLM2-135M-Instruct"), exc.value)
    assert message is not None and message.startswith(
        "ASSISTANT_ANSWER_UNIT_JUDGE=nosuchjudge: no such model")


def test_a_model_that_is_found_but_does_not_load_is_a_failure(index, tmp_path, capsys):
    broken = tmp_path / "broken-model"
    broken.mkdir()
    (broken / "config.json").write_text('{"model_type": "no-such-architecture"}')
    assert main(["ask", "q", "--index", str(index), "--model", str(broken)]) == 1
    assert "broken-model" in capsys.readouterr().err


def test_a_directory_that_is_no_model_or_adapter_is_a_usage_error(index, tmp_path, capsys):
    """Found by the walkthrough: an empty folder given as --model or --adapter exited 1
    with a message that did not name the flag."""
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["ask", "q", "--index", str(index), "--model", str(empty)]) == 2
    assert f"--model {empty}: has no config.json" in _error(capsys)
    assert main(["ask", "q", "--index", str(index), "--adapter", str(empty)]) == 2
    assert f"--adapter {empty}: has no adapter_config.json" in _error(capsys)


def test_quiet_hides_libraries_deprecation_warnings(monkeypatch, tmp_path):
    """Found by the walkthrough: transformers' FutureWarning printed on every
    `ask --adapter`, -q or not."""
    import warnings

    import assistant.cli.main as cli

    def noisy(args):
        warnings.warn("an old API", FutureWarning, stacklevel=1)

    monkeypatch.setattr(cli, "check_args", noisy)
    for flags, shown in ((["-q"], False), ([], True)):
        with warnings.catch_warnings(record=True) as seen:
            warnings.simplefilter("always")
            cli.main([*flags, "index", "info", "--index", str(tmp_path / "none")])
        assert any(issubclass(w.category, FutureWarning) for w in seen) is shown
