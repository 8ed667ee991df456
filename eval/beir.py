"""Load a BEIR-format retrieval dataset (corpus, queries, qrels) from disk.

The layout is the one BEIR publishes: ``corpus.jsonl`` (``_id``, ``title``, ``text``),
``queries.jsonl`` (``_id``, ``text``) and ``qrels/<split>.tsv`` (``query-id``, ``corpus-id``,
``score``; tab separated, usually with a header row and sometimes CRLF line endings).
Every problem is reported as a :class:`BeirDataError` that names the file and line.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

from core.errors import AssistantError

logger = logging.getLogger(__name__)


class BeirDataError(AssistantError, ValueError):
    """A BEIR dataset file is missing or malformed; the message names the file and line."""


@dataclass(frozen=True)
class BeirDoc:
    """One corpus entry."""

    doc_id: str
    title: str
    text: str

    @property
    def full_text(self) -> str:
        """Title and body joined by a space, as BM25 (Anserini) and MTEB index them."""
        return f"{self.title} {self.text}".strip()


@dataclass(frozen=True)
class BeirQuery:
    """One query (a claim, for SciFact)."""

    query_id: str
    text: str


@dataclass(frozen=True)
class BeirDataset:
    """A corpus, the queries of one split and their relevance judgments.

    ``queries`` holds only the queries judged in ``qrels`` (as BEIR's loader does), in file
    order. ``qrels`` maps query id -> doc id -> grade.
    """

    name: str
    split: str
    corpus: Mapping[str, BeirDoc]
    queries: Mapping[str, BeirQuery]
    qrels: Mapping[str, Mapping[str, int]]

    def corpus_hash(self) -> str:
        """A short stable hash of the corpus content, to tell whether an index holds it."""
        digest = hashlib.sha256()
        for doc in self.corpus.values():
            for part in (doc.doc_id, doc.title, doc.text):
                digest.update(part.encode())
                digest.update(b"\0")
        return digest.hexdigest()[:16]


def _json_lines(path: Path) -> Iterator[tuple[int, dict]]:
    """(line number, object) for each non-blank line of a JSON-lines file."""
    if not path.is_file():
        raise BeirDataError(f"{path}: file not found")
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BeirDataError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from exc
            if not isinstance(obj, dict):
                raise BeirDataError(f"{path}:{lineno}: expected a JSON object")
            yield lineno, obj


def _field(obj: dict, key: str, where: str, default: str | None = None) -> str:
    value = obj.get(key, default)
    if value is None:
        raise BeirDataError(f"{where}: missing field {key!r}")
    if isinstance(value, int) and not isinstance(value, bool) and key == "_id":
        return str(value)
    if not isinstance(value, str):
        raise BeirDataError(f"{where}: field {key!r} must be a string, got {type(value).__name__}")
    return value


def load_corpus(path: Path) -> dict[str, BeirDoc]:
    """Read ``corpus.jsonl`` into doc id -> :class:`BeirDoc`. A missing title reads as ``""``."""
    corpus: dict[str, BeirDoc] = {}
    for lineno, obj in _json_lines(path):
        where = f"{path}:{lineno}"
        doc_id = _field(obj, "_id", where)
        if doc_id in corpus:
            raise BeirDataError(f"{where}: duplicate _id {doc_id!r}")
        title = _field(obj, "title", where, "")
        corpus[doc_id] = BeirDoc(doc_id, title, _field(obj, "text", where))
    return corpus


def load_queries(path: Path) -> dict[str, BeirQuery]:
    """Read ``queries.jsonl`` into query id -> :class:`BeirQuery`."""
    queries: dict[str, BeirQuery] = {}
    for lineno, obj in _json_lines(path):
        where = f"{path}:{lineno}"
        query_id = _field(obj, "_id", where)
        if query_id in queries:
            raise BeirDataError(f"{where}: duplicate _id {query_id!r}")
        queries[query_id] = BeirQuery(query_id, _field(obj, "text", where))
    return queries


def load_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Read a qrels TSV (``query-id  corpus-id  score``) into query -> doc -> grade.

    A first line whose score column is not an integer is taken as the header. Blank lines
    are skipped; any other line without three tab-separated fields and an integer score is
    an error.
    """
    if not path.is_file():
        raise BeirDataError(f"{path}: file not found")
    qrels: dict[str, dict[str, int]] = {}
    with open(path, encoding="utf-8", newline="") as fh:
        for lineno, raw in enumerate(fh, start=1):
            line = raw.rstrip("\r\n")
            if not line.strip():
                continue
            fields = line.split("\t")
            if len(fields) != 3:
                raise BeirDataError(
                    f"{path}:{lineno}: expected 3 tab-separated fields, got {len(fields)}: {line!r}"
                )
            query_id, doc_id, score = (f.strip() for f in fields)
            try:
                grade = int(score)
            except ValueError:
                if lineno == 1:  # the header row: query-id, corpus-id, score
                    continue
                raise BeirDataError(
                    f"{path}:{lineno}: score must be an integer, got {score!r}"
                ) from None
            if not query_id or not doc_id:
                raise BeirDataError(f"{path}:{lineno}: empty query or corpus id")
            qrels.setdefault(query_id, {})[doc_id] = grade
    if not qrels:
        raise BeirDataError(f"{path}: no judgments")
    return qrels


def load_beir(root: Path, split: str = "test") -> BeirDataset:
    """Load the dataset in directory ``root`` with the qrels of ``split``.

    Raises :class:`BeirDataError` when a file is missing or malformed, or when the qrels
    name a query or document that the other files do not hold.
    """
    root = Path(root)
    if not root.is_dir():
        raise BeirDataError(f"{root}: not a directory")
    corpus = load_corpus(root / "corpus.jsonl")
    all_queries = load_queries(root / "queries.jsonl")
    qrels_path = root / "qrels" / f"{split}.tsv"
    qrels = load_qrels(qrels_path)
    missing_q = sorted(set(qrels) - set(all_queries))
    if missing_q:
        raise BeirDataError(f"{qrels_path}: query ids not in queries.jsonl: {missing_q[:5]}")
    missing_d = sorted({d for judged in qrels.values() for d in judged} - set(corpus))
    if missing_d:
        raise BeirDataError(f"{qrels_path}: corpus ids not in corpus.jsonl: {missing_d[:5]}")
    queries = {qid: q for qid, q in all_queries.items() if qid in qrels}
    logger.info(
        "loaded %s/%s: %d docs, %d queries, %d judgments",
        root.name, split, len(corpus), len(queries), sum(len(j) for j in qrels.values()),
    )
    return BeirDataset(root.name, split, corpus, queries, qrels)
