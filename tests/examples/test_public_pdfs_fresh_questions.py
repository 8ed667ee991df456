"""Checks for ``examples/public-pdfs/fresh_dev_questions.jsonl``: 60 fresh dev questions on
the three public PDFs (ids ``pdf001`` .. ``pdf060``).

The same checks as ``test_public_pdfs_questions.py`` applies to its sets, through the same
checker (``check_questions.check_rows``) with this file's id prefix and planned counts.
The schema is checked from the repository alone; the gold answers against their pages and
the absent terms against all three PDFs skip when the shared PDFs are absent.
"""

from __future__ import annotations

import json
from collections import Counter

import pytest
from test_public_pdfs_questions import EXAMPLE, PDFS, _module, _rows

NAME = "fresh_dev_questions.jsonl"
PREFIX = "pdf"
EXPECTED = {"constitution": 20, "federal_register": 20, "table": 8, "unanswerable": 12}
OTHER_SETS = ("questions.jsonl", "more_dev_questions.jsonl")


def _checker():
    return _module(EXAMPLE / "check_questions.py", "check_pd_fresh")


def test_sixty_dev_rows_with_ids_in_order_and_unique_questions():
    rows = _rows(NAME)
    assert len(rows) == 60
    assert [r["id"] for r in rows] == [f"{PREFIX}{i:03d}" for i in range(1, 61)]
    assert {r["split"] for r in rows} == {"dev"}
    questions = [r["question"].strip().casefold() for r in rows]
    assert len(set(questions)) == len(questions)


def test_no_question_repeats_one_of_the_other_sets():
    fresh = {r["question"] for r in _rows(NAME)}
    others = {r["question"] for name in OTHER_SETS for r in _rows(name)}
    repeated = sorted(r["id"] for r in _rows(NAME) if r["question"] in fresh & others)
    assert not repeated


def test_schema_and_counts_per_type():
    checker = _checker()
    rows = _rows(NAME)
    assert Counter(r["type"] for r in rows) == EXPECTED
    names = set(checker.PDF_FILES)
    for row in rows:
        rid = row["id"]
        for field in (*checker.REQUIRED_FIELDS, "split"):
            assert field in row, f"{rid}: missing {field}"
        assert row["stale_answer"] is None, rid
        assert isinstance(row["aliases"], list), rid
        assert row["question"].strip(), rid
        if row["type"] == "unanswerable":
            assert row["answer"] is None and row["aliases"] == [] and row["sources"] == [], rid
            assert row["why_unanswerable"].strip(), rid
            assert 1 <= len(row["absent_terms"]) <= 4, rid
            continue
        assert isinstance(row["answer"], str) and row["answer"].strip(), rid
        assert len(row["answer"].split()) <= checker.MAX_ANSWER_WORDS, rid
        assert all(isinstance(a, str) and a.strip() for a in row["aliases"]), rid
        assert row["sources"], rid
        for source in row["sources"]:
            assert set(source) == {"file", "page", "page_label"}, rid
            assert source["file"] in names, rid
            assert isinstance(source["page"], int) and source["page"] >= 1, rid
            assert isinstance(source["page_label"], str), rid
        wanted_file = {"constitution": "us-constitution.pdf",
                       "federal_register": "federal-register-2020-17221.pdf",
                       "table": "nics-background-checks-2015-11.pdf"}[row["type"]]
        assert {s["file"] for s in row["sources"]} == {wanted_file}, rid


def test_the_file_is_one_json_object_per_line():
    lines = (EXAMPLE / NAME).read_text(encoding="utf-8").splitlines()
    assert len(lines) == 60
    for line in lines:
        assert isinstance(json.loads(line), dict)


def test_every_answer_is_on_its_page_and_every_absent_term_absent():
    if not PDFS.is_dir():
        pytest.skip(f"shared PDFs not available: {PDFS}")
    checker = _checker()
    rows = checker.load_rows(EXAMPLE / NAME)
    pages = checker.load_pdf_pages(PDFS)
    failures = checker.check_rows(rows, pages, PREFIX, EXPECTED)
    assert not failures, "\n".join(failures)
