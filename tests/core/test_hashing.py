"""File hashes: the same digest as hashlib, and read once per process while the file is
unchanged."""

from __future__ import annotations

import hashlib
import os

import core.hashing
from core.hashing import file_sha256, remembered_sha256


def test_file_sha256_is_the_sha256_of_the_bytes(tmp_path):
    path = tmp_path / "f.bin"
    data = os.urandom(3 * 4096 + 17)
    path.write_bytes(data)
    assert file_sha256(path, block=4096) == hashlib.sha256(data).hexdigest()
    empty = tmp_path / "empty"
    empty.write_bytes(b"")
    assert file_sha256(empty) == hashlib.sha256(b"").hexdigest()


def test_remembered_sha256_reads_once_until_the_file_changes(tmp_path, monkeypatch):
    reads, real = [], core.hashing.file_sha256

    def counting(path, *args):
        reads.append(path)
        return real(path, *args)

    monkeypatch.setattr(core.hashing, "file_sha256", counting)
    path = tmp_path / "model.gguf"
    path.write_bytes(b"version one")
    first = remembered_sha256(path)
    assert remembered_sha256(path) == first == hashlib.sha256(b"version one").hexdigest()
    assert len(reads) == 1
    path.write_bytes(b"version two, longer")  # another size: hashed again
    assert remembered_sha256(path) == hashlib.sha256(b"version two, longer").hexdigest()
    assert len(reads) == 2
    stat = path.stat()
    path.write_bytes(b"version 3 same size")  # same size, another mtime: hashed again
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert remembered_sha256(path) == hashlib.sha256(b"version 3 same size").hexdigest()
    assert len(reads) == 3
