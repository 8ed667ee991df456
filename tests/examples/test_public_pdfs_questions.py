"""Checks for the public-PDF question sets (``examples/public-pdfs/questions.jsonl``, and
``more_dev_questions.jsonl``: 60 more dev questions).

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


def _rows(name: str = "questions.jsonl") -> list[dict]:
    lines = (EXAMPLE / name).read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines if line.strip()]


def test_splits_are_the_assigned_ones():
    splitter = _module(ROOT / "examples" / "postgresql" / "split_questions.py", "split_pd")
    rows = _rows()
    assigned = splitter.assign_splits(rows, seed=SEED)
    assert {r["id"]: r["split"] for r in rows} == assigned
    dev = sum(r["split"] == "dev" for r in rows)
    assert (dev, len(rows) - dev) == (40, 60)


def test_the_more_dev_questions_are_dev_only_and_ask_nothing_the_first_set_asks():
    first, more = _rows(), _rows("more_dev_questions.jsonl")
    assert len(more) == 60 and {r["split"] for r in more} == {"dev"}
    # never a test question's fact twice: no question and no gold answer of the first set
    # again (the writer also avoided their facts by hand)
    assert not {r["question"] for r in first} & {r["question"] for r in more}
    answers = {r["answer"].casefold() for r in first if r["answer"]}
    assert not [r["id"] for r in more if r["answer"] and r["answer"].casefold() in answers]


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
