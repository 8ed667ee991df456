"""Closed-book training examples: the question alone in, the gold answer out.

For the fine-tune-only setup, which answers from what the adapter learned without
retrieval. Questions the documents do not answer (``answer: null``) teach the abstention.
"""

from __future__ import annotations

from collections.abc import Sequence

from core.prompt_format import ABSTAIN_TEXT, build_closed_book_messages
from finetune.records import BuildReport, Example, QARecord


def build_closed_book(records: Sequence[QARecord]) -> tuple[list[Example], BuildReport]:
    """One example per record: system + question, target = the answer or ``ABSTAIN_TEXT``."""
    report = BuildReport()
    examples = []
    for record in records:
        target = record.answer if record.answer is not None else ABSTAIN_TEXT
        messages = (*build_closed_book_messages(record.question),
                    {"role": "assistant", "content": target})
        examples.append(Example(
            id=f"{record.id}:closed_book", kind="closed_book", messages=tuple(messages),
            meta={"record_id": record.id, "origin": record.origin, "split": record.split,
                  "answerable": record.answer is not None},
        ))
        report.kinds["closed_book"] += 1
        if record.answer is None:
            report.kinds["closed_book_unanswerable"] += 1
    report.kept = len(examples)
    return examples, report
