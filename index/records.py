"""Records that come out of the index."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Passage:
    """A ranked chunk returned by a search.

    ``score`` is the score of the mode that ranked it (cosine for dense, BM25 for bm25,
    fused RRF score for hybrid, cross-encoder logit when reranked). ``scores`` keeps the
    per-retriever scores that went into a fused rank, for debugging and abstention.
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
        }


@dataclass(frozen=True)
class DocRecord:
    """What the index remembers about one ingested file, to decide what to re-embed."""

    doc_id: str
    source: str
    content_hash: str
    size: int
    mtime: float
    n_chunks: int = 0
    title: str = ""
