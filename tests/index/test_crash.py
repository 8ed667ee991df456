"""A writer killed with SIGKILL mid-commit leaves the previous version serving."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from synthetic import INFO, assert_consistent, write_corpus

from index.searcher import Searcher
from index.store import IndexStore
from index.writer import IndexWriter

ROOT = Path(__file__).resolve().parents[2]

# The child re-indexes the corpus and freezes at one point of commit(), announcing it on
# stdout, so that the test can kill it exactly there.
CHILD = textwrap.dedent(
    """
    import sys, time
    from synthetic import write_corpus, CORPUS
    import index.bm25, index.store

    def freeze(original):
        def frozen(*args, **kwargs):
            if STAGE == "after":
                original(*args, **kwargs)
            print("FROZEN", flush=True)
            time.sleep(600)
        return frozen

    STAGE = sys.argv[2]
    if sys.argv[3] == "bm25":
        index.bm25.BM25Index.save = freeze(index.bm25.BM25Index.save)
    else:
        index.store.IndexStore._write_current = freeze(index.store.IndexStore._write_current)
    write_corpus(sys.argv[1], {**CORPUS, "extra.md": ["an extra document about llamas"]})
    """
)


@pytest.mark.parametrize(
    ("stage", "where"),
    [("before", "bm25"), ("after", "bm25"), ("before", "current")],
    ids=["while-building", "built-not-renamed", "renamed-not-published"],
)
def test_sigkill_mid_commit_keeps_previous_version(index_dir, stage, where):
    write_corpus(index_dir)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "tests/index")])}
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(index_dir), stage, where],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ROOT,
    )
    try:
        line = child.stdout.readline()
        assert line.strip() == "FROZEN", child.stderr.read()
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=30)
    store = IndexStore(index_dir)
    leftovers = [p.name for p in store.versions_dir.iterdir() if p.name != "v000001"]
    assert leftovers  # the child did leave a partial version behind
    assert store.current() == "v000001"
    searcher = Searcher(index_dir)
    assert searcher.manifest.n_docs == 4
    assert searcher.search("llamas", k=3, mode="bm25") == []

    # The next writer is not locked out (the kernel dropped the dead child's lock),
    # removes the leftovers and publishes normally.
    writer = IndexWriter.open(index_dir, INFO, lock_timeout=0)
    names = sorted(p.name for p in store.versions_dir.iterdir())
    assert len(names) == 2 and names[0].startswith(".building-") and names[1] == "v000001"
    assert names[0] != leftovers[0]  # the new writer's own build, not the dead one's
    for source in writer.previous_documents():
        writer.keep_document(source)
    assert writer.commit().version == "v000002"
    assert store.versions() == ["v000001", "v000002"]
    assert not [p for p in store.versions_dir.iterdir() if p.name.startswith(".")]
    assert searcher.refresh() and searcher.manifest.n_docs == 4
    assert_consistent(index_dir)
