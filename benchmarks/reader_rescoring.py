"""Can the reader pick the evidence? Rescore the embedder's best evidence units by the
reader's log-likelihood of the question given the unit (UPR: Sachan et al., "Improving
Passage Retrieval with Zero-Shot Question Generation", EMNLP 2022), on the acme dev split.

    python -m benchmarks.reader_rescoring [--model SmolLM2-135M-Instruct] [--top 10]

The units are those of ``benchmarks.evidence_selection`` (hybrid k=5, bundled embedder,
index of ``examples/acme/docs``). For each answerable question the embedder's ``--top``
units are ranked three ways: by the embedder (``EmbeddingScorer``, today's default), by
the mean log-probability of the question's tokens after "Passage: <unit> ... Question:"
under ``--model``, and by the sum of both z-scores. Prints unit hit@1 and hit@3 (a unit
holding the gold answer) and what ``extract`` answers from each order (right / wrong:
the span it marks holds the gold answer or not; ``benchmarks.evidence_selection.ranking_row``).
Dev only: it is for deciding whether to build such a scorer.
"""

from __future__ import annotations

import argparse
import time


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="SmolLM2-135M-Instruct", help="reader to score with")
    parser.add_argument("--top", type=int, default=10, help="units rescored per question")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args(argv)

    import numpy as np
    import torch

    from assistant.answering.evidence_scoring import EmbeddingScorer
    from assistant.answering.models import ModelConfig, load_base
    from benchmarks.evidence_selection import (
        DEFAULT_INDEX,
        load_cases,
        ranked,
        ranking_row,
        table,
    )

    torch.set_num_threads(args.threads)
    cases, embedder = load_cases("dev", DEFAULT_INDEX, 5)
    scorer = EmbeddingScorer(embedder)
    reader = load_base(ModelConfig(base=args.model, device="cpu", dtype="float32"))
    tok, model = reader.tokenizer, reader.model

    @torch.no_grad()
    def loglik(question: str, units: list) -> np.ndarray:
        out = []
        asked = tok(" " + question, return_tensors="pt", add_special_tokens=False).input_ids
        for unit in units:
            prompt = tok(f"Passage: {unit.display}\nPlease write a question based on this "
                         "passage.\nQuestion:", return_tensors="pt").input_ids
            ids = torch.cat([prompt, asked], 1)
            logits = model(ids).logits[0, prompt.shape[1] - 1:-1].float()
            out.append(torch.log_softmax(logits, -1).gather(1, asked[0][:, None]).mean().item())
        return np.array(out)

    def z(x: np.ndarray) -> np.ndarray:
        return (x - x.mean()) / (x.std() + 1e-6)

    clock = time.perf_counter()
    answerable = [c for c in cases if c.record.answer is not None]
    orders: dict[str, list] = {"embedder": [], "reader": [], "both": []}
    for case in answerable:
        top = ranked(scorer, case)[:args.top]
        lm = loglik(case.record.question, top)
        emb = np.asarray(scorer.score(case.record.question, top))
        orders["embedder"].append((case, top))
        orders["reader"].append((case, [top[i] for i in np.argsort(-lm)]))
        orders["both"].append((case, [top[i] for i in np.argsort(-(z(lm) + z(emb)))]))
    print(f"\nacme dev, {len(answerable)} answerable questions; top {args.top} units "
          f"rescored by {args.model} ({time.perf_counter() - clock:.0f} s, {args.threads} "
          "thread(s))")
    table([{"order": name, **ranking_row(pairs)} for name, pairs in orders.items()], "orders")


if __name__ == "__main__":
    main()
