"""Check examples/public-pdfs/questions.jsonl against the three public-domain PDFs.

For every answerable row, the gold answer must occur on each cited page (case-insensitive,
all whitespace collapsed to single spaces) and the cited page label must be the PDF's.
For every unanswerable row, each absent term must occur (whole word, case-insensitive) in
none of the three PDFs. Ids must be unique and in order, and the counts per type as
planned for the file (``FILES``): ``questions.jsonl`` (pd001..pd100, dev and test) and
``more_dev_questions.jsonl`` (pdd001..pdd060, dev only), both checked by default.

Usage:
    .venv/bin/python examples/public-pdfs/check_questions.py [PDF_DIR] [--questions PATH]

PDF_DIR defaults to ../../../shared/data/pdfs relative to this script. Needs pypdf.
Prints each failure and exits 1 if there is any, else 0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
DEFAULT_PDF_DIR = HERE / ".." / ".." / ".." / "shared" / "data" / "pdfs"

PDF_FILES = (
    "us-constitution.pdf",
    "federal-register-2020-17221.pdf",
    "nics-background-checks-2015-11.pdf",
)
EXPECTED_COUNTS = {
    "constitution": 45,
    "federal_register": 30,
    "table": 5,
    "unanswerable": 20,
}
# Each questions file: its id prefix and the rows planned per type.
FILES: dict[str, tuple[str, dict[str, int]]] = {
    "questions.jsonl": ("pd", EXPECTED_COUNTS),
    "more_dev_questions.jsonl": ("pdd", {"constitution": 25, "federal_register": 25,
                                         "unanswerable": 10}),
}
REQUIRED_FIELDS = ("id", "question", "answer", "aliases", "stale_answer", "sources", "type")
MAX_ANSWER_WORDS = 8


def normalize(text: str) -> str:
    """Lowercase and collapse every run of whitespace (line breaks included) to one space."""
    return " ".join(text.split()).lower()


def load_pdf_pages(pdf_dir: Path) -> dict[str, list[tuple[str, str]]]:
    """Map file name to its pages as (page_label, normalized text), physical order."""
    from pypdf import PdfReader

    pages: dict[str, list[tuple[str, str]]] = {}
    for name in PDF_FILES:
        reader = PdfReader(str(pdf_dir / name))
        labels = list(reader.page_labels)
        pages[name] = [
            (labels[i], normalize(page.extract_text() or ""))
            for i, page in enumerate(reader.pages)
        ]
    return pages


def load_rows(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if line.strip():
                row = json.loads(line)
                row["_line"] = lineno
                rows.append(row)
    return rows


def whole_word_pattern(term: str) -> re.Pattern:
    return re.compile(r"(?<!\w)" + re.escape(normalize(term)) + r"(?!\w)")


def term_occurs(term: str, pages: dict[str, list[tuple[str, str]]]) -> list[str]:
    """Where a term occurs as a whole word: 'file p.N' entries (empty if nowhere).

    Also looks in a de-hyphenated copy of each page ("sal- ary" -> "salary"), so a term
    split across a PDF line break still counts as present.
    """
    pattern = whole_word_pattern(term)
    hits = []
    for name, file_pages in pages.items():
        for i, (_, text) in enumerate(file_pages, 1):
            joined = re.sub(r"(?<=\w)- (?=\w)", "", text)
            if pattern.search(text) or pattern.search(joined):
                hits.append(f"{name} p.{i}")
    return hits


def check_rows(rows: list[dict], pages: dict[str, list[tuple[str, str]]],
               prefix: str = "pd", expected: dict[str, int] = EXPECTED_COUNTS) -> list[str]:
    failures: list[str] = []

    ids = Counter(row.get("id") for row in rows)
    for row_id, n in ids.items():
        if n > 1:
            failures.append(f"duplicate id {row_id!r} ({n} rows)")
    expected_ids = [f"{prefix}{i:03d}" for i in range(1, len(rows) + 1)]
    if [row.get("id") for row in rows] != expected_ids:
        failures.append(f"ids are not {prefix}001, {prefix}002, ... in file order")

    counts = Counter(row.get("type") for row in rows)
    for type_, want in expected.items():
        if counts.get(type_, 0) != want:
            failures.append(f"type {type_!r}: {counts.get(type_, 0)} rows, expected {want}")
    for type_ in counts:
        if type_ not in expected:
            failures.append(f"unknown type {type_!r}")

    for row in rows:
        rid = row.get("id", f"line {row['_line']}")
        for field in REQUIRED_FIELDS:
            if field not in row:
                failures.append(f"{rid}: missing field {field!r}")
        if not str(row.get("question", "")).strip():
            failures.append(f"{rid}: empty question")
        if not isinstance(row.get("aliases"), list):
            failures.append(f"{rid}: aliases is not a list")

        if row.get("type") == "unanswerable":
            if row.get("answer") is not None:
                failures.append(f"{rid}: unanswerable row has an answer")
            if row.get("aliases"):
                failures.append(f"{rid}: unanswerable row has aliases")
            if row.get("sources"):
                failures.append(f"{rid}: unanswerable row has sources")
            if not str(row.get("why_unanswerable", "")).strip():
                failures.append(f"{rid}: missing why_unanswerable")
            terms = row.get("absent_terms") or []
            if not terms:
                failures.append(f"{rid}: missing absent_terms")
            for term in terms:
                hits = term_occurs(term, pages)
                if hits:
                    failures.append(
                        f"{rid}: absent term {term!r} occurs in {', '.join(hits[:5])}"
                    )
            continue

        answer = row.get("answer")
        if not isinstance(answer, str) or not answer.strip():
            failures.append(f"{rid}: answerable row without an answer")
            continue
        n_words = len(answer.split())
        if n_words > MAX_ANSWER_WORDS:
            failures.append(f"{rid}: answer has {n_words} words (max {MAX_ANSWER_WORDS})")
        sources = row.get("sources") or []
        if not sources:
            failures.append(f"{rid}: answerable row without sources")
        needle = normalize(answer)
        for source in sources:
            name, page = source.get("file"), source.get("page")
            if name not in pages:
                failures.append(f"{rid}: unknown source file {name!r}")
                continue
            if not isinstance(page, int) or not 1 <= page <= len(pages[name]):
                failures.append(f"{rid}: {name} has no page {page!r}")
                continue
            label, text = pages[name][page - 1]
            if source.get("page_label") != label:
                failures.append(
                    f"{rid}: {name} p.{page} label is {label!r}, "
                    f"row says {source.get('page_label')!r}"
                )
            if needle not in text:
                failures.append(f"{rid}: answer {answer!r} not found on {name} p.{page}")
    return failures


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pdf_dir", nargs="?", default=str(DEFAULT_PDF_DIR),
                        help="folder holding the three PDFs (default: %(default)s)")
    parser.add_argument("--questions", default=None,
                        help=f"one questions file (default: each of {', '.join(FILES)})")
    args = parser.parse_args(argv)

    pdf_dir = Path(args.pdf_dir)
    missing = [name for name in PDF_FILES if not (pdf_dir / name).is_file()]
    if missing:
        print(f"missing PDFs in {pdf_dir}: {', '.join(missing)}")
        return 1

    paths = [Path(args.questions)] if args.questions else [HERE / name for name in FILES]
    pages = load_pdf_pages(pdf_dir)
    failed = 0
    for path in paths:
        prefix, expected = FILES.get(path.name, ("pd", EXPECTED_COUNTS))
        rows = load_rows(path)
        failures = check_rows(rows, pages, prefix, expected)
        for failure in failures:
            print(f"{path.name}: {failure}")
        counts = Counter(row.get("type") for row in rows)
        summary = ", ".join(f"{t}={counts.get(t, 0)}" for t in expected)
        print(f"{path.name}: {len(rows)} rows ({summary}); {len(failures)} failure(s)")
        failed += len(failures)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
