"""BEIR loading on hand-written datasets, and the retrieval benchmark end to end."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from shared_data import SHARED_DATA

from core.errors import ConfigError, IndexMismatchError
from eval.beir import BeirDataError, BeirDataset, load_beir, load_qrels
from eval.retrieval import (
    build_index,
    evaluate_beir,
    format_table,
    run_queries,
    score_run,
)
from index import MODES, Searcher
from ingest.embedding import EmbedderInfo

SCIFACT = SHARED_DATA / "scifact"


def write_beir(
    root: Path,
    docs: list[dict],
    queries: list[dict],
    qrels: str,
    split: str = "test",
) -> Path:
    """Write a BEIR dataset directory; ``qrels`` is the raw TSV text, written byte for byte."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "corpus.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    (root / "queries.jsonl").write_text("".join(json.dumps(q) + "\n" for q in queries))
    (root / "qrels").mkdir(exist_ok=True)
    (root / "qrels" / f"{split}.tsv").write_bytes(qrels.encode())
    return root


DOCS = [
    {"_id": "d1", "title": "Cats", "text": "Cats purr.", "metadata": {}},
    {"_id": "d2", "title": "", "text": "Dogs bark."},
    {"_id": "d3", "text": "No title field at all."},
]
QUERIES = [{"_id": "q1", "text": "do cats purr"}, {"_id": "q2", "text": "barking"}, {"_id": "q3"}]
QUERIES[2]["text"] = "never judged"


def test_load_crlf_with_header(tmp_path: Path) -> None:
    qrels = "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq2\td2\t2\r\nq2\td3\t0\r\n\r\n"
    data = load_beir(write_beir(tmp_path / "tiny", DOCS, QUERIES, qrels))
    assert data.name == "tiny" and data.split == "test"
    assert list(data.corpus) == ["d1", "d2", "d3"]
    assert data.corpus["d1"].full_text == "Cats Cats purr."
    assert data.corpus["d3"].title == ""
    assert data.corpus["d2"].full_text == "Dogs bark."
    assert dict(data.qrels) == {"q1": {"d1": 1}, "q2": {"d2": 2, "d3": 0}}
    assert list(data.queries) == ["q1", "q2"]  # q3 has no judgments in this split
    assert data.queries["q1"].text == "do cats purr"


def test_load_lf_without_header(tmp_path: Path) -> None:
    path = tmp_path / "q.tsv"
    path.write_text("q1\td1\t1\nq1\td2\t1\n")
    assert load_qrels(path) == {"q1": {"d1": 1, "d2": 1}}


def test_corpus_hash_tracks_content(tmp_path: Path) -> None:
    qrels = "q1\td1\t1\n"
    a = load_beir(write_beir(tmp_path / "a", DOCS, QUERIES, qrels))
    b = load_beir(write_beir(tmp_path / "b", DOCS, QUERIES, qrels))
    changed = [dict(DOCS[0], text="Cats meow."), *DOCS[1:]]
    c = load_beir(write_beir(tmp_path / "c", changed, QUERIES, qrels))
    assert a.corpus_hash() == b.corpus_hash() != c.corpus_hash()


@pytest.mark.parametrize(
    ("qrels", "message"),
    [
        ("query-id\tcorpus-id\tscore\nq1\td1\n", r"test\.tsv:2: expected 3 tab-separated"),
        ("query-id\tcorpus-id\tscore\nq1\td1\tyes\n", r"test\.tsv:2: score must be an integer"),
        ("q1 d1 1\n", r"test\.tsv:1: expected 3 tab-separated fields, got 1"),
        ("query-id\tcorpus-id\tscore\n", r"test\.tsv: no judgments"),
        ("q9\td1\t1\n", r"query ids not in queries\.jsonl: \['q9'\]"),
        ("q1\td9\t1\n", r"corpus ids not in corpus\.jsonl: \['d9'\]"),
    ],
)
def test_bad_qrels(tmp_path: Path, qrels: str, message: str) -> None:
    with pytest.raises(BeirDataError, match=message):
        load_beir(write_beir(tmp_path / "bad", DOCS, QUERIES, qrels))


def test_bad_corpus_lines(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "bad", DOCS, QUERIES, "q1\td1\t1\n")
    corpus = root / "corpus.jsonl"
    corpus.write_text('{"_id": "d1", "text": "ok"}\n{"_id": "d2", "text": \n')
    with pytest.raises(BeirDataError, match=r"corpus\.jsonl:2: not valid JSON"):
        load_beir(root)
    corpus.write_text('{"_id": "d1", "title": "t"}\n')
    with pytest.raises(BeirDataError, match=r"corpus\.jsonl:1: missing field 'text'"):
        load_beir(root)
    corpus.write_text('{"_id": "d1", "text": "a"}\n{"_id": "d1", "text": "b"}\n')
    with pytest.raises(BeirDataError, match=r"corpus\.jsonl:2: duplicate _id 'd1'"):
        load_beir(root)
    corpus.write_text('{"_id": "d1", "text": 5}\n')
    with pytest.raises(BeirDataError, match=r"field 'text' must be a string"):
        load_beir(root)
    corpus.write_text('[1, 2]\n')
    with pytest.raises(BeirDataError, match=r"corpus\.jsonl:1: expected a JSON object"):
        load_beir(root)


def test_missing_files(tmp_path: Path) -> None:
    root = write_beir(tmp_path / "ds", DOCS, QUERIES, "q1\td1\t1\n")
    with pytest.raises(BeirDataError, match=r"qrels[/\\]dev\.tsv: file not found"):
        load_beir(root, split="dev")
    (root / "queries.jsonl").unlink()
    with pytest.raises(BeirDataError, match=r"queries\.jsonl: file not found"):
        load_beir(root)
    with pytest.raises(BeirDataError, match="not a directory"):
        load_beir(tmp_path / "nowhere")


def test_integer_ids_are_read_as_strings(tmp_path: Path) -> None:
    docs = [{"_id": 7, "title": "", "text": "seven"}]
    queries = [{"_id": 1, "text": "number"}]
    data = load_beir(write_beir(tmp_path / "ints", docs, queries, "1\t7\t1\n"))
    assert list(data.corpus) == ["7"] and list(data.queries) == ["1"]


@pytest.mark.skipif(not SCIFACT.is_dir(), reason=f"SciFact not found at {SCIFACT}")
def test_scifact_counts() -> None:
    # Figures from ../shared/data/README.md.
    data = load_beir(SCIFACT)
    assert len(data.corpus) == 5183
    assert len(data.queries) == 300
    assert sum(len(j) for j in data.qrels.values()) == 339


# --- end to end through the real IndexWriter and Searcher ------------------------------

TOPICS = {
    "cat": 0, "cats": 0, "feline": 0, "felines": 0,
    "dog": 1, "dogs": 1, "canine": 1, "canines": 1,
    "bird": 2, "birds": 2, "fish": 3, "aquatic": 3,
}


class TopicEmbedder:
    """Maps known words to topic axes (synonyms share one), anything else to a spare axis.

    Cosine scores are exact, so dense rankings are known in advance: same topic 1.0,
    otherwise 0.0, ties by corpus order.
    """

    info = EmbedderInfo(model_id="topic-embedder@test", dim=8, normalized=True, max_tokens=64)

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        out = np.zeros((len(texts), 8), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                axis = TOPICS.get(word.strip(".,"))
                if axis is not None:
                    out[i, axis] += 1.0
            if not out[i].any():
                out[i, 7] = 1.0
            out[i] /= np.linalg.norm(out[i])
        return out


ANIMALS = [
    {"_id": "d1", "title": "Cats", "text": "The cat sleeps all day."},
    {"_id": "d2", "title": "Felines", "text": "A feline hunts at night."},
    {"_id": "d3", "title": "Dogs", "text": "The dog barks loudly."},
    {"_id": "d4", "title": "Canines", "text": "A canine guards the house."},
    {"_id": "d5", "title": "Birds", "text": "The bird sings."},
    {"_id": "d6", "title": "Fish", "text": "The fish swims."},
    {"_id": "d7", "title": "Weather", "text": "Rain falls in spring."},
    {"_id": "d8", "title": "Cooking", "text": "Bread needs flour and water."},
    {"_id": "d9", "title": "Travel", "text": "Trains leave at noon."},
    {"_id": "d10", "title": "Music", "text": "Pianos have keys."},
]
ANIMAL_QUERIES = [
    {"_id": "q1", "text": "cat"},
    {"_id": "q2", "text": "canine"},
    {"_id": "q3", "text": "aquatic animals"},
]
ANIMAL_QRELS = "query-id\tcorpus-id\tscore\r\nq1\td1\t1\r\nq2\td3\t2\r\nq2\td4\t1\r\nq3\td6\t1\r\n"


@pytest.fixture
def animals(tmp_path: Path) -> Path:
    return write_beir(tmp_path / "animals", ANIMALS, ANIMAL_QUERIES, ANIMAL_QRELS)


def test_evaluate_tiny_set(animals: Path, tmp_path: Path) -> None:
    results = evaluate_beir(animals, tmp_path / "index", embedder=TopicEmbedder(), progress=False)
    ideal_q2 = 2 + 1 / math.log2(3)  # d3 (grade 2) then d4 (grade 1)
    # BM25: q1 finds d1 at rank 1; q2 finds only d4 ("canine"), DCG 1; q3 matches no word.
    assert results["bm25"]["ndcg@10"] == pytest.approx((1 + 1 / ideal_q2 + 0) / 3)
    assert results["bm25"]["recall@100"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert results["bm25"]["mrr@10"] == pytest.approx(2 / 3)
    # Dense: every query's topic docs come first (q2: d3 before d4 by corpus order).
    assert results["dense"] == pytest.approx({"ndcg@10": 1.0, "recall@100": 1.0, "mrr@10": 1.0})
    # Hybrid, RRF k=60: q2 fuses d4 = 1/61 + 1/62 above d3 = 1/61, so DCG = 1 + 2/log2(3).
    q2 = (1 + 2 / math.log2(3)) / ideal_q2
    assert results["hybrid"]["ndcg@10"] == pytest.approx((1 + q2 + 1) / 3)
    assert results["hybrid"]["recall@100"] == pytest.approx(1.0)


def test_build_index_reuses_and_updates(animals: Path, tmp_path: Path) -> None:
    index_dir, embedder = tmp_path / "index", TopicEmbedder()
    data = load_beir(animals)
    assert build_index(data, index_dir, embedder, progress=False) == 10
    assert build_index(data, index_dir, embedder, progress=False) == 0  # same corpus: reused
    changed = [dict(ANIMALS[0], text="The cat sleeps all night."), *ANIMALS[1:]]
    edited = load_beir(write_beir(tmp_path / "animals", changed, ANIMAL_QUERIES, ANIMAL_QRELS))
    assert build_index(edited, index_dir, embedder, progress=False) == 1  # only d1 re-embedded
    other = TopicEmbedder()
    other.info = EmbedderInfo(model_id="another@1", dim=8, normalized=True, max_tokens=64)
    with pytest.raises(IndexMismatchError, match="another@1"):
        build_index(edited, index_dir, other, progress=False)


def test_build_index_refuses_foreign_documents(animals: Path, tmp_path: Path) -> None:
    index_dir, embedder = tmp_path / "index", TopicEmbedder()
    build_index(load_beir(animals), index_dir, embedder, progress=False)
    smaller = write_beir(tmp_path / "other", ANIMALS[:6], ANIMAL_QUERIES, ANIMAL_QRELS)
    with pytest.raises(IndexMismatchError, match="not in other"):
        build_index(load_beir(smaller), index_dir, embedder, progress=False)
    assert build_index(load_beir(animals), index_dir, embedder, progress=False) == 0  # intact


def test_unknown_mode(animals: Path) -> None:
    with pytest.raises(ConfigError, match="modes must be among"):
        evaluate_beir(animals, modes=["sparse"], embedder=TopicEmbedder())


def test_format_table() -> None:
    table = format_table({"bm25": {"ndcg@10": 0.689, "mrr@10": 0.5}})
    assert "0.6890" in table and "0.679" in table and "+0.010" in table
    assert table.splitlines()[2].split()[-2:] == ["-", "-"]  # no published mrr@10


def test_main_json(animals: Path, tmp_path: Path, capsys, monkeypatch) -> None:
    import eval.retrieval as retrieval

    real = retrieval.evaluate_beir
    monkeypatch.setattr(
        retrieval, "evaluate_beir", lambda *a, **kw: real(*a, **kw, embedder=TopicEmbedder())
    )
    argv = ["--beir", str(animals), "--index", str(tmp_path / "ix"), "--json", "--quiet"]
    assert retrieval.main([*argv, "--modes", "dense"]) == 0
    assert json.loads(capsys.readouterr().out)["dense"]["ndcg@10"] == pytest.approx(1.0)
    assert retrieval.main(["--beir", str(tmp_path / "missing"), "--quiet"]) == 1
    assert "not a directory" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.skipif(not SCIFACT.is_dir(), reason=f"SciFact not found at {SCIFACT}")
def test_scifact_subset_with_bundled_embedder(tmp_path: Path) -> None:
    """The 300 test claims against their relevant abstracts plus the first 500 others."""
    from ingest.embedding import Embedder

    full = load_beir(SCIFACT)
    relevant = {d for judged in full.qrels.values() for d in judged}
    others = [d for d in full.corpus if d not in relevant][:500]
    keep = relevant | set(others)
    subset = BeirDataset(
        name="scifact-subset", split="test",
        corpus={d: doc for d, doc in full.corpus.items() if d in keep},
        queries=full.queries, qrels=full.qrels,
    )
    assert len(subset.corpus) == len(relevant) + 500
    index_dir = tmp_path / "index"
    assert build_index(subset, index_dir, Embedder(), progress=False) == len(subset.corpus)
    searcher = Searcher(index_dir)
    try:
        scores = {m: score_run(subset.qrels, run_queries(searcher, subset, m)) for m in MODES}
    finally:
        searcher.close()
    # Full SciFact gives dense 0.645 and BM25 0.676; these 783 docs give 0.810 and 0.804.
    assert 0.75 <= scores["dense"]["ndcg@10"] <= 0.87, scores
    assert 0.75 <= scores["bm25"]["ndcg@10"] <= 0.87, scores
    assert scores["dense"]["recall@100"] >= 0.95, scores
    assert scores["hybrid"]["ndcg@10"] > max(scores["bm25"]["ndcg@10"], 0.75), scores


def test_temporary_index_and_query_id_dropped(tmp_path: Path) -> None:
    # Doc "q1" repeats query q1 word for word, as in corpora that hold their own queries;
    # BEIR never counts it, so the relevant d1 moves up to rank 1.
    docs = [{"_id": "q1", "title": "", "text": "cat"}, *ANIMALS]
    root = write_beir(tmp_path / "selfref", docs, ANIMAL_QUERIES[:1], "q1\td1\t1\n")
    results = evaluate_beir(root, modes=["dense"], embedder=TopicEmbedder(), progress=False)
    assert results["dense"]["ndcg@10"] == pytest.approx(1.0)
    data = load_beir(root)
    index_dir = tmp_path / "index"
    build_index(data, index_dir, TopicEmbedder(), progress=False)
    searcher = Searcher(index_dir, embedder=TopicEmbedder())
    try:
        kept = run_queries(searcher, data, "dense", drop_query_id=False)["q1"]
    finally:
        searcher.close()
    assert kept[:2] == ["q1", "d1"]
