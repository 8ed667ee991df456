"""Scale-out ingest: parse, chunk and embed through Ray Data across a Ray cluster.

The driver still decides what changed and publishes the version (the index writer is
single-writer by design); Ray does the heavy part. Parsing runs as stateless tasks, one
file per row; embedding runs on an actor pool so each worker loads the model once.
With ``address=None`` a local Ray instance is started (or the one already running is
used); pass ``auto`` or ``ray://host:10001`` to join a cluster.
"""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from core.errors import ConfigError, InputFileError
from ingest.chunking import Chunker, ChunkerConfig, embedding_text
from ingest.discover import FileEntry, Skipped
from ingest.embedding import Embedder, EmbedderConfig, EmbedderInfo
from ingest.pipeline import Parsed
from ingest.records import Chunk, Document

logger = logging.getLogger(__name__)

_CHUNK_FIELDS = ("chunk_id", "doc_id", "source", "text", "start", "end", "page_label", "title")


class _ParseRow:
    """Ray callable: one file row in, one row per chunk out (or one error row)."""

    def __init__(self, embedder: EmbedderConfig, chunker: ChunkerConfig) -> None:
        from transformers import AutoTokenizer

        from ingest.embedding import resolve_model_path

        # Only the tokenizer is needed to size chunks; the model stays with the embed actors.
        tokenizer = AutoTokenizer.from_pretrained(resolve_model_path(embedder.model))
        self.chunker = Chunker(
            chunker, lambda t: len(tokenizer.encode(t, add_special_tokens=False, verbose=False))
        )

    def __call__(self, row: dict[str, Any]) -> list[dict[str, Any]]:
        from ingest.loaders import load_document

        entry = FileEntry(
            path=Path(row["path"]), source=row["source"], size=int(row["size"]),
            mtime=float(row["mtime"]),
        )
        try:
            document = load_document(entry)
            chunks = self.chunker.chunk(document)
            if not chunks:
                raise InputFileError(entry.source, "no text left after parsing")
        except InputFileError as exc:
            return [{**_empty_row(entry), "error": exc.reason}]
        doc = {"content_hash": document.content_hash, "doc_title": document.title,
               "n_sections": len(document.sections)}
        return [
            {**_empty_row(entry), **doc, **{f: getattr(c, f) for f in _CHUNK_FIELDS},
             "ordinal": i, "page_index": -1 if c.page_index is None else c.page_index,
             "page_label": c.page_label or "", "heading": json.dumps(list(c.heading))}
            for i, c in enumerate(chunks)
        ]


class _EmbedBatch:
    """Ray actor: loads the embedder once, embeds batches of chunk rows."""

    def __init__(self, embedder: EmbedderConfig, prefix_tokens: int) -> None:
        self.embedder = Embedder(embedder)
        self.prefix_tokens = prefix_tokens

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        rows = ({k: batch[k][i] for k in batch} for i in range(len(batch["text"])))
        chunks = [_chunk_from_row(row) for row in rows]
        texts = [embedding_text(c, self.embedder.count_tokens, self.prefix_tokens) for c in chunks]
        batch["vector"] = self.embedder.encode(texts)
        return batch


def parse_and_embed_with_ray(
    entries: Sequence[FileEntry],
    embedder: EmbedderConfig,
    chunker: ChunkerConfig,
    info: EmbedderInfo,
    address: str | None = None,
) -> tuple[list[Parsed], np.ndarray, list[Skipped]]:
    """Parse, chunk and embed ``entries`` on Ray. Returns what the local engine returns."""
    try:
        import ray
    except ImportError as exc:
        raise ConfigError("--engine ray needs Ray: pip install 'acme-assistant[ray]'") from exc
    if not entries:
        return [], np.zeros((0, info.dim), dtype=np.float32), []
    if not ray.is_initialized():
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=False)
    ctx = ray.data.DataContext.get_current()
    ctx.enable_progress_bars = logger.isEnabledFor(logging.INFO)

    rows = [{"path": str(e.path), "source": e.source, "size": e.size, "mtime": e.mtime}
            for e in entries]
    parsed_ds = ray.data.from_items(rows).flat_map(
        _ParseRow,
        fn_constructor_kwargs={"embedder": embedder, "chunker": chunker},
        concurrency=(1, max(1, len(rows))),
    ).materialize()
    errors = parsed_ds.filter(lambda r: r["error"] != "").take_all()
    good = parsed_ds.filter(lambda r: r["error"] == "")
    embedded = good.map_batches(
        _EmbedBatch,
        fn_constructor_kwargs={"embedder": embedder, "prefix_tokens": chunker.prefix_tokens},
        batch_size=embedder.batch_size * 4,
        batch_format="numpy",
        concurrency=(1, max(1, int(ray.cluster_resources().get("CPU", 1)) // 2)),
    ).take_all()

    by_source: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in embedded:
        by_source[row["source"]].append(row)
    by_entry = {e.source: e for e in entries}
    parsed: list[Parsed] = []
    vectors: list[np.ndarray] = []
    for source in sorted(by_source):
        chunk_rows = sorted(by_source[source], key=lambda r: int(r["ordinal"]))
        first = chunk_rows[0]
        document = Document(first["doc_id"], source, first["doc_title"], (), first["content_hash"])
        parsed.append(Parsed(by_entry[source], document, [_chunk_from_row(r) for r in chunk_rows]))
        vectors.extend(np.asarray(r["vector"], dtype=np.float32) for r in chunk_rows)
    failed = [Skipped(r["source"], r["error"]) for r in errors]
    matrix = np.stack(vectors) if vectors else np.zeros((0, info.dim), dtype=np.float32)
    if matrix.shape[1] != info.dim:
        raise ConfigError(f"Ray workers embedded with dim {matrix.shape[1]}, expected {info.dim}")
    return parsed, np.ascontiguousarray(matrix), failed


def _empty_row(entry: FileEntry) -> dict[str, Any]:
    return {"source": entry.source, "error": "", "content_hash": "", "doc_title": "",
            "n_sections": 0, "chunk_id": "", "doc_id": "", "text": "", "start": 0, "end": 0,
            "page_index": -1, "page_label": "", "title": "", "heading": "[]", "ordinal": -1}


def _chunk_from_row(row: dict[str, Any]) -> Chunk:
    page_index = int(row["page_index"])
    return Chunk(
        chunk_id=str(row["chunk_id"]), doc_id=str(row["doc_id"]), source=str(row["source"]),
        text=str(row["text"]), start=int(row["start"]), end=int(row["end"]),
        page_index=None if page_index < 0 else page_index,
        page_label=str(row["page_label"]) or None,
        heading=tuple(json.loads(str(row["heading"]))), title=str(row["title"]),
    )
