"""Progress for long work: a bar on a terminal, plain lines in a log, nothing when quiet."""

from __future__ import annotations

import io

from core.progress import ProgressLines, for_stderr, track


def test_lines_give_the_first_and_last_step_and_at_most_one_between_per_interval():
    out = io.StringIO()
    lines = ProgressLines("ingest", every=3600, stream=out)
    assert list(track(range(5), lines, "parse", unit="files")) == [0, 1, 2, 3, 4]
    assert out.getvalue().splitlines() == ["ingest: parse 0/5 files", "ingest: parse 5/5 files"]
    out.truncate(0), out.seek(0)
    every = ProgressLines("ingest", every=0, stream=out)
    list(track(["a", "b"], every, "embed"))
    assert out.getvalue().splitlines() == ["ingest: embed 0/2", "ingest: embed 1/2",
                                           "ingest: embed 2/2"]
    out.truncate(0), out.seek(0)
    assert list(track([], every, "parse")) == [] and out.getvalue() == ""  # nothing to do


def test_a_quiet_command_shows_nothing_and_a_log_gets_lines(monkeypatch):
    assert for_stderr(True, "ingest") is False
    monkeypatch.setattr("sys.stderr", io.StringIO())  # not a terminal
    assert isinstance(for_stderr(False, "ingest"), ProgressLines)


def test_a_bar_or_nothing_passes_every_item_through():
    assert list(track([1, 2, 3], False, "parse")) == [1, 2, 3]
    assert list(track(iter([1, 2]), True, "parse", total=2)) == [1, 2]
