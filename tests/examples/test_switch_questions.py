"""The topic-switch control sets (``examples/*/switch_dev_questions.jsonl``) are what their
generator writes from the fresh dev questions and the dev conversations, and read as Q&A
rows with a history."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest

from finetune.sources import read_qa

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "examples" / "conversations" / "make_switch_questions.py"


def _generator():
    spec = importlib.util.spec_from_file_location("make_switch_questions", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_files_are_what_the_generator_writes():
    assert _generator().main(["--check"]) == 0


@pytest.mark.parametrize("corpus", ["acme", "postgresql"])
def test_every_row_reads_with_its_conversation(corpus):
    records, problems = read_qa(ROOT / "examples" / corpus / "switch_dev_questions.jsonl",
                                split="dev")
    assert problems == [] and len(records) == 80
    assert all(r.history and r.history[0][0] == "user" and r.standalone == r.question
               for r in records)
    # the conversations are the dev ones: no test conversation is read here
    talks = (ROOT / "examples" / corpus / "conversation_questions.jsonl").read_text()
    tests = [line for line in talks.splitlines() if '"split": "test"' in line]
    assert not any(r.history[0][1] in line for r in records for line in tests)
