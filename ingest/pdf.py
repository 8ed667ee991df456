"""PDF files: sections by heading within each page, with the physical page number and the
printed label.

``page_index`` counts pages as a viewer does (1-based); ``page_label`` is what pypdf
derives from the document's ``/PageLabels`` ("i", "ii", "1", ...). A PDF without
``/PageLabels`` gets pypdf's default labels "1", "2", ..., equal to the index. A page's
text is cut at its headings (from the outline, else from the text layout; see
``ingest.pdf_headings``), so one page can give several sections, each with its heading
path; a page without headings is one section under the path it continues.

pypdf is pure Python and has had pathological inputs that loop for a very long time.
Extraction checks a per-document time budget between pages and gives up with an
``InputFileError``; a single page that never returns is not interrupted here (that
needs a worker process, which the caller can provide).
"""

from __future__ import annotations

import io
import logging
import re
import time

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PyPdfError

from core.errors import InputFileError
from ingest.pdf_headings import OutlineEntry, read_outline, split_pages
from ingest.pdf_lines import PageText, read_page
from ingest.pdf_tables import tabulate
from ingest.records import Section
from ingest.text import Parsed, clean_text

logger = logging.getLogger(__name__)

DEFAULT_TIME_BUDGET_S = 120.0
_HYPHEN_BREAK = re.compile(r"([^\W\d_])-[ \t]*\n[ \t]*([^\W\d_])")
# Metadata titles that are really file names or paths ("C:\\DOCS\\CONST.18", "x.doc").
_JUNK_TITLE = re.compile(
    r"\\|^[A-Za-z]:|^/|^untitled$|\.(?:docx?|pdf|rtf|odt|tex|dvi|ps|indd|qxd)$", re.IGNORECASE
)


def parse_pdf(data: bytes, source: str, *, time_budget_s: float = DEFAULT_TIME_BUDGET_S) -> Parsed:
    """Extract a PDF's text layer: per non-empty page, one section per heading on it.

    Encrypted PDFs are opened with the empty user password when that works. Raises
    ``InputFileError`` for corrupt, truncated or password-protected files and when
    extraction runs past ``time_budget_s``. The title is the metadata ``/Title`` unless
    it looks like a file name or path.
    """
    try:
        reader = PdfReader(io.BytesIO(data))
        _decrypt(reader, source)
        labels = _page_labels(reader, source)
        pages = _extract_pages(reader, source, time_budget_s)
        sections = _sections(pages, read_outline(reader, source), labels)
        title = _metadata_title(reader)
    except InputFileError:
        raise
    except FileNotDecryptedError as exc:
        raise InputFileError(source, "encrypted PDF (password required)") from exc
    except DependencyError as exc:
        raise InputFileError(source, f"PDF needs an optional dependency: {exc}") from exc
    except PyPdfError as exc:
        raise InputFileError(source, _corrupt_reason(data, exc)) from exc
    except Exception as exc:  # pypdf raises plain ValueError/KeyError/... on broken files
        raise InputFileError(source, _corrupt_reason(data, exc)) from exc
    return Parsed(title=title, sections=sections)


def _corrupt_reason(data: bytes, exc: Exception) -> str:
    kind = "corrupt or unreadable PDF"
    if not data.startswith(b"%PDF-") and b"%PDF-" not in data[:1024]:
        kind = "not a PDF (no %PDF- header)"
    elif b"%%EOF" not in data[-2048:]:
        kind = "truncated PDF (no %%EOF marker at the end)"
    return f"{kind}: {type(exc).__name__}: {exc}"


def clean_pdf_text(text: str) -> str:
    """Join words hyphenated across a line break, then normalise whitespace and controls."""
    text = _HYPHEN_BREAK.sub(_join_hyphenated, text.replace("\r\n", "\n"))
    return clean_text(text)


def _join_hyphenated(match: re.Match[str]) -> str:
    head, tail = match.group(1), match.group(2)
    # "rec-\nommending" is one word; "Anglo-\nSaxon" keeps its hyphen (and loses the break).
    return head + tail if tail.islower() else f"{head}-{tail}"


def _decrypt(reader: PdfReader, source: str) -> None:
    if not reader.is_encrypted:
        return
    if reader.decrypt("") == PasswordType.NOT_DECRYPTED:
        raise InputFileError(source, "encrypted PDF (password required)")
    logger.debug("%s: encrypted PDF opened with the empty user password", source)


def _page_labels(reader: PdfReader, source: str) -> list[str | None]:
    count = len(reader.pages)
    try:
        labels: list[str | None] = list(reader.page_labels)
    except Exception as exc:  # a broken /PageLabels tree should not lose the text
        logger.warning("%s: unreadable page labels (%s); using none", source, exc)
        return [None] * count
    if len(labels) != count:
        logger.warning("%s: %d page labels for %d pages; using none", source, len(labels), count)
        return [None] * count
    return labels


def _extract_pages(reader: PdfReader, source: str, time_budget_s: float) -> list[PageText]:
    start = time.monotonic()
    count = len(reader.pages)
    pages = []
    for i, page in enumerate(reader.pages):
        elapsed = time.monotonic() - start
        if elapsed > time_budget_s:
            raise InputFileError(
                source,
                f"PDF text extraction exceeded {time_budget_s:g} s "
                f"(stopped at page {i + 1} of {count})",
            )
        pages.append(tabulate(read_page(page)))
    return pages


def _sections(
    pages: list[PageText], outline: list[OutlineEntry], labels: list[str | None]
) -> tuple[Section, ...]:
    sections = []
    for i, pieces in enumerate(split_pages(pages, outline)):
        for raw, heading in pieces:
            text = clean_pdf_text(raw)
            if text:
                sections.append(
                    Section(text=text, page_index=i + 1, page_label=labels[i], heading=heading)
                )
    return tuple(sections)


def _metadata_title(reader: PdfReader) -> str | None:
    metadata = reader.metadata
    title = metadata.title if metadata is not None else None
    if not isinstance(title, str):
        return None
    title = clean_text(title).replace("\n", " ")
    return None if not title or _JUNK_TITLE.search(title) else title
