"""Folders of numbered versions written atomically: index versions, the adapter registry
and tuned embedders all keep their versions with this one store.

::

    ROOT/
      v0001/ v0002/            published versions (prefix and digits set per store)
      .building-PID-HEX/       a version being built, never read (prefix set per store)
      .deleting-PID-HEX/       a version being removed
    LOCK                       the writer lock (``ROOT/.lock`` unless the store says)

A writer builds in a hidden temp folder (``new_temp``), takes the lock, picks the number
(``next_number``) and ``publish``-es: every file and folder fsynced, one ``os.rename``
into place, ``ROOT`` fsynced. A crash at any point leaves either no version or a whole
one; the temp folders of dead writers are removed by ``clean_temps``. A pointer to the
live version (a ``CURRENT`` file, a ``state.json``) is moved with ``write_atomic``.

The lock is ``filelock``'s flock-based lock: the kernel drops it when its holder dies,
so a writer killed with SIGKILL never leaves the folder locked. The lock file is never
deleted (two writers would then lock two different files); it holds the holder's pid
for the error message.
"""

from __future__ import annotations

import functools
import inspect
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path

from filelock import FileLock, Timeout

from core.errors import AssistantError

logger = logging.getLogger(__name__)

LOCK_FILE = ".lock"
TRASH_PREFIX = ".deleting-"
_POLL_SECONDS = 0.05


class StoreLockedError(AssistantError):
    """Another writer held a store's lock past the timeout; ``holder`` is its pid when known."""

    def __init__(self, path: Path, holder: int | None) -> None:
        who = f"process {holder}" if holder else "another process"
        super().__init__(f"{path} is locked by {who}")
        self.path = path
        self.holder = holder


# ---- durability ---------------------------------------------------------------------


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


def write_atomic(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` (UTF-8) so that readers see the old or the new file,
    never a torn one, and the change survives a power cut: temp file ``NAME.tmp-HEX``
    beside it, fsync, ``os.replace``, fsync of the folder. OSError propagates; the temp
    file is removed then."""
    path = Path(path)
    tmp = path.with_name(f"{path.name}.tmp-{uuid.uuid4().hex}")
    try:
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (an unreaped zombie counts as alive)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


# ---- the writer lock ----------------------------------------------------------------


class StoreLock:
    """An exclusive, inter-process and inter-thread lock on the file ``path``.

    ``acquire`` waits up to ``timeout`` seconds (0: one try) and raises
    ``StoreLockedError`` naming the holder's pid; ``release`` is idempotent. Usable as a
    context manager with the ``timeout`` given here.
    """

    def __init__(self, path: Path, timeout: float = 0.0) -> None:
        self.path = Path(path)
        self.timeout = timeout
        self._lock: FileLock | None = None

    @property
    def held(self) -> bool:
        return self._lock is not None

    def acquire(self, timeout: float | None = None) -> None:
        """Take the lock, waiting up to ``timeout`` seconds (``None``: this lock's default).

        Raises ``StoreLockedError`` on timeout and ``RuntimeError`` if already held here.
        """
        if self._lock is not None:
            raise RuntimeError(f"lock {self.path} is already held by this writer")
        wait = max(0.0, self.timeout if timeout is None else timeout)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        lock = _file_lock(self.path)
        holder = _read_pid(self.path)  # filelock 3 empties the file on each try
        try:
            lock.acquire(timeout=wait, poll_interval=_POLL_SECONDS)
        except Timeout:
            raise StoreLockedError(self.path, _read_pid(self.path) or holder) from None
        try:
            _write_pid(self.path, f"{os.getpid()}\n")
        except BaseException:
            lock.release()
            raise
        self._lock = lock
        logger.debug("locked %s", self.path)

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._lock is None:
            return
        lock, self._lock = self._lock, None
        try:
            _write_pid(self.path, "")
        finally:
            lock.release()
        logger.debug("unlocked %s", self.path)

    def __enter__(self) -> StoreLock:
        self.acquire()
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        self.release()


def _file_lock(path: Path) -> FileLock:
    # A fresh instance per acquire opens its own descriptor, so threads of one process
    # exclude each other through the kernel's flock just as processes do.
    if _has_soft_fallback():  # filelock 4: never a marker file a dead holder leaves behind
        return FileLock(str(path), thread_local=False, fallback_to_soft=False)
    return FileLock(str(path), thread_local=False)  # filelock 3 never falls back


@functools.cache
def _has_soft_fallback() -> bool:
    return "fallback_to_soft" in inspect.signature(FileLock.__init__).parameters


def _write_pid(path: Path, text: str) -> None:
    # Another descriptor than the locked one: closing it keeps the flock.
    fd = os.open(path, os.O_WRONLY)
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, text.encode("ascii"), 0)
    finally:
        os.close(fd)


def _read_pid(path: Path) -> int | None:
    try:
        text = path.read_text(encoding="ascii", errors="replace").strip().splitlines()
        return int(text[0]) if text else None
    except (OSError, ValueError):
        return None


# ---- the store ----------------------------------------------------------------------


@dataclass(frozen=True)
class VersionFormat:
    """How a version folder is named: ``prefix`` and the number zero-padded to ``width``
    digits (``v`` + 6 for index versions, ``v`` + 4 for adapters and embedders). Longer
    numbers keep all their digits; names with fewer digits are not versions."""

    prefix: str = "v"
    width: int = 4

    def __post_init__(self) -> None:
        if not self.prefix or self.prefix.startswith(".") or "/" in self.prefix:
            raise ValueError(f"version prefix must be a plain visible name, got {self.prefix!r}")
        if not 1 <= self.width <= 12:
            raise ValueError(f"version width must be in 1..12, got {self.width}")

    def name(self, number: int) -> str:
        """The folder name of version ``number`` (>= 1)."""
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            raise ValueError(f"version number must be an integer >= 1, got {number!r}")
        return f"{self.prefix}{number:0{self.width}d}"

    def number(self, name: str) -> int | None:
        """The number of version folder ``name``, or None when it names no version."""
        match = re.fullmatch(rf"{re.escape(self.prefix)}(\d{{{self.width},}})", name)
        return int(match.group(1)) if match else None


# The version folders of each kind of artifact (their names on disk never change).
INDEX_VERSIONS = VersionFormat(prefix="v", width=6)  # INDEX/versions/v000001
ADAPTER_VERSIONS = VersionFormat(prefix="v", width=4)  # adapters/NAME/v0001
EMBEDDER_VERSIONS = VersionFormat(prefix="v", width=4)  # embedders/NAME/v0001


class VersionStore:
    """The numbered versions under ``root``.

    ``fmt`` names the folders; ``temp_prefix`` (hidden: starts with ``.``) names the
    folders being built; ``lock_path`` is the writer lock's file (``root/.lock``).
    Reading is safe at any time. ``next_number``, ``publish``, ``remove`` and ``prune``
    must run under the lock (``lock()``), so that two writers never pick one number.
    """

    def __init__(
        self, root: Path, fmt: VersionFormat, temp_prefix: str = ".building-",
        lock_path: Path | None = None,
    ) -> None:
        if not temp_prefix.startswith(".") or "/" in temp_prefix or temp_prefix == TRASH_PREFIX:
            raise ValueError(f"temp_prefix must be a hidden name prefix, got {temp_prefix!r}")
        self.root = Path(root)
        self.fmt = fmt
        self.temp_prefix = temp_prefix
        self.lock_path = Path(lock_path) if lock_path is not None else self.root / LOCK_FILE

    def lock(self, timeout: float = 0.0) -> StoreLock:
        """The writer lock, not yet taken: ``with store.lock(30):`` or ``.acquire()``."""
        return StoreLock(self.lock_path, timeout)

    def path(self, number: int) -> Path:
        return self.root / self.fmt.name(number)

    def numbers(self) -> list[int]:
        """Numbers of the published version folders, ascending."""
        if not self.root.is_dir():
            return []
        found = (self.fmt.number(p.name) for p in self.root.iterdir() if p.is_dir())
        return sorted(n for n in found if n is not None)

    def next_number(self, floor: int = 0) -> int:
        """One above the highest version on disk and ``floor`` (a number handed out before,
        e.g. a pointer's or a deleted version's, that must not come back)."""
        return max([floor, *self.numbers()]) + 1

    def new_temp(self) -> Path:
        """Create and return an empty hidden folder ``root/PREFIX-PID-HEX`` to build in."""
        self.root.mkdir(parents=True, exist_ok=True)
        path = self.root / f"{self.temp_prefix}{os.getpid()}-{uuid.uuid4().hex}"
        path.mkdir()
        return path

    def discard(self, temp: Path) -> None:
        """Remove a temp folder (or what is left of it); never raises for a missing one."""
        shutil.rmtree(temp, ignore_errors=True)

    def publish(self, built: Path, number: int) -> Path:
        """fsync ``built`` (a folder on the same filesystem, usually from ``new_temp``),
        rename it to version ``number`` and fsync ``root``; durable once this returns.

        Raises ``FileExistsError`` when that version exists (nothing is changed then).
        """
        final = self.path(number)
        if final.exists():  # rename(2) would silently replace an empty folder
            raise FileExistsError(f"version {final} already exists")
        fsync_tree(built)
        os.rename(built, final)
        fsync_dir(self.root)
        logger.info("published %s", final)
        return final

    def remove(self, number: int) -> None:
        """Delete version ``number``: renamed away in one step, then its files removed.
        Raises ``FileNotFoundError`` when there is no such version."""
        trash = self.root / f"{TRASH_PREFIX}{os.getpid()}-{uuid.uuid4().hex}"
        os.rename(self.path(number), trash)
        fsync_dir(self.root)
        shutil.rmtree(trash, ignore_errors=True)

    def prune(self, keep: int, below: int) -> list[int]:
        """Delete the versions numbered under ``below`` (the live one) except the newest
        ``keep`` of them; returns the deleted numbers."""
        older = [n for n in self.numbers() if n < below]
        doomed = older[: max(0, len(older) - keep)]
        for number in doomed:
            self.remove(number)
            logger.info("pruned %s", self.path(number))
        return doomed

    def clean_temps(self, dead_only: bool = True) -> list[str]:
        """Remove temp and trash folders left by writers that died; with ``dead_only``
        False, every one (for a caller that holds the lock for its whole build, so no
        other writer can be building). A name without a pid counts as dead. Returns the
        names removed."""
        if not self.root.is_dir():
            return []
        removed = []
        for path in self.root.iterdir():
            prefix = next((p for p in (self.temp_prefix, TRASH_PREFIX)
                           if path.name.startswith(p)), None)
            if prefix is None:
                continue
            if dead_only and _owner_alive(path.name[len(prefix):]):
                continue
            shutil.rmtree(path, ignore_errors=True)
            removed.append(path.name)
        if removed:
            logger.warning("removed leftovers of interrupted writes in %s: %s", self.root,
                           ", ".join(removed))
        return removed


def _owner_alive(suffix: str) -> bool:
    head = suffix.split("-", 1)[0]
    return head.isdigit() and pid_alive(int(head))

