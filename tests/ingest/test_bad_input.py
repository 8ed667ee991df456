"""Bad input: each kind gets a clear Skipped/InputFileError naming the file and the problem,
and good files next to it still load."""

from __future__ import annotations

import os
import random
from pathlib import Path
from types import SimpleNamespace

import pytest

from core.errors import InputFileError
from ingest import pdf as pdf_module
from ingest.discover import DiscoverConfig, FileEntry, discover
from ingest.loaders import load_document, load_documents


def entry(path: Path, source: str | None = None) -> FileEntry:
    st = path.stat()
    return FileEntry(path=path, source=source or path.name, size=st.st_size, mtime=st.st_mtime)


def load_error(path: Path, **kwargs) -> InputFileError:
    with pytest.raises(InputFileError) as info:
        load_document(entry(path), **kwargs)
    err = info.value
    assert err.path == path.name and str(err).startswith(f"{path.name}: ")
    return err


def skipped_reasons(root: Path, config: DiscoverConfig | None = None) -> dict[str, str]:
    _, skipped = discover([root], config or DiscoverConfig())
    return {s.source: s.reason for s in skipped}


# --- PDF ---------------------------------------------------------------------------------


def test_random_bytes_with_pdf_suffix(tmp_path):
    path = tmp_path / "junk.pdf"
    path.write_bytes(random.Random(0).randbytes(4096))
    assert "not a PDF" in load_error(path).reason


def test_truncated_real_pdf(tmp_path, make_pdf):
    good = make_pdf([f"page {i} " * 40 for i in range(5)], name="full.pdf")
    data = good.read_bytes()
    path = tmp_path / "cut.pdf"
    path.write_bytes(data[: len(data) // 2])
    assert "truncated PDF" in load_error(path).reason


def test_truncated_shared_pdf(tmp_path, shared_pdf):
    data = shared_pdf("us-constitution.pdf").read_bytes()
    path = tmp_path / "constitution-partial.pdf"
    path.write_bytes(data[: len(data) * 2 // 3])
    assert "truncated PDF" in load_error(path).reason


def test_encrypted_pdf_with_real_password(make_pdf):
    path = make_pdf(["secret text"], name="locked.pdf", owner_password="o", user_password="u")
    assert load_error(path).reason == "encrypted PDF (password required)"


def test_pdf_without_text_layer(make_pdf):
    path = make_pdf(["", ""], name="scan.pdf")  # blank pages: what a scan without OCR gives
    reason = load_error(path).reason
    assert reason.startswith("no extractable text") and "OCR" in reason


def test_pdf_time_budget_exceeded(make_pdf, monkeypatch):
    path = make_pdf(["one", "two", "three"], name="slow.pdf")
    ticks = iter(range(0, 1000, 4))  # every clock reading is 4 s after the previous one
    monkeypatch.setattr(pdf_module, "time", SimpleNamespace(monotonic=lambda: next(ticks)))
    reason = load_error(path, pdf_time_budget_s=5.0).reason
    assert reason == "PDF text extraction exceeded 5 s (stopped at page 2 of 3)"


def test_unexpected_pypdf_exception_is_wrapped(make_pdf, monkeypatch):
    path = make_pdf(["fine"], name="odd.pdf")

    def explode(*args, **kwargs):
        raise KeyError("/Kids")

    monkeypatch.setattr(pdf_module, "PdfReader", explode)
    reason = load_error(path).reason
    assert "KeyError" in reason and "/Kids" in reason


# --- empty, binary, undecodable ------------------------------------------------------


@pytest.mark.parametrize("name", ["empty.txt", "empty.md", "empty.html", "empty.pdf"])
def test_empty_file(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(b"")
    assert "empty file" in load_error(path).reason


@pytest.mark.parametrize(
    "name, content",
    [("blank.txt", b"  \n\n\t \r\n"),
     ("scripts.html", b"<html><head><script>var a=1;</script></head><body> </body></html>")],
)
def test_file_with_no_text(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert "no extractable text" in load_error(path).reason


@pytest.mark.parametrize("name, content", [
    ("heading.md", b"# Only a heading\n"), ("blank.md", b"---\ntitle: x\n---\n\n"),
    ("heads.html", b"<html><body><h1>A</h1><h2>B</h2></body></html>")])
def test_file_with_headings_and_no_text_under_them(tmp_path, name, content):
    path = tmp_path / name
    path.write_bytes(content)
    assert load_error(path).reason == "a title or headings only, no text under them to index"


def test_non_utf8_text_is_rejected_with_offset(tmp_path):
    path = tmp_path / "legacy.txt"
    path.write_bytes("Caf\u00e9 cr\u00e8me".encode("cp1252"))  # too short to detect reliably
    reason = load_error(path).reason
    assert "not valid UTF-8" in reason and "byte 0xe9 at offset 3" in reason


def test_damaged_utf8_is_not_redecoded_as_legacy(tmp_path):
    path = tmp_path / "damaged.md"
    text = "Gr\u00fc\u00dfe und sch\u00f6ne Gr\u00fc\u00dfe aus K\u00f6ln am Rhein. " * 5
    path.write_bytes(text.encode() + b"\xff" + b" more text")
    reason = load_error(path).reason
    assert "not valid UTF-8" in reason and f"offset {len(text.encode())}" in reason


def test_mixed_legacy_and_utf8_text_is_rejected(tmp_path):
    # charset-normalizer alone would call this cp1250 and turn the UTF-8 tail into mojibake.
    legacy = ("Die R\u00fcckgabe ist innerhalb von 30 Tagen m\u00f6glich. Gr\u00f6\u00dfere "
              "Ger\u00e4te m\u00fcssen abgeholt werden. ") * 4
    path = tmp_path / "mixed.txt"
    path.write_bytes(legacy.encode("cp1252") + "Gr\u00fc\u00dfe".encode())
    assert "not valid UTF-8 text (byte 0xfc at offset 5)" in load_error(path).reason


@pytest.mark.parametrize("name", ["junk.txt", "junk.md", "junk.html"])
def test_binary_junk_with_text_suffix(tmp_path, name):
    path = tmp_path / name
    path.write_bytes(random.Random(1).randbytes(2048))
    assert "binary file" in load_error(path).reason


def test_unknown_extension(tmp_path):
    (tmp_path / "image.xyz").write_bytes(b"data")
    assert skipped_reasons(tmp_path) == {"image.xyz": "unsupported file type '.xyz'"}
    assert load_error(tmp_path / "image.xyz").reason == "unsupported file type '.xyz'"


# --- discovery -----------------------------------------------------------------------


def test_file_over_size_limit(tmp_path):
    (tmp_path / "big.txt").write_text("x" * 2000)
    reasons = skipped_reasons(tmp_path, DiscoverConfig(max_file_bytes=1000))
    assert reasons == {"big.txt": "file too large (2000 bytes; max_file_bytes is 1000)"}


def test_directory_symlink_loop(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "doc.md").write_text("# Doc\n\ntext")
    (tmp_path / "sub" / "back").symlink_to(tmp_path, target_is_directory=True)
    entries, skipped = discover([tmp_path], DiscoverConfig())
    assert [e.source for e in entries] == ["sub/doc.md"]
    assert [(s.source, s.reason.split(" (")[0]) for s in skipped] == [
        ("sub/back", "symlink loop")
    ]


def test_symlink_pointing_to_itself_and_mutual_loop(tmp_path):
    (tmp_path / "self.md").symlink_to(tmp_path / "self.md")
    (tmp_path / "a.txt").symlink_to(tmp_path / "b.txt")
    (tmp_path / "b.txt").symlink_to(tmp_path / "a.txt")
    reasons = skipped_reasons(tmp_path)
    assert set(reasons) == {"self.md", "a.txt", "b.txt"}
    assert all(r.startswith("symlink loop") for r in reasons.values())


def test_broken_symlink(tmp_path):
    (tmp_path / "gone.md").symlink_to(tmp_path / "deleted.md")
    reasons = skipped_reasons(tmp_path)
    assert reasons["gone.md"].startswith("broken symlink") and "deleted.md" in reasons["gone.md"]


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root reads files whatever their permissions")
def test_unreadable_file_and_directory(tmp_path):
    (tmp_path / "secret.txt").write_text("x")
    (tmp_path / "secret.txt").chmod(0)
    (tmp_path / "locked").mkdir()
    (tmp_path / "locked").chmod(0)
    try:
        reasons = skipped_reasons(tmp_path)
    finally:
        (tmp_path / "locked").chmod(0o700)
    assert "permission denied" in reasons["secret.txt"]
    assert "cannot list directory" in reasons["locked"]


def test_unreadable_file_and_directory_as_any_user(tmp_path, monkeypatch):
    # The same cases as above, simulated so that they also run as root (as in CI images).
    (tmp_path / "secret.txt").write_text("x")
    (tmp_path / "locked").mkdir()
    (tmp_path / "ok.txt").write_text("fine")
    real_access, real_scandir = os.access, os.scandir

    def access(path, mode, **kwargs):
        return Path(path).name != "secret.txt" and real_access(path, mode, **kwargs)

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real_scandir(path)

    monkeypatch.setattr(os, "access", access)
    monkeypatch.setattr(os, "scandir", scandir)
    entries, skipped = discover([tmp_path], DiscoverConfig())
    assert [e.source for e in entries] == ["ok.txt"]
    assert {s.source: s.reason for s in skipped} == {
        "locked": "cannot list directory (Permission denied)",
        "secret.txt": "permission denied (file is not readable)",
    }


def test_file_deleted_after_discovery(tmp_path):
    path = tmp_path / "vanished.txt"
    path.write_text("here")
    found = entry(path)
    path.unlink()
    with pytest.raises(InputFileError, match="vanished.txt: cannot read file"):
        load_document(found)


def test_good_files_still_load_next_to_bad_ones(tmp_path, make_pdf):
    docs_dir = tmp_path / "docs"
    docs_dir.mkdir()
    (docs_dir / "guide.md").write_text("# Guide\n\nHow to use it.")
    (docs_dir / "notes.txt").write_text("Plain notes.")
    make_pdf(["Page one.", "Page two."], name="docs/report.pdf")
    (docs_dir / "page.html").write_text("<html><body><h1>Hi</h1><p>Body text.</p></body></html>")
    (docs_dir / "empty.txt").write_bytes(b"")
    (docs_dir / "junk.pdf").write_bytes(random.Random(2).randbytes(500))
    (docs_dir / "binary.txt").write_bytes(bytes(range(256)))
    (docs_dir / "locked.pdf").write_bytes(
        make_pdf(["x"], name="tmp-locked.pdf", owner_password="o", user_password="u").read_bytes()
    )
    (docs_dir / "photo.png").write_bytes(b"\x89PNG")
    (docs_dir / "dangling.md").symlink_to(docs_dir / "nowhere.md")
    (docs_dir / "loop").symlink_to(docs_dir, target_is_directory=True)

    entries, skipped = discover([docs_dir], DiscoverConfig())
    documents, errors = load_documents(entries)

    assert sorted(d.source for d in documents) == ["guide.md", "notes.txt", "page.html",
                                                   "report.pdf"]
    failed = {e.path: e.reason for e in errors}
    assert set(failed) == {"empty.txt", "junk.pdf", "binary.txt", "locked.pdf"}
    assert {s.source for s in skipped} == {"photo.png", "dangling.md", "loop"}
    # Nothing is lost: every name in the directory is loaded, failed or skipped.
    every = {p.name for p in docs_dir.iterdir()}
    assert every == {d.source for d in documents} | set(failed) | {s.source for s in skipped}
    assert all(reason for reason in failed.values())
