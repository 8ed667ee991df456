"""Checks for the bundled Acme Robotics sample corpus and its question set.

The gold answers in ``examples/acme/qa.jsonl`` are scored by exact match / F1
later, so every answer must literally occur (after light normalization) in the
text of the cited source: the cited PDF page, or the cited section of a
Markdown/HTML file (visible text only, so <script>/<style> noise never counts).
"""

from __future__ import annotations

import html
import json
import re
import subprocess
import sys
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[1]
ACME = ROOT / "examples" / "acme"
DOCS = ACME / "docs"
QA_PATH = ACME / "qa.jsonl"

FORMATS = {".md", ".html", ".pdf", ".txt"}
TYPES = {"factoid", "procedural", "conflict", "unanswerable"}
SPLITS = {"train", "test"}
# Superseded documents: conflict questions must be answered from the current ones.
ARCHIVED = {
    "policies/refunds-2023.md",
    "policies/security-policy-2022.txt",
    "plans/price-sheet-2023.pdf",
    "release-notes/firmware-2.txt",
}


def norm(text: str) -> str:
    """Lowercase and collapse whitespace."""
    return re.sub(r"\s+", " ", text.lower()).strip()


def norm_md(text: str) -> str:
    """Like :func:`norm`, also dropping Markdown emphasis and code markers."""
    return norm(text.replace("**", "").replace("`", ""))


def visible_html_text(fragment: str) -> str:
    """Crude visible text of an HTML fragment: no scripts, styles, comments or tags."""
    fragment = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", fragment)
    fragment = re.sub(r"(?s)<!--.*?-->", " ", fragment)
    fragment = re.sub(r"(?s)<[^>]+>", " ", fragment)
    return norm(html.unescape(fragment))


@cache
def read_text(rel: str) -> str:
    return (DOCS / rel).read_text(encoding="utf-8")


@cache
def pdf_reader(rel: str) -> PdfReader:
    return PdfReader(str(DOCS / rel))


@cache
def pdf_page_text(rel: str, page: int) -> str:
    return norm(pdf_reader(rel).pages[page - 1].extract_text())


def md_section(text: str, heading: str) -> str | None:
    """Text under the Markdown heading ``heading`` up to the next heading of the same or
    a higher level (heading line included); None if there is no such heading."""
    lines = text.splitlines()
    in_code = False
    heads = []  # (line index, level, normalized title)
    for i, line in enumerate(lines):
        if line.startswith("```"):
            in_code = not in_code
            continue
        m = None if in_code else re.match(r"^(#{1,6})\s+(.*?)\s*#*\s*$", line)
        if m:
            heads.append((i, len(m.group(1)), norm_md(m.group(2))))
    for k, (i, level, title) in enumerate(heads):
        if title == norm_md(heading):
            end = len(lines)
            for j, lvl, _ in heads[k + 1 :]:
                if lvl <= level:
                    end = j
                    break
            return norm_md("\n".join(lines[i:end]))
    return None


def html_section(text: str, heading: str) -> str | None:
    """Visible text under the h1-h6 ``heading`` up to the next heading of the same or a
    higher level; None if there is no such heading."""
    text = re.sub(r"(?is)<(script|style)\b.*?</\1\s*>", " ", text)
    heads = [
        (m.start(), int(m.group(1)), visible_html_text(m.group(2)))
        for m in re.finditer(r"(?is)<h([1-6])\b[^>]*>(.*?)</h\1\s*>", text)
    ]
    for k, (start, level, title) in enumerate(heads):
        if title == norm(heading):
            end = len(text)
            for pos, lvl, _ in heads[k + 1 :]:
                if lvl <= level:
                    end = pos
                    break
            return visible_html_text(text[start:end])
    return None


def load_qa() -> list[dict]:
    records = []
    with QA_PATH.open(encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:  # pragma: no cover - failure path
                pytest.fail(f"qa.jsonl line {lineno} is not valid JSON: {exc}")
    return records


QA = load_qa()
ANSWERABLE = [r for r in QA if r.get("answer") is not None]


def all_docs() -> list[Path]:
    return sorted(p for p in DOCS.rglob("*") if p.is_file())


# --------------------------------------------------------------------------- corpus


def test_corpus_size_and_formats():
    docs = all_docs()
    assert len(docs) >= 20, f"only {len(docs)} documents"
    suffixes = Counter(p.suffix for p in docs)
    assert set(suffixes) <= FORMATS, f"unexpected formats: {set(suffixes) - FORMATS}"
    assert set(suffixes) >= FORMATS, f"missing formats: {FORMATS - set(suffixes)}"
    assert suffixes[".pdf"] >= 4
    # Organized in subfolders.
    assert len({p.parent for p in docs}) >= 4


def test_pdfs_have_several_pages_and_text():
    pdfs = [p for p in all_docs() if p.suffix == ".pdf"]
    for pdf in pdfs:
        reader = PdfReader(str(pdf))
        assert 3 <= len(reader.pages) <= 8, f"{pdf.name}: {len(reader.pages)} pages"
        for i, page in enumerate(reader.pages, start=1):
            assert len(page.extract_text().split()) > 40, f"{pdf.name} page {i} nearly empty"


def test_some_pdf_has_page_labels_differing_from_page_numbers():
    differing = []
    for pdf in (p for p in all_docs() if p.suffix == ".pdf"):
        labels = PdfReader(str(pdf)).page_labels
        if any(label != str(i) for i, label in enumerate(labels, start=1)):
            differing.append(pdf.name)
    assert differing, "no PDF has page labels that differ from physical page numbers"


def test_html_pages_have_noise_and_headings():
    for page in (p for p in all_docs() if p.suffix == ".html"):
        text = page.read_text(encoding="utf-8")
        for tag in ("<nav", "<footer", "<script", "<style", "<h1"):
            assert tag in text, f"{page.name} lacks {tag}>"


def test_markdown_has_heading_hierarchy():
    for page in (p for p in all_docs() if p.suffix == ".md"):
        text = page.read_text(encoding="utf-8")
        assert re.search(r"^# ", text, re.M), f"{page.name} lacks a # heading"
        assert re.search(r"^## ", text, re.M), f"{page.name} lacks a ## heading"


def test_text_docs_are_utf8():
    for path in all_docs():
        if path.suffix != ".pdf":
            path.read_text(encoding="utf-8")  # raises if not UTF-8


# --------------------------------------------------------------------------- qa.jsonl


def test_qa_schema():
    keys = {"id", "question", "answer", "sources", "split", "type"}
    for r in QA:
        assert keys <= set(r), f"{r.get('id')}: missing {keys - set(r)}"
        assert isinstance(r["id"], str) and re.fullmatch(r"q\d{3,}", r["id"]), r["id"]
        assert isinstance(r["question"], str) and r["question"].strip(), r["id"]
        assert r["split"] in SPLITS, r["id"]
        assert r["type"] in TYPES, r["id"]
        assert isinstance(r["sources"], list), r["id"]
        if r["type"] == "unanswerable":
            assert r["answer"] is None and r["sources"] == [], r["id"]
        else:
            assert isinstance(r["answer"], str) and r["answer"].strip(), r["id"]
            assert r["sources"], f"{r['id']}: answerable question without sources"
        for src in r["sources"]:
            assert {"file", "page", "heading"} <= set(src), f"{r['id']}: {src}"
            assert isinstance(src["file"], str)
            is_pdf = src["file"].endswith(".pdf")
            if is_pdf:
                assert isinstance(src["page"], int) and src["page"] >= 1, r["id"]
            else:
                assert src["page"] is None, f"{r['id']}: page set for non-PDF"
            assert src["heading"] is None or isinstance(src["heading"], str), r["id"]
            if "page_label" in src:
                assert is_pdf and isinstance(src["page_label"], str), r["id"]


def test_qa_ids_and_questions_unique():
    ids = [r["id"] for r in QA]
    assert len(ids) == len(set(ids)), [i for i, c in Counter(ids).items() if c > 1]
    questions = [norm(r["question"]) for r in QA]
    assert len(questions) == len(set(questions)), "duplicate questions"


def test_qa_counts_and_splits():
    assert len(QA) >= 80
    types = Counter(r["type"] for r in QA)
    splits = Counter(r["split"] for r in QA)
    assert set(splits) == SPLITS
    assert 0.2 <= splits["test"] / len(QA) <= 0.4, splits
    assert types["unanswerable"] >= 15
    assert types["conflict"] >= 5
    unanswerable_splits = Counter(r["split"] for r in QA if r["type"] == "unanswerable")
    assert unanswerable_splits["test"] >= 7
    assert unanswerable_splits["train"] >= 7
    conflict_splits = Counter(r["split"] for r in QA if r["type"] == "conflict")
    assert conflict_splits["test"] >= 1 and conflict_splits["train"] >= 1


def test_conflict_questions_cite_current_documents():
    for r in QA:
        if r["type"] == "conflict":
            for src in r["sources"]:
                assert src["file"] not in ARCHIVED, f"{r['id']} cites archived {src['file']}"


def test_every_source_exists():
    for r in QA:
        for src in r["sources"]:
            path = DOCS / src["file"]
            assert path.is_file(), f"{r['id']}: {src['file']} does not exist"
            if path.suffix == ".pdf":
                n = len(pdf_reader(src["file"]).pages)
                assert src["page"] <= n, f"{r['id']}: page {src['page']} > {n}"
                if "page_label" in src:
                    label = pdf_reader(src["file"]).page_labels[src["page"] - 1]
                    assert label == src["page_label"], f"{r['id']}: label {label}"


def _source_text(src: dict) -> tuple[str, str]:
    """(text the answer must occur in, text the whole file/page) for a source."""
    rel, heading = src["file"], src["heading"]
    suffix = Path(rel).suffix
    if suffix == ".pdf":
        page = pdf_page_text(rel, src["page"])
        if heading is not None:
            assert norm(heading) in page, f"heading {heading!r} not on page {src['page']}"
        return page, page
    raw = read_text(rel)
    if suffix == ".md":
        whole = norm_md(raw)
        if heading is None:
            return whole, whole
        section = md_section(raw, heading)
    elif suffix == ".html":
        whole = visible_html_text(raw)
        if heading is None:
            return whole, whole
        section = html_section(raw, heading)
    else:  # .txt: headings are plain lines
        whole = norm(raw)
        if heading is not None:
            lines = {norm(line) for line in raw.splitlines()}
            assert norm(heading) in lines, f"heading line {heading!r} not in {rel}"
        return whole, whole
    assert section is not None, f"heading {heading!r} not found in {rel}"
    return section, whole


@pytest.mark.parametrize("record", ANSWERABLE, ids=[r["id"] for r in ANSWERABLE])
def test_gold_answer_occurs_in_source(record):
    answer = norm(record["answer"])
    for src in record["sources"]:
        section, _ = _source_text(src)
        assert answer in section, (
            f"{record['id']}: answer {record['answer']!r} not found in "
            f"{src['file']} (page={src['page']}, heading={src['heading']!r})"
        )


def test_html_noise_is_not_visible_text():
    # Sanity check of the stripping used above: script/style text must not leak.
    page = read_text("plans/pricing.html")
    visible = visible_html_text(page)
    assert "dataLayer".lower() not in visible
    assert "grid-template-columns" not in visible
    assert "$12.99 per month" in visible


# --------------------------------------------------------------------------- make_pdfs.py


def _pdf_texts(root: Path) -> dict[str, list[str]]:
    out = {}
    for pdf in sorted(root.rglob("*.pdf")):
        reader = PdfReader(str(pdf))
        key = pdf.relative_to(root).as_posix()
        out[key] = [page.extract_text() for page in reader.pages] + [repr(reader.page_labels)]
    return out


def test_make_pdfs_is_deterministic(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ACME / "make_pdfs.py"), str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    generated = _pdf_texts(tmp_path)
    committed = _pdf_texts(DOCS)
    assert set(generated) == set(committed), "make_pdfs.py output differs from committed PDFs"
    for rel, pages in committed.items():
        assert generated[rel] == pages, f"{rel}: regenerated text differs; rerun make_pdfs.py"
