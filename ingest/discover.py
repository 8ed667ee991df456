"""Finding the files to ingest under the paths a user gives.

Sources (the names citations show) are cwd-independent so that a document keeps its
``doc_id`` wherever the command runs: a file under a directory argument is named by its
POSIX path relative to that directory (``policies/returns.md``); a file argument is
named by its file name (``returns.md``). Two different files that end up with the same
source (same relative path under two roots) cannot share a ``doc_id``: the second is
skipped with a reason saying so.

Directories are walked in sorted order. Symlinked directories are walked after the real
tree, so a file reachable both directly and through a link is indexed under its real
path, once. Every real directory is walked at most once, so the walk always ends.
"""

from __future__ import annotations

import errno
import logging
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError

logger = logging.getLogger(__name__)

SUPPORTED_SUFFIXES = frozenset({".pdf", ".html", ".htm", ".md", ".markdown", ".txt"})
_MAX_FILE_BYTES_LIMIT = 2**40


@dataclass(frozen=True)
class FileEntry:
    """A file to load: where it is, its source name, size in bytes and mtime (epoch s)."""

    path: Path
    source: str
    size: int
    mtime: float


@dataclass(frozen=True)
class Skipped:
    """A file or directory left out of ingestion, and why.

    ``kind`` says what an index keeps of what was indexed there before: ``file`` (the
    document named ``source``), ``directory`` (the documents under ``source/``) or
    ``duplicate`` (nothing: the file is indexed under another name).
    """

    source: str
    reason: str
    kind: str = "file"


@dataclass(frozen=True)
class DiscoverConfig:
    """What discovery accepts. ``max_file_bytes`` is in 1..2**40."""

    max_file_bytes: int = 50 * 2**20
    follow_symlinks: bool = True
    include_hidden: bool = False

    def __post_init__(self) -> None:
        size = self.max_file_bytes
        if isinstance(size, bool) or not isinstance(size, int) \
                or not 1 <= size <= _MAX_FILE_BYTES_LIMIT:
            raise ConfigError(
                f"discover.max_file_bytes must be an int in 1..{_MAX_FILE_BYTES_LIMIT}, "
                f"got {size!r}"
            )
        for name in ("follow_symlinks", "include_hidden"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(
                    f"discover.{name} must be true or false, got {getattr(self, name)!r}"
                )


def discover(
    paths: Sequence[Path], config: DiscoverConfig
) -> tuple[list[FileEntry], list[Skipped]]:
    """Expand files and directories into loadable files plus the ones left out.

    Entries come in argument order, sorted by source within each argument. Skipped
    holds unsupported types, files over ``max_file_bytes``, symlink loops, broken
    symlinks, unreadable files and duplicates, each with a reason. Hidden names (``.x``)
    below a directory argument are left out silently unless ``include_hidden``.
    Raises ``ConfigError`` when a path argument does not exist.
    """
    walker = _Walker(config)
    for arg_index, raw in enumerate(paths):
        path = Path(raw)
        if not os.path.lexists(path):
            raise ConfigError(f"path does not exist: {path}")
        walker.arg_index = arg_index
        if path.is_dir():
            walker.walk_root(path)
        else:
            walker.consider_link_or_file(path, path.name, ancestors=frozenset())
    entries = _dedupe(walker.candidates, walker.skipped)
    logger.info("discovered %d files, skipped %d", len(entries), len(walker.skipped))
    return entries, walker.skipped


@dataclass(frozen=True)
class _Candidate:
    entry: FileEntry
    real: str
    via_link: bool
    arg_index: int


@dataclass
class _Walker:
    config: DiscoverConfig
    arg_index: int = 0
    candidates: list[_Candidate] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    walked: dict[str, str] = field(default_factory=dict)  # real dir -> source it was walked as
    deferred: list[tuple[Path, str, frozenset[str]]] = field(default_factory=list)

    def skip(self, source: str, reason: str, kind: str = "file") -> None:
        logger.debug("skipping %s: %s", source, reason)
        self.skipped.append(Skipped(source, reason, kind))

    def walk_root(self, root: Path) -> None:
        self.deferred = [(root, "", frozenset())]
        while self.deferred:  # symlinked directories found on the way land here
            directory, prefix, ancestors = self.deferred.pop(0)
            self._walk_tree(directory, prefix, ancestors)

    def _walk_tree(self, top: Path, top_prefix: str, top_ancestors: frozenset[str]) -> None:
        stack = [(top, top_prefix, top_ancestors)]
        while stack:
            directory, prefix, ancestors = stack.pop()
            label = prefix or str(directory)
            real = os.path.realpath(directory)
            if real in self.walked:
                self.skip(label, f"duplicate of '{self.walked[real]}' (directory already included)",
                          "duplicate")
                continue
            self.walked[real] = label
            ancestors = ancestors | {real}
            try:
                with os.scandir(directory) as it:
                    children = sorted(it, key=lambda e: e.name)
            except OSError as exc:
                self.skip(label, f"cannot list directory ({exc.strerror or exc})", "directory")
                continue
            subdirs = []
            for child in children:
                if child.name.startswith(".") and not self.config.include_hidden:
                    continue
                source = f"{prefix}/{child.name}" if prefix else child.name
                path = Path(child.path)
                if child.is_dir(follow_symlinks=False):
                    subdirs.append((path, source, ancestors))
                else:
                    self.consider_link_or_file(path, source, ancestors)
            stack.extend(reversed(subdirs))  # pop() then visits them in sorted order

    def consider_link_or_file(self, path: Path, source: str, ancestors: frozenset[str]) -> None:
        via_link = path.is_symlink()
        if via_link and not self.config.follow_symlinks:
            self.skip(source, "symlink not followed (follow_symlinks is off)")
            return
        try:
            st = os.stat(path)  # follows links: reports loops and dangling targets
        except OSError as exc:
            self.skip(source, _stat_error(path, exc))
            return
        if stat.S_ISDIR(st.st_mode):
            if os.path.realpath(path) in ancestors:
                self.skip(source, "symlink loop (points to a directory that contains it)",
                          "directory")
            else:
                self.deferred.append((path, source, ancestors))
            return
        self._add_file(path, source, st, via_link)

    def _add_file(self, path: Path, source: str, st: os.stat_result, via_link: bool) -> None:
        suffix = path.suffix.lower()
        if not stat.S_ISREG(st.st_mode):
            self.skip(source, "not a regular file (device, socket or pipe)")
        elif suffix not in SUPPORTED_SUFFIXES:
            kind = f"'{suffix}'" if suffix else "(no extension)"
            self.skip(source, f"unsupported file type {kind}")
        elif st.st_size > self.config.max_file_bytes:
            self.skip(
                source,
                f"file too large ({st.st_size} bytes; max_file_bytes is "
                f"{self.config.max_file_bytes})",
            )
        elif not os.access(path, os.R_OK):
            self.skip(source, "permission denied (file is not readable)")
        else:
            entry = FileEntry(path=path, source=source, size=st.st_size, mtime=st.st_mtime)
            self.candidates.append(
                _Candidate(entry, os.path.realpath(path), via_link, self.arg_index)
            )


def _stat_error(path: Path, exc: OSError) -> str:
    if exc.errno == errno.ELOOP:
        return "symlink loop (the link resolves to itself)"
    if exc.errno in (errno.ENOENT, errno.ENOTDIR) and path.is_symlink():
        return f"broken symlink (target '{os.readlink(path)}' does not exist)"
    if exc.errno == errno.EACCES:
        return "permission denied"
    return f"cannot read file ({exc.strerror or exc})"


def _dedupe(candidates: list[_Candidate], skipped: list[Skipped]) -> list[FileEntry]:
    """One entry per real file (a direct path wins over a link) and per source name."""
    candidates = sorted(candidates, key=lambda c: (c.arg_index, c.via_link, c.entry.source))
    by_real: dict[str, _Candidate] = {}
    by_source: dict[str, _Candidate] = {}
    kept = []
    for cand in candidates:
        source = cand.entry.source
        if cand.real in by_real:
            first = by_real[cand.real].entry.source
            skipped.append(Skipped(source, f"duplicate of '{first}' (same file by another path)",
                                   "duplicate"))
        elif source in by_source:
            other = by_source[source].entry.path
            skipped.append(Skipped(
                source, f"another file ({other}) already has this source name; "
                "ingest the two roots separately", "duplicate",
            ))
        else:
            by_real[cand.real] = by_source[source] = cand
            kept.append(cand)
    kept.sort(key=lambda c: (c.arg_index, c.entry.source))
    return [c.entry for c in kept]
