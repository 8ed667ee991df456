"""Incremental re-indexing with versions, on a real index: a new version of a document
demotes the old one without re-embedding it, and a status or date changed through the
metadata file re-publishes that document's record only (every chunk, vector and every
other record as it was; nothing embedded)."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from index.build import IngestConfig, ingest
from index.chunkdb import ChunkDB
from index.searcher import Searcher
from index.store import IndexStore
from ingest.chunking import ChunkerConfig

OLD = ("# Warranty Terms (2023)\n\nEffective: 1 March 2023.\n\n## Cover\n\n"
       "Every vacuum is covered for one year against defects in parts and labour.\n\n"
       "## Claims\n\nSend the receipt and the serial number to the service desk.\n")
NEW = ("# Warranty Terms\n\nEffective: 1 June 2025.\n\n## Cover\n\n"
       "Every vacuum is now covered for two years against defects.\n")
OTHERS = {
    "shipping.txt": "Shipping takes five business days to most addresses.\n",
    "faq.md": "# FAQ\n\n## Hours\n\nThe service desk answers calls from 9 to 5.\n",
}


class CountingEmbedder:
    """The real embedder, counting the calls and recording the texts it embeds."""

    def __init__(self, inner) -> None:
        self.inner, self.info, self.count_tokens = inner, inner.info, inner.count_tokens
        self.calls = 0
        self.texts: list[str] = []

    def encode(self, texts, progress: bool = False):
        texts = list(texts)
        if texts:
            self.calls += 1
        self.texts.extend(texts)
        return self.inner.encode(texts, progress=progress)

    def encode_query(self, text):
        return self.inner.encode_query(text)

    def reset(self) -> None:
        self.calls, self.texts = 0, []


@dataclasses.dataclass
class Snapshot:
    """What one published version holds: records, chunks (by source) and vectors."""

    version: str
    records: dict
    chunks: dict  # source -> [(chunk_id, text)]
    vectors: dict  # source -> (n, dim) array

    @classmethod
    def read(cls, index: Path) -> Snapshot:
        store = IndexStore(index)
        folder = store.version_dir(store.current())
        db = ChunkDB(folder / "chunks.sqlite")
        try:
            docs = db.documents()
            rows = db.chunks(range(db.count_chunks()))
        finally:
            db.close()
        vectors = np.load(folder / "vectors.npy")
        records, chunks, vecs = {}, {}, {}
        for d in docs:
            r = d.record
            span = range(d.row_start, d.row_start + r.n_chunks)
            records[r.source] = r
            chunks[r.source] = [(rows[i].chunk_id, rows[i].text) for i in span]
            vecs[r.source] = vectors[d.row_start : d.row_start + r.n_chunks].copy()
        return cls(store.current(), records, chunks, vecs)


@pytest.fixture
def counting(embedder) -> CountingEmbedder:
    return CountingEmbedder(embedder)


@pytest.fixture
def corpus(tmp_path, counting):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "warranty-2023.md").write_text(OLD)
    for name, text in OTHERS.items():
        (docs / name).write_text(text)
    ingest([docs], tmp_path / "index", progress=False, embedder=counting)
    counting.reset()
    return tmp_path


def run(root: Path, embedder, **config):
    return ingest([root / "docs"], root / "index", IngestConfig(**config), progress=False,
                  embedder=embedder)


def assert_same_chunks(before: Snapshot, after: Snapshot, sources) -> None:
    for source in sources:
        assert after.chunks[source] == before.chunks[source], source
        np.testing.assert_array_equal(after.vectors[source], before.vectors[source])


def test_a_new_version_demotes_the_old_one_and_embeds_only_itself(corpus, counting):
    before = Snapshot.read(corpus / "index")
    assert before.records["warranty-2023.md"].status == "current"

    (corpus / "docs" / "warranty-2025.md").write_text(NEW)
    report = run(corpus, counting)
    after = Snapshot.read(corpus / "index")

    assert report.added == ["warranty-2025.md"] and report.updated == []
    assert counting.calls == 1  # one batch: the new document's chunks, nothing else
    new_chunks = [text for _, text in after.chunks["warranty-2025.md"]]
    assert len(counting.texts) == len(new_chunks)  # embedded with its heading path in front
    assert all(e.endswith(t) for e, t in zip(counting.texts, new_chunks, strict=True))
    assert report.chunks_embedded == len(after.chunks["warranty-2025.md"])
    assert_same_chunks(before, after, ["warranty-2023.md", *OTHERS])  # carried as they were

    old = after.records["warranty-2023.md"]
    assert (old.status, old.superseded_by) == ("superseded", "warranty-2025.md")
    assert old.family == after.records["warranty-2025.md"].family
    assert after.records["warranty-2025.md"].status == "current"
    assert report.status_changed == [
        "warranty-2023.md: status current -> superseded (by warranty-2025.md)"]
    for source in OTHERS:  # untouched records
        assert after.records[source] == before.records[source]

    hits = Searcher(corpus / "index", embedder=counting).search_batch(
        ["warranty cover for parts and labour", "send the receipt and serial number"],
        k=10, versions="off")
    old_hits = [h for hits_ in hits for h in hits_ if h.source == "warranty-2023.md"]
    assert old_hits and {h.status for h in old_hits} == {"superseded"}  # every chunk demoted


@pytest.mark.parametrize("change, expect", [
    ('status = "archived"', ("status", "current -> archived")),
    ('effective = "2024-02-01"', ("effective_date", "- -> 2024-02-01")),
])
def test_a_metadata_change_republishes_that_record_only(corpus, counting, change, expect):
    before = Snapshot.read(corpus / "index")
    meta = corpus / "meta.toml"
    meta.write_text(f'["shipping.txt"]\n{change}\n')
    report = run(corpus, counting, metadata=meta)
    after = Snapshot.read(corpus / "index")

    assert after.version != before.version  # published ...
    assert counting.calls == 0 and report.chunks_embedded == 0  # ... without embedding
    assert report.added == report.updated == report.removed == []
    assert report.metadata_reread == 0  # kept documents are not even parsed again
    field, change_text = expect
    assert report.status_changed == [f"shipping.txt: {field} {change_text}"]
    assert_same_chunks(before, after, before.chunks)  # every chunk and vector as it was
    changed = {s for s in before.records if after.records[s] != before.records[s]}
    assert changed == {"shipping.txt"}
    new, old = after.records["shipping.txt"], before.records["shipping.txt"]
    differs = {f.name for f in dataclasses.fields(new)
               if getattr(new, f.name) != getattr(old, f.name)}
    assert differs == {field}

    again = run(corpus, counting)  # the stored rules still apply: nothing changes now
    assert again.status_changed == [] and counting.calls == 0
    assert Snapshot.read(corpus / "index").records == after.records


def test_a_new_parser_or_chunk_size_reparses_the_files_it_touches(corpus, counting,
                                                                  monkeypatch):
    # Bytes unchanged, so nothing is re-embedded ...
    report = run(corpus, counting)
    assert counting.calls == 0 and sorted(report.unchanged) == sorted(
        ["warranty-2023.md", *OTHERS])
    before = Snapshot.read(corpus / "index")
    import ingest.loaders

    md, txt = ingest.loaders.PARSER_VERSIONS[".md"], ingest.loaders.PARSER_VERSIONS[".txt"]
    assert before.records["faq.md"].parse == f"md/{md} 192/32/48"
    # ... until the Markdown parser's version moves: its files are parsed again, the
    # others kept as they were, and the summary says why.
    monkeypatch.setitem(ingest.loaders.PARSER_VERSIONS, ".md", md + 1)
    report = run(corpus, counting)
    assert sorted(report.updated) == ["faq.md", "warranty-2023.md"]
    assert report.unchanged == ["shipping.txt"]
    assert any("parsed again" in w for w in report.warnings)
    after = Snapshot.read(corpus / "index")
    assert after.records["faq.md"].parse == f"md/{md + 1} 192/32/48"
    assert_same_chunks(before, after, ["shipping.txt"])
    counting.reset()
    # A new chunk size touches every file.
    report = run(corpus, counting, chunker=ChunkerConfig(chunk_tokens=128))
    assert sorted(report.updated) == sorted(["warranty-2023.md", *OTHERS])
    assert Snapshot.read(corpus / "index").records["shipping.txt"].parse == f"txt/{txt} 128/32/48"


def test_an_index_from_before_parse_tags_reparses_only_what_changed_since():
    from ingest.loaders import parse_outdated, parse_tag

    chunker = ChunkerConfig()
    # no record: parsed by version 1 of every parser; HTML's and Markdown's have moved on,
    # a parser never bumped (none is listed for the suffix) has not
    assert parse_outdated("", "manual/page.html", chunker)
    assert parse_outdated("", "notes.md", chunker)
    assert not parse_outdated("", "notes.rst", chunker)
    assert not parse_outdated(parse_tag("notes.md", chunker), "notes.md", chunker)
    assert parse_outdated("md/1 128/32/48", "notes.md", chunker)
