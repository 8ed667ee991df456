"""Artifacts written by the code before ``core.artifacts`` (tests/fixtures/legacy, see its
README) open and grow with today's code: the index searches and publishes a next version
on top, the adapter registry lists, promotes and rolls back, the tuned embedder lists,
resolves by ``name@vN`` and takes a next version. Each test works on a copy."""

from __future__ import annotations

import json
import random
import shutil
from pathlib import Path

import pytest

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"


@pytest.fixture
def legacy(tmp_path: Path) -> Path:
    for part in ("docs", "index", "home"):
        shutil.copytree(LEGACY / part, tmp_path / part)
    return tmp_path


def test_the_fixtures_are_what_the_old_code_wrote():
    """What the tests below rely on; a regenerated fixture must keep it."""
    index = LEGACY / "index"
    assert (index / "CURRENT").read_bytes() == b"v000002\n"
    assert sorted(p.name for p in (index / "versions").iterdir()) == ["v000001", "v000002"]
    support = LEGACY / "home" / "adapters" / "support"
    assert sorted(p.name for p in support.iterdir()) == [".lock", "state.json", "v0001", "v0002"]
    state = json.loads((support / "state.json").read_text())
    assert (state["promoted"], state["history"], state["canary"], state["last_version"]) == (
        1, [1], {"version": 2, "fraction": 0.25}, 2)
    tuned = LEGACY / "home" / "embedders" / "acme-ret"
    assert [p.name for p in tuned.iterdir()] == ["v0001"]
    assert json.loads((tuned / "v0001" / "training.json").read_text())["version"] == 1


def test_legacy_index_searches_and_a_new_ingest_publishes_the_next_version(legacy, embedder,
                                                                           monkeypatch):
    from index.build import ingest
    from index.searcher import Searcher
    from index.snapshot import Snapshot
    from index.store import IndexStore
    from ingest import loaders

    store = IndexStore(legacy / "index")
    assert store.current() == "v000002" and store.versions() == ["v000001", "v000002"]
    old = Snapshot(store, "v000001")
    assert old.manifest.n_docs == 2
    old.close()
    searcher = Searcher(legacy / "index", embedder=embedder)
    try:
        assert searcher.manifest.version == "v000002" and searcher.manifest.n_docs == 3
        for mode in ("bm25", "dense", "hybrid"):
            hits = searcher.search("Are repairs under warranty free?", k=2, mode=mode)
            assert hits[0].source == "warranty.md", mode

        # with the Markdown parser that built it (a newer one re-parses its files first)
        monkeypatch.setitem(loaders.PARSER_VERSIONS, ".md", 1)
        (legacy / "docs" / "shipping.md").write_text(
            "# Shipping\n\nOrders ship within two days by courier.\n")
        report = ingest([legacy / "docs"], legacy / "index", progress=False, embedder=embedder)
        assert report.version == "v000003"
        assert sorted(report.unchanged) == ["refunds.md", "warranty.md", "wifi.md"]
        assert report.added == ["shipping.md"] and report.chunks_embedded == 1
        assert (legacy / "index" / "CURRENT").read_bytes() == b"v000003\n"
        assert store.versions() == ["v000001", "v000002", "v000003"]
        assert searcher.refresh() and searcher.manifest.n_docs == 4
        assert searcher.search("courier shipping", k=1, mode="hybrid")[0].source == "shipping.md"
        assert searcher.search("pairing button", k=1, mode="dense")[0].source == "wifi.md"
    finally:
        searcher.close()
    leftovers = [p.name for p in (legacy / "index" / "versions").iterdir()
                 if p.name.startswith(".")]
    assert leftovers == []


def test_legacy_registry_lists_promotes_and_rolls_back(legacy, tmp_path):
    from finetune.registry import AdapterRegistry

    reg = AdapterRegistry(legacy / "home" / "adapters")
    support = legacy / "home" / "adapters" / "support"
    versions = reg.list()
    assert [(v.name, v.version, v.promoted, v.canary_fraction) for v in versions] == [
        ("support", 1, True, 0.0), ("support", 2, False, 0.25)]
    assert versions[1].path == support / "v0002"
    assert versions[1].manifest["metrics"]["eval_loss"] == 0.5
    assert reg.get("support").version == 1
    draws = [reg.choose("support", random.Random(3)).version for _ in range(2)]
    assert draws[0] == draws[1]
    token = reg.state_token()

    assert reg.promote("support", 2).promoted
    assert reg.get("support").canary_fraction == 0.0  # promoting the canary ends it
    assert reg.state_token() != token
    assert reg.rollback("support").version == 1
    assert reg.get("support").version == 1

    source = tmp_path / "new-adapter"
    shutil.copytree(support / "v0001", source)
    added = reg.register("support", source)
    assert added.version == 3 and added.path == support / "v0003"
    reg.delete("support", 3)
    assert reg.register("support", source).path == support / "v0004"  # 3 is never reused
    state = json.loads((support / "state.json").read_text())
    assert (state["promoted"], state["history"], state["last_version"]) == (1, [1], 4)
    assert sorted(p.name for p in support.iterdir()) == [
        ".lock", "state.json", "v0001", "v0002", "v0004"]


def test_legacy_tuned_embedder_lists_resolves_and_takes_a_next_version(legacy, monkeypatch):
    from core.settings import get_settings
    from finetune.retriever import list_versions, save_version
    from ingest.embedding import Embedder, EmbedderConfig, resolve_model_path

    registry = legacy / "home" / "embedders"
    (listed,) = list_versions(registry, "acme-ret")
    assert (listed["name"], listed["version"], listed["kind"]) == ("acme-ret", 1, "embedder")
    assert listed["path"] == str(registry / "acme-ret" / "v0001")
    assert listed["data"]["train_pairs"] == 3
    assert list_versions(registry) == [listed]

    monkeypatch.setenv("ASSISTANT_HOME", str(legacy / "home"))
    get_settings.cache_clear()
    try:
        assert resolve_model_path("acme-ret@v1") == listed["path"]
        tuned = Embedder(EmbedderConfig(model="acme-ret@v1", device="cpu"))
        assert tuned.info.model_id.startswith("acme-ret/v0001@")
        assert tuned.encode(["how long is the warranty"]).shape == (1, 32)

        class Copy:  # saves what the legacy version holds, as a trained model would
            def save(self, path: str) -> None:
                shutil.copytree(listed["path"], path, dirs_exist_ok=True)

        path, version = save_version(Copy(), {"name": "acme-ret", "kind": "embedder"},
                                     registry, "acme-ret")
        assert (version, path) == (2, registry / "acme-ret" / "v0002")
        assert resolve_model_path("acme-ret@v2") == str(path)
        assert [v["version"] for v in list_versions(registry, "acme-ret")] == [1, 2]
    finally:
        get_settings.cache_clear()
