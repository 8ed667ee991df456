"""Write a new index version: keep unchanged documents, add new ones, publish atomically.

One writer at a time holds the directory's lock from ``open`` to ``commit``/``abort``.
Rows are assigned in call order: each ``keep_document`` or ``add_document`` appends its
document's chunks as one contiguous block. A kept document is carried over without
re-embedding or re-tokenizing: one ``INSERT ... SELECT`` from the previous SQLite file,
one slice of the previous ``vectors.npy`` and one slice of its BM25 term counts (runs
of consecutive kept documents are copied together). BM25 scores are recomputed from the
counts with numpy; an HNSW graph is updated, an IVF quantizer reused (see ``carry``).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from core.artifacts import StoreLock
from core.errors import ConfigError
from index.analysis import TermCounts, Vocabulary
from index.bm25 import BM25Config, BM25Index
from index.carry import LiveVersion, VectorPart, assemble_vectors
from index.chunkdb import DB_FILE, ChunkDBWriter, StoredDocument
from index.manifest import CommitStats, Manifest, check_embedder, corpus_hash
from index.records import DocRecord
from index.store import BM25_DIR, DOC_METADATA_FILE, VECTORS_FILE, IndexStore
from index.vectors import VectorIndex, VectorIndexConfig, effective_kind, resolve_device
from ingest.embedding import EmbedderInfo
from ingest.records import Chunk

logger = logging.getLogger(__name__)


class IndexWriter:
    """Builds the next version of the index at ``index_dir``; use ``IndexWriter.open``."""

    def __init__(
        self,
        store: IndexStore,
        lock: StoreLock,
        embedder: EmbedderInfo,
        vector_config: VectorIndexConfig,
        bm25_config: BM25Config,
        previous: LiveVersion | None,
        keep_versions: int,
    ) -> None:
        self.store, self._lock, self.embedder = store, lock, embedder
        self.vector_config, self.bm25_config = vector_config, bm25_config
        self.keep_versions = keep_versions
        self._previous = previous
        self._build_dir = store.new_build_dir()
        old_db = previous.dir / DB_FILE if previous else None
        self._db = ChunkDBWriter(self._build_dir / DB_FILE, old_db)
        self._docs: list[StoredDocument] = []
        self._seen: set[str] = set()
        self._vector_parts: list[VectorPart] = []
        self._term_parts: list[TermCounts] = []
        self._vocab: Vocabulary | None = None
        self._analyzer = bm25_config.analyzer()
        self._retokenize = previous is not None and not bm25_config.same_analysis(
            previous.manifest.bm25
        )
        self._rows = 0
        self._kept_run: list[int] | None = None  # [old start, n, new start] not yet copied
        self._failure: BaseException | None = None
        self._stats = {"kept": 0, "added": 0, "updated": 0}
        self.metadata_rules: dict | None = None  # stored with the version when set
        self._open = True

    @classmethod
    def open(
        cls,
        index_dir: Path,
        embedder: EmbedderInfo,
        vector_config: VectorIndexConfig | None = None,
        bm25_config: BM25Config | None = None,
        lock_timeout: float = 0.0,
        keep_versions: int = 2,
    ) -> IndexWriter:
        """Lock ``index_dir`` (created if new) and start a version on top of the live one.

        ``None`` configs reuse the live version's (defaults for a new index). Raises
        ``IndexLockedError`` if another writer holds the lock after ``lock_timeout``
        seconds, ``IndexMismatchError`` if the live version was built by another
        embedder, ``ConfigError`` for a GPU request without a GPU or an ``index_dir`` that
        cannot be a directory or holds other files and no index, ``IndexNotFoundError`` for
        a damaged ``CURRENT``.
        """
        if not 0 <= keep_versions <= 1000:
            raise ValueError(f"keep_versions must be in 0..1000, got {keep_versions}")
        store = IndexStore(Path(index_dir))
        if store.root.exists() and not store.root.is_dir():
            raise ConfigError(f"{store.root} is a file, not an index directory")
        if foreign := store.foreign_files():
            shown = ", ".join(foreign[:3]) + (", ..." if len(foreign) > 3 else "")
            raise ConfigError(f"{store.root} holds other files ({shown}) and no index: give "
                              "--index a new or empty directory, or an existing index")
        try:
            store.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:  # a file above it, no permission
            raise ConfigError(f"cannot use {store.root} as an index directory: "
                              f"{exc.strerror or exc}") from exc
        lock = store.acquire_lock(lock_timeout)
        try:
            store.clean_leftovers()
            live = store.current()
            previous = LiveVersion(store, live) if live else None
            if previous is not None:
                check_embedder(previous.manifest, embedder, store.root)
            vector_config = vector_config or (
                previous.manifest.vector_config if previous else VectorIndexConfig()
            )
            if bm25_config is None and previous is not None:
                bm25_config = previous.manifest.bm25
                if bm25_config.include_heading is None:  # built before headings were indexed
                    bm25_config = dataclasses.replace(bm25_config, include_heading=True)
                if bm25_config.split_identifiers is None:  # built before identifiers were split
                    bm25_config = dataclasses.replace(bm25_config, split_identifiers=True)
            bm25_config = bm25_config or BM25Config()
            resolve_device(vector_config)
            return cls(store, lock, embedder, vector_config, bm25_config, previous, keep_versions)
        except BaseException:
            lock.release()
            raise

    def __enter__(self) -> IndexWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if self._open:
            if exc_type is None:
                logger.warning("index writer left without commit(): aborting the new version")
            self.abort()

    def previous_documents(self) -> dict[str, DocRecord]:
        """The live version's documents keyed by source (empty for a new index)."""
        if self._previous is None:
            return {}
        return {source: d.record for source, d in self._previous.docs.items()}

    def previous_metadata_rules(self) -> dict | None:
        """The metadata-file rules the live version was built with, if it stored any."""
        return self._previous.metadata_rules() if self._previous is not None else None

    def keep_document(self, source: str, record: DocRecord | None = None) -> None:
        """Carry ``source`` over from the live version (no re-embedding, chunks as they are).

        ``record`` replaces its document record, to change what only the record holds
        (status, family, effective date, ...); it must describe the same file (source,
        doc_id, content hash and chunk count). Raises ``KeyError`` if the live version has
        no such document and ``ValueError`` for another file's record or if ``source`` was
        already kept or added in this writer.
        """
        self._check_open()
        old = self._previous.docs.get(source) if self._previous else None
        if old is None:
            raise KeyError(f"keep_document: {source!r} is not in the live version")
        if record is not None:
            fields = ("source", "doc_id", "content_hash", "n_chunks")
            if any(getattr(record, f) != getattr(old.record, f) for f in fields):
                raise ValueError(
                    f"keep_document({source!r}): the record given is not the live version's "
                    f"file (it must have the same {', '.join(fields)})"
                )
        self._claim(source)
        n = old.record.n_chunks
        run = self._kept_run
        if run is not None and run[0] + run[1] == old.row_start:
            run[1] += n  # continues the previous kept run: copied together later
        else:
            self._copy_kept_run()
            self._kept_run = [old.row_start, n, self._rows]
        self._docs.append(StoredDocument(record or old.record, self._rows))
        self._rows += n
        self._stats["kept"] += 1

    def add_document(self, doc: DocRecord, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Add ``doc`` with its ``chunks`` and their ``vectors`` (float32 (len(chunks), dim)).

        Replaces a live document with the same source. Raises ``ValueError`` for vectors
        of the wrong shape or with NaN/inf, chunks of another document, duplicate chunk
        ids, or a source already kept or added in this writer; nothing is added then.
        """
        self._check_open()
        vectors = self._check_document(doc, chunks, vectors)
        self._copy_kept_run()
        self._claim(doc.source)
        try:
            self._db.add_chunks(self._rows, chunks)
        except Exception:
            self._seen.discard(doc.source)
            raise
        self._vector_parts.append(vectors)
        if not self._retokenize:
            texts = [self.bm25_config.document_text(c.title, c.text, c.heading)
                     for c in chunks]
            self._term_parts.append(self._analyzer.count(texts, self._vocabulary()))
        record = dataclasses.replace(doc, n_chunks=len(chunks))
        self._docs.append(StoredDocument(record, self._rows))
        self._rows += len(chunks)
        replaced = self._previous is not None and doc.source in self._previous.docs
        self._stats["updated" if replaced else "added"] += 1

    def same_as_live(self) -> bool:
        """Whether the version being built would be the live one again: every live document
        kept with the same record, nothing added or updated, the same vector and BM25
        settings and metadata rules (``ingest`` then publishes nothing)."""
        live = self._previous
        if live is None or self._retokenize or self._stats["added"] or self._stats["updated"]:
            return False
        if self._seen != set(live.docs) or any(
                d.record != live.docs[d.record.source].record for d in self._docs):
            return False
        return (self.vector_config == live.manifest.vector_config
                and self.bm25_config == live.manifest.bm25
                and self.metadata_rules == live.metadata_rules())

    def live_manifest(self) -> Manifest | None:
        """The manifest of the version this writer builds on (None for a new index)."""
        return self._previous.manifest if self._previous is not None else None

    def commit(self) -> Manifest:
        """Write, publish and return the new version's manifest; releases the lock.

        Documents of the live version that were neither kept nor added are dropped. On
        any error the partial build is removed, the live version stays as it was, and
        the error propagates.
        """
        self._check_open()
        clock = time.perf_counter()
        try:
            manifest = self._build(clock)
            self.store.publish(self._build_dir, manifest.version)
            self.store.prune(self.keep_versions)
        except BaseException:
            self.abort()
            raise
        self._open = False
        self._lock.release()
        logger.info(
            "index %s: %s (%d docs, %d chunks) in %.2fs", self.store.root, manifest.version,
            manifest.n_docs, manifest.n_chunks, time.perf_counter() - clock,
        )
        return manifest

    def abort(self) -> None:
        """Drop the version being built and release the lock (idempotent)."""
        if not self._open:
            return
        self._open = False
        try:
            self._db.abort()
            shutil.rmtree(self._build_dir, ignore_errors=True)
        finally:
            self._lock.release()

    # -- internals ---------------------------------------------------------------

    def _copy_kept_run(self) -> None:
        """Copy the pending run of kept documents: one SQL statement, one slice each.

        Consecutive kept documents that were consecutive in the live version too (the
        usual case: both follow the same file order) are copied as one block.
        """
        if self._kept_run is None:
            return
        (start, n, new_start), self._kept_run = self._kept_run, None
        try:
            self._db.copy_chunks(start, n, new_start)
        except ValueError as exc:
            self._failure = exc  # rows and documents no longer agree: only abort() remains
            raise
        self._vector_parts.append((start, n))
        if not self._retokenize:
            self._term_parts.append(self._previous.terms[1].slice(start, start + n))

    def _build(self, clock: float) -> Manifest:
        previous = self._previous
        self._copy_kept_run()
        removed = sum(s not in self._seen for s in previous.docs) if previous else 0
        self._db.add_documents(self._docs)
        if self._retokenize:
            logger.info("BM25 analysis changed: re-tokenizing every chunk")
            self._vocab = Vocabulary()
            self._term_parts = [
                self._analyzer.count(
                    [self.bm25_config.document_text(t, x, h) for t, x, h in batch],
                    self._vocab,
                )
                for batch in self._db.texts()
            ]
        self._db.close()

        parts, self._vector_parts = self._vector_parts, []
        vectors = assemble_vectors(  # (n_chunks, dim), memory-mapped
            self._build_dir / VECTORS_FILE, parts, previous, self.embedder.dim
        )
        kind = effective_kind(self.vector_config, len(vectors))
        if kind != self.vector_config.kind:
            logger.warning(
                "too few vectors (%d) to train IVF: building a flat index instead", len(vectors)
            )
        if kind != "flat":  # flat indexes are rebuilt from vectors.npy when opened
            config, index = self.vector_config, None
            if previous is not None:  # update the live HNSW graph, or reuse its IVF quantizer
                index = previous.updated_hnsw(config, parts, vectors)
            if index is None:
                trained = previous.trained_ivf(config, len(vectors)) if previous else None
                index = VectorIndex.build(np.asarray(vectors), config, trained)
            index.save(self._build_dir)
        del vectors, parts

        counts = TermCounts.concat(self._term_parts)
        vocab = self._vocabulary()
        df = np.bincount(counts.terms, minlength=len(vocab))
        if len(vocab) > 1000 and np.count_nonzero(df) < len(vocab) // 2:
            counts, vocab = counts.compacted(vocab)  # most terms died with removed documents
        bm25 = BM25Index.build(counts, vocab, self.bm25_config)
        bm25.save(self._build_dir / BM25_DIR, vocab, counts)

        if self.metadata_rules is not None:
            (self._build_dir / DOC_METADATA_FILE).write_text(
                json.dumps(self.metadata_rules, indent=2) + "\n", encoding="utf-8"
            )
        stats = CommitStats(removed=removed, seconds=time.perf_counter() - clock, **self._stats)
        manifest = Manifest(
            version=self.store.next_version(),
            embedder=self.embedder,
            vector_config=self.vector_config,
            vector_kind=kind,
            bm25=self.bm25_config,
            n_docs=len(self._docs),
            n_chunks=self._rows,
            corpus_hash=corpus_hash((d.record.source, d.record.content_hash) for d in self._docs),
            parent=previous.name if previous else None,
            stats=stats,
        )
        manifest.save(self._build_dir)
        return manifest

    def _check_open(self) -> None:
        if not self._open:
            raise RuntimeError(f"index writer for {self.store.root} is closed (committed/aborted)")
        if self._failure is not None:
            raise RuntimeError(
                f"index writer for {self.store.root} failed ({self._failure}); abort it"
            )

    def _claim(self, source: str) -> None:
        if source in self._seen:
            raise ValueError(f"document {source!r} was already kept or added in this writer")
        self._seen.add(source)

    def _check_document(
        self, doc: DocRecord, chunks: Sequence[Chunk], vectors: np.ndarray
    ) -> np.ndarray:
        where = f"add_document({doc.source!r})"
        vectors = np.asarray(vectors)
        expected = (len(chunks), self.embedder.dim)
        if vectors.shape != expected and not (len(chunks) == 0 and vectors.size == 0):
            raise ValueError(
                f"{where}: vectors have shape {vectors.shape}, expected {expected} "
                f"(one {self.embedder.dim}-dim row per chunk for embedder {self.embedder.model_id})"
            )
        vectors = np.ascontiguousarray(vectors.reshape(expected), dtype=np.float32)
        if not np.isfinite(vectors).all():
            raise ValueError(f"{where}: vectors contain NaN or infinity")
        ids = [c.chunk_id for c in chunks]
        if len(set(ids)) != len(ids):
            raise ValueError(f"{where}: duplicate chunk ids within the document")
        for chunk in chunks:
            if chunk.source != doc.source or chunk.doc_id != doc.doc_id:
                raise ValueError(
                    f"{where}: chunk {chunk.chunk_id!r} belongs to {chunk.source!r} "
                    f"(doc_id {chunk.doc_id!r}), not to this document (doc_id {doc.doc_id!r})"
                )
        if self.embedder.normalized and len(vectors):
            norms = np.linalg.norm(vectors, axis=1)
            if np.abs(norms - 1.0).max() > 1e-2:
                logger.warning("%s: vectors are not unit length but the embedder is", where)
        return vectors

    def _vocabulary(self) -> Vocabulary:
        if self._vocab is None:
            if self._previous is not None and not self._retokenize:
                self._vocab = self._previous.terms[0]
            else:
                self._vocab = Vocabulary()
        return self._vocab
