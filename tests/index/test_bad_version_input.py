"""Bad version statements stay safe: malformed front matter (invalid YAML, or a list), an
impossible date (front matter and an ``Effective:`` line), a family with two documents
that say they are current (here through the metadata file), a ``supersedes`` cycle of
three and a ``supersedes`` naming nothing are each one clear line in the ingest summary
(printed by the command line too), and every document is indexed and found."""

from __future__ import annotations

from pathlib import Path

import pytest

from assistant.cli.main import main
from index.build import IngestConfig, ingest
from index.searcher import Searcher

DOCS = {
    "front.md": "---\ntitle: [broken\n---\n# Front\n\nBody front kiwiword.\n",
    "listy.md": "---\n- just\n- a list\n---\n# Listy\n\nBody listy lemonword.\n",
    "ghost.md": "---\nsupersedes: nowhere.md\neffective: 2025-13-01\n---\n# Ghost\n\n"
                "Ghost mangoword.\n",
    "hours.txt": "Opening hours\n\nEffective: 31 April 2025.\n\nWe open at 9 olivewords.\n",
    "p1.md": "---\nfamily: plans\nsupersedes: p3.md\n---\n# P1\n\nPlan one papayaword.\n",
    "p2.md": "---\nfamily: plans\nsupersedes: p1.md\n---\n# P2\n\nPlan two quinceword.\n",
    "p3.md": "---\nfamily: plans\nsupersedes: p2.md\n---\n# P3\n\nPlan three raisinword.\n",
    "prices-a.md": "# Price list\n\nPrices salakword.\n",
    "prices-b.md": "# Price list v2\n\nPrices tamarindword.\n",
}
META = '["prices-*.md"]\nstatus = "current"\nfamily = "prices"\n'
EXPECTED = [
    "front.md: front matter is not valid YAML (line 2); its fields were ignored",
    "listy.md: front matter is not a mapping of keys to values; it was ignored",
    "ghost.md: front matter: effective '2025-13-01' is an impossible date; ignored",
    "hours.txt: Effective line: '31 April 2025' is an impossible date; ignored",
    "ghost.md: supersedes 'nowhere.md' names no document in the index; ignored",
    "supersedes cycle: p1.md -> p3.md -> p2.md -> p1.md; one family, but these supersedes "
    "statements are ignored (dates decide)",
    "cannot tell which of p1.md, p2.md, p3.md is newer (no comparable dates or versions); "
    "all are kept current",
    "2 documents of one family say they are current (prices-a.md, prices-b.md); all are "
    "kept current",
]


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    docs = tmp_path / "docs"
    docs.mkdir()
    for name, text in DOCS.items():
        (docs / name).write_text(text)
    (tmp_path / "meta.toml").write_text(META)
    return tmp_path


def test_each_bad_statement_is_one_clear_line_and_nothing_is_lost(corpus, embedder):
    report = ingest([corpus / "docs"], corpus / "index",
                    IngestConfig(metadata=corpus / "meta.toml"), progress=False,
                    embedder=embedder)
    assert report.exit_code == 0 and report.skipped == []
    assert sorted(report.added) == sorted(DOCS) and report.chunks_total == len(DOCS)
    assert sorted(report.warnings) == sorted(EXPECTED)

    searcher = Searcher(corpus / "index", embedder=embedder)
    docs = {d.source: d for d in searcher.documents()}
    assert {d.status for d in docs.values()} == {"current"}  # nothing demoted on a guess
    assert {docs[s].family for s in ("p1.md", "p2.md", "p3.md")} == {"plans"}
    assert docs["front.md"].title == "Front"  # the broken front matter's title is ignored too
    assert docs["ghost.md"].effective_date is None and docs["hours.txt"].effective_date is None
    for source, text in DOCS.items():  # every document is found by its own word
        word = next(w for w in text.replace(".", " ").split() if w.endswith(("word", "words")))
        hits = searcher.search(word, k=1, mode="bm25")
        assert [h.source for h in hits] == [source], word


def test_the_command_line_summary_prints_each_line(corpus, capsys):
    code = main(["-q", "ingest", str(corpus / "docs"), "--index", str(corpus / "index"),
                 "--metadata", str(corpus / "meta.toml")])
    out = capsys.readouterr().out
    assert code == 0
    for line in EXPECTED:
        assert f"warning  {line}" in out
    assert "9 added" in out
