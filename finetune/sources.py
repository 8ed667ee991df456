"""Read Q&A records from JSONL or CSV files: FAQ sheets, support transcripts, server feedback.

Each record has a ``question``, an ``answer`` (``null`` when the documents do not answer
it) and optional ``sources``, ``id``, ``split``, ``origin`` and ``rating``; a follow-up
question in a conversation (JSONL only) adds ``history`` (the earlier turns, ``[{"role",
"content"}]``) and may add ``standalone`` (the question written out in full). Lines that
cannot be used are skipped and reported by line number with the reason; their content is
never echoed, since it may hold personal data.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from finetune.records import DatasetError, QARecord, SourceRef

logger = logging.getLogger(__name__)

FORMATS = (".jsonl", ".csv")
SPLITS = ("train", "test", "validation", "dev")
SOURCE_ROLES = ("gold", "stale")
Problem = tuple[int, str]


def check_split(split: str | None, *, field: str = "split", extra: tuple[str, ...] = ()) -> None:
    """Raise ``ConfigError`` naming ``field``, the bad split and the allowed ones unless
    ``split`` is None or one of ``SPLITS`` (or of ``extra``, such as the CLI's ``all``).
    The one check of a requested split: ``read_qa``, the eval's ``[questions] split`` and
    ``assistant finetune --split`` all use it."""
    allowed = SPLITS + extra
    if split is not None and split not in allowed:
        raise ConfigError(f"{field} must be one of {', '.join(allowed)}, got {split!r}")


def read_qa(
    path: Path | str,
    split: str | None = None,
    min_rating: float | None = None,
) -> tuple[list[QARecord], list[Problem]]:
    """Records of a ``.jsonl`` or ``.csv`` Q&A file and the ``(line_number, reason)`` of
    each line that was skipped.

    ``split`` keeps only records whose split is that one (records without a split are
    kept: they are not known to be held out; use ``drop_overlap`` against the held-out set
    as well). ``min_rating`` skips rated records (feedback) rated below it. Raises
    ``ConfigError`` for an unknown ``split`` (``check_split``) and ``DatasetError`` when
    the file is missing, of another format, or not UTF-8 text.
    """
    path = Path(path)
    check_split(split)
    if path.suffix.lower() not in FORMATS:
        raise DatasetError(f"{path}: Q&A files must be {' or '.join(FORMATS)}, got {path.suffix!r}")
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    raw = path.read_bytes()
    if path.suffix.lower() == ".jsonl":
        rows, problems = _jsonl_rows(raw, path)
    else:
        rows, problems = _csv_rows(raw, path)
    records: list[QARecord] = []
    seen: set[str] = set()
    skipped_split = skipped_rating = 0
    for line, row in rows:
        try:
            record = _record(row, default_id=f"{path.stem}:{line}")
        except ValueError as exc:
            problems.append((line, str(exc)))
            continue
        if record.id in seen:
            problems.append((line, f"duplicate id {record.id!r}"))
            continue
        seen.add(record.id)
        if split is not None and record.split is not None and record.split != split:
            skipped_split += 1
            continue
        if min_rating is not None and record.rating is not None and record.rating < min_rating:
            skipped_rating += 1
            continue
        records.append(record)
    problems.sort()
    logger.info(
        "%s: %d records, %d lines skipped, %d of other splits, %d rated below %s",
        path, len(records), len(problems), skipped_split, skipped_rating, min_rating,
    )
    return records, problems


def drop_overlap(
    records: Iterable[QARecord], held_out: Iterable[QARecord]
) -> tuple[list[QARecord], int]:
    """``records`` without those whose normalized question is also a held-out question,
    and how many were dropped. Guards against test questions leaking into training
    through another file (feedback, a second FAQ export)."""
    records = list(records)
    banned = {normalize(r.question) for r in held_out}
    kept = [r for r in records if normalize(r.question) not in banned]
    return kept, len(records) - len(kept)


def normalize(text: str) -> str:
    """Lower-cased, whitespace-collapsed text, for matching and deduplication."""
    return re.sub(r"\s+", " ", text).strip().lower()


# -- parsing -----------------------------------------------------------------------------


def _jsonl_rows(raw: bytes, path: Path) -> tuple[list[tuple[int, dict]], list[Problem]]:
    rows, problems = [], []
    for number, line in enumerate(raw.splitlines(), start=1):
        try:
            text = line.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            problems.append((number, "not UTF-8 text"))
            continue
        if not text.strip():
            continue
        try:
            row = json.loads(text)
        except json.JSONDecodeError as exc:
            problems.append((number, f"invalid JSON ({exc.msg}: column {exc.colno})"))
            continue
        if not isinstance(row, dict):
            problems.append((number, f"expected a JSON object, got {type(row).__name__}"))
            continue
        rows.append((number, row))
    return rows, problems


def _csv_rows(raw: bytes, path: Path) -> tuple[list[tuple[int, dict]], list[Problem]]:
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DatasetError(f"{path}: not UTF-8 text (byte {exc.start})") from exc
    reader = csv.reader(io.StringIO(text, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        return [], []
    except csv.Error as exc:
        raise DatasetError(f"{path}: unreadable CSV header ({exc})") from exc
    header = [h.strip().lower() for h in header]
    missing = {"question", "answer"} - set(header)
    if missing:
        raise DatasetError(f"{path}: CSV header lacks column(s) {sorted(missing)}; got {header}")
    rows, problems = [], []
    start = reader.line_num + 1
    while True:
        try:
            cells = next(reader)
        except StopIteration:
            break
        except csv.Error as exc:
            problems.append((start, f"malformed CSV ({exc})"))
            start = reader.line_num + 1
            continue
        line, start = start, reader.line_num + 1
        if not any(c.strip() for c in cells):
            continue
        if len(cells) != len(header):
            problems.append((line, f"expected {len(header)} fields, got {len(cells)}"))
            continue
        row: dict[str, Any] = dict(zip(header, cells, strict=True))
        answer = row["answer"].strip()
        row["answer"] = None if answer.lower() == "null" else answer
        for key in ("id", "split", "origin", "rating"):
            if key in row and not row[key].strip():
                del row[key]
        if "rating" in row:
            try:
                row["rating"] = float(row["rating"])
            except ValueError:
                problems.append((line, f"rating is not a number: {row['rating'][:20]!r}"))
                continue
        row["sources"] = _csv_sources(row.get("sources", ""))
        rows.append((line, row))
    return rows, problems


def _csv_sources(cell: str) -> Any:
    """A JSON array as in JSONL, or ``;``-separated file paths."""
    cell = cell.strip()
    if not cell:
        return []
    if cell.startswith("["):
        try:
            return json.loads(cell)
        except json.JSONDecodeError:
            return cell  # reported by _record as not a list
    return [part.strip() for part in cell.split(";") if part.strip()]


def _record(row: dict[str, Any], default_id: str) -> QARecord:
    question = row.get("question")
    if not isinstance(question, str) or not question.strip():
        raise ValueError("question is missing or empty")
    if "answer" not in row:
        raise ValueError("answer is missing (write null for a question the documents "
                         "do not answer)")
    answer = row["answer"]
    if answer is not None and (not isinstance(answer, str) or not answer.strip()):
        raise ValueError("answer must be non-empty text or null")
    split = row.get("split")
    if split is not None and split not in SPLITS:
        raise ValueError(f"split must be one of {', '.join(SPLITS)} or absent, got {split!r}")
    rating = row.get("rating")
    if rating is not None and (isinstance(rating, bool) or not isinstance(rating, int | float)):
        raise ValueError(f"rating must be a number or null, got {type(rating).__name__}")
    record_id = row.get("id", default_id)
    if not isinstance(record_id, str | int) or not str(record_id).strip():
        raise ValueError("id must be a non-empty string")
    origin = row.get("origin") or "qa"
    if not isinstance(origin, str):
        raise ValueError("origin must be a string")
    aliases, parts = _texts(row.get("aliases"), "aliases"), _texts(row.get("answer_parts"),
                                                                    "answer_parts")
    stale = row.get("stale_answer")
    if stale is not None and (not isinstance(stale, str) or not stale.strip()):
        raise ValueError("stale_answer must be non-empty text or null")
    qtype = row.get("type")
    if qtype is not None and (not isinstance(qtype, str) or not qtype.strip()):
        raise ValueError("type must be non-empty text or absent")
    standalone = row.get("standalone")
    if standalone is not None and (not isinstance(standalone, str) or not standalone.strip()):
        raise ValueError("standalone must be non-empty text or absent")
    if answer is None and (aliases or parts):
        raise ValueError("an unanswerable question (answer null) cannot have aliases or "
                         "answer_parts")
    return QARecord(
        id=str(record_id),
        question=question.strip(),
        answer=answer.strip() if answer is not None else None,
        sources=_sources(row.get("sources")),
        split=split,
        origin=origin,
        rating=float(rating) if rating is not None else None,
        aliases=aliases,
        answer_parts=parts,
        stale_answer=stale.strip() if stale is not None else None,
        qtype=qtype.strip() if qtype is not None else None,
        history=_history(row.get("history")),
        standalone=standalone.strip() if standalone is not None else None,
    )


HISTORY_ROLES = ("user", "assistant", "system")


def _history(value: Any) -> tuple[tuple[str, str], ...]:
    """The earlier turns of a conversation: ``[{"role", "content"}, ...]``, oldest first;
    absent or null is ()."""
    if value is None or value == "":
        return ()
    if not isinstance(value, list):
        raise ValueError("history must be a list of {role, content} turns")
    turns = []
    for n, turn in enumerate(value, 1):
        if not isinstance(turn, dict) or set(turn) != {"role", "content"}:
            raise ValueError(f"history turn {n} must be an object with exactly role and "
                             "content")
        role, content = turn["role"], turn["content"]
        if role not in HISTORY_ROLES:
            raise ValueError(f"history turn {n}: role must be one of "
                             f"{', '.join(HISTORY_ROLES)}, got {role!r}")
        if not isinstance(content, str) or not content.strip():
            raise ValueError(f"history turn {n}: content must be non-empty text")
        turns.append((role, content.strip()))
    return tuple(turns)


def _texts(value: Any, field: str) -> tuple[str, ...]:
    """A list of non-empty strings (``aliases``, ``answer_parts``); absent or null is ()."""
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ValueError(f"{field} must be a list of non-empty strings")
    return tuple(v.strip() for v in value)


def _sources(value: Any) -> tuple[SourceRef, ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise ValueError("sources must be a list")
    refs = []
    for item in value:
        if isinstance(item, str) and item.strip():
            refs.append(SourceRef(file=item.strip()))
            continue
        if not isinstance(item, dict) or not isinstance(item.get("file"), str) \
                or not item["file"].strip():
            raise ValueError("each source must be a path or an object with a 'file' path")
        page = item.get("page")
        if page is not None and (isinstance(page, bool) or not isinstance(page, int) or page < 1):
            raise ValueError(f"source page must be a 1-based integer or null, got {page!r}")
        heading = item.get("heading")
        if heading is not None and not isinstance(heading, str):
            raise ValueError("source heading must be text or null")
        role = item.get("role", "gold")
        if role not in SOURCE_ROLES:
            raise ValueError(f"source role must be one of {', '.join(SOURCE_ROLES)}, got {role!r}")
        refs.append(SourceRef(file=item["file"].strip(), page=page, heading=heading or None,
                              role=role))
    return tuple(refs)
