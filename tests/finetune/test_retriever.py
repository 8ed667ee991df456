"""Tuning the embedder on (question, gold passage) pairs from a real index of acme documents.

Pair building and the versioned save run against a real FAISS/BM25 index built with the
bundled embedder; training runs a tiny BERT sentence-transformer built from a config here
(fast) and, in the slow test, the bundled all-MiniLM-L6-v2 through the CLI, followed by a
re-ingest with the tuned embedder.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from acme_corpus import ACME, acme_index

from core.errors import ConfigError
from finetune.pii import Redactor
from finetune.raft import flat
from finetune.records import DatasetError, QARecord, SourceRef
from finetune.retriever import (
    MANIFEST,
    Pair,
    RetrieverConfig,
    batches,
    build_pairs,
    list_versions,
    rank_scores,
    save_version,
    split_pairs,
    train_retriever,
)
from finetune.sources import read_qa

FILES = [
    "policies/refunds-2025.md",
    "policies/warranty.md",
    "billing/account-billing-faq.md",
    "support/troubleshooting-error-codes.md",
]


@pytest.fixture(scope="module")
def acme(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("acme-retriever")
    searcher = acme_index(root, FILES, embedder)
    yield root, searcher
    searcher.close()


@pytest.fixture(scope="module")
def records():
    train, _ = read_qa(ACME / "qa.jsonl", split="train")
    return [r for r in train if r.answer is None or r.sources[0].file in FILES]


@pytest.fixture(scope="module")
def built(acme, records):
    return build_pairs(records, acme[1], RetrieverConfig(), Redactor(enabled=False))


@pytest.fixture(scope="module")
def tiny_embedder(tmp_path_factory) -> str:
    """A 2-layer, 32-dim BERT with the bundled embedder's tokenizer, as a
    sentence-transformers directory (random weights: it ranks no better than chance)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling
    from transformers import AutoTokenizer, BertConfig, BertModel

    from ingest.embedding import resolve_model_path

    root = tmp_path_factory.mktemp("tiny-embedder")
    tokenizer = AutoTokenizer.from_pretrained(resolve_model_path("all-MiniLM-L6-v2"))
    torch.manual_seed(0)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=256)
    BertModel(config).save_pretrained(root / "bert")
    tokenizer.save_pretrained(root / "bert")
    from sentence_transformers.base.modules.transformer import Transformer

    model = SentenceTransformer(modules=[Transformer(str(root / "bert"), max_seq_length=128),
                                         Pooling(32), Normalize()], device="cpu")
    model.save(str(root / "st"))
    return str(root / "st")


def test_pairs_hold_the_gold_passage_and_a_negative_without_the_answer(built, records):
    pairs, report = built
    answerable = {r.id: r for r in records if r.answer is not None}
    assert len(pairs) >= 20
    for pair in pairs:
        record = answerable[pair.record_id]
        assert pair.question == record.question
        assert pair.positive in pair.golds
        assert pair.negative is None or flat(record.answer) not in flat(pair.negative)
        assert pair.negative not in pair.golds
        assert 1 <= len(pair.candidates) <= RetrieverConfig().depth
    # Most gold passages hold the answer (it is how _pick_gold chooses among a file's chunks).
    holding = sum(flat(answerable[p.record_id].answer) in flat(p.positive) for p in pairs)
    assert holding >= 0.8 * len(pairs)
    unanswerable = sum(r.answer is None for r in records)
    assert unanswerable
    assert report.dropped["no answer in the documents (no passage to rank first)"] == unanswerable
    assert report.kept == len(pairs) and report.kinds["retrieval"] == len(pairs)
    assert report.gold_by["sources"] + report.gold_by["retrieval"] == len(pairs)
    assert report.redaction == Redactor(enabled=False).description


def test_a_record_without_sources_finds_its_gold_by_retrieval_and_duplicates_go(acme):
    record = QARecord(id="x1", question="How long do I have to return a product?",
                      answer="30 days", sources=(), split="train", origin="test")
    twin = QARecord(id="x2", question=record.question, answer="30 days", sources=(),
                    split="train", origin="test")
    pairs, report = build_pairs([record, twin], acme[1], RetrieverConfig(),
                                Redactor(enabled=False))
    assert [p.record_id for p in pairs] == ["x1"]
    assert "30 days" in flat(pairs[0].positive)
    assert report.gold_by["retrieval"] == 2
    assert report.dropped["duplicate (same question and gold passage)"] == 1


def test_questions_are_redacted_and_counted(acme):
    record = QARecord(id="p1", question="I am jane.doe@example.org, how long is the warranty?",
                      answer="24 months",
                      sources=(SourceRef(file="policies/warranty.md"),), split="train",
                      origin="test")
    pairs, report = build_pairs([record], acme[1], RetrieverConfig(), Redactor())
    assert "jane.doe@example.org" not in pairs[0].question
    assert report.pii["EMAIL_ADDRESS"] == 1


def test_nothing_to_train_on_is_a_clear_error_naming_the_reasons(acme):
    nothing = QARecord(id="u1", question="Do you sell rockets?", answer=None, sources=(),
                       split="train", origin="test")
    with pytest.raises(DatasetError, match="no answer in the documents"):
        build_pairs([nothing], acme[1], RetrieverConfig(), Redactor(enabled=False))
    missing = QARecord(id="m1", question="What is the moon made of?", answer="green cheese",
                       sources=(), split="train", origin="test")
    with pytest.raises(DatasetError, match="gold passage not found"):
        build_pairs([missing], acme[1], RetrieverConfig(), Redactor(enabled=False))


@pytest.mark.parametrize("field,value", [
    ("epochs", 0), ("batch_size", 1), ("lr", 0.0), ("warmup", 1.0), ("val_fraction", 1.0),
    ("depth", 0), ("mode", "fuzzy"),
])
def test_bad_config_is_rejected_naming_the_field(field, value):
    with pytest.raises(ConfigError, match=field):
        RetrieverConfig(**{field: value})


def test_batches_keep_every_pair_once_and_never_pair_two_questions_on_one_passage():
    # Every third pair's answer is also in another passage, a gold that is not trained on
    # (only the first gold is a column): it must keep the pairs apart all the same.
    pairs = [Pair(f"r{i}", f"question {i}",
                  (f"passage {i % 5}", *([f"passage {(i + 1) % 5}"] if i % 3 == 0 else [])),
                  None, ())
             for i in range(23)]
    plan = batches(pairs, 4, epochs=3, seed=1)
    assert len(plan) == 3
    for epoch in plan:
        assert sorted(i for b in epoch for i in b) == list(range(len(pairs)))
        for batch in epoch:
            assert 1 <= len(batch) <= 4
            golds = [g for i in batch for g in pairs[i].golds]
            assert len(golds) == len(set(golds))
    assert plan[0] != plan[1]  # shuffled afresh each epoch
    assert plan == batches(pairs, 4, epochs=3, seed=1)
    # Two pairs on one question are kept apart too: each positive would be the other's
    # negative.
    same_question = [Pair("a", "q", ("x",), None, ()), Pair("b", "q", ("y",), None, ())]
    assert sorted(len(b) for b in batches(same_question, 2)[0]) == [1, 1]


def test_split_is_by_record_and_deterministic(built):
    pairs, _ = built
    train, val = split_pairs(pairs, 0.2, seed=3)
    assert (train, val) == split_pairs(pairs, 0.2, seed=3)
    assert {p.record_id for p in train}.isdisjoint({p.record_id for p in val})
    assert len(train) + len(val) == len(pairs)
    assert len(val) == -(-len(pairs) * 2 // 10)


def test_rank_scores_put_a_passage_identical_to_its_question_first(tiny_embedder):
    from sentence_transformers import SentenceTransformer

    model = SentenceTransformer(tiny_embedder, device="cpu")
    pairs = [Pair("a", "refund window for opened items", ("refund window for opened items",),
                  None, ("warranty covers defects", "error E07 means a jammed brush"))]
    assert rank_scores(model, pairs) == {"hit@1": 1.0, "mrr": 1.0, "n": 1}
    assert rank_scores(model, []) == {"hit@1": None, "mrr": None, "n": 0}


def test_training_learns_the_pairs_and_saves_numbered_versions(built, tiny_embedder, tmp_path,
                                                               monkeypatch, capsys):
    import socket

    from ingest.embedding import Embedder, EmbedderConfig

    pairs, _ = built
    config = RetrieverConfig(epochs=4, lr=1e-3, batch_size=8, warmup=0.0)
    seen, dialled = [], []

    def no_network(*args, **kwargs):  # a name look-up or a connect
        dialled.append(args)
        raise OSError("no network in tests")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    monkeypatch.setattr(socket.socket, "connect", no_network)
    capsys.readouterr()
    first = train_retriever(pairs, pairs, tiny_embedder, tmp_path / "reg", "acme-ret", config,
                            data={"source": "qa.jsonl"}, device="cpu", progress=False,
                            on_epoch=seen.append)
    assert dialled == []  # no hub look-up, for the trainer or the model card
    assert capsys.readouterr().out == ""  # the trainer prints no logs
    manifest = json.loads((first.path / MANIFEST).read_text())
    # Every planned batch of every epoch was a step (the trainer drops none).
    plan = batches(pairs, 8, epochs=4, seed=0)
    assert manifest["metrics"]["steps"] == sum(len(e) for e in plan)
    readme = (first.path / "README.md").read_text()
    assert "generated_from_trainer" not in readme and pairs[0].question not in readme
    assert first.path == tmp_path / "reg" / "acme-ret" / "v0001" and first.version == 1
    assert manifest["version"] == 1 and manifest["kind"] == "embedder"
    assert manifest["config"]["lr"] == 1e-3
    assert manifest["data"]["train_pairs"] == len(pairs)
    assert len(manifest["data"]["data_hash"]) == 64
    epochs = manifest["metrics"]["epochs"]
    assert epochs == seen and [e["epoch"] for e in epochs] == [1, 2, 3, 4]
    assert epochs[-1]["train_loss"] < epochs[0]["train_loss"]
    # Scored on the pairs it trained on, the tuned model ranks their gold passages higher.
    assert epochs[-1]["val_mrr"] > manifest["metrics"]["val_before"]["mrr"]
    tuned = Embedder(EmbedderConfig(model=str(first.path), device="cpu"))
    assert tuned.info.dim == 32
    assert tuned.info.model_id != Embedder(EmbedderConfig(model=tiny_embedder)).info.model_id

    second = train_retriever(pairs[:8], [], tiny_embedder, tmp_path / "reg", "acme-ret",
                             RetrieverConfig(epochs=1, batch_size=4), device="cpu",
                             progress=False)
    assert second.version == 2 and second.path.name == "v0002"
    assert second.manifest["metrics"]["val_before"]["n"] == 0
    assert [v["version"] for v in list_versions(tmp_path / "reg", "acme-ret")] == [1, 2]


def test_a_failed_save_leaves_no_version_behind(tmp_path):
    class Broken:
        def save(self, path: str) -> None:
            (Path(path) / "model.safetensors").write_bytes(b"half")
            raise OSError("No space left on device")

    with pytest.raises(OSError, match="No space"):
        save_version(Broken(), {"name": "x"}, tmp_path, "acme-ret")
    assert list((tmp_path / "acme-ret").iterdir()) == []
    assert list_versions(tmp_path, "acme-ret") == []


@pytest.mark.slow
def test_cli_tunes_the_bundled_embedder_and_the_index_is_rebuilt_with_it(acme, tmp_path,
                                                                          capsys):
    from assistant.cli.main import main
    from index.searcher import Searcher

    root, _ = acme
    code = main(["-q", "finetune", "--mode", "retriever", "--data", str(ACME / "qa.jsonl"),
                 "--index", str(root / "index"), "--name", "acme-retriever",
                 "--registry", str(tmp_path / "embedders"), "--epochs", "1", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    path = Path(out["path"])
    assert path == tmp_path / "embedders" / "acme-retriever" / "v0001"
    assert out["base_embedder"]["model_id"].startswith("all-MiniLM-L6-v2@")
    assert out["config"]["lr"] == 5e-5 and out["config"]["batch_size"] == 16
    assert out["data"]["split"] == "train" and out["data"]["val_pairs"] >= 1
    before, after = out["metrics"]["val_before"], out["metrics"]["val_after"]
    assert 0 <= before["mrr"] <= 1 and 0 <= after["val_mrr"] <= 1

    code = main(["-q", "ingest", str(root / "docs"), "--index", str(tmp_path / "tuned"),
                 "--embedder", str(path)])
    assert code == 0
    searcher = Searcher(tmp_path / "tuned")
    assert searcher.manifest.embedder.path == str(path)
    hits = searcher.search("How long is the warranty?", k=3, mode="dense")
    assert len(hits) == 3
    searcher.close()


def test_a_tuned_version_is_named_by_registry_reference(tiny_embedder, tmp_path, monkeypatch,
                                                        capsys):
    from sentence_transformers import SentenceTransformer

    from core.settings import get_settings
    from ingest.embedding import Embedder, EmbedderConfig, resolve_model_path

    monkeypatch.setenv("ASSISTANT_HOME", str(tmp_path))
    get_settings.cache_clear()
    try:
        model = SentenceTransformer(tiny_embedder, device="cpu")
        path, version = save_version(model, {"name": "acme-ret"}, tmp_path / "embedders",
                                     "acme-ret")
        assert resolve_model_path("acme-ret@v1") == str(path)
        embedder = Embedder(EmbedderConfig(model="acme-ret@v1", device="cpu"))
        assert embedder.info.model_id.startswith("acme-ret/v0001@")
        with pytest.raises(ConfigError, match="no tuned embedder at .*v0007"):
            resolve_model_path("acme-ret@v7")
        from assistant.cli.main import main

        assert main(["embedders", "list", "--json"]) == 0
        (listed,) = json.loads(capsys.readouterr().out)["embedders"]
        assert (listed["name"], listed["version"], listed["path"]) == ("acme-ret", 1, str(path))
        assert main(["embedders", "list", "nothing-here"]) == 0
        assert "no tuned embedders" in capsys.readouterr().out
    finally:
        get_settings.cache_clear()
