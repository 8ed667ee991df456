"""Searcher: modes, filters, batches, refresh while serving, info, and every bad input."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field

import numpy as np
import pytest
from synthetic import CORPUS, INFO, FakeEmbedder, write_corpus

from core.errors import ConfigError, IndexMismatchError, IndexNotFoundError
from index.hybrid import HybridConfig
from index.searcher import Searcher
from index.writer import IndexWriter
from ingest.embedding import EmbedderInfo

EMBED = FakeEmbedder()


@pytest.fixture
def searcher(index_dir):
    write_corpus(index_dir)
    return Searcher(index_dir, embedder=EMBED)


def test_missing_index_says_how_to_make_one(tmp_path):
    for path in (tmp_path / "nowhere", tmp_path):
        with pytest.raises(IndexNotFoundError, match="run `assistant ingest"):
            Searcher(path)
    # a documents folder given as the index is not one to ingest into (ingest refuses it)
    (tmp_path / "policy.md").write_text("# Policy\n\nText.\n")
    with pytest.raises(IndexNotFoundError, match="is no index: it holds other files"):
        Searcher(tmp_path)


@pytest.mark.parametrize("current", [b"", b"../../etc\n", b"\xff\xfe garbage"])
def test_a_damaged_current_is_a_clear_error_that_changes_nothing(index_dir, current):
    write_corpus(index_dir)
    (index_dir / "CURRENT").write_bytes(current)
    for open_it in (lambda: Searcher(index_dir, embedder=EMBED),
                    lambda: IndexWriter.open(index_dir, INFO)):
        with pytest.raises(IndexNotFoundError, match=r"index .*CURRENT"):
            open_it()
    assert (index_dir / "CURRENT").read_bytes() == current
    assert [p.name for p in (index_dir / "versions").iterdir()] == ["v000001"]


def test_an_index_path_that_is_a_file_is_a_clear_error(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# not an index\n")
    with pytest.raises(IndexNotFoundError, match="is a file, not an index directory"):
        Searcher(path, embedder=EMBED)
    with pytest.raises(ConfigError, match="is a file, not an index directory"):
        IndexWriter.open(path, INFO)
    with pytest.raises(ConfigError, match="cannot use .* as an index directory"):
        IndexWriter.open(path / "index", INFO)
    assert path.read_text() == "# not an index\n"


def test_a_folder_of_other_files_is_not_made_an_index(tmp_path):
    docs = tmp_path / "docs"  # `--index docs`: the documents' own folder
    docs.mkdir()
    (docs / "guide.md").write_text("# Guide\n")
    with pytest.raises(ConfigError, match=r"holds other files \(guide.md\) and no index"):
        IndexWriter.open(docs, INFO)
    assert sorted(p.name for p in docs.iterdir()) == ["guide.md"]
    empty = tmp_path / "empty"  # an empty folder, or a new one, is fine
    empty.mkdir()
    IndexWriter.open(empty, INFO).abort()
    IndexWriter.open(tmp_path / "new", INFO).abort()


def test_a_damaged_chunk_database_is_a_clear_error(index_dir):
    write_corpus(index_dir)
    (index_dir / "versions" / "v000001" / "chunks.sqlite").write_bytes(b"garbage")
    with pytest.raises(IndexMismatchError, match="not an index's chunk database"):
        Searcher(index_dir, embedder=EMBED)
    with pytest.raises(IndexMismatchError, match="not an index's chunk database"):
        IndexWriter.open(index_dir, INFO)


@pytest.mark.parametrize("k", [0, 1001, -3, 2.5, "5", True])
def test_bad_k(searcher, k):
    with pytest.raises(ConfigError, match=r"k must be an integer in 1\.\.1000"):
        searcher.search("refund", k=k)


@pytest.mark.parametrize("query", ["", "   \n\t"])
def test_empty_query(searcher, query):
    with pytest.raises(ConfigError, match="query is empty"):
        searcher.search(query)


def test_bad_mode_and_sources(searcher):
    with pytest.raises(ConfigError, match="bm25, dense, hybrid"):
        searcher.search("refund", mode="semantic")
    with pytest.raises(ConfigError, match="sources"):
        searcher.search("refund", sources=[""])


def test_wrong_embedder_is_a_mismatch(index_dir):
    write_corpus(index_dir)
    other = FakeEmbedder(EmbedderInfo("other@1", 16, True, 128))
    with pytest.raises(IndexMismatchError, match="other@1"):
        Searcher(index_dir, embedder=other)


@pytest.mark.parametrize("mode", ["bm25", "dense", "hybrid"])
def test_each_mode_finds_the_right_chunk(searcher, mode):
    passages = searcher.search("how long does express shipping take", k=3, mode=mode)
    assert passages[0].source == "policies/shipping.md"
    assert mode in passages[0].scores or mode == "hybrid"
    assert [p.score for p in passages] == sorted((p.score for p in passages), reverse=True)
    top = passages[0]
    assert top.title == "shipping.md" and top.heading[0] == "Intro" and top.end > top.start


def test_hybrid_reports_per_retriever_scores(searcher, index_dir):
    query = "Refunds are paid back to the original card."
    top = searcher.search(query, k=1, mode="hybrid")[0]
    assert set(top.scores) == {"bm25", "dense", "convex"}
    assert top.scores["dense"] == pytest.approx(1.0)
    assert top.score == top.scores["convex"] == pytest.approx(1.0)  # first in both lists
    fused = Searcher(index_dir, embedder=EMBED, hybrid=HybridConfig(fusion="rrf"))
    top = fused.search(query, k=1, mode="hybrid")[0]
    assert set(top.scores) == {"bm25", "dense", "rrf"}
    assert top.score == top.scores["rrf"] == pytest.approx(2 / 61)  # first in both lists


def test_fusion_comes_from_the_settings(index_dir, monkeypatch):
    from core.settings import get_settings

    write_corpus(index_dir)
    monkeypatch.setenv("ASSISTANT_SEARCH_FUSION", "rrf")
    monkeypatch.setenv("ASSISTANT_SEARCH_DENSE_WEIGHT", "0.25")
    get_settings.cache_clear()
    try:
        searcher = Searcher(index_dir, embedder=EMBED)
    finally:
        get_settings.cache_clear()
    assert searcher.hybrid.fusion == "rrf"
    assert searcher.hybrid.weights == {"bm25": 0.75, "dense": 0.25}
    assert "rrf" in searcher.search("refund days", k=1, mode="hybrid")[0].scores


def test_hybrid_weights_are_applied(index_dir):
    write_corpus(index_dir)
    lexical = Searcher(index_dir, embedder=EMBED, hybrid=HybridConfig(dense_weight=0.0))
    bm25_order = [p.chunk_id for p in lexical.search("vacation days", k=4, mode="bm25")]
    fused = lexical.search("vacation days", k=4, mode="hybrid")
    assert [p.chunk_id for p in fused[: len(bm25_order)]] == bm25_order


def test_sources_filter_exact_and_glob(searcher):
    hits = searcher.search("days", k=10, mode="bm25", sources=["handbook/*"])
    assert hits and all(p.source.startswith("handbook/") for p in hits)
    hits = searcher.search("days", k=10, mode="dense", sources="policies/refunds.md")
    assert {p.source for p in hits} == {"policies/refunds.md"}
    hits = searcher.search("days", k=10, mode="hybrid", sources=["policies/*", "nothing"])
    assert {p.source for p in hits} <= {"policies/refunds.md", "policies/shipping.md"}
    assert searcher.search("days", k=5, sources=["no/such/*"]) == []


def test_batch_equals_single(searcher):
    queries = ["refund card", "badge office", "vacation march"]
    batch = searcher.search_batch(queries, k=3, mode="hybrid")
    assert [[p.chunk_id for p in r] for r in batch] == [
        [p.chunk_id for p in searcher.search(q, k=3, mode="hybrid")] for q in queries
    ]
    vectors = EMBED.encode(queries)
    by_vector = searcher.search_vectors(vectors, k=2)
    assert [r[0].chunk_id for r in by_vector] == [
        searcher.search(q, k=1, mode="dense")[0].chunk_id for q in queries
    ]


def test_search_vector_validates_shape(searcher):
    with pytest.raises(ConfigError, match=r"shape \(q, 16\)"):
        searcher.search_vector(np.zeros(8, np.float32))
    with pytest.raises(ConfigError, match="NaN"):
        searcher.search_vector(np.full(16, np.nan, np.float32))


def test_refresh_swaps_versions_while_old_one_keeps_serving(index_dir):
    write_corpus(index_dir)
    searcher = Searcher(index_dir, embedder=EMBED)
    assert searcher.refresh() is False
    old_snapshot = searcher._snapshot
    with IndexWriter.open(index_dir, INFO, keep_versions=0) as writer:
        writer.keep_document("policies/refunds.md")
        writer.commit()  # prunes v000001 from disk while the searcher still has it open
    assert searcher.version == "v000001"
    assert len(searcher.search("vacation", k=5, mode="hybrid")) > 0  # old version, files gone
    assert searcher.refresh() is True and searcher.version == "v000002"
    assert searcher.search("vacation", k=5, mode="bm25") == []
    assert searcher.refresh() is False
    assert old_snapshot.db.chunks([0])  # the swapped-out snapshot still answers


def test_concurrent_searches_during_refresh(index_dir):
    write_corpus(index_dir)
    searcher = Searcher(index_dir, embedder=EMBED)
    errors: list[BaseException] = []

    def hammer():
        try:
            for _ in range(30):
                assert searcher.search("refund shipping vacation", k=3)
        except BaseException as exc:  # collected and re-raised in the main thread
            errors.append(exc)

    threads = [threading.Thread(target=hammer) for _ in range(3)]
    for thread in threads:
        thread.start()
    for _ in range(3):
        with IndexWriter.open(index_dir, INFO, keep_versions=0) as writer:
            for source in writer.previous_documents():
                writer.keep_document(source)
            writer.commit()
        searcher.refresh()
    for thread in threads:
        thread.join()
    assert not errors and searcher.version == "v000004"


def test_info(searcher, index_dir):
    info = searcher.info()
    assert info["version"] == "v000001" and info["versions"] == ["v000001"]
    assert info["n_docs"] == 4 and info["n_chunks"] == 8
    assert info["embedder"]["model_id"] == INFO.model_id and info["vector_kind"] == "flat"
    assert 0 < info["size_bytes"] <= info["total_size_bytes"]
    assert info["created_at"].endswith("+00:00") and len(info["corpus_hash"]) == 64
    assert len(searcher.documents()) == len(CORPUS)


@dataclass
class ReverseReranker:
    """Scores passages by reversed retrieval rank: checks the plumbing, not a model."""

    candidates: int = 6
    seen: list[int] = field(default_factory=list)

    def rerank(self, query, passages):
        from index.rerank import rerank_with

        self.seen.append(len(passages))
        return rerank_with(lambda q, texts: list(range(len(texts))), query, passages)


def test_reranker_gets_the_candidate_pool_and_reorders(index_dir):
    write_corpus(index_dir)
    reranker = ReverseReranker()
    plain = Searcher(index_dir, embedder=EMBED).search("refund days", k=6, mode="hybrid")
    searcher = Searcher(index_dir, embedder=EMBED, reranker=reranker)
    reranked = searcher.search("refund days", k=2, mode="hybrid")
    assert reranker.seen == [6]
    assert [p.chunk_id for p in reranked] == [plain[5].chunk_id, plain[4].chunk_id]
    assert reranked[0].scores["rerank"] == 5.0 and "convex" in reranked[0].scores


def test_current_naming_a_missing_version(index_dir):
    import shutil

    from index.store import IndexStore

    write_corpus(index_dir)
    shutil.rmtree(IndexStore(index_dir).version_dir("v000001"))
    with pytest.raises(IndexNotFoundError, match="v000001"):
        Searcher(index_dir)
    with pytest.raises(IndexNotFoundError, match="is missing"):
        IndexWriter.open(index_dir, INFO)
    IndexStore(index_dir).acquire_lock(timeout=0).release()  # the failed open released it


@pytest.mark.parametrize("kind", ["flat", "hnsw"])
def test_old_snapshot_survives_pruning_before_its_first_dense_search(index_dir, kind):
    from index.vectors import VectorIndexConfig

    config = VectorIndexConfig(kind=kind, device="cpu", hnsw_m=8)
    write_corpus(index_dir, vector_config=config)
    searcher = Searcher(index_dir, embedder=EMBED)
    for _ in range(2):
        with IndexWriter.open(index_dir, INFO, keep_versions=0) as writer:
            writer.commit()  # empty versions; v000001 is deleted from disk
    assert searcher.version == "v000001"
    text = CORPUS["handbook/security.md"][1]
    assert searcher.search(text, k=1, mode="dense")[0].text == text
