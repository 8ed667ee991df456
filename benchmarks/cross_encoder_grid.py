"""A grid of cross-encoder unit judges trained on the training questions, each judged on
both dev splits where extraction declines. Dev only; made for a lent GPU.

    python -m benchmarks.extraction_check --acme-index DIR --pg-index DIR   # fills the cache
    python -m benchmarks.cross_encoder_grid --model DIR [--cache DIR] [--out FILE]

``benchmarks/cross_encoder_judge.py`` trains one such judge (3 epochs at lr 2e-5 on two
CPU cores took 16.7 min); this runs the sweep that was too slow there: training questions
(acme, PostgreSQL, both) x lr (3e-5, 1e-4) x negatives per question (12, 24), 8 epochs
each, every run judged after epochs 2, 4 and 8. The judge is the bundled MiniLM's
weights (``--model``: its directory, or a float16 copy of it, which is how it travelled
to a GPU machine) with a new one-logit head (``AutoModelForSequenceClassification``,
``num_labels=1``), trained with binary cross-entropy (positives weighted 3), AdamW,
linear warm-up and decay, batches of 32, bfloat16 autocast on CUDA. A plain loop rather
than ``CrossEncoder.fit`` so that one run can be judged after several epochs.

Pairs: for each training question, the units holding its gold answer (at most 3) are
positives, and its ``negs`` best-ranked units that do not hold it are negatives (every
unit of an unanswerable question is a negative). Judged: for each dev question, where
``extract_ranked`` declines, ``extract.judged`` answers from the judge's best unit of the
12 best-ranked when its P(answers) is at least each threshold. Retrievals come from
``extraction_check``'s cache (``--cache``), so this needs no index and no embedder run.
Prints one JSON line per (run, epoch, dev split): unit hit@1 of the judge, and per
threshold ``right/wrong/declined/unanswerable answered/unanswerable``.
"""

from __future__ import annotations

import argparse
import itertools
import json
import pickle
import random
import tempfile
import time
from pathlib import Path

from assistant.answering.extract import DEEP_UNITS, extract_ranked, judged
from benchmarks.evidence_selection import gives_any
from benchmarks.extraction_check import NAMES

THRESHOLDS = (0.3, 0.5, 0.7, 0.8, 0.9, 0.95)


def cached(cache: Path, corpus: str, split: str) -> list:
    """The newest cached ``(record, ranked units, pool)`` list of one set."""
    found = sorted(cache.glob(f"{corpus}-{split}-*.pkl"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise SystemExit(f"no cached {corpus} {split} retrievals in {cache}: run "
                         "python -m benchmarks.extraction_check first")
    return pickle.loads(found[-1].read_bytes())  # our own cache file


def _holds(unit, record) -> bool:
    return gives_any(unit.text, record)


def rows(cases: list, negs: int) -> list[tuple[str, str, float]]:
    out = []
    for record, order, _pool in cases:
        if record.answer is None:
            out += [(record.question, u.display, 0.0) for u in order[:negs]]
            continue
        out += [(record.question, u.display, 1.0) for u in order if _holds(u, record)][:3]
        out += [(record.question, u.display, 0.0)
                for u in order if not _holds(u, record)][:negs]
    return out


class Grid:
    def __init__(self, model: Path, cache: Path) -> None:
        import torch

        self.torch, self.model_dir = torch, model
        self.device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.dev = {c: cached(cache, c, "dev") for c in NAMES}
        self.train_sets = {c: cached(cache, c, "train") for c in NAMES}
        self.base = {c: [extract_ranked(r.question, o[:DEEP_UNITS], pool=p,
                                        corpus_names=NAMES[c]) for r, o, p in cases]
                     for c, cases in self.dev.items()}

    def probs(self, tok, model, question: str, units: list) -> list[float]:
        torch = self.torch
        if not units:
            return []
        with torch.no_grad():
            enc = tok([question] * len(units), [u.display for u in units], truncation=True,
                      max_length=256, padding=True, return_tensors="pt").to(self.device)
            return torch.sigmoid(model(**enc).logits.squeeze(-1).float()).tolist()

    def judge(self, tok, model, corpus: str) -> dict:
        hit1 = n = 0
        out = {t: [0, 0, 0, 0, 0] for t in THRESHOLDS}
        for (record, order, _pool), base in zip(self.dev[corpus], self.base[corpus],
                                                strict=True):
            top = order[:DEEP_UNITS]
            p = self.probs(tok, model, record.question, top)
            if record.answer is not None and top:
                n += 1
                hit1 += _holds(top[max(range(len(top)), key=p.__getitem__)], record)
            for t, counts in out.items():
                found = base if base is not None or not top else judged(
                    record.question, top, p, t, NAMES[corpus])
                if record.answer is None:
                    counts[4] += 1
                    counts[3] += found is not None
                elif found is None:
                    counts[2] += 1
                else:
                    counts[0 if gives_any(found.text, record) else 1] += 1
        return {"hit1": f"{hit1}/{n}", **{f"t{t}": "/".join(map(str, c))
                                          for t, c in out.items()}}

    def run(self, train_on: str, lr: float, negs: int, epochs: int = 8,
            judged_at: tuple[int, ...] = (2, 4, 8), seed: int = 0, batch: int = 32):
        torch = self.torch
        from transformers import AutoModelForSequenceClassification, AutoTokenizer

        corpora = list(NAMES) if train_on == "both" else [train_on]
        data = rows([c for corpus in corpora for c in self.train_sets[corpus]], negs)
        torch.manual_seed(seed)
        rng = random.Random(seed)
        tok = AutoTokenizer.from_pretrained(self.model_dir)
        model = AutoModelForSequenceClassification.from_pretrained(
            self.model_dir, num_labels=1, dtype=torch.float32).to(self.device)
        opt = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01)
        steps = epochs * -(-len(data) // batch)
        warm = max(int(0.1 * steps), 1)
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda s: min((s + 1) / warm, max(0.0, (steps - s) / max(steps - warm, 1))))
        loss_fn = torch.nn.BCEWithLogitsLoss(pos_weight=torch.tensor(3.0, device=self.device))
        clock = time.perf_counter()
        for epoch in range(1, epochs + 1):
            model.train()
            order = list(range(len(data)))
            rng.shuffle(order)
            for i in range(0, len(order), batch):
                b = [data[j] for j in order[i:i + batch]]
                enc = tok([x[0] for x in b], [x[1] for x in b], truncation=True,
                          max_length=256, padding=True, return_tensors="pt").to(self.device)
                with torch.autocast(self.device.type, dtype=torch.bfloat16,
                                    enabled=self.device.type == "cuda"):
                    logits = model(**enc).logits.squeeze(-1)
                loss = loss_fn(logits.float(), torch.tensor([x[2] for x in b],
                                                            device=self.device))
                loss.backward()
                opt.step()
                sched.step()
                opt.zero_grad()
            if epoch in judged_at:
                model.eval()
                for corpus in corpora:
                    yield {"train": train_on, "dev": corpus, "epochs": epochs, "lr": lr,
                           "negs": negs, "pairs": len(data), "after_epoch": epoch,
                           "secs": round(time.perf_counter() - clock, 1),
                           **self.judge(tok, model, corpus)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", type=Path, required=True,
                        help="the bundled MiniLM's directory (or a float16 copy of it)")
    parser.add_argument("--cache", type=Path,
                        default=Path(tempfile.gettempdir()) / "extraction-check")
    parser.add_argument("--out", type=Path, default=None, help="also write the lines here")
    args = parser.parse_args(argv)
    grid = Grid(args.model, args.cache)
    for c in NAMES:
        base = grid.base[c]
        print(f"# {c} dev, extraction alone: {sum(b is not None for b in base)} answered",
              flush=True)
    out = args.out.open("w") if args.out else None
    for train_on, lr, negs in itertools.product(("acme", "postgresql", "both"),
                                                (3e-5, 1e-4), (12, 24)):
        for row in grid.run(train_on, lr, negs):
            print(json.dumps(row), flush=True)
            if out:
                out.write(json.dumps(row) + "\n")
    if out:
        out.close()


if __name__ == "__main__":
    main()
