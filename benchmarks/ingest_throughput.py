"""Ingest throughput: the whole pipeline's chunks/s against a bare encode of the same texts.

Writes N SciFact abstracts as text files, runs ``ingest`` (discover, hash, parse, chunk,
embed, FAISS + BM25 + SQLite, publish), then times ``SentenceTransformer.encode`` on
exactly the texts the pipeline embedded, with the same batch size, in the same process.

    .venv/bin/python -m benchmarks.ingest_throughput --docs 300
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import tempfile
import time
from pathlib import Path

from index.build import IngestConfig, ingest
from ingest.chunking import embedding_text
from ingest.embedding import Embedder
from ingest.records import Chunk

SCIFACT = Path(__file__).resolve().parents[2] / "shared" / "data" / "scifact"


def write_docs(out: Path, n: int, scifact: Path = SCIFACT) -> int:
    """Write the first ``n`` SciFact abstracts as ``.txt`` files; returns how many."""
    out.mkdir(parents=True, exist_ok=True)
    count = 0
    with open(scifact / "corpus.jsonl") as fh:
        for line in fh:
            if count >= n:
                break
            rec = json.loads(line)
            (out / f"{rec['_id']}.txt").write_text(f"{rec['title']}\n\n{rec['text']}\n")
            count += 1
    return count


def chunks_of(index_dir: Path) -> list[Chunk]:
    version = (index_dir / "CURRENT").read_text().strip()
    db = sqlite3.connect(index_dir / "versions" / version / "chunks.sqlite")
    rows = db.execute(
        "SELECT chunk_id, doc_id, source, text, start, end, title FROM chunks ORDER BY row"
    ).fetchall()
    return [Chunk(*r[:6], title=r[6]) for r in rows]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=2,
                        help="alternate pipeline and bare runs this many times; best of each")
    parser.add_argument("--batch-size", type=int, default=32)
    args = parser.parse_args()
    embedder = Embedder()
    prefix = IngestConfig().chunker.prefix_tokens
    pipeline_s, bare_s = [], []
    with tempfile.TemporaryDirectory() as tmp:
        docs = Path(tmp) / "docs"
        n = write_docs(docs, args.docs)
        embedder.encode(["warm up"] * 8)
        for r in range(args.rounds):
            index = Path(tmp) / f"index{r}"
            start = time.perf_counter()
            report = ingest([docs], index, IngestConfig(), progress=False, embedder=embedder)
            pipeline_s.append(time.perf_counter() - start)
            texts = [embedding_text(c, embedder.count_tokens, prefix) for c in chunks_of(index)]
            start = time.perf_counter()
            embedder.model.encode(texts, batch_size=args.batch_size, normalize_embeddings=True)
            bare_s.append(time.perf_counter() - start)
    chunks = report.chunks_embedded
    best_pipe, best_bare = min(pipeline_s), min(bare_s)
    print(f"files: {n}, chunks: {chunks}, rounds: {args.rounds} (best of each)")
    print(f"{'':28}{'seconds':>10}{'chunks/s':>10}   all rounds (s)")
    print(f"{'pipeline (ingest)':28}{best_pipe:10.1f}{chunks / best_pipe:10.1f}   "
          f"{[round(t, 1) for t in pipeline_s]}")
    print(f"{'bare SentenceTransformer':28}{best_bare:10.1f}{chunks / best_bare:10.1f}   "
          f"{[round(t, 1) for t in bare_s]}")
    print(f"ratio pipeline/bare: {best_bare / best_pipe:.3f}  (goal >= 0.9)")
    print("pipeline stages, last round (s):",
          {k: round(v, 2) for k, v in report.seconds.items()})


if __name__ == "__main__":
    main()
