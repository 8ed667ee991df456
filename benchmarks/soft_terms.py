"""Would extraction answer more paraphrased questions if a key term could be matched by a
word of like meaning ("weekday" ~ "Monday"), or by a real stemmer? Dev and training
questions only, never test.

    python -m benchmarks.soft_terms --index ACME_INDEX
    python -m benchmarks.soft_terms --corpus postgresql --index PG_INDEX
    python -m benchmarks.soft_terms --index ACME_INDEX --questions examples/acme/qa.jsonl

Extraction (``assistant.answering.extract``) takes a unit only when its text and path hold
enough of the question's key terms, matched by stem. Paraphrased questions share few
stems with the unit that answers them. With ``RelatedTerms`` (``evidence_scoring``), a key
term that the unit does not hold counts toward coverage when some word of the unit is
within cosine ``tau`` of it, both words embedded alone with the index's embedder (the
bundled MiniLM). Required terms (names, model numbers, versions) and the "one key term in
the text" rule stay word for word. For each ``tau`` (the first row: word for word, as the
answer path does): what extraction answers over the same best 5 units,
answerable questions right / wrong / none, and how many unanswerable ones it still
declines. ``--verbose`` lists the questions whose outcome differs from word for word.
``--stemmer english`` (or ``porter``) patches PyStemmer, the stemmer BM25 uses, in for
extraction's and unit scoring's light suffix stripper for the run.

Neither is in the answer path: see benchmarks/README.md ("Key terms by meaning").
"""

from __future__ import annotations

import argparse
from pathlib import Path

from benchmarks.evidence_selection import (
    DEFAULT_INDEX,
    QUESTIONS,
    holds_any,
    load_cases,
    ranked,
)

TAUS = (None, 0.8, 0.75, 0.7, 0.65, 0.6, 0.55)


def _use_stemmer(name: str) -> None:
    """Patch ``name`` (PyStemmer) in for ``evidence_scoring.stem`` wherever extraction and
    unit scoring call it; number words and tokens with digits are kept as before."""
    import Stemmer

    from assistant.answering import evidence_scoring, extract

    stemmer, light = Stemmer.Stemmer(name), evidence_scoring.stem

    def stem(word: str) -> str:
        word = light(word) if any(c.isdigit() for c in word) or word in \
            evidence_scoring._NUMBER_WORDS else word
        return word if any(c.isdigit() for c in word) else stemmer.stemWord(word)

    evidence_scoring.stem = extract.stem = stem


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX)
    parser.add_argument("--corpus", choices=tuple(QUESTIONS), default="acme")
    parser.add_argument("--questions", type=Path,
                        help="a company's training Q&A (its 'train' split) instead of the "
                             "corpus's dev questions")
    parser.add_argument("--stemmer", choices=("light", "english", "porter"), default="light",
                        help="the stemmer key terms are matched with: extraction's own light "
                             "suffix stripper (today), or PyStemmer's Snowball English or "
                             "Porter, as BM25 uses (a probe: patched in for this run)")
    parser.add_argument("--verbose", action="store_true",
                        help="print the questions whose outcome changes")
    args = parser.parse_args(argv)

    from assistant.answering.evidence_scoring import EmbeddingScorer, RelatedTerms
    from assistant.answering.extract import EXTRACT_UNITS, extract

    if args.stemmer != "light":
        _use_stemmer(args.stemmer)
    split = "train" if args.questions else "dev"
    cases, embedder = load_cases(split, args.index, 5, args.corpus, args.questions)
    scorer = EmbeddingScorer(embedder)
    orders = [(c, ranked(scorer, c)[:EXTRACT_UNITS]) for c in cases]
    n_ans = sum(c.record.answer is not None for c in cases)
    print(f"## Soft key terms ({args.stemmer} stems), {args.corpus} {split}: {n_ans} answerable, "
          f"{len(cases) - n_ans} unanswerable; hybrid k=5, top {EXTRACT_UNITS} units\n")
    print("| tau | right | wrong | none | unanswerable declined |")
    print("| --- | --- | --- | --- | --- |")
    base: dict[str, str] = {}
    for tau in TAUS:
        right = wrong = none = declined = 0
        outcome: dict[str, str] = {}
        for case, order in orders:
            related = None if tau is None else RelatedTerms(scorer.vectors, tau)
            found = extract(case.record.question, order, related=related)
            if case.record.answer is None:
                declined += found is None
                outcome[case.record.id] = "declined" if found is None else "ANSWERED"
            elif found is None:
                none += 1
                outcome[case.record.id] = "none"
            elif holds_any(found.span, case.record):
                right += 1
                outcome[case.record.id] = "right"
            else:
                wrong += 1
                outcome[case.record.id] = "WRONG"
        name = "word for word (today)" if tau is None else str(tau)
        print(f"| {name} | {right} | {wrong} | {none} | "
              f"{declined} of {len(cases) - n_ans} |")
        if tau is None:
            base = outcome
        elif args.verbose:
            for case, _ in orders:
                if outcome[case.record.id] != base[case.record.id]:
                    print(f"    tau {tau} {case.record.id}: {base[case.record.id]} -> "
                          f"{outcome[case.record.id]}: {case.record.question}")


if __name__ == "__main__":
    main()
