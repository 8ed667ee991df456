"""Checks for the public-PDF question set (``examples/public-pdfs/questions.jsonl``).

The splits are checked from the repository alone; the gold answers against their pages
(``check_questions.py``, pypdf only) and the corpus folder's links skip when the shared
PDFs (``../shared/data/pdfs``) are absent.
"""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from shared_data import SHARED_DATA

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "public-pdfs"
PDFS = SHARED_DATA / "pdfs"
SEED = 1787


def _module(path: Path, name: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _rows() -> list[dict]:
    lines = (EXAMPLE / "questions.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_splits_are_the_assigned_ones():
    splitter = _module(ROOT / "examples" / "postgresql" / "split_questions.py", "split_pd")
    rows = _rows()
    assigned = splitter.assign_splits(rows, seed=SEED)
    assert {r["id"]: r["split"] for r in rows} == assigned
    dev = sum(r["split"] == "dev" for r in rows)
    assert (dev, len(rows) - dev) == (40, 60)


def test_every_answer_is_on_its_page_and_every_absent_term_absent(capsys):
    if not PDFS.is_dir():
        pytest.skip(f"shared PDFs not available: {PDFS}")
    checker = _module(EXAMPLE / "check_questions.py", "check_pd")
    assert checker.main([str(PDFS)]) == 0, capsys.readouterr().out


def test_the_corpus_folder_links_the_three_pdfs():
    checker = _module(EXAMPLE / "check_questions.py", "check_pd")
    docs = EXAMPLE / "docs"
    assert sorted(p.name for p in docs.iterdir()) == sorted(checker.PDF_FILES)
    if PDFS.is_dir():
        for name in checker.PDF_FILES:
            assert (docs / name).resolve() == (PDFS / name).resolve()
