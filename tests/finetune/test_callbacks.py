"""Plain progress lines for training runs without a terminal."""

from __future__ import annotations

import io

from transformers import TrainerControl, TrainerState, TrainingArguments

from finetune.callbacks import LogLinesCallback


def test_log_lines_report_step_loss_and_time_left(tmp_path):
    out = io.StringIO()
    callback = LogLinesCallback(out)
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[])
    state = TrainerState(max_steps=40, global_step=10)  # a resumed run: 10 steps were done
    control = TrainerControl()
    callback.on_train_begin(args, state, control)
    state.global_step, state.epoch = 20, 0.5
    callback.on_log(args, state, control, logs={"loss": 1.23456, "learning_rate": 2e-4})
    state.global_step, state.epoch = 30, 0.75
    callback.on_log(args, state, control, logs={"eval_loss": 0.5, "note": "not a number"})
    first, second = out.getvalue().splitlines()
    assert first.startswith("train: step 20/40, epoch 0.50, loss 1.235, learning_rate 0.0002, ")
    assert "s/step" in first and "min left" in first
    assert second.startswith("train: step 30/40, epoch 0.75, eval_loss 0.5, ")
    assert "note" not in second


def test_log_lines_skip_other_processes_and_empty_logs(tmp_path):
    out = io.StringIO()
    callback = LogLinesCallback(out)
    args = TrainingArguments(output_dir=str(tmp_path), report_to=[])
    state = TrainerState(max_steps=4, global_step=0)
    callback.on_train_begin(args, state, TrainerControl())
    callback.on_log(args, state, TrainerControl(), logs={})
    state.is_world_process_zero = False
    callback.on_log(args, state, TrainerControl(), logs={"loss": 1.0})
    assert out.getvalue() == ""
