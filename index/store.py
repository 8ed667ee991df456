"""On-disk layout of an index directory and atomic publishing of versions.

::

    DIR/
      CURRENT                  name of the live version, e.g. "v000003\\n"
      .lock                    writer lock (pid of the holder)
      versions/
        v000002/               an older version, kept for readers that still use it
        v000003/               manifest.json, vectors.npy, [vectors.faiss], bm25/,
                               chunks.sqlite
        .building-<uuid>/      a version being written (never read)

A version is built in a ``.building-*`` directory, every file is fsynced, the directory
is renamed to its version name, and only then is ``CURRENT`` replaced (temp file, fsync,
``os.replace``, fsync of ``DIR``). A crash at any point leaves the previous ``CURRENT``
and its version intact; the next writer removes whatever the crash left behind.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import uuid
from pathlib import Path

logger = logging.getLogger(__name__)

CURRENT_FILE = "CURRENT"
VERSIONS_DIR = "versions"
BUILDING_PREFIX = ".building-"
VECTORS_FILE = "vectors.npy"  # float32 (n_chunks, dim): the source of truth for vectors
BM25_DIR = "bm25"
_VERSION_RE = re.compile(r"^v(\d{6,})$")


def fsync_dir(path: Path) -> None:
    """Make a directory's entries (creations, renames) durable."""
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(root: Path) -> None:
    """fsync every file and directory under ``root`` (bottom-up), then ``root`` itself."""
    for folder, _dirs, files in os.walk(root, topdown=False):
        for name in files:
            fd = os.open(os.path.join(folder, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        fsync_dir(Path(folder))


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
    directory must be done by the holder of the writer lock.
    """

    def __init__(self, index_dir: Path) -> None:
        self.root = Path(index_dir)
        self.versions_dir = self.root / VERSIONS_DIR
        self.current_path = self.root / CURRENT_FILE

    def current(self) -> str | None:
        """The live version's name, or None when nothing was ever published."""
        try:
            name = self.current_path.read_text(encoding="ascii").strip()
        except FileNotFoundError:
            return None
        if not _VERSION_RE.match(name):
            raise ValueError(f"{self.current_path} names no valid version: {name!r}")
        return name

    def version_dir(self, name: str) -> Path:
        return self.versions_dir / name

    def versions(self) -> list[str]:
        """Names of the version directories on disk, oldest first."""
        if not self.versions_dir.is_dir():
            return []
        names = [p.name for p in self.versions_dir.iterdir() if _VERSION_RE.match(p.name)]
        return sorted(names, key=_number)

    def next_version(self) -> str:
        numbers = [_number(n) for n in self.versions()]
        live = self.current()
        if live:
            numbers.append(_number(live))
        return f"v{max(numbers, default=0) + 1:06d}"

    def new_build_dir(self) -> Path:
        self.versions_dir.mkdir(parents=True, exist_ok=True)
        path = self.versions_dir / f"{BUILDING_PREFIX}{uuid.uuid4().hex}"
        path.mkdir()
        return path

    def publish(self, build_dir: Path, name: str) -> Path:
        """Make ``build_dir`` the live version ``name``; durable once this returns."""
        fsync_tree(build_dir)
        final = self.version_dir(name)
        os.rename(build_dir, final)
        fsync_dir(self.versions_dir)
        self._write_current(name)
        logger.info("published %s at %s", name, self.root)
        return final

    def _write_current(self, name: str) -> None:
        tmp = self.root / f"{CURRENT_FILE}.tmp-{uuid.uuid4().hex}"
        with open(tmp, "w", encoding="ascii") as fh:
            fh.write(name + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self.current_path)
        fsync_dir(self.root)

    def prune(self, keep_versions: int) -> list[str]:
        """Delete versions older than the live one beyond the newest ``keep_versions``."""
        live = self.current()
        if live is None:
            return []
        older = [n for n in self.versions() if _number(n) < _number(live)]
        doomed = older[: max(0, len(older) - keep_versions)]
        for name in doomed:
            shutil.rmtree(self.version_dir(name), ignore_errors=True)
            logger.info("pruned version %s", name)
        return doomed

    def clean_leftovers(self) -> list[str]:
        """Remove what interrupted writers left: partial builds, temp files, and versions
        renamed into place whose ``CURRENT`` update never happened."""
        removed: list[str] = []
        for tmp in self.root.glob(f"{CURRENT_FILE}.tmp-*"):
            tmp.unlink(missing_ok=True)
            removed.append(tmp.name)
        if not self.versions_dir.is_dir():
            return removed
        live = self.current()
        for path in self.versions_dir.iterdir():
            unpublished = _VERSION_RE.match(path.name) and (
                live is None or _number(path.name) > _number(live)
            )
            if path.name.startswith(BUILDING_PREFIX) or unpublished:
                shutil.rmtree(path, ignore_errors=True)
                removed.append(path.name)
        if removed:
            logger.warning("removed leftovers of an interrupted write: %s", ", ".join(removed))
        return removed


def _number(name: str) -> int:
    match = _VERSION_RE.match(name)
    if match is None:
        raise ValueError(f"not a version name: {name!r}")
    return int(match.group(1))
