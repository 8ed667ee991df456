"""Records that flow through ingestion: files become Documents, Documents become Chunks."""

from __future__ import annotations

from dataclasses import dataclass

from ingest.versions import VersionInfo


@dataclass(frozen=True)
class Section:
    """A run of text that shares one page and one heading path.

    ``page_index`` is the 1-based physical page number (as a PDF viewer counts), ``None``
    for formats without pages. ``page_label`` is the label printed on the page (``"iv"``),
    which can differ from the physical number; ``None`` when the format has none.
    """

    text: str
    page_index: int | None = None
    page_label: str | None = None
    heading: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """One parsed input file.

    ``source`` is the path as the user will see it in citations (relative to the ingest
    root when there is one). ``doc_id`` is stable for a given source. ``text`` is the
    sections joined by ``SECTION_SEPARATOR``; chunk offsets point into it.

    ``effective_date`` (ISO date), ``status`` and ``family`` are what the file itself
    states (``ingest.versions``): status ``unknown`` until ``ingest.families`` compares it
    with the other documents; ``version_info`` holds the details (None: not read).
    """

    doc_id: str
    source: str
    title: str
    sections: tuple[Section, ...]
    content_hash: str
    effective_date: str | None = None
    status: str = "unknown"
    family: str = ""
    version_info: VersionInfo | None = None

    @property
    def text(self) -> str:
        return SECTION_SEPARATOR.join(s.text for s in self.sections)

    def section_offsets(self) -> list[tuple[int, int]]:
        """(start, end) character offsets of each section inside ``text``."""
        offsets, pos = [], 0
        for section in self.sections:
            offsets.append((pos, pos + len(section.text)))
            pos += len(section.text) + len(SECTION_SEPARATOR)
        return offsets


SECTION_SEPARATOR = "\n\n"


@dataclass(frozen=True)
class Chunk:
    """A passage small enough for the embedder's window, with where it came from.

    ``start``/``end`` are character offsets into ``Document.text`` of its document, so
    ``document.text[start:end] == text``. ``effective_date``, ``status`` and ``family`` are
    its document's (filled when chunks are read back from an index).
    """

    chunk_id: str
    doc_id: str
    source: str
    text: str
    start: int
    end: int
    page_index: int | None = None
    page_label: str | None = None
    heading: tuple[str, ...] = ()
    title: str = ""
    effective_date: str | None = None
    status: str = "unknown"
    family: str = ""

    @property
    def heading_path(self) -> str:
        return " > ".join(self.heading)
