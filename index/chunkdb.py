"""Chunk text and document records in one SQLite file per index version.

``chunks.row`` is the chunk's position in ``vectors.npy`` and in the BM25 index. Each
document's chunks occupy the contiguous rows ``row_start .. row_start + n_chunks - 1``,
which is what lets the next version copy a kept document with one ``INSERT ... SELECT``
and one slice of the vector array.

Version metadata (effective date, status, family, and a JSON ``meta`` with what the file
states) lives on the ``documents`` row only, so demoting a document rewrites one row and
no chunk. Databases written before these columns existed open with them read as unknown.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from core.errors import IndexMismatchError
from index.records import DocRecord
from ingest.records import Chunk
from ingest.versions import VersionInfo

logger = logging.getLogger(__name__)

DB_FILE = "chunks.sqlite"
_SCHEMA = """
CREATE TABLE documents (
    doc_id TEXT NOT NULL, source TEXT PRIMARY KEY, content_hash TEXT NOT NULL,
    size INTEGER NOT NULL, mtime REAL NOT NULL, n_chunks INTEGER NOT NULL,
    title TEXT NOT NULL, row_start INTEGER NOT NULL,
    effective_date TEXT, status TEXT NOT NULL DEFAULT 'unknown',
    family TEXT NOT NULL DEFAULT '', meta TEXT
);
CREATE TABLE chunks (
    row INTEGER PRIMARY KEY, chunk_id TEXT NOT NULL UNIQUE, doc_id TEXT NOT NULL,
    source TEXT NOT NULL, text TEXT NOT NULL, start INTEGER NOT NULL, "end" INTEGER NOT NULL,
    page_index INTEGER, page_label TEXT, heading TEXT NOT NULL, title TEXT NOT NULL
);
"""


@dataclass(frozen=True)
class StoredDocument:
    """A document record plus where its chunks start in the version's row order."""

    record: DocRecord
    row_start: int


_DOC_COLUMNS = ("doc_id", "source", "content_hash", "size", "mtime", "n_chunks", "title",
                "row_start", "effective_date", "status", "family", "meta")
_VERSION_COLUMNS = ("effective_date", "status", "family", "meta")


def _doc_row(d: StoredDocument) -> tuple:
    r = d.record
    meta = {"superseded_by": r.superseded_by, "access": list(r.access),
            "version_info": r.version_info.to_json() if r.version_info else None,
            "parse": r.parse, "version": r.version}
    return (r.doc_id, r.source, r.content_hash, r.size, r.mtime, r.n_chunks, r.title,
            d.row_start, r.effective_date, r.status, r.family, json.dumps(meta))


def _doc_from_row(row: Sequence) -> StoredDocument:
    """A documents row (``_DOC_COLUMNS`` order; the version columns may be None)."""
    effective, status, family, meta_text = row[8:12]
    meta = json.loads(meta_text) if meta_text else {}
    info = meta.get("version_info")
    record = DocRecord(
        *row[:7], effective_date=effective, status=status or "unknown", family=family or "",
        superseded_by=meta.get("superseded_by"), access=tuple(meta.get("access") or ()),
        version_info=VersionInfo.from_json(info) if info else None,
        parse=meta.get("parse") or "", version=meta.get("version"),
    )
    return StoredDocument(record, row[7])


def _chunk_from_row(row: Sequence, doc: DocRecord | None = None) -> Chunk:
    return Chunk(
        chunk_id=row[0], doc_id=row[1], source=row[2], text=row[3], start=row[4], end=row[5],
        page_index=row[6], page_label=row[7], heading=tuple(json.loads(row[8])), title=row[9],
        effective_date=doc.effective_date if doc else None,
        status=doc.status if doc else "unknown", family=doc.family if doc else "",
    )


class ChunkDBWriter:
    """Builds a new version's database; can copy kept documents from the previous one."""

    def __init__(self, path: Path, previous: Path | None = None) -> None:
        self.path = path
        self.conn = sqlite3.connect(str(path), isolation_level=None)
        # The file is fsynced and published by the writer; SQLite's own durability
        # machinery would only slow the build down.
        self.conn.execute("PRAGMA journal_mode=OFF")
        self.conn.execute("PRAGMA synchronous=OFF")
        self.conn.executescript(_SCHEMA)
        if previous is not None:
            self.conn.execute("ATTACH DATABASE ? AS old", (f"file:{previous}?mode=ro",))
        self.conn.execute("BEGIN")

    def add_chunks(self, row_start: int, chunks: Sequence[Chunk]) -> None:
        """Insert ``chunks`` at rows ``row_start, row_start + 1, ...``.

        All or nothing: a chunk id that is already in the new version raises ``ValueError``
        and inserts none of them.
        """
        self._atomic(
            lambda: self.conn.executemany(
                'INSERT INTO chunks (row, chunk_id, doc_id, source, text, start, "end", '
                "page_index, page_label, heading, title) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    (row_start + i, c.chunk_id, c.doc_id, c.source, c.text, c.start, c.end,
                     c.page_index, c.page_label, json.dumps(list(c.heading)), c.title)
                    for i, c in enumerate(chunks)
                ),
            )
        )

    def copy_chunks(self, old_start: int, n: int, new_start: int) -> None:
        """Copy rows ``old_start .. old_start + n - 1`` of the previous version, renumbered."""
        self._atomic(
            lambda: self.conn.execute(
                'INSERT INTO chunks (row, chunk_id, doc_id, source, text, start, "end", '
                "page_index, page_label, heading, title) SELECT row - ? + ?, chunk_id, doc_id, "
                'source, text, start, "end", page_index, page_label, heading, title '
                "FROM old.chunks WHERE row >= ? AND row < ?",
                (old_start, new_start, old_start, old_start + n),
            )
        )

    def _atomic(self, action) -> None:
        self.conn.execute("SAVEPOINT chunks_batch")
        try:
            action()
        except sqlite3.IntegrityError as exc:
            self.conn.execute("ROLLBACK TO chunks_batch")
            self.conn.execute("RELEASE chunks_batch")
            raise ValueError(f"chunk id already in this index version ({exc})") from exc
        self.conn.execute("RELEASE chunks_batch")

    def add_documents(self, docs: Iterable[StoredDocument]) -> None:
        self.conn.executemany(
            f"INSERT INTO documents ({', '.join(_DOC_COLUMNS)}) "
            f"VALUES ({', '.join('?' * len(_DOC_COLUMNS))})",
            (_doc_row(d) for d in docs),
        )

    def texts(self, batch: int = 10_000) -> Iterable[list[tuple[str, str, tuple[str, ...]]]]:
        """``(title, text, heading)`` of every chunk in row order, in batches (for BM25)."""
        cursor = self.conn.execute("SELECT title, text, heading FROM chunks ORDER BY row")
        while rows := cursor.fetchmany(batch):
            yield [(title, text, tuple(json.loads(heading))) for title, text, heading in rows]

    def close(self) -> None:
        """Commit and close; the file is complete afterwards."""
        self.conn.execute("COMMIT")
        if any(row[1] == "old" for row in self.conn.execute("PRAGMA database_list")):
            self.conn.execute("DETACH DATABASE old")
        self.conn.close()

    def abort(self) -> None:
        try:
            self.conn.close()
        except sqlite3.Error as exc:  # closing a broken build must not hide the first error
            logger.debug("closing aborted chunk db: %s", exc)


class ChunkDB:
    """Read-only access to one version's chunks; safe to share between threads.

    The file never changes once published, so it is opened ``immutable`` (no locking,
    no journal) through one connection guarded by a lock. The open connection keeps
    working even after the version is pruned from disk. Raises ``FileNotFoundError`` for a
    missing file, ``IndexMismatchError`` for one that is not a chunk database.
    """

    def __init__(self, path: Path) -> None:
        if not path.is_file():
            raise FileNotFoundError(path)
        self.path = path
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False
        )
        try:
            self._conn.execute("SELECT 1 FROM documents LIMIT 1").fetchall()
        except sqlite3.DatabaseError as exc:  # damaged, or some other file
            self._conn.close()
            raise IndexMismatchError(
                f"{path}: not an index's chunk database ({exc}); this index version is "
                "damaged: ingest into a new index directory") from exc
        self._docs: dict[str, DocRecord] | None = None

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def documents(self) -> list[StoredDocument]:
        """Every document, in row order (version fields unknown in an older database)."""
        with self._lock:
            present = {r[1] for r in self._conn.execute("PRAGMA table_info(documents)")}
            columns = [c if c in present or c not in _VERSION_COLUMNS else "NULL"
                       for c in _DOC_COLUMNS]
            rows = self._conn.execute(
                f"SELECT {', '.join(columns)} FROM documents ORDER BY row_start, source"
            ).fetchall()
        return [_doc_from_row(r) for r in rows]

    def count_chunks(self) -> int:
        with self._lock:
            return int(self._conn.execute("SELECT COUNT(*) FROM chunks").fetchone()[0])

    def chunks(self, rows: Sequence[int]) -> dict[int, Chunk]:
        """The chunks at ``rows`` (missing rows are simply absent from the result)."""
        wanted = sorted({int(r) for r in rows})
        found: dict[int, Chunk] = {}
        if self._docs is None:
            self._docs = {d.record.source: d.record for d in self.documents()}
        with self._lock:
            for i in range(0, len(wanted), 500):
                part = wanted[i : i + 500]
                marks = ",".join("?" * len(part))
                for row in self._conn.execute(
                    f'SELECT row, chunk_id, doc_id, source, text, start, "end", page_index, '
                    f"page_label, heading, title FROM chunks WHERE row IN ({marks})",
                    part,
                ):
                    found[row[0]] = _chunk_from_row(row[1:], self._docs.get(row[3]))
        return found
