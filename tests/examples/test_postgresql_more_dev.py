"""Checks for the 60 fresh PostgreSQL dev questions (``examples/postgresql/
more_dev_questions.jsonl``), written after the extraction rules to see how they carry to
questions nobody tuned for: the same rules as ``questions.jsonl`` (answers under the cited
heading, unanswerable terms on no page), all dev, and no fact or near-copy of a question
already in ``questions.jsonl`` or ``train_qa.jsonl``."""

from __future__ import annotations

import json
from functools import cache

from pg_manual import HTML, headings, needs_manual, norm, page_text, pages_with_term, section_text
from test_postgresql_questions import EXAMPLE, KEYS, MAX_ANSWER_CHARS, TYPES
from test_postgresql_train_qa import MAX_JACCARD, facts, jaccard

MORE = EXAMPLE / "more_dev_questions.jsonl"


@cache
def rows() -> tuple[dict, ...]:
    return tuple(json.loads(line) for line in MORE.read_text(encoding="utf-8").splitlines()
                 if line.strip())


@cache
def earlier() -> tuple[dict, ...]:
    out = []
    for name in ("questions.jsonl", "train_qa.jsonl"):
        lines = (EXAMPLE / name).read_text(encoding="utf-8").splitlines()
        out += [json.loads(line) for line in lines if line.strip()]
    return tuple(out)


def test_sixty_dev_rows_with_the_schema():
    assert [r["id"] for r in rows()] == [f"pgd{i:03d}" for i in range(1, 61)]
    assert len({norm(r["question"]) for r in rows()}) == 60
    for r in rows():
        assert set(r) >= KEYS and r["split"] == "dev", r["id"]
        assert r["type"] in TYPES, r["id"]
        if r["type"] == "unanswerable":
            assert r["answer"] is None and r["sources"] == [], r["id"]
            assert r["why_unanswerable"] and 1 <= len(r["absent_terms"]) <= 3, r["id"]
        else:
            assert 0 < len(r["answer"]) <= MAX_ANSWER_CHARS and r["sources"], r["id"]
    assert sum(r["type"] == "unanswerable" for r in rows()) == 10


def test_no_row_repeats_an_earlier_fact_or_question():
    known = {fact: e["id"] for e in earlier() for fact in facts(e)}
    for r in rows():
        assert not facts(r) & known.keys(), (r["id"], sorted(facts(r) & known.keys()))
        close = [e["id"] for e in earlier() if jaccard(r["question"], e["question"]) >= MAX_JACCARD]
        assert not close, (r["id"], close)


@needs_manual
def test_answers_occur_under_the_cited_headings():
    for r in rows():
        for source in r["sources"]:
            assert (HTML / source["file"]).is_file(), (r["id"], source["file"])
            assert norm(source["heading"]) in headings(source["file"]), (r["id"], source)
            assert norm(r["answer"]) in section_text(source["file"], source["heading"]), r["id"]
            assert norm(r["answer"]) in page_text(source["file"]), r["id"]


@needs_manual
def test_unanswerable_terms_occur_on_no_page():
    for r in rows():
        for term in r.get("absent_terms", []):
            assert not pages_with_term(term), (r["id"], term)
