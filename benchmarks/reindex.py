"""Incremental re-index: time after changing 1% of files, as a fraction of a full build.

    .venv/bin/python -m benchmarks.reindex --docs 1000
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from benchmarks.ingest_throughput import write_docs
from index.build import ingest
from ingest.embedding import Embedder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000)
    parser.add_argument("--changed", type=float, default=0.01, help="fraction of files changed")
    args = parser.parse_args()
    embedder = Embedder()
    embedder.encode(["warm up"] * 8)
    with tempfile.TemporaryDirectory() as tmp:
        docs, index = Path(tmp) / "docs", Path(tmp) / "index"
        n = write_docs(docs, args.docs)
        start = time.perf_counter()
        full = ingest([docs], index, progress=False, embedder=embedder)
        full_s = time.perf_counter() - start

        files = sorted(docs.iterdir())
        n_changed = max(1, int(n * args.changed))
        for path in files[:n_changed]:
            path.write_text(path.read_text() + "\nRevised: this abstract was updated.\n")
        start = time.perf_counter()
        again = ingest([docs], index, progress=False, embedder=embedder)
        re_s = time.perf_counter() - start
    embed_share = full.seconds.get("embed", 0.0) * again.chunks_embedded / full.chunks_embedded
    print(f"files: {n}, chunks: {full.chunks_total}, changed files: {n_changed}")
    print(f"{'':34}{'seconds':>10}")
    print(f"{'full build':34}{full_s:10.2f}")
    print(f"{'re-index after change':34}{re_s:10.2f}")
    print(f"{'  of which embedding the change':34}{again.seconds.get('embed', 0):10.2f}")
    print(f"re-index / full: {re_s / full_s:.4f}  "
          f"(goal <= 0.05 + embedding share {embed_share / full_s:.4f})")
    print("full stages (s):", {k: round(v, 2) for k, v in full.seconds.items()})
    print("re-index stages (s):", {k: round(v, 2) for k, v in again.seconds.items()})


if __name__ == "__main__":
    main()
