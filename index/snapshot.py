"""One opened index version, immutable and safe to search from many threads.

A ``Snapshot`` holds everything a search needs from one version directory: manifest,
chunk database, BM25 index and (loaded on first dense search) the vector index. A
searcher swaps snapshots on refresh; a search already running finishes on the one it
started with, which keeps working even if its files are pruned meanwhile.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import logging
import threading
from collections.abc import Sequence

import numpy as np

from index.access import AccessFilter
from index.bm25 import BM25Index
from index.chunkdb import DB_FILE, ChunkDB, StoredDocument
from index.current_first import VersionTable
from index.manifest import Manifest
from index.records import Passage
from index.store import BM25_DIR, VECTORS_FILE, IndexStore
from index.vectors import VectorIndex, VectorIndexConfig

logger = logging.getLogger(__name__)

_MAX_ACCESS_MASKS = 64


class Snapshot:
    """The searchable contents of version ``name`` of ``store``.

    ``search_config`` overrides the search-time vector settings (``device``,
    ``hnsw_ef_search``, ``ivf_nprobe``); build settings always come from the manifest.
    The device defaults to ``auto`` whatever the index was built on: the machine that
    serves an index is often not the one that built it.
    """

    def __init__(
        self, store: IndexStore, name: str, search_config: dict | None = None
    ) -> None:
        self.version = name
        self.dir = store.version_dir(name)
        self.manifest = Manifest.load(self.dir)
        self.vector_config: VectorIndexConfig = dataclasses.replace(
            self.manifest.vector_config, **{"device": "auto", **(search_config or {})}
        )
        self.db = ChunkDB(self.dir / DB_FILE)
        self.documents: list[StoredDocument] = self.db.documents()
        self.bm25 = BM25Index.load(self.dir / BM25_DIR, self.manifest.bm25)
        self._vectors_file = np.load(self.dir / VECTORS_FILE, mmap_mode="r")  # (n, dim)
        self._vector_index: VectorIndex | None = None
        self._version_table: VersionTable | None = None
        self._access_masks: dict[tuple[AccessFilter, ...], np.ndarray] = {}
        self._lock = threading.Lock()
        if self.manifest.vector_kind != "flat":
            # Its file is read now: once this version is pruned, only open maps survive.
            _ = self.vectors

    @property
    def n_chunks(self) -> int:
        return self.manifest.n_chunks

    @property
    def vectors(self) -> VectorIndex:
        """The vector index. A flat one is built on first use from the mapped vectors.npy,
        so BM25-only searches never pay for it."""
        if self._vector_index is None:
            with self._lock:
                if self._vector_index is None:
                    self._vector_index = VectorIndex.load(
                        self.dir, self.manifest.vector_kind, self.vector_config,
                        self._vectors_file,
                    )
        return self._vector_index

    @property
    def version_table(self) -> VersionTable:
        """Row -> document -> family and status, for the version policy (built once)."""
        if self._version_table is None:
            with self._lock:
                if self._version_table is None:
                    self._version_table = VersionTable(self.documents, self.n_chunks)
        return self._version_table

    def close(self) -> None:
        self.db.close()

    def source_mask(self, patterns: Sequence[str] | None) -> np.ndarray | None:
        """Bool (n_chunks,) of rows whose source equals or glob-matches a pattern."""
        if patterns is None:
            return None
        mask = np.zeros(self.n_chunks, dtype=bool)
        for doc in self.documents:
            source = doc.record.source
            if any(source == p or fnmatch.fnmatchcase(source, p) for p in patterns):
                mask[doc.row_start : doc.row_start + doc.record.n_chunks] = True
        return mask

    def access_mask(self, filters: Sequence[AccessFilter]) -> np.ndarray | None:
        """Bool (n_chunks,) of rows of documents every filter allows (None: no filters).
        Kept per filter combination (a server sees a handful: one per key scope)."""
        key = tuple(filters)
        if not key:
            return None
        mask = self._access_masks.get(key)
        if mask is not None:
            return mask
        mask = np.zeros(self.n_chunks, dtype=bool)
        for doc in self.documents:
            r = doc.record
            if all(f.allows(r.source, r.access) for f in key):
                mask[doc.row_start : doc.row_start + r.n_chunks] = True
        with self._lock:
            if len(self._access_masks) >= _MAX_ACCESS_MASKS:
                self._access_masks.clear()
            self._access_masks[key] = mask
        return mask

    def passages(
        self, hits: Sequence[tuple[int, float]], details: dict[str, dict[int, float]]
    ) -> list[Passage]:
        """Passages for ``hits`` (row, score) in order; ``details`` adds per-mode scores."""
        chunks = self.db.chunks([row for row, _ in hits])
        out = []
        for row, score in hits:
            chunk = chunks.get(row)
            if chunk is None:  # cannot happen in a consistent version; never crash on it
                logger.warning("version %s has no chunk at row %d", self.version, row)
                continue
            scores = {mode: by_row[row] for mode, by_row in details.items() if row in by_row}
            out.append(
                Passage(
                    chunk_id=chunk.chunk_id, doc_id=chunk.doc_id, source=chunk.source,
                    text=chunk.text, score=float(score), page_index=chunk.page_index,
                    page_label=chunk.page_label, heading=chunk.heading, start=chunk.start,
                    end=chunk.end, title=chunk.title, scores=scores,
                    effective_date=chunk.effective_date, status=chunk.status,
                    family=chunk.family,
                )
            )
        return out
