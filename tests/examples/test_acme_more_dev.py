"""Checks for the 60 fresh Acme dev questions (``examples/acme/more_dev_questions.jsonl``),
written from the corpus alone, without looking at how the assistant answers, to see how its
answering carries to questions nobody tuned it for. The rows follow the schema and rules of
``eval_questions.jsonl`` (checked here with the helpers and checks of
``test_acme_eval_questions.py``), are all dev, and repeat no fact (same answer from the same
section) and no near-copy of a question of ``eval_questions.jsonl`` or ``qa.jsonl``.
Unanswerable rows also name the terms a grep finds in no document."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache

import pytest
import test_acme_eval_questions as acme
from test_examples import ACME, all_docs, load_qa, norm, pdf_reader, read_text
from test_postgresql_train_qa import MAX_JACCARD, facts

MORE = ACME / "more_dev_questions.jsonl"
COUNTS = {"factoid": 15, "paraphrase": 9, "unanswerable": 9, "conflict": 6, "table": 6,
          "multi": 8, "procedural": 7}


@cache
def rows() -> tuple[dict, ...]:
    lines = MORE.read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


@cache
def earlier() -> tuple[dict, ...]:
    return (*acme.load_eval(), *load_qa())


def acme_facts(row: dict) -> set[tuple[str, str, str]]:
    """``facts`` of the PostgreSQL sets, for rows whose heading may be None (a whole file)."""
    sources = [{**s, "heading": s["heading"] or ""} for s in row["sources"]]
    return facts({**row, "sources": sources})


ROWS = rows()
ANSWERABLE = [r for r in ROWS if r["answer"] is not None]
CONFLICT = [r for r in ROWS if r["type"] == "conflict"]
PARAPHRASE = [r for r in ROWS if r["type"] == "paraphrase"]


def test_sixty_dev_rows_with_the_schema():
    assert [r["id"] for r in ROWS] == [f"ed{i:03d}" for i in range(1, 61)]
    assert len({norm(r["question"]) for r in ROWS}) == 60
    for r in ROWS:
        rid = r["id"]
        assert set(r) >= acme.KEYS and r["split"] == "dev" and r["type"] in acme.TYPES, rid
        assert isinstance(r["aliases"], list) and all(a.strip() for a in r["aliases"]), rid
        assert len(set(map(norm, r["aliases"]))) == len(r["aliases"]), rid
        for src in r["sources"]:
            assert acme.SOURCE_KEYS <= set(src) <= acme.SOURCE_KEYS | {"role"}, rid
            assert src.get("role", "stale") == "stale", rid
        if r["type"] == "unanswerable":
            assert r["answer"] is None and r["sources"] == [] and r["aliases"] == [], rid
            assert r["stale_answer"] is None and "answer_parts" not in r, rid
            assert isinstance(r["why_unanswerable"], str) and len(r["why_unanswerable"]) > 20, rid
            assert 1 <= len(r["absent_terms"]) <= 3, rid
        else:
            assert isinstance(r["answer"], str) and r["answer"].strip(), rid
            assert acme.current_sources(r), rid
            assert norm(r["answer"]) not in map(norm, r["aliases"]), rid
            assert "why_unanswerable" not in r and "absent_terms" not in r, rid
        if r["type"] == "multi":
            assert len(r["answer_parts"]) >= 2 and r["answer"] in r["answer_parts"], rid
        else:
            assert "answer_parts" not in r, rid
        if r["type"] == "conflict":
            assert r["stale_answer"] and len(acme.stale_sources(r)) == 1, rid
        else:
            assert r["stale_answer"] is None and not acme.stale_sources(r), rid


def test_counts_per_type():
    assert Counter(r["type"] for r in ROWS) == COUNTS
    assert sum(r["type"] == "unanswerable" for r in ROWS) == 9


def test_no_row_repeats_an_earlier_fact_or_question():
    known = {fact: e["id"] for e in earlier() for fact in acme_facts(e)}
    for r in ROWS:
        repeated = acme_facts(r) & known.keys()
        assert not repeated, (r["id"], sorted((known[f], f) for f in repeated))
        close = [e["id"] for e in earlier()
                 if acme.jaccard(r["question"], e["question"]) >= MAX_JACCARD]
        assert not close, (r["id"], close)


def test_sources_exist_with_their_printed_page_labels():
    for r in ROWS:
        for src in r["sources"]:
            if src["file"].endswith(".pdf"):
                labels = pdf_reader(src["file"]).page_labels
                assert 1 <= src["page"] <= len(labels), (r["id"], src)
                assert labels[src["page"] - 1] == src["page_label"], (r["id"], src)
            else:
                assert src["page"] is None and src["page_label"] is None, (r["id"], src)
            acme.section_text(src)  # the file and heading exist


@pytest.mark.parametrize("record", ANSWERABLE, ids=[r["id"] for r in ANSWERABLE])
def test_answers_occur_under_the_cited_headings(record):
    acme.test_answer_spans_occur_in_source(record)


@pytest.mark.parametrize("record", CONFLICT, ids=[r["id"] for r in CONFLICT])
def test_stale_answers_only_in_the_older_document(record):
    acme.test_stale_answer_only_in_stale_source(record)


@pytest.mark.parametrize("record", PARAPHRASE, ids=[r["id"] for r in PARAPHRASE])
def test_paraphrases_use_their_own_words(record):
    acme.test_paraphrases_use_their_own_words(record)


@cache
def corpus_texts() -> dict[str, str]:
    """Every document's text (raw file, or every PDF page), normalized."""
    texts = {}
    for path in all_docs():
        rel = path.relative_to(ACME / "docs").as_posix()
        if path.suffix == ".pdf":
            texts[rel] = norm(" ".join(p.extract_text() for p in pdf_reader(rel).pages))
        else:
            texts[rel] = norm(read_text(rel))
    return texts


def test_unanswerable_terms_occur_in_no_document():
    for r in ROWS:
        for term in r.get("absent_terms", []):
            found = [rel for rel, text in corpus_texts().items() if norm(term) in text]
            assert not found, (r["id"], term, found)
            assert term.lower() in (r["question"] + r["why_unanswerable"]).lower(), (r["id"], term)
