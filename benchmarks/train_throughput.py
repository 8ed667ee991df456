"""Training throughput: ``train_adapter`` against a bare peft loop on the same batches.

Each arm runs in its own child process (so each one's peak RSS is its own): the same
base model, the same fixed-length synthetic batches, the same LoRA config, AdamW, the
same number of steps and the same precision (bf16 autocast when ``--bf16`` resolves on).
The first ``--warmup`` steps are not timed. A step's time covers collating its batch,
forward, backward and the optimizer step; for ``train_adapter`` it also covers whatever
the Trainer does between steps (logging, LR schedule, gradient clipping).

    .venv/bin/python -m benchmarks.train_throughput            # the bundled SmolLM2
    .venv/bin/python -m benchmarks.train_throughput --tiny     # a 4-layer toy, seconds

Peak memory is ``ru_maxrss`` of the child (CPU; model load included, same for both arms)
and ``torch.cuda.max_memory_allocated`` on a GPU.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import time

from benchmarks.train_arms import open_arm, run_child
from finetune.batches import PaddingCollator
from finetune.train import TrainConfig, resolve_bf16, train_adapter


def synthetic_rows(vocab_size: int, n: int, seq_len: int) -> list[dict]:
    """``n`` rows of ``seq_len`` random tokens; the second half of each is supervised."""
    rng = random.Random(0)
    rows = []
    for _ in range(n):
        ids = [rng.randrange(3, vocab_size) for _ in range(seq_len)]
        half = seq_len // 2
        rows.append({"input_ids": ids, "attention_mask": [1] * seq_len,
                     "labels": [-100] * half + ids[half:]})
    return rows


def run_arm(args: argparse.Namespace) -> dict:
    import torch

    with open_arm(args) as a:
        total = args.warmup + args.steps
        rows = synthetic_rows(a.model.config.vocab_size, total * args.batch_size, args.seq_len)
        config = TrainConfig(rank=args.rank, alpha=2 * args.rank, batch_size=args.batch_size,
                             micro_batch_size=args.batch_size,  # the bare loop's batches
                             max_length=args.seq_len, max_steps=total, bf16=args.bf16,
                             save_steps=10 * total, eval_each_epoch=False)
        bf16 = resolve_bf16(args.bf16, a.device)
        if args.arm == "trainer":
            from finetune.callbacks import StepTimerCallback

            timer = StepTimerCallback(warmup=args.warmup)
            clock = time.perf_counter()
            train_adapter(a.model, a.tokenizer, rows, [], config, a.tmp / "adapter",
                          progress=False, base_model_id=a.model_id,
                          base_weights_hash=a.weights_hash, callbacks=[timer])
            wall = time.perf_counter() - clock
            seconds, steps = timer.seconds, timer.steps
        else:
            clock = time.perf_counter()
            seconds, steps = bare_loop(a.model, a.tokenizer, rows, config, bf16, args.warmup,
                                       a.device)
            wall = time.perf_counter() - clock
        return {"arm": args.arm, "steps": steps, "seconds": seconds, "wall_s": wall,
                "tokens_per_s": steps * args.batch_size * args.seq_len / seconds,
                **a.peaks(), "bf16": bf16, "device": str(a.device), "model": a.model_id,
                "threads": torch.get_num_threads()}


def bare_loop(model, tokenizer, rows, config: TrainConfig, bf16: bool, warmup: int,
              device) -> tuple[float, int]:
    """The reference: peft LoRA, AdamW, forward/backward/step, nothing else."""
    import torch
    from peft import LoraConfig, get_peft_model

    torch.manual_seed(config.seed)
    peft_model = get_peft_model(model, LoraConfig(
        r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
        target_modules=list(config.target_modules), bias="none", task_type="CAUSAL_LM"))
    peft_model.train()
    optimizer = torch.optim.AdamW([p for p in peft_model.parameters() if p.requires_grad],
                                  lr=config.lr, weight_decay=config.weight_decay)
    collate = PaddingCollator(tokenizer.pad_token_id, config.max_length)
    seconds, timed = 0.0, 0
    last = time.perf_counter()
    for step in range(config.max_steps):
        batch = collate(rows[step * config.batch_size:(step + 1) * config.batch_size])
        batch = {k: v.to(device) for k, v in batch.items()}
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            loss = peft_model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        now = time.perf_counter()
        if step >= warmup:
            seconds += now - last
            timed += 1
        last = now
    return seconds, timed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tiny", action="store_true", help="a 4-layer toy model, not SmolLM2")
    parser.add_argument("--steps", type=int, default=5, help="timed steps per arm")
    parser.add_argument("--warmup", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--seq-len", type=int, default=256)
    parser.add_argument("--rank", type=int, default=16)
    parser.add_argument("--bf16", choices=("auto", "on", "off"), default="auto")
    parser.add_argument("--device", default="auto", help="for the bundled model: auto|cpu|cuda")
    parser.add_argument("--rounds", type=int, default=1, help="alternate the arms this often")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads per arm (0: torch's default)")
    parser.add_argument("--arm", choices=("trainer", "bare"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.arm:
        print(json.dumps(run_arm(args)))
        return
    forwarded = list(sys.argv[1:])
    results: dict[str, list[dict]] = {"trainer": [], "bare": []}
    for round_ in range(args.rounds):
        for side in (("bare", "trainer") if round_ % 2 else ("trainer", "bare")):
            results[side].append(run_child("benchmarks.train_throughput",
                                           [*forwarded, "--arm", side]))
    first = results["trainer"][0]
    print(f"\nmodel {first['model']} on {first['device']}, bf16={first['bf16']}, batch "
          f"{args.batch_size} x {args.seq_len} tokens, LoRA r={args.rank}, {args.steps} timed "
          f"steps after {args.warmup} warm-up, {args.rounds} round(s), "
          f"{first['threads']} torch thread(s)")
    print(f"{'arm':<14}{'tokens/s':>10}{'s/step':>9}{'wall s':>9}{'peak RSS MB':>13}"
          + (f"{'peak CUDA MB':>14}" if "peak_cuda_mb" in first else ""))
    rates = {}
    for arm in ("trainer", "bare"):
        runs = results[arm]
        rate = sum(r["tokens_per_s"] for r in runs) / len(runs)
        rates[arm] = rate
        per_step = sum(r["seconds"] / r["steps"] for r in runs) / len(runs)
        label = "train_adapter" if arm == "trainer" else "bare loop"
        line = (f"{label:<14}{rate:>10.1f}{per_step:>9.2f}{max(r['wall_s'] for r in runs):>9.1f}"
                f"{max(r['peak_rss_mb'] for r in runs):>13.0f}")
        if "peak_cuda_mb" in runs[0]:
            line += f"{max(r['peak_cuda_mb'] for r in runs):>14.0f}"
        print(line)
    for arm in ("trainer", "bare"):
        print(f"  {arm} runs, tokens/s: "
              + ", ".join(f"{r['tokens_per_s']:.1f}" for r in results[arm]))
    print(f"ratio train_adapter / bare: {rates['trainer'] / rates['bare']:.3f} (goal >= 0.9)")


if __name__ == "__main__":
    main()
