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
- the judge as a check on extraction: an extracted answer whose unit it rates below a
  veto threshold is declined (optionally then its own pick);
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
VETOES = (0.05, 0.1, 0.2, 0.3, 0.5)


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

    import torch

    from assistant.answering.evidence_scoring import EmbeddingScorer
    from assistant.answering.judge import UnitJudge

    torch.set_num_threads(args.threads)
    cases, embedder = load_cases("dev", args.index, 5, args.corpus)
    cases = cases[:args.limit] if args.limit else cases
    report(cases, EmbeddingScorer(embedder), UnitJudge(args.model, device="cpu"),
           f"{args.corpus} dev", f"{args.model}, {args.threads} thread(s)", args.verbose)


def report(cases: list, scorer, judge, title: str, name: str, verbose: bool = False) -> None:
    """The tables of the module docstring for ``judge`` (``(question, units) -> P(yes)``
    each) over ``cases`` (``evidence_selection.load_cases``), units ranked by ``scorer``."""
    from assistant.answering import extract as x
    from assistant.answering.evidence_scoring import term_set

    clock = time.perf_counter()
    rows = []  # per question: (record, extract's outcome, units, P(yes) of each)
    at1 = {"embedder": 0, "judge": 0, "judge, required terms named": 0}
    for done, case in enumerate(cases):
        if done and done % 10 == 0:  # progress on stderr: a large reader takes minutes
            print(f"judged {done} of {len(cases)} questions, "
                  f"{time.perf_counter() - clock:.0f} s", file=sys.stderr, flush=True)
        record, question = case.record, case.record.question
        units = ranked(scorer, case)[:x.EXTRACT_UNITS]
        probs = judge(question, units)
        required = x.asked_terms(question).required
        judged = []  # (P(yes), names the required terms, holds the gold answer, unit)
        for unit, p in zip(units, probs, strict=True):
            have = term_set(unit.text) | term_set(unit.path)
            named = not x.unnamed(required, question, have, unit.text)
            judged.append((p, named, record.answer is not None
                           and holds_any(unit.text, record), unit))
        rule = x.extract(question, units, pool=case.units)
        outcome = "none" if rule is None else (
            "right" if record.answer is not None and holds_any(rule.span, record) else "wrong")
        # the judge's P(yes) for the unit extraction answered from (None: it declined);
        # extract answers from one of these very units, so it is always among them
        vetting = None if rule is None else next(
            p for u, p in zip(units, probs, strict=True) if u is rule.unit)
        rows.append((record, outcome, units, probs, vetting))
        if record.answer is not None and judged:
            at1["embedder"] += judged[0][2]
            at1["judge"] += max(judged, key=lambda j: j[0])[2]
            named = [j for j in judged if j[1]]
            at1["judge, required terms named"] += bool(named) and max(named,
                                                                      key=lambda j: j[0])[2]
        if verbose:
            best = max(judged, key=lambda j: j[0]) if judged else None
            print(f"{'A' if record.answer is not None else 'U'} {outcome:5} "
                  f"p={best[0] if best else 0:.2f} holds={best[2] if best else False} "
                  f"{question[:70]} | {best[3].text[:70] if best else ''}")
    seconds = time.perf_counter() - clock
    n = sum(record.answer is not None for record, *_ in rows)
    table([{"order": k, "unit hit@1": f"{v / n:.3f}"} for k, v in at1.items()],
          f"{title}: {n} answerable; top {x.EXTRACT_UNITS} units judged by "
          f"{name} ({seconds / len(rows):.2f} s a question)")

    def outcome_of(record, units: list, probs: list[float], t: float) -> str:
        """What the answer path's judge (``extract.judged``) makes of the units at t."""
        found = x.judged(record.question, units, probs, t)
        if found is None:
            return "none"
        return "right" if record.answer is not None and holds_any(found.span, record) \
            else "wrong"

    def count(policy) -> dict:
        out = {"right": 0, "wrong": 0, "no answer": 0, "unanswerable declined": 0}
        for record, rule, units, probs, vetting in rows:
            got = policy(record, rule, units, probs, vetting)
            if record.answer is None:
                out["unanswerable declined"] += got == "none"
            else:
                out[{"right": "right", "wrong": "wrong", "none": "no answer"}[got]] += 1
        return out

    policies = [{"policy": "extract's rules (today)", **count(lambda rec, r, u, p, v: r)}]
    for t in THRESHOLDS:
        policies.append({"policy": f"judge alone, t={t}",
                         **count(lambda rec, r, u, p, v, t=t: outcome_of(rec, u, p, t))})
    for t in THRESHOLDS:
        policies.append({"policy": f"extract, then the judge where it declines, t={t}",
                         **count(lambda rec, r, u, p, v, t=t:
                                 r if r != "none" else outcome_of(rec, u, p, t))})
    table(policies, f"{title}: {n} answerable, {len(rows) - n} unanswerable")

    # The judge as a check on extraction: an extracted answer whose unit the judge rates
    # below ``veto`` is declined (then, optionally, the judge's own pick at t).
    vetoed = []
    for veto in VETOES:
        for t in (None, 0.5, 0.7):
            def policy(rec, r, u, p, v, veto=veto, t=t) -> str:
                if r != "none" and v >= veto:  # v is set whenever extraction answered
                    return r
                return "none" if t is None else outcome_of(rec, u, p, t)
            vetoed.append({"policy": f"extract unless its unit's P(yes) < {veto}"
                           + ("" if t is None else f", else the judge at t={t}"),
                           **count(policy)})
    table(vetoed, f"{title}: the judge vetoing extraction")


if __name__ == "__main__":
    main()
