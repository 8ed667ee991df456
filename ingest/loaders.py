"""Turning discovered files into ``Document`` records, one parser per file type."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

from core.errors import InputFileError
from ingest.chunking import ChunkerConfig
from ingest.discover import FileEntry
from ingest.families import name_key
from ingest.html import parse_html
from ingest.ids import doc_id_for
from ingest.markdown import parse_markdown
from ingest.pdf import DEFAULT_TIME_BUDGET_S, parse_pdf
from ingest.records import SECTION_SEPARATOR, Document
from ingest.text import Parsed, clean_text, decode_text, parse_text
from ingest.versions import (
    VersionInfo,
    front_matter,
    pdf_metadata_date,
    read_version_info,
)

logger = logging.getLogger(__name__)

# A parser's version, bumped when its output changes so an index re-parses the files it
# parsed before (``parse_tag``); 1 unless listed. html 2: definition terms head their
# definitions; html 3, md 2: tables of more than 10 rows or 480 characters in blocks under
# their header (the 10-row blocks had come without a bump, so an older index kept its
# unblocked chunks); txt 2: tables laid out with spaces written as pipe tables, and record
# lines ("KI-2044  ...") as headings; pdf 2: tables read from the runs' positions and
# written as pipe rows (``pdf_tables``); html 4: links whose text is only a mark ("§",
# "¶") left out; pdf 3: numbered articles and sections in body type ("ARTICLE. IV.",
# "SECTION. 3. The Senate ...") head sections; pdf 4: titles set as blocks of capitals in
# body type head the numbered divisions after them; pdf 5: the first page's running
# footers are left out like every other page's; pdf 6: running lines are those at the
# same height among pages' first or last lines, not body lines that differ only in
# their numbers ("position 5 is dirty.") and had been dropped near a page's edge; html 5:
# rating widgets ("Was this article helpful?", class "was-this-helpful") left out.
PARSER_VERSIONS: dict[str, int] = {".html": 5, ".htm": 5, ".md": 2, ".markdown": 2,
                                   ".txt": 2, ".pdf": 6}

_PARSERS: dict[str, Callable[[bytes, str], Parsed]] = {
    ".pdf": parse_pdf,
    ".html": parse_html,
    ".htm": parse_html,
    ".md": parse_markdown,
    ".markdown": parse_markdown,
    ".txt": parse_text,
}


def load_document(
    entry: FileEntry, *, pdf_time_budget_s: float = DEFAULT_TIME_BUDGET_S
) -> Document:
    """Read and parse one file into a Document.

    ``doc_id`` comes from the source name, ``content_hash`` is the SHA-256 of the bytes
    parsed (the same value as ``core.hashing.file_sha256``), the title is the file's own (PDF
    metadata, front matter, first heading, HTML title) or else the file stem. Its
    effective date, stated status and version details come from ``ingest.versions``
    (problems reading them are in ``version_info.problems``, never raised).
    Raises ``InputFileError`` with a human reason for anything that cannot be ingested:
    unsupported type, unreadable, empty, corrupt, encrypted, binary or no text.
    """
    source = entry.source
    suffix = entry.path.suffix.lower()
    parser = _PARSERS.get(suffix)
    if parser is None:
        raise InputFileError(source, f"unsupported file type '{suffix}'")
    try:
        data = entry.path.read_bytes()
    except OSError as exc:
        raise InputFileError(source, f"cannot read file ({exc.strerror or exc})") from exc
    if not data:
        raise InputFileError(source, "empty file (0 bytes), no extractable text")
    if suffix == ".pdf":
        parsed = parse_pdf(data, source, time_budget_s=pdf_time_budget_s)
    else:
        parsed = parser(data, source)
    sections = tuple(s for s in parsed.sections if s.text.strip())
    if not sections:
        if suffix != ".pdf" and parsed.title:  # parsers keep no section without text
            raise InputFileError(source, "a title or headings only, no text under them to "
                                         "index")
        hint = " (no text layer: a scanned PDF needs OCR first)" if suffix == ".pdf" else ""
        raise InputFileError(source, f"no extractable text{hint}")
    title = parsed.title or entry.path.stem
    info = version_info(suffix, data, SECTION_SEPARATOR.join(s.text for s in sections), source)
    return Document(
        doc_id=doc_id_for(source),
        source=source,
        title=title,
        sections=sections,
        content_hash=hashlib.sha256(data).hexdigest(),
        effective_date=info.effective_date,
        status=info.status or "unknown",
        family=info.family or name_key(info.title or title).key,
        version_info=info,
    )


def version_info(suffix: str, data: bytes, text: str, source: str) -> VersionInfo:
    """What a file of type ``suffix`` with these bytes and parsed ``text`` states about
    its version: front matter for Markdown, metadata dates for PDF, lines and notices
    near the top for every format."""
    front: dict = {}
    problems: list[str] = []
    if suffix in (".md", ".markdown"):
        front, problems = front_matter(clean_text(decode_text(data, source),
                                                  collapse_spaces=False))
    pdf_date = pdf_metadata_date(data) if suffix == ".pdf" else None
    return read_version_info(text, front=front, pdf_date=pdf_date, problems=problems)


def load_documents(
    entries: Iterable[FileEntry], *, pdf_time_budget_s: float = DEFAULT_TIME_BUDGET_S
) -> tuple[list[Document], list[InputFileError]]:
    """Load every entry; a file that fails is reported in the second list, not raised.

    Returns (documents in entry order, one ``InputFileError`` per failed file).
    """
    documents: list[Document] = []
    errors: list[InputFileError] = []
    for entry in entries:
        try:
            documents.append(load_document(entry, pdf_time_budget_s=pdf_time_budget_s))
        except InputFileError as exc:
            logger.warning("skipping %s", exc)
            errors.append(exc)
    return documents, errors


def parse_outdated(recorded: str, source: str, chunker: ChunkerConfig) -> bool:
    """Whether chunks made as ``recorded`` says (``parse_tag``) are out of date for
    ``source`` now. An empty record is an index from before tags were kept: its files
    were parsed by version 1 of every parser, with chunk settings not known, so only a
    file whose parser has moved past version 1 is out of date."""
    if not recorded:
        return PARSER_VERSIONS.get(PurePosixPath(source).suffix.lower(), 1) > 1
    return recorded != parse_tag(source, chunker)


def parse_tag(source: str, chunker: ChunkerConfig) -> str:
    """What a file's chunks were made with: its parser's version and the chunker settings
    (``"html/2 192/32/48"``). An index keeps a file's chunks only while its bytes and this
    tag are unchanged, so a new parser or chunk size takes effect on the next ingest."""
    suffix = PurePosixPath(source).suffix.lower()
    sizes = f"{chunker.chunk_tokens}/{chunker.overlap_tokens}/{chunker.prefix_tokens}"
    return f"{suffix.lstrip('.')}/{PARSER_VERSIONS.get(suffix, 1)} {sizes}"
