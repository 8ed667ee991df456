"""The open headings of a document being read line by line, and the sections they cut.

Plain text (``text.text_sections``), Markdown (``markdown.markdown_sections``) and HTML
(``html._sections``) find their headings differently but cut sections the same way: a
heading closes the section before it, closes every open heading of its own level or
deeper, and heads what follows; each section carries the path of headings open over it.
PDF layout headings (``pdf_headings``) build the same paths without sections.
``HeadingStack`` is that one mechanism, so the formats cannot drift apart in how paths
are built.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ingest.records import Section


def join_lines(lines: list[str]) -> str:
    """A section's text from its lines, leading and trailing blank lines dropped."""
    return "\n".join(lines).strip("\n")


class HeadingStack:
    """Collects body lines into sections headed by the path of open headings.

    ``lead_heading`` puts the innermost heading as a plain first line of each section's
    text (Markdown drops its ``#`` line, so the heading's words would otherwise be lost);
    plain text keeps its heading line in the body and leaves it off. ``body`` is the lines
    of the section being read; a parser may look at or take back its last line (a setext
    title is only known to be a heading once its underline is read). ``join`` makes a
    section's text of its body (lines by default; HTML keeps (kind, text) blocks and joins
    them by kind).
    """

    def __init__(self, *, lead_heading: bool = False,
                 join: Callable[[list[Any]], str] = join_lines) -> None:
        self.lead_heading = lead_heading
        self.join = join
        self.body: list[Any] = []
        self._open: list[tuple[int, str]] = []  # (level, heading) of the open headings
        self._sections: list[Section] = []

    @property
    def path(self) -> tuple[str, ...]:
        """The open headings, outermost first."""
        return tuple(heading for _, heading in self._open)

    def open(self, level: int, heading: str) -> None:
        """Close the section being read and every open heading of ``level`` or deeper
        (a smaller number is a higher level), then open ``heading``."""
        self.flush()
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        self._open.append((level, heading))

    def close(self, level: int) -> None:
        """Close the section being read and every open heading of ``level`` or deeper: what
        follows belongs to the headings above (HTML: a definition list's terms end with it).
        """
        self.flush()
        while self._open and self._open[-1][0] >= level:
            self._open.pop()

    def flush(self) -> None:
        """End the section being read: a ``Section`` under the current path when its text
        is more than whitespace (a heading with no body of its own yields none)."""
        text = self.join(self.body) if self.body else ""
        if text.strip():
            path = self.path
            lead = f"{path[-1]}\n\n" if self.lead_heading and path else ""
            self._sections.append(Section(text=lead + text, heading=path))
        self.body.clear()

    def sections(self) -> tuple[Section, ...]:
        """Every section so far, the one being read included (it is flushed)."""
        self.flush()
        return tuple(self._sections)
