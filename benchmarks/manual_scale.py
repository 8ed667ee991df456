"""Scale test on a real manual: ingest every page of the PostgreSQL 15 documentation.

Ingests ``../shared/data/postgresql-15-docs/html`` (1,169 pages) into a fresh index in one
run, then searches it with the manual's evaluation questions (examples/postgresql), and
prints: ingest time (by stage), peak memory, chunk count, skipped files, index size on
disk, and search latency p50/p95 per mode. A second ingest of the unchanged pages shows
the incremental path (nothing re-embedded).

    .venv/bin/python -m benchmarks.manual_scale [--index DIR] [--keep]

Run it with nothing else on the machine: the figures are wall-clock.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

from index.build import ingest
from index.searcher import Searcher
from index.store import dir_size
from ingest.embedding import Embedder

REPO = Path(__file__).resolve().parents[1]
MANUAL = REPO.parent / "shared" / "data" / "postgresql-15-docs" / "html"
QUESTIONS = REPO / "examples" / "postgresql" / "questions.jsonl"


def peak_rss_mb() -> float:
    """Peak resident memory of this process so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def search_latency(searcher: Searcher, questions: list[str], mode: str, k: int = 5,
                   ) -> tuple[float, float]:
    """p50 and p95 seconds of one search per question (after one warm-up search)."""
    searcher.search(questions[0], k=k, mode=mode)
    times = []
    for q in questions:
        clock = time.perf_counter()
        searcher.search(q, k=k, mode=mode)
        times.append(time.perf_counter() - clock)
    times.sort()
    return statistics.median(times), times[min(len(times) - 1, int(0.95 * len(times)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--manual", type=Path, default=MANUAL)
    parser.add_argument("--index", type=Path, default=None,
                        help="where to build the index (default: a temporary folder)")
    args = parser.parse_args()
    if not args.manual.is_dir():
        print(f"no manual at {args.manual}", file=sys.stderr)
        return 2
    questions = [json.loads(line)["question"] for line in QUESTIONS.read_text().splitlines()
                 if line.strip()]
    with tempfile.TemporaryDirectory() as tmp:
        index_dir = args.index or Path(tmp) / "index"
        embedder = Embedder()
        clock = time.perf_counter()
        report = ingest([args.manual], index_dir, progress=False, embedder=embedder)
        ingest_s = time.perf_counter() - clock
        rss = peak_rss_mb()
        clock = time.perf_counter()
        again = ingest([args.manual], index_dir, progress=False, embedder=embedder)
        again_s = time.perf_counter() - clock
        searcher = Searcher(index_dir, embedder=embedder)
        rows = [(mode, *search_latency(searcher, questions, mode))
                for mode in ("bm25", "dense", "hybrid")]
        searcher.close()
        size = dir_size(index_dir)
    pages = sum(1 for p in args.manual.iterdir() if p.suffix == ".html")
    print(f"PostgreSQL 15 manual: {pages} HTML pages, {report.chunks_total} chunks, "
          f"{len(report.skipped)} files skipped "
          f"({', '.join(sorted(s.source.rsplit('/', 1)[-1] for s in report.skipped))})")
    print("| figure | value |\n|---|---|")
    print(f"| ingest, whole manual | {ingest_s:.0f} s "
          f"({', '.join(f'{k} {v:.0f} s' for k, v in report.seconds.items())}) |")
    print(f"| chunks | {report.chunks_total} |")
    print(f"| peak memory (RSS) | {rss:.0f} MiB |")
    print(f"| index size on disk | {size / 2**20:.0f} MiB |")
    print(f"| second ingest, nothing changed | {again_s:.1f} s, "
          f"{again.chunks_embedded} chunks re-embedded |")
    for mode, p50, p95 in rows:
        print(f"| search {mode}, k=5 ({len(questions)} questions) | p50 {p50 * 1000:.1f} ms, "
              f"p95 {p95 * 1000:.1f} ms |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
