"""The single-writer lock of an index directory (``DIR/.lock``, ``fcntl.flock``).

The kernel drops a ``flock`` when its holder dies, so a writer killed with SIGKILL never
leaves the index locked. The lock file itself is never deleted (deleting it would let
two writers lock two different files); it records the holder's pid for error messages.
"""

from __future__ import annotations

import fcntl
import logging
import os
import time
from pathlib import Path

from core.errors import IndexLockedError

logger = logging.getLogger(__name__)

LOCK_FILE = ".lock"
_POLL_SECONDS = 0.05


class WriterLock:
    """An exclusive lock on ``index_dir``; ``acquire`` waits up to ``timeout`` seconds."""

    def __init__(self, index_dir: Path) -> None:
        self.index_dir = index_dir
        self.path = index_dir / LOCK_FILE
        self._fd: int | None = None

    @property
    def held(self) -> bool:
        return self._fd is not None

    def acquire(self, timeout: float = 0.0) -> None:
        """Take the lock. Raises ``IndexLockedError`` naming the holder's pid on timeout.

        ``timeout`` 0 fails at once when another writer holds the lock.
        """
        if self._fd is not None:
            raise RuntimeError(f"lock {self.path} is already held by this writer")
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + max(0.0, timeout)
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_pid(fd)
                    os.close(fd)
                    who = f"process {holder}" if holder else "another process"
                    raise IndexLockedError(
                        f"index {self.index_dir} is locked by {who} (another ingest is "
                        f"writing it); wait for it to finish or retry with a longer wait"
                    ) from None
                time.sleep(_POLL_SECONDS)
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd
        logger.debug("locked %s", self.path)

    def release(self) -> None:
        """Drop the lock (idempotent)."""
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        try:
            os.ftruncate(fd, 0)
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
        logger.debug("unlocked %s", self.path)


def _read_pid(fd: int) -> int | None:
    try:
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
