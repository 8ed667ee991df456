"""Trainer callbacks: the JSONL metrics log, plain progress lines, epoch-end logging, step
timing, and a stop-after-N crash switch.

Imported by ``finetune.train`` only when training starts (it needs ``transformers``).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from pathlib import Path

from transformers import TrainerCallback

logger = logging.getLogger(__name__)


class JsonlLogCallback(TrainerCallback):
    """Append every Trainer log (train loss, eval loss, learning rate, ...) to ``path`` as
    one JSON object per line, with the global step, epoch and wall time.

    Only the main process writes, so the same file serves a multi-GPU run. Lines are
    appended and flushed at once: a crash loses at most the line being written, and a
    resumed run continues the same file.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        record = {"step": state.global_step, "epoch": state.epoch, "time": time.time(), **logs}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as f:
            f.write(json.dumps(record) + "\n")


class EpochEndLogCallback(TrainerCallback):
    """Ask the Trainer to log at each epoch end, so every epoch's train loss is complete
    in the log even when ``logging_steps`` does not divide the epoch."""

    def on_epoch_end(self, args, state, control, **kwargs):
        control.should_log = True
        return control


class StepTimerCallback(TrainerCallback):
    """Wall time of this run's optimizer steps, skipping the first ``warmup``.

    A step's time runs from the end of the previous step (or the start of training) to
    the end of this one, so it includes loading and collating its batches and whatever
    logging or checkpointing ran in between: what a bare loop timing whole iterations
    measures too. ``seconds`` sums the timed steps, ``steps`` counts them.
    """

    def __init__(self, warmup: int = 0) -> None:
        self.warmup = warmup
        self.seconds = 0.0
        self.steps = 0
        self._seen = 0
        self._last = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        self._last = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        now = time.perf_counter()
        self._seen += 1
        if self._seen > self.warmup:
            self.seconds += now - self._last
            self.steps += 1
        self._last = now


class StopAfterStepsCallback(TrainerCallback):
    """Raise ``SimulatedCrash`` when a step would begin at global step ``step`` or later:
    stands in for a killed process in tests of ``--resume``."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            raise SimulatedCrash(f"simulated crash at global step {state.global_step}")


class SimulatedCrash(RuntimeError):
    """Raised by ``StopAfterStepsCallback``."""


class LogLinesCallback(TrainerCallback):
    """One plain line per Trainer log on ``stream`` (stderr by default): step, epoch, loss
    and time left. The progress report for logs and CI, where a bar would be noise."""

    def __init__(self, stream=None) -> None:
        self.stream = stream
        self._start = 0.0
        self._first_step = 0

    def on_train_begin(self, args, state, control, **kwargs):
        self._start = time.perf_counter()
        self._first_step = state.global_step  # non-zero after --resume

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        done = state.global_step - self._first_step
        elapsed = time.perf_counter() - self._start
        parts = [f"step {state.global_step}/{state.max_steps}",
                 f"epoch {state.epoch or 0:.2f}"]
        parts += [f"{key} {logs[key]:.4g}" for key in ("loss", "eval_loss", "learning_rate")
                  if isinstance(logs.get(key), int | float)]
        if done > 0:
            per_step = elapsed / done
            left = max(state.max_steps - state.global_step, 0) * per_step
            parts.append(f"{per_step:.1f} s/step, {left / 60:.1f} min left")
        print("train: " + ", ".join(parts), file=self.stream or sys.stderr, flush=True)
