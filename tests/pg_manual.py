"""Reading the shared PostgreSQL 15 manual the way its question sets are checked.

Gold answers must literally occur (lowercased, whitespace collapsed) in the visible text
of the section they cite: the page's body without scripts, styles and the navigation
header/footer, under the cited h1..h4 heading. Used by
``tests/examples/test_postgresql_questions.py`` (the evaluation questions) and
``tests/examples/test_postgresql_train_qa.py`` (the training Q&A).
"""

from __future__ import annotations

import re
from functools import cache

import lxml.html
import pytest
from lxml.html import HtmlElement
from shared_data import SHARED_DATA

HTML = SHARED_DATA / "postgresql-15-docs" / "html"

_HEADINGS = ("h1", "h2", "h3", "h4")
_NAVIGATION = '//script|//style|//div[@class="navheader"]|//div[@class="navfooter"]'
# Elements that end a visual line: a space is put around their text, so table cells and
# definition terms do not run together ("23505unique_violation").
_BLOCKS = frozenset({"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "pre", "table", "tr",
                     "td", "th", "thead", "tbody", "caption", "blockquote", "br", "hr",
                     "h1", "h2", "h3", "h4", "h5", "h6"})

needs_manual = pytest.mark.skipif(not HTML.is_dir(),
                                  reason=f"PostgreSQL manual not available: {HTML}")


def norm(text: str) -> str:
    """Lowercase and collapse whitespace."""
    return re.sub(r"\s+", " ", text).strip().lower()


@cache
def page(name: str) -> HtmlElement:
    """The page's ``<body>`` without scripts, styles and navigation, block text spaced."""
    data = re.sub(rb"^\s*<\?xml[^>]*\?>", b"", (HTML / name).read_bytes())
    tree = lxml.html.document_fromstring(data)
    for element in tree.xpath(_NAVIGATION):
        element.drop_tree()
    for element in tree.iter():
        if isinstance(element.tag, str) and element.tag in _BLOCKS:
            element.text = " " + (element.text or "")
            element.tail = " " + (element.tail or "")
    return tree.find("body")


@cache
def page_text(name: str) -> str:
    """Normalised visible text of the whole page."""
    return norm(page(name).text_content())


def headings(name: str) -> dict[str, HtmlElement]:
    """Normalised heading text -> the first h1..h4 element with that text."""
    found: dict[str, HtmlElement] = {}
    for element in page(name).iter(*_HEADINGS):
        found.setdefault(norm(element.text_content()), element)
    return found


@cache
def section_text(name: str, heading: str) -> str | None:
    """Visible text of the section the heading titles: the DocBook section ``div`` that
    holds the heading's ``titlepage`` (or the heading's parent where there is none)."""
    element = headings(name).get(norm(heading))
    if element is None:
        return None
    holder = element
    while holder is not None and not (holder.tag == "div"
                                      and "titlepage" in (holder.get("class") or "")):
        holder = holder.getparent()
    section = holder.getparent() if holder is not None else element.getparent()
    return norm(section.text_content())


@cache
def page_names() -> tuple[str, ...]:
    """Every HTML page of the manual, sorted."""
    return tuple(sorted(p.name for p in HTML.glob("*.html")))


def pages_with_term(term: str) -> list[str]:
    """Pages whose visible text holds ``term`` as a whole word (case-insensitive; a hyphen
    counts as part of a word, so "wal-g" is not found in "wal-generating")."""
    needle = norm(term)
    pattern = re.compile(r"(?<![\w-])" + re.escape(needle) + r"(?![\w-])")
    return [name for name in page_names()
            if needle in page_text(name) and pattern.search(page_text(name))]  # `in`: fast
