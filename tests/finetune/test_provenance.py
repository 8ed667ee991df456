"""An adapter's training documents checked against a real index: ``ok`` while they are in
force, ``superseded`` once a newer version is indexed, ``deleted`` once they are gone;
shown by ``assistant adapters list --index`` as a column and in its JSON."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest

from assistant.cli.main import main
from finetune import AdapterRegistry
from finetune.provenance import (
    DataCheck,
    check_training_data,
    match_source,
    record_documents,
    training_documents,
)
from finetune.records import Example
from index.build import ingest
from index.searcher import Searcher

OLD_POLICY = ("# Refund Policy (2023)\n\nEffective: 1 January 2023.\n\n"
              "Customers may request a refund within 14 days of delivery.\n")
NEW_POLICY = ("# Refund Policy\n\nEffective: 1 April 2025.\n\n"
              "Products can be sent back for a full refund for 30 days.\n")


def fake_adapter(directory: Path, documents: list | None) -> Path:
    """A directory shaped like a finished adapter whose manifest records ``documents``."""
    directory.mkdir(parents=True)
    (directory / "adapter_config.json").write_text(json.dumps({"r": 4}))
    (directory / "adapter_model.safetensors").write_bytes(b"\0" * 64)
    data = {"mode": "grounded"} | ({"documents": documents} if documents is not None else {})
    manifest = {"base_model_id": "tiny", "base_weights_hash": "abc", "data": data,
                "created_at": "2025-01-01T00:00:00+00:00", "metrics": {"eval_loss": 1.0}}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


@pytest.fixture(scope="module")
def corpus(tmp_path_factory, embedder):
    """Three documents indexed, and a registry of adapters trained on some of them."""
    root = tmp_path_factory.mktemp("provenance")
    docs = root / "docs"
    docs.mkdir()
    (docs / "refunds-2023.md").write_text(OLD_POLICY)
    (docs / "shipping.txt").write_text("Shipping takes five business days.\n")
    (docs / "faq.md").write_text("# FAQ\n\nWe answer the phone from 9 to 5.\n")
    ingest([docs], root / "index", progress=False, embedder=embedder)
    registry = AdapterRegistry(root / "adapters")
    for name, documents in (("refunds", ["refunds-2023.md", "shipping.txt"]),
                            ("faq", ["docs/faq.md"]),  # relative to another folder
                            ("old", None)):  # trained before documents were recorded
        registry.register(name, fake_adapter(root / f"src-{name}", documents))
    return root


def adapters_list(root: Path, capsys, *extra: str) -> str:
    capsys.readouterr()
    assert main(["adapters", "list", "--registry", str(root / "adapters"), *extra]) == 0
    return capsys.readouterr().out


def data_column(table: str) -> dict[str, str]:
    lines = table.splitlines()
    start = lines[0].index("DATA")
    return {line.split()[0]: line[start:].strip() for line in lines[1:]}


def test_adapters_list_flags_superseded_and_deleted_training_documents(corpus, capsys, embedder):
    index = str(corpus / "index")
    before = adapters_list(corpus, capsys, "--index", index)
    assert data_column(before) == {"faq": "ok", "old": "-", "refunds": "ok"}
    assert "DATA" not in adapters_list(corpus, capsys)  # no index, no column

    (corpus / "docs" / "refunds-2025.md").write_text(NEW_POLICY)  # a new version
    (corpus / "docs" / "faq.md").unlink()  # a deleted document
    ingest([corpus / "docs"], corpus / "index", progress=False, embedder=embedder)
    after = adapters_list(corpus, capsys, "--index", index)
    assert data_column(after) == {"faq": "deleted 1/1", "old": "-",
                                  "refunds": "superseded 1/2"}

    listed = json.loads(adapters_list(corpus, capsys, "--index", index, "--json"))["adapters"]
    data = {a["name"]: a["training_data"] for a in listed}
    assert data["refunds"] == {"state": "superseded", "documents": 2,
                               "superseded": ["refunds-2023.md"], "deleted": []}
    assert data["faq"] == {"state": "deleted", "documents": 1, "superseded": [],
                           "deleted": ["docs/faq.md"]}
    assert data["old"]["state"] == "unknown"
    plain = json.loads(adapters_list(corpus, capsys, "--json"))["adapters"]
    assert all("training_data" not in a for a in plain)


def test_a_missing_index_is_a_usage_error(corpus, capsys):
    code = main(["adapters", "list", "--registry", str(corpus / "adapters"),
                 "--index", str(corpus / "no-such-index")])
    assert code == 2
    assert "no-such-index" in capsys.readouterr().err


def test_check_against_records_of_the_index(corpus):
    documents = Searcher(corpus / "index").documents()
    manifest = {"data": {"documents": [{"source": "shipping.txt"}, " "]}}
    assert check_training_data(manifest, documents) == DataCheck("ok", 1)
    manifest = {"data": {"documents": ["shipping.txt", {"file": "nowhere.md"}]}}
    assert check_training_data(manifest, documents) == DataCheck(
        "deleted", 2, (), ("nowhere.md",))
    assert check_training_data({"data": {"documents": "x"}}, documents).state == "unknown"
    assert check_training_data({}, documents).label() == "-"


def test_names_match_exactly_or_by_one_unambiguous_suffix():
    sources = ["policies/a.md", "b/a.md", "c.md", "x/c.md"]
    assert match_source("c.md", sources) == "c.md"
    assert match_source("policies/a.md", sources) == "policies/a.md"
    assert match_source("a.md", sources) is None  # two sources end with it
    assert match_source("corpus/x/c.md", sources) == "x/c.md"
    assert training_documents({"data": {"documents": ["b", "a", "b"]}}) == ["a", "b"]


def test_the_manifest_records_the_gold_sources_of_the_trained_records(tmp_path):
    from assistant.cli.finetune import training_documents as for_cli

    qa = tmp_path / "qa.jsonl"
    rows = [
        {"id": "q1", "question": "Refund window?", "answer": "30 days", "split": "train",
         "sources": [{"file": "refunds-2025.md"}, {"file": "refunds-2023.md",
                                                   "role": "stale"}]},
        {"id": "q2", "question": "Shipping time?", "answer": "five days", "split": "train",
         "sources": [{"file": "shipping.txt"}]},
        {"id": "q3", "question": "Phone hours?", "answer": "9 to 5", "split": "train",
         "sources": [{"file": "faq.md"}]},
    ]
    qa.write_text("".join(json.dumps(r) + "\n" for r in rows))
    message = ({"role": "user", "content": "q"}, {"role": "assistant", "content": "a"})
    trained = [Example(f"{i}:closed_book", "closed_book", message, {"record_id": i})
               for i in ("q1", "q2")]  # q3 went to validation
    from assistant.cli.finetune import read_records

    args = argparse.Namespace(mode="grounded", data=str(qa), split="train")
    assert for_cli(read_records(args), trained) == ["refunds-2025.md", "shipping.txt"]
    assert for_cli(None, trained) is None  # PubMedQA: no Q&A records
    from finetune import read_qa

    records, _ = read_qa(qa)
    assert record_documents(records) == ["faq.md", "refunds-2025.md", "shipping.txt"]
