"""Cross-encoder reranking with a tiny 2-layer BERT built offline in the test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from index.records import Passage
from index.rerank import CrossEncoderReranker, rerank_with

WORDS = ["refund", "policy", "shipping", "days", "the", "a", "card", "office", "badge", "vacation"]


@pytest.fixture(scope="module")
def tiny_cross_encoder(tmp_path_factory) -> Path:
    torch = pytest.importorskip("torch")
    from transformers import BertConfig, BertForSequenceClassification, BertTokenizerFast

    path = tmp_path_factory.mktemp("tiny-cross-encoder")
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    (path / "vocab.txt").write_text("\n".join([*specials, *WORDS]))
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=5 + len(WORDS), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
        intermediate_size=64, max_position_embeddings=64, num_labels=1,
    )
    BertForSequenceClassification(config).save_pretrained(path)
    BertTokenizerFast(vocab_file=str(path / "vocab.txt")).save_pretrained(path)
    return path


def passage(i: int, text: str) -> Passage:
    return Passage(chunk_id=f"c{i}", doc_id="d", source="s.md", text=text, score=1.0 / (i + 1),
                   scores={"bm25": 1.0})


def test_cross_encoder_reranks_by_its_scores(tiny_cross_encoder):
    reranker = CrossEncoderReranker(tiny_cross_encoder, candidates=4, device="cpu", max_length=64)
    texts = ["refund policy", "shipping days", "office badge", "vacation card the a"]
    scores = reranker.score("refund", texts)
    assert scores.shape == (4,) and scores.dtype == np.float32
    ranked = reranker.rerank("refund", [passage(i, t) for i, t in enumerate(texts)])
    assert [p.text for p in ranked] == [texts[i] for i in np.argsort(-scores, kind="stable")]
    assert [p.score for p in ranked] == sorted(scores.tolist(), reverse=True)
    assert all(set(p.scores) == {"bm25", "rerank"} for p in ranked)
    assert reranker.rerank("refund", []) == []


def test_reranker_path_must_be_a_local_model_directory(tmp_path):
    with pytest.raises(ConfigError, match="not a directory"):
        CrossEncoderReranker(tmp_path / "cross-encoder-ms-marco")
    with pytest.raises(ConfigError, match="candidates"):
        CrossEncoderReranker(tmp_path, candidates=0)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="cannot load cross-encoder"):
        CrossEncoderReranker(tmp_path / "empty", device="cpu")


def test_rerank_with_keeps_retrieval_order_on_ties_and_checks_length():
    passages = [passage(i, f"t{i}") for i in range(3)]
    assert [p.chunk_id for p in rerank_with(lambda q, t: [0, 1, 0], "q", passages)] == [
        "c1", "c0", "c2",
    ]
    with pytest.raises(ValueError, match="2 scores for 3 passages"):
        rerank_with(lambda q, t: [1, 2], "q", passages)
