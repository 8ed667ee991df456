"""Checks for ``examples/acme/eval_questions.jsonl``, the held-out Acme question set.

Fast and model-free: schema, counts per type and split, that every gold span occurs in
the cited section or PDF page (the helpers of ``tests/test_examples.py``), that every
stale answer occurs in its archived source and not in the current one, that the splits
are the ones ``split_eval_questions.py`` assigns, and that no question repeats one of
``qa.jsonl`` (whose test split has been tuned on).
"""

from __future__ import annotations

import importlib.util
import json
import re
from collections import Counter
from pathlib import Path

import pytest
from test_examples import (
    ACME,
    ARCHIVED,
    DOCS,
    html_section,
    load_qa,
    md_section,
    norm,
    norm_md,
    pdf_page_text,
    pdf_reader,
    read_text,
    visible_html_text,
)

EVAL_PATH = ACME / "eval_questions.jsonl"
SPLIT_SCRIPT = ACME / "split_eval_questions.py"

TYPES = {"factoid", "paraphrase", "table", "multi", "procedural", "conflict", "unanswerable"}
SPLITS = {"dev", "test"}
MIN_PER_TYPE = {"paraphrase": 25, "table": 15, "multi": 15, "unanswerable": 30, "conflict": 25}
MIN_TOTAL, MIN_DEV, MIN_TEST = 150, 55, 90
# Older documents a conflict question's stale answer may come from: the archived ones, plus
# the X9 Pro manual (written for firmware 2.9; later release notes take precedence over it).
STALE_DOCS = ARCHIVED | {"products/sweepbot-x9-pro-user-manual.pdf"}
KEYS = {"id", "question", "answer", "aliases", "stale_answer", "sources", "split", "type"}
SOURCE_KEYS = {"file", "page", "page_label", "heading"}
JACCARD_LIMIT = 0.8
# A paraphrase question shares at most this share of its content words with the text
# around its gold answer (a customer's words, not the document's).
PARAPHRASE_OVERLAP_LIMIT = 0.5
STOPWORDS = frozenset({
    "a", "an", "the", "i", "my", "me", "we", "our", "you", "your", "is", "are", "was", "be", "do",
    "does", "did", "to", "of", "in", "on", "for", "at", "it", "its", "and", "or", "can", "will",
    "would", "should", "how", "what", "when", "where", "which", "who", "why", "that", "this",
    "there", "if", "with", "from", "by", "as", "not", "no", "any", "so", "just", "than", "then",
    "into", "up", "out", "about", "after", "before", "get", "got", "have", "has", "had", "still",
    "much", "many", "long",
})


def load_eval() -> list[dict]:
    with EVAL_PATH.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]


EVAL = load_eval()
ANSWERABLE = [r for r in EVAL if r["answer"] is not None]
CONFLICT = [r for r in EVAL if r["type"] == "conflict"]


def current_sources(record: dict) -> list[dict]:
    return [s for s in record["sources"] if s.get("role") != "stale"]


def stale_sources(record: dict) -> list[dict]:
    return [s for s in record["sources"] if s.get("role") == "stale"]


def _is_txt_heading(lines: list[str], i: int) -> bool:
    """An upper-case line, or a line underlined with ``---``/``===``."""
    line = lines[i].strip()
    if not re.search(r"[A-Za-z]", line):
        return False
    underlined = i + 1 < len(lines) and re.fullmatch(r"[-=]{3,}", lines[i + 1].strip() or "x")
    return line == line.upper() or bool(underlined)


def txt_section(text: str, heading: str) -> str | None:
    """Text from the heading line ``heading`` up to the next heading line; None if absent."""
    lines = text.splitlines()
    starts = [i for i, line in enumerate(lines) if norm(line) == norm(heading)]
    if not starts:
        return None
    start = starts[0]
    end = next((j for j in range(start + 1, len(lines)) if _is_txt_heading(lines, j)), len(lines))
    return norm("\n".join(lines[start:end]))


def section_text(src: dict) -> str:
    """Normalized text of the cited section (or page, or whole file); fails if missing."""
    rel, heading = src["file"], src["heading"]
    suffix = Path(rel).suffix
    if suffix == ".pdf":
        page = pdf_page_text(rel, src["page"])
        if heading is not None:
            assert norm(heading) in page, f"heading {heading!r} not on {rel} page {src['page']}"
        return page
    raw = read_text(rel)
    if suffix == ".md":
        section = norm_md(raw) if heading is None else md_section(raw, heading)
    elif suffix == ".html":
        section = visible_html_text(raw) if heading is None else html_section(raw, heading)
    else:
        section = norm(raw) if heading is None else txt_section(raw, heading)
    assert section is not None, f"heading {heading!r} not found in {rel}"
    return section


def tokens(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9]+", text.lower()))


def jaccard(a: str, b: str) -> float:
    ta, tb = tokens(a), tokens(b)
    return len(ta & tb) / len(ta | tb) if ta | tb else 1.0


# --------------------------------------------------------------------------- schema


def test_schema():
    for r in EVAL:
        rid = r.get("id")
        assert set(r) >= KEYS, f"{rid}: missing {KEYS - set(r)}"
        assert isinstance(rid, str) and re.fullmatch(r"e\d{3,}", rid), rid
        assert isinstance(r["question"], str) and r["question"].strip(), rid
        assert r["type"] in TYPES, f"{rid}: type {r['type']!r}"
        assert r["split"] in SPLITS, f"{rid}: split {r['split']!r}"
        assert isinstance(r["aliases"], list), rid
        assert all(isinstance(a, str) and a.strip() for a in r["aliases"]), rid
        assert len(set(map(norm, r["aliases"]))) == len(r["aliases"]), f"{rid}: repeated alias"
        assert isinstance(r["sources"], list), rid
        for src in r["sources"]:
            assert set(src) >= SOURCE_KEYS, f"{rid}: source {src}"
            assert set(src) <= SOURCE_KEYS | {"role"}, f"{rid}: unknown source key in {src}"
            assert src.get("role", "stale") == "stale", f"{rid}: role {src.get('role')!r}"
            assert src["heading"] is None or isinstance(src["heading"], str), rid
            if src["file"].endswith(".pdf"):
                assert isinstance(src["page"], int) and src["page"] >= 1, rid
                assert isinstance(src["page_label"], str), f"{rid}: PDF source without label"
            else:
                assert src["page"] is None and src["page_label"] is None, rid
        if r["type"] == "unanswerable":
            assert r["answer"] is None and r["sources"] == [] and r["aliases"] == [], rid
            assert r["stale_answer"] is None and "answer_parts" not in r, rid
            why = r.get("why_unanswerable")
            assert isinstance(why, str) and len(why) > 20, f"{rid}: say what was grepped"
        else:
            assert isinstance(r["answer"], str) and r["answer"].strip(), rid
            assert current_sources(r), f"{rid}: answerable question without a current source"
            assert norm(r["answer"]) not in map(norm, r["aliases"]), f"{rid}: alias = answer"
            assert "why_unanswerable" not in r, rid
        if r["type"] == "multi":
            parts = r.get("answer_parts")
            assert isinstance(parts, list) and len(parts) >= 2, f"{rid}: needs answer_parts"
            assert all(isinstance(p, str) and p.strip() for p in parts), rid
        else:
            assert "answer_parts" not in r, f"{rid}: answer_parts on a {r['type']} question"
        if r["type"] == "conflict":
            assert isinstance(r["stale_answer"], str) and r["stale_answer"].strip(), rid
            assert len(stale_sources(r)) == 1, f"{rid}: needs exactly one stale source"
        else:
            assert r["stale_answer"] is None and not stale_sources(r), rid


def test_ids_and_questions_unique():
    ids = [r["id"] for r in EVAL]
    assert len(ids) == len(set(ids)), [i for i, c in Counter(ids).items() if c > 1]
    questions = [norm(r["question"]) for r in EVAL]
    repeated = [q for q, c in Counter(questions).items() if c > 1]
    assert not repeated, repeated


def test_counts_per_type_and_split():
    types = Counter(r["type"] for r in EVAL)
    splits = Counter(r["split"] for r in EVAL)
    assert len(EVAL) >= MIN_TOTAL, len(EVAL)
    for type_, minimum in MIN_PER_TYPE.items():
        assert types[type_] >= minimum, f"{type_}: {types[type_]} < {minimum}"
    assert splits["dev"] >= MIN_DEV and splits["test"] >= MIN_TEST, splits
    assert 0.35 <= splits["dev"] / len(EVAL) <= 0.45, splits
    for type_ in types:
        per_split = Counter(r["split"] for r in EVAL if r["type"] == type_)
        assert per_split["dev"] >= 1 and per_split["test"] >= 1, f"{type_}: {per_split}"


def test_splits_are_the_scripts():
    spec = importlib.util.spec_from_file_location("split_eval_questions", SPLIT_SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assigned = module.assign_splits(EVAL)
    wrong = [r["id"] for r in EVAL if r["split"] != assigned[r["id"]]]
    assert not wrong, f"rerun examples/acme/split_eval_questions.py: {wrong[:10]}"


def test_every_format_is_cited():
    formats = Counter(Path(s["file"]).suffix for r in ANSWERABLE for s in current_sources(r))
    assert set(formats) == {".md", ".html", ".pdf", ".txt"}, formats
    labelled = [s for r in ANSWERABLE for s in r["sources"] if s["page_label"] not in (None, "")]
    assert any(s["page_label"] != str(s["page"]) for s in labelled), "no printed page label cited"


# --------------------------------------------------------------------------- sources and spans


def test_sources_exist():
    for r in EVAL:
        for src in r["sources"]:
            path = DOCS / src["file"]
            assert path.is_file(), f"{r['id']}: {src['file']} does not exist"
            if path.suffix == ".pdf":
                reader = pdf_reader(src["file"])
                assert src["page"] <= len(reader.pages), f"{r['id']}: page {src['page']}"
                label = reader.page_labels[src["page"] - 1]
                assert label == src["page_label"], f"{r['id']}: printed label is {label!r}"
            section_text(src)  # the heading exists


@pytest.mark.parametrize("record", ANSWERABLE, ids=[r["id"] for r in ANSWERABLE])
def test_answer_spans_occur_in_source(record):
    sections = [section_text(s) for s in current_sources(record)]
    answer = norm_md(record["answer"])
    for src, section in zip(current_sources(record), sections, strict=True):
        assert answer in section, (
            f"{record['id']}: answer {record['answer']!r} not in {src['file']} "
            f"(page={src['page']}, heading={src['heading']!r})"
        )
    for part in record.get("answer_parts", []):
        assert any(norm_md(part) in s for s in sections), f"{record['id']}: part {part!r} missing"


@pytest.mark.parametrize("record", CONFLICT, ids=[r["id"] for r in CONFLICT])
def test_stale_answer_only_in_stale_source(record):
    (stale,) = stale_sources(record)
    assert stale["file"] in STALE_DOCS, f"{record['id']}: {stale['file']} is not an older doc"
    stale_answer = norm_md(record["stale_answer"])
    assert stale_answer in section_text(stale), f"{record['id']}: stale answer not in stale doc"
    for src in current_sources(record):
        assert src["file"] not in ARCHIVED, f"{record['id']}: cites archived {src['file']}"
        assert stale_answer not in section_text(src), (
            f"{record['id']}: stale answer {record['stale_answer']!r} also in {src['file']}"
        )
    assert norm(record["answer"]) != norm(record["stale_answer"]), record["id"]


def content_words(text: str) -> set[str]:
    return {w for w in tokens(text) if len(w) > 1} - STOPWORDS


PARAPHRASE = [r for r in EVAL if r["type"] == "paraphrase"]


@pytest.mark.parametrize("record", PARAPHRASE, ids=[r["id"] for r in PARAPHRASE])
def test_paraphrases_use_their_own_words(record):
    section = section_text(current_sources(record)[0])
    at = section.index(norm_md(record["answer"]))
    around = section[max(0, at - 150) : at + len(record["answer"]) + 150]
    words = content_words(record["question"])
    shared = words & content_words(around)
    assert len(shared) <= PARAPHRASE_OVERLAP_LIMIT * len(words), (
        f"{record['id']}: shares {sorted(shared)} with the text around its answer"
    )


# --------------------------------------------------------------------------- no leakage


def test_no_question_repeats_qa_jsonl():
    old = [r["question"] for r in load_qa()]
    old_norm = {norm(q) for q in old}
    for r in EVAL:
        assert norm(r["question"]) not in old_norm, f"{r['id']} repeats a qa.jsonl question"
        closest = max(old, key=lambda q: jaccard(q, r["question"]))
        score = jaccard(closest, r["question"])
        assert score < JACCARD_LIMIT, f"{r['id']} ~ {closest!r} (token Jaccard {score:.2f})"


def test_jaccard_helper():
    assert jaccard("How long is the refund window?", "how long is the refund window") == 1.0
    assert jaccard("refund window", "warranty period") == 0.0
