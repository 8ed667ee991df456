"""Would a gate learned from a company's own Q&A decide better than extraction's hand-set
rules when to answer from a unit and when to decline? Dev splits only.

    python -m benchmarks.answer_gate --acme-index DIR [--pg-index DIR] [--reader]

``extract`` answers from the first of the best-scored units that holds a span of the kind
asked for and enough of the question's key terms (coverage thresholds chosen on acme dev).
This script replaces those thresholds by a logistic regression over the same signals:

- candidates: for each question, the scorer's ``EXTRACT_UNITS`` best units (hybrid k=5,
  the index's own embedder, as the answer path ranks them; ``evidence_selection.load_cases``)
  that name every required term of the question (names, models, versions: the rule that
  keeps units about another product out stays) and hold a span of the kind asked for
  (``extract``'s patterns; the whole unit for "other" questions), with the span ``extract``
  would mark;
- features: the unit's score, its gap to the best score, 1 / rank, key-term coverage in
  text and path, in text alone, and of the asking sentence's terms, the number of spans,
  the kind asked for (typed, other, yes/no), stale or not, the number of key terms, the
  unit's length; with ``--reader`` also the bundled reader's mean log-probability of the
  span given the unit and the question, and its gain over a prompt without the question;
- label: the span holds the gold answer or an alias (every candidate of an unanswerable
  question is negative);
- training: the training questions of the corpus (acme ``examples/acme/qa.jsonl`` split
  train, PostgreSQL ``examples/postgresql/train_qa.jsonl``), and of both corpora together;
- decision: the most probable candidate answers when its probability is at least ``t``,
  else the question is declined.

Prints, per dev split and training set, for each ``t``: right / wrong / no answer on the
answerable questions and declines on the unanswerable ones, beside ``extract`` as it is.
"""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from benchmarks.evidence_selection import ROOT, holds_any, load_cases, table

TRAIN = {"acme": (ROOT / "examples" / "acme" / "qa.jsonl", "train"),
         "postgresql": (ROOT / "examples" / "postgresql" / "train_qa.jsonl", "train")}
THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)


@dataclass
class Question:
    """One question's candidates: ``features`` rows, ``labels``, and what ``extract``
    does today (``rule``: right, wrong or none; unanswerable: answered or none)."""

    answerable: bool
    features: list[list[float]]
    labels: list[bool]
    rule: str


def candidates(question: str, units: list, scores: list[float]) -> list[tuple[list[float], str]]:
    """``(features, span)`` for each candidate unit of ``question`` (module text)."""
    from assistant.answering import extract as x
    from assistant.answering.evidence_scoring import content_terms, stem, term_set, tokens

    kind, terms, required, _ = x.asked_terms(question)
    if not terms:
        return []
    asking = [t for t in content_terms(x._asking(question)) if t in terms] or terms
    question_terms = set(terms) | {stem(t) for t in tokens(question)}
    out = []
    for rank, (unit, score) in enumerate(zip(units, scores, strict=True)):
        in_text = term_set(unit.text)
        have = in_text | term_set(unit.path)
        if x.unnamed(required, question, have, unit.text):
            continue
        spans = x._spans(kind, unit, question, question_terms, set(terms))
        if not spans:
            continue
        start, end = x._best_span(unit.text, spans, terms)
        features = [score, score - scores[0], 1.0 / (rank + 1),
                    sum(t in have for t in terms) / len(terms),
                    sum(t in in_text for t in terms) / len(terms),
                    sum(t in have for t in asking) / len(asking), min(len(spans), 5) / 5,
                    float(kind in x._TYPED), float(kind is x.AnswerType.OTHER),
                    float(kind is x.AnswerType.YESNO), float(unit.stale), len(terms) / 10,
                    min(len(unit.text), 400) / 400]
        out.append((features, unit.text[start:end], unit))
    return out


class ReaderFeatures:
    """The bundled reader's log-probability of a span given the unit and the question."""

    def __init__(self) -> None:
        import torch

        from assistant.answering.models import ModelConfig, load_base

        self.torch = torch
        loaded = load_base(ModelConfig(base="SmolLM2-135M-Instruct"))
        self.model, self.tokenizer = loaded.model, loaded.tokenizer
        self.model.eval()

    def _prompt(self, unit: str, question: str) -> str:
        messages = [{"role": "system", "content": "Answer the question with a short phrase "
                                                  "copied from the evidence."},
                    {"role": "user", "content": f"Evidence: {unit}\nQuestion: {question}"}]
        return self.tokenizer.apply_chat_template(messages, tokenize=False,
                                                  add_generation_prompt=True)

    def _logprob(self, context: str, span: str) -> tuple[float, int]:
        torch = self.torch
        a = self.tokenizer(context, add_special_tokens=False)["input_ids"]
        b = self.tokenizer(span, add_special_tokens=False)["input_ids"]
        with torch.no_grad():
            logits = self.model(torch.tensor([a + b])).logits[0, len(a) - 1:-1].float()
        logp = torch.log_softmax(logits, -1).gather(1, torch.tensor(b)[:, None])
        return float(logp.sum()), len(b)

    def __call__(self, unit: str, question: str, span: str) -> list[float]:
        asked, n = self._logprob(self._prompt(unit, question), span)
        plain, _ = self._logprob(self._prompt(unit, "What does the evidence say?"), span)
        return [asked / n, (asked - plain) / n]


def questions_of(cases: list, scorer, reader: ReaderFeatures | None) -> list[Question]:
    from assistant.answering.extract import EXTRACT_UNITS, extract

    out = []
    for case in cases:
        record = case.record
        values = scorer.score(record.question, case.units) if case.units else []
        order = sorted(range(len(case.units)), key=lambda i: -values[i])[:EXTRACT_UNITS]
        units, scores = [case.units[i] for i in order], [float(values[i]) for i in order]
        found = candidates(record.question, units, scores)
        rows = [f + (reader(u.display, record.question, span) if reader else [])
                for f, span, u in found]
        labels = [record.answer is not None and holds_any(span, record) for _, span, _ in found]
        rule = extract(record.question, units)
        outcome = "none" if rule is None else (
            "right" if record.answer is not None and holds_any(rule.span, record)
            else "wrong")
        out.append(Question(record.answer is not None, rows, labels, outcome))
    return out


def fit(rows: list[list[float]], labels: list[bool], l2: float = 1.0,
        steps: int = 3000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Logistic regression on standardised features by gradient descent:
    ``(weights with bias last, mean, scale)``."""
    x = np.asarray(rows, float)
    y = np.asarray(labels, float)
    mean, scale = x.mean(0), x.std(0) + 1e-6
    z = np.c_[(x - mean) / scale, np.ones(len(x))]
    w = np.zeros(z.shape[1])
    for _ in range(steps):
        p = 1 / (1 + np.exp(-z @ w))
        w -= (z.T @ (p - y) + l2 * np.r_[w[:-1], 0]) / len(y)
    return w, mean, scale


def decide(questions: list[Question], model, t: float) -> dict:
    w, mean, scale = model
    right = wrong = none = declined = 0
    for q in questions:
        best = None
        for row, label in zip(q.features, q.labels, strict=True):
            p = 1 / (1 + np.exp(-np.r_[(np.asarray(row) - mean) / scale, 1.0] @ w))
            if best is None or p > best[0]:
                best = (p, label)
        answers = best is not None and best[0] >= t
        if not q.answerable:
            declined += not answers
        elif not answers:
            none += 1
        elif best[1]:
            right += 1
        else:
            wrong += 1
    return {"right": right, "wrong": wrong, "no answer": none, "unanswerable declined": declined}


def rules(questions: list[Question]) -> dict:
    answerable = [q for q in questions if q.answerable]
    return {"right": sum(q.rule == "right" for q in answerable),
            "wrong": sum(q.rule == "wrong" for q in answerable),
            "no answer": sum(q.rule == "none" for q in answerable),
            "unanswerable declined": sum(q.rule == "none" for q in questions
                                         if not q.answerable)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--acme-index", type=Path, required=True,
                        help="an index of examples/acme/docs (built there when missing)")
    parser.add_argument("--pg-index", type=Path, default=None,
                        help="an ingest of the PostgreSQL 15 manual")
    parser.add_argument("--reader", action="store_true",
                        help="add the bundled reader's span log-probabilities as features")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    from assistant.answering.evidence_scoring import EmbeddingScorer

    reader = ReaderFeatures() if args.reader else None
    indexes = {"acme": args.acme_index, **({"postgresql": args.pg_index} if args.pg_index
                                           else {})}
    train, dev = {}, {}
    for corpus, index in indexes.items():
        cases, embedder = load_cases("dev", index, 5, corpus)
        scorer = EmbeddingScorer(embedder)
        dev[corpus] = questions_of(cases, scorer, reader)
        path, split = TRAIN[corpus]
        cases, _ = load_cases(split, index, 5, corpus, questions=path)
        train[corpus] = questions_of(cases, scorer, reader)
    sets = {name: [name] for name in indexes}
    if len(indexes) > 1:
        sets["both"] = list(indexes)
    for corpus in indexes:
        n = sum(q.answerable for q in dev[corpus])
        rows = [{"gate": "extract's rules (today)", **rules(dev[corpus])}]
        for name, corpora in sets.items():
            examples = [(r, lab) for c in corpora for q in train[c]
                        for r, lab in zip(q.features, q.labels, strict=True)]
            model = fit([r for r, _ in examples], [lab for _, lab in examples])
            for t in THRESHOLDS:
                rows.append({"gate": f"learned on {name} training questions "
                                     f"({len(examples)} candidates), t={t}",
                             **decide(dev[corpus], model, t)})
        table(rows, f"{corpus} dev: {n} answerable, {len(dev[corpus]) - n} unanswerable"
                    f"{' (reader features)' if reader else ''}")


if __name__ == "__main__":
    main()
