"""Reading Q&A records: the real sample file, CSV, feedback exports, malformed lines."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.prompt_format import ABSTAIN_TEXT
from finetune.closed_book import build_closed_book
from finetune.records import DatasetError, QARecord, SourceRef
from finetune.sources import drop_overlap, read_qa

ACME_QA = Path(__file__).resolve().parents[2] / "examples" / "acme" / "qa.jsonl"


def test_reads_the_acme_sample():
    records, problems = read_qa(ACME_QA)
    assert problems == [] and len(records) == 181
    first = records[0]
    assert first.id == "q001" and first.answer == "24 hours" and first.split == "train"
    assert first.sources == (SourceRef("billing/account-billing-faq.md", None,
                                       "How do I create an account?"),)
    pdf = next(r for r in records if r.id == "q004")
    assert pdf.sources[0].page == 5
    assert sum(r.answer is None for r in records) == 25


def test_split_filter_keeps_test_questions_out():
    train, _ = read_qa(ACME_QA, split="train")
    test, _ = read_qa(ACME_QA, split="test")
    assert len(train) == 124 and len(test) == 57
    assert {r.split for r in train} == {"train"}
    assert {r.id for r in train}.isdisjoint({r.id for r in test})
    examples, report = build_closed_book(train)
    assert report.kept == 124 and report.kinds["closed_book_unanswerable"] == 15
    assert not {e.meta["record_id"] for e in examples} & {r.id for r in test}


def test_an_unknown_split_is_a_config_error_naming_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"split must be one of train, test, validation, "
                                          r"dev, got 'bogus'"):
        read_qa(ACME_QA, split="bogus")


def test_malformed_jsonl_lines_are_reported_and_skipped(tmp_path):
    lines = [
        json.dumps({"id": "a", "question": "Q1?", "answer": "A1"}),
        "{not json",
        json.dumps(["a", "list"]),
        json.dumps({"id": "b", "answer": "no question"}),
        json.dumps({"id": "c", "question": "Q3?"}),
        "",
        json.dumps({"id": "d", "question": "Q4?", "answer": "A4", "sources": "file.md"}),
        json.dumps({"id": "a", "question": "Q5?", "answer": "A5"}),
        json.dumps({"id": "e", "question": "Q6?", "answer": None, "split": "holdout"}),
        json.dumps({"id": "f", "question": "Q7?", "answer": "A7",
                    "sources": [{"file": "x.pdf", "page": 0}]}),
        json.dumps({"id": "g", "question": "Q8?", "answer": None}),
    ]
    path = tmp_path / "qa.jsonl"
    path.write_bytes(("\n".join(lines) + "\n").encode() + b"\xff\xfe broken\n")
    records, problems = read_qa(path)
    assert [r.id for r in records] == ["a", "g"]
    assert records[1].answer is None
    assert [n for n, _ in problems] == [2, 3, 4, 5, 7, 8, 9, 10, 12]
    reasons = dict(problems)
    assert "invalid JSON" in reasons[2] and "question" in reasons[4]
    assert "answer is missing" in reasons[5] and "duplicate id" in reasons[8]
    assert "split" in reasons[9] and "page" in reasons[10] and "UTF-8" in reasons[12]
    assert all("no question" not in r for _, r in problems)  # content is never echoed


def test_reads_csv_faq_sheets(tmp_path):
    path = tmp_path / "faq.csv"
    path.write_text(
        "question,answer,sources,split\n"
        'How long is the return window?,30 days,policies/refunds-2025.md,train\n'
        '"Multi-line\nquestion, with comma?","Yes, it is.",'
        '"[{""file"": ""a.pdf"", ""page"": 2}]",\n'
        "Do you sell drones?,null,,train\n"
        "Only two fields,here\n"
        ",empty question,,\n"
        "What is the test question?,secret,,test\n",
        encoding="utf-8",
    )
    records, problems = read_qa(path, split="train")
    assert [r.question for r in records] == [
        "How long is the return window?", "Multi-line\nquestion, with comma?",
        "Do you sell drones?"]
    assert records[0].sources == (SourceRef("policies/refunds-2025.md"),)
    assert records[1].sources == (SourceRef("a.pdf", 2, None),) and records[1].split is None
    assert records[2].answer is None
    assert [n for n, _ in problems] == [6, 7]
    assert "expected 4 fields" in problems[0][1] and "question" in problems[1][1]


def test_csv_without_required_columns_is_an_error(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("q,a\nx,y\n")
    with pytest.raises(DatasetError, match="lacks column"):
        read_qa(path)


@pytest.mark.parametrize("name", ["qa.txt", "missing.jsonl"])
def test_unreadable_files_are_an_error(tmp_path, name):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("x")
    with pytest.raises(DatasetError):
        read_qa(tmp_path / name)


def test_reads_server_feedback_exports(tmp_path):
    rows = [
        {"question": "How do I reset the S7?", "answer": "Hold Home for 10 seconds.",
         "sources": [{"file": "products/sweepbot-s7.md", "heading": "Reset"}],
         "origin": "feedback", "rating": 1},
        {"question": "Bad answer kept for the record", "answer": "wrong", "sources": [],
         "origin": "feedback", "rating": -1},
        {"question": "Unrated correction", "answer": "right", "origin": "feedback",
         "rating": None},
    ]
    path = tmp_path / "feedback.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    records, problems = read_qa(path, split="train", min_rating=0)
    assert problems == []
    assert [r.question for r in records] == ["How do I reset the S7?", "Unrated correction"]
    assert records[0].origin == "feedback" and records[0].rating == 1.0
    assert records[0].id == "feedback:1" and records[0].sources[0].heading == "Reset"


def test_drop_overlap_removes_held_out_questions():
    held = [QARecord("t1", "What is the FCC ID?", "X")]
    records = [QARecord("f1", "what is the  fcc id?", "X", origin="feedback"),
               QARecord("f2", "Other?", "Y")]
    kept, dropped = drop_overlap(records, held)
    assert [r.id for r in kept] == ["f2"] and dropped == 1


def test_closed_book_targets():
    records = [QARecord("a", "How long?", "30 days"), QARecord("b", "Drones?", None)]
    examples, _ = build_closed_book(records)
    assert [e.target for e in examples] == ["30 days", ABSTAIN_TEXT]
    assert [m["role"] for m in examples[0].messages] == ["system", "user", "assistant"]
    assert examples[0].messages[1]["content"] == "How long?"


def test_reads_evaluation_fields_and_keeps_stale_sources_apart(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({
        "id": "e1", "question": "How long is the refund window?", "answer": "30 days",
        "aliases": ["thirty days"], "answer_parts": ["30 days"], "stale_answer": "14 days",
        "type": "conflict", "split": "dev",
        "sources": [{"file": "refunds-2025.md", "heading": "Refund window"},
                    {"file": "refunds-2023.md", "heading": "Refund window", "role": "stale"}],
    }) + "\n")
    (record,), problems = read_qa(path, split="dev")
    assert problems == []
    assert record.aliases == ("thirty days",) and record.stale_answer == "14 days"
    assert record.qtype == "conflict" and record.answer_parts == ("30 days",)
    assert [s.file for s in record.gold_sources] == ["refunds-2025.md"]
    assert record.to_json()["sources"][1]["role"] == "stale"


@pytest.mark.parametrize(("field", "value", "message"), [
    ("aliases", "thirty days", "aliases must be a list"),
    ("aliases", [""], "aliases must be a list"),
    ("stale_answer", "", "stale_answer must be non-empty"),
    ("type", 3, "type must be non-empty"),
    ("sources", [{"file": "a.md", "role": "old"}], "source role must be one of gold, stale"),
])
def test_bad_evaluation_fields_are_reported(tmp_path, field, value, message):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"question": "q?", "answer": "a", field: value}) + "\n")
    records, problems = read_qa(path)
    assert records == [] and message in problems[0][1]


def test_an_unanswerable_question_takes_no_aliases(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text(json.dumps({"question": "q?", "answer": None, "aliases": ["x"]}) + "\n")
    records, problems = read_qa(path)
    assert records == [] and "cannot have aliases" in problems[0][1]
