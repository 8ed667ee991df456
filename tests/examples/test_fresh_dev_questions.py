"""Checks for the two fresh dev question sets (``examples/acme/fresh_dev_questions.jsonl`` and
``examples/postgresql/fresh_dev_questions.jsonl``): 80 questions each, written from the
documents alone (without the code or any other question file). Every row is a dev row with the
schema of the other sets; every gold answer is under its cited heading (on its cited page for a
PDF), a yes/no row carries a verbatim ``evidence`` phrase from that section instead, a stale
answer is a value some document states, and the terms an unanswerable question names occur in
no document (PDFs included)."""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

import pytest
from pg_manual import HTML, headings, needs_manual, page_text, pages_with_term, section_text
from pg_manual import norm as pg_norm
from test_examples import ACME, _source_text, all_docs, norm, pdf_reader

ROOT = Path(__file__).resolve().parents[2]
FILES = {"acme": (ROOT / "examples" / "acme" / "fresh_dev_questions.jsonl", "ef"),
         "postgresql": (ROOT / "examples" / "postgresql" / "fresh_dev_questions.jsonl", "pgf")}
KEYS = {"id", "question", "answer", "aliases", "stale_answer", "sources", "split", "type"}
SOURCE_KEYS = {"file", "page", "page_label", "heading"}
TYPES = {"factoid", "how_to", "yes_no", "conversational", "config_default", "unanswerable"}
COUNT, UNANSWERABLE = 80, 15


@cache
def rows(corpus: str) -> tuple[dict, ...]:
    path = FILES[corpus][0]
    return tuple(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip())


def needle(row: dict) -> str:
    """What must occur in the cited section: the answer, or a yes/no row's evidence."""
    return row["evidence"] if row["type"] == "yes_no" else row["answer"]


@cache
def acme_texts() -> tuple[str, ...]:
    """Normalised text of every Acme document, PDFs included."""
    texts = []
    for path in all_docs():
        if path.suffix == ".pdf":
            rel = str(path.relative_to(ACME / "docs"))
            texts.append(norm(" ".join(p.extract_text() for p in pdf_reader(rel).pages)))
        else:
            texts.append(norm(path.read_text(encoding="utf-8", errors="ignore")))
    return tuple(texts)


@pytest.mark.parametrize("corpus", sorted(FILES))
def test_eighty_dev_rows_with_the_schema(corpus):
    prefix = FILES[corpus][1]
    assert [r["id"] for r in rows(corpus)] == [f"{prefix}{i:03d}" for i in range(1, COUNT + 1)]
    assert len({norm(r["question"]) for r in rows(corpus)}) == COUNT
    for r in rows(corpus):
        assert set(r) >= KEYS and r["split"] == "dev" and r["type"] in TYPES, r["id"]
        assert isinstance(r["aliases"], list), r["id"]
        if r["type"] == "unanswerable":
            assert r["answer"] is None and r["sources"] == [] and r["aliases"] == [], r["id"]
            assert r["stale_answer"] is None, r["id"]
            assert r["why_unanswerable"] and 1 <= len(r["absent_terms"]) <= 4, r["id"]
        else:
            assert r["answer"].strip() and r["sources"], r["id"]
            assert all(set(s) == SOURCE_KEYS for s in r["sources"]), r["id"]
        if r["type"] == "yes_no":
            assert r["answer"] in {"yes", "no"} and r["evidence"].strip(), r["id"]
        if corpus == "postgresql":
            assert r["stale_answer"] is None, r["id"]
    assert sum(r["type"] == "unanswerable" for r in rows(corpus)) == UNANSWERABLE


def test_acme_answers_occur_under_their_headings():
    for r in rows("acme"):
        for source in r["sources"]:
            section, _ = _source_text(source)
            assert norm(needle(r)) in section, (r["id"], source)
            if source["page"] is not None:
                labels = pdf_reader(source["file"]).page_labels
                assert labels[source["page"] - 1] == source["page_label"], (r["id"], source)
            else:
                assert source["page_label"] is None, (r["id"], source)


def test_acme_stale_answers_are_stated_by_some_document():
    stale = [r for r in rows("acme") if r["stale_answer"] is not None]
    assert stale
    for r in stale:
        assert norm(r["stale_answer"]) != norm(r["answer"]), r["id"]
        assert any(norm(r["stale_answer"]) in t for t in acme_texts()), r["id"]


def test_acme_unanswerable_terms_occur_in_no_document():
    for r in rows("acme"):
        for term in r.get("absent_terms", []):
            assert not any(norm(term) in t for t in acme_texts()), (r["id"], term)
    assert ACME.is_dir()


@needs_manual
def test_postgresql_answers_occur_under_their_headings():
    for r in rows("postgresql"):
        for source in r["sources"]:
            assert (HTML / source["file"]).is_file(), (r["id"], source["file"])
            assert source["page"] is None and source["page_label"] is None, r["id"]
            assert pg_norm(source["heading"]) in headings(source["file"]), (r["id"], source)
            text = pg_norm(needle(r))
            assert text in section_text(source["file"], source["heading"]), r["id"]
            assert text in page_text(source["file"]), r["id"]


@needs_manual
def test_postgresql_unanswerable_terms_occur_on_no_page():
    for r in rows("postgresql"):
        for term in r.get("absent_terms", []):
            assert not pages_with_term(term), (r["id"], term)
