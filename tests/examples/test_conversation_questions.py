"""Checks for the two multi-turn conversation question sets
(``examples/acme/conversation_questions.jsonl`` and
``examples/postgresql/conversation_questions.jsonl``).

Each row is a customer-support conversation whose last user question is a follow-up that only
makes sense with the earlier turns; ``standalone`` spells it out. The checks are self-contained:
documents are read directly (Markdown, text and HTML as files, PDFs page by page with pypdf,
HTML with lxml), text is normalised (case, whitespace, curly quotes, dashes, Markdown emphasis),
and every gold answer, alias and yes/no evidence phrase must occur in the section under its
cited heading (on the cited page for a PDF) as well as in the cited file or page as a whole.
Unanswerable rows name terms that occur in no document of their corpus.
"""

from __future__ import annotations

import html as htmllib
import json
import re
import unicodedata
from functools import cache
from pathlib import Path

import pytest
from lxml import html as lxml_html
from pypdf import PdfReader

ROOT = Path(__file__).resolve().parents[2]
ACME_DOCS = ROOT / "examples" / "acme" / "docs"
PG_HTML = ROOT.parent / "shared" / "data" / "postgresql-15-docs" / "html"

FILES = {
    "acme": (ROOT / "examples" / "acme" / "conversation_questions.jsonl", "cv"),
    "postgresql": (ROOT / "examples" / "postgresql" / "conversation_questions.jsonl", "pgcv"),
}
COUNT, HALF, UNANSWERABLE_PER_HALF = 60, 30, 5
BASE_KEYS = {"id", "history", "question", "standalone", "answer", "aliases", "stale_answer",
             "sources", "split", "type"}
SOURCE_KEYS = {"file", "page", "page_label", "heading"}
TYPES = {"factoid", "how_to", "yes_no", "config_default", "unanswerable"}

BLOCK_TAGS = {"address", "article", "aside", "blockquote", "br", "caption", "dd", "div", "dl",
              "dt", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6",
              "header", "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody",
              "td", "tfoot", "th", "thead", "tr", "ul"}
HEADING_TAGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
ADMONITIONS = {"note", "tip", "warning", "caution", "important"}
TRANSLATE = str.maketrans({"\u2018": "'", "\u2019": "'", "\u201a": "'", "\u201b": "'",
                           "\u201c": '"', "\u201d": '"', "\u201e": '"', "\u201f": '"',
                           "\u2010": "-", "\u2011": "-", "\u2012": "-", "\u2013": "-",
                           "\u2014": "-", "\u2015": "-", "\u2212": "-", "\u00a0": " "})

needs_manual = pytest.mark.skipif(not PG_HTML.is_dir(),
                                  reason="PostgreSQL 15 manual not found at " + str(PG_HTML))


def norm(text: str) -> str:
    """Lowercase, unify quotes and dashes, drop Markdown emphasis, collapse whitespace."""
    text = unicodedata.normalize("NFKC", text).translate(TRANSLATE)
    text = text.replace("**", "").replace("`", "")
    return re.sub(r"\s+", " ", text).strip().lower()


@cache
def rows(corpus: str) -> tuple[dict, ...]:
    path = FILES[corpus][0]
    return tuple(json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()
                 if line.strip())


def needles(row: dict) -> list[str]:
    """What must occur under the cited heading: the answer and aliases, or yes/no evidence."""
    if row["type"] == "yes_no":
        return [row["evidence"]]
    return [row["answer"], *row["aliases"]]


# ---------------------------------------------------------------------------- HTML sections

def _is_admonition(el) -> bool:
    for anc in el.iterancestors("div"):
        if ADMONITIONS & set((anc.get("class") or "").split()):
            return True
    return False


@cache
def html_sections(path: Path) -> tuple[str, tuple[tuple[str, str], ...]]:
    """(normalised visible text, ((normalised heading, normalised section text), ...))."""
    doc = lxml_html.fromstring(path.read_bytes())
    for bad in doc.xpath("//script|//style|//head|//noscript|//template"):
        bad.drop_tree()
    heads = []
    for el in doc.iter():
        if not isinstance(el.tag, str):
            continue
        tag = el.tag.lower()
        if tag in HEADING_TAGS and not _is_admonition(el):
            heads.append((el, HEADING_TAGS[tag], norm(el.text_content())))
    for el in doc.iter():
        if isinstance(el.tag, str) and el.tag.lower() in BLOCK_TAGS:
            el.text = " " + (el.text or "")
            el.tail = " " + (el.tail or "")
    for i, (el, _, _) in enumerate(heads):
        el.text = f"\ue000{i}\ue001" + (el.text or "")
    parts = re.split(r"\ue000(\d+)\ue001", doc.text_content())
    chunks = {int(parts[k]): parts[k + 1] for k in range(1, len(parts), 2)}
    sections = []
    for i, (_, level, title) in enumerate(heads):
        text = [chunks[i]]
        for j in range(i + 1, len(heads)):
            if heads[j][1] <= level:
                break
            text.append(chunks[j])
        sections.append((title, norm(" ".join(text))))
    return norm(re.sub(r"\ue000\d+\ue001", " ", doc.text_content())), tuple(sections)


# ---------------------------------------------------------------------- Acme file sections

def _md_sections(text: str) -> list[tuple[str, str]]:
    lines, heads, fence = text.splitlines(), [], False
    for n, line in enumerate(lines):
        if line.strip().startswith("```"):
            fence = not fence
        m = None if fence else re.match(r"^(#{1,6})\s+(.*)$", line)
        if m:
            heads.append((n, len(m.group(1)), norm(m.group(2))))
    out = []
    for i, (n, level, title) in enumerate(heads):
        end = next((h[0] for h in heads[i + 1:] if h[1] <= level), len(lines))
        out.append((title, norm("\n".join(lines[n:end]))))
    return out


def _txt_is_heading(lines: list[str], n: int) -> bool:
    line = lines[n].strip()
    if not line or re.fullmatch(r"[-=]+", line):
        return False
    if n + 1 < len(lines) and re.fullmatch(r"[-=]{3,}", lines[n + 1].strip()):
        return True
    if re.match(r"^KI-\d+\s", line):
        return True
    return line == line.upper() and sum(c.isalpha() for c in line) >= 3


def _txt_sections(text: str) -> list[tuple[str, str]]:
    lines, out = text.splitlines(), []
    for n, line in enumerate(lines):
        if not line.strip():
            continue
        end = next((k for k in range(n + 1, len(lines)) if _txt_is_heading(lines, k)),
                   len(lines))
        out.append((norm(line), norm("\n".join(lines[n:end]))))
    return out


@cache
def pdf_reader(rel: str) -> PdfReader:
    return PdfReader(str(ACME_DOCS / rel))


@cache
def pdf_page_text(rel: str, page: int) -> str:
    return norm(pdf_reader(rel).pages[page - 1].extract_text())


def acme_section(source: dict) -> tuple[str, list[str]]:
    """(normalised text of the cited file or PDF page, sections under the cited heading)."""
    rel, heading = source["file"], norm(source["heading"])
    path = ACME_DOCS / rel
    if path.suffix == ".pdf":
        page = pdf_page_text(rel, source["page"])
        start = page.find(heading)
        return page, ([page[start:]] if start >= 0 else [])
    if path.suffix == ".html":
        whole, sections = html_sections(path)
    else:
        raw = path.read_text(encoding="utf-8")
        whole = norm(raw)
        sections = _md_sections(raw) if path.suffix == ".md" else _txt_sections(raw)
    return whole, [text for title, text in sections if title == heading]


@cache
def acme_texts() -> tuple[str, ...]:
    """Normalised text of every Acme document (raw file text; PDFs via pypdf, all pages)."""
    texts = []
    for path in sorted(ACME_DOCS.rglob("*")):
        if path.suffix == ".pdf":
            rel = str(path.relative_to(ACME_DOCS))
            texts.append(norm(" ".join(p.extract_text() for p in pdf_reader(rel).pages)))
        elif path.is_file():
            raw = path.read_text(encoding="utf-8", errors="ignore")
            texts.append(norm(raw))
            if path.suffix == ".html":
                texts.append(html_sections(path)[0])
    return tuple(texts)


@cache
def pg_texts() -> tuple[str, ...]:
    """Normalised raw text (tags and entities included, and unescaped) of every manual page."""
    texts = []
    for path in sorted(PG_HTML.glob("*.html")):
        raw = path.read_text(encoding="utf-8", errors="ignore")
        texts.append(norm(raw) + " \x00 " + norm(htmllib.unescape(re.sub(r"<[^>]+>", "", raw))))
    return tuple(texts)


# ------------------------------------------------------------------------------------ tests

@pytest.mark.parametrize("corpus", sorted(FILES))
def test_sixty_rows_with_ids_in_order_and_the_schema(corpus):
    prefix = FILES[corpus][1]
    assert [r["id"] for r in rows(corpus)] == [f"{prefix}{i:03d}" for i in range(1, COUNT + 1)]
    assert len({norm(r["question"]) for r in rows(corpus)}) == COUNT
    assert len({norm(r["standalone"]) for r in rows(corpus)}) == COUNT
    for r in rows(corpus):
        extra = set()
        if r["type"] == "yes_no":
            extra = {"evidence"}
        elif r["type"] == "unanswerable":
            extra = {"why_unanswerable", "absent_terms"}
        assert set(r) == BASE_KEYS | extra, r["id"]
        assert r["type"] in TYPES, r["id"]
        assert r["question"].strip() and r["standalone"].strip(), r["id"]
        assert norm(r["question"]) != norm(r["standalone"]), r["id"]
        assert isinstance(r["aliases"], list), r["id"]
        if r["type"] == "unanswerable":
            assert r["answer"] is None and r["aliases"] == [] and r["sources"] == [], r["id"]
            assert r["stale_answer"] is None, r["id"]
            assert r["why_unanswerable"].strip(), r["id"]
            assert 1 <= len(r["absent_terms"]) <= 4, r["id"]
            assert all(norm(t) in norm(r["question"] + " " + r["standalone"])
                       for t in r["absent_terms"]), r["id"]
        else:
            assert isinstance(r["answer"], str) and r["answer"].strip(), r["id"]
            assert r["sources"], r["id"]
            assert all(set(s) == SOURCE_KEYS and s["heading"].strip() for s in r["sources"]), \
                r["id"]
        if r["type"] == "yes_no":
            assert r["answer"] in {"yes", "no"} and r["evidence"].strip(), r["id"]
        if corpus == "postgresql":
            assert r["stale_answer"] is None, r["id"]


@pytest.mark.parametrize("corpus", sorted(FILES))
def test_split_halves(corpus):
    first, second = rows(corpus)[:HALF], rows(corpus)[HALF:]
    assert all(r["split"] == "dev" for r in first)
    assert all(r["split"] == "test" for r in second)
    for half in (first, second):
        assert sum(r["type"] == "unanswerable" for r in half) == UNANSWERABLE_PER_HALF


@pytest.mark.parametrize("corpus", sorted(FILES))
def test_histories_are_well_formed(corpus):
    for r in rows(corpus):
        history = r["history"]
        assert isinstance(history, list) and 2 <= len(history) <= 6, r["id"]
        assert len(history) % 2 == 0, r["id"]
        for k, turn in enumerate(history):
            assert set(turn) == {"role", "content"}, r["id"]
            assert turn["role"] == ("user" if k % 2 == 0 else "assistant"), r["id"]
            assert isinstance(turn["content"], str) and turn["content"].strip(), r["id"]
        assert norm(r["question"]) not in {norm(t["content"]) for t in history}, r["id"]


def test_acme_answers_occur_under_their_headings():
    for r in rows("acme"):
        for source in r["sources"]:
            path = ACME_DOCS / source["file"]
            assert path.is_file(), (r["id"], source["file"])
            if path.suffix == ".pdf":
                reader = pdf_reader(source["file"])
                assert 1 <= source["page"] <= len(reader.pages), (r["id"], source)
                assert reader.page_labels[source["page"] - 1] == source["page_label"], r["id"]
            else:
                assert source["page"] is None and source["page_label"] is None, r["id"]
            whole, sections = acme_section(source)
            assert sections, (r["id"], "heading not found", source)
            for needle in needles(r):
                assert norm(needle) in whole, (r["id"], needle)
                assert any(norm(needle) in s for s in sections), (r["id"], needle, source)


def test_acme_stale_answers_are_stated_by_some_document():
    stale = [r for r in rows("acme") if r["stale_answer"] is not None]
    assert stale
    for r in stale:
        assert norm(r["stale_answer"]) != norm(r["answer"]), r["id"]
        assert any(norm(r["stale_answer"]) in t for t in acme_texts()), r["id"]


def test_acme_absent_terms_occur_in_no_document():
    assert ACME_DOCS.is_dir()
    for r in rows("acme"):
        for term in r.get("absent_terms", []):
            assert not any(norm(term) in t for t in acme_texts()), (r["id"], term)


@needs_manual
def test_postgresql_answers_occur_under_their_headings():
    for r in rows("postgresql"):
        for source in r["sources"]:
            path = PG_HTML / source["file"]
            assert path.is_file(), (r["id"], source["file"])
            assert source["page"] is None and source["page_label"] is None, r["id"]
            whole, sections = html_sections(path)
            matching = [text for title, text in sections if title == norm(source["heading"])]
            assert matching, (r["id"], "heading not found", source)
            for needle in needles(r):
                assert norm(needle) in whole, (r["id"], needle)
                assert any(norm(needle) in s for s in matching), (r["id"], needle, source)


@needs_manual
def test_postgresql_absent_terms_occur_on_no_page():
    texts = pg_texts()
    assert len(texts) > 1000
    for r in rows("postgresql"):
        for term in r.get("absent_terms", []):
            assert not any(norm(term) in t for t in texts), (r["id"], term)
