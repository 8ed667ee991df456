"""Hybrid search latency at scale: p50/p95 over synthetic chunks on this machine.

Builds an index of N synthetic chunks (Zipf-distributed words, random unit vectors)
through the real IndexWriter, then times ``Searcher.search`` per query, including the
query embedding with the real bundled model.

    .venv/bin/python -m benchmarks.search_latency --chunks 100000 --queries 200
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from index.records import DocRecord
from index.searcher import Searcher
from index.vectors import VectorIndexConfig
from index.writer import IndexWriter
from ingest.embedding import Embedder
from ingest.records import Chunk

CHUNKS_PER_DOC = 100


def synthetic_words(rng: np.random.Generator, vocab: int = 30000) -> list[str]:
    syllables = ["ka", "lo", "mi", "ren", "tu", "sa", "vor", "el", "ix", "pa", "qui", "dun"]
    words = set()
    while len(words) < vocab:
        # 2-5 syllables from 12 give ~270k distinct words, so this always terminates
        words.add("".join(rng.choice(syllables, size=rng.integers(2, 6))))
    return sorted(words)


def build(index_dir: Path, n_chunks: int, embedder: Embedder, kind: str, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    words = np.array(synthetic_words(rng))
    ranks = np.arange(1, len(words) + 1)
    probs = (1 / ranks) / (1 / ranks).sum()
    start = time.perf_counter()
    with IndexWriter.open(index_dir, embedder.info, VectorIndexConfig(kind=kind)) as writer:
        for d in range(0, n_chunks, CHUNKS_PER_DOC):
            n = min(CHUNKS_PER_DOC, n_chunks - d)
            doc_id = f"doc{d // CHUNKS_PER_DOC:06d}"
            chunks, pos = [], 0
            picks = rng.choice(len(words), size=(n, 120), p=probs)  # one draw per document
            for i in range(n):
                text = " ".join(words[picks[i]])
                chunks.append(Chunk(f"{doc_id}-{i}", doc_id, f"{doc_id}.txt", text, pos,
                                    pos + len(text)))
                pos += len(text) + 2
            vectors = rng.standard_normal((n, embedder.info.dim)).astype(np.float32)
            vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
            writer.add_document(
                DocRecord(doc_id, f"{doc_id}.txt", f"hash{d}", pos, 0.0, n), chunks, vectors
            )
        writer.commit()
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--k", type=int, default=5)
    parser.add_argument("--vector-index", default="flat", choices=["flat", "hnsw", "ivf"])
    parser.add_argument("--threads", type=int, default=None,
                        help="torch and FAISS threads (default: theirs); 1 is far faster for "
                             "single queries on a busy 2-core machine")
    args = parser.parse_args()
    if args.threads:
        import faiss
        import torch

        torch.set_num_threads(args.threads)
        faiss.omp_set_num_threads(args.threads)
    embedder = Embedder()
    rng = np.random.default_rng(1)
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = Path(tmp) / "index"
        build_s = build(index_dir, args.chunks, embedder, args.vector_index)
        searcher = Searcher(index_dir, embedder=embedder)
        words = synthetic_words(np.random.default_rng(0))[:3000]
        queries = [" ".join(rng.choice(words, size=5)) for _ in range(args.queries)]
        print(f"chunks: {args.chunks}, vector index: {args.vector_index}, "
              f"threads: {args.threads or 'default'}, build: {build_s:.1f} s")
        print(f"{'mode':8}{'p50 ms':>10}{'p95 ms':>10}{'mean ms':>10}")
        for mode in ("bm25", "dense", "hybrid"):
            searcher.search(queries[0], k=args.k, mode=mode)  # warm caches
            times = []
            for q in queries:
                t = time.perf_counter()
                searcher.search(q, k=args.k, mode=mode)
                times.append((time.perf_counter() - t) * 1000)
            p50, p95 = np.percentile(times, [50, 95])
            print(f"{mode:8}{p50:10.1f}{p95:10.1f}{np.mean(times):10.1f}")


if __name__ == "__main__":
    main()
