"""HTML files: the main content of a page, split into sections by its h1..h6 headings.

The page is parsed with lxml and walked directly (``ingest.html_content`` says what is
content), so the heading structure survives on pages that content extractors flatten:
DocBook manuals nest their ``<h2 class="title">`` inside ``<div class="titlepage">``.
A heading whose text is the page's ``<title>`` (a DocBook reference page's ``<h2>``
title, say) is the root of the path: later headings of its level nest under it. Blocks
are joined as paragraphs (blank line between); list items, table rows and a term or an
admonition title with what follows are lines (single newline). Section text starts with
its heading line, as in Markdown. The terms of a definition list in the page's flow
(``html_content``: a reference manual's settings and options) head their definitions one
level below the heading over the list, so "max_connections (integer)" is the last step of
its definition's path; terms written back to back ("-a", "--echo-all") head it together,
and the path steps back up where the list ends.
"""

from __future__ import annotations

import copy
import logging
import re

import lxml.html
import trafilatura
from lxml import etree
from lxml.html import HtmlElement
from trafilatura.utils import decode_file

from core.errors import InputFileError
from ingest.headings import HeadingStack
from ingest.html_content import content_blocks
from ingest.records import Section
from ingest.text import Parsed, collapse_whitespace, looks_binary, strip_controls

logger = logging.getLogger(__name__)

_HEADING_LEVELS = {f"h{n}": n for n in range(1, 7)}
TERM_LEVEL = 7  # a definition list's term heads its definition, below any h1..h6
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")
# Blocks of these kinds end with a single newline before the next block of the listed kinds.
_TIGHT = {"term": None, "label": None, "caption": None, "item": frozenset({"item"})}


def parse_html(data: bytes, source: str) -> Parsed:
    """Parse an HTML page into heading-path sections of its main content.

    The title is the one trafilatura's metadata finds (``og:title``, ``<h1>``,
    ``<title>``), else the page's ``<title>``, else its first h1 (first heading). Raises
    ``InputFileError`` for binary data or a page with no parseable HTML tree.
    """
    if looks_binary(data):
        raise InputFileError(source, "binary file, not HTML (contains NUL or control bytes)")
    tree = _load_tree(data, source)
    title_element = tree.find(".//title")
    page_title = _norm(title_element.text_content()) if title_element is not None else ""
    heading_title, sections = _sections(content_blocks(tree), page_title)
    return Parsed(title=_page_title(tree, source) or heading_title, sections=sections)


def _load_tree(data: bytes, source: str) -> HtmlElement:
    """Decode (trafilatura's charset detection, which reads ``<meta charset>``) and parse.

    lxml's document parser accepts fragments such as ``<p>hi</p>`` too.
    """
    text = strip_controls(_XML_DECLARATION.sub("", decode_file(data), count=1))
    if not text.strip():
        raise InputFileError(source, "no extractable text (empty HTML)")
    try:
        # A parser per call: lxml parsers must not be shared between threads.
        parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
        return lxml.html.document_fromstring(text, parser=parser)
    except (ValueError, etree.LxmlError) as exc:
        raise InputFileError(source, f"cannot parse HTML ({type(exc).__name__}: {exc})") from exc


def _page_title(tree: HtmlElement, source: str) -> str | None:
    try:
        meta = trafilatura.extract_metadata(copy.deepcopy(tree))
    except Exception as exc:  # metadata is optional; the page itself is fine
        logger.debug("%s: metadata extraction failed: %s", source, exc)
        meta = None
    if meta is not None and meta.title:
        return _norm(meta.title)
    title = tree.find(".//title")
    if title is None:
        return None
    return _norm(title.text_content()) or None


# --- sections ----------------------------------------------------------------------------


def _sections(blocks: list[tuple[str, str]], page_title: str
              ) -> tuple[str | None, tuple[Section, ...]]:
    """(first h1 or first heading, sections): one per heading with body text.

    The first heading whose text is the page's ``<title>`` is the root (level 0)."""
    stack = HeadingStack(lead_heading=True, join=_join)
    headings: list[tuple[int, str]] = []
    previous = ""
    for kind, text in blocks:
        if kind == "dt":
            text = ", ".join(line.strip() for line in text.splitlines() if line.strip())
            if previous == "dt":  # "-a" then "--echo-all": one definition, both its names
                text = f"{stack.path[-1]}, {text}"
            stack.open(TERM_LEVEL, text)
        elif kind == "dl-end":
            stack.close(TERM_LEVEL)
        previous = kind
        if kind in ("dt", "dl-end"):
            continue
        if kind not in _HEADING_LEVELS:
            stack.body.append((kind, text))
            continue
        level = _HEADING_LEVELS[kind]
        headings.append((level, text))
        if not stack.path and text == page_title:  # the first heading, and it is the title
            level = 0
        stack.open(level, text)
    sections = stack.sections()
    h1 = next((t for level, t in headings if level == 1), None)
    return h1 or (headings[0][1] if headings else None), sections


def _join(body: list[tuple[str, str]]) -> str:
    out = [body[0][1]]
    for (before, _), (kind, text) in zip(body, body[1:], strict=False):
        tight = before in _TIGHT and (_TIGHT[before] is None or kind in _TIGHT[before])
        out.append(("\n" if tight else "\n\n") + text)
    return "".join(out)


def _norm(text: str) -> str:
    return collapse_whitespace(text).strip()
