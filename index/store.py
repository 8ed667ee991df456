"""On-disk layout of an index directory and atomic publishing of versions.

::

    DIR/
      CURRENT                  name of the live version, e.g. "v000003\\n"
      .lock                    writer lock (pid of the holder)
      versions/
        v000002/               an older version, kept for readers that still use it
        v000003/               manifest.json, vectors.npy, [vectors.faiss], bm25/,
                               chunks.sqlite, [doc_metadata.json]
        .building-<pid>-<hex>/ a version being written (never read)

The versions are a ``core.artifacts.VersionStore`` (``v`` + 6 digits): a version is
built in a ``.building-*`` directory, every file is fsynced, the directory is renamed to
its version name, and only then is ``CURRENT`` replaced (``write_atomic``: temp file,
fsync, ``os.replace``, fsync of ``DIR``). A crash at any point leaves the previous
``CURRENT`` and its version intact; the next writer removes whatever the crash left.
"""

from __future__ import annotations

import logging
import os
import shutil
from pathlib import Path

from core.artifacts import (
    INDEX_VERSIONS,
    StoreLock,
    StoreLockedError,
    VersionStore,
    write_atomic,
)
from core.errors import IndexLockedError, IndexNotFoundError

logger = logging.getLogger(__name__)

CURRENT_FILE = "CURRENT"
VERSIONS_DIR = "versions"
LOCK_FILE = ".lock"
BUILDING_PREFIX = ".building-"
VECTORS_FILE = "vectors.npy"  # float32 (n_chunks, dim): the source of truth for vectors
BM25_DIR = "bm25"
# The metadata-file rules the version was built with (``ingest.metadata_file``), reused by
# the next ingest that is given none.
DOC_METADATA_FILE = "doc_metadata.json"
VERSION_FORMAT = INDEX_VERSIONS


def dir_size(path: Path) -> int:
    """Total bytes of the files under ``path`` (0 if it vanished meanwhile)."""
    total = 0
    for folder, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.stat(os.path.join(folder, name)).st_size
            except FileNotFoundError:
                continue
    return total


class IndexStore:
    """Paths and version bookkeeping for one index directory.

    Reading (``current``, ``versions``) is safe at any time; everything that changes the
    directory must be done by the holder of the writer lock (``acquire_lock``).
    """

    def __init__(self, index_dir: Path) -> None:
        self.root = Path(index_dir)
        self.versions_dir = self.root / VERSIONS_DIR
        self.current_path = self.root / CURRENT_FILE
        self.lock_path = self.root / LOCK_FILE
        self._versions = VersionStore(
            self.versions_dir, VERSION_FORMAT, BUILDING_PREFIX, lock_path=self.lock_path
        )

    def foreign_files(self) -> list[str]:
        """Names in ``root`` when it holds files but no index (no ``CURRENT``, no versions):
        a folder of something else (``--index docs``), which an ingest must not fill."""
        if not self.root.is_dir() or self.current_path.exists() or self.versions_dir.exists():
            return []
        return sorted(p.name for p in self.root.iterdir() if p.name != LOCK_FILE)

    def acquire_lock(self, timeout: float = 0.0) -> StoreLock:
        """Take the index's writer lock, waiting up to ``timeout`` seconds (0: fail at
        once); release it with ``.release()``. Raises ``IndexLockedError`` naming the
        holder's pid when another writer keeps it."""
        lock = self._versions.lock(timeout)
        try:
            lock.acquire()
        except StoreLockedError as exc:
            who = f"process {exc.holder}" if exc.holder else "another process"
            raise IndexLockedError(
                f"index {self.root} is locked by {who} (another ingest is writing it); "
                "wait for it to finish or retry with a longer wait"
            ) from None
        return lock

    def current(self) -> str | None:
        """The live version's name, or None when nothing was ever published.

        Raises ``IndexNotFoundError`` when ``root`` is not a directory or ``CURRENT``
        cannot be read or names no version (a damaged index: nothing is changed)."""
        if self.root.exists() and not self.root.is_dir():
            raise IndexNotFoundError(f"{self.root} is a file, not an index directory")
        try:
            name = self.current_path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        except (OSError, UnicodeDecodeError) as exc:
            raise IndexNotFoundError(f"index {self.root}: cannot read {CURRENT_FILE} ({exc})"
                                     ) from exc
        if VERSION_FORMAT.number(name) is None:
            raise IndexNotFoundError(
                f"index {self.root}: {self.current_path} names no valid version ({name!r}); "
                f"write the name of a version under {self.versions_dir} into it, or "
                "re-create the index")
        return name

    def version_dir(self, name: str) -> Path:
        return self.versions_dir / name

    def versions(self) -> list[str]:
        """Names of the version directories on disk, oldest first."""
        return [VERSION_FORMAT.name(n) for n in self._versions.numbers()]

    def next_version(self) -> str:
        live = self.current()
        floor = _number(live) if live else 0
        return VERSION_FORMAT.name(self._versions.next_number(floor))

    def new_build_dir(self) -> Path:
        return self._versions.new_temp()

    def publish(self, build_dir: Path, name: str) -> Path:
        """Make ``build_dir`` the live version ``name``; durable once this returns."""
        final = self._versions.publish(build_dir, _number(name))
        self._write_current(name)
        logger.info("published %s at %s", name, self.root)
        return final

    def _write_current(self, name: str) -> None:
        write_atomic(self.current_path, name + "\n")

    def prune(self, keep_versions: int) -> list[str]:
        """Delete versions older than the live one beyond the newest ``keep_versions``."""
        live = self.current()
        if live is None:
            return []
        doomed = self._versions.prune(keep_versions, below=_number(live))
        return [VERSION_FORMAT.name(n) for n in doomed]

    def clean_leftovers(self) -> list[str]:
        """Remove what interrupted writers left: partial builds, temp files, and versions
        renamed into place whose ``CURRENT`` update never happened. Only the lock holder
        builds, so every ``.building-*`` directory is a dead writer's."""
        removed: list[str] = []
        for tmp in self.root.glob(f"{CURRENT_FILE}.tmp-*"):
            tmp.unlink(missing_ok=True)
            removed.append(tmp.name)
        removed += self._versions.clean_temps(dead_only=False)
        live = self.current()
        for number in self._versions.numbers():
            if live is None or number > _number(live):
                shutil.rmtree(self._versions.path(number), ignore_errors=True)
                removed.append(VERSION_FORMAT.name(number))
        if removed:
            logger.warning("removed leftovers of an interrupted write: %s", ", ".join(removed))
        return removed


def _number(name: str) -> int:
    number = VERSION_FORMAT.number(name)
    if number is None:
        raise ValueError(f"not a version name: {name!r}")
    return number
