"""Section headings on PDF and real-world HTML pages: outline and font-layout headings in
PDFs, DocBook-style HTML section paths without navigation, clean whitespace; and the same
on the shared real files (skipped when ../shared/data is absent)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from shared_data import SHARED_DATA

from ingest.chunking import Chunker, ChunkerConfig
from ingest.discover import FileEntry
from ingest.loaders import load_document
from ingest.records import Document, Section
from ingest.text import collapse_whitespace

MANUAL = SHARED_DATA / "postgresql-15-docs" / "html"
needs_manual = pytest.mark.skipif(not MANUAL.is_dir(), reason=f"no PostgreSQL manual: {MANUAL}")
LAYOUT_SPACES = re.compile(r"\S {2,}\S")


def load(path: Path) -> Document:
    return load_document(FileEntry(path, path.name, path.stat().st_size, 0.0))


def paths(doc: Document) -> list[tuple[int | None, tuple[str, ...]]]:
    return [(s.page_index, s.heading) for s in doc.sections]


# --- PDF: outline ------------------------------------------------------------------------


def _outline_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", size=11)  # one size throughout: only the outline has headings

    def para(text: str) -> None:
        pdf.multi_cell(0, 6, text, new_x="LMARGIN", new_y="NEXT")

    pdf.add_page()
    pdf.start_section("Introduction")
    para("Introduction")
    para("The first chapter explains the product. " * 6)
    pdf.add_page()
    para("The introduction goes on at the top of page two.")
    pdf.start_section("Setup")
    para("Setup")
    para("Unpack the robot and charge it. " * 6)
    pdf.ln(8)
    pdf.start_section("Wiring", level=1)
    para("Wiring")
    para("Connect the dock to a wall socket. " * 6)
    pdf.add_page()
    pdf.start_section("Unprinted bookmark")  # no line prints it: cut at its position
    para("Text under a bookmark whose title is not printed.")
    pdf.output(str(path))
    return path


def test_pdf_outline_gives_heading_paths_and_cuts_pages(tmp_path):
    doc = load(_outline_pdf(tmp_path / "outline.pdf"))
    assert paths(doc) == [
        (1, ("Introduction",)),
        (2, ("Introduction",)),  # the page starts inside the previous section
        (2, ("Setup",)),
        (2, ("Setup", "Wiring")),
        (3, ("Unprinted bookmark",)),
    ]
    assert [s.page_label for s in doc.sections] == ["1", "2", "2", "2", "3"]
    assert doc.sections[2].text.startswith("Setup\nUnpack the robot")
    assert doc.sections[1].text == "The introduction goes on at the top of page two."


# --- PDF: tables -------------------------------------------------------------------------


def _table_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", "", 11)

    def row(*cells: str, widths: tuple[int, ...] = (50, 40, 40, 40)) -> None:
        for i, (cell, width) in enumerate(zip(cells, widths, strict=False)):
            last = i == len(cells) - 1
            pdf.cell(width, 6, cell, new_x="LMARGIN" if last else "RIGHT",
                     new_y="NEXT" if last else "TOP")

    pdf.multi_cell(0, 6, "Plan features, as sold in 2023.", new_x="LMARGIN", new_y="NEXT")
    row("Feature", "Free", "Plus", "Premium")
    row("Cloud storage", "500 MB", "20 GB", "100 GB")
    row("Cleaning history", "7 days", "30 days", "90 days")
    pdf.multi_cell(0, 6, "Prices exclude sales tax.", new_x="LMARGIN", new_y="NEXT")
    # a list of values with no header, and a bulleted list: no tables
    row("Model", "ARV-X900P", widths=(50, 60))
    row("Weight", "4.1 kg", widths=(50, 60))
    row("Battery", "6,400 mAh", widths=(50, 60))
    for item in ("Share your robots.", "Keep more history.", "Back up maps."):
        pdf.cell(6, 6, "-")
        pdf.cell(0, 6, item, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_a_pdf_table_is_read_in_columns_under_its_header(tmp_path):
    from assistant.answering.evidence import split_passage
    from index.records import Passage

    doc = load(_table_pdf(tmp_path / "plans.pdf"))
    text = doc.sections[0].text
    assert ("| Feature | Free | Plus | Premium |\n| --- | --- | --- | --- |\n"
            "| Cloud storage | 500 MB | 20 GB | 100 GB |\n"
            "| Cleaning history | 7 days | 30 days | 90 days |\n") in text
    assert "Plan features, as sold in 2023.\n| Feature" in text
    assert "|\nPrices exclude sales tax.\nModel ARV-X900P\n" in text  # no header: as written
    assert "- Share your robots." in text
    units = [u.text for u in split_passage(Passage("c", "d", "plans.pdf", text, 1.0))]
    assert "Feature: Cloud storage; Free: 500 MB; Plus: 20 GB; Premium: 100 GB" in units


# --- PDF: font layout --------------------------------------------------------------------


def _layout_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()

    def text(style: str, size: float, body: str, height: float = 6) -> None:
        pdf.set_font("helvetica", style, size)
        pdf.multi_cell(0, height, body, new_x="LMARGIN", new_y="NEXT")

    for page in range(1, 3):
        pdf.add_page()
        text("I", 8, "Acme Robotics - X9 User Manual - running header")
        if page == 1:
            text("B", 20, "X9 User Manual", 10)
            text("", 11, "This manual explains how to set up and use the robot vacuum.")
            text("B", 14, "Regulatory information", 8)
            text("", 11, "FCC ID: 2AXQ7-X900P. This device complies with part 15 of the FCC "
                         "Rules and must accept any interference received.")
            pdf.set_font("helvetica", "B", 11)  # a table's header row: bold, two columns
            pdf.cell(60, 6, "Setting")
            pdf.cell(60, 6, "Default", new_x="LMARGIN", new_y="NEXT")
            text("", 11, "Suction      Standard")
        else:
            text("", 11, "The regulatory text goes on at the top of the second page.")
            text("B", 14, "Battery disposal", 8)
            text("", 11, "Return used batteries to a collection point.")
            pdf.set_font("helvetica", "B", 9)  # a run-in label: bold "NOTE:" in its paragraph
            pdf.write(6, "WARNING: ")
            pdf.set_font("helvetica", "", 11)
            pdf.write(6, "never open the battery pack.")
            pdf.ln(8)
            text("B", 11, "this bold line is a sentence, not a heading.")
    pdf.output(str(path))
    return path


def test_pdf_layout_headings_from_font_size_and_weight(tmp_path):
    doc = load(_layout_pdf(tmp_path / "manual.pdf"))
    assert paths(doc) == [
        (1, ("X9 User Manual",)),
        (1, ("X9 User Manual", "Regulatory information")),
        (2, ("X9 User Manual", "Regulatory information")),
        (2, ("X9 User Manual", "Battery disposal")),
        (2, ("X9 User Manual", "Battery disposal", "WARNING")),
    ]
    first, regulatory = doc.sections[0], doc.sections[1]
    # The running header goes with the first heading; no text is lost or reordered.
    assert first.text.startswith("Acme Robotics - X9 User Manual - running header\nX9 User Manual")
    assert regulatory.text.startswith("Regulatory information\nFCC ID")
    assert "Setting Default" in regulatory.text  # the bold table row stays text
    assert doc.sections[4].text.startswith("WARNING: never open")
    assert "this bold line is a sentence" in doc.sections[4].text
    chunks = Chunker(ChunkerConfig(), lambda t: len(t.split())).chunk(doc)
    answer = next(c for c in chunks if "2AXQ7-X900P" in c.text)
    assert f"{answer.heading[-1]}, page {answer.page_label}" == "Regulatory information, page 1"


def test_pdf_without_heading_styles_keeps_one_section_per_page(make_pdf):
    doc = load(make_pdf(["Plain page one.", "Plain page two."]))
    assert paths(doc) == [(1, ()), (2, ())]


def _statute_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("helvetica", "", 11)  # every line in body type: no style marks a heading
    lines = [
        "ARTICLE. I.",
        "SECTION 1. All members serve for two Years.",
        "SECTION. 2. 1 The Treasurer keeps the accounts.",
        "Members may resign as required by",  # a reference across a line break
        "Section 4. Bylaws say how, in writing.",
        "[ARTICLE II.]3",  # brackets and a footnote mark, as printed amendments have them
        "Section 1. The annual meeting is held in May.",
    ]
    for page in range(2):
        pdf.add_page()
        for line in lines[:5] if page == 0 else lines[5:]:
            pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_pdf_numbered_articles_and_sections_in_body_type_are_headings(tmp_path):
    doc = load(_statute_pdf(tmp_path / "bylaws.pdf"))
    # an article's label line goes with its first section (a section has body text)
    assert paths(doc) == [
        (1, ("Article I", "Section 1")),
        (1, ("Article I", "Section 2")),
        (2, ("Article II", "Section 1")),
    ]
    # the label lines stay in the text; "Section 4." after an unfinished line is a
    # reference and heads nothing
    assert doc.sections[0].text == "ARTICLE. I.\nSECTION 1. All members serve for two Years."
    assert doc.sections[1].text.startswith("SECTION. 2. 1 The Treasurer")
    assert "by\nSection 4. Bylaws say how" in doc.sections[1].text


def test_us_constitution_articles_and_sections(shared_pdf):
    doc = load(shared_pdf("us-constitution.pdf"))
    heads = {s.heading[1:] for s in doc.sections if len(s.heading) > 1}
    # the seven articles, and all 27 amendments (printed "ARTICLE [XIV.]" as well) under
    # the title the amendments are printed under, so "Article I" of the amendments is not
    # the Constitution's Article I
    roman = ["I", "II", "III", "IV", "V", "VI", "VII", "VIII", "IX", "X"]
    numerals = roman + [f"X{n}" for n in roman] + [f"XX{n}" for n in roman[:7]]
    amendments = "ARTICLES IN ADDITION TO, AND AMENDMENT OF, THE CONSTITUTION OF THE UNITED " \
        "STATES OF AMERICA"
    assert {h[0] for h in heads if h[0].startswith("Article")} == \
        {f"Article {n}" for n in roman[:7]}
    assert {h[1] for h in heads if h[0] == amendments} == {f"Article {n}" for n in numerals}
    senate = next(s for s in doc.sections if "composed of two Senators" in s.text)
    assert senate.heading[1:] == ("Article I", "Section 3")
    assert senate.page_label == "i"
    speech = next(s for s in doc.sections if "abridging the freedom of" in s.text)
    assert speech.heading[1:] == (amendments, "Article I")
    citizens = next(s for s in doc.sections if "born or naturalized" in s.text)
    assert citizens.heading[1:] == (amendments, "Article XIV", "Section 1")
    # the proposed amendments after the 27th have titles of their own; the signers' names
    # in capitals ("JOHN DICKINSON", "RICHARD BASSETT") head nothing
    titles = {h[0] for h in heads} - {amendments}
    assert "PROPOSED AMENDMENTS TO THE CONSTITUTION NOT RATIFIED BY THE STATES" in titles
    assert any(t.endswith("THE DISTRICT OF COLUMBIA IN THE CONGRESS") for t in titles)
    assert not any("DICKINSON" in h for s in doc.sections for h in s.heading)
    with_section = [s for s in doc.sections if "Article" in " ".join(s.heading)]
    assert len(with_section) / len(doc.sections) >= 0.8


def _caps_title_pdf(path: Path) -> Path:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", "", 11)  # body type throughout
    lines = [
        "ARTICLE. I.",
        "SECTION 1. The club meets monthly.",
        "Signed by the founders:",
        "JANE ROE",  # names in capitals: no phrase, short lines
        "JOHN DOE",
        "Attest: the Secretary",
        "AMENDMENTS ADOPTED BY THE MEMBERS AT THE",
        "ANNUAL MEETINGS OF THE CLUB2",  # a footnote mark after the title
        "ARTICLE [I.]",
        "Dues are paid in January.",
    ]
    for line in lines:
        pdf.cell(0, 6, line, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def test_pdf_title_in_capitals_heads_the_articles_after_it(tmp_path):
    doc = load(_caps_title_pdf(tmp_path / "bylaws.pdf"))
    title = "AMENDMENTS ADOPTED BY THE MEMBERS AT THE ANNUAL MEETINGS OF THE CLUB"
    assert paths(doc) == [
        (1, ("Article I", "Section 1")),
        (1, (title, "Article I")),
    ]
    assert "JANE ROE\nJOHN DOE" in doc.sections[0].text  # the names stay body text
    assert doc.sections[1].text.startswith("AMENDMENTS ADOPTED BY THE MEMBERS AT THE\n")
    assert doc.sections[1].text.endswith("Dues are paid in January.")


# --- PDF: running headers and footers ---------------------------------------------------


def _running_pdf(path: Path, pages: list[list[tuple[str, str]]], header: str,
                 footer: str) -> Path:
    """One (style, text) line after another on each page, under a running header and
    above a running footer (``footer`` formatted with the page number and count). The
    styles: "" body text, "B" bold, "B " a bold title."""
    from fpdf import FPDF

    class Pdf(FPDF):
        def header(self) -> None:
            self.set_font("helvetica", "", 8)
            self.cell(0, 6, header, align="C", new_x="LMARGIN", new_y="NEXT")
            self.ln(4)

        def footer(self) -> None:
            self.set_y(-15)
            self.set_font("helvetica", "", 8)
            self.cell(0, 6, footer.format(page=self.page_no(), pages=len(pages)), align="C")

    pdf = Pdf()
    for lines in pages:
        pdf.add_page()
        for style, text in lines:
            pdf.set_font("helvetica", style.strip(), {"B ": 18, "B": 13, "": 11}[style])
            pdf.cell(0, 7, text, new_x="LMARGIN", new_y="NEXT")
    pdf.output(str(path))
    return path


def _note(i: int) -> list[tuple[str, str]]:
    return [("", f"Calibration note {i}: at {17 + i} degrees C a value above {150 + i} means"),
            ("", f"position {i} is dirty.")]


def test_pdf_body_lines_that_differ_only_in_numbers_are_not_running_lines(tmp_path):
    # A two-page manual: a note of the text ends page 1 and the next ones open page 2.
    # Once numbers are masked they read like a line on the other page, as a running
    # header does; they had been left out, and the rest of page 2's notes had gone under
    # the next heading.
    page1 = [("B ", "Service Manual"), ("B", "Sensor calibration")]
    page1 += [line for i in range(1, 5) for line in _note(i)] + _note(5)[:1]
    page2 = _note(5)[1:] + _note(6) + _note(7)
    page2 += [("B", "Seal check"), ("", "Replace the seal after 6 months of service.")]
    header = "Acme Robotics - Service Manual - CONFIDENTIAL"
    doc = load(_running_pdf(tmp_path / "manual.pdf", [page1, page2], header,
                            "Doc SM-7 - Page {page} of {pages}"))
    assert paths(doc) == [
        (1, ("Service Manual", "Sensor calibration")),
        (2, ("Service Manual", "Sensor calibration")),
        (2, ("Service Manual", "Seal check")),
    ]
    text = "\n".join(s.text for s in doc.sections)
    for i in range(1, 8):
        assert f"Calibration note {i}: at {17 + i} degrees C" in text, i
        assert f"position {i} is dirty." in text, i
    assert doc.sections[1].text.startswith("position 5 is dirty.\nCalibration note 6")
    # The header is a running line: page 1 keeps it, page 2 does not.
    assert doc.sections[0].text.startswith(header)
    assert text.count(header) == 1


def test_pdf_of_two_pages_keeps_lines_that_differ_only_in_numbers(tmp_path):
    # "Table 1" and "Table 2" end the two pages at the same height, above the footer:
    # two pages are too few to take a line whose numbers change for a running one (the
    # footer's page number stays too); a line that reads the same on both is one.
    pages = [[("", "Unpack the dock and place it on the floor, its back to a wall."),
              ("", "Leave half a metre free on either side of it."), ("", "Table 1")],
             [("", "Plug the cable into a wall socket and wait for the green light."),
              ("", "The robot finds the dock by itself after its first run."), ("", "Table 2")]]
    header = "Acme Robotics - Quick Start - Public"
    doc = load(_running_pdf(tmp_path / "quick.pdf", pages, header, "Page {page} of {pages}"))
    assert [s.page_index for s in doc.sections] == [1, 2]
    assert doc.sections[0].text.startswith(header)
    assert "Table 1" in doc.sections[0].text
    assert doc.sections[1].text.startswith("Plug the cable")
    assert "after its first run.\nTable 2" in doc.sections[1].text
    assert header not in doc.sections[1].text


def test_pdf_running_lines_go_and_numbered_body_lines_at_a_page_top_stay(tmp_path):
    # "Definition 3" opens page 2 where "Definition 1" opened page 1, at the same height;
    # such lines recur all over the pages, so they are text. The header and the footer
    # with its page number are running lines, on every page (page 1 keeps its header).
    terms = [("A dock", "a charger", "the mains"), ("A map", "a floor plan", "the app"),
             ("A zone", "an area", "the map"), ("A schedule", "a plan", "the calendar")]
    pages = [[("", f"Definition {2 * p + 1}"),
              ("", f"{a} is what the glossary says it is."),
              ("", f"A worked example of {b} follows, line by line."),
              ("", f"Then comes a remark on {c}."),
              ("", f"Definition {2 * p + 2}"),
              ("", f"{b.capitalize()} is defined by {a.lower()}."),
              ("", f"The part closes with a word on {c}.")]
             for p, (a, b, c) in enumerate(terms)]
    header = "Acme Robotics - Field Guide - Public"
    doc = load(_running_pdf(tmp_path / "guide.pdf", pages, header,
                            "Field Guide - Page {page} of {pages}"))
    assert [s.page_index for s in doc.sections] == [1, 2, 3, 4]
    text = "\n".join(s.text for s in doc.sections)
    for n in range(1, 9):
        assert f"Definition {n}\n" in text, n
    for s in doc.sections:
        assert (header in s.text) == (s.page_index == 1), s.page_index
        assert "Field Guide - Page" not in s.text, s.page_index
    assert doc.sections[1].text.startswith("Definition 3\nA map is what")


# --- PDF: a real rule from the Federal Register -------------------------------------------


def test_federal_register_sections(shared_pdf):
    doc = load(shared_pdf("federal-register-2020-17221.pdf"))
    # Every page as before but page 8, which holds only a figure's id between the running
    # header and footer (left out of the text): nothing to retrieve there.
    assert {s.page_index for s in doc.sections} == set(range(1, 16)) - {8}
    running = ("Federal Register / Vol.", "VerDate Sep", "PROD with PROPOSALS")
    assert not any(r in s.text for s in doc.sections if s.page_index > 1 for r in running)
    # Page 1 keeps its top lines (a version or status is read there), but its footer, the
    # print stamp, no longer runs into the page's last sentence ("from Soekarno-VerDate").
    first_page = "".join(s.text for s in doc.sections if s.page_index == 1)
    assert "Federal Register" in first_page and "Soekarno-" in first_page
    assert not any(r in first_page for r in running[1:])
    assert all(s.page_label == str(s.page_index) for s in doc.sections)
    by_last: dict[str, Section] = {}  # the first section under each heading (page 15
    for s in doc.sections:  # starts the next rule in the issue, with the same headings)
        if s.heading:
            by_last.setdefault(s.heading[-1], s)
    for name in ("SUMMARY", "DATES", "ADDRESSES", "Background", "Comments Invited",
                 "Costs of Compliance", "(a) Comments Due Date"):
        assert name in by_last, name
    summary = by_last["SUMMARY"]
    assert summary.page_index == 1
    assert summary.heading == ("Airworthiness Directives; The Boeing Company Airplanes",
                               "SUMMARY")
    assert summary.text.startswith("SUMMARY: The FAA proposes to\nsupersede")
    assert by_last["DATES"].text.startswith("DATES: The FAA must receive comments")
    assert by_last["(a) Comments Due Date"].page_index == 6
    # The running header ("47699 Federal Register / Vol. 85 ...") is never a heading.
    assert not any("Federal Register" in h for s in doc.sections for h in s.heading)
    with_heading = sum(bool(s.heading) for s in doc.sections) / len(doc.sections)
    assert with_heading >= 0.95


# --- HTML: DocBook-style pages -----------------------------------------------------------

DOCBOOK = """<?xml version="1.0" encoding="UTF-8"?>
<html xmlns="http://www.w3.org/1999/xhtml"><head><title>20.3. Connections</title></head>
<body><div class="navheader"><table><tr><th>20.3. Connections</th></tr>
<tr><td><a href="a.html">Prev</a> NAVMARK</td><th>Chapter 20. Server Configuration</th></tr>
</table><hr /></div>
<div class="sect1"><div class="titlepage"><div><div><h2 class="title">20.3.\u00a0Connections</h2>
</div></div></div><div class="toc"><dl class="toc"><dt>20.3.1. Connection Settings TOCMARK</dt>
</dl></div>
<div class="sect2"><div class="titlepage"><div><div><h3 class="title">20.3.1.\u00a0Connection
Settings</h3></div></div></div>
<div class="variablelist"><dl class="variablelist"><dt><span class="term">
<code>max_connections</code> (<code>integer</code>)</span></dt><dd><p>
        Determines the maximum number of concurrent
        connections to the database server.   The default is typically 100
        connections.</p>
<div class="note"><h3 class="title">Note</h3><p>When running a standby server, you must set
this parameter to the same or higher value than on the primary server.</p></div></dd></dl></div>
<div class="table"><p class="title"><strong>Table 20.1. Limits</strong></p>
<table><caption>Limits by platform</caption><tr><th>Platform</th><th>Limit</th></tr>
<tr><td>Linux</td><td><p>1024</p><p>per process</p></td></tr></table></div>
<pre class="programlisting">
listen_addresses = '*'
    port = 5432   # indented, spaced
</pre></div>
<div class="sect2"><div class="titlepage"><div><div><h3 class="title">20.3.2.\u00a0SSL</h3>
</div></div></div><p>See the SSL section.</p></div></div>
<div class="navfooter"><hr /><table><tr><td>Prev FOOTMARK</td><td>Home</td></tr></table></div>
</body></html>"""


def test_docbook_page_section_paths_without_navigation(tmp_path):
    path = tmp_path / "runtime-config-connection.html"
    path.write_text(DOCBOOK, encoding="utf-8")
    doc = load(path)
    # The settings list's term heads its definition; after the list, the path steps back.
    assert [s.heading for s in doc.sections] == [
        ("20.3. Connections", "20.3.1. Connection Settings", "max_connections (integer)"),
        ("20.3. Connections", "20.3.1. Connection Settings"),
        ("20.3. Connections", "20.3.2. SSL"),
    ]
    text = doc.text
    for noise in ("NAVMARK", "FOOTMARK", "TOCMARK", "Prev", "Chapter 20."):
        assert noise not in text, noise
    setting, settings = doc.sections[0].text, doc.sections[1].text
    # Layout whitespace collapsed; the term leads its definition's text, as a heading does.
    assert setting.startswith(
        "max_connections (integer)\n\nDetermines the maximum number of concurrent "
        "connections to the database server. The default is typically 100 connections.")
    # An admonition title is text, not a section; a table caption is text too.
    assert "\n\nNote\nWhen running a standby server" in setting
    assert "Table 20.1. Limits" in settings
    assert ("Limits by platform\n| Platform | Limit |\n| --- | --- |\n"
            "| Linux | 1024 per process |") in settings
    # Code keeps its indentation and spacing.
    assert "listen_addresses = '*'\n    port = 5432   # indented, spaced" in settings
    prose = [line for s in doc.sections for line in s.text.split("\n")
             if line and not line.startswith(" ") and "#" not in line]
    assert not [line for line in prose if LAYOUT_SPACES.search(line)]


def test_definition_list_terms_head_their_definitions(tmp_path):
    # A reference page's options: back-to-back terms head one definition together; a list
    # nested in a definition, and a list inside a note, stay text; the path steps back up
    # after the list.
    path = tmp_path / "options.html"
    path.write_text(
        "<html><body><h1>tool</h1><h2>Options</h2><dl><dt>-a<br/>--all</dt><dd><p>Show all."
        "</p><dl><dt>inner</dt><dd>nested text</dd></dl></dd><dt>-q</dt><dt>--quiet</dt>"
        "<dd>Say less.</dd></dl><p>After the list.</p><div class='note'><dl><dt>noted</dt>"
        "<dd>inside a note</dd></dl></div></body></html>")
    doc = load(path)
    assert [s.heading for s in doc.sections] == [
        ("tool", "Options", "-a, --all"), ("tool", "Options", "-q, --quiet"),
        ("tool", "Options"),
    ]
    assert doc.sections[0].text == "-a, --all\n\nShow all.\n\ninner\nnested text"
    assert doc.sections[1].text == "-q, --quiet\n\nSay less."
    assert doc.sections[2].text == "Options\n\nAfter the list.\n\nnoted\ninside a note"


def test_reference_page_title_heading_is_the_root(tmp_path):
    # DocBook reference pages print their name and their sections as <h2>s alike.
    path = tmp_path / "app-psql.html"
    path.write_text(
        "<html><head><title>psql</title></head><body><div class='refentry'>"
        "<div class='refnamediv'><h2>psql</h2><p>psql \u2014 PostgreSQL interactive terminal</p>"
        "</div><div class='refsect1'><h2>Options</h2><p>-a echoes all input.</p>"
        "<div class='refsect2'><h3>Patterns</h3><p>Patterns match names.</p></div></div>"
        "<div class='refsect1'><h2>Exit Status</h2><p>psql returns 0 to the shell.</p></div>"
        "</div></body></html>")
    doc = load(path)
    assert [s.heading for s in doc.sections] == [
        ("psql",), ("psql", "Options"), ("psql", "Options", "Patterns"),
        ("psql", "Exit Status"),
    ]


def test_toc_only_page_keeps_its_toc_and_hidden_furniture_goes(tmp_path):
    path = tmp_path / "part.html"
    path.write_text(
        "<html><body><div class='cookie-consent'>We use cookies</div>"
        "<p hidden>HIDDENMARK</p><div style='display: none'>NONEMARK</div>"
        "<h1>Part III</h1><div class='toc'><ul><li>16. Installation</li>"
        "<li>17. Setup</li></ul></div></body></html>")
    doc = load(path)
    assert doc.sections[0].heading == ("Part III",)
    assert doc.sections[0].text == "Part III\n\n- 16. Installation\n- 17. Setup"


def test_lone_h1_before_main_heads_the_main_content(tmp_path):
    path = tmp_path / "article.html"
    path.write_text(
        "<html><body><header><nav>Home</nav></header><h1>Returns</h1>"
        "<main><p>Return any product within 30 days.</p><h2>Refunds</h2>"
        "<p>Refunds take 5 business days.</p></main><footer>(c) Acme</footer></body></html>")
    doc = load(path)
    assert [s.heading for s in doc.sections] == [("Returns",), ("Returns", "Refunds")]
    assert doc.title == "Returns"


def test_collapse_whitespace():
    assert collapse_whitespace("new \n\t        connections\u00a0now") == "new connections now"


# --- HTML: the PostgreSQL manual ---------------------------------------------------------


@needs_manual
def test_postgresql_manual_section_paths_and_clean_text():
    doc = load(MANUAL / "runtime-config-connection.html")
    headings = [s.heading for s in doc.sections]
    # every setting is a step of its definition's path, under its subsection
    assert headings[0] == ("20.3. Connections and Authentication", "20.3.1. Connection Settings",
                           "listen_addresses (string)")
    assert ("20.3. Connections and Authentication", "20.3.2. Authentication",
            "authentication_timeout (integer)") in headings
    assert ("20.3. Connections and Authentication", "20.3.3. SSL", "ssl (boolean)") in headings
    assert {h[1] for h in headings} == {"20.3.1. Connection Settings",
                                        "20.3.2. Authentication", "20.3.3. SSL"}
    assert len(headings) == len(set(headings)) > 25  # one section per setting
    text = doc.text
    assert "20.2. File Locations" not in text  # the navigation header and footer are gone
    assert "Prev" not in text.split()
    assert ("listen_addresses (string)\n\nSpecifies the TCP/IP address(es) on which the "
            "server is to listen for connections from client applications.") in text
    assert "\nNote\nOn Windows, setting a value of 0" in text
    assert not [line for line in text.split("\n")
                if not line.startswith(" ") and LAYOUT_SPACES.search(line)]

    reference = load(MANUAL / "sql-createtable.html")
    headings = {s.heading for s in reference.sections}
    assert ("CREATE TABLE", "Parameters", "UNLOGGED") in headings  # each parameter heads
    assert ("CREATE TABLE", "Description") in headings
    assert all(h[0] == "CREATE TABLE" for h in headings)

    release = load(MANUAL / "release-15-20.html")
    assert ("E.1. Release 15.20", "E.1.2. Changes") in {s.heading for s in release.sections}
    # each item's commit link ("§") is a pointer, not text
    assert "\u00a7" not in release.text
    assert "Restrict logical decoding output plugins" in load(MANUAL / "release-15-19.html").text


def test_links_that_are_only_a_mark_are_left_out(tmp_path):
    path = tmp_path / "release.html"
    path.write_text(
        "<html><head><title>Release 15.19</title></head><body>"
        '<h2>E.2.2. Changes <a class="headerlink" href="#changes">¶</a></h2><ul>'
        '<li><p>Fix self-deadlock when replaying WAL (Andrey Borodin) '
        '<a class="ulink" href="https://postgr.es/c/99f205407">§</a> and more.</p></li>'
        '<li><p>See <a href="notes.html">the notes</a> and <a href="#x">#</a> '
        '<a href="#y">#1</a>.</p></li></ul></body></html>', encoding="utf-8")
    doc = load(path)
    assert doc.sections[-1].heading[-1] == "E.2.2. Changes"
    text = doc.text
    assert "(Andrey Borodin) and more." in text  # the mark goes, the text after it stays
    assert "\u00a7" not in text and "\u00b6" not in text
    assert "See the notes and #1." in text  # a link with words keeps them; "#" alone goes


def _codes_page(rows: int) -> str:
    body = []
    for i in range(rows):
        if i % 7 == 0:
            body.append(f'<tr><td colspan="2"><strong>Class {i:02d} — Group {i}</strong></td></tr>')
        body.append(f"<tr><td><code>{i:02d}P{i:02d}</code></td><td>condition_{i}</td></tr>")
    return ("<html><head><title>Codes</title></head><body><h1>Codes</h1>"
            "<table><thead><tr><th>Error Code</th><th>Condition Name</th></tr></thead>"
            f"<tbody>{''.join(body)}</tbody></table></body></html>")


def test_a_long_table_comes_in_blocks_under_its_header(tmp_path):
    from ingest.text import TABLE_BLOCK_ROWS

    path = tmp_path / "codes.html"
    path.write_text(_codes_page(30))
    text = load(path).sections[0].text
    blocks = [b for b in text.split("\n\n") if b.startswith("|")]
    assert len(blocks) > 1
    for block in blocks:
        lines = block.splitlines()
        assert lines[:2] == ["| Error Code | Condition Name |", "| --- | --- |"]
        assert 1 <= len(lines) - 2 <= TABLE_BLOCK_ROWS
        assert lines[2].startswith("| Class ")  # the group the block's rows fall under
    rows = [line for b in blocks for line in b.splitlines()[2:] if "| condition_" in line]
    assert len(rows) == 30 and len(set(rows)) == 30  # every row once, in order
    assert rows == sorted(rows, key=lambda r: int(r.split("condition_")[1].split()[0]))
    # a short table, or one without a header row, stays one block as before
    path.write_text(_codes_page(6))
    assert load(path).sections[0].text.count("| Error Code |") == 1
    path.write_text(_codes_page(30).replace("<thead>", "<tbody>").replace("<th>", "<td>")
                    .replace("</th>", "</td>").replace("</thead>", "</tbody>"))
    assert "| --- |" not in load(path).sections[0].text
    # a colspan that is no number is one column, not a failed page
    path.write_text(_codes_page(30).replace('colspan="2"', 'colspan="wide"', 1))
    blocks = [b for b in load(path).sections[0].text.split("\n\n") if b.startswith("|")]
    assert len(blocks) > 1 and all(b.startswith("| Error Code |") for b in blocks)


def test_every_chunk_of_a_long_table_reads_under_its_header(tmp_path):
    from assistant.answering.evidence import split_passage
    from index.records import Passage

    path = tmp_path / "codes.html"
    path.write_text(_codes_page(60))
    doc = load(path)
    chunks = Chunker(ChunkerConfig(), lambda t: len(t.split())).chunk(doc)
    assert len(chunks) > 2
    for chunk in chunks:
        passage = Passage(chunk.chunk_id, chunk.doc_id, chunk.source, chunk.text, 1.0)
        rows = [u.text for u in split_passage(passage) if "condition_" in u.text]
        assert rows and all(r.startswith("Error Code: ") and "Condition Name: condition_" in r
                            for r in rows), rows


def _functions_page(rows: int) -> str:
    body = "".join(
        f"<tr><td><code>fn_{i}(value numeric)</code></td><td>Returns the value {i} rounded "
        f"toward zero after the rule numbered {i}, with the sign of the argument kept as "
        f"given and nulls passed through unchanged.</td></tr>" for i in range(rows))
    return ("<html><head><title>Functions</title></head><body><h1>Functions</h1>"
            "<p>Functions of this page, one row each.</p>"
            "<table><thead><tr><th>Function</th><th>Description</th></tr></thead>"
            f"<tbody>{body}</tbody></table></body></html>")


def test_a_short_table_of_long_rows_comes_in_blocks_under_its_header(tmp_path):
    from assistant.answering.evidence import split_passage
    from index.records import Passage
    from ingest.text import TABLE_BLOCK_CHARS, TABLE_BLOCK_ROWS

    path = tmp_path / "functions.html"
    path.write_text(_functions_page(8))  # under TABLE_BLOCK_ROWS rows, far over the budget
    assert TABLE_BLOCK_ROWS >= 8
    doc = load(path)
    blocks = [b for b in doc.sections[0].text.split("\n\n") if b.startswith("|")]
    assert len(blocks) > 1
    for block in blocks:
        lines = block.splitlines()
        assert lines[:2] == ["| Function | Description |", "| --- | --- |"]
        assert len(block) <= TABLE_BLOCK_CHARS or len(lines) == 3  # one row may be longer
    rows = [line for b in blocks for line in b.splitlines()[2:]]
    assert len(rows) == 8 and rows == sorted(rows, key=lambda r: int(r.split("fn_")[1][0]))
    # so every chunk cut from it (a block fits a chunk) says what its columns are
    chunks = Chunker(ChunkerConfig(chunk_tokens=128, overlap_tokens=16),
                     lambda t: len(t.split())).chunk(doc)
    units = [u.text for c in chunks
             for u in split_passage(Passage(c.chunk_id, c.doc_id, c.source, c.text, 1.0))
             if "fn_" in u.text]
    assert len(set(units)) == 8
    assert all(u.startswith("Function: fn_") and "; Description: Returns" in u for u in units)
    # a short table of short rows stays one block, as before
    path.write_text(_codes_page(6))
    assert load(path).sections[0].text.count("| Error Code |") == 1


@needs_manual
def test_postgresql_error_codes_read_under_their_header():
    from assistant.answering.evidence import split_passage
    from index.records import Passage

    doc = load(MANUAL / "errcodes-appendix.html")
    chunks = Chunker(ChunkerConfig(), lambda t: len(t.split())).chunk(doc)
    units = [u.text for c in chunks
             for u in split_passage(Passage(c.chunk_id, c.doc_id, c.source, c.text, 1.0))]
    assert "Error Code: 25006; Condition Name: read_only_sql_transaction" in units
    assert "Error Code: 22P02; Condition Name: invalid_text_representation" in units


def test_a_long_markdown_table_comes_in_blocks_under_its_header(tmp_path):
    from ingest.text import TABLE_BLOCK_ROWS

    rows = [f"| E{i:02d} | Fault number {i} |" for i in range(25)]
    table = "\n".join(["| Code | Meaning |", "| --- | --- |", *rows])
    path = tmp_path / "codes.md"
    path.write_text(f"# Error codes\n\nEvery code:\n\n{table}\n\nAfter the table.\n\n"
                    f"```\n{table}\n```\n")
    text = load(path).sections[0].text
    written, fenced = text.split("```")[0], text.split("```")[1]
    blocks = [b for b in written.split("\n\n") if b.startswith("|")]
    assert len(blocks) == 3
    for block in blocks:
        lines = block.splitlines()
        assert lines[:2] == ["| Code | Meaning |", "| --- | --- |"]
        assert 1 <= len(lines) - 2 <= TABLE_BLOCK_ROWS
    assert [r for b in blocks for r in b.splitlines()[2:]] == rows
    assert "After the table." in written
    assert fenced.strip() == table  # code is code: as written
    short = "\n".join(["| Code | Meaning |", "| --- | --- |", *rows[:TABLE_BLOCK_ROWS]])
    path.write_text(f"# Error codes\n\n{short}\n")
    assert short in load(path).sections[0].text
