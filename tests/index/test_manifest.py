"""Manifests: JSON round trip, format versions, corpus hashes and embedder checks."""

from __future__ import annotations

import json

import pytest
from synthetic import INFO, write_corpus

from core.errors import IndexMismatchError
from index.bm25 import BM25Config
from index.manifest import FORMAT_VERSION, Manifest, check_embedder, corpus_hash
from index.searcher import Searcher
from index.store import IndexStore
from index.vectors import VectorIndexConfig
from ingest.embedding import EmbedderInfo


def manifest(**changes) -> Manifest:
    fields = dict(version="v000001", embedder=INFO, vector_config=VectorIndexConfig(),
                  vector_kind="flat", bm25=BM25Config(), n_docs=1, n_chunks=2,
                  corpus_hash=corpus_hash([("a.md", "h")]))
    return Manifest(**{**fields, **changes})


def test_round_trip(tmp_path):
    original = manifest(vector_config=VectorIndexConfig(kind="ivf", ivf_nlist=8))
    original.save(tmp_path)
    loaded = Manifest.load(tmp_path)
    assert loaded == original and loaded.format_version == FORMAT_VERSION
    assert "T" in loaded.created_at and loaded.created_at.endswith("+00:00")


def test_newer_format_is_a_clear_error(tmp_path):
    data = manifest().to_json()
    data["format_version"] = FORMAT_VERSION + 1
    (tmp_path / "manifest.json").write_text(json.dumps(data))
    with pytest.raises(IndexMismatchError, match="newer than this release"):
        Manifest.load(tmp_path)
    (tmp_path / "manifest.json").write_text("{not json")
    with pytest.raises(IndexMismatchError, match="not valid JSON"):
        Manifest.load(tmp_path)


def test_unknown_format_in_a_published_index_fails_searcher(index_dir):
    write_corpus(index_dir)
    path = IndexStore(index_dir).version_dir("v000001") / "manifest.json"
    data = json.loads(path.read_text())
    data["format_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(IndexMismatchError, match="format 99"):
        Searcher(index_dir)


def test_corpus_hash_is_order_free_and_content_sensitive():
    pairs = [("a.md", "1"), ("b.md", "2")]
    assert corpus_hash(pairs) == corpus_hash(reversed(pairs))
    assert corpus_hash(pairs) != corpus_hash([("a.md", "1"), ("b.md", "3")])
    assert len(corpus_hash([])) == 64


def test_check_embedder_names_both_models():
    check_embedder(manifest(), INFO)
    other = EmbedderInfo("e5-small@abc", 384, True, 512)
    with pytest.raises(IndexMismatchError) as err:
        check_embedder(manifest(), other, "/data/idx")
    text = str(err.value)
    for part in ("/data/idx", INFO.model_id, "dim 16", "e5-small@abc", "dim 384",
                 "re-ingest", "--embedder"):
        assert part in text
    with pytest.raises(IndexMismatchError, match="normalized=False"):
        check_embedder(manifest(), EmbedderInfo(INFO.model_id, 16, False, 128))


def test_an_embedder_is_loaded_from_its_path_while_it_exists_else_by_name(tmp_path):
    info = EmbedderInfo(model_id="all-MiniLM-L6-v2@dc4b39194f47", dim=384, normalized=True,
                        max_tokens=256, path=str(tmp_path))
    assert info.load_name() == str(tmp_path)
    moved = EmbedderInfo(model_id=info.model_id, dim=384, normalized=True, max_tokens=256,
                         path=str(tmp_path / "gone"))
    assert moved.load_name() == "all-MiniLM-L6-v2"
