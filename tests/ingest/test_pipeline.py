"""End-to-end ingest on small real files with the real bundled embedder and FAISS index."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.errors import ConfigError, IndexLockedError, IndexMismatchError
from index.build import IngestConfig, ingest
from index.searcher import Searcher
from ingest.chunking import Chunker, ChunkerConfig
from ingest.discover import DiscoverConfig
from ingest.records import Document, Section

REPO = Path(__file__).resolve().parents[2]


def write_corpus(root: Path) -> None:
    (root / "policies").mkdir(parents=True)
    (root / "policies" / "refunds.md").write_text(
        "# Refunds\n\n## Refund window\n\nCustomers may return a product within 30 days of "
        "delivery for a full refund.\n\n## Restocking\n\n"
        "Opened vacuums carry a 10% restocking fee.\n"
    )
    (root / "shipping.txt").write_text(
        "Standard shipping takes 5 to 7 business days.\n\nExpress shipping costs $19.\n"
    )
    (root / "faq.html").write_text(
        "<html><head><title>FAQ</title><script>var tracking=1;</script></head><body>"
        "<nav>Home | Products | Login</nav><main><h1>Battery FAQ</h1>"
        "<p>The RoboVac X2 battery holds 5200 mAh and runs for 140 minutes on one charge. "
        "Charging from empty to full takes about four hours on the included dock.</p>"
        "<h2>Replacement</h2><p>Replacement batteries cost $49 and ship within two days. "
        "Order them from the accessories page of your account.</p></main>"
        "<footer>Copyright Acme</footer></body></html>"
    )


def test_chunks_fit_window_and_offsets_point_into_text(embedder):
    words = " ".join(f"word{i} is a fine token in sentence {i}." for i in range(400))
    sections = (Section(words, 1, "i", ("H",)), Section("tail", 2, "ii"))
    doc = Document("d", "a.md", "T", sections, "h")
    chunker = Chunker(ChunkerConfig(chunk_tokens=64, overlap_tokens=16), embedder.count_tokens)
    chunks = chunker.chunk(doc)
    assert len(chunks) > 10
    for c in chunks:
        assert doc.text[c.start : c.end] == c.text
        assert embedder.count_tokens(c.text) <= 64
    assert chunks[-1].page_label == "ii" and chunks[0].heading == ("H",)
    # consecutive chunks overlap, so a sentence cut at one boundary is whole in a neighbour
    assert chunks[1].start < chunks[0].end


def test_chunker_config_rejects_a_window_overflow(embedder):
    with pytest.raises(ConfigError, match="chunk_tokens"):
        ChunkerConfig(chunk_tokens=250).check_window(embedder.info.max_tokens)
    with pytest.raises(ConfigError, match="overlap_tokens"):
        ChunkerConfig(chunk_tokens=64, overlap_tokens=40)


def test_ingest_then_search_cites_source_and_heading(tmp_path, embedder):
    docs, index = tmp_path / "docs", tmp_path / "index"
    write_corpus(docs)
    report = ingest([docs], index, progress=False, embedder=embedder)
    assert sorted(report.added) == ["faq.html", "policies/refunds.md", "shipping.txt"]
    assert report.exit_code == 0 and report.chunks_total == report.chunks_embedded > 0
    hits = Searcher(index, embedder=embedder).search("how many days to return for a refund", k=3)
    assert hits[0].source == "policies/refunds.md"
    assert hits[0].heading[-1] == "Refund window"
    html_hits = Searcher(index, embedder=embedder).search("battery capacity mAh", k=1)
    assert html_hits[0].source == "faq.html" and "5200 mAh" in html_hits[0].text
    assert "tracking" not in html_hits[0].text and "Login" not in html_hits[0].text


def test_reingest_only_embeds_changes_and_removes_deleted(tmp_path, embedder):
    docs, index = tmp_path / "docs", tmp_path / "index"
    write_corpus(docs)
    first = ingest([docs], index, progress=False, embedder=embedder)
    (docs / "shipping.txt").write_text("Standard shipping now takes 3 business days.\n")
    (docs / "faq.html").unlink()
    (docs / "warranty.md").write_text("# Warranty\n\nThe warranty lasts 24 months.\n")
    second = ingest([docs], index, progress=False, embedder=embedder)
    assert second.added == ["warranty.md"]
    assert second.updated == ["shipping.txt"]
    assert second.removed == ["faq.html"]
    assert second.unchanged == ["policies/refunds.md"]
    assert second.chunks_embedded == 2  # one chunk each for warranty.md and shipping.txt
    assert second.version != first.version
    searcher = Searcher(index, embedder=embedder)
    assert all(p.source != "faq.html" for p in searcher.search("battery mAh", k=10, mode="bm25"))
    assert "3 business days" in searcher.search("shipping time", k=1)[0].text
    third = ingest([docs], index, progress=False, embedder=embedder)
    assert third.chunks_embedded == 0 and not (third.added or third.updated or third.removed)
    # nothing changed: the live version stays, no new one is published (or loaded)
    assert third.version == second.version and not third.published and second.published
    assert Searcher(index, embedder=embedder).version == second.version


def test_bad_files_are_skipped_and_the_rest_indexed(tmp_path, embedder):
    docs, index = tmp_path / "docs", tmp_path / "index"
    write_corpus(docs)
    (docs / "broken.pdf").write_bytes(b"%PDF-1.7\n garbage that is not a pdf")
    (docs / "empty.md").write_text("")
    (docs / "data.xyz").write_text("unknown")
    report = ingest([docs], index, progress=False, embedder=embedder)
    assert report.exit_code == 3
    assert {s.source for s in report.skipped} == {"broken.pdf", "empty.md", "data.xyz"}
    assert all(s.reason for s in report.skipped)
    assert len(report.added) == 3


def test_a_file_that_breaks_keeps_its_previous_version(tmp_path, embedder):
    docs, index = tmp_path / "docs", tmp_path / "index"
    write_corpus(docs)
    ingest([docs], index, progress=False, embedder=embedder)
    (docs / "shipping.txt").write_bytes(b"\x00\x01\x02binary\xff\xfe" * 50)
    report = ingest([docs], index, progress=False, embedder=embedder)
    assert [s.source for s in report.skipped] == ["shipping.txt"]
    hit = Searcher(index, embedder=embedder).search("express shipping cost", k=1, mode="bm25")
    assert hit[0].source == "shipping.txt" and "$19" in hit[0].text


def test_a_file_skipped_before_parsing_keeps_its_previous_version(tmp_path, embedder,
                                                                  monkeypatch):
    # Too large now, or in a folder that cannot be listed: the files are still there, so
    # the index keeps them, as it keeps a file that fails to parse.
    docs, index = tmp_path / "docs", tmp_path / "index"
    write_corpus(docs)
    ingest([docs], index, progress=False, embedder=embedder)
    real_scandir = os.scandir

    def scandir(path):  # (shutil.rmtree passes file descriptors)
        if isinstance(path, (str, os.PathLike)) and Path(path).name == "policies":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    small = IngestConfig(discover=DiscoverConfig(max_file_bytes=300))
    report = ingest([docs], index, small, progress=False, embedder=embedder)
    assert {s.source: s.reason.split(" (")[0] for s in report.skipped} == {
        "faq.html": "file too large", "policies": "cannot list directory"}
    assert report.removed == [] and report.exit_code == 3
    assert sorted(report.unchanged) == ["faq.html", "policies/refunds.md", "shipping.txt"]
    searcher = Searcher(index, embedder=embedder)
    assert searcher.search("battery mAh", k=1, mode="bm25")[0].source == "faq.html"
    assert searcher.search("refund window", k=1, mode="bm25")[0].source == "policies/refunds.md"


def test_a_path_with_nothing_to_index_changes_nothing(tmp_path, embedder):
    docs, index = tmp_path / "docs", tmp_path / "index"
    write_corpus(docs)
    first = ingest([docs], index, progress=False, embedder=embedder)
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="nothing to ingest: no files under .*empty"):
        ingest([tmp_path / "empty"], index, progress=False, embedder=embedder)
    with pytest.raises(ConfigError, match="nothing to ingest"):
        ingest([tmp_path / "empty"], tmp_path / "new", progress=False, embedder=embedder)
    assert not (tmp_path / "new").exists()
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "notes.docx").write_bytes(b"PK\x03\x04")
    with pytest.raises(ConfigError, match="would remove all 3 documents"):
        ingest([tmp_path / "other"], index, progress=False, embedder=embedder)
    searcher = Searcher(index, embedder=embedder)
    assert searcher.version == first.version and searcher.info()["n_docs"] == 3


def test_files_that_all_fail_to_parse_change_nothing(tmp_path, embedder):
    # a supported file that is not what its name says ("not a PDF") must not empty the index
    docs, index = tmp_path / "docs", tmp_path / "index"
    write_corpus(docs)
    first = ingest([docs], index, progress=False, embedder=embedder)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "fake.pdf").write_bytes(b"this is not a PDF")
    with pytest.raises(ConfigError, match=r"fake\.pdf.*would remove all 3 documents.*nothing "
                                          r"was changed"):
        ingest([tmp_path / "bad" / "fake.pdf"], index, progress=False, embedder=embedder)
    searcher = Searcher(index, embedder=embedder)
    assert searcher.version == first.version and searcher.info()["n_docs"] == 3


def test_files_that_all_fail_to_parse_start_no_index(tmp_path, embedder):
    """Found by the walkthrough: a new index of only unreadable files was published empty
    (exit 3), and searching it said "no results"."""
    bad, index = tmp_path / "bad", tmp_path / "index"
    bad.mkdir()
    (bad / "fake.pdf").write_bytes(b"this is not a PDF")
    (bad / "blob.bin").write_bytes(b"\x00\x01")
    with pytest.raises(ConfigError, match=r"nothing to index: .*fake\.pdf.*no index was "
                                          r"published"):
        ingest([bad], index, progress=False, embedder=embedder)
    assert not index.exists()  # nothing left behind
    kept = tmp_path / "kept"
    kept.mkdir()
    with pytest.raises(ConfigError, match="nothing to index"):
        ingest([bad], kept, progress=False, embedder=embedder)
    assert kept.is_dir()  # a folder the user made stays


def test_a_nan_wait_is_a_config_error():
    with pytest.raises(ConfigError, match="lock_timeout must be >= 0 seconds, got nan"):
        IngestConfig(lock_timeout=float("nan"))


def test_other_embedder_on_existing_index_is_a_clear_error(tmp_path, embedder):
    from dataclasses import replace

    docs, index = tmp_path / "docs", tmp_path / "index"
    write_corpus(docs)
    ingest([docs], index, progress=False, embedder=embedder)

    class OtherEmbedder:
        info = replace(embedder.info, model_id="other-model", dim=8)
        count_tokens = staticmethod(embedder.count_tokens)

    with pytest.raises(IndexMismatchError, match="other-model"):
        ingest([docs], index, progress=False, embedder=OtherEmbedder())


CHILD = """
import sys, time
from pathlib import Path
import index.build as pipeline
real = pipeline.embed_chunks
def slow(*args, **kwargs):
    print("EMBEDDING", flush=True)
    time.sleep(float(sys.argv[3]))
    return real(*args, **kwargs)
pipeline.embed_chunks = slow
pipeline.ingest([Path(sys.argv[1])], Path(sys.argv[2]), progress=False)
print("DONE", flush=True)
"""


def _start_child(docs: Path, index: Path, delay: float) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(docs), str(index), str(delay)],
        stdout=subprocess.PIPE, text=True, env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    assert line.strip() == "EMBEDDING", line
    return proc


def test_kill_9_mid_reindex_leaves_previous_version_serving(tmp_path, embedder):
    docs, index = tmp_path / "docs", tmp_path / "index"
    write_corpus(docs)
    first = ingest([docs], index, progress=False, embedder=embedder)
    (docs / "shipping.txt").write_text("Shipping is now free on every order.\n")
    proc = _start_child(docs, index, delay=60)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    searcher = Searcher(index, embedder=embedder)
    assert searcher.info()["version"] == first.version
    assert "$19" in searcher.search("express shipping cost", k=1, mode="bm25")[0].text
    # the next ingest is not blocked by the dead writer and publishes the change
    again = ingest([docs], index, progress=False, embedder=embedder)
    assert again.updated == ["shipping.txt"]


def test_second_concurrent_ingest_fails_clearly(tmp_path, embedder):
    docs, index = tmp_path / "docs", tmp_path / "index"
    write_corpus(docs)
    proc = _start_child(docs, index, delay=5)
    try:
        started = time.monotonic()
        with pytest.raises(IndexLockedError, match="another ingest"):
            ingest([docs], index, progress=False, embedder=embedder)
        assert time.monotonic() - started < 5
        waited = ingest([docs], index, IngestConfig(lock_timeout=120), False, embedder)
        assert waited.unchanged  # the first run published; the waiting one saw its work
    finally:
        proc.kill()
        proc.wait(timeout=30)
