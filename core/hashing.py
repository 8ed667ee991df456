"""SHA-256 of files: read in blocks, and remembered within a process.

One reader for every file hash: documents at ingest, model files (GGUF sources, weight
files) and the experimental model's parts.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

_BLOCK = 1 << 22
_MEMO: dict[tuple[str, int, int], str] = {}


def file_sha256(path: Path, block: int = _BLOCK) -> str:
    """Hex SHA-256 of a file's bytes, read in blocks; reads the file every time."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while data := fh.read(block):
            digest.update(data)
    return digest.hexdigest()


def remembered_sha256(path: Path) -> str:
    """``file_sha256``, computed once per process for a file of the same resolved path,
    size and modification time (a model file of hundreds of MB is asked for its hash by
    several steps of one load)."""
    stat = path.stat()
    key = (str(path.resolve()), stat.st_size, stat.st_mtime_ns)
    if key not in _MEMO:
        _MEMO[key] = file_sha256(path)
    return _MEMO[key]
