"""The feedback store on its own: durable answers and ratings, export as training data."""

from __future__ import annotations

import json
import sqlite3

import pytest

from assistant.answering.records import Answer, Citation
from assistant.feedback import FeedbackStore, UnknownAnswerError, export_feedback
from core.errors import AssistantError, ConfigError


def _answer(question: str, text: str) -> Answer:
    cite = Citation(n=1, chunk_id="c1", source="policies/refunds.md", page_index=None,
                    page_label=None, heading="Refunds", quote="30 days", support=0.9)
    pdf = Citation(n=2, chunk_id="c2", source="manual.pdf", page_index=2, page_label="2",
                   heading="", quote="Hold the button", support=0.8)
    return Answer(question=question, answer=text, abstained=False, citations=(cite, pdf, cite),
                  adapter="support@v2")


def test_feedback_survives_reopen_and_exports_training_records(tmp_path):
    db = tmp_path / "state" / "feedback.sqlite3"
    store = FeedbackStore(db)
    good, bad, unrated, dropped = (_answer(f"q{i}?", f"a{i} [1]") for i in range(4))
    for a in (good, bad, unrated, dropped):
        store.save_answer(a)
    store.add_feedback(good.id, 1)
    store.add_feedback(bad.id, 1)
    store.add_feedback(bad.id, -1, correction="  The right answer [1].  ")  # latest wins
    store.add_feedback(dropped.id, -1)  # bad and no correction: nothing to learn from
    store.close()
    assert sqlite3.connect(db).execute("PRAGMA journal_mode").fetchone()[0] == "wal"

    reopened = FeedbackStore(db)
    assert reopened.get_answer(good.id)["answer"] == good.answer
    assert [f.rating for f in reopened.feedback_for(bad.id)] == [1, -1]
    reopened.close()

    out = tmp_path / "export" / "feedback.jsonl"
    assert export_feedback(db, out) == 2
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0] == {
        "id": f"feedback-{good.id}", "question": "q0?", "answer": "a0 [1]",
        "sources": [{"file": "policies/refunds.md", "page": None, "heading": "Refunds"},
                    {"file": "manual.pdf", "page": 2, "heading": None}],
        "origin": "feedback", "rating": 1, "answer_id": good.id,
    }
    assert rows[1]["answer"] == "The right answer [1]." and rows[1]["rating"] == -1
    assert export_feedback(db, out, min_rating=1) == 1  # only the positively rated one


def test_bad_feedback_is_refused_and_nothing_is_stored(tmp_path):
    store = FeedbackStore(tmp_path / "f.sqlite3")
    answer = _answer("q?", "a")
    store.save_answer(answer)
    with pytest.raises(UnknownAnswerError, match="nope"):
        store.add_feedback("nope", 1)
    for rating in (0, 2, 5, True):
        with pytest.raises(ConfigError, match="rating"):
            store.add_feedback(answer.id, rating)
    with pytest.raises(ConfigError, match="correction"):
        store.add_feedback(answer.id, -1, correction="   ")
    assert store.feedback_for(answer.id) == []


def test_export_of_a_missing_or_foreign_file_is_a_clear_error(tmp_path):
    with pytest.raises(AssistantError, match="no feedback database"):
        export_feedback(tmp_path / "missing.sqlite3", tmp_path / "out.jsonl")
    junk = tmp_path / "junk.sqlite3"
    junk.write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(AssistantError, match="cannot open"):
        export_feedback(junk, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_a_liked_answer_exports_its_text_without_marks_and_an_abstention_as_one(tmp_path):
    """Found by the walkthrough: the span's ** marks and the refusal shown with related
    passages went into the training records."""
    from dataclasses import replace

    from core.prompt_format import ABSTAIN_TEXT

    db = tmp_path / "feedback.sqlite3"
    store = FeedbackStore(db)
    marked = _answer("What does Plus cost?", "**$12.99 per month** or $129 per year [1]")
    declined = replace(_answer("Who is the CEO?", "No sentence in the documents answers "
                                                  "this directly; related passages: ..."),
                       abstained=True, citations=())
    for a in (marked, declined):
        store.save_answer(a)
        store.add_feedback(a.id, 1)
    store.close()
    out = tmp_path / "out.jsonl"
    assert export_feedback(db, out) == 2
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["answer"] == "$12.99 per month or $129 per year [1]"
    assert rows[1]["answer"] == ABSTAIN_TEXT and rows[1]["sources"] == []
