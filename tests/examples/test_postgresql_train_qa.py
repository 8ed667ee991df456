"""Checks for the PostgreSQL 15 training Q&A (``examples/postgresql/train_qa.jsonl``).

The rows are what a support team would write from the manual to fine-tune an adapter: the
acme ``qa.jsonl`` format, every answer a span of the cited section (read as the evaluation
questions are, by ``tests/pg_manual.py``), about 15% questions the manual does not answer.
None of them may leak an evaluation fact: no row shares a cited section *and* an answer
(or alias) with a dev/test question, and no question has a token-set Jaccard similarity of
0.5 or more with one. Schema, counts and leakage are checked from the repository alone;
the checks against the pages skip when the shared manual (``../shared/data``) is absent.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from functools import cache
from pathlib import Path

from pg_manual import HTML, headings, needs_manual, norm, pages_with_term, section_text

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "postgresql"
TRAIN = EXAMPLE / "train_qa.jsonl"
QUESTIONS = EXAMPLE / "questions.jsonl"

# Which pages each answerable type cites.
PAGES_BY_TYPE = {
    "config_default": re.compile(r"runtime-config-[a-z-]+\.html"),
    "error_code": re.compile(r"errcodes-appendix\.html"),
    "function": re.compile(r"functions-[a-z0-9-]+\.html"),
    "command": re.compile(r"(sql|app)-[a-z0-9-]+\.html"),
    "table": re.compile(r"(datatype-[a-z-]+|limits)\.html"),
    "release": re.compile(r"release-15(-\d+)?\.html"),
    "paraphrase": re.compile(r"[a-z0-9-]+\.html"),
}
TYPES = {*PAGES_BY_TYPE, "unanswerable"}
KEYS = {"id", "question", "answer", "aliases", "sources", "split", "type"}
UNANSWERABLE_KEYS = {"why_unanswerable", "absent_terms"}
MAX_ANSWER_CHARS = 80
MAX_JACCARD = 0.5  # a training question this close to an evaluation question is a leak


@cache
def train_rows() -> tuple[dict, ...]:
    lines = TRAIN.read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


@cache
def eval_rows() -> tuple[dict, ...]:
    lines = QUESTIONS.read_text(encoding="utf-8").splitlines()
    return tuple(json.loads(line) for line in lines if line.strip())


def answerable() -> list[dict]:
    return [r for r in train_rows() if r["answer"] is not None]


def tokens(question: str) -> frozenset[str]:
    """Lower-cased word tokens (letters, digits, underscores: ``work_mem`` is one)."""
    return frozenset(re.findall(r"[a-z0-9_]+", norm(question)))


def jaccard(a: str, b: str) -> float:
    ta, tb = tokens(a), tokens(b)
    return len(ta & tb) / len(ta | tb) if ta | tb else 1.0


def facts(row: dict) -> set[tuple[str, str, str]]:
    """(file, heading, answer) for the answer and each alias under each cited source."""
    if row["answer"] is None:
        return set()
    answers = {norm(a) for a in [row["answer"], *row.get("aliases", [])]}
    return {(s["file"], norm(s["heading"]), a) for s in row["sources"] for a in answers}


@cache
def eval_facts() -> dict[tuple[str, str, str], str]:
    """Every evaluation fact, stale sources included -> the id of its question."""
    return {fact: r["id"] for r in eval_rows() for fact in facts(r)}


def leaks(row: dict) -> list[str]:
    """Why ``row`` would leak an evaluation question into training (empty: it does not)."""
    found = [f"same section and answer as {eval_facts()[f]}: {f}"
             for f in sorted(facts(row) & eval_facts().keys())]
    for e in eval_rows():
        similarity = jaccard(row["question"], e["question"])
        if similarity >= MAX_JACCARD:
            found.append(f"question {similarity:.2f} similar to {e['id']}: {e['question']!r}")
    return found


# -- schema and counts (no manual needed) -------------------------------------------------


def test_every_row_has_the_schema():
    for r in train_rows():
        where = r.get("id")
        assert set(r) >= KEYS, f"{where}: missing {KEYS - set(r)}"
        assert re.fullmatch(r"pgt\d{3}", r["id"]), where
        assert isinstance(r["question"], str) and "?" in r["question"], where
        assert r["split"] == "train" and r["type"] in TYPES, where
        assert isinstance(r["aliases"], list), where
        assert all(isinstance(a, str) and a.strip() for a in r["aliases"]), where
        assert isinstance(r["sources"], list), where
        for source in r["sources"]:
            assert set(source) == {"file", "page", "heading"}, where
            assert re.fullmatch(r"[a-z0-9-]+\.html", source["file"]), where
            assert source["page"] is None, where
            assert isinstance(source["heading"], str) and source["heading"].strip(), where


def test_answerable_rows_cite_a_page_of_their_type_and_give_a_short_span():
    for r in answerable():
        assert r["type"] != "unanswerable", r["id"]
        assert isinstance(r["answer"], str) and r["answer"].strip(), r["id"]
        assert len(r["answer"]) <= MAX_ANSWER_CHARS, r["id"]
        assert len(r["sources"]) == 1, r["id"]
        assert PAGES_BY_TYPE[r["type"]].fullmatch(r["sources"][0]["file"]), r["id"]
        assert not set(r) & UNANSWERABLE_KEYS, r["id"]


def test_unanswerable_rows_say_why_and_name_what_was_searched():
    for r in train_rows():
        if r["answer"] is not None:
            continue
        where = r["id"]
        assert r["type"] == "unanswerable" and r["sources"] == [] and r["aliases"] == [], where
        assert isinstance(r.get("why_unanswerable"), str) and len(r["why_unanswerable"]) > 30
        terms = r.get("absent_terms")
        assert isinstance(terms, list) and terms, where
        assert all(isinstance(t, str) and t.strip() for t in terms), where


def test_ids_and_questions_are_unique():
    ids = [r["id"] for r in train_rows()]
    assert len(ids) == len(set(ids))
    questions = [norm(r["question"]) for r in train_rows()]
    assert len(questions) == len(set(questions))


def test_counts_by_type():
    by_type = Counter(r["type"] for r in train_rows())
    assert len(train_rows()) >= 150
    assert by_type["unanswerable"] >= 20
    assert 0.10 <= by_type["unanswerable"] / len(train_rows()) <= 0.20, by_type
    assert by_type["config_default"] == max(by_type.values()), by_type  # the most asked
    assert sum(n >= 10 for n in by_type.values()) >= 6, by_type


def test_finetune_reads_every_row():
    from finetune.sources import read_qa

    records, problems = read_qa(TRAIN, split="train")
    assert problems == []
    assert [r.id for r in records] == [r["id"] for r in train_rows()]
    assert sum(r.answer is None for r in records) == len(train_rows()) - len(answerable())
    assert all(r.qtype for r in records)


# -- no leakage into the evaluation questions ---------------------------------------------


def test_no_training_row_asks_an_evaluation_fact():
    leaking = {r["id"]: found for r in train_rows() if (found := leaks(r))}
    assert not leaking, leaking


def test_no_training_question_is_an_evaluation_question():
    held_out = {norm(e["question"]) for e in eval_rows()}
    assert not [r["id"] for r in train_rows() if norm(r["question"]) in held_out]


def test_the_leak_check_catches_a_reworded_or_copied_evaluation_fact():
    """The check above can fail: an evaluation fact asked another way, or a question
    reworded slightly, is reported; an unrelated training row is not."""
    e = next(r for r in eval_rows() if r["answer"] is not None and r["aliases"])
    same_fact = {"question": "Unrelated wording about something else entirely?",
                 "answer": e["aliases"][0].upper(), "aliases": [],
                 "sources": [dict(e["sources"][0], page=None)]}
    assert any(e["id"] in why for why in leaks(same_fact))
    reworded = dict(same_fact, answer=None, sources=[],
                    question=e["question"].replace("?", " please?"))
    assert any(e["id"] in why for why in leaks(reworded))
    assert not leaks(answerable()[0])


# -- against the manual -------------------------------------------------------------------


@needs_manual
def test_cited_files_and_headings_exist():
    for r in train_rows():
        for source in r["sources"]:
            assert (HTML / source["file"]).is_file(), (r["id"], source["file"])
            assert norm(source["heading"]) in headings(source["file"]), (
                r["id"], source["file"], source["heading"])


@needs_manual
def test_answers_occur_in_the_cited_sections():
    for r in answerable():
        for source in r["sources"]:
            text = section_text(source["file"], source["heading"])
            assert text is not None and norm(r["answer"]) in text, (
                r["id"], r["answer"], source["heading"])


@needs_manual
def test_unanswerable_terms_occur_on_no_page():
    for r in train_rows():
        for term in r.get("absent_terms", []):
            hits = pages_with_term(term)
            assert not hits, f"{r['id']}: {term!r} occurs on {hits[:3]}"
