"""Checks for the two holdout test sets (``examples/acme/holdout_questions.jsonl`` and
``examples/postgresql/holdout_questions.jsonl``): 60 questions each, written on December 5
from the documents alone (without the code or any other question file) and never tuned on.
Every row is a test row with the schema of the other sets; every gold answer is under its
cited heading (on its cited page for a PDF), and the terms an unanswerable question names
occur in no document."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from pg_manual import HTML, headings, needs_manual, page_text, pages_with_term, section_text
from pg_manual import norm as pg_norm
from test_examples import ACME, _source_text, norm
from test_fresh_dev_questions import KEYS, TYPES, acme_texts

ROOT = Path(__file__).resolve().parents[2]
FILES = {"acme": (ROOT / "examples" / "acme" / "holdout_questions.jsonl", "eh"),
         "postgresql": (ROOT / "examples" / "postgresql" / "holdout_questions.jsonl", "pgh")}


@cache
def rows(corpus: str) -> tuple[dict, ...]:
    path = FILES[corpus][0]
    return tuple(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip())


@pytest.mark.parametrize("corpus", sorted(FILES))
def test_sixty_test_rows_with_the_schema(corpus):
    prefix = FILES[corpus][1]
    assert [r["id"] for r in rows(corpus)] == [f"{prefix}{i:03d}" for i in range(1, 61)]
    assert len({norm(r["question"]) for r in rows(corpus)}) == 60
    for r in rows(corpus):
        assert set(r) >= KEYS and r["split"] == "test" and r["type"] in TYPES, r["id"]
        if r["type"] == "unanswerable":
            assert r["answer"] is None and r["sources"] == [] and r["aliases"] == [], r["id"]
            assert r["why_unanswerable"] and 1 <= len(r["absent_terms"]) <= 4, r["id"]
        else:
            assert r["answer"].strip() and r["sources"], r["id"]
    assert sum(r["type"] == "unanswerable" for r in rows(corpus)) == 10


def test_acme_answers_occur_under_their_headings():
    for r in rows("acme"):
        for source in r["sources"]:
            section, _ = _source_text(source)
            assert norm(r["answer"]) in section, (r["id"], source)


def test_acme_unanswerable_terms_occur_in_no_document():
    for r in rows("acme"):  # the text of every document, PDFs included
        for term in r.get("absent_terms", []):
            assert not any(norm(term) in t for t in acme_texts()), (r["id"], term)
    assert ACME.is_dir()


@needs_manual
def test_postgresql_answers_occur_under_their_headings():
    for r in rows("postgresql"):
        for source in r["sources"]:
            assert (HTML / source["file"]).is_file(), (r["id"], source["file"])
            assert pg_norm(source["heading"]) in headings(source["file"]), (r["id"], source)
            assert pg_norm(r["answer"]) in section_text(source["file"], source["heading"]), r["id"]
            assert pg_norm(r["answer"]) in page_text(source["file"]), r["id"]


@needs_manual
def test_postgresql_unanswerable_terms_occur_on_no_page():
    for r in rows("postgresql"):
        for term in r.get("absent_terms", []):
            assert not pages_with_term(term), (r["id"], term)
