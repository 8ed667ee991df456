"""A PDF page's extracted text as lines, with the font size, weight and position of each
run of text on them.

pypdf's ``extract_text(visitor_text=...)`` reports every run it extracts with the text and
current transformation matrices, the font dictionary and the font size; joined, the runs
are exactly the text it returns. Lines are cut at the newlines in that text, so
``raw[line.start:line.end] == line.text``. The size of a run is the font size scaled by
both matrices (many PDFs set a 1-point font and scale it); bold comes from the font's name
or its descriptor (``/FontWeight``, the ForceBold flag).
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from pypdf.errors import PyPdfError

logger = logging.getLogger(__name__)

_BOLD_NAME = re.compile(r"bold|black|heavy|semibold|demi", re.IGNORECASE)
_FORCE_BOLD = 1 << 18  # FontDescriptor /Flags bit 19


@dataclass
class Span:
    """A run of text in one font: its size in points (after scaling) and position."""

    text: str
    size: float
    bold: bool
    x: float
    y: float


@dataclass
class Line:
    """One line of a page's extracted text: ``raw[start:end]``, with its runs of text."""

    start: int
    end: int
    text: str
    spans: list[Span] = field(default_factory=list)

    def ink(self) -> list[Span]:
        return [s for s in self.spans if s.text.strip()]


@dataclass(frozen=True)
class PageText:
    """A page's extracted text and its lines; ``lines`` is empty when the layout was
    unreadable (the whole page is then one piece of text)."""

    raw: str
    lines: tuple[Line, ...]


COLUMN_GAP_EMS = 3.0  # a run starting this many font sizes past where the one before ends


def cells(ink: Sequence[Span]) -> list[list[Span]]:
    """``ink`` (a line's runs of text) cut into cells at column gaps: a run that starts
    more than ``COLUMN_GAP_EMS`` font sizes right of where the previous one ends (its end
    estimated at half an em a character) starts a new cell. One cell for prose and for a
    bullet and its text."""
    out: list[list[Span]] = []
    for span in ink:
        if out:
            before = out[-1][-1]
            end = before.x + 0.5 * before.size * len(before.text)
            if span.x - end <= COLUMN_GAP_EMS * max(before.size, 1.0):
                out[-1].append(span)
                continue
        out.append([span])
    return out


def read_page(page: Any) -> PageText:
    """Extract one page's text with the font and position of every run of it."""
    runs: list[tuple[str, Any, Any, Any, Any]] = []

    def visit(text: Any, cm: Any, tm: Any, font: Any, size: Any) -> None:
        if isinstance(text, str) and text:
            runs.append((text, cm, tm, font, size))

    raw = page.extract_text(visitor_text=visit) or ""
    if "".join(r[0] for r in runs) != raw:
        logger.debug("page layout does not match its extracted text; no layout headings")
        return PageText(raw, ())
    return PageText(raw, tuple(_lines(runs)))


def _lines(runs: Sequence[tuple[str, Any, Any, Any, Any]]) -> list[Line]:
    lines: list[Line] = []
    current = Line(0, 0, "")
    pos = 0
    bold_cache: dict[int, bool] = {}
    for text, cm, tm, font, font_size in runs:
        size, x, y = _geometry(cm, tm, font_size)
        key = id(font)
        if key not in bold_cache:
            bold_cache[key] = _is_bold(font)
        for piece in text.splitlines(keepends=True):
            current.spans.append(Span(piece, size, bold_cache[key], x, y))
            current.text += piece
            pos += len(piece)
            current.end = pos
            if piece.endswith(("\n", "\r")):
                lines.append(current)
                current = Line(pos, pos, "")
    if current.text:
        lines.append(current)
    return lines


def _geometry(cm: Any, tm: Any, font_size: Any) -> tuple[float, float, float]:
    """(font size in points, x, y) of a run: the text matrix times the current matrix."""
    try:
        a, b, c, d, e, f = (float(v) for v in tm)
        ca, cb, cc, cd, ce, cf = (float(v) for v in cm)
        size = float(font_size)
    except (TypeError, ValueError):
        return 0.0, 0.0, 0.0
    scale_c, scale_d = c * ca + d * cc, c * cb + d * cd
    x, y = e * ca + f * cc + ce, e * cb + f * cd + cf
    return abs(size) * math.hypot(scale_c, scale_d), x, y


def _is_bold(font: Any) -> bool:
    """Bold by the font's name ("Helvetica-Bold", "Arial,BoldMT") or its descriptor."""
    try:
        font = font.get_object() if hasattr(font, "get_object") else font
        if not font:
            return False
        if _BOLD_NAME.search(str(font.get("/BaseFont", ""))):
            return True
        descriptor = font.get("/FontDescriptor")
        if descriptor is None and "/DescendantFonts" in font:
            descriptor = font["/DescendantFonts"].get_object()[0].get_object().get(
                "/FontDescriptor")
        if descriptor is None:
            return False
        descriptor = descriptor.get_object()
        weight = descriptor.get("/FontWeight")
        flags = int(descriptor.get("/Flags", 0))
        return (weight is not None and float(weight) >= 600) or bool(flags & _FORCE_BOLD)
    except (AttributeError, IndexError, KeyError, TypeError, ValueError, PyPdfError):
        return False  # a broken font dictionary only costs the heading, not the text
