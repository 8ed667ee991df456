"""The command line's view of document versions: ``ingest --metadata``, ``index docs``,
status counts in ``index info``, ``search --versions`` and the summary's warnings."""

from __future__ import annotations

import json

import pytest

from assistant.cli.main import main


@pytest.fixture(scope="module")
def indexed(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli-versions")
    docs = root / "docs"
    docs.mkdir()
    (docs / "refunds-2023.md").write_text(
        "# Refund Policy (2023)\n\n> ARCHIVED: replaced by the 2025 policy.\n\n"
        "Effective: 1 January 2023.\n\nCustomers may request a refund within 14 days.\n")
    (docs / "refunds-2025.md").write_text(
        "# Refund Policy\n\nEffective: 1 April 2025.\n\nReturn any product within 30 days.\n")
    (docs / "broken.md").write_text("---\neffective: 2025-02-30\n---\n# Notes\n\nSome notes.\n")
    (docs / "rates.txt").write_text("Rate card: Plus costs $9.99 a month.\n")
    meta = root / "meta.json"
    meta.write_text(json.dumps({"rates.txt": {"status": "archived", "access": ["sales"],
                                              "version": "3.0"}}))
    code = main(["-q", "ingest", str(docs), "--index", str(root / "index"),
                 "--metadata", str(meta)])
    assert code == 0
    return root


def test_ingest_summary_names_bad_version_statements(tmp_path, capsys):
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "a.md").write_text("---\neffective: 2025-02-30\n---\n# A\n\nText.\n")
    assert main(["-q", "ingest", str(docs), "--index", str(tmp_path / "index")]) == 0
    out = capsys.readouterr().out
    assert "warning  a.md: front matter: effective '2025-02-30' is an impossible date" in out


def test_index_docs_lists_title_family_status_date_and_version(indexed, capsys):
    assert main(["index", "docs", "--index", str(indexed / "index")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["source", "status", "effective", "version", "family", "title"]
    old = next(line for line in lines if line.startswith("refunds-2023.md"))
    assert old.split()[:4] == ["refunds-2023.md", "archived", "2023-01-01", "-"]
    assert "Refund Policy (2023)" in old
    # a version the metadata file states is the one the document is known by
    rates = next(line for line in lines if line.startswith("rates.txt"))
    assert rates.split()[:4] == ["rates.txt", "archived", "-", "3.0"]
    assert main(["index", "docs", "--index", str(indexed / "index"), "--json"]) == 0
    docs = {d["source"]: d for d in json.loads(capsys.readouterr().out)["documents"]}
    assert docs["refunds-2025.md"]["status"] == "current"
    assert docs["refunds-2023.md"]["superseded_by"] == "refunds-2025.md"
    assert (docs["rates.txt"]["status"], docs["rates.txt"]["access"],
            docs["rates.txt"]["version"]) == ("archived", ["sales"], "3.0")
    assert docs["broken.md"]["effective_date"] is None


def test_index_info_counts_documents_by_status(indexed, capsys):
    assert main(["index", "info", "--index", str(indexed / "index"), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["documents_by_status"] == {"archived": 2, "current": 2}


def test_search_versions_flag_and_json_fields(indexed, capsys):
    args = ["search", "refund within 14 days", "--index", str(indexed / "index"), "--json"]
    assert main([*args, "--mode", "bm25"]) == 0
    results = json.loads(capsys.readouterr().out)["results"]
    assert results[0]["source"] == "refunds-2025.md" and results[0]["status"] == "current"
    assert main([*args, "--mode", "bm25", "--versions", "off"]) == 0
    off = json.loads(capsys.readouterr().out)["results"]
    assert (off[0]["source"], off[0]["effective_date"]) == ("refunds-2023.md", "2023-01-01")
    assert main([*args, "--versions", "only-current"]) == 0
    strict = json.loads(capsys.readouterr().out)["results"]
    assert strict and all(r["status"] == "current" for r in strict)
    assert main(["search", "refund", "--index", str(indexed / "index"), "--mode", "bm25",
                 "--versions", "off"]) == 0
    assert "[archived]" in capsys.readouterr().out


def test_a_bad_metadata_file_is_a_usage_error(indexed, tmp_path, capsys):
    bad = tmp_path / "meta.toml"
    bad.write_text('["x.md"]\ncolour = "red"\n')
    code = main(["-q", "ingest", str(indexed / "docs"), "--index", str(tmp_path / "i"),
                 "--metadata", str(bad)])
    assert code == 2 and "unknown key colour" in capsys.readouterr().err
