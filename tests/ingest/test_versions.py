"""What a document states about its version: each way of stating it, each bad input, and
the acme corpus's conflicting versions read as the README's table says."""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

import pytest

from ingest.discover import FileEntry
from ingest.loaders import load_document
from ingest.versions import VersionInfo, front_matter, parse_date, read_version_info

ACME = Path(__file__).resolve().parents[2] / "examples" / "acme" / "docs"


def load(path: Path, source: str | None = None):
    st = path.stat()
    return load_document(FileEntry(path, source or path.name, st.st_size, st.st_mtime))


@pytest.mark.parametrize(("text", "iso"), [
    ("2025-04-01", "2025-04-01"), ("1 April 2025", "2025-04-01"),
    ("April 1, 2025", "2025-04-01"), ("1st Apr 2025", "2025-04-01"),
    ("March 2025", "2025-03-01"), ("**15 January 2025**", "2025-01-15"),
])
def test_dates_in_the_usual_spellings(text, iso):
    assert parse_date(text) == (iso, None)


@pytest.mark.parametrize(("text", "why"), [
    ("2025-02-30", "impossible"), ("30 February 2025", "impossible"), ("2023-13-01", "impossible"),
    ("soon", "not a date"), ("2025", "not a date"),
])
def test_bad_dates_are_named_not_guessed(text, why):
    iso, problem = parse_date(text)
    assert iso is None and why in problem


def test_front_matter_fields(tmp_path):
    doc = tmp_path / "refunds.md"
    doc.write_text(
        "---\ntitle: Refund Policy\neffective: 2025-04-01\nversion: 3.0\nstatus: current\n"
        "family: refunds\nsupersedes: [refunds-2023.md, Old Refund Policy]\ntags: [x]\n---\n"
        "# Refund Policy\n\nReturns within 30 days.\n"
    )
    d = load(doc)
    info = d.version_info
    assert (d.effective_date, d.status, d.family, d.title) == (
        "2025-04-01", "current", "refunds", "Refund Policy")
    assert (info.version, info.supersedes, info.explicit) == (
        "3.0", ("refunds-2023.md", "Old Refund Policy"), True)
    assert info.date_source == "front matter effective" and info.problems == ()


def test_front_matter_updated_is_the_fallback_date(tmp_path):
    doc = tmp_path / "faq.md"
    doc.write_text("---\nupdated: 10 March 2025\n---\n# FAQ\n\nText.\n")
    assert load(doc).effective_date == "2025-03-10"


@pytest.mark.parametrize(("front", "problem"), [
    ("title: [unclosed\n", "not valid YAML"),
    ("- just\n- a list\n", "not a mapping"),
    ("effective: 2025-02-30\n", "impossible date"),
    ("effective: next week\n", "not a date"),
    ("status: retired-ish\n", "status 'retired-ish'"),
    ("version: [1, 2]\n", "version must be a single value"),
])
def test_malformed_front_matter_is_named_and_the_document_kept(tmp_path, front, problem):
    doc = tmp_path / "bad.md"
    doc.write_text(f"---\n{front}---\n# Bad\n\nThe body is still indexed.\n")
    d = load(doc)
    assert "still indexed" in d.text and "---" not in d.text
    assert d.effective_date is None
    assert any(problem in p for p in d.version_info.problems), d.version_info.problems


def test_effective_and_version_lines_in_plain_text(tmp_path):
    doc = tmp_path / "policy.txt"
    doc.write_text("SECURITY POLICY\nDocument SP-1, version 1.3\nEffective date: 1 March 2022\n\n"
                   "Passwords need 8 characters.\n")
    d = load(doc)
    assert (d.effective_date, d.version_info.version, d.status) == ("2022-03-01", "1.3", "unknown")
    assert d.version_info.date_source == "Effective line"


def test_impossible_date_on_an_effective_line_is_named(tmp_path):
    doc = tmp_path / "p.txt"
    doc.write_text("Effective: 31 April 2025\n\nText.\n")
    d = load(doc)
    assert d.effective_date is None
    assert any("impossible" in p for p in d.version_info.problems)


@pytest.mark.parametrize(("top", "status"), [
    ("> ARCHIVED: kept for reference.", "archived"),
    ("ARCHIVED - superseded by the 2025 prices", "archived"),
    ("RELEASE NOTES (ARCHIVED)", "archived"),
    ("Status: SUPERSEDED by the Security Whitepaper (2025)", "superseded"),
    ("Status: current", "current"),
    ("This policy was superseded on 1 April 2025 by version 3.0.", "superseded"),
    ("This version has been archived.", "archived"),
])
def test_status_notices(top, status):
    assert read_version_info(f"Title\n\n{top}\n\nBody.").status == status


@pytest.mark.parametrize("text", [
    "For firmware 2.x, see the archived firmware 2 release notes.",
    "The S7 replaced the SweepBot S5. This model was replaced by the S9.",
    "REPLACED PARTS\n\nBrushes and filters.",
])
def test_words_that_are_not_notices(text):
    assert read_version_info(text).status is None


def test_a_notice_date_is_the_successors_not_this_documents():
    info = read_version_info("ARCHIVED - superseded by the prices effective 1 March 2025\n"
                             "Price Sheet 2023\nPrices effective 1 February 2023.\n")
    assert (info.status, info.effective_date) == ("archived", "2023-02-01")
    assert info.superseded_by == ("the prices",)


def test_prose_supersedes_and_superseded_by():
    info = read_version_info("Prices effective 1 March 2025. These prices replace the 2023 "
                             "price sheet. Existing subscribers keep their price.")
    assert info.supersedes == ("the 2023 price sheet",) and not info.explicit
    old = read_version_info("Status: SUPERSEDED by the Security Whitepaper (2025), effective "
                            "15 January 2025")
    assert old.superseded_by == ("the Security Whitepaper (2025)",)


def test_statements_far_below_the_top_are_not_read():
    text = "Release notes\n\n" + "Fixed things.\n" * 200 + "ARCHIVED: old\nEffective: 1 May 2020\n"
    info = read_version_info(text)
    assert (info.status, info.effective_date) == (None, None)


def test_pdf_metadata_date_is_the_last_resort(make_pdf, tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_creation_date(datetime(2024, 5, 6, 12, 0))
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.multi_cell(0, 8, "Quick start guide.\nPlug it in.")
    path = tmp_path / "guide.pdf"
    pdf.output(str(path))
    d = load(path)
    assert (d.effective_date, d.version_info.date_source) == ("2024-05-06", "PDF metadata")
    stated = make_pdf(["Guide\nEffective: 2 February 2023\nPlug it in."], name="stated.pdf")
    assert load(stated).effective_date == "2023-02-02"


def test_no_statement_means_no_date_and_mtime_is_never_used(tmp_path):
    doc = tmp_path / "notes.txt"
    doc.write_text("Plain notes without any date.\n")
    os.utime(doc, (1_600_000_000, 1_600_000_000))
    d = load(doc)
    assert (d.effective_date, d.status, d.version_info.date_source) == (None, "unknown", None)


def test_version_info_round_trips_through_json():
    info = read_version_info("---\n", front={"effective": "2025-01-02", "supersedes": ["a.md"]})
    assert VersionInfo.from_json(info.to_json()) == info
    assert front_matter("no front matter") == ({}, [])


ACME_EXPECTED = {
    # source: (effective date, stated status, version)
    "policies/refunds-2023.md": ("2023-01-01", "archived", "2.1"),
    "policies/refunds-2025.md": ("2025-04-01", None, "3.0"),
    "plans/price-sheet-2023.pdf": ("2023-02-01", "archived", None),
    "plans/pricing.html": ("2025-03-01", None, None),
    "policies/security-policy-2022.txt": ("2022-03-01", "superseded", "1.3"),
    "policies/security-whitepaper-2025.pdf": ("2025-01-15", None, "2025.1"),
    "release-notes/firmware-2.txt": (None, "archived", None),
    "release-notes/firmware-3.html": (None, None, None),
}


@pytest.mark.parametrize("source", sorted(ACME_EXPECTED))
def test_acme_conflicting_versions_state_what_the_readme_says(source):
    d = load(ACME / source, source)
    info = d.version_info
    assert (d.effective_date, info.status, info.version) == ACME_EXPECTED[source]
    assert info.problems == ()
