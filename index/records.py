"""Records that come out of the index."""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.versions import VersionInfo


@dataclass(frozen=True)
class Passage:
    """A ranked chunk returned by a search.

    ``score`` is the score of the mode that ranked it (cosine for dense, BM25 for bm25,
    fused score for hybrid, cross-encoder logit when reranked). ``scores`` keeps the
    per-retriever scores that went into a fused rank, for debugging and abstention.
    ``effective_date``, ``status`` and ``family`` are its document's (``DocRecord``); a
    superseded passage may be ranked below a current one with a lower score. ``named``:
    the question names this superseded or archived document's date, year or version ("under
    the 2023 policy"), so for this question it is the version that holds.
    """

    chunk_id: str
    doc_id: str
    source: str
    text: str
    score: float
    page_index: int | None = None
    page_label: str | None = None
    heading: tuple[str, ...] = ()
    start: int = 0
    end: int = 0
    title: str = ""
    scores: dict[str, float] = field(default_factory=dict)
    effective_date: str | None = None
    status: str = "unknown"
    family: str = ""
    named: bool = False

    @property
    def heading_path(self) -> str:
        return " > ".join(self.heading)

    def to_json(self) -> dict:
        """The public JSON shape used by ``assistant search --json`` and the HTTP API."""
        return {
            "chunk_id": self.chunk_id,
            "text": self.text,
            "score": self.score,
            "source": self.source,
            "page_index": self.page_index,
            "page_label": self.page_label,
            "heading": self.heading_path,
            "effective_date": self.effective_date,
            "status": self.status,
        }


@dataclass(frozen=True)
class DocRecord:
    """What the index remembers about one ingested file, to decide what to re-embed.

    ``mtime`` is the file's modification time, never taken for ``effective_date``.
    ``effective_date``, ``status`` (current, superseded, archived, unknown) and ``family``
    are as resolved against the other documents of the version (``ingest.families``), the
    metadata file applied; ``superseded_by`` names the family's current source.
    ``version_info`` is what the file itself states (None: not read, e.g. an index written
    before versions were read); ``version`` the version the document is known by, resolved
    with the rest: the metadata file's, else the file's own (None: neither states one, or
    an index written before it was kept); ``access`` the metadata file's tags; ``parse`` the parser
    version and chunker settings its chunks were made with (``ingest.loaders.parse_tag``;
    empty for an index written before they were recorded).
    """

    doc_id: str
    source: str
    content_hash: str
    size: int
    mtime: float
    n_chunks: int = 0
    title: str = ""
    effective_date: str | None = None
    status: str = "unknown"
    family: str = ""
    superseded_by: str | None = None
    access: tuple[str, ...] = ()
    version_info: VersionInfo | None = None
    parse: str = ""
    version: str | None = None

    @property
    def known_version(self) -> str | None:
        """``version``, else (an index written before it was kept) the file's own."""
        return self.version or (self.version_info.version if self.version_info else None)

    def to_json(self) -> dict:
        """The public JSON shape of ``assistant index docs --json``."""
        return {
            "source": self.source,
            "title": self.title,
            "family": self.family,
            "status": self.status,
            "effective_date": self.effective_date,
            "date_source": self.version_info.date_source if self.version_info else None,
            "version": self.known_version,
            "superseded_by": self.superseded_by,
            "access": list(self.access),
            "n_chunks": self.n_chunks,
            "mtime": self.mtime,
        }
