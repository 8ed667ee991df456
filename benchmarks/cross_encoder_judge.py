"""A unit judge trained for the task: a cross-encoder fit on a company's own Q&A. Dev only.

    python -m benchmarks.cross_encoder_judge --acme-index DIR --pg-index DIR --out DIR
        [--train acme|postgresql|both] [--epochs N] [--lr LR]

Every judge measured so far was a causal LM asked "Does the sentence answer the
question?" (``benchmarks/unit_judge.py``). Only a 1.5B model ranks units better than the
embedder, at about 15 s a question, and no such model ships in a package here. A
cross-encoder reads the question and the unit together, as such a judge does, but is
trained for exactly this yes/no decision; none with weights ships either, so this one is
*trained here*, from the bundled MiniLM's weights (a new one-logit head), on the training
questions the company already has (acme ``examples/acme/qa.jsonl`` split train,
PostgreSQL ``examples/postgresql/train_qa.jsonl``; never the dev or test questions):

- pairs: for each training question, the embedder's ``--units`` best units of its hybrid
  k=5 passages (as the answer path ranks them), each shown with its prefix (title,
  headings) as the judge sees it; label 1 when the unit's text holds the gold answer or
  an alias, else 0 (every unit of an unanswerable question is 0);
- model: ``sentence_transformers.CrossEncoder`` from the bundled MiniLM directory,
  ``num_labels=1``, binary cross-entropy, ``--epochs`` at ``--lr``; P(answers) is the
  sigmoid of its logit;
- report: ``unit_judge.report`` on each dev split with the trained model as the judge:
  unit hit@1, the judge alone and where extraction declines at each t, and as a veto.

Training takes a few minutes on two cores; the model is written to ``--out/<train set>``.
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from pathlib import Path

from benchmarks.answer_gate import TRAIN
from benchmarks.evidence_selection import holds_any, load_cases, ranked
from benchmarks.unit_judge import report


class CrossEncoderJudge:
    """``(question, units) -> P(answers)`` for each unit, from a trained cross-encoder."""

    def __init__(self, model) -> None:
        self.model = model

    def __call__(self, question: str, units: list) -> list[float]:
        if not units:
            return []
        scores = self.model.predict([(question, u.display) for u in units],
                                    show_progress_bar=False)
        return [float(s) for s in scores]


def pairs(cases: list, scorer, top: int) -> list[tuple[str, str, float]]:
    """``(question, unit display, label)`` for the ``top`` best-scored units of each case."""
    out = []
    for case in cases:
        record = case.record
        for unit in ranked(scorer, case)[:top]:
            label = record.answer is not None and holds_any(unit.text, record)
            out.append((record.question, unit.display, float(label)))
    return out


def train(examples: list[tuple[str, str, float]], epochs: int, lr: float, out: Path,
          seed: int = 0):
    """A cross-encoder from the bundled MiniLM, fit on ``examples``, saved in ``out``."""
    import torch
    from sentence_transformers import CrossEncoder, InputExample
    from torch.utils.data import DataLoader

    from ingest.embedding import DEFAULT_EMBEDDER, resolve_model_path

    random.seed(seed)
    torch.manual_seed(seed)
    model = CrossEncoder(resolve_model_path(DEFAULT_EMBEDDER), num_labels=1, max_length=192)
    data = [InputExample(texts=[q, u], label=y) for q, u, y in examples]
    loader = DataLoader(data, shuffle=True, batch_size=16)
    model.fit(train_dataloader=loader, epochs=epochs, optimizer_params={"lr": lr},
              warmup_steps=len(loader) * epochs // 10, show_progress_bar=sys.stderr.isatty())
    model.save(str(out))
    return model


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--acme-index", type=Path, required=True)
    parser.add_argument("--pg-index", type=Path, required=True)
    parser.add_argument("--out", type=Path, required=True, help="where the models go")
    parser.add_argument("--train", choices=("acme", "postgresql", "both"), action="append",
                        help="training questions (repeatable; default both)")
    parser.add_argument("--units", type=int, default=10, help="units per training question")
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--lr", type=float, default=2e-5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))
    sets = list(dict.fromkeys(args.train or ["both"]))

    import torch

    from assistant.answering.evidence_scoring import EmbeddingScorer

    torch.set_num_threads(args.threads)
    indexes = {"acme": args.acme_index, "postgresql": args.pg_index}
    dev, train_pairs = {}, {}
    for corpus, index in indexes.items():
        cases, embedder = load_cases("dev", index, 5, corpus)
        scorer = EmbeddingScorer(embedder)
        dev[corpus] = (cases, scorer)
        path, split = TRAIN[corpus]
        train_cases, _ = load_cases(split, index, 5, corpus, questions=path)
        train_pairs[corpus] = pairs(train_cases, scorer, args.units)
        positives = sum(y for *_, y in train_pairs[corpus])
        print(f"{corpus}: {len(train_cases)} training questions, {len(train_pairs[corpus])} "
              f"pairs, {positives:.0f} holding the answer", file=sys.stderr, flush=True)
    for name in sets:
        corpora = list(indexes) if name == "both" else [name]
        examples = [p for c in corpora for p in train_pairs[c]]
        clock = time.perf_counter()
        model = train(examples, args.epochs, args.lr, args.out / name)
        minutes = (time.perf_counter() - clock) / 60
        print(f"\n## Cross-encoder trained on {name} training questions: {len(examples)} "
              f"pairs, {args.epochs} epochs, lr {args.lr}, {minutes:.1f} min "
              f"({args.threads} threads)")
        judge = CrossEncoderJudge(model)
        for corpus, (cases, scorer) in dev.items():
            report(cases, scorer, judge, f"{corpus} dev, cross-encoder ({name})",
                   f"the cross-encoder trained on {name}", args.verbose)


if __name__ == "__main__":
    main()
