"""Training memory: one padded batch against the same rows one at a time (micro-batches).

Rows of different lengths (``--seq-len`` down to 70% of it, as real grounded examples
are) go through ``train_adapter`` twice, each run in its own child process so each peak
RSS is its own: once with ``micro_batch_size`` equal to the batch (one padded forward
pass per step, so attention carries a padding mask) and once with ``micro_batch_size``
1 (one unpadded row per pass, gradients accumulated). Same model, LoRA config, rows,
steps and precision; the first ``--warmup`` steps are not timed.

    .venv/bin/python -m benchmarks.train_memory                # the bundled SmolLM2
    .venv/bin/python -m benchmarks.train_memory --tiny         # a 4-layer toy, seconds

Peak memory is ``ru_maxrss`` of the child (CPU; model load included, same for both
arms) and ``torch.cuda.max_memory_allocated`` on a GPU.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

from benchmarks.train_arms import open_arm, run_child
from finetune.train import TrainConfig, resolve_bf16, train_adapter

ALL_LINEAR = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


def ragged_rows(vocab_size: int, n: int, seq_len: int) -> list[dict]:
    """``n`` rows of random tokens, lengths cycling from ``seq_len`` down to 70% of it;
    the last quarter of each is supervised (the answer)."""
    rng = random.Random(0)
    rows = []
    for i in range(n):
        length = int(seq_len * (1.0 - 0.1 * (i % 4)))
        ids = [rng.randrange(3, vocab_size) for _ in range(length)]
        prompt = length - length // 4
        rows.append({"input_ids": ids, "attention_mask": [1] * length,
                     "labels": [-100] * prompt + ids[prompt:]})
    return rows


def run_arm(args: argparse.Namespace) -> dict:
    import torch

    from finetune.callbacks import StepTimerCallback

    with open_arm(args) as a:
        total = args.warmup + args.steps
        rows = ragged_rows(a.model.config.vocab_size, total * args.batch_size, args.seq_len)
        modules = ALL_LINEAR if not args.tiny else ("q_proj", "v_proj")
        config = TrainConfig(rank=16, alpha=32, target_modules=modules,
                             batch_size=args.batch_size, micro_batch_size=args.micro,
                             max_length=args.seq_len, max_steps=total, bf16=args.bf16,
                             save_steps=10 * total, eval_each_epoch=False)
        timer = StepTimerCallback(warmup=args.warmup)
        clock = time.perf_counter()
        train_adapter(a.model, a.tokenizer, rows, [], config, a.tmp / "adapter", progress=False,
                      base_model_id=a.model_id, base_weights_hash=a.weights_hash,
                      callbacks=[timer])
        timed = rows[args.warmup * args.batch_size:]
        return {"micro": args.micro, "s_per_step": timer.seconds / timer.steps,
                "wall_s": time.perf_counter() - clock,
                "tokens_per_s": sum(len(r["input_ids"]) for r in timed) / timer.seconds,
                **a.peaks(), "bf16": resolve_bf16(args.bf16, a.device),
                "device": str(a.device), "model": a.model_id,
                "threads": torch.get_num_threads()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a 4-layer toy model, not SmolLM2")
    parser.add_argument("--steps", type=int, default=1, help="timed steps per arm")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=1024)
    parser.add_argument("--bf16", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--device", default="auto", help="for the bundled model: auto|cpu|cuda")
    parser.add_argument("--micro", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.micro:
        print(json.dumps(run_arm(args)))
        return
    results = []
    for micro in (args.batch_size, 1):
        results.append(run_child("benchmarks.train_memory", [*sys.argv[1:], "--micro", str(micro)]))
    first = results[0]
    print(f"\nmodel {first['model']} on {first['device']}, bf16={first['bf16']}, batch "
          f"{args.batch_size} rows of {int(args.seq_len * 0.7)}-{args.seq_len} tokens, LoRA "
          f"r=16, {args.steps} timed step(s) after {args.warmup} warm-up, "
          f"{first['threads']} torch thread(s)")
    cuda = "peak_cuda_mb" in first
    print(f"{'rows per pass':<16}{'s/step':>9}{'tokens/s':>10}{'peak RSS MB':>13}"
          + (f"{'peak CUDA MB':>14}" if cuda else ""))
    for r in results:
        label = f"{r['micro']} ({'padded' if r['micro'] > 1 else 'unpadded'})"
        print(f"{label:<16}{r['s_per_step']:>9.1f}{r['tokens_per_s']:>10.1f}"
              f"{r['peak_rss_mb']:>13.0f}" + (f"{r['peak_cuda_mb']:>14.0f}" if cuda else ""))


if __name__ == "__main__":
    main()
