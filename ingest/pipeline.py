"""Files in, chunks and their vectors out: the parse and embed steps of an ingest run.

``parse_and_chunk`` loads and chunks one file; ``parse_all`` does it for many, reporting
the files that yield nothing; ``embed_chunks`` embeds chunks with their title/heading
prefix. ``index.build.ingest`` runs these and writes the result into an index;
``ingest.ray_engine`` is the same work on Ray.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from core.errors import InputFileError
from core.progress import Progress, track
from ingest.chunking import Chunker, ChunkerConfig, embedding_text
from ingest.discover import FileEntry, Skipped
from ingest.embedding import Embedder
from ingest.loaders import load_document
from ingest.records import Chunk, Document

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Parsed:
    """One changed file, parsed and chunked, waiting for its vectors."""

    entry: FileEntry
    document: Document
    chunks: list[Chunk]


def parse_and_chunk(entry: FileEntry, chunker: Chunker) -> Parsed:
    """Load and chunk one file. Raises ``InputFileError`` for a file that yields nothing."""
    document = load_document(entry)
    chunks = chunker.chunk(document)
    if not chunks:
        raise InputFileError(entry.source, "no text left after parsing")
    return Parsed(entry, document, chunks)


def embed_chunks(
    embedder: Embedder, chunks: Sequence[Chunk], prefix_tokens: int, progress: Progress = False
) -> np.ndarray:
    """Embed chunks with their title/heading prefix. Returns float32 ``(len(chunks), dim)``."""
    texts = [embedding_text(c, embedder.count_tokens, prefix_tokens) for c in chunks]
    return embedder.encode(texts, progress=progress)


def parse_all(
    entries: Sequence[FileEntry], chunker_config: ChunkerConfig, embedder: Embedder,
    progress: Progress,
) -> tuple[list[Parsed], list[Skipped], float]:
    """Parse and chunk ``entries``; returns the parsed files, the skipped ones (with the
    reason) and the seconds it took. A bad file is logged and skipped, never raised."""
    clock = time.perf_counter()
    chunker = Chunker(chunker_config, embedder.count_tokens)
    parsed: list[Parsed] = []
    failed: list[Skipped] = []
    for entry in track(entries, progress, "parse", unit="files"):
        try:
            parsed.append(parse_and_chunk(entry, chunker))
        except InputFileError as exc:
            logger.warning("skipped %s: %s", entry.source, exc.reason)
            failed.append(Skipped(entry.source, exc.reason))
    return parsed, failed, time.perf_counter() - clock
