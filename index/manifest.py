"""The metadata every index version carries next to its data (``manifest.json``).

A manifest says which embedder made the vectors, how the vector and BM25 indexes were
configured, how many documents and chunks the version holds, a hash of its inputs and
when it was made. Loading a version built by another embedder, or by a newer release
of this code, fails with a message that says what to do.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from core.errors import IndexMismatchError
from index.bm25 import BM25Config
from index.vectors import VectorIndexConfig
from ingest.embedding import EmbedderInfo

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
MANIFEST_NAME = "manifest.json"


@dataclass(frozen=True)
class CommitStats:
    """What one commit changed, counted in documents, and how long it took."""

    kept: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    seconds: float = 0.0

    def to_json(self) -> dict:
        return {
            "kept": self.kept,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "seconds": round(self.seconds, 4),
        }

    @classmethod
    def from_json(cls, data: dict) -> CommitStats:
        return cls(**{k: data[k] for k in ("kept", "added", "updated", "removed", "seconds")})


@dataclass(frozen=True)
class Manifest:
    """One published index version's metadata.

    ``vector_config`` is what was asked for; ``vector_kind`` is what was built (an IVF
    request over too few vectors is built flat). ``corpus_hash`` is a SHA-256 over the
    sorted ``(source, content_hash)`` pairs, so two versions with the same files match.
    """

    version: str
    embedder: EmbedderInfo
    vector_config: VectorIndexConfig
    vector_kind: str
    bm25: BM25Config
    n_docs: int
    n_chunks: int
    corpus_hash: str
    created_at: str = field(default_factory=lambda: utc_now())
    parent: str | None = None
    stats: CommitStats = field(default_factory=CommitStats)
    format_version: int = FORMAT_VERSION

    def to_json(self) -> dict:
        return {
            "format_version": self.format_version,
            "version": self.version,
            "created_at": self.created_at,
            "parent": self.parent,
            "embedder": self.embedder.to_json(),
            "vector_config": self.vector_config.to_json(),
            "vector_kind": self.vector_kind,
            "bm25": self.bm25.to_json(),
            "n_docs": self.n_docs,
            "n_chunks": self.n_chunks,
            "corpus_hash": self.corpus_hash,
            "stats": self.stats.to_json(),
        }

    @classmethod
    def from_json(cls, data: dict, where: str = "manifest") -> Manifest:
        """Parse a manifest dict; a newer or unknown ``format_version`` is an error."""
        fmt = data.get("format_version")
        if not isinstance(fmt, int) or fmt < 1:
            raise IndexMismatchError(f"{where}: missing or invalid format_version {fmt!r}")
        if fmt > FORMAT_VERSION:
            raise IndexMismatchError(
                f"{where}: index format {fmt} is newer than this release reads "
                f"(format {FORMAT_VERSION}); upgrade the assistant or re-ingest"
            )
        try:
            return cls(
                format_version=fmt,
                version=data["version"],
                created_at=data["created_at"],
                parent=data.get("parent"),
                embedder=EmbedderInfo.from_json(data["embedder"]),
                vector_config=VectorIndexConfig.from_json(data["vector_config"]),
                vector_kind=data["vector_kind"],
                bm25=BM25Config.from_json(data["bm25"]),
                n_docs=int(data["n_docs"]),
                n_chunks=int(data["n_chunks"]),
                corpus_hash=data["corpus_hash"],
                stats=CommitStats.from_json(data.get("stats") or CommitStats().to_json()),
            )
        except (KeyError, TypeError) as exc:
            raise IndexMismatchError(f"{where}: malformed manifest ({exc!r})") from exc

    def save(self, directory: Path) -> Path:
        """Write ``manifest.json`` into ``directory`` (the caller fsyncs and publishes)."""
        path = directory / MANIFEST_NAME
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n", encoding="utf-8")
        return path

    @classmethod
    def load(cls, directory: Path) -> Manifest:
        """Read ``directory/manifest.json``. Raises ``IndexMismatchError`` if unreadable."""
        path = directory / MANIFEST_NAME
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise IndexMismatchError(f"{path}: not valid JSON ({exc})") from exc
        return cls.from_json(data, where=str(path))


def utc_now() -> str:
    """The current time as ISO-8601 UTC, e.g. ``2025-01-31T12:00:00.123456+00:00``."""
    return datetime.now(UTC).isoformat()


def corpus_hash(pairs: Iterable[tuple[str, str]]) -> str:
    """SHA-256 over sorted ``(source, content_hash)`` pairs."""
    digest = hashlib.sha256()
    for source, content in sorted(pairs):
        digest.update(source.encode("utf-8"))
        digest.update(b"\0")
        digest.update(content.encode("utf-8"))
        digest.update(b"\n")
    return digest.hexdigest()


def check_embedder(manifest: Manifest, info: EmbedderInfo, index_dir: Path | str = "") -> None:
    """Raise ``IndexMismatchError`` unless ``info`` is the embedder that built ``manifest``.

    Model id, dimension and normalization must all match: vectors from another model live
    in another space, and comparing them gives confident nonsense rather than an error.
    """
    built = manifest.embedder
    if (built.model_id, built.dim, built.normalized) == (info.model_id, info.dim, info.normalized):
        return
    where = f"index {index_dir} " if index_dir else "index "
    raise IndexMismatchError(
        f"{where}(version {manifest.version}) was built with embedder {built.model_id!r} "
        f"(dim {built.dim}, normalized={built.normalized}), but embedder {info.model_id!r} "
        f"(dim {info.dim}, normalized={info.normalized}) was given; re-ingest into a new "
        f"index directory, or pass the matching --embedder ({built.path or built.model_id})"
    )
