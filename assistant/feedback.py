"""Answers the server returned, and what users said about them, in one SQLite file.

The server stores every answer record it returns (``FeedbackStore.save_answer``), keyed
by the answer's id, so that feedback can later point at the exact question, passages and
answer it judged. ``add_feedback`` records a rating of -1 (thumbs down) or +1 (thumbs
up) with an optional corrected answer; ``export_feedback`` turns the latest feedback per
answer into training records for fine-tuning (JSONL, ``origin: "feedback"``).

The database is written in WAL mode (readers never block the writer; a crash loses at
most the transaction in progress), one connection per store guarded by a lock.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from assistant.answering.records import Answer
from core.errors import AssistantError, ConfigError
from core.prompt_format import ABSTAIN_TEXT

logger = logging.getLogger(__name__)

RATINGS = (-1, 1)
SCHEMA_VERSION = 1
MAX_CORRECTION_CHARS = 20_000
_SCHEMA = """
CREATE TABLE IF NOT EXISTS answers (
    id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL,
    question TEXT NOT NULL,
    answer TEXT NOT NULL,
    adapter TEXT,
    record TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    answer_id TEXT NOT NULL REFERENCES answers(id),
    created_at TEXT NOT NULL,
    rating INTEGER NOT NULL CHECK (rating IN (-1, 1)),
    correction TEXT,
    comment TEXT
);
CREATE INDEX IF NOT EXISTS feedback_answer ON feedback(answer_id);
"""


class UnknownAnswerError(AssistantError, KeyError):
    """Feedback names an answer id this store never saw."""


@dataclass(frozen=True)
class Feedback:
    """One stored rating. ``rating`` is -1 or +1; ``correction`` the user's better answer."""

    id: int
    answer_id: str
    rating: int
    correction: str | None
    comment: str | None
    created_at: str

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "answer_id": self.answer_id,
            "rating": self.rating,
            "correction": self.correction,
            "comment": self.comment,
            "created_at": self.created_at,
        }


class FeedbackStore:
    """Answers and their feedback in the SQLite file ``path`` (created with its parent).

    Safe to share between threads. Raises ``AssistantError`` when the file is not a
    database this code can use (a newer schema, or not SQLite at all).
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path).expanduser()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        try:
            self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > SCHEMA_VERSION:
                raise AssistantError(
                    f"{self.path}: feedback schema {version} is newer than this code's "
                    f"({SCHEMA_VERSION}); upgrade the assistant"
                )
            self._db.executescript(_SCHEMA)
            self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")
        except sqlite3.DatabaseError as exc:
            raise AssistantError(f"{self.path}: cannot open the feedback database: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def save_answer(self, answer: Answer | dict) -> None:
        """Store an answer record (``Answer`` or its ``to_json()``); same id overwrites."""
        record = answer.to_json() if isinstance(answer, Answer) else dict(answer)
        with self._lock:
            self._db.execute(
                "INSERT OR REPLACE INTO answers (id, created_at, question, answer, adapter, record)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                (record["id"], _now(), record["question"], record["answer"],
                 record.get("adapter"), json.dumps(record)),
            )

    def get_answer(self, answer_id: str) -> dict:
        """The stored answer record; ``UnknownAnswerError`` if there is none."""
        with self._lock:
            row = self._db.execute(
                "SELECT record FROM answers WHERE id = ?", (answer_id,)
            ).fetchone()
        if row is None:
            raise UnknownAnswerError(f"no answer with id {answer_id!r}")
        return json.loads(row[0])

    def add_feedback(self, answer_id: str, rating: int, correction: str | None = None,
                     comment: str | None = None) -> Feedback:
        """Record feedback on a stored answer and return it.

        Raises ``ConfigError`` for a rating other than -1/+1 or an empty/oversized
        correction, ``UnknownAnswerError`` when the answer id was never stored.
        """
        if isinstance(rating, bool) or rating not in RATINGS:
            raise ConfigError(f"rating must be -1 (bad) or 1 (good), got {rating!r}")
        if correction is not None:
            correction = correction.strip()
            if not correction or len(correction) > MAX_CORRECTION_CHARS:
                raise ConfigError(
                    f"correction must be 1..{MAX_CORRECTION_CHARS} characters when given"
                )
        created = _now()
        with self._lock:
            known = self._db.execute("SELECT 1 FROM answers WHERE id = ?", (answer_id,)).fetchone()
            if known is None:
                raise UnknownAnswerError(f"no answer with id {answer_id!r}")
            cursor = self._db.execute(
                "INSERT INTO feedback (answer_id, created_at, rating, correction, comment)"
                " VALUES (?, ?, ?, ?, ?)",
                (answer_id, created, rating, correction, comment),
            )
        return Feedback(int(cursor.lastrowid), answer_id, rating, correction, comment, created)

    def feedback_for(self, answer_id: str) -> list[Feedback]:
        """Every feedback row on ``answer_id``, oldest first."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, answer_id, rating, correction, comment, created_at FROM feedback"
                " WHERE answer_id = ? ORDER BY id", (answer_id,)
            ).fetchall()
        return [Feedback(*row) for row in rows]

    def training_records(self, min_rating: int = -1,
                         key_ids: Sequence[str] | None = None) -> list[dict]:
        """Training records from the latest feedback on each answer (see module docs).

        A record's ``answer`` is the correction when there is one, else the original
        answer when it was rated +1 (without its span marks; an abstention as the
        abstention sentence); feedback with neither is skipped, as is feedback
        rated below ``min_rating``. ``key_ids`` keeps only answers the server gave to
        those API keys (the ``key_id`` it stores with each answer): the records of a
        key scoped to public documents hold no text from other documents.
        """
        with self._lock:
            rows = self._db.execute(
                "SELECT f.answer_id, f.rating, f.correction, a.record FROM feedback f"
                " JOIN answers a ON a.id = f.answer_id"
                " WHERE f.id IN (SELECT MAX(id) FROM feedback GROUP BY answer_id)"
                " ORDER BY f.id"
            ).fetchall()
        records = []
        for answer_id, rating, correction, raw in rows:
            if rating < min_rating:
                continue
            record = json.loads(raw)
            if correction is None and rating <= 0:
                continue
            if key_ids is not None and record.get("key_id") not in key_ids:
                continue
            records.append({
                "id": f"feedback-{answer_id}",
                "question": record["question"],
                "answer": correction if correction is not None else _target(record),
                "sources": _sources(record),
                "origin": "feedback",
                "rating": rating,
                "answer_id": answer_id,
            })
        return records


def export_feedback(db_path: str | Path, out_path: str | Path, min_rating: int = -1,
                    key_ids: Sequence[str] | None = None) -> int:
    """Write the training records of the feedback DB ``db_path`` to ``out_path`` (JSONL);
    ``key_ids`` keeps only answers given to those API keys (``training_records``).

    Returns how many were written. Raises ``AssistantError`` when ``db_path`` is missing
    or not a feedback database; ``out_path`` is written whole or not at all.
    """
    db_path, out_path = Path(db_path).expanduser(), Path(out_path).expanduser()
    if not db_path.is_file():
        raise AssistantError(f"{db_path}: no feedback database there")
    store = FeedbackStore(db_path)
    try:
        records = store.training_records(min_rating, key_ids)
    finally:
        store.close()
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_path.with_name(f".{out_path.name}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for record in records:
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
    tmp.replace(out_path)
    logger.info("exported %d feedback records to %s", len(records), out_path)
    return len(records)


def _target(record: dict) -> str:
    """What an answer rated +1 teaches: its text without the marks that show the span
    ("**$12.99 per month** [1]" -> "$12.99 per month [1]"), or, for an abstention, the
    abstention sentence the grounded training data uses, not the refusal shown with its
    related passages."""
    if record.get("abstained"):
        return ABSTAIN_TEXT
    return record["answer"].replace("**", "")


def _sources(record: dict) -> list[dict]:
    """``{"file", "page", "heading"}`` of the cited passages, once each, in citation order."""
    seen, out = set(), []
    for c in record.get("citations", []):
        ref = (c.get("source"), c.get("page_index"), c.get("heading") or None)
        if ref not in seen:
            seen.add(ref)
            out.append({"file": ref[0], "page": ref[1], "heading": ref[2]})
    return out


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
