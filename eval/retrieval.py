"""Retrieval benchmark on a BEIR dataset through the real index: BM25, dense and hybrid.

Each corpus entry becomes one chunk (its title kept apart, so BM25 indexes title + text
as Anserini's "flat" BEIR baseline does) and is embedded as ``title + " " + text``, as
MTEB embeds BEIR corpora; the embedder truncates at its own window. Queries go through
``Searcher.search_batch`` in each mode, top 100, and are scored with nDCG@10, R@100 and
MRR@10. ``python -m eval.retrieval --beir DIR`` prints ours beside the published figures.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import logging
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from core.errors import AssistantError, ConfigError, IndexMismatchError, IndexNotFoundError
from core.progress import Progress, for_stderr
from eval.beir import BeirDataset, BeirDoc, load_beir
from eval.metrics import (
    Qrels,
    Run,
    mrr,
    ndcg_at_k,
    paired_permutation_test,
    per_query,
    query_ndcg,
    recall_at_k,
)
from index import (
    MODES,
    BM25Config,
    DocRecord,
    HybridConfig,
    IndexWriter,
    Searcher,
    VectorIndexConfig,
)
from ingest.records import Chunk

if TYPE_CHECKING:
    from ingest.embedding import Embedder, EmbedderConfig

logger = logging.getLogger(__name__)

TOP_K = 100
SOURCE_PREFIX = "beir"

# Test-split figures quoted in ../shared/data/README.md. BM25: Anserini flat (title + text).
# Dense: all-MiniLM-L6-v2 as the README quotes it; note that the MTEB paper's own result
# file (embeddings-benchmark/mtebpaper, results/all-MiniLM-L6-v2/SciFact.json) records
# nDCG@10 0.64508 and R@100 0.925 for this model.
# As cited in ../shared/data/README.md (BM25: Anserini; dense: MTEB results repo).
PUBLISHED: dict[str, dict[str, float]] = {
    "bm25": {"ndcg@10": 0.679, "recall@100": 0.925},
    "dense": {"ndcg@10": 0.674},
}
# The MTEB paper's own result file for all-MiniLM-L6-v2 on SciFact
# (embeddings-benchmark/mtebpaper, results/all-MiniLM-L6-v2/SciFact.json) reports a lower
# dense figure than the one cited above; we print both so the gap is visible.
MTEB_PAPER_DENSE = {"ndcg@10": 0.64508, "recall@100": 0.925}


def score_run(qrels: Qrels, run: Run) -> dict[str, float]:
    """The benchmark's metrics for one run: ``ndcg@10``, ``recall@100`` and ``mrr@10``."""
    return {
        "ndcg@10": ndcg_at_k(qrels, run, 10),
        "recall@100": recall_at_k(qrels, run, 100),
        "mrr@10": mrr(qrels, run, 10),
    }


def _source(dataset: BeirDataset, doc_id: str) -> str:
    return f"{SOURCE_PREFIX}/{dataset.name}/{doc_id}"


def _content_hash(doc: BeirDoc) -> str:
    return hashlib.sha256(f"{doc.title}\0{doc.text}".encode()).hexdigest()


def corpus_records(dataset: BeirDataset) -> list[tuple[DocRecord, Chunk]]:
    """One ``(DocRecord, Chunk)`` per corpus entry; doc ids are the BEIR ids."""
    out = []
    for doc in dataset.corpus.values():
        source = _source(dataset, doc.doc_id)
        record = DocRecord(
            doc_id=doc.doc_id, source=source, content_hash=_content_hash(doc),
            size=len(doc.text.encode()), mtime=0.0, n_chunks=1, title=doc.title,
        )
        chunk = Chunk(
            chunk_id=f"{doc.doc_id}#0", doc_id=doc.doc_id, source=source, text=doc.text,
            start=0, end=len(doc.text), title=doc.title,
        )
        out.append((record, chunk))
    return out


def _holds(
    index_dir: Path, embedder: Embedder, records: list[tuple[DocRecord, Chunk]], bm25: BM25Config
) -> bool:
    """Whether ``index_dir`` already serves exactly ``records``, built the way we would."""
    try:
        searcher = Searcher(index_dir, embedder=embedder)  # another embedder: raises
    except IndexNotFoundError:
        return False
    try:
        held = {(d.source, d.content_hash) for d in searcher.documents()}
        manifest = searcher.manifest
    finally:
        searcher.close()
    return (
        held == {(r.source, r.content_hash) for r, _ in records}
        and manifest.bm25 == bm25
        and manifest.vector_config == VectorIndexConfig()
    )


def build_index(
    dataset: BeirDataset,
    index_dir: Path,
    embedder: Embedder,
    bm25: BM25Config | None = None,
    progress: Progress = True,
) -> int:
    """Make ``index_dir`` hold exactly ``dataset``'s corpus; returns how many docs it embedded.

    An index that already holds this corpus, embedder and BM25 config is reused as it is;
    unchanged documents of an older build are carried over without re-embedding. Raises
    ``IndexMismatchError`` for an index built by another embedder, or one holding
    documents from outside this dataset (which a rebuild would delete).
    """
    bm25 = bm25 or BM25Config()
    records = corpus_records(dataset)
    if _holds(Path(index_dir), embedder, records, bm25):
        logger.info("index %s already holds %s; reusing it", index_dir, dataset.name)
        return 0
    with IndexWriter.open(
        Path(index_dir), embedder.info, vector_config=VectorIndexConfig(), bm25_config=bm25
    ) as writer:
        previous = writer.previous_documents()
        foreign = sorted(set(previous) - {r.source for r, _ in records})
        if foreign:
            writer.abort()
            raise IndexMismatchError(
                f"index {index_dir} holds {len(foreign)} documents that are not in "
                f"{dataset.name} (e.g. {foreign[0]!r}); give an empty or dedicated index dir"
            )
        todo = [
            (r, c) for r, c in records
            if r.source not in previous or previous[r.source].content_hash != r.content_hash
        ]
        logger.info("embedding %d of %d documents", len(todo), len(records))
        started = time.perf_counter()
        texts = [dataset.corpus[r.doc_id].full_text for r, _ in todo]
        vectors = embedder.encode(texts, progress=progress)  # (len(todo), dim)
        logger.info("embedded in %.1fs", time.perf_counter() - started)
        added = {r.source: (r, [c], vectors[i : i + 1]) for i, (r, c) in enumerate(todo)}
        for record, _ in records:
            if record.source in added:
                writer.add_document(*added[record.source])
            else:
                writer.keep_document(record.source)
        writer.commit()
    return len(todo)


def run_queries(
    searcher: Searcher,
    dataset: BeirDataset,
    mode: str,
    k: int = TOP_K,
    drop_query_id: bool = True,
) -> dict[str, list[str]]:
    """Rank the corpus for every query of ``dataset`` in ``mode``: query id -> doc ids.

    ``drop_query_id`` removes a document whose id equals the query's, as BEIR's evaluator
    does by default (it matters for corpora that contain their own queries, e.g. Quora).
    """
    ids = list(dataset.queries)
    texts = [dataset.queries[q].text for q in ids]
    hits = searcher.search_batch(texts, k=k, mode=mode)
    run: dict[str, list[str]] = {}
    for qid, passages in zip(ids, hits, strict=True):
        docs = list(dict.fromkeys(p.doc_id for p in passages))  # best chunk per doc
        run[qid] = [d for d in docs if not (drop_query_id and d == qid)]
    return run


def evaluate_beir(
    beir_dir: Path,
    index_dir: Path | None = None,
    modes: Sequence[str] = MODES,
    embedder_config: EmbedderConfig | None = None,
    split: str = "test",
    progress: Progress = True,
    *,
    embedder: Embedder | None = None,
    hybrid: HybridConfig | None = None,
    bm25: BM25Config | None = None,
) -> dict[str, dict[str, float]]:
    """Index the corpus at ``beir_dir`` and score each of ``modes``: mode -> metric -> value.

    ``index_dir`` keeps (and reuses) the index; None builds one in a temporary directory.
    ``embedder`` overrides ``embedder_config`` (tests pass a small fake); ``hybrid`` and
    ``bm25`` override the defaults (the settings' fusion, by default convex with equal
    weights; k1=0.9, b=0.4). Raises ``BeirDataError`` for bad data, ``ConfigError`` for
    an unknown mode, and the index's errors for an unusable ``index_dir``.
    """
    unknown = [m for m in modes if m not in MODES]
    if unknown or not modes:
        raise ConfigError(f"modes must be among {', '.join(MODES)}, got {list(modes)!r}")
    dataset = load_beir(Path(beir_dir), split)
    if embedder is None:
        from ingest.embedding import Embedder

        embedder = Embedder(embedder_config)
    with contextlib.ExitStack() as stack:
        if index_dir is None:
            where = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="beir-index-")))
        else:
            where = Path(index_dir)
        build_index(dataset, where, embedder, bm25=bm25, progress=progress)
        searcher = Searcher(where, embedder=embedder, hybrid=hybrid)
        try:
            results, per_mode = {}, {}
            for mode in modes:
                started = time.perf_counter()
                run = run_queries(searcher, dataset, mode)
                results[mode] = score_run(dataset.qrels, run)
                per_mode[mode] = per_query(partial(query_ndcg, k=10), dataset.qrels, run)
                logger.info(
                    "%s: %d queries in %.1fs: %s", mode, len(run), time.perf_counter() - started,
                    ", ".join(f"{k}={v:.4f}" for k, v in results[mode].items()),
                )
        finally:
            searcher.close()
    if "hybrid" in per_mode:
        # Is hybrid's gain real? Paired sign-flip test on per-query nDCG@10.
        queries = sorted(per_mode["hybrid"])
        for other in (m for m in per_mode if m != "hybrid"):
            results["hybrid"][f"p_vs_{other}"] = paired_permutation_test(
                [per_mode["hybrid"][q] for q in queries], [per_mode[other][q] for q in queries]
            )
    return results


def format_table(
    results: Mapping[str, Mapping[str, float]],
    published: Mapping[str, Mapping[str, float]] = PUBLISHED,
) -> str:
    """A plain-text table of our figures beside the published ones and the difference."""
    lines = [f"{'mode':<8} {'metric':<11} {'ours':>7} {'published':>10} {'diff':>8}"]
    for mode, metrics in results.items():
        for metric, value in metrics.items():
            if metric.startswith("p_vs_"):
                verdict = "real" if value < 0.05 else "not significant"
                lines.append(f"{mode:<8} {metric:<11} {value:>7.4f}  (nDCG@10 gain {verdict})")
                continue
            ref = published.get(mode, {}).get(metric)
            ref_s, diff_s = ("-", "-") if ref is None else (f"{ref:.3f}", f"{value - ref:+.3f}")
            lines.append(f"{mode:<8} {metric:<11} {value:>7.4f} {ref_s:>10} {diff_s:>8}")
    if "dense" in results and published is PUBLISHED:
        dense = results["dense"]
        lines.append(
            f"note: the MTEB paper's result file for this model gives dense nDCG@10 "
            f"{MTEB_PAPER_DENSE['ndcg@10']:.4f}, R@100 {MTEB_PAPER_DENSE['recall@100']:.3f} "
            f"(ours {dense.get('ndcg@10', float('nan')):.4f}, "
            f"{dense.get('recall@100', float('nan')):.4f})"
        )
    return "\n".join(lines)


def _parse_modes(text: str) -> list[str]:
    modes = [m.strip() for m in text.split(",") if m.strip()]
    bad = [m for m in modes if m not in MODES]
    if bad or not modes:
        raise argparse.ArgumentTypeError(f"modes must be a comma list of {', '.join(MODES)}")
    return modes


def main(argv: list[str] | None = None) -> int:
    """``python -m eval.retrieval --beir DIR [--index DIR] [--json] [--modes bm25,dense]``."""
    parser = argparse.ArgumentParser(prog="python -m eval.retrieval", description=__doc__)
    parser.add_argument("--beir", type=Path, required=True, help="BEIR dataset directory")
    parser.add_argument("--index", type=Path, help="index directory to build or reuse")
    parser.add_argument("--split", default="test", help="qrels split (default: test)")
    parser.add_argument("--modes", type=_parse_modes, default=list(MODES), help="e.g. bm25,dense")
    parser.add_argument("--embedder", default=None, help="embedder model (default: bundled)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    parser.add_argument("--quiet", action="store_true", help="no progress bar or log lines")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s: %(message)s")
    for name in ("__main__", "eval", "index", "ingest"):  # not third-party chatter
        logging.getLogger(name).setLevel(logging.WARNING if args.quiet else logging.INFO)
    from ingest.embedding import EmbedderConfig

    progress = for_stderr(args.quiet, "eval retrieval")
    try:
        config = EmbedderConfig(model=args.embedder) if args.embedder else EmbedderConfig()
        started = time.perf_counter()
        results = evaluate_beir(
            args.beir, args.index, args.modes, config, args.split, progress=progress
        )
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        print(format_table(results))
        print(f"({time.perf_counter() - started:.0f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

