"""What a new version carries over from the live one, and how its vectors are assembled.

The live version is read lazily: a writer that only adds documents to a new index never
touches it, and one that keeps documents maps ``vectors.npy`` instead of reading it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.errors import IndexNotFoundError
from index.analysis import TermCounts, Vocabulary
from index.bm25 import BM25Index
from index.chunkdb import DB_FILE, ChunkDB, StoredDocument
from index.manifest import Manifest
from index.store import BM25_DIR, DOC_METADATA_FILE, VECTORS_FILE, IndexStore
from index.vectors import FAISS_FILE, VectorIndex, VectorIndexConfig

logger = logging.getLogger(__name__)

# A part of the new vectors: an array of added vectors, or (start, n) rows of the live ones.
VectorPart = np.ndarray | tuple[int, int]
MAX_DEAD_FRACTION = 0.25  # rebuild a carried HNSW graph once a quarter of it is deleted


class LiveVersion:
    """The published version a writer builds on: manifest, documents and carried data."""

    def __init__(self, store: IndexStore, name: str) -> None:
        self.name = name
        self.dir = store.version_dir(name)
        if not self.dir.is_dir():
            raise IndexNotFoundError(
                f"{store.current_path} names version {name}, but {self.dir} is missing; "
                "restore it, or point CURRENT at a version under versions/"
            )
        self.manifest = Manifest.load(self.dir)
        db = ChunkDB(self.dir / DB_FILE)
        try:
            self.docs: dict[str, StoredDocument] = {d.record.source: d for d in db.documents()}
        finally:
            db.close()
        self._vectors: np.ndarray | None = None
        self._terms: tuple[Vocabulary, TermCounts] | None = None

    def metadata_rules(self) -> dict | None:
        """The metadata-file rules this version was built with (None: none, or an older
        version that did not store them)."""
        path = self.dir / DOC_METADATA_FILE
        if not path.is_file():
            return None
        return json.loads(path.read_text(encoding="utf-8"))

    @property
    def vectors(self) -> np.ndarray:
        """float32 (n_chunks, dim), memory-mapped."""
        if self._vectors is None:
            self._vectors = np.load(self.dir / VECTORS_FILE, mmap_mode="r")
        return self._vectors

    @property
    def terms(self) -> tuple[Vocabulary, TermCounts]:
        """The BM25 vocabulary and per-chunk term counts."""
        if self._terms is None:
            self._terms = BM25Index.load_terms(self.dir / BM25_DIR)
        return self._terms

    def trained_ivf(self, config: VectorIndexConfig, n: int) -> VectorIndex | None:
        """This version's IVF index if its quantizer suits ``n`` vectors under ``config``.

        It suits when both are IVF with the same ``ivf_nlist`` setting and the corpus did
        not shrink or grow by more than a factor of 2; otherwise k-means runs afresh.
        """
        built = self.manifest
        if (
            config.kind != "ivf"
            or built.vector_kind != "ivf"
            or built.vector_config.ivf_nlist != config.ivf_nlist
            or not 0.5 <= n / max(built.n_chunks, 1) <= 2.0
        ):
            return None
        import faiss

        return VectorIndex(faiss.read_index(str(self.dir / FAISS_FILE)), "ivf", config)

    def updated_hnsw(
        self, config: VectorIndexConfig, parts: Sequence[VectorPart], vectors: np.ndarray
    ) -> VectorIndex | None:
        """This version's HNSW graph updated to the new rows, or None to rebuild instead.

        ``parts`` is how the new ``vectors`` (float32 (n, d)) were assembled. Kept nodes
        are renumbered, nodes of dropped rows are marked deleted (-1), added vectors are
        inserted. Rebuilding wins when the graph parameters changed or more than
        ``MAX_DEAD_FRACTION`` of the nodes would be deleted ones.
        """
        built = self.manifest
        if (
            config.kind != "hnsw"
            or built.vector_kind != "hnsw"
            or (built.vector_config.hnsw_m, built.vector_config.hnsw_ef_construction)
            != (config.hnsw_m, config.hnsw_ef_construction)
        ):
            return None
        old_to_new = np.full(built.n_chunks, -1, dtype=np.int64)
        added, row = [], 0
        for part in parts:
            n = part[1] if isinstance(part, tuple) else len(part)
            if isinstance(part, tuple):
                old_to_new[part[0] : part[0] + n] = np.arange(row, row + n)
            else:
                added.append(np.arange(row, row + n, dtype=np.int64))
            row += n
        graph = VectorIndex.load(self.dir, "hnsw", config, self.vectors)
        old_rows = graph.id_rows if graph.id_rows is not None else np.arange(graph.size)
        id_rows = np.where(old_rows >= 0, old_to_new[np.clip(old_rows, 0, None)], -1)
        new_rows = np.concatenate(added) if added else np.zeros(0, dtype=np.int64)
        dead = int((id_rows < 0).sum())
        if dead > MAX_DEAD_FRACTION * (len(id_rows) + len(new_rows)):
            return None
        if len(new_rows):
            graph.index.add(np.ascontiguousarray(vectors[new_rows], dtype=np.float32))
        logger.info(
            "HNSW graph carried over: %d nodes kept, %d added, %d deleted",
            len(id_rows) - dead, len(new_rows), dead,
        )
        return VectorIndex(graph.index, "hnsw", config, id_rows=np.concatenate([id_rows, new_rows]))


def assemble_vectors(
    path: Path, parts: Sequence[VectorPart], live: LiveVersion | None, dim: int
) -> np.ndarray:
    """Write ``parts`` in order as one float32 ``.npy`` file; returns it memory-mapped."""
    rows = sum(p[1] if isinstance(p, tuple) else len(p) for p in parts)
    out = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(rows, dim))
    row = 0
    for part in parts:
        if isinstance(part, tuple):
            start, n = part
            out[row : row + n] = live.vectors[start : start + n]
        else:
            n = len(part)
            out[row : row + n] = part
        row += n
    out.flush()
    return out
