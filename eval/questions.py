"""Question sets in, ``EvalQuestion`` records out: Q&A files, PubMedQA, SciFact.

- ``qa``: any JSONL/CSV file ``finetune.sources.read_qa`` reads (``question``, ``answer``
  or null, optional ``sources``), e.g. ``examples/acme/qa.jsonl`` with ``split = "test"``;
  a follow-up's ``history`` and ``standalone`` are asked as ``[questions] form`` says.
- ``pubmedqa``: the official 500-question PQA-L test split; the gold answer is the
  yes/no/maybe decision, the gold passages are the question's CONTEXTS.
- ``scifact``: the original SciFact claims (``claims_dev.jsonl`` = BEIR test queries)
  asked as "Is the following claim true?"; SUPPORT -> yes, CONTRADICT -> no, no evidence ->
  unanswerable (gold answer None). Gold sources are the evidence abstracts, named as the
  BEIR index names them (``beir/scifact/<doc id>``), with the evidence sentences kept.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

from core.errors import ConfigError
from eval.config import EvalConfigError, QuestionsConfig
from finetune.records import DatasetError, SourceRef
from index.records import Passage

logger = logging.getLogger(__name__)

KINDS = ("short", "yesno")
SCIFACT_PREFIX = "beir/scifact"


@dataclass(frozen=True)
class EvalQuestion:
    """One question with its gold: ``answer`` None means the documents do not answer it.

    ``kind`` ``short``: scored by EM/F1/contains; ``yesno``: ``answer`` is yes/no/maybe and
    is scored by accuracy. ``history``: the ``(role, content)`` turns a follow-up is asked
    after (``[questions] form = "asked"``). ``evidence``: gold evidence sentences
    (SciFact); ``contexts``: gold passages (PubMedQA, SciFact), used by ``[corpus] kind =
    "contexts"`` / ``"gold"``.
    """

    id: str
    question: str
    answer: str | None
    sources: tuple[SourceRef, ...] = ()
    kind: str = "short"
    evidence: tuple[str, ...] = ()
    contexts: tuple[Passage, ...] = ()
    aliases: tuple[str, ...] = ()
    answer_parts: tuple[str, ...] = ()
    stale_answer: str | None = None
    qtype: str | None = None
    stale_sources: tuple[SourceRef, ...] = ()
    history: tuple[tuple[str, str], ...] = ()

    @property
    def answerable(self) -> bool:
        return self.answer is not None

    def gold_json(self) -> dict:
        """The ``gold`` of a results.jsonl record (what re-scoring reads); the optional
        keys appear only when the question set gives them."""
        out = {"answer": self.answer, "kind": self.kind,
               "sources": [s.to_json() for s in self.sources],
               "evidence": list(self.evidence)}
        extra = {"aliases": list(self.aliases), "answer_parts": list(self.answer_parts),
                 "stale_answer": self.stale_answer, "type": self.qtype,
                 "stale_sources": [s.to_json() for s in self.stale_sources]}
        out.update({k: v for k, v in extra.items() if v})
        return out

    def history_json(self) -> list[dict]:
        """The conversation before the question, as the answer API takes it."""
        return [{"role": role, "content": content} for role, content in self.history]


def load_questions(config: QuestionsConfig) -> list[EvalQuestion]:
    """The questions ``config`` names, in file order (PubMedQA: sorted by id). Raises
    ``EvalConfigError`` for a missing file or an empty set, ``DatasetError`` for bad data."""
    if not config.path.exists():
        raise EvalConfigError(f"[questions] path {config.path}: no such file or directory")
    if config.format == "qa":
        questions = _qa(config)
    elif config.format == "pubmedqa":
        questions = _pubmedqa(config)
    else:
        questions = _scifact(config)
    if not questions:
        raise EvalConfigError(f"[questions] {config.path} (split {config.split!r}) holds no "
                              "usable question")
    ids = [q.id for q in questions]
    if len(set(ids)) != len(ids):
        raise DatasetError(f"{config.path}: question ids repeat")
    return questions


def _qa(config: QuestionsConfig) -> list[EvalQuestion]:
    from finetune.sources import check_split, read_qa

    try:
        check_split(config.split)
    except ConfigError as exc:
        raise EvalConfigError(f"[questions] {exc}") from exc
    records, problems = read_qa(config.path, split=config.split)
    for line, reason in problems[:10]:
        logger.warning("%s line %d skipped: %s", config.path, line, reason)
    alone = config.form == "standalone"
    return [EvalQuestion(id=r.id, question=(r.standalone or r.question) if alone else r.question,
                         answer=r.answer, sources=r.gold_sources, aliases=r.aliases,
                         answer_parts=r.answer_parts, stale_answer=r.stale_answer,
                         qtype=r.qtype or ("unanswerable" if r.answer is None else None),
                         stale_sources=tuple(s for s in r.sources if s.role == "stale"),
                         history=() if alone else r.history)
            for r in records]


def _pubmedqa(config: QuestionsConfig) -> list[EvalQuestion]:
    from finetune.pubmedqa import load_pubmedqa

    if config.split not in (None, "test"):
        raise EvalConfigError("[questions] PubMedQA is evaluated on its official test split; "
                              f"split must be 'test', got {config.split!r}")
    out = []
    for item in load_pubmedqa(config.path, split="test"):
        file = f"pubmed/{item.id}"
        contexts = tuple(
            Passage(chunk_id=f"pubmed-{item.id}-{i}", doc_id=f"pubmed-{item.id}", source=file,
                    text=text, score=1.0,
                    heading=(item.labels[i].title(),) if i < len(item.labels) else ())
            for i, text in enumerate(item.contexts))
        out.append(EvalQuestion(id=item.id, question=item.question, answer=item.decision,
                                sources=(SourceRef(file=file),), kind="yesno",
                                evidence=(item.long_answer,), contexts=contexts))
    return out


def _scifact(config: QuestionsConfig) -> list[EvalQuestion]:
    sentences_file = config.corpus_sentences or config.path.parent / "corpus_sentences.jsonl"
    if not sentences_file.is_file():
        raise EvalConfigError(f"[questions] corpus_sentences {sentences_file}: no such file")
    abstracts = {str(row["doc_id"]): (row.get("title", ""), row["abstract"])
                 for row in _jsonl(sentences_file)}
    out = []
    for row in _jsonl(config.path):
        evidence = row.get("evidence") or {}
        docs = [str(d) for d in row.get("cited_doc_ids", [])]
        labels = {e["label"] for e in evidence.values()}
        answer = None if not evidence else ("yes" if "SUPPORT" in labels else "no")
        sentences, sources = [], []
        for doc_id, ev in evidence.items():
            sources.append(SourceRef(file=f"{SCIFACT_PREFIX}/{doc_id}"))
            abstract = abstracts.get(str(doc_id), ("", []))[1]
            sentences.extend(abstract[i] for i in ev.get("sentences", [])
                             if i < len(abstract))
        contexts = tuple(
            Passage(chunk_id=f"{d}#0", doc_id=d, source=f"{SCIFACT_PREFIX}/{d}",
                    text=" ".join(abstracts[d][1]), score=1.0, title=abstracts[d][0])
            for d in docs if d in abstracts)
        out.append(EvalQuestion(
            id=str(row["id"]), question=f"Is the following claim true? {row['claim'].strip()}",
            answer=answer, sources=tuple(sources), kind="yesno",
            evidence=tuple(s.strip() for s in sentences), contexts=contexts))
    return out


def _jsonl(path: Path) -> list[dict]:
    rows = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise DatasetError(f"{path} line {number}: invalid JSON ({exc.msg})") from exc
    return rows
