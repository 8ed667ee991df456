"""Vectors and chunk text in, ranked passages out.

``IndexWriter`` builds versioned, atomically published indexes (incrementally: unchanged
documents are carried over without re-embedding); ``Searcher`` serves the live version
with BM25, dense or hybrid (RRF) search and an optional cross-encoder reranker.
"""

from index.bm25 import BM25Config
from index.hybrid import HybridConfig, rrf
from index.manifest import FORMAT_VERSION, CommitStats, Manifest, check_embedder
from index.records import DocRecord, Passage
from index.rerank import CrossEncoderReranker, Reranker, rerank_with
from index.searcher import MODES, Searcher
from index.vectors import VectorIndexConfig
from index.writer import IndexWriter

__all__ = [
    "FORMAT_VERSION",
    "MODES",
    "BM25Config",
    "CommitStats",
    "CrossEncoderReranker",
    "DocRecord",
    "HybridConfig",
    "IndexWriter",
    "Manifest",
    "Passage",
    "Reranker",
    "Searcher",
    "VectorIndexConfig",
    "check_embedder",
    "rerank_with",
    "rrf",
]
