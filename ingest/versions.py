"""What a document says about its own version: effective date, version, status, successors.

Read only where the document states it, in this order of trust: Markdown front matter
(``effective``, ``updated``, ``version``, ``supersedes``, ``status``, ``title``,
``family``); an ``Effective:`` / ``Last updated:`` / ``Version`` line near the top of any
format; an "ARCHIVED", "Status: superseded", "(archived)" or "this version was
superseded" notice near the top; the PDF's metadata dates. Nothing stated means
``None``: a file's modification time is never taken for a date. Anything unreadable
(malformed front matter, an impossible date such as 2025-02-30) is dropped and named in
``VersionInfo.problems`` so the ingest summary can say so; it never fails the document.

Grouping documents into families and deciding which one is current is
``ingest.families``; this module only reads one document.
"""

from __future__ import annotations

import io
import logging
import re
from dataclasses import dataclass
from datetime import date
from typing import Any, Literal, get_args

logger = logging.getLogger(__name__)

# The one list of the statuses a document can have; the HTTP API's ``status`` parameter,
# the MCP ``documents`` tool and ``index.access.select_documents`` all take it from here.
# "upcoming": a version whose effective date is still ahead, in a family with one in force.
DocStatus = Literal["current", "superseded", "archived", "upcoming", "unknown"]
STATUSES: tuple[str, ...] = get_args(DocStatus)
# The documents that are not in force: ranked below the one in force, and an answer drawn
# only from them says so.
STALE_STATUSES = frozenset({"superseded", "archived", "upcoming"})
# Bump when this module reads more than before: documents indexed under an older number
# have their metadata read again (parse only, no re-embedding) on the next ingest.
INFO_FORMAT = 1
TOP_CHARS = 1200  # "near the top": where notices, dates and version lines are looked for
_MAX_FRONT_MATTER_LINES = 200

_MONTHS = {
    name: number
    for number, names in enumerate(
        (("january", "jan"), ("february", "feb"), ("march", "mar"), ("april", "apr"),
         ("may",), ("june", "jun"), ("july", "jul"), ("august", "aug"),
         ("september", "sep", "sept"), ("october", "oct"), ("november", "nov"),
         ("december", "dec")),
        start=1,
    )
    for name in names
}
_MONTH = r"(?:" + "|".join(sorted(_MONTHS, key=len, reverse=True)) + r")\.?"
_ORD = r"(?:st|nd|rd|th)?"
DATE_PATTERN = (
    rf"\d{{4}}-\d{{1,2}}-\d{{1,2}}"
    rf"|\d{{1,2}}{_ORD}\s+{_MONTH},?\s+\d{{4}}"
    rf"|{_MONTH}\s+\d{{1,2}}{_ORD},?\s+\d{{4}}"
    rf"|{_MONTH}\s+\d{{4}}"
)
_ISO = re.compile(r"(\d{4})-(\d{1,2})(?:-(\d{1,2}))?")
_DAY_MONTH = re.compile(rf"(\d{{1,2}}){_ORD}\s+({_MONTH}),?\s+(\d{{4}})", re.IGNORECASE)
_MONTH_DAY = re.compile(rf"({_MONTH})\s+(\d{{1,2}}){_ORD},?\s+(\d{{4}})", re.IGNORECASE)
_MONTH_YEAR = re.compile(rf"({_MONTH})\s+(\d{{4}})", re.IGNORECASE)

_LEAD = r"[\s>*_#|-]*"
_EFFECTIVE = re.compile(
    rf"\beffective(?:\s+date)?(?:\s+(?:from|as\s+of|on|since))?\s*[:\-\u2013]?\s*\**\s*"
    rf"({DATE_PATTERN})",
    re.IGNORECASE,
)
_UPDATED = re.compile(
    rf"\b(?:last\s+)?(?:updated|revised|(?<=last )reviewed|published)(?:\s+on)?\s*[:\-\u2013]?"
    rf"\s*\**\s*({DATE_PATTERN})",
    re.IGNORECASE,
)
_VERSION = re.compile(
    r"\b(?:version|ver\.|revision|rev\.)\s*(\d+(?:\.\d+)*)\b(?!\.\d)", re.IGNORECASE
)
# What a prose notice may call the document itself ("this policy was superseded"): a
# product ("this model was replaced by the S7") is not a document version.
_DOC_NOUN = (
    r"(?:version|edition|revision|document|policy|whitepaper|paper|notice|page|guide|manual"
    r"|sheet|list|prices|terms|agreement|statement|notes|article|handbook|schedule|standard"
    r"|procedure|specification|faq)"
)
_THIS_DOC = rf"\b(?:this|these)\s+(?:[\w-]+\s+){{0,2}}?{_DOC_NOUN}\b"
# Status notices, each with the word that names the status in group 1.
_NOTICES = (
    re.compile(
        rf"^{_LEAD}(archived|superseded|obsolete|withdrawn|replaced)\s*(?:[:(\u2013-]|$)",
        re.IGNORECASE,
    ),
    re.compile(r"\((archived|superseded|obsolete|withdrawn)\)", re.IGNORECASE),
    re.compile(
        rf"^{_LEAD}status\s*:\s*\**\s*(current|active|in\s+force|superseded|archived|obsolete"
        r"|withdrawn|replaced)\b", re.IGNORECASE,
    ),
    re.compile(
        rf"{_THIS_DOC}\s+(?:has\s+been|have\s+been|was|is|is\s+now)\s+"
        r"(superseded|replaced|archived|withdrawn|retired)\b", re.IGNORECASE,
    ),
)
_STATUS_WORDS = {
    "archived": "archived", "obsolete": "archived", "withdrawn": "archived",
    "retired": "archived", "superseded": "superseded", "replaced": "superseded",
    "current": "current", "active": "current", "in force": "current",
}
_REF = (
    r"(.{3,160}?)(?=[.;!?](?:\s|$)|,\s|\s[-\u2013\u2014]\s|\s(?:effective|for|on|from|as\s+of"
    r"|until|which|in)\s|$)"
)
_SUPERSEDED_BY = re.compile(
    rf"\b(?:superseded|replaced)\s+(?:(?:on|as\s+of|from)\s+(?:{DATE_PATTERN})\s+)?by\s+{_REF}",
    re.IGNORECASE,
)
_SUPERSEDES = re.compile(rf"{_THIS_DOC}\s+(?:replaces?|supersedes?)\s+{_REF}", re.IGNORECASE)
_FRONT_MATTER_KEYS = {
    "effective": "effective", "effective_date": "effective", "effective-date": "effective",
    "updated": "updated", "last_updated": "updated", "last-updated": "updated",
    "version": "version", "supersedes": "supersedes", "status": "status", "title": "title",
    "family": "family",
}


@dataclass(frozen=True)
class VersionInfo:
    """What one document states about its version; ``None``/empty where it states nothing.

    ``status`` is as stated (``current``, ``superseded``, ``archived``), not as resolved
    against the other documents. ``supersedes`` and ``superseded_by`` are references as
    written (a path, a title or a phrase such as "the 2023 price sheet"); ``explicit``
    says whether ``supersedes`` came from front matter (must resolve) or from prose
    (resolved when it clearly names one document). ``date_source`` says where
    ``effective_date`` came from. ``problems`` are what could not be read, one line each.
    """

    effective_date: str | None = None
    date_source: str | None = None
    version: str | None = None
    status: str | None = None
    family: str | None = None
    title: str | None = None
    supersedes: tuple[str, ...] = ()
    superseded_by: tuple[str, ...] = ()
    explicit: bool = False
    problems: tuple[str, ...] = ()
    format: int = INFO_FORMAT

    def to_json(self) -> dict[str, Any]:
        return {
            "format": self.format, "effective_date": self.effective_date,
            "date_source": self.date_source, "version": self.version, "status": self.status,
            "family": self.family, "title": self.title, "supersedes": list(self.supersedes),
            "superseded_by": list(self.superseded_by), "explicit": self.explicit,
            "problems": list(self.problems),
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> VersionInfo:
        """Inverse of ``to_json``; unknown keys (from a newer release) are ignored."""
        return cls(
            effective_date=data.get("effective_date"), date_source=data.get("date_source"),
            version=data.get("version"), status=data.get("status"), family=data.get("family"),
            title=data.get("title"), supersedes=tuple(data.get("supersedes") or ()),
            superseded_by=tuple(data.get("superseded_by") or ()),
            explicit=bool(data.get("explicit")), problems=tuple(data.get("problems") or ()),
            format=int(data.get("format") or 0),
        )


def parse_date(text: str) -> tuple[str | None, str | None]:
    """``(ISO date, problem)`` for one written date: "2025-04-01", "1 April 2025",
    "April 1, 2025", "April 2025" (the 1st of the month). ``(None, reason)`` when it is
    not a date or an impossible one (2025-02-30); ``(None, None)`` for empty text."""
    text = str(text).strip().strip("*_").strip()
    if not text:
        return None, None
    match = _ISO.fullmatch(text)
    if match:
        y, m, d = int(match.group(1)), int(match.group(2)), int(match.group(3) or 1)
    elif match := _DAY_MONTH.fullmatch(text):
        d, m, y = int(match.group(1)), _month(match.group(2)), int(match.group(3))
    elif match := _MONTH_DAY.fullmatch(text):
        m, d, y = _month(match.group(1)), int(match.group(2)), int(match.group(3))
    elif match := _MONTH_YEAR.fullmatch(text):
        m, d, y = _month(match.group(1)), 1, int(match.group(2))
    else:
        return None, f"'{text}' is not a date (write it as YYYY-MM-DD)"
    try:
        return date(y, m, d).isoformat(), None
    except ValueError:
        return None, f"'{text}' is an impossible date"


def is_month_date(text: str) -> bool:
    """True for a month without a day ("April 2025"), which names the whole month."""
    return _MONTH_YEAR.fullmatch(text.strip()) is not None


def _month(name: str) -> int:
    return _MONTHS[name.lower().rstrip(".")]


def front_matter(text: str) -> tuple[dict[str, Any], list[str]]:
    """The YAML front matter of a Markdown text as ``(fields, problems)``.

    Keys are lower-cased; values are strings or lists of strings (YAML's base loader, so
    ``2025-02-30`` arrives as text and is judged by ``parse_date``). Malformed YAML or a
    block that is not a mapping gives ``({}, [reason])``; no front matter gives ``({}, [])``.
    """
    block = _front_matter_block(text)
    if block is None:
        return {}, []
    import yaml

    try:
        data = yaml.load(block, Loader=yaml.BaseLoader)  # noqa: S506 (no objects: strings only)
    except yaml.YAMLError as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" (line {where.line + 2})" if where is not None else ""
        return {}, [f"front matter is not valid YAML{line}; its fields were ignored"]
    if data is None:
        return {}, []
    if not isinstance(data, dict):
        return {}, ["front matter is not a mapping of keys to values; it was ignored"]
    return {str(k).strip().lower(): v for k, v in data.items()}, []


def _front_matter_block(text: str) -> str | None:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        return None
    for i in range(1, min(len(lines), _MAX_FRONT_MATTER_LINES)):
        if lines[i].strip() in ("---", "..."):
            return "\n".join(lines[1:i])
    return None  # no closing line: a thematic break, as ingest.markdown reads it


def read_version_info(
    text: str, *, front: dict[str, Any] | None = None, pdf_date: str | None = None,
    problems: list[str] | None = None,
) -> VersionInfo:
    """What the document ``text`` (its parsed text) states about its version.

    ``front`` is its front matter (``front_matter``), ``pdf_date`` an ISO date from the
    PDF's metadata (``pdf_metadata_date``), the weakest source. ``problems`` from reading
    those are carried into the result.
    """
    problems = list(problems or [])
    stated = _from_front_matter(front or {}, problems)
    top = text[:TOP_CHARS]
    lines = top.split("\n")
    status, notice_lines = _notice(lines)
    plain = "\n".join(line for i, line in enumerate(lines) if i not in notice_lines)
    flat = " ".join(top.split())
    effective = stated.get("effective"), "front matter effective"
    if effective[0] is None:
        effective = _dated(_EFFECTIVE, plain, "Effective line", problems)
    if effective[0] is None and stated.get("updated"):
        effective = stated["updated"], "front matter updated"
    if effective[0] is None:
        effective = _dated(_UPDATED, plain, "Updated line", problems)
    if effective[0] is None and pdf_date:
        effective = pdf_date, "PDF metadata"
    version = stated.get("version")
    if version is None and (match := _VERSION.search(plain)):
        version = match.group(1)
    supersedes = tuple(stated.get("supersedes", ()))
    explicit = bool(supersedes)
    if not supersedes:
        supersedes = tuple(_refs(_SUPERSEDES, flat))
    return VersionInfo(
        effective_date=effective[0],
        date_source=effective[1] if effective[0] else None,
        version=version,
        status=stated.get("status") or status,
        family=stated.get("family"),
        title=stated.get("title"),
        supersedes=supersedes,
        superseded_by=tuple(_refs(_SUPERSEDED_BY, flat)),
        explicit=explicit,
        problems=tuple(problems),
    )


def _from_front_matter(front: dict[str, Any], problems: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in front.items():
        name = _FRONT_MATTER_KEYS.get(key)
        if name is None:
            continue  # other tools' keys (tags, author, ...) are not ours to judge
        if name == "supersedes":
            values = value if isinstance(value, list) else [value]
            refs = [str(v).strip() for v in values if isinstance(v, str) and v.strip()]
            if len(refs) != len(values):
                problems.append("front matter: supersedes must be a path or title, or a list "
                                "of them; the others were ignored")
            out[name] = refs
            continue
        if not isinstance(value, str) or not value.strip():
            problems.append(f"front matter: {key} must be a single value; ignored")
            continue
        value = value.strip()
        if name in ("effective", "updated"):
            iso, problem = parse_date(value)
            if problem:
                problems.append(f"front matter: {key} {problem}; ignored")
            out[name] = iso
        elif name == "status":
            status = _STATUS_WORDS.get(value.lower())
            if status is None:
                problems.append(f"front matter: status '{value}' is not one of current, "
                                "superseded, archived; ignored")
            out[name] = status
        else:
            out[name] = value
    return out


def _notice(lines: list[str]) -> tuple[str | None, set[int]]:
    """(the first stated status, indices of the lines that carry a superseded notice)."""
    found: tuple[int, int, str] | None = None  # (line, column, status)
    notice_lines: set[int] = set()
    for i, line in enumerate(lines):
        for pattern in _NOTICES:
            match = pattern.search(line)
            if match is None:
                continue
            status = _STATUS_WORDS[" ".join(match.group(1).lower().split())]
            if status != "current":
                notice_lines.add(i)
            if found is None or (i, match.start()) < found[:2]:
                found = (i, match.start(), status)
        if _SUPERSEDED_BY.search(line):
            notice_lines.add(i)  # its date is the successor's, not this document's
    return (found[2] if found else None), notice_lines


def _dated(
    pattern: re.Pattern[str], text: str, label: str, problems: list[str]
) -> tuple[str | None, str | None]:
    for match in pattern.finditer(text):
        iso, problem = parse_date(match.group(1))
        if iso:
            return iso, label
        if problem:
            problems.append(f"{label}: {problem}; ignored")
    return None, None


def _refs(pattern: re.Pattern[str], flat: str) -> list[str]:
    refs = []
    for match in pattern.finditer(flat):
        ref = match.group(1).strip(" *_\"'")
        if ref and ref not in refs:
            refs.append(ref)
    return refs


def pdf_metadata_date(data: bytes) -> str | None:
    """The PDF's modification date, else its creation date, as an ISO date; None when it
    has neither or they cannot be read (a second, light read: the metadata only)."""
    try:
        from pypdf import PdfReader

        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            reader.decrypt("")
        meta = reader.metadata
        if meta is None:
            return None
        for getter in ("modification_date", "creation_date"):
            try:
                value = getattr(meta, getter)
            except Exception as exc:  # a malformed date string: not a date, not a failure
                logger.debug("unreadable PDF %s: %s", getter, exc)
                continue
            if value is not None:
                return value.date().isoformat()
    except Exception as exc:  # metadata is optional; the text was read by ingest.pdf
        logger.debug("PDF metadata unreadable: %s", exc)
    return None
