"""Versions through ``ingest()``: a new version demotes the old one without re-embedding
it, a metadata change re-publishes records only, the metadata file is kept with the
index, bad input is a line in the summary, and an index from before still grows."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from core.errors import ConfigError
from index.build import IngestConfig, ingest
from index.chunkdb import ChunkDB
from index.searcher import Searcher
from index.store import IndexStore

LEGACY = Path(__file__).resolve().parents[1] / "fixtures" / "legacy"
OLD_POLICY = ("# Refund Policy (2023)\n\nEffective: 1 January 2023.\n\n## Window\n\n"
              "Customers may request a refund within 14 days of delivery.\n")
NEW_POLICY = ("# Refund Policy\n\nEffective: 1 April 2025.\n\n## Window\n\n"
              "Products can be sent back for a full refund for 30 days.\n")


class CountingEmbedder:
    """The real embedder, recording every text it is asked to embed."""

    def __init__(self, inner) -> None:
        self.inner, self.info, self.count_tokens = inner, inner.info, inner.count_tokens
        self.texts: list[str] = []

    def encode(self, texts, progress: bool = False):
        self.texts.extend(texts)
        return self.inner.encode(list(texts), progress=progress)

    def encode_query(self, text):
        return self.inner.encode_query(text)


@pytest.fixture
def counting(embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


def run(docs: Path, index: Path, embedder, **config) -> object:
    return ingest([docs], index, IngestConfig(**config), progress=False, embedder=embedder)


def records(index: Path) -> dict:
    store = IndexStore(index)
    db = ChunkDB(store.version_dir(store.current()) / "chunks.sqlite")
    try:
        return {d.record.source: d.record for d in db.documents()}
    finally:
        db.close()


def vectors(index: Path) -> np.ndarray:
    store = IndexStore(index)
    return np.load(store.version_dir(store.current()) / "vectors.npy")


def test_a_new_version_demotes_the_old_one_without_re_embedding_it(tmp_path, counting):
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "refunds-2023.md").write_text(OLD_POLICY)
    (docs / "shipping.txt").write_text("Shipping takes five business days.\n")
    first = run(docs, index, counting)
    assert records(index)["refunds-2023.md"].status == "current"
    old_rows = vectors(index)[: records(index)["refunds-2023.md"].n_chunks].copy()

    counting.texts.clear()
    (docs / "refunds-2025.md").write_text(NEW_POLICY)
    second = run(docs, index, counting)
    assert second.added == ["refunds-2025.md"] and second.chunks_embedded < first.chunks_embedded
    assert counting.texts and all("14 days" not in t and "five business" not in t
                                  for t in counting.texts)
    assert second.status_changed == [
        "refunds-2023.md: status current -> superseded (by refunds-2025.md)"]
    now = records(index)
    assert (now["refunds-2023.md"].status, now["refunds-2023.md"].superseded_by) == (
        "superseded", "refunds-2025.md")
    assert now["refunds-2025.md"].status == "current"
    assert now["refunds-2025.md"].effective_date == "2025-04-01"
    np.testing.assert_array_equal(vectors(index)[: len(old_rows)], old_rows)  # carried as is

    hits = Searcher(index, embedder=counting).search("refund within 14 days of delivery", k=5)
    ranked = [h.source for h in hits]
    assert ranked[0] == "refunds-2025.md"
    assert ranked.index("refunds-2023.md") > len(ranked) - 1 - ranked[::-1].index("refunds-2025.md")
    assert next(h for h in hits if h.source == "refunds-2023.md").status == "superseded"

    counting.texts.clear()
    third = run(docs, index, counting)
    assert third.chunks_embedded == 0 and counting.texts == [] and third.status_changed == []


def test_the_metadata_file_changes_records_only_and_is_kept(tmp_path, counting):
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "sheet.txt").write_text("Rate card. Plus costs $9.99 a month.\n")
    (docs / "pricing.txt").write_text("Plans and pricing. Plus costs $12.99 a month.\n")
    run(docs, index, counting)
    assert {r.status for r in records(index).values()} == {"current"}

    meta = tmp_path / "meta.toml"
    meta.write_text('["sheet.txt"]\nfamily = "pricing"\nstatus = "archived"\n'
                    'effective = "2023-02-01"\naccess = ["sales"]\n\n'
                    '["pricing.txt"]\nfamily = "pricing"\neffective = "2025-03-01"\n\n'
                    '["gone/*.md"]\nstatus = "archived"\n')
    counting.texts.clear()
    report = run(docs, index, counting, metadata=meta)
    assert report.chunks_embedded == 0 and counting.texts == []
    assert sorted(report.unchanged) == ["pricing.txt", "sheet.txt"]
    assert report.status_changed[1].startswith("sheet.txt: status current -> archived")
    assert report.warnings == ["metadata file: 'gone/*.md' matches no document"]
    sheet = records(index)["sheet.txt"]
    assert (sheet.status, sheet.effective_date, sheet.family, sheet.access) == (
        "archived", "2023-02-01", "pricing", ("sales",))

    again = run(docs, index, counting)  # no --metadata: the stored rules still apply
    assert again.status_changed == [] and records(index)["sheet.txt"].status == "archived"
    empty = tmp_path / "none.json"
    empty.write_text("{}")
    cleared = run(docs, index, counting, metadata=empty)
    assert records(index)["sheet.txt"].status == "current" and cleared.chunks_embedded == 0


def test_a_bad_metadata_file_stops_before_anything_changes(tmp_path, counting):
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "a.txt").write_text("Some text.\n")
    first = run(docs, index, counting)
    bad = tmp_path / "meta.toml"
    bad.write_text('["a.txt"]\neffective = "2025-02-30"\n')
    with pytest.raises(ConfigError, match="impossible date"):
        run(docs, index, counting, metadata=bad)
    assert IndexStore(index).current() == first.version


def test_bad_version_statements_are_summary_lines_and_the_documents_stay(tmp_path, counting):
    docs, index = tmp_path / "docs", tmp_path / "index"
    docs.mkdir()
    (docs / "front.md").write_text("---\ntitle: [broken\n---\n# Front\n\nBody one.\n")
    (docs / "date.md").write_text("---\neffective: 2025-02-30\n---\n# Date\n\nBody two.\n")
    (docs / "a.md").write_text("---\nfamily: x\nstatus: current\nsupersedes: b.md\n---\n# A\n\n"
                               "Body three.\n")
    (docs / "b.md").write_text("---\nfamily: x\nstatus: current\nsupersedes: a.md\n---\n# B\n\n"
                               "Body four.\n")
    report = run(docs, index, counting)
    assert report.exit_code == 0 and len(report.added) == 4
    text = "\n".join(report.warnings)
    assert "front.md: front matter is not valid YAML" in text
    assert "date.md: front matter: effective '2025-02-30' is an impossible date" in text
    assert "supersedes cycle: a.md -> b.md -> a.md" in text
    assert "2 documents of one family say they are current (a.md, b.md)" in text
    assert {r.status for r in records(index).values()} == {"current"}
    assert report.to_json()["warnings"] == report.warnings


def test_an_index_from_before_versions_reads_them_on_the_next_ingest(tmp_path, counting,
                                                                     monkeypatch):
    import ingest.loaders

    # The legacy index was parsed by Markdown parser 1; with the parser as it was, only its
    # version metadata is read again (a newer parser re-parses it, tested elsewhere).
    monkeypatch.setitem(ingest.loaders.PARSER_VERSIONS, ".md", 1)
    for part in ("docs", "index"):
        shutil.copytree(LEGACY / part, tmp_path / part)
    before = records(tmp_path / "index")
    assert {(r.status, r.effective_date, r.version_info) for r in before.values()} == {
        ("unknown", None, None)}
    report = run(tmp_path / "docs", tmp_path / "index", counting)
    assert report.chunks_embedded == 0 and counting.texts == []
    assert report.metadata_reread == 3 and report.status_changed == []
    after = records(tmp_path / "index")
    assert {r.status for r in after.values()} == {"current"}
    assert all(r.version_info is not None for r in after.values())
