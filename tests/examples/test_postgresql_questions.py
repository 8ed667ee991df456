"""Checks for the PostgreSQL 15 manual question set (``examples/postgresql/questions.jsonl``).

Gold answers are scored by exact match / F1 later, so every answer must literally occur
(lowercased, whitespace collapsed) in the visible text of the section it cites: the page's
body without scripts, styles and the navigation header/footer, under the cited h1..h4
heading (read by ``tests/pg_manual.py``). Schema, counts and splits are checked from the
repository alone; the checks against the pages skip when the shared manual
(``../shared/data``) is absent.
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

from pg_manual import (
    HTML,
    headings,
    needs_manual,
    norm,
    page_names,
    page_text,
    pages_with_term,
    section_text,
)

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "postgresql"
QUESTIONS = EXAMPLE / "questions.jsonl"

TYPES = {"config_default", "error_code", "function", "release", "paraphrase", "table",
         "unanswerable"}
MIN_BY_TYPE = {"config_default": 25, "error_code": 15, "function": 25, "release": 15,
               "paraphrase": 15, "unanswerable": 30}
# Which pages each answerable type must cite (the first, non-stale source).
PAGES_BY_TYPE = {
    "config_default": re.compile(r"runtime-config-[a-z-]+\.html"),
    "error_code": re.compile(r"errcodes-appendix\.html"),
    "function": re.compile(r"(functions|sql)-[a-z0-9-]+\.html"),
    "release": re.compile(r"release-15(-\d+)?\.html"),
}
KEYS = {"id", "question", "answer", "aliases", "stale_answer", "sources", "split", "type"}
MAX_ANSWER_CHARS = 80


@cache
def rows() -> tuple[dict, ...]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


def answerable() -> list[dict]:
    return [r for r in rows() if r["type"] != "unanswerable"]


def load_splitter():
    spec = importlib.util.spec_from_file_location("pg_split_questions",
                                                  EXAMPLE / "split_questions.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- schema, counts, splits (no manual needed) -------------------------------------------


def test_every_row_has_the_schema():
    for r in rows():
        where = r.get("id")
        assert set(r) >= KEYS, f"{where}: missing {KEYS - set(r)}"
        assert re.fullmatch(r"pg\d{3}", r["id"]), where
        assert isinstance(r["question"], str) and "?" in r["question"], where
        assert r["type"] in TYPES, where
        assert r["split"] in {"dev", "test"}, where
        assert isinstance(r["aliases"], list), where
        assert all(isinstance(a, str) and a.strip() for a in r["aliases"]), where
        assert isinstance(r["sources"], list), where
        for source in r["sources"]:
            assert set(source) <= {"file", "heading", "role"}, where
            assert re.fullmatch(r"[a-z0-9-]+\.html", source["file"]), where
            assert isinstance(source["heading"], str) and source["heading"].strip(), where
            assert source.get("role", "stale") == "stale", where


def test_ids_and_questions_are_unique():
    ids = [r["id"] for r in rows()]
    assert len(ids) == len(set(ids))
    questions = [norm(r["question"]) for r in rows()]
    assert len(questions) == len(set(questions))


def test_minimum_counts_by_type_and_split():
    by_type = Counter(r["type"] for r in rows())
    for kind, minimum in MIN_BY_TYPE.items():
        assert by_type[kind] >= minimum, (kind, by_type[kind])
    assert len(rows()) >= 150
    by_split = Counter(r["split"] for r in rows())
    assert by_split["dev"] >= 55 and by_split["test"] >= 90, by_split


def test_splits_are_the_seeded_stratified_assignment():
    splitter = load_splitter()
    assigned = splitter.assign_splits(list(rows()))
    assert {r["id"]: r["split"] for r in rows()} == assigned
    for kind in TYPES:
        of_kind = [r for r in rows() if r["type"] == kind]
        dev = sum(r["split"] == "dev" for r in of_kind)
        assert abs(dev - 0.4 * len(of_kind)) <= 1, (kind, dev, len(of_kind))


def test_split_assignment_is_independent_of_file_order_and_other_types():
    splitter = load_splitter()
    original = splitter.assign_splits(list(rows()))
    reordered = splitter.assign_splits(list(reversed(rows())))
    assert reordered == original
    without_errors = [r for r in rows() if r["type"] != "error_code"]
    others = splitter.assign_splits(without_errors)
    assert all(original[i] == s for i, s in others.items())


def test_answerable_rows_have_a_short_answer_and_a_current_source():
    for r in answerable():
        assert isinstance(r["answer"], str) and r["answer"].strip(), r["id"]
        assert len(r["answer"]) <= MAX_ANSWER_CHARS, r["id"]
        current = [s for s in r["sources"] if s.get("role") != "stale"]
        assert current, f"{r['id']}: no current (non-stale) source"
        pattern = PAGES_BY_TYPE.get(r["type"])
        if pattern:
            assert pattern.fullmatch(current[0]["file"]), (r["id"], current[0]["file"])


def test_stale_answers_come_with_exactly_one_stale_source():
    stale = [r for r in rows() if r["stale_answer"] is not None]
    assert len(stale) >= 3
    for r in rows():
        roles = [s for s in r["sources"] if s.get("role") == "stale"]
        if r["stale_answer"] is None:
            assert not roles, r["id"]
        else:
            assert r["type"] == "release" and len(roles) == 1, r["id"]
            assert norm(r["stale_answer"]) != norm(r["answer"]), r["id"]
            assert roles[0]["file"] != r["sources"][0]["file"], r["id"]


def test_unanswerable_rows_say_why_and_name_what_was_searched():
    for r in rows():
        if r["type"] != "unanswerable":
            assert "why_unanswerable" not in r, r["id"]
            continue
        assert r["answer"] is None and r["sources"] == [] and r["stale_answer"] is None
        assert isinstance(r.get("why_unanswerable"), str) and len(r["why_unanswerable"]) > 30
        terms = r.get("absent_terms")
        assert isinstance(terms, list) and terms, r["id"]


def test_the_eval_config_loads_the_test_split():
    from eval.config import load_config
    from eval.questions import load_questions

    config = load_config(EXAMPLE / "eval.toml")
    assert [s.name for s in config.setups] == ["base", "rag", "finetune", "combined"]
    assert config.corpus.kind == "docs" and config.questions.split == "test"
    assert config.corpus.docs == (EXAMPLE / "../../../shared/data/postgresql-15-docs/html"
                                  ).resolve()
    loaded = load_questions(config.questions)
    expected = [r for r in rows() if r["split"] == "test"]
    assert [q.id for q in loaded] == [r["id"] for r in expected]
    assert sum(q.answer is None for q in loaded) == sum(
        r["answer"] is None for r in expected)


# -- against the manual -------------------------------------------------------------------


@needs_manual
def test_cited_files_and_headings_exist():
    for r in rows():
        for source in r["sources"]:
            assert (HTML / source["file"]).is_file(), (r["id"], source["file"])
            assert norm(source["heading"]) in headings(source["file"]), (
                r["id"], source["file"], source["heading"])


@needs_manual
def test_answers_occur_in_the_cited_sections():
    for r in answerable():
        for source in r["sources"]:
            if source.get("role") == "stale":
                continue
            text = section_text(source["file"], source["heading"])
            assert norm(r["answer"]) in text, (r["id"], r["answer"], source["heading"])
            assert norm(r["answer"]) in page_text(source["file"])


@needs_manual
def test_stale_answers_occur_in_the_stale_sources():
    for r in rows():
        for source in r["sources"]:
            if source.get("role") != "stale":
                continue
            text = section_text(source["file"], source["heading"])
            assert norm(r["stale_answer"]) in text, (r["id"], r["stale_answer"])


@needs_manual
def test_unanswerable_terms_occur_on_no_page():
    assert len(page_names()) == 1169
    for r in rows():
        for term in r.get("absent_terms", []):
            hits = pages_with_term(term)
            assert not hits, f"{r['id']}: {term!r} occurs on {hits[:3]}"


@needs_manual
def test_visible_text_drops_navigation_and_spaces_table_cells():
    text = page_text("errcodes-appendix.html")
    assert "23505 unique_violation" in text
    assert "prev up" not in text and "next" not in text[:200]
