"""Plain-text files: decoding policy and the text clean-up every format shares.

Encoding policy: UTF-8 (with or without BOM) and BOM-marked UTF-16 are decoded as is.
Anything else is either binary (NUL bytes or many control bytes: rejected) or legacy
text. Legacy text is accepted only when ``charset-normalizer`` (a dependency of
trafilatura) detects its encoding with good confidence: a language it recognises
(coherence >= 0.5), almost no mess (chaos <= 0.1), and no well-formed UTF-8 multi-byte
sequences in the bytes (those mean a damaged UTF-8 file, not a legacy one). The chosen
encoding is logged. Otherwise the file is rejected with the offset of the first bad
byte, because a silent mis-decoding loses data without anyone noticing.
"""

from __future__ import annotations

import codecs
import logging
import re
from dataclasses import dataclass, replace

from core.errors import InputFileError
from ingest.headings import HeadingStack
from ingest.records import Section

logger = logging.getLogger(__name__)

_BINARY_SAMPLE = 8192
_MAX_CONTROL_RATIO = 0.05
_MIN_COHERENCE = 0.5
_MAX_CHAOS = 0.1
# Control bytes that never occur in text (tab, LF, VT, FF, CR and ESC are allowed).
_CONTROL_BYTES = (frozenset(range(0x20)) - {0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1B}) | {0x7F}
_UTF8_MULTIBYTE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
# The numbered parts of a law, a contract or a policy: a division ("ARTICLE. IV.",
# "Chapter 2") and a section ("SECTION. 3.", "Sec. 4.", "\u00a7 5."), as
# ``ingest.pdf_headings`` reads them for headings and extraction leaves them out of answers.
PART_NUMERAL = r"(?P<n>[IVXLCDM]{1,8}|\d{1,3}(?:\.\d{1,3})?)"
SECTION_KINDS = r"SECTION|Section|SEC|Sec|\u00a7"
# The label a paragraph of a law starts with, and the small clause number after it
# ("SECTION. 2. 1 The President ...", "ARTICLE. V. The Congress ...", "3 No Person shall
# ..."); it matches the empty string where there is none.
LEAD_LABEL = re.compile(rf"^(?:(?:{SECTION_KINDS}|ARTICLE|Article)\.?\s*{PART_NUMERAL}\.\s+)?"
                        r"(?:\d{1,2}\s+(?=[A-Z][a-z]))?")

# Control characters to strip from decoded text; keeps \t, \n and \r (normalised below).
_CONTROL_CHARS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\ufeff\ufffe]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u3000]+")
_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_WHITESPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Parsed:
    """What a format parser returns; ``loaders.load_document`` wraps it into a Document.

    ``title`` is ``None`` when the file itself names no title.
    """

    title: str | None
    sections: tuple[Section, ...]


# A table longer than this many body rows is written in blocks of at most this many, each
# block under the table's header rows (and the group label its first rows fall under), so
# that every chunk of a long table says what its columns are: the PostgreSQL error-code
# table (Appendix A, 270 rows) otherwise gave chunks of bare "| 25006 | read_only_sql_... |"
# rows that neither search nor the reader could tie to "condition name".
TABLE_BLOCK_ROWS = 10
# ... and a table longer than this many characters too, in blocks of at most this many
# (a block always holds one body row): a chunk is 192 embedder tokens, and a block of 10
# rows of the manual's function tables is several times that, so the chunker cut inside
# blocks and the rows after the cut named no column. 480 characters are about 120 to 160
# tokens of table text, so a block fits a chunk with its header.
TABLE_BLOCK_CHARS = 480


def table_row_blocks(top: list[str], rows: list[tuple[str, bool]],
                     size: int = TABLE_BLOCK_ROWS,
                     max_chars: int = TABLE_BLOCK_CHARS) -> list[str]:
    """A table's header lines ``top`` (header and separator) and body ``rows`` (line, is a
    group label) as blocks of at most ``size`` rows and ``max_chars`` characters (one row
    at least), each starting with ``top``; a block that starts inside a group repeats the
    group's label first. A table within both bounds is one block, ``top`` and its rows as
    they are."""
    blocks: list[str] = []
    group: str | None = None
    current: list[str] = []
    for line, is_group in rows:
        too_long = (any(c != group for c in current)
                    and len("\n".join([*top, *current, line])) > max_chars)
        if len(current) == size or too_long:
            blocks.append("\n".join(top + current))
            current = [group] if group is not None and not is_group else []
        if is_group:
            group = line
        current.append(line)
    if current:
        blocks.append("\n".join(top + current))
    return blocks


# A column gap in a table laid out with spaces: two or more spaces (or a tab) between cells.
_GAP = re.compile(r"(?<=\S)(?: {2,}|\t+)(?=\S)")
MIN_FIXED_ROWS = 2  # body rows under the header line
# Rows per block under the header: the pipes make a table longer than its spaced layout,
# and a chunk cut inside a table would start with rows that name no column (an 8-row
# price list no longer fitted one 192-token chunk).
FIXED_BLOCK_ROWS = 5
_CUT_SLACK = 3  # how far a row's cell may start from its header's column
_MAX_LABEL_WORDS = 4


def fixed_width_tables(text: str) -> str:
    """``text`` with each table laid out in columns of spaces written as a pipe table.

    A table is a header line and at least ``MIN_FIXED_ROWS`` lines under it, with no blank
    line between, where the header has two or more cells apart by gaps of two or more
    spaces (or tabs), and every row fits the header's columns: at each column's start the
    row has a space just before or at it (a cell may run up to the next column, as in
    "every week (tap, no water) every 3 months"), or one within ``_CUT_SLACK`` characters.
    A row whose first cell is empty continues the row above (a wrapped cell). The header's
    cells must be labels (at most four words each, none ending in a full stop, comma or
    colon) and at least half the rows must have a gap at some column, so prose with two
    spaces after its sentences stays prose. Tables of more than ``FIXED_BLOCK_ROWS`` rows
    are written in blocks of that many, each under the header (``table_row_blocks``).
    Before this, collapsing spaces joined such a table's cells into one run of words
    ("Part number Description Price: AR-P220 Dust bags ..."), and no row could say which
    column a value was under. Everything else is unchanged.
    """
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    out: list[str] = []
    i = 0
    while i < len(lines):
        table = _fixed_table(lines, i)
        if table is None:
            out.append(lines[i])
            i += 1
            continue
        rows, end = table
        top = ["| " + " | ".join(rows[0]) + " |", "|" + " --- |" * len(rows[0])]
        body = [("| " + " | ".join(row) + " |", False) for row in rows[1:]]
        out.append("\n\n".join(table_row_blocks(top, body, FIXED_BLOCK_ROWS)))
        i = end
    return "\n".join(out)


def _fixed_table(lines: list[str], at: int) -> tuple[list[list[str]], int] | None:
    """The cells of the table whose header is ``lines[at]`` and the index after its last
    row; None when no such table starts there (``fixed_width_tables``)."""
    header = lines[at].expandtabs(8)
    if not _GAP.search(header) or header.lstrip().startswith("|"):
        return None
    lead = len(header) - len(header.lstrip())
    starts = [lead] + [m.end() for m in _GAP.finditer(header)]
    labels = _cut(header, starts) or []
    if not labels or any(not is_label(c) for c in labels):
        return None
    end = at + 1
    while end < len(lines) and lines[end].strip() and not lines[end].lstrip().startswith("|"):
        end += 1
    rows: list[list[str]] = [labels]
    gapped = 0
    for raw in lines[at + 1:end]:
        line = raw.expandtabs(8)
        cells = _cut(line, starts)
        if not cells or (len(line) - len(line.lstrip()) > lead + _CUT_SLACK
                         and not cells[0] and len(rows) == 1):
            return None
        gapped += any(_gap_before(line, s) for s in starts[1:] if s < len(line))
        if not cells[0] and len(rows) > 1:  # a wrapped cell continues the row above
            rows[-1] = [f"{a} {b}".strip() for a, b in zip(rows[-1], cells, strict=True)]
        else:
            rows.append(cells)
    body = len(rows) - 1
    if body < MIN_FIXED_ROWS or 2 * gapped < end - at - 1:
        return None
    escaped = [[c.replace("|", "\\|") for c in row] for row in rows]
    return escaped, end


def is_label(cell: str) -> bool:
    """A header cell: a word of at most ``_MAX_LABEL_WORDS`` words that starts with a
    letter, holds no digit and does not end a sentence or clause ("Part number", "Price
    (US)"; not "One sentence here.", nor an option such as "-h, --help" or a figure, which
    are rows of a table without a header)."""
    return (bool(cell) and cell[0].isalpha() and not any(c.isdigit() for c in cell)
            and len(cell.split()) <= _MAX_LABEL_WORDS
            and not cell.endswith((".", ",", ";", ":", "!", "?")))


def _gap_before(line: str, start: int) -> bool:
    """Whether ``line`` has two or more spaces right before column ``start``."""
    return line[max(0, start - 2):start] == "  "


def _cut(line: str, starts: list[int]) -> list[str] | None:
    """``line`` cut into cells at the column ``starts`` (each moved to the nearest space
    within ``_CUT_SLACK`` characters when it falls inside a word), stripped; None when a
    cut cannot be placed."""
    cuts = []
    for start in starts[1:]:
        if start >= len(line):
            cuts.append(len(line))
            continue
        spot = next((c for d in range(_CUT_SLACK + 1) for c in (start - d, start + d)
                     if 0 < c <= len(line) and (line[c - 1] == " " or c == len(line)
                                                or line[c] == " ")), None)
        if spot is None:
            return None
        cuts.append(spot)
    bounds = [0, *cuts, len(line)]
    if any(b > a_next for b, a_next in zip(bounds, bounds[1:], strict=False)):
        return None
    return [line[a:b].strip() for a, b in zip(bounds, bounds[1:], strict=False)]


def clean_text(text: str, *, collapse_spaces: bool = True) -> str:
    """Strip control characters and normalise whitespace, keeping paragraph breaks.

    Line endings become ``\\n``, trailing spaces go, runs of blank lines become one blank
    line. With ``collapse_spaces`` runs of spaces/tabs inside a line become one space
    (off for Markdown, whose indentation carries meaning in code blocks).
    """
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL_CHARS.sub("", text)
    lines = text.split("\n")
    if collapse_spaces:
        lines = [_SPACES.sub(" ", line).strip() for line in lines]
    else:
        lines = [line.rstrip() for line in lines]
    text = "\n".join(lines)
    text = _BLANK_RUNS.sub("\n\n", text)
    return text.strip("\n")


def collapse_whitespace(text: str) -> str:
    """Every run of whitespace (newlines, tabs, no-break and other Unicode spaces) becomes
    one space: the layout whitespace of HTML source, which carries no meaning."""
    return _WHITESPACE.sub(" ", text)


def strip_controls(text: str) -> str:
    """Remove control characters (keeping tab, newline and carriage return) and zero-width
    marks; nothing else changes."""
    return _CONTROL_CHARS.sub("", text)


def decode_text(data: bytes, source: str) -> str:
    """Decode a text file's bytes following the module's encoding policy.

    Raises ``InputFileError`` for binary data or text whose encoding cannot be trusted.
    """
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        try:
            return data.decode("utf-16")
        except UnicodeDecodeError as exc:
            raise InputFileError(source, f"invalid UTF-16 text ({exc.reason})") from exc
    if looks_binary(data):
        raise InputFileError(source, "binary file, not text (contains NUL or control bytes)")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        bad = data[exc.start]
        offset = exc.start
    legacy = _detect_legacy(data)
    if legacy is None:
        raise InputFileError(
            source,
            f"not valid UTF-8 text (byte 0x{bad:02x} at offset {offset}) and no legacy "
            "encoding detected with confidence; convert the file to UTF-8",
        )
    encoding, text = legacy
    logger.warning("%s: not UTF-8; decoded as %s (detected)", source, encoding)
    return text


def looks_binary(data: bytes) -> bool:
    """True when the first 8 KiB hold a NUL byte or more than 5% control bytes."""
    sample = data[:_BINARY_SAMPLE]
    if not sample:
        return False
    if b"\x00" in sample:
        return True
    controls = sum(1 for byte in sample if byte in _CONTROL_BYTES)
    return controls / len(sample) > _MAX_CONTROL_RATIO


def _detect_legacy(data: bytes) -> tuple[str, str] | None:
    """(encoding, text) when a legacy encoding is detected with good confidence."""
    if _UTF8_MULTIBYTE.search(data):
        return None  # mostly UTF-8 with damage: decoding it as anything else garbles it
    from charset_normalizer import from_bytes

    best = from_bytes(data).best()
    if best is None or best.chaos > _MAX_CHAOS or best.coherence < _MIN_COHERENCE:
        return None
    return best.encoding, str(best)


def parse_text(data: bytes, source: str) -> Parsed:
    """Parse a ``.txt`` file into sections by the headings plain text uses
    (``text_sections``), paragraphs kept; one section with heading ``()`` when it has none.
    Tables laid out in columns of spaces are written as pipe tables first
    (``fixed_width_tables``), so their rows keep their columns when spaces are collapsed.

    Raises ``InputFileError`` for binary or undecodable data (see the module docstring).
    The title is the heading that opens the file (``text_sections``), ``None`` when the
    file opens with anything else, prose above all.
    """
    # Sections are found before spaces are collapsed: the gap after a record's identifier
    # ("KI-2044  Acme Home app ...") is what tells a record line from prose.
    text = clean_text(fixed_width_tables(decode_text(data, source)), collapse_spaces=False)
    title, sections = text_sections(text) if text else (None, ())
    return Parsed(title=clean_text(title) if title else title,
                  sections=tuple(replace(sec, text=clean_text(sec.text),
                                         heading=tuple(clean_text(h) for h in sec.heading))
                                 for sec in sections))


_UNDERLINE = re.compile(r"^(=+|-+)$")
# An entry of a list of records: an identifier with a number ("KI-2044", "TICKET-12",
# "#482"), two or more spaces, and a short title, right after a blank line and over the
# entry's lines ("KI-2044  Acme Home app 5.4.0 on Android 15" / "Symptom: ...").
_RECORD_ID = r"(?:#\d+|[A-Z][A-Z0-9]*-\d+)"
_RECORD_LINE = re.compile(rf"^{_RECORD_ID}(?: {{2,}}|\t+)[^\s.][^\n]{{0,78}}$")
# The same heading once its spaces are collapsed, as sections carry it.
_RECORD_HEADING = re.compile(rf"^{_RECORD_ID}\s+[^\s.]")


def is_record_heading(heading: str) -> bool:
    """Whether a section heading is a record's ("KI-2044 Acme Home app 5.4.0 on Android
    15"): the section is one entry of a list of records, its lines all about one thing."""
    return bool(_RECORD_HEADING.match(heading))


_MAX_HEADING_CHARS = 80
# Capital lines with a sentence end ("ACME ROBOTICS, INC.") that may stand above the title.
_MAX_LETTERHEAD_LINES = 2


def _is_caps_line(line: str) -> bool:
    """A short line whose letters are all capitals, with at least three of them."""
    letters = [c for c in line if c.isalpha()]
    return (0 < len(line) <= _MAX_HEADING_CHARS and len(letters) >= 3
            and all(c.isupper() for c in letters))


def _is_caps_heading(line: str) -> bool:
    """A capital line ("2. PASSWORDS", "PRODUCT LINE (2025)") with no sentence end."""
    return _is_caps_line(line) and not line.endswith((".", ",", ";"))


def _underline_level(line: str, below: str) -> int:
    """1 (``===``) or 2 (``---``) when ``below`` underlines ``line``: at least three
    characters and half the line's length; else 0."""
    if (line and len(line) <= 2 * _MAX_HEADING_CHARS and _UNDERLINE.match(below)
            and len(below) >= max(3, len(line) // 2)):
        return 1 if below[0] == "=" else 2
    return 0


def _title_line(lines: list[str]) -> int | None:
    """Index of the line that titles the file: the first non-blank line when it is a
    heading (underlined, or in capitals), else a capital heading line right under up to
    two capital lines with a sentence end, the letterhead of a title block ("ACME
    ROBOTICS, INC." over "CUSTOMER ACCOUNT SECURITY POLICY"). ``None`` when anything else
    comes first: a file opening with prose names no title."""
    seen = 0
    for i, raw in enumerate(lines):
        line = raw.strip()
        if not line:
            continue
        if _underline_level(line, _below(lines, i)) or _is_caps_heading(line):
            return i
        seen += 1
        if seen > _MAX_LETTERHEAD_LINES or not _is_caps_line(line):
            return None
    return None


def _below(lines: list[str], i: int) -> str:
    """The line after ``lines[i]``, stripped ("" at the end)."""
    return lines[i + 1].strip() if i + 1 < len(lines) else ""


def text_sections(text: str) -> tuple[str | None, tuple[Section, ...]]:
    """Split cleaned plain text into sections by its headings, with their paths.

    Returns (title, sections). Headings are:

    - a line underlined with ``===`` (level 1) or ``---`` (level 2), the underline at least
      three characters and half the line's length ("Firmware 2.9.3 - 12 March 2024");
    - a line in capitals ("COMPANY FACTS", "3. TWO-STEP VERIFICATION") standing alone
      between blank lines (level 2);
    - the title line (``_title_line``): the heading that opens the file, level 1 when in
      capitals, with any letterhead lines above it in its section. It is the title;
    - the line that opens an entry of a list of records ("KI-2044  Acme Home app 5.4.0 on
      Android 15": an identifier with a number, two or more spaces, a title of at most 80
      characters) between a blank line and the entry's first line (level 3), so that every
      chunk of the entry names the record it belongs to.

    The heading line stays in its section's text (the underline goes); text before the
    first heading is a section of its own with no heading. Text with no heading is one
    section. ``#`` lines and code fences are text: plain text is not Markdown.
    """
    lines = text.split("\n")
    headings = HeadingStack()
    title_at = _title_line(lines)
    title = lines[title_at].strip() if title_at is not None else None
    i = 0
    if title_at is not None:
        level = _underline_level(title, _below(lines, title_at))
        headings.open(level or 1, title)
        headings.body.extend(lines[: title_at + 1])
        i = title_at + (2 if level else 1)
    while i < len(lines):
        line, below = lines[i].strip(), _below(lines, i)
        above_blank = i > 0 and not lines[i - 1].strip()
        level = _underline_level(line, below)
        if not level and _is_caps_heading(line) and above_blank and not below:
            level = 2
        if not level and above_blank and below and _RECORD_LINE.match(line):
            level = 3  # "KI-2044  Acme Home app 5.4.0 on Android 15" over its entry
        if not level:
            headings.body.append(lines[i])
            i += 1
            continue
        headings.open(level, line)
        headings.body.append(lines[i])
        i += 2 if _UNDERLINE.match(below) else 1
    return title, headings.sections()
