"""A real index of some of the acme sample documents, for the tests that build training
data from it (``tests/finetune``). A plain module so any test folder can import it."""

from __future__ import annotations

import shutil
from pathlib import Path

ACME = Path(__file__).resolve().parents[1] / "examples" / "acme"


def acme_index(root: Path, files: list[str], embedder):
    """Copy ``files`` (relative to ``examples/acme/docs``) under ``root/docs``, ingest them
    into ``root/index`` with ``embedder`` and return a ``Searcher`` on it (close it)."""
    from index.build import ingest
    from index.searcher import Searcher

    for name in files:
        (root / "docs" / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ACME / "docs" / name, root / "docs" / name)
    ingest([root / "docs"], root / "index", progress=False, embedder=embedder)
    return Searcher(root / "index", embedder=embedder)
