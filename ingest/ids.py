"""Stable identifiers and content hashes."""

from __future__ import annotations

import hashlib


def doc_id_for(source: str) -> str:
    """A short stable id for a document, derived from its source path."""
    return hashlib.sha1(source.encode("utf-8")).hexdigest()[:12]


def chunk_id_for(doc_id: str, start: int, text: str) -> str:
    """A stable chunk id: the same text at the same place in the same document keeps it."""
    digest = hashlib.sha1(f"{doc_id}\0{start}\0{text}".encode()).hexdigest()[:12]
    return f"{doc_id}-{digest}"
