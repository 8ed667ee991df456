"""Vectors and chunk text in, ranked passages out.

``ingest`` (``index.build``) mirrors files into an index: it parses, chunks and embeds
them with ``ingest`` and publishes a new version.

``IndexWriter`` builds versioned, atomically published indexes (incrementally: unchanged
documents are carried over without re-embedding); ``Searcher`` serves the live version
with BM25, dense or hybrid (fused scores) search and an optional cross-encoder reranker.
"""

from index.bm25 import BM25Config
from index.current_first import VERSION_POLICIES
from index.hybrid import FUSIONS, HybridConfig, convex, rrf
from index.manifest import FORMAT_VERSION, CommitStats, Manifest, check_embedder
from index.records import DocRecord, Passage
from index.rerank import CrossEncoderReranker, Reranker, rerank_with
from index.searcher import MODES, Searcher
from index.vectors import VectorIndexConfig
from index.writer import IndexWriter

__all__ = [
    "FORMAT_VERSION",
    "FUSIONS",
    "MODES",
    "VERSION_POLICIES",
    "BM25Config",
    "CommitStats",
    "CrossEncoderReranker",
    "DocRecord",
    "HybridConfig",
    "IngestConfig",
    "IngestReport",
    "IndexWriter",
    "Manifest",
    "Passage",
    "Reranker",
    "Searcher",
    "VectorIndexConfig",
    "check_embedder",
    "convex",
    "ingest",
    "rerank_with",
    "rrf",
]


def __getattr__(name: str):
    """``ingest``, ``IngestConfig`` and ``IngestReport`` load the parsers on first use, so
    ``import index`` (what a search server needs) stays cheap."""
    if name in ("ingest", "IngestConfig", "IngestReport"):
        from index import build

        return getattr(build, name)
    raise AttributeError(f"module 'index' has no attribute {name!r}")
