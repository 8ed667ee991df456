"""The shipped eval configs load, name the four setups, and point at real data."""

from __future__ import annotations

from pathlib import Path

import pytest
from shared_data import SHARED_DATA

from eval.config import load_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.mark.parametrize("name", ["acme", "pubmedqa", "postgresql"])
def test_example_config_loads_with_four_setups(name):
    config = load_config(EXAMPLES / name / "eval.toml")
    assert [s.name for s in config.setups] == ["base", "rag", "finetune", "combined"]
    by_name = {s.name: s for s in config.setups}
    assert not by_name["base"].retrieval and by_name["base"].adapter is None
    assert by_name["rag"].retrieval and by_name["rag"].adapter is None
    assert not by_name["finetune"].retrieval and by_name["finetune"].adapter
    assert by_name["combined"].retrieval and by_name["combined"].adapter
    if name in ("acme", "postgresql"):  # the unit-trained adapter, served on units
        combined = by_name["combined"]
        assert combined.evidence_first
        assert config.recipes[combined.adapter].mode == "grounded-units"


def test_acme_config_points_inside_the_checkout():
    config = load_config(EXAMPLES / "acme" / "eval.toml")
    assert config.questions.path == EXAMPLES / "acme" / "eval_questions.jsonl"
    assert config.questions.path.is_file() and config.questions.split == "test"
    # every adapter a setup names can be trained from a recipe on the train data
    for setup in config.setups:
        if setup.adapter:
            recipe = config.recipes[setup.adapter]
            assert recipe.data.is_file() and recipe.split == "train"


def test_postgresql_adapters_are_trained_on_its_own_train_questions():
    config = load_config(EXAMPLES / "postgresql" / "eval.toml")
    by_name = {s.name: s for s in config.setups}
    assert by_name["finetune"].adapter == "pg-closed-book"
    assert by_name["combined"].adapter == "pg-units" and by_name["combined"].evidence_first
    assert config.recipes["pg-closed-book"].mode == "closed-book"
    units = config.recipes["pg-units"]
    assert units.mode == "grounded-units" and units.index == "eval"
    for setup in config.setups:
        if setup.adapter:
            recipe = config.recipes[setup.adapter]
            assert recipe.data == EXAMPLES / "postgresql" / "train_qa.jsonl"
            assert recipe.data.is_file() and recipe.split == "train"
    # the same training settings as the Acme recipes they follow
    acme = load_config(EXAMPLES / "acme" / "eval.toml").recipes
    assert config.recipes["pg-closed-book"].args == acme["acme-closed-book"].args
    assert units.args == acme["acme-units"].args


def test_pubmedqa_config_points_at_the_shared_data_beside_the_checkout():
    config = load_config(EXAMPLES / "pubmedqa" / "eval.toml")
    if not (SHARED_DATA / "pubmedqa").is_dir():
        pytest.skip(f"shared PubMedQA data not available: {SHARED_DATA}")
    assert config.questions.path.resolve() == (SHARED_DATA / "pubmedqa").resolve()


REPORTS = EXAMPLES.parent / "eval" / "reports"


@pytest.mark.parametrize("config_path", sorted(REPORTS.rglob("eval.toml")),
                         ids=lambda p: str(p.parent.relative_to(REPORTS)))
def test_committed_report_configs_load_and_name_the_setups_they_report(config_path):
    import json

    config = load_config(config_path)
    summary = config_path.parent / "summary.json"
    if not summary.is_file():
        pytest.skip(f"{config_path.parent.name}: no report committed yet")
    data = json.loads(summary.read_text())
    reported, skipped = set(data["setups"]), set(data.get("skipped_setups") or {})
    assert {s.name for s in config.setups} == reported | skipped and not reported & skipped
