"""Markdown files: one section per heading, with the full heading path.

The heading parser here is shared with ``html.py``, which turns pages into Markdown
first. A section's text starts with its heading as a plain line (no ``#``), so the
words of the heading are searchable, followed by the Markdown body as written.
"""

from __future__ import annotations

import logging
import re

from ingest.headings import HeadingStack
from ingest.records import Section
from ingest.text import Parsed, clean_text, decode_text, table_row_blocks
from ingest.versions import front_matter

logger = logging.getLogger(__name__)

_ATX = re.compile(r"^ {0,3}(#{1,6})(?:[ \t]+(.*?))?(?:[ \t]+#+)?[ \t]*$")
_SETEXT = re.compile(r"^ {0,3}(=+|-+)[ \t]*$")
_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_LIST_ITEM = re.compile(r"^ {0,3}(?:[-+*]|\d{1,9}[.)])(?:[ \t]|$)")
_FRONT_MATTER_TITLE = re.compile(r"^title:[ \t]*(.+?)[ \t]*$", re.MULTILINE)
_MAX_FRONT_MATTER_LINES = 200


def parse_markdown(data: bytes, source: str) -> Parsed:
    """Parse a Markdown file: front matter stripped (its ``title:`` kept), sections by heading.

    Raises ``InputFileError`` when the bytes are not text (see ``text.decode_text``).
    The title is the front-matter title, else the first H1, else the first heading.
    """
    text = clean_text(decode_text(data, source), collapse_spaces=False)
    front_title, body = split_front_matter(text)
    first_title, sections = markdown_sections(block_tables(body))
    return Parsed(title=front_title or first_title, sections=sections)


_TABLE_ROW = re.compile(r"^ {0,3}\|")
_TABLE_SEPARATOR = re.compile(r"^ {0,3}\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?\s*$")


def _fence_after(fence: str | None, line: str) -> str | None:
    """The code fence open after ``line`` (None when outside code), given the one open
    before it: a fence opens with three or more backticks or tildes and closes with a
    line of at least as many of the same character and nothing else."""
    match = _FENCE.match(line)
    if fence is None:
        return match.group(1) if match else None
    closes = (match is not None and match.group(1)[0] == fence[0]
              and len(match.group(1)) >= len(fence)
              and not line.strip().lstrip(fence[0]).strip())
    return None if closes else fence


def block_tables(text: str) -> str:
    """``text`` with each pipe table of more than ``TABLE_BLOCK_ROWS`` body rows or
    ``TABLE_BLOCK_CHARS`` characters written in blocks of at most
    that many, each under the table's header and separator lines and apart
    from the next by a blank line (``text.table_row_blocks``), as ingest does for HTML
    tables; tables inside fenced code, and shorter ones, as written."""
    lines = text.split("\n")
    out: list[str] = []
    fence: str | None = None
    i = 0
    while i < len(lines):
        line = lines[i]
        if fence is not None or _FENCE.match(line):  # a table in code stays as written
            fence = _fence_after(fence, line)
        elif (_TABLE_ROW.match(line) and i + 1 < len(lines)
              and _TABLE_SEPARATOR.match(lines[i + 1])):
            end = i + 2
            while end < len(lines) and _TABLE_ROW.match(lines[end]):
                end += 1
            rows = lines[i + 2:end]
            if rows:  # a short table comes back as one block, as written
                out.append("\n\n".join(table_row_blocks(lines[i:i + 2],
                                                         [(r, False) for r in rows])))
                i = end
                continue
        out.append(line)
        i += 1
    return "\n".join(out)


def split_front_matter(text: str) -> tuple[str | None, str]:
    """(title from YAML front matter or None, text without the front matter).

    Front matter that is not valid YAML (``ingest.versions.front_matter`` names it in the
    ingest summary) gives no title: its fields are ignored, the title among them.
    """
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None, text
    for i in range(1, min(len(lines), _MAX_FRONT_MATTER_LINES)):
        if lines[i].strip() in ("---", "..."):
            match = _FRONT_MATTER_TITLE.search("\n".join(lines[1:i]))
            title = match.group(1).strip("'\"").strip() if match else None
            if title:
                fields, _ = front_matter("\n".join(lines[: i + 1]))
                stated = fields.get("title")
                title = stated.strip() if isinstance(stated, str) else None
            return title or None, "\n".join(lines[i + 1 :])
    return None, text  # no closing line: a thematic break, not front matter


def markdown_sections(text: str) -> tuple[str | None, tuple[Section, ...]]:
    """Split Markdown into sections by ATX (``#``) and setext headings.

    Returns (title, sections): the title is the first H1, else the first heading, else
    None. ``#`` lines inside fenced code blocks are text, not headings. Headings with no
    body of their own yield no section; they still appear in their children's paths.
    """
    stack = HeadingStack(lead_heading=True)
    body = stack.body
    headings: list[tuple[int, str]] = []
    fence: str | None = None

    def open_heading(level: int, title: str) -> None:
        stack.open(level, title)
        headings.append((level, title))

    for line in text.split("\n"):
        if fence is not None or _FENCE.match(line):  # code: text, never a heading
            fence = _fence_after(fence, line)
            body.append(line)
            continue
        atx = _ATX.match(line)
        if atx and (atx.group(2) or "").strip():
            open_heading(len(atx.group(1)), _inline_plain(atx.group(2)))
            continue
        if _SETEXT.match(line) and _is_setext_title(body):
            title = _inline_plain(body.pop())
            open_heading(1 if line.strip()[0] == "=" else 2, title)
            continue
        body.append(line)
    if fence is not None:
        logger.debug("unclosed code fence; kept its lines as text")
    sections = stack.sections()
    h1 = next((t for level, t in headings if level == 1), None)
    return h1 or (headings[0][1] if headings else None), sections


def _is_setext_title(body: list[str]) -> bool:
    """True when the last body line is a one-line paragraph that a setext rule can title."""
    if not body or not body[-1].strip():
        return False
    previous_blank = len(body) == 1 or not body[-2].strip()
    last = body[-1]
    return (
        previous_blank
        and not _LIST_ITEM.match(last)
        and not _FENCE.match(last)
        and not last.startswith(("    ", "\t"))
    )


def _inline_plain(text: str) -> str:
    """Heading text without the commonest inline markup (emphasis, code, links)."""
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", text)
    text = re.sub(r"(\*\*|__|\*|_|`)(.+?)\1", r"\2", text)
    return text.strip()
