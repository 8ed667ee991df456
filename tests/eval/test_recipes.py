"""Eval configs that say how to train the adapters they need: parsing, which recipes a
run needs, and a real ``assistant finetune`` run on a tiny model when one is missing."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from tiny_models import build_tiny_model

from eval.config import EvalConfigError, load_config
from eval.recipes import missing_recipes, train_missing
from eval.results import EvalError

CONFIG = """
[questions]
path = "qa.jsonl"
[adapters]
registry = "registry"
[adapters.recipes.closed]
mode = "closed-book"
data = "train.jsonl"
args = ["--max-steps", "1"]
[adapters.recipes.grounded]
mode = "grounded"
data = "train.jsonl"
index = "eval"
[setups.base]
[setups.finetune]
adapter = "closed"
[setups.pinned]
adapter = "closed@v3"
"""


def _config(tmp_path: Path, text: str = CONFIG):
    (tmp_path / "qa.jsonl").write_text(json.dumps({"question": "q?", "answer": "a"}) + "\n")
    path = tmp_path / "eval.toml"
    path.write_text(text)
    return load_config(path)


def test_recipes_parse_with_paths_from_the_config_folder(tmp_path):
    config = _config(tmp_path)
    closed = config.recipes["closed"]
    assert closed.mode == "closed-book" and closed.data == tmp_path / "train.jsonl"
    assert closed.split == "train" and closed.args == ("--max-steps", "1")
    command = closed.command(tmp_path / "registry")
    assert command[:3] == ["finetune", "--name", "closed"] and "--promote" in command
    assert "--index" not in command
    grounded = config.recipes["grounded"].command(tmp_path / "reg", tmp_path / "idx")
    assert grounded[grounded.index("--index") + 1] == str(tmp_path / "idx")


@pytest.mark.parametrize(("recipe", "message"), [
    ('mode = "closed-book"', "data is required"),
    ('mode = "closed-book"\ndata = "t.jsonl"\nsplit = "test"', "never the evaluated"),
    ('mode = "closed-book"\ndata = "t.jsonl"\nargs = ["--name", "x"]', "must not repeat"),
    ('mode = "closed-book"\ndata = "t.jsonl"\nargs = "--epochs 2"', "list of strings"),
    ('mode = "closed-book"\ndata = "t.jsonl"\nepochs = 2', "unknown key 'epochs'"),
])
def test_bad_recipes_name_what_is_wrong(tmp_path, recipe, message):
    text = f'[questions]\npath = "qa.jsonl"\n[adapters.recipes.x]\n{recipe}\n[setups.base]\n'
    with pytest.raises(EvalConfigError, match=message):
        _config(tmp_path, text)


def test_only_missing_unpinned_adapters_with_a_recipe_are_trained(tmp_path):
    config = _config(tmp_path)
    # "closed" is missing and has a recipe; "closed@v3" is pinned: never retrained
    assert [r.name for r in missing_recipes(config, tmp_path / "registry")] == ["closed"]
    calls, built = [], []

    def fake_run(command, check):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0)

    trained = train_missing(config, tmp_path / "registry", tmp_path / "idx",
                            build_index=lambda: built.append(1), run=fake_run)
    assert list(trained) == ["closed"] and trained["closed"]["command"][1] == "finetune"
    assert calls[0][:3] == [sys.executable, "-m", "assistant.cli"] and built == []


def test_a_failed_training_is_an_error_naming_the_recipe(tmp_path):
    config = _config(tmp_path)
    with pytest.raises(EvalError, match=r"recipes.closed.*exit status 2"):
        train_missing(config, tmp_path / "registry", tmp_path / "idx",
                      run=lambda command, check: subprocess.CompletedProcess(command, 2))


def test_a_grounded_recipe_builds_the_index_first(tmp_path):
    config = _config(tmp_path, CONFIG.replace('adapter = "closed"\n', 'adapter = "grounded"\n'))
    built = []
    train_missing(config, tmp_path / "registry", tmp_path / "idx",
                  build_index=lambda: built.append(1),
                  run=lambda command, check: subprocess.CompletedProcess(command, 0))
    assert built == [1]


def test_a_missing_adapter_is_really_trained_and_then_found(tmp_path):
    """The real command on a tiny model: afterwards the registry serves the adapter."""
    model = build_tiny_model(tmp_path / "tiny", "refund window days thirty the is what")
    rows = [{"question": f"what is the refund window {i}", "answer": "thirty days",
             "split": "train"} for i in range(8)]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    text = CONFIG.replace('args = ["--max-steps", "1"]',
                          f'args = ["--max-steps", "1", "--model", "{model}", "--val-fraction",'
                          ' "0", "--target-modules", "q_proj,v_proj"]')
    text = text.replace('[setups.pinned]\nadapter = "closed@v3"\n', "")
    config = _config(tmp_path, text)
    trained = train_missing(config, tmp_path / "registry", tmp_path / "idx")
    assert list(trained) == ["closed"] and trained["closed"]["seconds"] > 0
    assert missing_recipes(config, tmp_path / "registry") == []
    assert (tmp_path / "registry" / "closed" / "v0001" / "adapter_config.json").is_file()


def test_split_override_runs_the_dev_questions_under_another_hash(tmp_path):
    from eval.cli import with_split

    config = _config(tmp_path)
    dev = with_split(config, "dev")
    assert dev.questions.split == "dev" and config.questions.split == "test"
    assert dev.hash != config.hash and dev.recipes == config.recipes


def test_a_setup_can_answer_evidence_first(tmp_path):
    text = CONFIG.replace("[setups.base]\n", "[setups.base]\nevidence_first = false\n")
    config = _config(tmp_path, text)
    assert [s.evidence_first for s in config.setups] == [False, True, True]
    with pytest.raises(EvalConfigError, match="evidence_first must be true or false"):
        bad = CONFIG.replace("[setups.base]\n", '[setups.base]\nevidence_first = "yes"\n')
        _config(tmp_path, bad)


def test_a_setup_can_answer_without_generating(tmp_path):
    (tmp_path / "docs").mkdir()
    text = CONFIG.replace("[setups.finetune]\n",
                          "[setups.finetune]\nretrieval = true\ngenerate = false\n")
    config = _config(tmp_path, '[corpus]\nkind = "docs"\ndocs = "docs"\n' + text)
    assert [s.generate for s in config.setups] == [True, False, True]
    with pytest.raises(EvalConfigError, match="generate = false answers only by extracting"):
        _config(tmp_path, CONFIG.replace("[setups.base]\n", "[setups.base]\ngenerate = false\n"))


def test_a_setup_can_have_a_unit_judge(tmp_path):
    (tmp_path / "docs").mkdir()
    text = CONFIG.replace("[setups.finetune]\n", "[setups.finetune]\nretrieval = true\n"
                          'judge = "judges/qwen1.5b.gguf"\njudge_min_p = 0.7\n')
    config = _config(tmp_path, '[corpus]\nkind = "docs"\ndocs = "docs"\n' + text)
    judged = [(s.judge, s.judge_min_p) for s in config.setups]
    assert judged == [(None, 0.5), ("judges/qwen1.5b.gguf", 0.7), (None, 0.5)]
    with pytest.raises(EvalConfigError, match="judge picks among evidence units"):
        _config(tmp_path, CONFIG.replace("[setups.base]\n", '[setups.base]\njudge = "m"\n'))
    with pytest.raises(EvalConfigError, match="judge_min_p must be in"):
        _config(tmp_path, CONFIG.replace("[setups.base]\n", "[setups.base]\njudge_min_p = 2.0\n"))


def test_a_setup_can_generate_before_extracting(tmp_path):
    text = CONFIG.replace("[setups.base]\n", "[setups.base]\nextract_first = false\n")
    config = _config(tmp_path, text)
    assert [s.extract_first for s in config.setups] == [False, True, True]
    with pytest.raises(EvalConfigError, match="extract_first must be true or false"):
        bad = CONFIG.replace("[setups.base]\n", '[setups.base]\nextract_first = 1\n')
        _config(tmp_path, bad)
