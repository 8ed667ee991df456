"""Release notes are a series, not versions: every release's notes stay current, a question
naming a release reaches that release's notes, and one asking for the latest gets the
newest release first (``index.current_first``, ``ingest.families.series_of``)."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from index.build import ingest
from index.current_first import named_versions
from index.searcher import Searcher
from ingest.families import DocFacts, is_release_notes, resolve_families, series_of
from ingest.versions import VersionInfo

NOTES = {
    "notes/release-2-1.md": "# Release 2.1\n\nRelease date: 2024-03-01.\n\n## Changes\n\n"
                            "The sync timeout is now 30 seconds. Exports to CSV keep the "
                            "last row.\n",
    "notes/release-2-2.md": "# Release 2.2\n\nRelease date: 2024-09-01.\n\n## Changes\n\n"
                            "The sync timeout is now 60 seconds. Dark mode follows the "
                            "system setting.\n",
    "notes/release-2-3.md": "# Release 2.3\n\nRelease date: 2025-02-01.\n\n## Changes\n\n"
                            "The sync timeout is now 90 seconds. Reports open faster.\n",
    "guide/sync.md": "# Sync guide\n\nThe sync timeout decides how long the app waits for "
                     "the server before it gives up.\n",
}


@pytest.fixture(scope="module")
def index(tmp_path_factory, embedder) -> Path:
    root = tmp_path_factory.mktemp("series")
    for source, text in NOTES.items():
        (root / "docs" / source).parent.mkdir(parents=True, exist_ok=True)
        (root / "docs" / source).write_text(text)
    report = ingest([root / "docs"], root / "index", progress=False, embedder=embedder)
    assert report.warnings == []
    return root / "index"


def releases(passages) -> list[str]:
    return [p.source for p in passages if p.source.startswith("notes/")]


def test_every_release_stays_current_in_a_family_of_its_own(index):
    docs = {d.source: d for d in Searcher(index).documents()}
    notes = [docs[s] for s in NOTES if s.startswith("notes/")]
    assert {d.status for d in notes} == {"current"}
    assert len({d.family for d in notes}) == 3


def test_a_question_asking_for_the_latest_gets_the_newest_release_first(index, embedder):
    searcher = Searcher(index, embedder=embedder)
    question = "What is the sync timeout in the latest release?"
    off = searcher.search(question, k=5, versions="off")
    assert descending(off) is False  # by the text alone: 2.3, 2.1, 2.2
    for versions in ("prefer", "only-current"):
        hits = searcher.search(question, k=5, versions=versions)
        assert releases(hits)[0] == "notes/release-2-3.md", versions
        assert descending(hits), versions
        # other documents keep their places; the series' passages only trade places
        assert [h.source for h in hits if h.source not in NOTES_ORDER] == [
            h.source for h in off if h.source not in NOTES_ORDER]
        assert [i for i, h in enumerate(hits) if h.source in NOTES_ORDER] == [
            i for i, h in enumerate(off) if h.source in NOTES_ORDER]


def descending(passages) -> bool:
    order = [NOTES_ORDER[s] for s in releases(passages)]
    return order == sorted(order, reverse=True)


NOTES_ORDER = {"notes/release-2-1.md": 1, "notes/release-2-2.md": 2, "notes/release-2-3.md": 3}


@pytest.mark.parametrize("question, source", [
    ("What changed in 2.1?", "notes/release-2-1.md"),
    ("Which sync timeout did release 2.2 set?", "notes/release-2-2.md"),
    ("What is the sync timeout in version 2.1?", "notes/release-2-1.md"),
])
def test_a_question_naming_a_release_reaches_its_notes(index, embedder, question, source):
    hits = Searcher(index, embedder=embedder).search(question, k=3)
    assert hits[0].source == source


def test_named_releases_and_the_latest_are_read_from_the_question():
    asked = named_versions("After 15.9, which release restored it? Upgrading to 15.20")
    assert asked.releases == ((15, 20),) and not asked.latest
    assert named_versions("Which 15.x release most recently fixed it?").releases == ()
    assert named_versions("the newest release").latest
    assert named_versions("What changed in PostgreSQL 15.3?").releases == ((15, 3),)
    assert named_versions("Plus costs $12.99 a month").releases == ()


def test_release_notes_are_recognised_and_keyed_by_series():
    assert series_of("E.20. Release 15.1", "release-15-1.html") == ("./release", (15, 1))
    assert series_of("E.21. Release 15", "release-15.html") == ("./release", (15,))
    assert series_of("Release notes", "docs/release-notes-2.1.md") == (
        "docs/release notes", (2, 1))
    assert series_of("Appendix E. Release Notes", "release.html") is None  # no version
    assert not is_release_notes("Release schedule 2024", "schedule-2024.md")
    assert series_of("Refund Policy (2023)", "refunds-2023.md") is None


def test_release_notes_are_not_joined_by_name_but_a_stated_supersedes_still_joins():
    def facts(source: str, title: str, **info) -> DocFacts:
        return DocFacts(source, title, VersionInfo(**info))

    docs = [facts("acme-2.1-release-notes.md", "Acme 2.1 Release Notes"),
            facts("acme-2.2-release-notes.md", "Acme 2.2 Release Notes"),
            facts("policy-2023.md", "Policy (2023)"), facts("policy-2025.md", "Policy (2025)")]
    out, problems = resolve_families(docs, today=date(2026, 1, 1))
    assert problems == []
    assert out["acme-2.1-release-notes.md"].status == "current"
    assert out["acme-2.1-release-notes.md"].family != out["acme-2.2-release-notes.md"].family
    assert out["policy-2023.md"].status == "superseded"  # ordinary versions as before

    docs[1] = facts("acme-2.2-release-notes.md", "Acme 2.2 Release Notes",
                    supersedes=("acme-2.1-release-notes.md",), explicit=True)
    out, _ = resolve_families(docs, today=date(2026, 1, 1))
    assert out["acme-2.1-release-notes.md"].status == "superseded"

    docs[1] = facts("acme-2.2-release-notes.md", "Acme 2.2 Release Notes")
    docs[0] = facts("acme-2.1-release-notes.md", "Acme 2.1 Release Notes (archived)",
                    status="archived")  # notes that say they are stale join by name
    out, _ = resolve_families(docs, today=date(2026, 1, 1))
    assert (out["acme-2.1-release-notes.md"].status,
            out["acme-2.1-release-notes.md"].superseded_by) == (
        "archived", "acme-2.2-release-notes.md")


def test_a_question_about_the_newest_release_itself_brings_it_up(index, embedder):
    searcher = Searcher(index, embedder=embedder)
    # only 2.1 speaks of CSV exports: by the words alone the newest release (2.3) is not
    # the best passage, but the question asks about the newest release, which the series
    # knows
    question = "What did the newest release change about CSV exports?"
    off = searcher.search(question, k=1, versions="off")
    assert "notes/release-2-3.md" not in [h.source for h in off]
    assert any(s in NOTES_ORDER for s in (h.source for h in off))
    for versions in ("prefer", "only-current"):
        hits = searcher.search(question, k=1, versions=versions)
        assert [h.source for h in hits] == ["notes/release-2-3.md"], versions
    # BM25 alone finds no word of the question in 2.3's notes: its passage is searched for
    # within its own document
    bm25 = searcher.search("What did the newest update do to CSV exports?", k=1, mode="bm25")
    assert [h.source for h in bm25] == ["notes/release-2-3.md"]
    # "which release most recently changed X" asks for the newest of those that did: the
    # words decide which releases are in the running, so 2.3 is not brought in
    recently = searcher.search("Which release most recently changed CSV exports?", k=1)
    assert "notes/release-2-3.md" not in [h.source for h in recently]


def test_the_newest_release_itself_is_read_from_the_question():
    for question in ("What is the newest PostgreSQL 15 minor release?",
                     "When was the most recent 15.x update released?",
                     "According to the latest release notes, what should be reindexed?",
                     "What does the latest release's migration section say?"):
        assert named_versions(question).newest, question
    for question in ("Which release most recently fixed SIMILAR TO?",
                     "What is the current version of the sync client?",
                     "Which release was the latest to change it?"):
        assert not named_versions(question).newest, question
    # a named release is what is asked about, whatever else the question says
    assert named_versions("Is 15.20 the newest release?").releases == ((15, 20),)


def test_two_series_each_get_their_newest_release(tmp_path, embedder):
    # two release-note series in one index (the app's and the firmware's), each shown in the
    # top k by an older release only: each series' newest release takes its series' first
    # slot, the second series' found even when the first's insertion pushed it below k
    notes = {
        "app/release-2-1.md": "# Release 2.1\n\nExports to CSV keep the last row. CSV exports "
                              "are faster.\n",
        "app/release-2-2.md": "# Release 2.2\n\nDark mode follows the system.\n",
        "fw/release-7-1.md": "# Release 7.1\n\nThe fan noise at night is lower.\n",
        "fw/release-7-2.md": "# Release 7.2\n\nBattery reports are more precise.\n",
    }
    for source, text in notes.items():
        (tmp_path / "docs" / source).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "docs" / source).write_text(text)
    ingest([tmp_path / "docs"], tmp_path / "index", progress=False, embedder=embedder)
    searcher = Searcher(tmp_path / "index", embedder=embedder)
    question = "What did the newest release change about CSV exports and fan noise?"
    off = searcher.search(question, k=2, mode="bm25", versions="off")
    assert [h.source for h in off] == ["app/release-2-1.md", "fw/release-7-1.md"]
    # k=2: the app's newest before its 2.1, which pushes the firmware's 7.1 below the cut
    hits = searcher.search(question, k=2, mode="bm25")
    assert [h.source for h in hits] == ["app/release-2-2.md", "app/release-2-1.md"]
