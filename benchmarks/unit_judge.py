"""Can a reader judge evidence units where it cannot write answers? Dev splits only.

    python -m benchmarks.unit_judge [--model NAME] [--corpus acme|postgresql --index DIR]

Extraction answers from the first of the embedder's best units that holds a span of the
kind asked for and enough of the question's key terms; paraphrased questions share too
few words with their unit, so most answerable questions are declined although the unit
holding the answer is among the five shown. Instead of asking the reader to write an
answer, this asks it one yes/no question per unit, "Does the sentence answer the
question?", and reads P(yes) from its first token (logits of "Yes" against "No").

For each question the embedder's ``EXTRACT_UNITS`` best units (hybrid k=5, as the answer
path ranks them; ``evidence_selection.load_cases``) are judged. Printed:

- unit hit@1 by the embedder, by the judge, and by the judge among units that name the
  question's required terms (names, models, versions);
- a judged answer policy: the unit the judge rates highest, among those naming the
  required terms and holding a span of the kind asked for (``extract``'s patterns; the
  whole unit for "other" and yes/no questions), answers when P(yes) >= t, else decline:
  right / wrong / none on the answerable questions and declines on the unanswerable ones,
  beside ``extract``'s rules, and ``extract`` first with the judge only where it declines;
- judging time per question.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from benchmarks.evidence_selection import DEFAULT_INDEX, holds_any, load_cases, ranked, table

THRESHOLDS = (0.0, 0.2, 0.3, 0.5, 0.7, 0.9)
SYSTEM = ("You check whether a sentence from a company's documents answers a customer's "
          "question. Reply with Yes or No only.")


class Judge:
    """P(yes) that a unit answers a question, from a causal LM's first reply token."""

    def __init__(self, model: str, threads: int) -> None:
        import torch

        from assistant.answering.models import ModelConfig, load_base

        torch.set_num_threads(threads)
        self.torch = torch
        loaded = load_base(ModelConfig(base=model, device="cpu", dtype="float32"))
        self.model, self.tok = loaded.model, loaded.tokenizer
        self.tok.padding_side = "left"
        self.yes = [self._first(w) for w in ("Yes", " Yes", "yes")]
        self.no = [self._first(w) for w in ("No", " No", "no")]

    def _first(self, word: str) -> int:
        return self.tok(word, add_special_tokens=False)["input_ids"][0]

    def __call__(self, question: str, units: list) -> list[float]:
        if not units:
            return []
        torch = self.torch
        prompts = [self.tok.apply_chat_template(
            [{"role": "system", "content": SYSTEM},
             {"role": "user", "content": f"Question: {question}\nSentence: {u.display}\n"
                                         "Does the sentence answer the question?"}],
            tokenize=False, add_generation_prompt=True) for u in units]
        batch = self.tok(prompts, return_tensors="pt", padding=True, add_special_tokens=False)
        with torch.no_grad():
            logits = self.model(**batch).logits[:, -1].float()
        logp = torch.log_softmax(logits, -1)
        yes = torch.logsumexp(logp[:, self.yes], -1)
        no = torch.logsumexp(logp[:, self.no], -1)
        return torch.sigmoid(yes - no).tolist()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct", help="reader that judges")
    parser.add_argument("--corpus", choices=("acme", "postgresql"), default="acme")
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--limit", type=int, default=None, help="first N questions only")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", str(args.threads))

    from assistant.answering import extract as x
    from assistant.answering.evidence_scoring import EmbeddingScorer, stem, term_set, tokens

    cases, embedder = load_cases("dev", args.index, 5, args.corpus)
    cases = cases[:args.limit] if args.limit else cases
    scorer = EmbeddingScorer(embedder)
    judge = Judge(args.model, args.threads)
    clock = time.perf_counter()
    rows = []  # per question: (answerable, rule outcome, [(p, eligible, span holds gold, holds)])
    at1 = {"embedder": 0, "judge": 0, "judge, required terms named": 0}
    for done, case in enumerate(cases):
        if done and done % 10 == 0:  # progress on stderr: a large reader takes minutes
            print(f"judged {done} of {len(cases)} questions, "
                  f"{time.perf_counter() - clock:.0f} s", file=sys.stderr, flush=True)
        record, question = case.record, case.record.question
        units = ranked(scorer, case)[:x.EXTRACT_UNITS]
        probs = judge(question, units)
        kind, terms, required = x.asked_terms(question)
        question_terms = set(terms) | {stem(t) for t in tokens(question)}
        judged = []
        for unit, p in zip(units, probs, strict=True):
            have = term_set(unit.text) | term_set(unit.path)
            named = not x.unnamed(required, question, have, unit.text)
            spans = x._spans(kind, unit, question, question_terms, set(terms)) \
                if kind not in (x.AnswerType.OTHER, x.AnswerType.YESNO) else [(0, len(unit.text))]
            span = unit.text[slice(*x._best_span(unit.text, spans, terms))] if spans else ""
            gold = record.answer is not None and bool(span) and holds_any(span, record)
            judged.append((p, named, bool(spans), gold, holds_any(unit.text, record)
                           if record.answer is not None else False, unit))
        rule = x.extract(question, units)
        outcome = "none" if rule is None else (
            "right" if record.answer is not None and holds_any(rule.span, record) else "wrong")
        rows.append((record.answer is not None, outcome, judged))
        if record.answer is not None and judged:
            at1["embedder"] += judged[0][4]
            at1["judge"] += max(judged, key=lambda j: j[0])[4]
            named = [j for j in judged if j[1]]
            at1["judge, required terms named"] += bool(named) and max(named,
                                                                      key=lambda j: j[0])[4]
        if args.verbose:
            best = max(judged, key=lambda j: j[0]) if judged else None
            print(f"{'A' if record.answer is not None else 'U'} {outcome:5} "
                  f"p={best[0] if best else 0:.2f} gold={best[3] if best else False} "
                  f"{question[:70]} | {best[5].text[:70] if best else ''}")
    seconds = time.perf_counter() - clock
    n = sum(a for a, _, _ in rows)
    table([{"order": k, "unit hit@1": f"{v / n:.3f}"} for k, v in at1.items()],
          f"{args.corpus} dev: {n} answerable; top {x.EXTRACT_UNITS} units judged by "
          f"{args.model} ({seconds / len(rows):.2f} s a question, {args.threads} thread(s))")

    def outcome_of(judged: list, t: float) -> str:
        eligible = [j for j in judged if j[1] and j[2]]
        if not eligible:
            return "none"
        best = max(eligible, key=lambda j: j[0])
        return "none" if best[0] < t else ("right" if best[3] else "wrong")

    def count(policy) -> dict:
        out = {"right": 0, "wrong": 0, "no answer": 0, "unanswerable declined": 0}
        for answerable, rule, judged in rows:
            got = policy(rule, judged)
            if not answerable:
                out["unanswerable declined"] += got == "none"
            else:
                out[{"right": "right", "wrong": "wrong", "none": "no answer"}[got]] += 1
        return out

    policies = [{"policy": "extract's rules (today)", **count(lambda r, j: r)}]
    for t in THRESHOLDS:
        policies.append({"policy": f"judge alone, t={t}",
                         **count(lambda r, j, t=t: outcome_of(j, t))})
    for t in THRESHOLDS:
        policies.append({"policy": f"extract, then the judge where it declines, t={t}",
                         **count(lambda r, j, t=t: r if r != "none" else outcome_of(j, t))})
    table(policies, f"{args.corpus} dev: {n} answerable, {len(rows) - n} unanswerable")


if __name__ == "__main__":
    main()
