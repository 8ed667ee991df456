"""The main content of an HTML page as a list of blocks: headings and paragraphs of text.

What is left out:

- scripts, styles, forms' controls, ``<nav>``, ``<aside>``, ``<footer>``, a ``<header>``
  outside the content, hidden elements (``hidden``, ``aria-hidden``, ``display:none``)
  and ARIA landmarks that are not content (navigation, banner, contentinfo, search,
  complementary, dialog);
- links whose whole text is a mark ("§", "¶", "#": commit links, permalinks);
- containers whose class or id names page furniture (navheader/navfooter, breadcrumbs,
  sidebars, cookie banners, share and social links, pagination, "was this helpful"
  widgets and ratings), unless they hold most of
  the page's text, and tables of contents unless they are all the page has.

The content is the page's ``<main>`` (or ``role="main"``), else its only ``<article>``,
else its ``<body>``; a lone ``<h1>`` printed before it is put back in front. Headings
inside admonitions (Note, Tip, Warning, ...), tables, figures, block quotes and
definition lists are text, not headings; so are table captions. The terms of a
definition list that stands in the page's flow (not inside a table, figure, block quote,
admonition or another definition list) are the headings of their definitions: a
reference manual's settings, options and parameters ("max_connections (integer)") are
what a reader looks up and cites, so they come out as ``"dt"`` blocks, with a
``"dl-end"`` block where the list ends; a nested list's terms stay text.
Text outside ``<pre>`` has its layout whitespace collapsed.
"""

from __future__ import annotations

import copy
import re

from lxml.html import HtmlElement

from ingest.text import collapse_whitespace, table_row_blocks

_HEADING_TAGS = {f"h{n}": n for n in range(1, 7)}
_DROP_TAGS = ("script", "style", "noscript", "template", "nav", "aside", "footer", "svg",
              "iframe", "button", "select", "input", "textarea", "object", "embed", "canvas",
              "map", "dialog")
_DROP_ROLES = frozenset({"navigation", "banner", "contentinfo", "search", "complementary",
                         "dialog", "alertdialog", "menu", "menubar"})
_BLOCK_TAGS = frozenset({"p", "div", "li", "ul", "ol", "dl", "dt", "dd", "pre", "blockquote",
                         "table", "tr", "td", "th", "thead", "tbody", "tfoot", "caption",
                         "section", "article", "main", "header", "figure", "figcaption",
                         "address", "details", "summary", "fieldset", "hr", "center", "form",
                         "body", *_HEADING_TAGS})
_FURNITURE_TAGS = frozenset({"div", "section", "ul", "ol", "table", "p", "header"})
_FURNITURE_PART = re.compile(
    r"^(?:nav\w*|\w*sidebar|breadcrumbs?|cookies?|consent|gdpr|skip\w*|share|sharing|social"
    r"|newsletter|subscribe|advert\w*|ads|pagination|pager|masthead)$"
)
_FURNITURE_TOKEN = frozenset({"toc", "menu", "related", "comments", "feedback"})
# Parts of a class name (never an id: ids are often made from headings, "sending-feedback")
# that name a rating widget: "was-this-helpful", "article-feedback", "star-rating".
_WIDGET_CLASS_PART = re.compile(r"^(?:helpful|feedback|ratings?|votes?)$")
_NOT_SECTIONS = re.compile(
    r"^(?:note|tip|hint|warning|caution|important|danger|attention|admonition|callout"
    r"|alert|example|figure|table|informaltable|sidebar)$"
)
# A link whose whole text is a mark: "§" after each item of PostgreSQL's release notes
# (its commit), the "¶" or "#" permalinks of Sphinx, MkDocs and GitHub pages. It points
# somewhere; it says nothing.
_MARK_LINKS = frozenset({"\u00a7", "\u00b6", "\uf0c1", "#", "\U0001f517"})
_HIDDEN_STYLE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.IGNORECASE)
_TOKEN_SPLIT = re.compile(r"[-_]")
_MOST_OF_PAGE = 0.5


# --- which part of the page --------------------------------------------------------------


def _content(tree: HtmlElement) -> tuple[HtmlElement, HtmlElement | None]:
    """(the content element without page furniture, a lone h1 printed outside it)."""
    body = copy.deepcopy(tree.find("body") if tree.find("body") is not None else tree)
    _drop_furniture(body)
    mains = body.xpath(".//main|.//*[@role='main']")
    articles = body.xpath(".//article")
    root = body
    if mains:
        root = max(mains, key=lambda e: len(e.text_content()))
    elif len(articles) == 1:
        root = articles[0]
    if root is not body and not root.text_content().strip():
        root = body
    outside = None
    if root is not body and not root.xpath(".//h1"):
        h1s = [h for h in body.iter("h1") if root not in h.iterancestors()]
        outside = h1s[0] if len(h1s) == 1 else None
    return root, outside


def _drop_furniture(body: HtmlElement) -> None:
    """Remove navigation, boilerplate and hidden elements from ``body`` in place."""
    doomed = []
    for element in body.iter():
        if not isinstance(element.tag, str):
            continue
        page_header = element.tag == "header" and not any(
            a.tag in ("main", "article", "section") for a in element.iterancestors())
        if (element.tag in _DROP_TAGS or page_header or _hidden(element)
                or (element.get("role") or "").lower() in _DROP_ROLES
                or (element.tag == "a" and element.text_content().strip() in _MARK_LINKS)):
            doomed.append(element)
    _drop(doomed)
    total = len(body.text_content().strip())
    furniture = [e for e in body.iter(*_FURNITURE_TAGS) if _is_furniture(e) and not _is_toc(e)]
    # Most of the page under one furniture class is the content (a wrapper class that
    # names its sidebar, say).
    _drop([e for e in furniture if len(e.text_content().strip()) <= _MOST_OF_PAGE * total])
    # A table of contents goes unless it is all the page has besides its headings.
    tocs = [e for e in body.iter(*_FURNITURE_TAGS) if _is_toc(e)]
    if tocs:
        headings = sum(len(h.text_content().strip()) for h in body.iter(*_HEADING_TAGS))
        other = len(body.text_content().strip()) - headings
        _drop([e for e in tocs if len(e.text_content().strip()) < other])


def _drop(elements: list[HtmlElement]) -> None:
    # An element inside one dropped before went with it; dropping it too is harmless.
    for element in elements:
        if element.getparent() is not None:
            element.drop_tree()


def _hidden(element: HtmlElement) -> bool:
    return (element.get("hidden") is not None or element.get("aria-hidden") == "true"
            or bool(_HIDDEN_STYLE.search(element.get("style") or "")))


def _tokens(element: HtmlElement) -> list[str]:
    return f"{element.get('class') or ''} {element.get('id') or ''}".lower().split()


def _is_toc(element: HtmlElement) -> bool:
    return "toc" in _tokens(element)


def _is_furniture(element: HtmlElement) -> bool:
    for token in _tokens(element):
        if token in _FURNITURE_TOKEN:
            return True
        if any(_FURNITURE_PART.match(part) for part in _TOKEN_SPLIT.split(token)):
            return True
    return any(_WIDGET_CLASS_PART.match(part) for token in (element.get("class") or "").split()
               for part in _TOKEN_SPLIT.split(token.lower()))


# --- blocks ------------------------------------------------------------------------------


class _Walker:
    """Turns an element tree into blocks: (kind, text) with kind "h1".."h6" for headings,
    "dt" for a term heading and "dl-end" after its list (module docstring), and "p",
    "pre", "item", "term", "label", "caption", "row" for text."""

    def __init__(self) -> None:
        self.blocks: list[tuple[str, str]] = []
        self._inline: list[str] = []
        self._kind = "p"
        self._marker = ""  # a list item's "- " or "3. ", put before its first block
        self._term_lists = 0  # open definition lists whose terms are headings

    def flush(self) -> None:
        text = "".join(self._inline)
        text = re.sub(r" *\n *", "\n", re.sub(r" {2,}", " ", text)).strip()
        if text:
            kind = self._kind
            if self._marker:
                text, kind, self._marker = self._marker + text, "item", ""
            self.blocks.append((kind, text))
        self._inline.clear()
        self._kind = "p"

    def add_text(self, text: str | None) -> None:
        if text:
            self._inline.append(collapse_whitespace(text))

    def block(self, kind: str, text: str) -> None:
        self.flush()
        if text.strip():
            self.blocks.append((kind, text))
            self._marker = ""

    def walk(self, element: HtmlElement, in_section_free: bool = False) -> None:
        tag = element.tag if isinstance(element.tag, str) else ""
        if tag in _HEADING_TAGS:
            text = _heading_text(element)
            if in_section_free:
                self.block("label", text)
            elif text:
                self.block(tag, text)
        elif tag == "pre":
            self.block("pre", _preformatted(element))
        elif tag == "table" and not element.xpath(".//table|.//h1|.//h2|.//h3|.//h4|.//h5|.//h6"):
            self._table(element)
        elif tag == "br":
            self._inline.append("\n")
        elif tag:
            self._container(element, tag, in_section_free)
        self.add_text(element.tail)

    def _container(self, element: HtmlElement, tag: str, in_section_free: bool) -> None:
        block = tag in _BLOCK_TAGS
        if block:
            self.flush()
        if tag == "li":
            self._marker = _list_marker(element)
        elif tag == "dt":
            # a term of a list in the page's flow heads its definition ("dt" block)
            self._kind = "dt" if self._term_lists and not in_section_free else "term"
        elif tag in ("caption", "figcaption"):
            self._kind = "caption"
        # a list of terms with definitions; a table of contents' list (<dt>s only, or
        # class "toc") stays text, and is the page when it is all the page has
        terms = (tag == "dl" and not in_section_free and element.find("dd") is not None
                 and not _FURNITURE_TOKEN.intersection(_tokens(element)))
        if not terms:
            in_section_free = in_section_free or tag in ("table", "figure", "dl", "blockquote") \
                or any(_NOT_SECTIONS.match(t) for t in _tokens(element))
        self._term_lists += terms
        self.add_text(element.text)
        for child in element:
            # inside a term list, only its own <dt>s head; what the definitions hold
            # (headings, nested lists) is text
            self.walk(child, in_section_free or (terms and child.tag != "dt"))
        if block:
            self.flush()
        if terms:
            self._term_lists -= 1
            self.blocks.append(("dl-end", ""))

    def _table(self, table: HtmlElement) -> None:
        self.flush()
        caption = table.find("caption")
        if caption is not None and _flat_text(caption):
            self.blocks.append(("caption", _flat_text(caption)))
        for text in table_blocks(table):
            self.blocks.append(("row", text))


def table_blocks(table: HtmlElement) -> list[str]:
    """``table`` as Markdown-like rows ("| a | b |"), one string per block.

    A table of at most ``TABLE_BLOCK_ROWS`` body rows and ``TABLE_BLOCK_CHARS`` characters,
    or one without a header row (rows in ``<thead>``, or a first row of ``<th>`` cells
    only), is one block; its header rows, when it has them, are followed by a ``| --- |``
    separator. A longer one with a header comes in blocks of at most ``TABLE_BLOCK_ROWS``
    rows and ``TABLE_BLOCK_CHARS`` characters (``table_row_blocks``), each starting with the
    header rows and the separator; a row with one cell over
    several columns ("Class 08 — Connection Exception") is a group label, and a block
    that starts inside a group repeats its label first."""
    header: list[str] = []
    width = 0  # the header's widest row, in cells
    body: list[tuple[str, bool]] = []  # (line, is a group label)
    for row in table.xpath("./tr|./thead/tr|./tbody/tr|./tfoot/tr"):
        cells = row.xpath("./th|./td")
        texts = [_flat_text(cell) for cell in cells]
        if not any(texts):
            continue
        line = "| " + " | ".join(texts) + " |"
        in_head = row.getparent().tag == "thead" or (
            not body and all(cell.tag == "th" for cell in cells))
        if in_head and not body:
            header.append(line)
            width = max(width, len(cells))
            continue
        body.append((line, len(cells) == 1 and _colspan(cells[0]) > 1))
    if not header or not body:
        lines = header or [line for line, _ in body]
        return ["\n".join(lines)] if lines else []
    # a known header is marked by its separator, so its rows are read under it even when
    # no row holds a figure ("| Light | Meaning |" over "| Solid red | ... |")
    return table_row_blocks([*header, "|" + " --- |" * width], body)


def _colspan(cell: HtmlElement) -> int:
    """How many columns ``cell`` spans: its ``colspan``'s leading digits ("2", "3px"),
    1 when it has none ("wide", empty, absent)."""
    digits = re.match(r"\s*(\d+)", cell.get("colspan") or "")
    return int(digits.group(1)) if digits else 1


def content_blocks(tree: HtmlElement) -> list[tuple[str, str]]:
    """The page's main content as (kind, text) blocks: kind "h1".."h6" for a heading, "dt"
    for a term that heads its definition and "dl-end" (empty text) where its list ends,
    else "p", "pre", "item", "term", "label", "caption" or "row" (see ``_Walker``)."""
    root, outside_h1 = _content(tree)
    walker = _Walker()
    if outside_h1 is not None:
        walker.block("h1", _heading_text(outside_h1))
    root.tail = None  # text after the content element is not content
    walker.walk(root)
    walker.flush()
    return walker.blocks


def _heading_text(element: HtmlElement) -> str:
    return _flat_text(element).rstrip("\u00b6\uf0c1 ").strip()


def _list_marker(item: HtmlElement) -> str:
    parent = item.getparent()
    if parent is None or parent.tag != "ol":
        return "- "
    try:
        start = int(parent.get("start") or 1)
    except ValueError:
        start = 1
    siblings = [c for c in parent if c.tag == "li"]
    return f"{start + siblings.index(item)}. "


def _preformatted(element: HtmlElement) -> str:
    lines = element.text_content().expandtabs(8).replace("\r\n", "\n").split("\n")
    return "\n".join(line.rstrip() for line in lines).strip("\n")


def _flat_text(element: HtmlElement) -> str:
    """An element's text on one line: block boundaries and ``<br>`` become spaces."""
    parts: list[str] = []

    def visit(node: HtmlElement) -> None:
        is_block = isinstance(node.tag, str) and (node.tag in _BLOCK_TAGS or node.tag == "br")
        if is_block:
            parts.append(" ")
        if isinstance(node.tag, str):
            parts.append(node.text or "")
            for child in node:
                visit(child)
        if is_block:
            parts.append(" ")
        parts.append(node.tail or "")

    parts.append(element.text or "")
    for child in element:
        visit(child)
    return _norm("".join(parts))


def _norm(text: str) -> str:
    return collapse_whitespace(text).strip()
