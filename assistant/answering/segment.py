"""Passage text cut into evidence segments: sentences, list items and table rows.

``segment(text, headings)`` is the splitting behind ``evidence.split_passage`` (whose
docstring lists the rules); it works on plain text and knows nothing of passages.
``clean_text`` and ``split_sentences`` are its two reusable parts.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

MIN_WORDS = 4  # a sentence shorter than this is merged with its neighbour
MAX_MERGED_WORDS = 60  # merging stops before a unit grows past this
WRAP_MIN_CHARS = 60  # a line this long without final punctuation continues on the next
# ... or this share of the passage's usual line width, when its lines are narrower (a PDF's
# columns: the Federal Register's lines are about 35 characters wide)
# (public-PDF dev: 0.7 and 0.8 alike; no acme or PostgreSQL unit changes)
WRAP_SHARE = 0.8
WRAP_LOWER_STARTS = 0.25
TABLE_MAX_CHARS = WRAP_MIN_CHARS  # plain-table rows are shorter than a wrapped line
MIN_TABLE_LINES = 3  # header + two rows


@dataclass(frozen=True)
class Segment:
    """One unit's worth of text: ``text`` cleaned for reading, ``start``/``end`` the span
    of the source text it came from, ``kind`` (sentence, item, row, line, code) and the
    heading line found above it in the text ("" when none)."""

    text: str
    start: int
    end: int
    kind: str
    heading: str = ""


def segment(text: str, headings: set[str]) -> list[Segment]:
    """The segments of ``text`` in order. ``headings`` are normalized heading texts
    (``norm``) whose lines are dropped: the passage's title and heading path."""
    pieces = [(body, start, end, unit_kind, blocks[0].heading)
              for kind, blocks in _group(text, _blocks(text, headings))
              for body, start, end, unit_kind in _units_of(text, kind, blocks)
              if body.strip()]
    return [Segment(*piece) for piece in _merge_lead_ins(pieces)]


# -- cleaning --------------------------------------------------------------------------

_EMPHASIS = re.compile(r"\*\*|__|`")
_SINGLE_STAR = re.compile(r"(?<![\w*])\*(?=\S)([^*\n]*?\S)\*(?![\w*])")
_QUOTE_MARK = re.compile(r"(?m)^[ \t]*>[ \t]?")
_ESCAPE = re.compile(r"\\([\\`*_{}\[\]()#+\-.!|>])")


def clean_text(text: str) -> str:
    """``text`` for reading: Markdown emphasis, code marks, quote marks and escapes
    removed, whitespace collapsed."""
    text = _QUOTE_MARK.sub("", text)
    text = _SINGLE_STAR.sub(r"\1", _EMPHASIS.sub("", text))
    return " ".join(_ESCAPE.sub(r"\1", text).split())


def norm(text: str) -> str:
    """``clean_text`` lower-cased, without a leading "#" or a trailing colon."""
    return " ".join(clean_text(text).lstrip("#").strip().rstrip(":").casefold().split())


# -- sentences -------------------------------------------------------------------------

_ABBREVIATION_WORDS = (
    "mr mrs ms dr prof st sr jr inc ltd co corp llc plc vs etc e.g eg i.e ie approx incl "
    "excl dept est fig figs no nos vol pp p ca cf al jan feb mar apr jun jul aug sep sept "
    "oct nov dec mon tue tues wed thu thur thurs fri sat sun tel ext ref u.s u.k "
    "a.m p.m")
_ABBREVIATIONS = frozenset(_ABBREVIATION_WORDS.split())
_AFTER_TIME_WORDS = (  # words that continue "9 a.m. ..." rather than start a sentence
    "pacific eastern central mountain atlantic pt pst pdt et est edt ct cst cdt mt mst mdt "
    "utc gmt cet cest bst ist irish british local monday tuesday wednesday thursday friday "
    "saturday sunday")
_AFTER_TIME = frozenset(_AFTER_TIME_WORDS.split())
_BOUNDARY = re.compile(r"[.!?][\"')\]*_`]*\s+(?=[\"'(\[*_`]*[A-Z0-9$\u20ac\u00a3])")
_LAST_WORD = re.compile(r"(\S+)$")


def _is_boundary(text: str, match: re.Match) -> bool:
    """Whether the punctuation at ``match`` ends a sentence."""
    if text[match.start()] in "!?":
        return True
    word = _LAST_WORD.search(text, 0, match.start() + 1)
    token = word.group(1).strip("\"'([*_`").casefold() if word else ""
    bare = token.rstrip(".")
    nxt = text[match.end():].lstrip("\"'([*_`").split(" ", 1)[0].strip(".,;:").casefold()
    if bare in ("a.m", "p.m"):
        return nxt not in _AFTER_TIME and not nxt[:1].isdigit()
    if bare in _ABBREVIATIONS or re.fullmatch(r"(?:[a-z]\.)+[a-z]", bare):
        return False
    if len(bare) == 1 and bare.isalpha() and word is not None:
        # An initial ("J. Smith") follows a capitalised word or nothing; "30 degrees C." ends.
        before = text[: word.start()].split()
        return bool(before) and not before[-1][:1].isupper()
    return True


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` spans of the sentences of ``text`` (newlines count as spaces)."""
    spans, start = [], 0
    for match in _BOUNDARY.finditer(text):
        if not _is_boundary(text, match):
            continue
        end = match.end()
        while end > start and text[end - 1].isspace():
            end -= 1
        if text[start:end].strip():
            spans.append((start, end))
        start = match.end()
    if text[start:].strip():
        end = len(text.rstrip())
        spans.append((start, end))
    return [(s + len(text[s:e]) - len(text[s:e].lstrip()), e) for s, e in spans]


_REFERS_BACK = re.compile(
    r"^[\"'*_`(]*(?:it|its|this|that|these|those|they|their|them|such|he|she|both|"
    r"otherwise|however|also)\b", re.IGNORECASE)


def _merge_sentences(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """Merge a fragment into the next sentence and a back-referring sentence into the one
    before, keeping every merged span under ``MAX_MERGED_WORDS`` words."""
    def words(s: tuple[int, int]) -> int:
        return len(text[s[0]:s[1]].split())

    merged: list[tuple[int, int]] = []
    pending: tuple[int, int] | None = None  # a fragment waiting for the next sentence
    for span in spans:
        if pending is not None:
            joined = (pending[0], span[1])
            if words(joined) <= MAX_MERGED_WORDS:
                span, pending = joined, None
            else:
                merged.append(pending)
                pending = None
        if (merged and _REFERS_BACK.match(text[span[0]:span[1]])
                and words((merged[-1][0], span[1])) <= MAX_MERGED_WORDS):
            merged[-1] = (merged[-1][0], span[1])
        elif words(span) < MIN_WORDS:
            pending = span
        else:
            merged.append(span)
    if pending is not None:
        if merged and words((merged[-1][0], pending[1])) <= MAX_MERGED_WORDS:
            merged[-1] = (merged[-1][0], pending[1])
        else:
            merged.append(pending)
    return merged


# -- lines and blocks ------------------------------------------------------------------

_BULLET = re.compile(r"^\s*(?:[-*+\u2022]\s+|\d{1,2}[.)]\s+|\d{1,2}(?:\.\d{1,2})+\s+(?=[A-Z]))")
_PIPE_ROW = re.compile(r"^\s*\|.*\|\s*$")
_PIPE_SEPARATOR = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_UNDERLINE = re.compile(r"^\s*[-=~_]{3,}\s*$")
_FENCE = re.compile(r"^\s*(?:```|~~~)")
_LABEL = re.compile(r"^\s*[A-Z][\w()/'&-]*(?: [\w()/'&-]+){0,3}:\s+\S")
_PAGE_FURNITURE = re.compile(r"\s[-\u2013\u2014]\s(?:page|p\.)\s*[0-9ivxlcdm]+\s*$", re.I)
_TERMINAL = re.compile(r"[.!?][\"')\]*_`]*$")


@dataclass
class _Block:
    kind: str  # prose | item | label | pipe | code | stack
    start: int
    end: int
    heading: str  # the in-chunk heading in force
    n_lines: int = 1
    last_line: str = ""
    after_blank: bool = False


def _lines(text: str) -> list[tuple[int, int]]:
    spans, pos = [], 0
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        spans.append((pos, pos + len(body)))
        pos += len(line)
    return spans


def _is_heading_line(line: str, next_line: str, headings: set[str]) -> bool:
    stripped = line.strip()
    if stripped.startswith("#") or norm(stripped) in headings:
        return True
    if _UNDERLINE.match(next_line) and stripped:
        return True
    # An upper-case line ("STORAGE", "2. PASSWORDS"), as text files mark headings.
    body = re.sub(r"^\d{1,2}[.)]\s+", "", stripped)
    letters = re.sub(r"[^A-Za-z]", "", body)
    return (len(letters) >= 3 and body == body.upper() and len(body.split()) <= 10
            and not _TERMINAL.search(body) and not re.match(r"[-*+\u2022]\s", body))


def _continues(block: _Block, line: str, wrap: int = WRAP_MIN_CHARS) -> bool:
    """Whether ``line`` is the wrapped continuation of ``block``'s last line (``wrap``: the
    length from which a line is taken to be wrapped)."""
    if block.kind not in ("prose", "item", "label") or _TERMINAL.search(block.last_line):
        return False
    if _BULLET.match(line) and not re.match(r"^\s*\d+\.\d", line):
        return False
    if _LABEL.match(line) or _PIPE_ROW.match(line):
        return False
    if line[:1].isspace() and block.kind == "item":
        return True
    return len(block.last_line.strip()) >= wrap or line.lstrip()[:1].islower()


def _wrap_width(passage_text: str, lines: list[tuple[int, int]]) -> int:
    """The length from which a line of the passage is taken to be wrapped: ``WRAP_MIN_CHARS``,
    or less where most of its lines are narrower (``WRAP_SHARE`` of their median length)
    and it reads as wrapped prose: at least ``WRAP_LOWER_STARTS`` of its lines go on in
    lower case (a table's rows start with capitals: "Quiet 1,800 Pa", "Turbo 4,500 Pa")."""
    texts = [passage_text[s:e].strip() for s, e in lines]
    texts = [t for t in texts if t]
    if len(texts) < 4:
        return WRAP_MIN_CHARS
    if sum(t[0].islower() for t in texts[1:]) < WRAP_LOWER_STARTS * (len(texts) - 1):
        return WRAP_MIN_CHARS
    lengths = sorted(len(t) for t in texts)
    return min(WRAP_MIN_CHARS, max(20, round(WRAP_SHARE * lengths[len(lengths) // 2])))


def _blocks(passage_text: str, headings: set[str]) -> list[_Block]:
    lines = _lines(passage_text)
    wrap = _wrap_width(passage_text, lines)
    blocks: list[_Block] = []
    heading, code, blank = "", None, True
    for i, (s, e) in enumerate(lines):
        line = passage_text[s:e]
        if _FENCE.match(line):
            if code is None:
                code = _Block("code", e, e, heading, 0)
            else:
                if code.n_lines:
                    blocks.append(code)
                code, blank = None, False
            continue
        if code is not None:
            if not code.n_lines:
                code.start = s
            code.end, code.n_lines = e, code.n_lines + 1
            continue
        if not line.strip():
            blank = True
            continue
        next_line = passage_text[slice(*lines[i + 1])] if i + 1 < len(lines) else ""
        if (_UNDERLINE.match(line) or _PIPE_SEPARATOR.match(line)
                or _PAGE_FURNITURE.search(line)):
            continue
        if _is_heading_line(line, next_line, headings):
            if norm(line) not in headings:
                heading = clean_text(line.strip().lstrip("#").strip()).rstrip(":")
            blocks.append(_Block("boundary", s, e, heading))
            blank = True
            continue
        last = blocks[-1] if blocks else None
        if last is not None and not blank and _continues(last, line, wrap):
            last.end, last.n_lines, last.last_line = e, last.n_lines + 1, line
            blank = False
            continue
        if _PIPE_ROW.match(line):
            kind = "pipe"
        elif _BULLET.match(line):
            kind = "item"
        elif _LABEL.match(line):
            kind = "label"
        else:
            kind = "prose"
        blocks.append(_Block(kind, s, e, heading, 1, line, blank))
        blank = False
    if code is not None and code.n_lines:
        blocks.append(code)
    return [b for b in blocks if b.kind != "boundary"]


# -- units -----------------------------------------------------------------------------


def _cells(row: str) -> list[str]:
    body = row.strip()
    body = body[1:] if body.startswith("|") else body
    body = body[:-1] if body.endswith("|") and not body.endswith("\\|") else body
    return [clean_text(c) for c in re.split(r"(?<!\\)\|", body)]


def _pipe_units(text: str, blocks: list[_Block]) -> list[tuple[str, int, int, str]]:
    """Rows of one Markdown table: with a header (a separator follows its first row, or a
    first row without figures tops rows with figures) each row reads
    ``Header: cell; ...``; without one, ``cell: cell; ...``."""
    first = text[blocks[0].start:blocks[0].end]
    after_first = text[blocks[0].end:blocks[1].start] if len(blocks) > 1 else ""
    separator = bool(re.search(r"\n\s*\|?\s*:?-{2,}", after_first))
    # HTML tables come without a separator row: a first row of labels over rows of
    # figures is still a header.
    bodies = [text[b.start:b.end] for b in blocks[1:]]
    labels = len(blocks) > 1 and not re.search(r"\d", first) and any(
        re.search(r"\d", b) for b in bodies)
    has_header = separator or labels
    header = _cells(first) if has_header else []
    rows = blocks[1:] if has_header else blocks
    units = []
    for row in rows:
        cells = _cells(text[row.start:row.end])
        if header:
            parts = [f"{h}: {c}" if h else c for h, c in zip(header, cells, strict=False)]
            parts += cells[len(header):]
            units.append(("; ".join(p for p in parts if p.strip(": ")), row.start, row.end, "row"))
        else:
            line = f"{cells[0]}: {'; '.join(cells[1:])}" if len(cells) > 1 else cells[0]
            units.append((line, row.start, row.end, "row"))
    if has_header and not rows:
        units.append(("; ".join(header), blocks[0].start, blocks[0].end, "row"))
    return units


def _is_plain_row(text: str, block: _Block) -> bool:
    """A short line without final punctuation (a cell wrapped onto a second short line,
    as PDF tables do, still counts)."""
    body = text[block.start:block.end].strip()
    lines = body.splitlines()
    return (block.kind == "prose" and len(lines) <= 2 and not _TERMINAL.search(body)
            and all(len(line.strip()) < TABLE_MAX_CHARS for line in lines)
            and len(body.split()) >= 2)


def _is_stack_line(text: str, block: _Block) -> bool:
    line = text[block.start:block.end].strip()
    return (block.kind == "prose" and block.n_lines == 1 and len(line.split()) <= 6
            and (not _TERMINAL.search(line) or len(line.split()) <= 3))


def _group(text: str, blocks: list[_Block]) -> list[tuple[str, list[_Block]]]:
    """Group blocks into pipe tables, plain tables, stacked short paragraphs (an address
    with one line per paragraph) and single blocks."""
    groups: list[tuple[str, list[_Block]]] = []
    i = 0
    while i < len(blocks):
        b = blocks[i]
        if b.kind == "pipe":
            j = i + 1
            while j < len(blocks) and blocks[j].kind == "pipe" and not blocks[j].after_blank:
                j += 1
            groups.append(("pipe", blocks[i:j]))
            i = j
            continue
        if _is_plain_row(text, b):
            j = i + 1
            while (j < len(blocks) and _is_plain_row(text, blocks[j])
                   and not blocks[j].after_blank and blocks[j].heading == b.heading):
                j += 1
            if j - i >= MIN_TABLE_LINES:
                groups.append(("plain", blocks[i:j]))
                i = j
                continue
        if _is_stack_line(text, b):
            j = i + 1
            while (j < len(blocks) and _is_stack_line(text, blocks[j])
                   and blocks[j].after_blank):
                j += 1
            run = blocks[i:j]
            if len(run) >= 3 and any(re.search(r"\d", text[r.start:r.end]) for r in run):
                groups.append(("stack", run))
                i = j
                continue
        groups.append(("single", [b]))
        i += 1
    return groups


def _units_of(text: str, kind: str, blocks: list[_Block]) -> list[tuple[str, int, int, str]]:
    if kind == "pipe":
        return _pipe_units(text, blocks)
    if kind == "plain":
        header = clean_text(text[blocks[0].start:blocks[0].end])
        return [(f"{header}: {clean_text(text[b.start:b.end])}", b.start, b.end, "row")
                for b in blocks[1:]]
    if kind == "stack":
        joined = ", ".join(clean_text(text[b.start:b.end]).rstrip(",") for b in blocks)
        return [(joined, blocks[0].start, blocks[-1].end, "line")]
    block = blocks[0]
    body = text[block.start:block.end]
    if block.kind in ("item", "code"):
        cleaned = clean_text(_BULLET.sub("", body, count=1) if body.lstrip()[:1] in "-*+\u2022"
                             else body)
        return [(cleaned, block.start, block.end, block.kind)]
    spans = _merge_sentences(body, split_sentences(body))
    return [(clean_text(body[s:e]), block.start + s, block.start + e, "sentence")
            for s, e in spans]


def _merge_lead_ins(pieces: list[tuple]) -> list[tuple]:
    """A sentence ending in a colon ("All requests go to:") is merged into what follows."""
    out: list[tuple] = []
    i = 0
    while i < len(pieces):
        body, start, end, kind, heading = pieces[i]
        if (kind == "sentence" and body.endswith(":") and i + 1 < len(pieces)
                and len(f"{body} {pieces[i + 1][0]}".split()) <= MAX_MERGED_WORDS):
            nxt = pieces[i + 1]
            out.append((f"{body} {nxt[0]}", start, nxt[2], nxt[3], heading))
            i += 2
            continue
        out.append(pieces[i])
        i += 1
    return out
