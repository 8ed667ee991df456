"""Turning discovered files into ``Document`` records, one parser per file type."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Iterable

from core.errors import InputFileError
from ingest.discover import FileEntry
from ingest.html import parse_html
from ingest.ids import doc_id_for
from ingest.markdown import parse_markdown
from ingest.pdf import DEFAULT_TIME_BUDGET_S, parse_pdf
from ingest.records import Document
from ingest.text import Parsed, parse_text

logger = logging.getLogger(__name__)

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
    parsed (the same value as ``ids.file_sha256``), the title is the file's own (PDF
    metadata, front matter, first heading, HTML title) or else the file stem.
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
        hint = " (no text layer: a scanned PDF needs OCR first)" if suffix == ".pdf" else ""
        raise InputFileError(source, f"no extractable text{hint}")
    return Document(
        doc_id=doc_id_for(source),
        source=source,
        title=parsed.title or entry.path.stem,
        sections=sections,
        content_hash=hashlib.sha256(data).hexdigest(),
    )


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
