"""Choosing the unit selector's training settings on the acme dev split.

    python -m benchmarks.selector_tuning --index /tmp/selector-index \\
        --config 2:2e-5:3 --config 1:2e-5:3 --config 2:5e-5:3

Builds the (question, answer unit, hard negatives) pairs of ``examples/acme/qa.jsonl``'s
train split once (``assistant.answering.selector.build_selector_pairs``, as ``assistant
finetune --mode selector`` does: hybrid k=5 over ``--index``, hard negatives ranked by the
bundled embedder, document contacts kept; ``--val-fraction`` of the questions held out,
0.15 here, 0.1 in the CLI), trains one
selector per ``--config EPOCHS:LR:HARD_NEGATIVES`` from the bundled all-MiniLM-L6-v2 into
``--registry``, and scores the dev questions of ``examples/acme/eval_questions.jsonl``
with each (and with the bundled embedder) as ``benchmarks.evidence_selection`` does:
unit hit@1 and hit@3 of the full unit ranking, and the extraction outcome (right span,
wrong span, none) over the top units. Dev only: the test split is scored once, with the
chosen setting, by ``python -m benchmarks.evidence_selection --split test --selector``.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from dataclasses import replace
from pathlib import Path

from benchmarks.evidence_selection import (
    ACME,
    DEFAULT_INDEX,
    load_cases,
    ranked,
    ranking_row,
    table,
)


def parse_config(text: str):
    """``EPOCHS:LR:HARD_NEGATIVES`` -> ``SelectorConfig``."""
    from assistant.answering.selector import SelectorConfig

    try:
        epochs, lr, negatives = text.split(":")
        return SelectorConfig(epochs=int(epochs), lr=float(lr), hard_negatives=int(negatives))
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"--config {text!r}: write EPOCHS:LR:HARD_NEGATIVES, "
                                          f"e.g. 2:2e-5:3 ({exc})") from exc


def dev_row(name: str, scorer, cases: list) -> dict:
    """Unit hit@1/hit@3 of the full ranking and the extraction outcome on ``cases``."""
    return {"selector": name, **ranking_row([(c, ranked(scorer, c)) for c in cases])}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=DEFAULT_INDEX,
                        help="acme index (built from examples/acme/docs when missing)")
    parser.add_argument("--registry", type=Path,
                        default=Path(tempfile.gettempdir()) / "selector-tuning-embedders")
    parser.add_argument("--config", type=parse_config, action="append", required=True,
                        help="EPOCHS:LR:HARD_NEGATIVES of one selector to train; repeatable")
    parser.add_argument("--val-fraction", type=float, default=0.15,
                        help="training questions held out (scored per epoch)")
    args = parser.parse_args(argv)

    from assistant.answering.evidence_scoring import EmbeddingScorer
    from assistant.answering.selector import (
        build_selector_pairs,
        load_selector,
        split_unit_pairs,
        train_selector,
    )
    from finetune.pii import Redactor
    from finetune.sources import read_qa
    from index.searcher import Searcher

    cases, embedder = load_cases("dev", args.index, 5)  # builds the index when missing
    answerable = [c for c in cases if c.record.answer is not None]
    records, _ = read_qa(ACME / "qa.jsonl", split="train")
    searcher = Searcher(args.index, embedder=embedder)
    clock = time.perf_counter()
    most = max(args.config, key=lambda c: c.hard_negatives)  # pairs hold the most negatives
    pairs, report = build_selector_pairs(records, searcher, EmbeddingScorer(embedder),
                                         most, Redactor(), public_documents=True)
    searcher.close()
    print(report.to_text())
    print(f"pairs built in {time.perf_counter() - clock:.0f} s")
    rows = [dev_row("bundled embedder", EmbeddingScorer(embedder), answerable)]
    held = []
    for config in args.config:
        config = replace(config, val_fraction=args.val_fraction)
        train, val = split_unit_pairs(pairs, config.val_fraction, config.seed)
        train = [replace(p, negatives=p.negatives[:config.hard_negatives]) for p in train]
        name = f"e{config.epochs}-lr{config.lr:g}-hn{config.hard_negatives}"
        clock = time.perf_counter()
        result = train_selector(train, val, "all-MiniLM-L6-v2", args.registry, name, config,
                                device="cpu", progress=False)
        seconds = time.perf_counter() - clock
        metrics = result.manifest["metrics"]
        steps = [metrics["val_before"]] + [
            {"hit@1": e["val_hit@1"], "hit@3": e["val_hit@3"]} for e in metrics["epochs"]]
        held.append({"selector": name, "train pairs": len(train), "held-out n": len(val),
                     "hit@1 before, then per epoch": " / ".join(str(s["hit@1"]) for s in steps),
                     "hit@3 before, then per epoch": " / ".join(str(s["hit@3"]) for s in steps),
                     "train s": round(seconds)})
        rows.append(dev_row(name, EmbeddingScorer(load_selector(str(result.path), device="cpu")),
                            answerable))
        print(f"{name}: {rows[-1]} (trained in {seconds:.0f} s, {result.path})", flush=True)
    table(held, "Held-out training questions (unit hit@1 per epoch)")
    table(rows, f"acme dev, answerable questions (n={len(answerable)}): full unit ranking")


if __name__ == "__main__":
    main()
