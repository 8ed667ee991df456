"""What a training run leaves behind and records about itself.

``write_adapter`` puts the adapter weights, ``manifest.json``, the metrics log and the
examples into a hidden directory renamed onto the output in one step; ``run_metrics``
summarizes the Trainer's log history (per-epoch losses, speed, ``peak_memory``) for the
manifest; ``code_version`` and ``library_versions`` are its provenance.
``last_complete_checkpoint`` and ``tokens_seen_before`` read the checkpoints a ``resume``
continues from. Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

import importlib.metadata
import json
import logging
import math
import os
import resource
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from finetune.registry import MANIFEST_NAME

logger = logging.getLogger(__name__)

METRICS_LOG = "metrics.jsonl"


def last_complete_checkpoint(folder: Path) -> str | None:
    """The newest ``checkpoint-N`` whose Trainer state was written (the Trainer writes it
    last), skipping one a crash cut short mid-save."""
    if not folder.is_dir():
        return None
    found = [(int(p.name.split("-")[1]), p) for p in folder.glob("checkpoint-*")
             if p.is_dir() and p.name.split("-")[1].isdigit()]
    for _, path in sorted(found, reverse=True):
        try:
            json.loads((path / "trainer_state.json").read_text())
            return str(path)
        except (OSError, ValueError):
            logger.warning("skipping incomplete checkpoint %s", path)
    return None


def tokens_seen_before(checkpoint: str | None) -> int:
    """Tokens seen before this run: what the resumed checkpoint's Trainer state says."""
    if checkpoint is None:
        return 0
    state = json.loads((Path(checkpoint) / "trainer_state.json").read_text())
    return int(state.get("num_input_tokens_seen", 0))


def write_adapter(peft_model: Any, manifest: dict, log_path: Path, out_dir: Path,
                  data_files: Mapping[str, list[str] | None]) -> None:
    """Write the adapter weights, ``manifest`` (as ``manifest.json``), the JSONL log at
    ``log_path`` (if any) and ``data_files`` into a hidden sibling directory, then rename
    it onto ``out_dir`` (absent or empty) in one step. ``data_files`` (relative path: JSON
    lines, None for none) are the examples it was trained and validated on, kept beside
    the weights. On any error the hidden directory is removed and the error re-raised."""
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    for stale in out_dir.parent.glob(f".{out_dir.name}.partial-*"):  # from a killed run
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=out_dir.parent))
    try:
        peft_model.save_pretrained(str(tmp), safe_serialization=True)
        (tmp / MANIFEST_NAME).write_text(json.dumps(manifest, indent=2) + "\n")
        if log_path.is_file():
            shutil.copy2(log_path, tmp / METRICS_LOG)
        for name, lines in data_files.items():
            if lines is not None:
                (tmp / name).parent.mkdir(parents=True, exist_ok=True)
                (tmp / name).write_text("".join(line + "\n" for line in lines),
                                        encoding="utf-8")
        if out_dir.exists():
            out_dir.rmdir()  # checked empty before training
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def run_metrics(history: list[dict], output: Any, tokens: int, seconds: float,
                device: Any) -> dict:
    """The manifest's ``metrics``: per-epoch train/eval loss from the Trainer's log
    history, the final losses (``output`` is what ``Trainer.train`` returned), tokens per
    second over ``seconds`` of training, and ``peak_memory(device)``."""
    train: dict[int, list[float]] = {}
    evals: dict[int, float] = {}
    last_step = 0
    for entry in history:
        epoch = max(1, math.ceil(entry.get("epoch", 0) - 1e-9))
        if "loss" in entry:
            weight = max(entry["step"] - last_step, 1)
            last_step = entry["step"]
            sums = train.setdefault(epoch, [0.0, 0.0])
            sums[0] += entry["loss"] * weight
            sums[1] += weight
        elif "eval_loss" in entry:
            evals[epoch] = entry["eval_loss"]
    epochs = [{"epoch": e,
               "train_loss": round(train[e][0] / train[e][1], 6) if e in train else None,
               "eval_loss": evals.get(e)} for e in sorted(set(train) | set(evals))]
    eval_loss = next((e["eval_loss"] for e in reversed(history) if "eval_loss" in e), None)
    return {
        "epochs": epochs,
        "train_loss": output.training_loss,
        "eval_loss": eval_loss,
        "train_runtime_s": round(seconds, 3),
        "tokens_seen": int(tokens),
        "tokens_per_second": round(tokens / seconds, 2) if seconds > 0 else None,
        **peak_memory(device),
    }


def code_version() -> str:
    """``git describe`` of the source tree when it is a git checkout, else the package
    version, else ``unknown``. Never takes git's index lock."""
    root = Path(__file__).resolve().parent.parent
    try:
        done = subprocess.run(["git", "describe", "--always", "--tags"], cwd=root, text=True,
                              capture_output=True, timeout=5,
                              env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
        if done.returncode == 0 and done.stdout.strip():
            return f"git:{done.stdout.strip()}"
    except (OSError, subprocess.SubprocessError):
        pass
    try:
        return importlib.metadata.version("acme-assistant")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def library_versions() -> dict[str, str]:
    """Versions of the libraries that shape an adapter: torch, transformers, peft."""
    out = {}
    for name in ("torch", "transformers", "peft", "accelerate"):
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            out[name] = "missing"
    return out


def peak_memory(device: Any) -> dict[str, float]:
    """Peak memory so far, in MB: the process's max RSS (Linux ``ru_maxrss`` is in KiB),
    and on a CUDA device the peak allocated GPU memory."""
    out = {"peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}
    if getattr(device, "type", None) == "cuda":
        import torch

        out["peak_cuda_mb"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return out
