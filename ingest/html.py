"""HTML files: main content via trafilatura, as Markdown, split by heading.

trafilatura drops navigation, scripts, styles, footers and other boilerplate and renders
``<h1>``..``<h6>`` as ``#``..``######``. On pages without an ``<article>``/``<main>``
wrapper it sometimes renders headings as plain paragraphs; those are turned back into
headings when they match a heading element of the page. When trafilatura finds nothing
(tiny or odd pages) a plain lxml walk of ``<body>`` without script, style, nav, header,
footer and aside is used instead.
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
from ingest.markdown import markdown_sections
from ingest.text import Parsed, clean_text, looks_binary

logger = logging.getLogger(__name__)

_HEADING_TAGS = {f"h{n}": n for n in range(1, 7)}
_NOISE_TAGS = ("script", "style", "noscript", "template", "nav", "header", "footer",
               "aside", "form", "svg", "iframe", "button", "select")
_BLOCK_TAGS = frozenset({"p", "div", "li", "ul", "ol", "pre", "blockquote", "table", "tr",
                         "section", "article", "main", "dd", "dt", "br", "hr", "figure"})
_WS = re.compile(r"\s+")
_XML_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


def parse_html(data: bytes, source: str) -> Parsed:
    """Parse an HTML page into heading-path sections of its main content.

    The title is the one trafilatura's metadata finds (``og:title``, ``<h1>``,
    ``<title>``), else the page's ``<title>``. Raises ``InputFileError`` for binary data
    or a page with no parseable HTML tree.
    """
    if looks_binary(data):
        raise InputFileError(source, "binary file, not HTML (contains NUL or control bytes)")
    tree = _load_tree(data, source)
    markdown = _extract_markdown(tree, source)
    if markdown:
        markdown = _restore_headings(markdown, _page_headings(tree))
    else:
        logger.info("%s: trafilatura found no main content; using plain body text", source)
        markdown = _fallback_markdown(tree)
    heading_title, sections = markdown_sections(clean_text(markdown, collapse_spaces=False))
    return Parsed(title=_page_title(tree, source) or heading_title, sections=sections)


def _load_tree(data: bytes, source: str) -> HtmlElement:
    """Decode (trafilatura's charset detection, which reads ``<meta charset>``) and parse.

    lxml's document parser accepts fragments such as ``<p>hi</p>`` too, which
    ``trafilatura.load_html`` refuses.
    """
    text = _XML_DECLARATION.sub("", decode_file(data), count=1)
    if not text.strip():
        raise InputFileError(source, "no extractable text (empty HTML)")
    try:
        # A parser per call: lxml parsers must not be shared between threads.
        parser = lxml.html.HTMLParser(remove_comments=True, remove_pis=True, collect_ids=False)
        return lxml.html.document_fromstring(text, parser=parser)
    except (ValueError, etree.LxmlError) as exc:
        raise InputFileError(source, f"cannot parse HTML ({type(exc).__name__}: {exc})") from exc


def _extract_markdown(tree: HtmlElement, source: str) -> str:
    # trafilatura prunes the tree it is given, so it gets a copy.
    try:
        out = trafilatura.extract(
            copy.deepcopy(tree),
            output_format="markdown",
            include_formatting=True,
            include_tables=True,
            include_comments=False,
            favor_recall=True,
        )
    except Exception as exc:  # third-party parser: any failure is this file's problem
        raise InputFileError(
            source, f"HTML extraction failed ({type(exc).__name__}: {exc})"
        ) from exc
    return out or ""


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


def _denoised_body(tree: HtmlElement) -> HtmlElement:
    body = copy.deepcopy(tree.find("body") if tree.find("body") is not None else tree)
    for element in body.xpath("|".join(f"//{tag}" for tag in _NOISE_TAGS)):
        element.drop_tree()
    return body


def _page_headings(tree: HtmlElement) -> dict[str, int]:
    """Normalised heading text -> level, for headings outside nav/header/footer/aside."""
    levels: dict[str, int] = {}
    for element in _denoised_body(tree).iter(*_HEADING_TAGS):
        text = _norm(element.text_content())
        if text:
            levels.setdefault(text, _HEADING_TAGS[element.tag])
    return levels


def _restore_headings(markdown: str, levels: dict[str, int]) -> str:
    """Turn lines that are exactly the text of a page heading back into ``#`` headings.

    A page's only ``<h1>`` that trafilatura dropped (it treats it as the title) is put
    back in front, so heading paths start from it as they do on ``<article>`` pages.
    """
    if not levels:
        return markdown
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        text = _norm(line.strip("*_ "))
        level = levels.get(text)
        if level and not line.lstrip().startswith("#"):
            lines[i] = f"\n{'#' * level} {text}\n"  # blank lines around: its own block
    h1s = [text for text, level in levels.items() if level == 1]
    if len(h1s) == 1 and h1s[0] not in _norm(markdown):
        lines.insert(0, f"# {h1s[0]}\n")
    return "\n".join(lines)


def _fallback_markdown(tree: HtmlElement) -> str:
    """Body text with headings as ``#`` lines and blocks as paragraphs."""
    body = _denoised_body(tree)
    for element in list(body.iter()):
        if not isinstance(element.tag, str):
            continue  # comments and processing instructions
        if element.tag in _HEADING_TAGS:
            text = _norm(element.text_content())
            element.clear(keep_tail=True)
            element.text = f"\n\n{'#' * _HEADING_TAGS[element.tag]} {text}\n\n" if text else ""
        elif element.tag in _BLOCK_TAGS:
            element.tail = "\n\n" + (element.tail or "")
    return body.text_content()


def _norm(text: str) -> str:
    return _WS.sub(" ", text).strip()
