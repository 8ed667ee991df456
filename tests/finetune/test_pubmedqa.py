"""PubMedQA: train only on the 500 questions outside the official test split."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from shared_data import SHARED_DATA

from core.errors import ConfigError
from core.prompt_format import ABSTAIN_TEXT
from finetune.pubmedqa import (
    PubMedQAConfig,
    build_pubmedqa_closed_book,
    build_pubmedqa_examples,
    load_pubmedqa,
)
from finetune.records import DatasetError

SHARED = SHARED_DATA / "pubmedqa"


@pytest.fixture(scope="module")
def real_dir() -> Path:
    if not (SHARED / "ori_pqal.json").is_file():
        pytest.skip(f"shared PubMedQA data not available: {SHARED}")
    return SHARED


def make_dir(tmp_path: Path, n: int = 6, test_ids=("3", "4")) -> Path:
    data = {
        str(i): {
            "QUESTION": f"Does treatment {i} work?",
            "CONTEXTS": [f"Background of study {i}.", f"Results of study {i} were clear."],
            "LABELS": ["BACKGROUND", "RESULTS"],
            "LONG_ANSWER": f"Treatment {i} works in adults.",
            "final_decision": ["yes", "no", "maybe"][i % 3],
        }
        for i in range(n)
    }
    (tmp_path / "ori_pqal.json").write_text(json.dumps(data))
    (tmp_path / "test_ground_truth.json").write_text(
        json.dumps({i: data[i]["final_decision"] for i in test_ids}))
    return tmp_path


def test_real_test_split_never_reaches_training(real_dir):
    train = load_pubmedqa(real_dir, "train")
    test = load_pubmedqa(real_dir, "test")
    official = set(json.loads((real_dir / "test_ground_truth.json").read_text()))
    assert len(train) == 500 and len(test) == 500
    assert {i.id for i in test} == official
    assert not {i.id for i in train} & official
    examples, report = build_pubmedqa_examples(train, PubMedQAConfig(distractors=3, seed=0))
    assert report.kept == 500
    test_questions = {i.question for i in test}
    # (a few boilerplate contexts, such as "Case series.", occur in both splits)
    test_contexts = {c for i in test for c in i.contexts if len(c) > 100}
    for example in examples:
        assert example.meta["record_id"] not in official
        assert not set(example.meta["distractor_ids"]) & official
        assert example.messages[1]["content"].rsplit("Question: ", 1)[1] not in test_questions
        assert not any(c in example.messages[1]["content"] for c in test_contexts)


def test_targets_give_the_decision_and_cite_the_gold_contexts(tmp_path):
    items = load_pubmedqa(make_dir(tmp_path), "train")
    assert [i.id for i in items] == ["0", "1", "2", "5"]
    examples, _ = build_pubmedqa_examples(items, PubMedQAConfig(distractors=2, seed=1))
    for item, example in zip(items, examples, strict=True):
        user = example.messages[1]["content"]
        positions = example.meta["gold_positions"]
        assert len(positions) == 2 and len(re.findall(r"^\[\d+\] Source", user, re.M)) == 4
        for n, context in zip(positions, item.contexts, strict=True):
            assert re.search(rf"^\[{n}\] Source: PubMed abstract.*\n{re.escape(context)}", user,
                             re.M)
        markers = "".join(f"[{n}]" for n in positions)
        assert example.target == (f"{item.decision.capitalize()}. "
                                  f"{item.long_answer[:-1]} {markers}.")


def test_without_gold_the_target_is_the_abstention(tmp_path):
    items = load_pubmedqa(make_dir(tmp_path), "train")
    examples, report = build_pubmedqa_examples(items, PubMedQAConfig(p_gold=0.5, seed=0))
    assert report.gold_present == 2 and report.gold_fraction == 0.5
    for item, example in zip(items, examples, strict=True):
        if not example.meta["gold_positions"]:
            assert example.target == ABSTAIN_TEXT
            assert not any(c in example.messages[1]["content"] for c in item.contexts)


def test_bad_files_are_clear_errors(tmp_path):
    with pytest.raises(DatasetError, match="no such file"):
        load_pubmedqa(tmp_path)
    make_dir(tmp_path)
    (tmp_path / "test_ground_truth.json").write_text(json.dumps({"99": "yes"}))
    with pytest.raises(DatasetError, match="not in ori_pqal.json"):
        load_pubmedqa(tmp_path)
    (tmp_path / "ori_pqal.json").write_text("{broken")
    with pytest.raises(DatasetError, match="not valid JSON"):
        load_pubmedqa(tmp_path)
    with pytest.raises(ConfigError, match="split"):
        load_pubmedqa(tmp_path, "validation")
    with pytest.raises(ConfigError, match="p_gold"):
        PubMedQAConfig(p_gold=2.0)


def test_closed_book_examples_carry_the_decision_without_passages(tmp_path):
    items = load_pubmedqa(make_dir(tmp_path), "train")
    examples, report = build_pubmedqa_closed_book(items)
    assert report.kept == len(items) == 4
    for example, item in zip(examples, items, strict=True):
        system, user, target = example.messages
        assert user["content"] == item.question
        assert "Passages" not in user["content"] and "[1]" not in target["content"]
        assert target["content"] == f"{item.decision.capitalize()}. {item.long_answer}"
