"""Files in, a new published index version out: the in-process ingest engine.

One run mirrors the given paths into the index: new and changed files (by content
hash) are parsed, chunked and embedded (``ingest.pipeline``, or ``ingest.ray_engine``);
unchanged files are carried over without re-embedding; files no longer present are
removed. The index writer publishes the result atomically, so readers see either the
old version or the new one.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from core.errors import ConfigError
from index.records import DocRecord
from index.vectors import VectorIndexConfig
from index.writer import IndexWriter
from ingest.chunking import ChunkerConfig
from ingest.discover import DiscoverConfig, FileEntry, Skipped, discover
from ingest.embedding import Embedder, EmbedderConfig
from ingest.ids import file_sha256
from ingest.pipeline import Parsed, embed_chunks, parse_all

logger = logging.getLogger(__name__)

ENGINES = ("local", "ray")


@dataclass(frozen=True)
class IngestConfig:
    """Everything one ingest run needs besides the paths and the index directory."""

    embedder: EmbedderConfig = field(default_factory=EmbedderConfig)
    chunker: ChunkerConfig = field(default_factory=ChunkerConfig)
    discover: DiscoverConfig = field(default_factory=DiscoverConfig)
    # None keeps the live version's vector settings (defaults for a new index).
    vectors: VectorIndexConfig | None = None
    engine: str = "local"
    lock_timeout: float = 0.0
    ray_address: str | None = None

    def __post_init__(self) -> None:
        if self.engine not in ENGINES:
            raise ConfigError(f"engine must be one of {', '.join(ENGINES)}, got {self.engine!r}")
        if self.lock_timeout < 0:
            raise ConfigError(f"lock_timeout must be >= 0 seconds, got {self.lock_timeout}")


@dataclass
class IngestReport:
    """What a run did, file by file; ``exit_code`` is 0 when nothing was skipped, else 3."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    chunks_embedded: int = 0
    chunks_total: int = 0
    version: str = ""
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 3 if self.skipped else 0

    def to_json(self) -> dict:
        return {
            "version": self.version,
            "added": self.added,
            "updated": self.updated,
            "removed": self.removed,
            "unchanged": len(self.unchanged),
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "chunks_embedded": self.chunks_embedded,
            "chunks_total": self.chunks_total,
            "seconds": {k: round(v, 3) for k, v in self.seconds.items()},
        }


def doc_record(parsed: Parsed) -> DocRecord:
    """What the index keeps about one parsed file."""
    entry, document = parsed.entry, parsed.document
    return DocRecord(
        doc_id=document.doc_id,
        source=entry.source,
        content_hash=document.content_hash,
        size=entry.size,
        mtime=entry.mtime,
        n_chunks=len(parsed.chunks),
        title=document.title,
    )


def ingest(
    paths: Sequence[Path],
    index_dir: Path,
    config: IngestConfig | None = None,
    progress: bool = True,
    embedder: Embedder | None = None,
) -> IngestReport:
    """Mirror ``paths`` into the index at ``index_dir`` and publish a new version.

    Bad files are reported in ``report.skipped`` and never stop the run; a file that was
    indexed before and now fails to parse keeps its previous chunks. Raises
    ``IndexLockedError`` when another ingest holds the index, ``IndexMismatchError``
    when the index was built with another embedder, ``ConfigError`` for bad paths.
    """
    config = config or IngestConfig()
    report = IngestReport()
    clock = time.perf_counter()
    entries, skipped = discover(list(paths), config.discover)
    report.skipped.extend(skipped)
    embedder = embedder or Embedder(config.embedder)
    config.chunker.check_window(embedder.info.max_tokens)

    with IndexWriter.open(
        index_dir, embedder.info, vector_config=config.vectors, lock_timeout=config.lock_timeout
    ) as writer:
        previous = writer.previous_documents()
        changed: list[FileEntry] = []
        for entry in entries:
            old = previous.get(entry.source)
            if old is not None and old.content_hash == file_sha256(entry.path):
                writer.keep_document(entry.source)
                report.unchanged.append(entry.source)
            else:
                changed.append(entry)
        report.seconds["scan"] = time.perf_counter() - clock

        if config.engine == "ray":
            from ingest.ray_engine import parse_and_embed_with_ray

            parsed, vectors, failed = parse_and_embed_with_ray(
                changed, config.embedder, config.chunker, embedder.info,
                address=config.ray_address,
            )
            report.seconds["parse"] = 0.0
        else:
            parsed, failed, parse_s = parse_all(changed, config.chunker, embedder, progress)
            report.seconds["parse"] = parse_s
            clock = time.perf_counter()
            all_chunks = [c for p in parsed for c in p.chunks]
            vectors = embed_chunks(embedder, all_chunks, config.chunker.prefix_tokens, progress)
            report.seconds["embed"] = time.perf_counter() - clock

        for skip in failed:
            report.skipped.append(skip)
            if skip.source in previous:  # keep what we had rather than lose the document
                writer.keep_document(skip.source)
                report.unchanged.append(skip.source)
        offset = 0
        for item in parsed:
            n = len(item.chunks)
            writer.add_document(doc_record(item), item.chunks, vectors[offset : offset + n])
            offset += n
            (report.updated if item.entry.source in previous else report.added).append(
                item.entry.source
            )
        report.chunks_embedded = offset
        seen = {e.source for e in entries}
        report.removed = sorted(s for s in previous if s not in seen)

        clock = time.perf_counter()
        manifest = writer.commit()
        report.seconds["commit"] = time.perf_counter() - clock
    report.version = manifest.version
    report.chunks_total = manifest.n_chunks
    return report
