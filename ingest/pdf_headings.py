"""Section headings of a PDF, so each page's text splits into sections with a heading path.

Two sources, in this order:

- the outline (bookmarks): each entry names its page and, usually, a position on it; the
  page is split at the line that prints the entry's title (else at the first line below
  the position, else at the top of the page). The path is the entry's titles from the
  root. Used when at least two entries resolve to a page.
- the text layout: pypdf's ``extract_text(visitor_text=...)`` reports every run of text
  with its font and size. A line is a heading when it is set clearly larger than the
  body text (the commonest size in the document), or in bold at about the size of the
  body text that follows it; it must be short, start with a capital or a number, not end
  like a sentence, not sit in a row of table columns, and not repeat on many pages (a
  running header). Lines of one heading style that follow each other closely are one
  heading. Bold upper-case labels that run into their paragraph ("SUMMARY: The FAA
  proposes ...") title the paragraph. Larger styles nest the smaller ones.
- numbered divisions in body type, as laws, contracts and policies print them: a line
  that is only "ARTICLE. IV." (or "Article 5", "CHAPTER 2", "PART III", brackets and a
  trailing footnote mark allowed) heads an article; "SECTION. 3. The Senate ..." (or
  "Section 3.", "Sec. 3.", "§ 3.") at the start of a paragraph heads a section inside
  it. They nest below the styled headings and above the run-in labels, and read
  "Article IV", "Section 3".

The text of a page is the text pypdf extracts, cut at heading lines, less running headers
and footers (lines among a page's first or last ones that recur at the same height on
many pages, numbers aside, and not as often inside pages; the first page keeps its top
ones).
A page that starts inside a section carries that section's path. When the layout of a
page cannot be read back (the runs do not add up to the extracted text), the page is one
section under the current path.
"""

from __future__ import annotations

import logging
import math
import re
import unicodedata
from bisect import bisect_left, bisect_right
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pypdf import PdfReader
from pypdf.errors import PyPdfError

from ingest.headings import HeadingStack
from ingest.pdf_lines import Line, PageText, Span, cells
from ingest.text import PART_NUMERAL, SECTION_KINDS

logger = logging.getLogger(__name__)

_LARGER = 1.18  # a heading without bold is at least this much larger than the body text
_BOLD_MIN = 0.85  # bold headings may be a little smaller than the document's body text
_MERGE_GAP = 1.7  # heading lines at most this many sizes apart are one heading
_MAX_HEADING_LINES = 3
_MAX_HEADING_WORDS = 20
_MAX_HEADING_CHARS = 160
_MAX_RUN_IN_WORDS = 6
_RUNNING_SHARE = 0.3  # a line on at least this share of the pages is a running header
_EDGE_LINES = 3  # running headers and footers are dropped from a page's first and last lines
_RUNNING_HEIGHT = 2.0  # points: a running line sits at the same height on every page
_RUNNING_VARIED_PAGES = 3  # pages needed by a running line whose numbers change
_SENTENCE_END = (".", ",", ";")
_WORD = re.compile(r"\w+")
_NUMBERS = re.compile(r"\d+|\b[ivxlcdm]+\b")
_NOT_ALNUM = re.compile(r"[\W_]+")
_ENUMERATOR = re.compile(r"^\(?[a-z]{1,4}[.)]\s+")  # "(a) ", "b. ", "iv) "
# A line that is only a division's label: "ARTICLE. IV.", "[ARTICLE XI.]", "ARTICLE [I.]13"
# (a footnote mark after it), "Article 5", "CHAPTER 2", "PART III".
_DIVISION = re.compile(r"^\[?(?P<kind>ARTICLE|CHAPTER|PART|Article|Chapter|Part)\.?\s*\[?"
                       + PART_NUMERAL + r"\.?\]?\.?\d{0,3}$")
# A section's label at the start of its first paragraph: "SECTION. 3. 1 The Senate ...",
# "Section 2. Congress shall ...", "Sec. 4. ...", "§ 5. ..." (a capital follows the label).
_SECTION = re.compile(rf"^(?P<kind>{SECTION_KINDS})\.?\s*{PART_NUMERAL}"
                      r"\.\s+(?:\d{1,2}\s+)?[A-Z]")
_MIN_CAPS_LINES, _MAX_CAPS_LINES = 2, 8
_MIN_CAPS_WORDS, _MAX_CAPS_WORDS = 6, 40
_CAPS_TITLE_CHARS = 100
_WRAPPED_CHARS = 25  # a title's lines but its last are at least this long
# words that make a run of capitals a phrase rather than a list of names
_PHRASE_WORDS = frozenset({"OF", "THE", "TO", "AND", "IN", "FOR", "BY", "ON", "AT", "WITH"})
_FOOTNOTE_MARK = re.compile(r"(?<=[A-Z])\d{1,3}$")
_KINDS = {"article": "Article", "chapter": "Chapter", "part": "Part", "section": "Section",
          "sec": "Section", "\u00a7": "Section"}


@dataclass(frozen=True)
class OutlineEntry:
    """A bookmark: 0-based page, the top of its destination when given, heading path."""

    page: int
    top: float | None
    path: tuple[str, ...]


# --- outline -----------------------------------------------------------------------------


def read_outline(reader: PdfReader, source: str) -> list[OutlineEntry]:
    """The outline's entries that resolve to a page, in outline order; [] when none or
    the outline is unreadable (logged)."""
    entries: list[OutlineEntry] = []

    def walk(items: Sequence[Any], parents: tuple[str, ...]) -> None:
        last: tuple[str, ...] = parents
        for item in items:
            if isinstance(item, list):
                walk(item, last)
                continue
            title = " ".join(str(item.title or "").split())
            if not title:
                continue
            last = (*parents, title)
            page = reader.get_destination_page_number(item)
            if page is None or page < 0:
                continue
            top = item.get("/Top")
            top_value = float(top) if isinstance(top, (int, float)) else None
            entries.append(OutlineEntry(page, top_value, last))

    try:
        walk(reader.outline, ())
    except (AttributeError, KeyError, TypeError, ValueError, RecursionError, PyPdfError) as exc:
        logger.warning("%s: unreadable outline (%s); finding headings from the layout",
                       source, exc)
        return []
    return entries


def _outline_starts(pages: Sequence[PageText], outline: Sequence[OutlineEntry]
                    ) -> dict[int, list[tuple[int, tuple[str, ...], int]]]:
    """Per page: (line index where a section starts, its path, heading line count)."""
    starts: dict[int, list[tuple[int, tuple[str, ...], int]]] = {}
    cursor: dict[int, int] = {}
    for entry in outline:
        if entry.page >= len(pages):
            continue
        lines = pages[entry.page].lines
        pos = cursor.get(entry.page, 0)
        found = _find_title(lines, pos, entry.path[-1])
        if found is None and entry.top is not None:
            found = next((i for i in range(pos, len(lines))
                          if lines[i].ink() and lines[i].ink()[0].y <= entry.top + 1), None)
        index = pos if found is None else found
        cursor[entry.page] = index
        starts.setdefault(entry.page, []).append((index, entry.path, 1 if found else 0))
    return starts


def _find_title(lines: Sequence[Line], pos: int, title: str) -> int | None:
    want = _letters(title)
    if not want:
        return None
    for i in range(pos, len(lines)):
        have = _letters(lines[i].text)
        if have and (have.startswith(want[:40]) or (len(have) >= 6 and want.startswith(have))):
            return i
    return None


def _letters(text: str) -> str:
    """Letters and digits only, lower case, ligatures ("\ufb00") spelled out."""
    return _NOT_ALNUM.sub("", unicodedata.normalize("NFKC", text).lower())


# --- layout ------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Heading:
    page: int
    line: int  # index of its first line
    count: int  # lines it takes (0: the line is body text too)
    text: str
    # (size, bold); _DIVISION_KIND or _SECTION_KIND for a numbered label in body type;
    # None for a run-in label
    style: tuple[float, bool] | str | None


_CAPS_KIND = "caps"
_DIVISION_KIND = "division"
_SECTION_KIND = "section"


def _layout_starts(pages: Sequence[PageText], running: set[tuple[int, int]]
                   ) -> dict[int, list[tuple[int, tuple[str, ...], int]]]:
    headings = _find_headings(pages, running)
    styles = sorted({h.style for h in headings if isinstance(h.style, tuple)},
                    key=lambda s: (-s[0], not s[1]))
    level: dict[object, int] = {style: i + 1 for i, style in enumerate(styles)}
    # titles in capitals, numbered divisions, then sections, then run-in labels: each kind
    # present nests below the ones before it
    for kind in (_CAPS_KIND, _DIVISION_KIND, _SECTION_KIND, None):
        if any(h.style == kind for h in headings):
            level[kind] = len(level) + 1
    stack = HeadingStack()  # only its paths: the sections are cut by page and line
    starts: dict[int, list[tuple[int, tuple[str, ...], int]]] = {}
    for h in headings:
        stack.open(level[h.style], h.text)
        starts.setdefault(h.page, []).append((h.line, stack.path, h.count))
    return starts


def _find_headings(pages: Sequence[PageText], running: set[tuple[int, int]]
                   ) -> list[_Heading]:
    """The heading lines of ``pages``; ``running`` (``_running_lines``) are never ones."""
    sizes: Counter[float] = Counter()
    for page in pages:
        for line in page.lines:
            for span in line.ink():
                sizes[_round(span.size)] += len(span.text.strip())
    if not sizes:
        return []
    body = sizes.most_common(1)[0][0]
    flat = [(p, i, line) for p, page in enumerate(pages) for i, line in enumerate(page.lines)]
    styles = [None if (p, i) in running else _line_style(line, body) for p, i, line in flat]
    headings: list[_Heading] = []
    k = 0
    while k < len(flat):
        p, i, line = flat[k]
        style = styles[k]
        if style is None and (block := _caps_block(flat, styles, k, running)):
            end, text = block
            headings.append(_Heading(p, i, end - k, text, _CAPS_KIND))
            k = end
            continue
        if style is None:
            # a division's label may repeat on many pages ("ARTICLE [II.]" and "ARTICLE
            # [IX.]" are one line once numerals are masked): not a running header
            numbered = _numbered(line, flat[k - 1][2] if k and flat[k - 1][0] == p else None)
            if numbered:  # a section's label line holds its first words of body text
                headings.append(_Heading(p, i, int(numbered[1] == _DIVISION_KIND), *numbered))
            elif (p, i) not in running and (label := _run_in_label(line)):
                headings.append(_Heading(p, i, 1, label, None))
            k += 1
            continue
        j = k + 1  # following lines of the same style, close below, on the same page
        while (j < len(flat) and j - k < _MAX_HEADING_LINES and flat[j][0] == p
               and styles[j] == style and _close(flat[j - 1][2], flat[j][2], style[0])):
            j += 1
        text = " ".join(" ".join(flat[n][2].text.split()) for n in range(k, j))
        bold_ok = style[0] >= _LARGER * body or style[0] >= _next_body_size(flat, styles, j)
        if _heading_text(text) and bold_ok:
            headings.append(_Heading(p, i, j - k, text, style))
        k = j
    return headings


def _round(size: float) -> float:
    return round(size * 2) / 2


def _key(line: Line) -> str:
    return _NUMBERS.sub("#", " ".join(line.text.lower().split()))


def _text(page: PageText, first: int, end: int, drop: set[int]) -> str:
    """The raw text of lines ``first``..``end - 1`` of ``page``, less the lines in
    ``drop`` (running headers and footers: "Acme Robotics - Security Whitepaper - Version
    2025.1 - Public" is not part of the section it sits above)."""
    parts, pos = [], page.lines[first].start
    for i in range(first, end):
        if i in drop:
            parts.append(page.raw[pos:page.lines[i].start])
            pos = page.lines[i].end
    parts.append(page.raw[pos:page.lines[end - 1].end] if pos < page.lines[end - 1].end else "")
    return "".join(parts)


def _edges(page: PageText) -> range | set[int]:
    """Indices of the page's first and last ``_EDGE_LINES`` lines."""
    n = len(page.lines)
    if n <= 2 * _EDGE_LINES:
        return range(n)
    return {*range(_EDGE_LINES), *range(n - _EDGE_LINES, n)}


def _running_lines(pages: Sequence[PageText]) -> set[tuple[int, int]]:
    """(page, line) of the running headers and footers.

    A running line sits among a page's first or last ``_EDGE_LINES`` lines, at the same
    height (within ``_RUNNING_HEIGHT``) as lines that read the same once numbers are
    masked (``_key``) on at least ``_RUNNING_SHARE`` of the pages, and on at least two
    of them; three when their numbers differ ("Page 1 of 2", "Page 2 of 2"), so that in
    a short document a line of the text that differs from another only in its numbers
    ("position 5 is dirty.", "position 3 is dirty.") is not taken for one. A line that
    also reads so away from the edges on as many pages is text, not a running line:
    body lines that repeat with other numbers all over a document ("Definition 20")
    are kept where one comes first on a page.
    """
    counted = [p for p, page in enumerate(pages) if page.lines]
    need = max(2, math.ceil(_RUNNING_SHARE * len(counted)))
    at_edge: dict[str, list[tuple[float, int, int, str]]] = {}  # y, page, line, text
    inside: dict[str, set[int]] = {}  # pages holding the line away from the edges
    for p in counted:
        page = pages[p]
        edges = _edges(page)
        for i, line in enumerate(page.lines):
            ink = line.ink()
            key = _key(line)
            if not ink or len(key) <= 3:
                continue
            if i in edges:
                at_edge.setdefault(key, []).append(
                    (ink[0].y, p, i, " ".join(line.text.split())))
            else:
                inside.setdefault(key, set()).add(p)
    running: set[tuple[int, int]] = set()
    for key, found in at_edge.items():
        if len({p for _, p, _, _ in found}) < need:
            continue
        found.sort()
        heights = [f[0] for f in found]
        for y in sorted(set(heights)):
            near = found[bisect_left(heights, y - _RUNNING_HEIGHT):
                         bisect_right(heights, y + _RUNNING_HEIGHT)]
            pages_near = {p for _, p, _, _ in near}
            varied = len({text for _, _, _, text in near}) > 1
            if (len(pages_near) >= (max(need, _RUNNING_VARIED_PAGES) if varied else need)
                    and len(pages_near) > len(inside.get(key, ()))):
                running.update((p, i) for _, p, i, _ in near)
    return running


def _line_style(line: Line, body: float) -> tuple[float, bool] | None:
    """The line's (size, bold) when all of it is set in one heading-like style."""
    ink = line.ink()
    if not ink:
        return None
    size, bold = _round(ink[0].size), ink[0].bold
    if any(abs(_round(s.size) - size) > 0.5 or s.bold != bold for s in ink[1:]):
        return None
    if _has_column_gap(ink):
        return None
    if size >= _LARGER * body or (bold and size >= _BOLD_MIN * body):
        return size, bold
    return None


def _has_column_gap(ink: Sequence[Span]) -> bool:
    """True when a run starts far right of where the previous one ends: a table row."""
    return len(cells(ink)) > 1


def _close(above: Line, below: Line, size: float) -> bool:
    a, b = above.ink(), below.ink()
    return bool(a and b) and abs(a[0].y - b[0].y) <= _MERGE_GAP * max(size, 1.0)


def _next_body_size(flat: Sequence[tuple[int, int, Line]],
                    styles: Sequence[tuple[float, bool] | None], start: int) -> float:
    """Size of the regular text after a heading (the first non-bold run that follows)."""
    for n in range(start, min(len(flat), start + 40)):
        if styles[n] is not None:
            continue
        regular = [s for s in flat[n][2].ink() if not s.bold]
        if regular:
            return _round(max(regular, key=lambda s: len(s.text)).size)
    return 0.0


def _heading_text(text: str) -> bool:
    letters = sum(ch.isalpha() for ch in text)
    first = next((ch for ch in _ENUMERATOR.sub("", text) if ch.isalpha()), "")
    return (
        letters >= 2
        and len(_WORD.findall(text)) <= _MAX_HEADING_WORDS
        and len(text) <= _MAX_HEADING_CHARS
        and not text.endswith(_SENTENCE_END)
        and not first.islower()
    )


def _is_caps(line: Line) -> bool:
    text = line.text
    return any(ch.isalpha() for ch in text) and not any(ch.islower() for ch in text)


def _caps_block(flat: Sequence[tuple[int, int, Line]],
                styles: Sequence[tuple[float, bool] | None], k: int,
                running: set[tuple[int, int]]
                ) -> tuple[int, str] | None:
    """The end (exclusive) and the text of a title in capitals that starts at ``flat[k]``,
    or None."""
    p = flat[k][0]

    def caps(n: int) -> bool:  # a line in capitals, in body type, of this page, no label
        line = flat[n][2]
        return (flat[n][0] == p and styles[n] is None and _is_caps(line)
                and flat[n][:2] not in running and not _has_column_gap(line.ink())
                and _numbered(line, None) is None)

    def joined(n: int) -> bool:  # ... set close below the line before it
        return caps(n) and caps(n - 1) and _close(flat[n - 1][2], flat[n][2],
                                                   flat[n][2].ink()[0].size)

    if not caps(k) or (k and joined(k)):
        return None  # not the first line of a block
    end = k + 1
    while end < len(flat) and end - k <= _MAX_CAPS_LINES and joined(end):
        end += 1
    if not _MIN_CAPS_LINES <= end - k <= _MAX_CAPS_LINES:
        return None
    lines = [flat[n][2] for n in range(k, end)]
    if any(len(line.text.strip()) < _WRAPPED_CHARS for line in lines[:-1]):
        return None  # a title's lines are filled up to the last; a list of names' are not
    text = _caps_title(lines)
    words = _WORD.findall(text)
    if (not _MIN_CAPS_WORDS <= len(words) <= _MAX_CAPS_WORDS
            or not _PHRASE_WORDS & set(words) or text.endswith((",", ";", ":"))
            or not text[:1].isalpha()):
        return None
    return end, text


def _caps_title(lines: Sequence[Line]) -> str:
    """The lines of a title in capitals as one line: words broken at a line's end
    ("AMEND-" "MENT") joined, a footnote mark after the last word left out, and a long
    title cut at the last comma before ``_CAPS_TITLE_CHARS`` ("ARTICLES IN ADDITION TO,
    AND AMENDMENT OF, THE CONSTITUTION OF THE UNITED STATES OF AMERICA": what follows,
    "PROPOSED BY CONGRESS, AND RATIFIED BY ...", stays in the text)."""
    text = ""
    for line in lines:
        part = " ".join(line.text.split())
        if text.endswith("-") and part[:1].isalpha():
            text = text[:-1] + part
        else:
            text = f"{text} {part}".strip()
    text = _FOOTNOTE_MARK.sub("", text).rstrip(".")
    cut = text.rfind(", ", 0, _CAPS_TITLE_CHARS)
    return text[:cut] if len(text) > _CAPS_TITLE_CHARS and cut > 0 else text


def _numbered(line: Line, above: Line | None) -> tuple[str, str] | None:
    """``("Article IV", _DIVISION_KIND)`` for a line that is only a division's label,
    ``("Section 3", _SECTION_KIND)`` for one that starts a paragraph with a section's
    label ("SECTION" in capitals, or the line above, if any on the page, ends a sentence
    or a label); None otherwise."""
    text = " ".join(line.text.split())
    kind, m = _DIVISION_KIND, _DIVISION.match(text)
    if m is None:
        kind, m = _SECTION_KIND, _SECTION.match(text)
        if m is None:
            return None
        before = " ".join(above.text.split()) if above is not None else ""
        if (not m["kind"].isupper() and before
                and not (before.endswith((".", ":", ";")) or _DIVISION.match(before))):
            return None  # "... as required by\nSection 4. The" is a reference, not a heading
    return f"{_KINDS[m['kind'].lower()]} {m['n']}", kind


def _run_in_label(line: Line) -> str | None:
    """"SUMMARY" for a line that starts with a bold upper-case "SUMMARY:" and goes on in
    regular type; None otherwise."""
    ink = line.ink()
    n = 0
    while n < len(ink) and ink[n].bold:
        n += 1
    if n == 0 or n == len(ink):
        return None
    label = " ".join("".join(s.text for s in ink[:n]).split())
    if not label.endswith(":"):
        return None
    label = label[:-1].strip()
    words = _WORD.findall(label)
    if not words or len(words) > _MAX_RUN_IN_WORDS or label.upper() != label:
        return None
    return label if sum(ch.isalpha() for ch in label) >= 2 else None


# --- sections ----------------------------------------------------------------------------


def split_pages(
    pages: Sequence[PageText], outline: Sequence[OutlineEntry]
) -> list[list[tuple[str, tuple[str, ...]]]]:
    """Each page's text cut into (raw text, heading path) pieces, in reading order.

    Uses the outline when at least two of its entries resolve to a page, else the layout.
    A piece holding only heading lines or running header lines goes with the next piece
    of its page, so every section has body text where the page has any.
    """
    running = _running_lines(pages)
    starts = _outline_starts(pages, outline) if len(outline) >= 2 else \
        _layout_starts(pages, running)
    by_page: dict[int, set[int]] = {}
    for p, i in running:
        by_page.setdefault(p, set()).add(i)
    first_read = next((p for p, page in enumerate(pages) if page.lines), len(pages))
    path: tuple[str, ...] = ()
    out: list[list[tuple[str, tuple[str, ...]]]] = []
    for p, page in enumerate(pages):
        if not page.lines:
            for _, new_path, _ in starts.get(p, []):
                path = new_path
            out.append([(page.raw, path)] if page.raw else [])
            continue
        cuts: list[tuple[int, tuple[str, ...], int]] = [(0, path, 0)]
        for line, new_path, count in starts.get(p, []):
            if line == cuts[-1][0]:
                cuts[-1] = (line, new_path, count)
            else:
                cuts.append((line, new_path, count))
            path = new_path
        out.append(_pieces(page, cuts, by_page.get(p, set()), keep_top=p <= first_read))
    return out


def _pieces(page: PageText, cuts: Sequence[tuple[int, tuple[str, ...], int]],
            running: set[int], keep_top: bool = False,
            ) -> list[tuple[str, tuple[str, ...]]]:
    """The page's pieces; its running header and footer lines (``running``: their
    indices, from ``_running_lines``) are left out of the text. With ``keep_top`` (the
    first page read) the top ones stay: a header there may state the document's version
    or status ("ARCHIVED", "Version 2025.1"), which ingest reads from the text near the
    top. Its footers go like the others' (the Federal Register's "VerDate Sep<11>2014 ...
    PROD with PROPOSALS" print stamp had run into the last sentence of page 1)."""
    lines = page.lines
    bounds = [c[0] for c in cuts] + [len(lines)]
    drop = {i for i in running if not (keep_top and i < _EDGE_LINES)}
    pieces: list[tuple[str, tuple[str, ...]]] = []
    carry = ""
    for n, (first, heading_path, count) in enumerate(cuts):
        end = bounds[n + 1]
        text = carry + _text(page, first, end, drop) if end > first else carry
        body = [i for i in range(first + count, end)
                if lines[i].text.strip() and i not in running]
        if not body and n + 1 < len(cuts):
            carry = text  # only a heading or a running header: it goes with what follows
            continue
        carry = ""
        if text.strip():
            pieces.append((text, heading_path))
    return pieces

