"""Loaders on well-formed input: PDF pages and labels, HTML main content, Markdown headings,
text encodings, and file discovery."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from core.errors import ConfigError
from core.hashing import file_sha256
from ingest.discover import SUPPORTED_SUFFIXES, DiscoverConfig, FileEntry, discover
from ingest.headings import HeadingStack
from ingest.ids import doc_id_for
from ingest.loaders import load_document, load_documents
from ingest.markdown import markdown_sections
from ingest.pdf import clean_pdf_text
from ingest.records import Document, Section
from ingest.text import is_record_heading, text_sections


def load(path: Path) -> Document:
    entries, skipped = discover([path], DiscoverConfig())
    assert skipped == []
    assert len(entries) == 1
    return load_document(entries[0])


# --- PDF ---------------------------------------------------------------------------------


def test_pdf_one_section_per_page_with_labels(make_pdf):
    path = make_pdf(
        ["Preface text here.", "Contents page.", "Chapter one body.", "Chapter two body."],
        labels={0: "r", 2: "D"},
    )
    doc = load(path)
    assert [s.page_index for s in doc.sections] == [1, 2, 3, 4]
    assert [s.page_label for s in doc.sections] == ["i", "ii", "1", "2"]
    assert [s.text for s in doc.sections] == [
        "Preface text here.", "Contents page.", "Chapter one body.", "Chapter two body."
    ]
    assert all(s.heading == () for s in doc.sections)


def test_pdf_without_page_labels_uses_physical_numbers(make_pdf):
    doc = load(make_pdf(["alpha page", "", "gamma page"]))
    # The blank middle page yields no section; numbering still counts it.
    assert [(s.page_index, s.page_label) for s in doc.sections] == [(1, "1"), (3, "3")]


def test_pdf_document_fields(make_pdf):
    path = make_pdf(["Some text."], name="Quarterly Report.pdf", title="Q3 Report")
    doc = load(path)
    assert doc.title == "Q3 Report"
    assert doc.source == "Quarterly Report.pdf"
    assert doc.doc_id == doc_id_for("Quarterly Report.pdf")
    assert doc.content_hash == file_sha256(path)
    assert doc.text == "Some text."


def test_pdf_title_that_is_a_file_path_falls_back_to_stem(make_pdf):
    doc = load(make_pdf(["x"], name="policy.pdf", title="C:\\USERS\\ME\\DESKTOP\\POLICY.DOC"))
    assert doc.title == "policy"


def test_pdf_encrypted_with_empty_user_password_opens(make_pdf):
    doc = load(make_pdf(["Readable despite encryption."], owner_password="owner-secret"))
    assert doc.text == "Readable despite encryption."


def test_pdf_text_cleanup():
    raw = "The commit-\ntee met in Anglo-\nSaxon style.\x00\n\n\n\nNext   para  "
    assert clean_pdf_text(raw) == "The committee met in Anglo-Saxon style.\n\nNext para"


def test_us_constitution_labels_differ_from_physical_index(shared_pdf):
    doc = load(shared_pdf("us-constitution.pdf"))
    # A page cut at its headings gives several sections; every page is still there once.
    assert sorted({s.page_index for s in doc.sections}) == list(range(1, 16))
    labels = {s.page_index: s.page_label for s in doc.sections}
    assert [labels[i] for i in (1, 2, 3, 4)] == ["i", "ii", "iii", "iv"]
    assert labels[15] == "xv"
    assert all(s.page_label != str(s.page_index) for s in doc.sections)
    # The printed page header agrees with the label, not with a bare number; as a running
    # header it is left out of the section's text.
    from pypdf import PdfReader

    assert "Page III" in PdfReader(shared_pdf("us-constitution.pdf")).pages[2].extract_text()
    page3 = [s for s in doc.sections if s.page_index == 3]
    assert "Page III" not in page3[0].text and "Page II" not in doc.text
    assert "common Defence" in doc.text  # "com-\nmon" was de-hyphenated
    # The metadata /Title is a Windows path, so the file stem is used.
    assert doc.title == "us-constitution"


def test_nics_table_page_text_extracted(shared_pdf):
    doc = load(shared_pdf("nics-background-checks-2015-11.pdf"))
    assert {s.page_index for s in doc.sections} == {1}
    text = doc.text
    assert "Alabama" in text and "18,870" in text and "Wyoming" in text


@pytest.mark.slow
def test_geotopo_front_matter_labels_then_arabic(shared_pdf):
    doc = load(shared_pdf("GeoTopo-komprimiert.pdf"))
    by_index = {s.page_index: s.page_label for s in doc.sections}
    assert max(by_index) == 117
    assert [by_index[i] for i in (1, 2, 3, 4, 5)] == ["i", "ii", "iii", "1", "2"]
    assert by_index[117] == "114"
    assert doc.title == "Geometrie und Topologie"


# --- HTML --------------------------------------------------------------------------------

PAGE = """<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Warranty | Acme Support</title>
<style>body{font-family:sans-serif} .STYLEMARK{}</style>
<script>window.SCRIPTMARK = {a: 1};</script></head>
<body><div id="cookie-banner">We use cookies COOKIEMARK. <button>Accept</button></div>
<header class="site-header"><a class="logo" href="/">Acme</a><nav class="main-nav"><ul>
<li><a href="/products">Products NAVMARK</a></li><li><a href="/support">Support</a></li>
</ul></nav></header>
<div class="container"><aside class="sidebar"><h3>Related SIDEMARK</h3><ul>
<li><a href="/a">Returns</a></li></ul></aside>
<div class="content"><h1>Warranty policy</h1>
<p>Every Acme product comes with a two-year limited warranty covering defects in materials.</p>
<h2>What is covered</h2>
<p>The warranty covers manufacturing defects that appear during normal use of the product.</p>
<h3>Claims</h3>
<p>To make a claim, contact support with your order number and a photo of the defect.</p>
<h2>What is not covered</h2>
<p>Damage from accidents, misuse, or unauthorised repairs is not covered by the warranty.</p>
</div></div>
<footer class="site-footer"><p>&copy; 2024 Acme Corp. FOOTERMARK</p></footer>
<script>track("SCRIPT2MARK")</script></body></html>"""


def test_html_main_content_without_boilerplate(tmp_path):
    path = tmp_path / "warranty.html"
    path.write_text(PAGE, encoding="utf-8")
    doc = load(path)
    for noise in ("STYLEMARK", "SCRIPTMARK", "SCRIPT2MARK", "NAVMARK", "FOOTERMARK",
                  "COOKIEMARK", "SIDEMARK"):
        assert noise not in doc.text
    assert "two-year limited warranty" in doc.text
    assert [s.heading for s in doc.sections] == [
        ("Warranty policy",),
        ("Warranty policy", "What is covered"),
        ("Warranty policy", "What is covered", "Claims"),
        ("Warranty policy", "What is not covered"),
    ]
    assert doc.sections[2].text.startswith("Claims\n\nTo make a claim")
    assert doc.title == "Warranty policy"


def test_a_help_centre_pages_rating_widget_is_left_out(tmp_path):
    """Found by the walkthrough: "Was this article helpful? ... 312 out of 340 found this
    helpful" stayed in an article's last chunk."""
    body = "Turn off band steering on mesh routers. " * 8
    path = tmp_path / "kb.html"
    path.write_text(
        "<html><body><article class='kb'><h1>Wi-Fi troubleshooting</h1>"
        f"<h2>Robot keeps disconnecting</h2><p>{body}</p>"
        "<div class='was-this-helpful'>Was this article helpful? <button>Yes</button> "
        "<button>No</button> 312 out of 340 found this helpful</div>"
        "<div class='article-rating'>Rated 4.5 of 5</div></article></body></html>")
    doc = load(path)
    assert "band steering" in doc.text
    assert "helpful" not in doc.text and "Rated" not in doc.text
    # an id made from a heading names no widget
    path.write_text(
        "<html><body><article><h1>Help</h1><p>Intro to the help pages.</p>"
        "<section id='sending-feedback'><h2>Sending feedback</h2>"
        f"<p>Use the form in the app. {body}</p></section></article></body></html>")
    assert "Use the form in the app." in load(path).text


def test_html_headings_without_article_wrapper(tmp_path):
    # Without <article>/<main> the body is the content, navigation and footer left out.
    page = (
        "<html><head><title>Plain page</title></head><body><nav>Home | About | Contact</nav>"
        f"<h1>Head</h1><p>{'Sentence number one is here. ' * 10}</p>"
        f"<h2>Sub</h2><p>{'Second paragraph text here. ' * 10}</p>"
        "<footer>(c) 2024 Foo</footer></body></html>"
    )
    path = tmp_path / "plain.htm"
    path.write_text(page)
    doc = load(path)
    assert [s.heading for s in doc.sections] == [("Head",), ("Head", "Sub")]
    assert doc.sections[1].text.startswith("Sub\n\nSecond paragraph text here.")
    assert "Home | About" not in doc.text and "2024 Foo" not in doc.text


def test_html_tiny_page_without_main_uses_body(tmp_path):
    path = tmp_path / "tiny.html"
    path.write_text(
        "<html><head><title>Tiny</title><style>.x{}</style></head><body><nav>NAVMARK</nav>"
        "<h1>Hello</h1><p>First para.</p><div>Second <b>block</b>.</div>"
        "<script>SCRIPTMARK</script><footer>FOOTERMARK</footer></body></html>"
    )
    doc = load(path)
    assert "NAVMARK" not in doc.text and "SCRIPTMARK" not in doc.text
    assert "FOOTERMARK" not in doc.text
    assert doc.sections[0].heading == ("Hello",)
    assert doc.sections[0].text == "Hello\n\nFirst para.\n\nSecond block."


def test_xhtml_with_xml_declaration_tiny_page(tmp_path):
    path = tmp_path / "x.xhtml.html"
    page = ('<?xml version="1.0" encoding="iso-8859-1"?>\n'
            '<html xmlns="http://www.w3.org/1999/xhtml"><head><title>X</title></head>'
            "<body><h1>T\u00eate</h1><p>Cr\u00e8me br\u00fbl\u00e9e.</p></body></html>")
    path.write_bytes(page.encode("latin-1"))
    doc = load(path)
    assert doc.sections == (
        Section(text="T\u00eate\n\nCr\u00e8me br\u00fbl\u00e9e.", heading=("T\u00eate",)),
    )


def test_html_fragment_without_html_element(tmp_path):
    path = tmp_path / "fragment.htm"
    path.write_text("<h2>Part</h2><p>Just a fragment of a page.</p>")
    doc = load(path)
    assert "Just a fragment of a page." in doc.text


def test_html_declared_legacy_charset(tmp_path):
    path = tmp_path / "legacy.html"
    page = ('<html><head><meta charset="windows-1252"><title>Menu</title></head><body>'
            "<p>Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e is our dessert of the day.</p></body></html>")
    path.write_bytes(page.encode("cp1252"))
    assert "Caf\u00e9 cr\u00e8me br\u00fbl\u00e9e" in load(path).text


# --- Markdown ----------------------------------------------------------------------------

MARKDOWN = """---
title: "Returns Policy"
owner: support
---
Intro before any heading.

# Returns

You can return items within 30 days.

## Refund window

Refunds take 5 days.

```bash
# not a heading
echo done
```

## Exceptions
Gift cards are final.

Setext heading
==============

Under setext.

Sub setext
----------

Under sub.
"""


def test_markdown_heading_paths_code_fences_front_matter(tmp_path):
    path = tmp_path / "policies" / "returns.md"
    path.parent.mkdir()
    path.write_text(MARKDOWN)
    doc = load(tmp_path)
    assert doc.source == "policies/returns.md"
    assert doc.title == "Returns Policy"
    assert "owner: support" not in doc.text
    assert [s.heading for s in doc.sections] == [
        (),
        ("Returns",),
        ("Returns", "Refund window"),
        ("Returns", "Exceptions"),
        ("Setext heading",),
        ("Setext heading", "Sub setext"),
    ]
    refund = doc.sections[2].text
    assert refund.startswith("Refund window\n\nRefunds take 5 days.")
    assert "# not a heading\necho done" in refund
    assert doc.sections[0].text == "Intro before any heading."


def test_markdown_title_from_first_h1_and_inline_markup():
    title, sections = markdown_sections("## Pre\n\ntext\n\n# The **Main** `Title`\n\nbody\n")
    assert title == "The Main Title"
    assert sections[1].heading == ("The Main Title",)


def test_markdown_unclosed_fence_keeps_text():
    _, sections = markdown_sections("# A\n\n```\n# inside\nstill code\n")
    assert [s.heading for s in sections] == [("A",)]
    assert "# inside" in sections[0].text


def test_markdown_title_falls_back_to_stem(tmp_path):
    path = tmp_path / "notes.markdown"
    path.write_text("just some notes without headings\n")
    assert load(path).title == "notes"


# --- Text --------------------------------------------------------------------------------


def test_text_paragraphs_and_bom(tmp_path):
    path = tmp_path / "about.txt"
    path.write_bytes(b"\xef\xbb\xbfFirst line\r\nsame para\r\n\r\n\r\n\r\nSecond   para\t\r\n")
    doc = load(path)
    assert len(doc.sections) == 1 and doc.sections[0].heading == ()
    assert doc.text == "First line\nsame para\n\nSecond para"
    assert doc.title == "about"


def test_text_headings_underlined_or_in_capitals_give_section_paths(tmp_path):
    path = tmp_path / "schedule.txt"
    path.write_text(
        "ACME - CARE SCHEDULE\nRevised 8 April 2025.\n\n"
        "MOPMATE M3\n----------\n\nMop pads: wash after every run.\n\n"
        "COMPANY FACTS\n\n- Employees: about 340.\n\n"
        "Firmware 2.9.3 - 12 March 2024\n==============================\n- Fixed: a bug.\n"
        "Then a line IN CAPITALS INSIDE a paragraph, and a LONE WORD\nNEXT LINE\n")
    doc = load(path)
    paths = [s.heading for s in doc.sections]
    assert paths == [("ACME - CARE SCHEDULE",), ("ACME - CARE SCHEDULE", "MOPMATE M3"),
                     ("ACME - CARE SCHEDULE", "COMPANY FACTS"),
                     ("Firmware 2.9.3 - 12 March 2024",)]
    # the heading line opens its section's text; the underline goes; nothing else is lost
    assert doc.sections[1].text == "MOPMATE M3\n\nMop pads: wash after every run."
    assert "-----" not in doc.text and "NEXT LINE" in doc.sections[3].text
    assert doc.title == "ACME - CARE SCHEDULE"  # the capital line that opens the file
    # the acme fact sheet: its sections are cited by their headings
    facts = load(Path(__file__).resolve().parents[2] / "examples" / "acme" / "docs" /
                 "company" / "about-acme.txt")
    assert [s.heading[-1] for s in facts.sections][-2:] == ["COMPANY FACTS", "MEDIA CONTACT"]


def test_text_capital_title_block_gives_the_title_and_heads_the_sections(tmp_path):
    path = tmp_path / "security-policy-2022.txt"
    path.write_text("ACME ROBOTICS, INC.\nCUSTOMER ACCOUNT SECURITY POLICY\n"
                    "Document SEC-POL-004, version 1.3\n\nThis document describes controls.\n\n"
                    "1. SCOPE\n\nCustomer accounts.\n")
    doc = load(path)
    assert doc.title == "CUSTOMER ACCOUNT SECURITY POLICY"
    assert [s.heading for s in doc.sections] == [
        ("CUSTOMER ACCOUNT SECURITY POLICY",),
        ("CUSTOMER ACCOUNT SECURITY POLICY", "1. SCOPE")]
    # the letterhead line stays in the title's section: nothing is lost
    assert doc.sections[0].text.startswith("ACME ROBOTICS, INC.\nCUSTOMER ACCOUNT SECURITY")
    # the acme file itself, and an underlined first line
    acme = load(Path(__file__).resolve().parents[2] / "examples" / "acme" / "docs" /
                "policies" / "security-policy-2022.txt")
    assert acme.title == "CUSTOMER ACCOUNT SECURITY POLICY"
    underlined = "Firmware 2.x Notes\n==================\n\nbody\n"
    assert text_sections(underlined)[0] == "Firmware 2.x Notes"


@pytest.mark.parametrize("text", [
    "Acme Robotics Support - Known Issues\nMaintained by Support.\n\nKI-1  X9 Pro\n",
    "Our robots are repaired, not thrown away.\n\nCOMPANY FACTS\n\n- Founded 2016.\n",
    "WARNING: HOT SURFACE.\nDo not touch the dock.\n",
    "ACME ROBOTICS, INC.\nACME, LTD.\nTHIRD, LINE.\nTITLE TOO LATE\n\nbody\n",
])
def test_text_opening_with_prose_or_no_heading_names_no_title(tmp_path, text):
    path = tmp_path / "notes.txt"
    path.write_text(text)
    doc = load(path)
    assert doc.title == "notes"  # no title of its own: the loader falls back to the stem
    assert doc.sections[0].heading == ()


def test_text_is_not_markdown_and_keeps_its_heading_lines():
    title, sections = text_sections(
        "# not a heading\n\n```\nCODE FENCE\n```\n\nNOTES\n\nSetup\n-----\nstep one\n")
    assert title is None
    assert [(s.heading, s.text) for s in sections] == [
        ((), "# not a heading\n\n```\nCODE FENCE\n```"),
        (("NOTES",), "NOTES"),
        (("Setup",), "Setup\nstep one"),
    ]


def test_heading_stack_closes_same_or_deeper_levels_and_skips_empty_sections():
    stack = HeadingStack()
    stack.body.append("before")
    stack.open(1, "A")
    stack.open(2, "B")  # no body: no section, still in the path of what follows
    stack.open(3, "C")
    stack.body.append("c text")
    stack.open(2, "D")  # closes C and B, keeps A
    stack.body.extend(["", "d text", ""])
    assert stack.path == ("A", "D")
    stack.open(1, "E")  # closes everything
    stack.body.append("   ")  # whitespace only: no section
    assert [(s.heading, s.text) for s in stack.sections()] == [
        ((), "before"), (("A", "B", "C"), "c text"), (("A", "D"), "d text")]
    lead = HeadingStack(lead_heading=True)
    lead.open(1, "Title")
    lead.body.append("body")
    assert lead.sections()[0].text == "Title\n\nbody"


def test_markdown_and_text_cut_sections_alike_with_their_own_heading_syntax():
    """One mechanism: the same outline written as Markdown and as plain text gives the
    same heading paths; Markdown puts the heading first, plain text keeps its line."""
    _, md = markdown_sections("# Guide\n\nintro\n\n## Setup\n\nstep\n\n# Other\n\nend\n")
    title, txt = text_sections("Guide\n=====\nintro\n\nSetup\n-----\nstep\n\nOther\n=====\nend\n")
    assert title == "Guide"
    assert [s.heading for s in md] == [s.heading for s in txt] == [
        ("Guide",), ("Guide", "Setup"), ("Other",)]
    assert [s.text for s in md] == ["Guide\n\nintro", "Setup\n\nstep", "Other\n\nend"]
    assert [s.text for s in txt] == ["Guide\nintro", "Setup\nstep", "Other\nend"]


def test_text_utf16_with_bom(tmp_path):
    path = tmp_path / "windows.txt"
    path.write_bytes("Gr\u00fc\u00dfe aus K\u00f6ln".encode("utf-16"))
    assert load(path).text == "Gr\u00fc\u00dfe aus K\u00f6ln"


def test_text_legacy_encoding_detected_and_logged(tmp_path, caplog):
    text = ("Die R\u00fcckgabe ist innerhalb von 30 Tagen m\u00f6glich. Gr\u00f6\u00dfere "
            "Ger\u00e4te m\u00fcssen abgeholt werden. F\u00fcr R\u00fcckfragen wenden Sie sich "
            "an den Kundendienst.\n")
    path = tmp_path / "rueckgabe.txt"
    path.write_bytes((text * 3).encode("cp1252"))
    with caplog.at_level(logging.WARNING, logger="ingest.text"):
        doc = load(path)
    assert "R\u00fcckgabe" in doc.text and "Gr\u00f6\u00dfere" in doc.text
    assert any("decoded as" in r.getMessage() for r in caplog.records)


# --- discovery ---------------------------------------------------------------------------


def test_discover_sorted_relative_sources_hidden_skipped(tmp_path):
    for rel in ("b.md", "a/z.txt", "a/b/c.html", ".git/config.txt", "a/.hidden.md"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text("x")
    entries, skipped = discover([tmp_path], DiscoverConfig())
    assert [e.source for e in entries] == ["a/b/c.html", "a/z.txt", "b.md"]
    assert skipped == []
    assert entries[0].size == 1 and entries[0].path == tmp_path / "a" / "b" / "c.html"
    entries, _ = discover([tmp_path], DiscoverConfig(include_hidden=True))
    assert [e.source for e in entries] == [
        ".git/config.txt", "a/.hidden.md", "a/b/c.html", "a/z.txt", "b.md"
    ]


def test_discover_file_argument_source_is_its_name(tmp_path):
    path = tmp_path / "deep" / "dir" / "Guide.MD"
    path.parent.mkdir(parents=True)
    path.write_text("# Guide\n\ntext")
    entries, _ = discover([path], DiscoverConfig())
    assert entries == [FileEntry(path, "Guide.MD", path.stat().st_size, path.stat().st_mtime)]


def test_discover_same_file_through_symlinks_indexed_once(tmp_path):
    real = tmp_path / "z_real"
    real.mkdir()
    (real / "doc.md").write_text("# Doc\n\nbody")
    (tmp_path / "a_link.md").symlink_to(real / "doc.md")
    (tmp_path / "a_dirlink").symlink_to(real, target_is_directory=True)
    entries, skipped = discover([tmp_path], DiscoverConfig())
    # The real path wins even though the links sort first.
    assert [e.source for e in entries] == ["z_real/doc.md"]
    reasons = {s.source: s.reason for s in skipped}
    assert "duplicate of 'z_real/doc.md'" in reasons["a_link.md"]
    assert "duplicate of 'z_real'" in reasons["a_dirlink"]


def test_discover_follows_symlinked_directory_outside_root(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "shared.txt").write_text("shared")
    root = tmp_path / "root"
    root.mkdir()
    (root / "linked").symlink_to(outside, target_is_directory=True)
    entries, _ = discover([root], DiscoverConfig())
    assert [e.source for e in entries] == ["linked/shared.txt"]
    entries, skipped = discover([root], DiscoverConfig(follow_symlinks=False))
    assert entries == [] and "not followed" in skipped[0].reason


def test_discover_same_source_under_two_roots(tmp_path):
    for root in ("one", "two"):
        (tmp_path / root).mkdir()
        (tmp_path / root / "faq.md").write_text(root)
    entries, skipped = discover([tmp_path / "one", tmp_path / "two"], DiscoverConfig())
    assert [e.path for e in entries] == [tmp_path / "one" / "faq.md"]
    assert skipped[0].source == "faq.md" and "already has this source name" in skipped[0].reason


def test_discover_missing_path_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError, match="path does not exist"):
        discover([tmp_path / "nope"], DiscoverConfig())


@pytest.mark.parametrize(
    "kwargs, field",
    [({"max_file_bytes": 0}, "max_file_bytes"), ({"max_file_bytes": 2.5}, "max_file_bytes"),
     ({"follow_symlinks": "yes"}, "follow_symlinks"), ({"include_hidden": 1}, "include_hidden")],
)
def test_discover_config_validation(kwargs, field):
    with pytest.raises(ConfigError, match=f"discover.{field}"):
        DiscoverConfig(**kwargs)


def test_supported_suffixes_all_have_loaders(tmp_path):
    assert {".pdf", ".html", ".htm", ".md", ".markdown", ".txt"} == SUPPORTED_SUFFIXES
    for suffix in sorted(SUPPORTED_SUFFIXES - {".pdf"}):
        (tmp_path / f"f{suffix}").write_text("<p>hello there</p>" if "htm" in suffix else "hi")
    entries, _ = discover([tmp_path], DiscoverConfig())
    docs, errors = load_documents(entries)
    assert errors == [] and len(docs) == len(SUPPORTED_SUFFIXES) - 1


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs POSIX named pipes")
def test_discover_skips_named_pipe_instead_of_hanging(tmp_path):
    os.mkfifo(tmp_path / "pipe.txt")
    entries, skipped = discover([tmp_path], DiscoverConfig())
    assert entries == [] and "not a regular file" in skipped[0].reason


def test_text_tables_laid_out_in_spaces_become_pipe_tables(tmp_path):
    from assistant.answering.evidence import split_passage
    from index.records import Passage
    from ingest.text import fixed_width_tables

    path = tmp_path / "care.txt"
    path.write_text(
        "CARE\n----\n\n"
        "Part                 Clean                     Replace\n"
        "Main brush           every week                every 6 to 12 months\n"
        "HEPA filter          every week (tap, no water) every 3 months\n"
        "Dust bag             not cleanable             when full, up to\n"
        "                                               60 days\n\n"
        "Homes with pets:  replace the filter every 2 months.\n")
    doc = load(path)
    assert doc.sections[0].text == (
        "CARE\n\n| Part | Clean | Replace |\n| --- | --- | --- |\n"
        "| Main brush | every week | every 6 to 12 months |\n"
        # a cell running up to the next column, and one wrapped onto a second line
        "| HEPA filter | every week (tap, no water) | every 3 months |\n"
        "| Dust bag | not cleanable | when full, up to 60 days |\n\n"
        "Homes with pets: replace the filter every 2 months.")
    # each row's unit says which column each value is under
    units = split_passage(Passage(chunk_id="c", doc_id="d", source="care.txt",
                                  text=doc.sections[0].text, score=1.0))
    assert "Part: HEPA filter; Clean: every week (tap, no water); Replace: every 3 months" \
        in [u.text for u in units]
    # prose with two spaces after its sentences, a lone aligned line, and a row that does
    # not fit the header's columns are left as written
    prose = ("One sentence here.  Another follows it.\nA third line goes.  And a fourth.\n"
             "The end of it all.  Done.\n")
    assert fixed_width_tables(prose) == prose
    assert fixed_width_tables("KI-2031  SweepBot X9 Pro\nA paragraph follows.\n") == \
        "KI-2031  SweepBot X9 Pro\nA paragraph follows.\n"
    ragged = "Name      Value\nalpha     1\nsomethinglongerthanthecolumn 2\n"
    assert fixed_width_tables(ragged) == ragged
    # a list of options or figures has no header row: left as written
    options = ("  -h, --help     show this help\n  -v, --verbose  say more\n"
               "  -q, --quiet    say less\n")
    assert fixed_width_tables(options) == options
    figures = "2023    $1.5M\n2024    $2.1M\n2025    $2.8M\n"
    assert fixed_width_tables(figures) == figures
    # a pipe in a cell is escaped, so the row keeps its three cells
    assert "| a\\|b | 1 | x |" in fixed_width_tables(
        "Key    N    Note\na|b    1    x\nc      2    y\n")
    # a longer table is written in blocks under its header, so a chunk cut between them
    # still names its columns
    long = "Code   Price\n" + "".join(f"X-{i}    ${i}.00\n" for i in range(7))
    blocks = fixed_width_tables(long).strip().split("\n\n")
    assert [b.split("\n")[:2] for b in blocks] == [["| Code | Price |", "| --- | --- |"]] * 2
    assert [len(b.split("\n")) - 2 for b in blocks] == [5, 2]


def test_text_records_under_an_identifier_head_their_entries(tmp_path):
    path = tmp_path / "known-issues.txt"
    path.write_text(
        "Support - Known Issues\nMaintained by Support.\n\n"
        "KI-2031  SweepBot X9 Pro, firmware 3.4.1\nSymptom: the fan keeps running.\n"
        "Workaround: none needed.\n\n"
        "KI-2044  Acme Home app 5.4.0 on Android 15\nSymptom: the widget shows \"Battery --\".\n"
        "Workaround: fixed in app 5.4.1.\n\n"
        # prose that starts with an identifier, a lone record line, and one with a
        # single space are not headings
        "RFC-2616 defines HTTP and many of its\nheaders in full.\n\n"
        "2023    revenue grew\n2024    revenue grew again\n\n"
        "KI-9999  Alone at the end\n")
    doc = load(path)
    assert [s.heading for s in doc.sections] == [
        (), ("KI-2031 SweepBot X9 Pro, firmware 3.4.1",),
        ("KI-2044 Acme Home app 5.4.0 on Android 15",)]
    # each entry's text opens with its record line, spaces collapsed; nothing is lost
    assert doc.sections[2].text.startswith("KI-2044 Acme Home app 5.4.0 on Android 15\n")
    assert doc.sections[2].text.endswith("RFC-2616 defines HTTP and many of its\n"
                                         "headers in full.\n\n2023 revenue grew\n"
                                         "2024 revenue grew again\n\nKI-9999 Alone at the end")
    # the answer path knows a record's section by its heading
    assert all(is_record_heading(s.heading[-1]) for s in doc.sections[1:])
    assert not is_record_heading("RFC 2616 and HTTP") and not is_record_heading("2. Setup")
