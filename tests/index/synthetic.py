"""Seeded synthetic documents, vectors and a fake embedder for the index tests."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from index.records import DocRecord
from index.writer import IndexWriter
from ingest.embedding import EmbedderInfo
from ingest.records import Chunk

DIM = 16
INFO = EmbedderInfo(model_id="fake-embedder@000000", dim=DIM, normalized=True, max_tokens=128)


def unit(rng: np.random.Generator, n: int, dim: int = DIM) -> np.ndarray:
    """``n`` random unit vectors, float32 (n, dim)."""
    x = rng.standard_normal((n, dim)).astype(np.float32)
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def make_doc(source: str, texts: list[str], title: str = "", version: str = "1"):
    """A DocRecord and its chunks for ``texts``; ``version`` changes the content hash."""
    doc_id = hashlib.sha1(source.encode()).hexdigest()[:12]
    record = DocRecord(
        doc_id=doc_id, source=source,
        content_hash=hashlib.sha256(f"{source}:{version}:{texts}".encode()).hexdigest(),
        size=sum(len(t) for t in texts), mtime=0.0, n_chunks=len(texts), title=title,
    )
    chunks, pos = [], 0
    for i, text in enumerate(texts):
        chunks.append(Chunk(
            chunk_id=f"{doc_id}-{version}-{i}", doc_id=doc_id, source=source, text=text,
            start=pos, end=pos + len(text), page_index=i + 1, page_label=str(i + 1),
            heading=("Intro", f"Part {i}"), title=title,
        ))
        pos += len(text) + 2
    return record, chunks


@dataclass
class FakeEmbedder:
    """Embeds by hashing words into a fixed random vector table: same words, close vectors."""

    info: EmbedderInfo = INFO

    def _word(self, word: str) -> np.ndarray:
        seed = int(hashlib.sha1(word.lower().encode()).hexdigest()[:8], 16)
        return np.random.default_rng(seed).standard_normal(self.info.dim).astype(np.float32)

    def encode(self, texts: list[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.info.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.split():
                out[i] += self._word(word.strip(".,?!"))
            out[i] /= max(np.linalg.norm(out[i]), 1e-6)
        return out

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


CORPUS = {
    "policies/refunds.md": ["Refund policy: customers may request a refund within 30 days.",
                            "Refunds are paid back to the original card."],
    "policies/shipping.md": ["Shipping takes five business days.",
                             "Express shipping costs extra and arrives tomorrow."],
    "handbook/vacation.md": ["Employees get 25 vacation days per year.",
                             "Unused vacation carries over until March."],
    "handbook/security.md": ["Badges must be worn inside the office.",
                             "Report lost laptops to the security desk at once."],
}


def write_corpus(index_dir: Path, corpus: dict[str, list[str]] | None = None, **open_kw):
    """Index ``corpus`` (default CORPUS) with FakeEmbedder vectors; returns the manifest."""
    embedder = FakeEmbedder()
    with IndexWriter.open(index_dir, INFO, **open_kw) as writer:
        for source, texts in (corpus or CORPUS).items():
            record, chunks = make_doc(source, texts, title=source.split("/")[-1])
            writer.add_document(record, chunks, embedder.encode(texts))
        return writer.commit()


def assert_consistent(index_dir: Path) -> None:
    """Every row of the live version agrees across SQLite, vectors.npy and BM25 counts."""
    from index.analysis import Vocabulary
    from index.bm25 import BM25Index
    from index.chunkdb import ChunkDB
    from index.manifest import Manifest
    from index.store import IndexStore

    store = IndexStore(index_dir)
    version = store.version_dir(store.current())
    manifest = Manifest.load(version)
    db = ChunkDB(version / "chunks.sqlite")
    vectors = np.load(version / "vectors.npy")
    vocab, counts = BM25Index.load_terms(version / "bm25")
    chunks = db.chunks(range(manifest.n_chunks))
    assert len(chunks) == len(vectors) == len(counts) == manifest.n_chunks
    row = 0
    for doc in db.documents():  # contiguous, in row order, covering every row
        assert doc.row_start == row
        for r in range(row, row + doc.record.n_chunks):
            assert chunks[r].source == doc.record.source
        row += doc.record.n_chunks
    assert row == manifest.n_chunks
    texts = [chunks[r].text for r in range(len(chunks))]
    np.testing.assert_allclose(vectors, FakeEmbedder().encode(texts), atol=1e-6)
    fresh_vocab = Vocabulary()
    bm25_texts = [manifest.bm25.document_text(chunks[r].title, chunks[r].text, chunks[r].heading)
                  for r in range(len(chunks))]
    fresh = manifest.bm25.analyzer().count(bm25_texts, fresh_vocab)
    for r in range(len(chunks)):
        assert _terms_of(counts.slice(r, r + 1), vocab) == _terms_of(
            fresh.slice(r, r + 1), fresh_vocab
        )
    db.close()


def _terms_of(counts, vocab) -> dict[str, int]:
    return {vocab.terms[t]: int(tf) for t, tf in zip(counts.terms, counts.tfs, strict=True)}
