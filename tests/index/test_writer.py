"""IndexWriter: incremental versions, embedder checks, locking, aborts, pruning, bad input."""

from __future__ import annotations

import threading
import time
from dataclasses import replace

import numpy as np
import pytest
from synthetic import CORPUS, INFO, FakeEmbedder, assert_consistent, make_doc, write_corpus

from core.errors import IndexLockedError, IndexMismatchError
from index.bm25 import BM25Config
from index.searcher import Searcher
from index.store import IndexStore
from index.vectors import VectorIndexConfig
from index.writer import IndexWriter
from ingest.embedding import EmbedderInfo

EMBED = FakeEmbedder()


def vectors_of(index_dir, version):
    return np.load(IndexStore(index_dir).version_dir(version) / "vectors.npy")


def second_version(index_dir, **open_kw):
    """Keep two documents, update one, drop one, add one."""
    with IndexWriter.open(index_dir, INFO, **open_kw) as writer:
        previous = writer.previous_documents()
        assert set(previous) == set(CORPUS)
        writer.keep_document("handbook/vacation.md")
        texts = ["Refunds now take 60 days.", "Store credit is instant."]
        record, chunks = make_doc("policies/refunds.md", texts, "refunds.md", version="2")
        writer.add_document(record, chunks, EMBED.encode(texts))
        writer.keep_document("handbook/security.md")
        texts = ["Parking permits are issued by facilities."]
        record, chunks = make_doc("handbook/parking.md", texts, "parking.md")
        writer.add_document(record, chunks, EMBED.encode(texts))
        return writer.commit()


def test_add_keep_remove_across_commits(index_dir):
    first = write_corpus(index_dir)
    assert (first.version, first.n_docs, first.n_chunks) == ("v000001", 4, 8)
    assert first.stats.added == 4 and first.parent is None
    second = second_version(index_dir)
    assert second.version == "v000002" and second.parent == "v000001"
    stats = second.stats
    assert (stats.kept, stats.updated, stats.added, stats.removed) == (2, 1, 1, 1)
    assert (second.n_docs, second.n_chunks) == (4, 7)
    assert second.corpus_hash != first.corpus_hash
    assert_consistent(index_dir)

    searcher = Searcher(index_dir, embedder=EMBED)
    docs = {d.source: d for d in searcher.documents()}
    assert set(docs) == {"handbook/vacation.md", "handbook/security.md",
                         "policies/refunds.md", "handbook/parking.md"}
    assert all(p.source != "policies/shipping.md"
               for p in searcher.search("shipping express", k=10, mode="bm25"))
    assert searcher.search("refunds", k=1, mode="bm25")[0].text == "Refunds now take 60 days."

    # Kept documents carry their vectors over bit for bit (nothing was re-embedded).
    old, new = vectors_of(index_dir, "v000001"), vectors_of(index_dir, "v000002")
    np.testing.assert_array_equal(new[0:2], old[4:6])  # vacation: rows 4-5 -> 0-1
    np.testing.assert_array_equal(new[4:6], old[6:8])  # security: rows 6-7 -> 4-5
    hit = searcher.search_vector(old[7], k=1)[0]
    assert hit.text == CORPUS["handbook/security.md"][1] and hit.score == pytest.approx(1.0)
    assert hit.heading == ("Intro", "Part 1") and hit.page_index == 2


def test_keeps_in_any_order_with_adds_between_stay_consistent(index_dir):
    rng = np.random.default_rng(3)
    words = ["alpha", "beta", "gamma", "delta", "refund", "ship", "badge", "laptop",
             "vacation", "march", "office"]
    corpus = {f"d{i:02d}.md": [" ".join(rng.choice(words, 5)) for _ in range(1 + i % 3)]
              for i in range(20)}
    write_corpus(index_dir, corpus)
    for round_ in range(3):
        with IndexWriter.open(index_dir, INFO) as writer:
            sources = sorted(writer.previous_documents())
            for i in rng.permutation(len(sources)):
                source = sources[i]
                if rng.random() < 0.2:
                    continue  # removed
                if rng.random() < 0.3:
                    texts = [" ".join(rng.choice(words, 4)) for _ in range(2)]
                    record, chunks = make_doc(source, texts, version=f"r{round_}")
                    writer.add_document(record, chunks, EMBED.encode(texts))
                else:
                    writer.keep_document(source)
            texts = [f"new document number {round_}"]
            record, chunks = make_doc(f"new{round_}.md", texts)
            writer.add_document(record, chunks, EMBED.encode(texts))
            writer.commit()
        assert_consistent(index_dir)


def test_incremental_bm25_equals_full_rebuild(index_dir, tmp_path):
    write_corpus(index_dir)
    second_version(index_dir)
    fresh = tmp_path / "fresh"
    corpus = {
        "handbook/vacation.md": CORPUS["handbook/vacation.md"],
        "policies/refunds.md": ["Refunds now take 60 days.", "Store credit is instant."],
        "handbook/security.md": CORPUS["handbook/security.md"],
        "handbook/parking.md": ["Parking permits are issued by facilities."],
    }
    write_corpus(fresh, corpus)
    incremental, rebuilt = Searcher(index_dir), Searcher(fresh)
    for query in ("refunds days", "vacation march", "security laptops parking", "instant"):
        a = incremental.search(query, k=7, mode="bm25")
        b = rebuilt.search(query, k=7, mode="bm25")
        assert [p.text for p in a] == [p.text for p in b]
        np.testing.assert_allclose([p.score for p in a], [p.score for p in b], rtol=1e-5)


def test_changed_bm25_analysis_retokenizes_kept_documents(index_dir):
    write_corpus(index_dir)
    assert Searcher(index_dir).search("refunds", k=1, mode="bm25")
    config = BM25Config(stemmer="none", include_title=False)
    with IndexWriter.open(index_dir, INFO, bm25_config=config) as writer:
        for source in writer.previous_documents():
            writer.keep_document(source)
        manifest = writer.commit()
    assert manifest.bm25 == config
    assert_consistent(index_dir)
    searcher = Searcher(index_dir)
    assert [p.text for p in searcher.search("refunds", k=5, mode="bm25")] == [
        CORPUS["policies/refunds.md"][1]
    ]  # unstemmed: "refund" in the first chunk no longer matches


def test_an_index_from_before_headings_indexes_them_at_the_next_ingest(index_dir):
    write_corpus(index_dir, bm25_config=BM25Config(include_heading=None))  # as built before
    assert not Searcher(index_dir).search("intro", k=1, mode="bm25")  # "Intro" is a heading
    with IndexWriter.open(index_dir, INFO) as writer:
        for source in writer.previous_documents():
            writer.keep_document(source)
        manifest = writer.commit()
    assert manifest.bm25.include_heading is True  # re-tokenized, not re-embedded
    assert_consistent(index_dir)
    hits = Searcher(index_dir).search("vacation part 1", k=1, mode="bm25")
    assert hits and hits[0].text == "Unused vacation carries over until March."
    # a manifest written before the setting existed reads as "no headings"
    assert BM25Config.from_json({"k1": 0.9}).include_heading is None


def test_an_index_from_before_identifiers_were_split_splits_them_at_the_next_ingest(index_dir):
    corpus = {**CORPUS, "errors.md": ["40P01 deadlock_detected", "22012 division_by_zero"]}
    write_corpus(index_dir, corpus, bm25_config=BM25Config(split_identifiers=None))
    assert not Searcher(index_dir).search("deadlock", k=1, mode="bm25")
    before = vectors_of(index_dir, "v000001")
    with IndexWriter.open(index_dir, INFO) as writer:
        for source in writer.previous_documents():
            writer.keep_document(source)
        manifest = writer.commit()
    assert manifest.bm25.split_identifiers is True and manifest.stats.kept == 5
    np.testing.assert_array_equal(vectors_of(index_dir, manifest.version), before)
    assert_consistent(index_dir)
    hits = Searcher(index_dir).search("deadlock", k=1, mode="bm25")
    assert hits and hits[0].text == "40P01 deadlock_detected"
    # a manifest written before the setting existed reads as "not split"
    assert BM25Config.from_json({"k1": 0.9}).split_identifiers is None


def test_configs_default_to_the_live_versions(index_dir):
    config = VectorIndexConfig(kind="hnsw", device="cpu", hnsw_m=8)
    write_corpus(index_dir, vector_config=config, bm25_config=BM25Config(k1=1.2))
    manifest = second_version(index_dir)
    assert manifest.vector_config == config and manifest.vector_kind == "hnsw"
    assert manifest.bm25.k1 == 1.2
    assert Searcher(index_dir, embedder=EMBED).search("vacation days", k=1)[0].source == (
        "handbook/vacation.md"
    )


def test_other_embedder_on_reopen_is_a_mismatch(index_dir):
    write_corpus(index_dir)
    other = EmbedderInfo(model_id="bge-small@123456", dim=384, normalized=True, max_tokens=512)
    with pytest.raises(IndexMismatchError) as err:
        IndexWriter.open(index_dir, other)
    message = str(err.value)
    assert "fake-embedder@000000" in message and "bge-small@123456" in message
    assert "dim 16" in message and "dim 384" in message and "--embedder" in message
    IndexWriter.open(index_dir, INFO).abort()  # the failed open released the lock


def test_second_writer_is_locked_out_then_waits(index_dir):
    write_corpus(index_dir)
    first = IndexWriter.open(index_dir, INFO)
    with pytest.raises(IndexLockedError, match=r"locked by process \d+"):
        IndexWriter.open(index_dir, INFO, lock_timeout=0)
    result = {}

    def wait_for_lock():
        with IndexWriter.open(index_dir, INFO, lock_timeout=30) as writer:
            result["waited"] = time.monotonic() - start
            for source in writer.previous_documents():
                writer.keep_document(source)
            result["manifest"] = writer.commit()

    start = time.monotonic()
    thread = threading.Thread(target=wait_for_lock)
    thread.start()
    time.sleep(0.3)
    assert "manifest" not in result
    for source in first.previous_documents():
        first.keep_document(source)
    assert first.commit().version == "v000002"
    thread.join(timeout=30)
    assert result["manifest"].version == "v000003" and result["waited"] >= 0.3
    assert result["manifest"].stats.kept == 4


def test_exception_inside_with_aborts_and_keeps_previous(index_dir):
    write_corpus(index_dir)
    with pytest.raises(RuntimeError, match="embedding failed"), IndexWriter.open(
        index_dir, INFO
    ) as writer:
        writer.keep_document("handbook/vacation.md")
        raise RuntimeError("embedding failed")
    store = IndexStore(index_dir)
    assert store.current() == "v000001" and store.versions() == ["v000001"]
    assert list(store.versions_dir.iterdir()) == [store.version_dir("v000001")]
    assert Searcher(index_dir).manifest.n_docs == 4
    IndexWriter.open(index_dir, INFO).abort()  # lock was released


def test_pruning_keeps_live_plus_n_previous(index_dir):
    write_corpus(index_dir, keep_versions=1)
    for _ in range(3):
        with IndexWriter.open(index_dir, INFO, keep_versions=1) as writer:
            for source in writer.previous_documents():
                writer.keep_document(source)
            writer.commit()
    store = IndexStore(index_dir)
    assert store.current() == "v000004"
    assert store.versions() == ["v000003", "v000004"]
    with IndexWriter.open(index_dir, INFO, keep_versions=0) as writer:
        writer.commit()  # keeps nothing: the new version is empty
    assert store.versions() == ["v000005"]
    empty = Searcher(index_dir, embedder=EMBED)
    assert empty.manifest.n_chunks == 0
    for mode in ("bm25", "dense", "hybrid"):
        assert empty.search("refunds", k=3, mode=mode) == []


def test_bad_input_is_rejected_and_nothing_is_lost(index_dir):
    write_corpus(index_dir)
    with IndexWriter.open(index_dir, INFO) as writer:
        record, chunks = make_doc("new.md", ["one", "two"])
        with pytest.raises(ValueError, match=r"shape \(2, 8\), expected \(2, 16\)"):
            writer.add_document(record, chunks, np.zeros((2, 8), np.float32))
        with pytest.raises(ValueError, match=r"shape \(1, 16\)"):
            writer.add_document(record, chunks, EMBED.encode(["one"]))
        bad = EMBED.encode(["one", "two"])
        bad[1, 3] = np.nan
        with pytest.raises(ValueError, match="NaN"):
            writer.add_document(record, chunks, bad)
        foreign = make_doc("other.md", ["x"])[1]
        with pytest.raises(ValueError, match="belongs to 'other.md'"):
            writer.add_document(record, foreign, EMBED.encode(["x"]))
        with pytest.raises(KeyError, match="nope.md"):
            writer.keep_document("nope.md")
        writer.keep_document("handbook/vacation.md")
        with pytest.raises(ValueError, match="already kept or added"):
            writer.keep_document("handbook/vacation.md")
        # A chunk id that collides with a kept chunk: refused as a whole.
        _, vacation = make_doc("handbook/vacation.md", CORPUS["handbook/vacation.md"])
        clash_record, _ = make_doc("clash.md", ["a", "b"])
        clash = [replace(c, source="clash.md", doc_id=clash_record.doc_id) for c in vacation]
        with pytest.raises(ValueError, match="chunk id already"):
            writer.add_document(clash_record, clash, EMBED.encode(["a", "b"]))
        writer.add_document(record, chunks, EMBED.encode(["one", "two"]))  # still fine
        manifest = writer.commit()
    assert (manifest.n_docs, manifest.n_chunks) == (2, 4)
    texts = [p.text for p in Searcher(index_dir).search("unused one", k=10, mode="bm25")]
    assert sorted(texts) == ["Unused vacation carries over until March.", "one"]
    with pytest.raises(RuntimeError, match="closed"):
        writer.keep_document("new.md")


def test_ivf_quantizer_is_reused_by_incremental_commits(index_dir):
    import faiss

    rng = np.random.default_rng(5)
    words = ["refund", "ship", "badge", "laptop", "vacation", "march", "office", "card"]
    corpus = {f"d{i:03d}.md": [" ".join(rng.choice(words, 4)) for _ in range(4)]
              for i in range(60)}
    config = VectorIndexConfig(kind="ivf", device="cpu", ivf_nlist=4, ivf_nprobe=4)
    first = write_corpus(index_dir, corpus, vector_config=config)
    assert first.vector_kind == "ivf"
    second = second_version_of(index_dir, corpus)
    assert second.vector_kind == "ivf" and second.vector_config == config
    store = IndexStore(index_dir)
    indexes = [faiss.read_index(str(store.version_dir(v) / "vectors.faiss"))
               for v in (first.version, second.version)]  # kept alive: quantizers point in
    ivfs = [faiss.extract_index_ivf(index) for index in indexes]
    assert [ivf.ntotal for ivf in ivfs] == [240, 220]
    np.testing.assert_array_equal(*(ivf.quantizer.reconstruct_n(0, 4) for ivf in ivfs))
    assert_consistent(index_dir)
    text = corpus["d010.md"][2]
    assert Searcher(index_dir, embedder=EMBED).search(text, k=1, mode="dense")[0].text == text


def second_version_of(index_dir, corpus):
    with IndexWriter.open(index_dir, INFO) as writer:
        for source in sorted(corpus)[5:]:
            writer.keep_document(source)
        return writer.commit()


def test_gpu_request_without_gpu_fails_before_any_work(index_dir):
    from core.errors import ConfigError
    from index.vectors import gpu_count

    if gpu_count():
        pytest.skip("this machine has a usable GPU")
    with pytest.raises(ConfigError, match="no GPU"):
        IndexWriter.open(index_dir, INFO, vector_config=VectorIndexConfig(device="gpu"))
    IndexWriter.open(index_dir, INFO).abort()  # not left locked
    assert IndexStore(index_dir).current() is None


def test_hnsw_graph_is_carried_over_then_rebuilt_when_too_sparse(index_dir):
    import faiss

    rng = np.random.default_rng(11)
    words = ["refund", "ship", "badge", "laptop", "vacation", "march", "office", "card",
             "alpha", "beta", "gamma", "delta"]
    corpus = {f"d{i:03d}.md": [" ".join(rng.choice(words, 6)) for _ in range(3)]
              for i in range(40)}
    config = VectorIndexConfig(kind="hnsw", device="cpu", hnsw_m=8)
    write_corpus(index_dir, corpus, vector_config=config)
    store = IndexStore(index_dir)

    def commit(drop: int, add: int, tag: str):
        with IndexWriter.open(index_dir, INFO) as writer:
            for source in sorted(writer.previous_documents())[drop:]:
                writer.keep_document(source)
            for j in range(add):
                texts = [" ".join(rng.choice(words, 6)) for _ in range(3)]
                record, chunks = make_doc(f"{tag}{j}.md", texts)
                writer.add_document(record, chunks, EMBED.encode(texts))
            manifest = writer.commit()
        version = store.version_dir(manifest.version)
        graph = faiss.read_index(str(version / "vectors.faiss"))
        has_rows = (version / "vectors.rows.npy").exists()
        assert_consistent(index_dir)
        searcher = Searcher(index_dir, embedder=EMBED)
        for passage in searcher.search_vectors(
            np.load(version / "vectors.npy"), k=1
        ):  # every chunk finds itself; no deleted node is ever returned
            assert passage and passage[0].score == pytest.approx(1.0, abs=1e-4)
        return graph.ntotal, has_rows, manifest

    ntotal, has_rows, manifest = commit(drop=4, add=2, tag="a")  # 12 dead, 6 added
    assert (ntotal, has_rows, manifest.n_chunks) == (126, True, 114)
    ntotal, has_rows, manifest = commit(drop=2, add=0, tag="b")  # 18 dead of 126: carried
    assert (ntotal, has_rows, manifest.n_chunks) == (126, True, 108)
    ntotal, has_rows, manifest = commit(drop=5, add=1, tag="c")  # 33 dead > 25%: rebuilt
    assert (ntotal, has_rows, manifest.n_chunks) == (96, False, 96)
