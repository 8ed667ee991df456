"""Train a LoRA adapter with the transformers Trainer: tokenized rows in, adapter out.

``train_adapter`` wraps the given base model in a peft LoRA, trains it on tokenized rows
(``{"input_ids", "attention_mask", "labels"}``, labels -100 outside the answer), logs
every Trainer log line to a JSONL file, checkpoints every ``save_steps`` so ``resume``
continues a crashed run, and has the adapter with its ``manifest.json`` written so a crash
never leaves a half-written one where the registry would take it. This module holds the
run's settings (``TrainConfig``), its result and errors, and the Trainer wiring; the rows
and batches come from ``finetune.batches``, what the run writes and records from
``finetune.artifacts``.

The model and its ids are passed in (``finetune`` never imports ``assistant``). The same
call runs unchanged under ``accelerate launch`` or ``torchrun``: the Trainer handles DDP
and the device of each process; only the main process writes the adapter.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from finetune.artifacts import (
    METRICS_LOG,
    code_version,
    last_complete_checkpoint,
    library_versions,
    run_metrics,
    tokens_seen_before,
    write_adapter,
)
from finetune.batches import (
    PaddingCollator,
    as_rows,
    example_lines,
    fit_max_length,
    pad_id_of,
    tokenize_rows,
)
from finetune.records import TrainingError

logger = logging.getLogger(__name__)

FORMAT_VERSION = 1
DATA_DIR = "data"  # the examples an adapter was trained on, beside its weights
_BF16 = ("auto", "on", "off")
_SCHEDULERS = ("linear", "cosine", "constant", "constant_with_warmup")


@dataclass(frozen=True)
class TrainConfig:
    """LoRA and optimization settings for one training run; CLI flags mirror the fields.

    ``bf16``: ``auto`` (bf16 autocast where the GPU or CPU supports it), ``on`` or
    ``off``. An optimizer step sees ``batch_size * grad_accum`` examples, run through the
    model ``micro_batch_size`` at a time (see ``resolve_micro_batch``). ``max_steps``
    (when set) overrides ``epochs``. ``checkpoint_dir`` holds the checkpoints and the JSONL
    log (default ``<out_dir>.run`` beside the adapter); it is removed after a successful
    run unless ``keep_checkpoints``. Raises ``ConfigError`` naming the field and its
    allowed range.
    """

    rank: int = 16
    alpha: int = 32
    dropout: float = 0.05
    target_modules: tuple[str, ...] = ("q_proj", "k_proj", "v_proj", "o_proj")
    lr: float = 2e-4
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 4
    grad_accum: int = 1
    micro_batch_size: int | None = None
    max_length: int = 1024
    bf16: str = "auto"
    gradient_checkpointing: bool = False
    seed: int = 0
    eval_each_epoch: bool = True
    save_steps: int = 50
    save_total_limit: int = 2
    logging_steps: int = 10
    warmup_steps: int = 0
    weight_decay: float = 0.0
    lr_scheduler: str = "linear"
    group_by_length: bool = False
    checkpoint_dir: str | None = None
    keep_checkpoints: bool = False

    def __post_init__(self) -> None:
        if isinstance(self.target_modules, str) or not isinstance(self.target_modules, Iterable):
            raise ConfigError("target_modules must be a list of module names, e.g. q_proj v_proj")
        object.__setattr__(self, "target_modules", tuple(self.target_modules))
        modules = self.target_modules
        if not modules or not all(isinstance(m, str) and m for m in modules):
            raise ConfigError("target_modules must name at least one module, e.g. q_proj")
        for name, low in (("rank", 1), ("alpha", 1), ("epochs", 1), ("batch_size", 1),
                          ("grad_accum", 1), ("max_length", 8), ("save_steps", 1),
                          ("save_total_limit", 1), ("logging_steps", 1), ("warmup_steps", 0),
                          ("seed", 0)):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < low:
                raise ConfigError(f"{name} must be an integer >= {low}; got {value!r}")
        if self.max_steps is not None and (
            isinstance(self.max_steps, bool) or not isinstance(self.max_steps, int)
            or self.max_steps < 1
        ):
            raise ConfigError(f"max_steps must be None or an integer >= 1; got {self.max_steps!r}")
        micro = self.micro_batch_size
        if micro is not None and (
            isinstance(micro, bool) or not isinstance(micro, int) or micro < 1
            or self.batch_size % micro
        ):
            raise ConfigError(f"micro_batch_size must be None or a divisor of batch_size "
                              f"({self.batch_size}); got {micro!r}")
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"dropout must be in [0, 1); got {self.dropout!r}")
        if not 0.0 < self.lr <= 1.0:
            raise ConfigError(f"lr must be in (0, 1]; got {self.lr!r}")
        if self.weight_decay < 0.0:
            raise ConfigError(f"weight_decay must be >= 0; got {self.weight_decay!r}")
        if self.bf16 not in _BF16:
            raise ConfigError(f"bf16 must be one of {', '.join(_BF16)}; got {self.bf16!r}")
        if self.lr_scheduler not in _SCHEDULERS:
            raise ConfigError(
                f"lr_scheduler must be one of {', '.join(_SCHEDULERS)}; got {self.lr_scheduler!r}"
            )

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> TrainConfig:
        """Build from a mapping (CLI args, a JSON file); an unknown key is a ``ConfigError``."""
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown training option(s): {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe copy of every field, as recorded in the adapter manifest."""
        data = dataclasses.asdict(self)
        data["target_modules"] = list(self.target_modules)
        return data


@dataclass(frozen=True)
class TrainResult:
    """What ``train_adapter`` produced. On a non-main process of a multi-GPU run
    ``is_main_process`` is False and nothing was written by this process."""

    adapter_dir: Path
    manifest: dict[str, Any]
    global_step: int
    resumed_from_step: int | None
    metrics_log: Path
    is_main_process: bool = True
    metrics: dict[str, Any] = field(default_factory=dict)


def train_adapter(
    model: Any,
    tokenizer: Any,
    train_rows: Sequence[Mapping[str, Any]],
    val_rows: Sequence[Mapping[str, Any]],
    config: TrainConfig,
    out_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    base_model_id: str,
    base_weights_hash: str,
    data_manifest: Mapping[str, Any] | None = None,
    callbacks: Sequence[Any] = (),
) -> TrainResult:
    """Train a LoRA adapter on ``model`` and write it, with its manifest, to ``out_dir``.

    ``train_rows``/``val_rows``: tokenized rows (lists or tensors of ints), or
    ``finetune.records.Example`` objects, tokenized here with the chat template. ``resume``
    continues from the last checkpoint of an interrupted run with the same ``out_dir``.
    ``model`` is returned to its untouched state afterwards (LoRA layers unloaded).
    Raises ``TrainingError`` before any training for an empty dataset, an existing
    ``out_dir``, stale checkpoints without ``resume`` or ``resume`` with none;
    ``ConfigError`` for target modules the model lacks.
    """
    import torch
    from transformers import PrinterCallback, Trainer, set_seed

    from finetune.callbacks import EpochEndLogCallback, JsonlLogCallback

    out_dir = Path(out_dir).expanduser().resolve()
    max_length = fit_max_length(model, config.max_length)
    data_files = {f"{DATA_DIR}/train.jsonl": example_lines(train_rows),
                  f"{DATA_DIR}/val.jsonl": example_lines(val_rows)}
    train, train_info = as_rows(tokenize_rows(train_rows, tokenizer), max_length, "train")
    val, val_info = as_rows(tokenize_rows(val_rows, tokenizer), max_length, "validation")
    if not train:
        raise TrainingError(
            f"no training examples with answer tokens (got {train_info['given']} rows, "
            f"{train_info['dropped']} without any label); nothing to train on"
        )
    if out_dir.exists() and any(out_dir.iterdir()):
        raise TrainingError(f"{out_dir} already holds files; pick another output or remove it")
    work = Path(config.checkpoint_dir).expanduser() if config.checkpoint_dir else (
        out_dir.parent / f"{out_dir.name}.run")
    checkpoints = work / "checkpoints"
    last = last_complete_checkpoint(checkpoints)
    if resume and last is None:
        raise TrainingError(
            f"nothing to resume: no checkpoint in {checkpoints}; run without resume"
        )
    if not resume and last is not None:
        raise TrainingError(
            f"{checkpoints} holds checkpoints of an earlier run; resume it, or remove {work}"
        )
    if hasattr(model, "peft_config"):
        raise TrainingError("model already carries adapters; pass the bare base model")

    device = next(model.parameters()).device
    use_bf16 = resolve_bf16(config.bf16, device)
    micro = resolve_micro_batch(config, device)
    grad_flags = {name: p.requires_grad for name, p in model.named_parameters()}
    was_training = model.training
    set_seed(config.seed)  # LoRA A matrices are drawn here, before the Trainer seeds again
    peft_model = _wrap_lora(model, config)
    try:
        log_path = work / METRICS_LOG
        eval_on = bool(val) and config.eval_each_epoch
        args = _training_args(config, micro, checkpoints, use_bf16, device.type == "cpu",
                              eval_on, progress)
        trainer = Trainer(
            model=peft_model,
            args=args,
            data_collator=PaddingCollator(pad_id_of(tokenizer), max_length),
            train_dataset=train,
            eval_dataset=val if eval_on else None,
            processing_class=tokenizer,
            callbacks=[JsonlLogCallback(log_path), EpochEndLogCallback(), *callbacks],
        )
        if not progress:  # quiet means quiet: no log dicts printed to stdout either
            trainer.remove_callback(PrinterCallback)
        run_device = args.device  # this process's device: cuda:LOCAL_RANK under torchrun
        if run_device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(run_device)
        logger.info("training LoRA r=%d on %d examples (%d validation), batch %d in micro-batches "
                    "of %d, bf16=%s%s", config.rank, len(train), len(val),
                    config.batch_size * config.grad_accum, micro, use_bf16,
                    f", resuming from {last}" if last else "")
        tokens_before = tokens_seen_before(last)  # read now: old checkpoints get rotated out
        clock = time.perf_counter()
        output = trainer.train(resume_from_checkpoint=last)
        train_seconds = time.perf_counter() - clock
        state = trainer.state
        evals = [e for e in state.log_history if "eval_loss" in e]
        if eval_on and (not evals or evals[-1].get("step") != state.global_step):
            trainer.evaluate()  # max_steps ended mid-epoch: still report a final eval loss
        tokens = state.num_input_tokens_seen - tokens_before
        metrics = run_metrics(state.log_history, output, tokens, train_seconds, run_device)
        resumed = int(Path(last).name.split("-")[-1]) if last else None
        manifest = {
            "format_version": FORMAT_VERSION,
            "kind": "lora",
            "base_model_id": base_model_id,
            "base_weights_hash": base_weights_hash,
            "data": {**(data_manifest or {}), "files": sorted(k for k, v in data_files.items()
                                                              if v is not None),
                     "train_examples": len(train),
                     "val_examples": len(val), "train_tokens": train_info["tokens"],
                     "dropped_examples": train_info["dropped"] + val_info["dropped"],
                     "truncated_examples": train_info["truncated"] + val_info["truncated"]},
            "config": config.to_dict(),
            "micro_batch_size": micro,
            "metrics": metrics,
            "global_step": state.global_step,
            "resumed_from_step": resumed,
            "world_size": args.world_size,
            "code_version": code_version(),
            "libraries": library_versions(),
            "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        }
        is_main = trainer.is_world_process_zero()
        if is_main:
            write_adapter(peft_model, manifest, log_path, out_dir, data_files)
        trainer.accelerator.wait_for_everyone()
        if is_main and not config.keep_checkpoints:
            shutil.rmtree(work, ignore_errors=True)
    finally:
        _restore(peft_model, grad_flags, was_training)
    logger.info("adapter written to %s (step %d, eval loss %s)", out_dir, state.global_step,
                metrics.get("eval_loss"))
    return TrainResult(out_dir, manifest, state.global_step, resumed,
                       out_dir / METRICS_LOG if is_main else log_path, is_main, metrics)


def resolve_micro_batch(config: TrainConfig, device: Any) -> int:
    """Examples per forward pass: ``config.micro_batch_size`` when set, else 1 on a CPU and
    the whole ``batch_size`` on a GPU.

    On a CPU a padded batch costs memory for no speed (with a padding mask, attention most
    likely runs PyTorch's math kernel, which keeps every L x L matrix for the backward).
    ``benchmarks/train_memory.py`` (SmolLM2-135M, LoRA on all linear layers, fp32, 4 rows
    of 716-1,024 tokens, 2 CPU cores): one padded batch 46.8 s/step and 16.4 GB peak RSS,
    the same rows one at a time 43.4 s/step and 5.2 GB. The gradients are the same: the Trainer
    averages the loss over the answer tokens of all micro-batches of a step.
    """
    if config.micro_batch_size is not None:
        return config.micro_batch_size
    return config.batch_size if device.type == "cuda" else 1


def _training_args(config: TrainConfig, micro: int, checkpoints: Path, bf16: bool,
                   use_cpu: bool, eval_on: bool, progress: bool) -> Any:
    from transformers import TrainingArguments

    return TrainingArguments(
        output_dir=str(checkpoints),
        per_device_train_batch_size=micro,
        per_device_eval_batch_size=micro,
        gradient_accumulation_steps=config.grad_accum * (config.batch_size // micro),
        num_train_epochs=config.epochs,
        max_steps=config.max_steps or -1,
        learning_rate=config.lr,
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup_steps,
        lr_scheduler_type=config.lr_scheduler,
        optim="adamw_torch",
        bf16=bf16,
        use_cpu=use_cpu,
        activation_checkpointing=config.gradient_checkpointing,
        activation_checkpointing_kwargs={"use_reentrant": False},
        eval_strategy="epoch" if eval_on else "no",
        save_strategy="steps",
        save_steps=config.save_steps,
        save_total_limit=config.save_total_limit,
        logging_strategy="steps",
        logging_steps=config.logging_steps,
        include_num_input_tokens_seen="non_padding",
        seed=config.seed,
        data_seed=config.seed,
        train_sampling_strategy="group_by_length" if config.group_by_length else "random",
        remove_unused_columns=False,
        label_names=["labels"],
        ddp_find_unused_parameters=False,  # every LoRA parameter takes part in each step
        disable_tqdm=not progress,
        report_to="none",
        dataloader_num_workers=0,
    )


def _wrap_lora(model: Any, config: TrainConfig) -> Any:
    from peft import LoraConfig, get_peft_model

    lora = LoraConfig(r=config.rank, lora_alpha=config.alpha, lora_dropout=config.dropout,
                      target_modules=list(config.target_modules), bias="none",
                      task_type="CAUSAL_LM")
    try:
        return get_peft_model(model, lora)
    except ValueError as exc:
        raise ConfigError(f"target_modules {list(config.target_modules)}: {exc}") from exc


def _restore(peft_model: Any, grad_flags: dict[str, bool], was_training: bool) -> None:
    """Unload the LoRA layers so the caller's base model is as it was handed in."""
    base = peft_model.unload()
    if getattr(base, "is_activation_checkpointing", False):
        base.activation_checkpointing_disable()
    for name, param in base.named_parameters():
        param.requires_grad_(grad_flags.get(name, param.requires_grad))
    base.train(was_training)


def resolve_bf16(setting: str, device: Any) -> bool:
    """Whether to train under bf16 autocast on ``device`` for ``TrainConfig.bf16``:
    ``auto`` asks the GPU, or the CPU for avx512_bf16/AMX. ``ConfigError`` for ``on`` on
    a GPU without bfloat16."""
    import torch

    if setting == "off":
        return False
    if device.type == "cuda":
        supported = torch.cuda.is_bf16_supported()
    else:
        probe = getattr(torch.cpu, "_is_avx512_bf16_supported", None)
        amx = getattr(torch.cpu, "_is_amx_tile_supported", None)
        supported = bool((probe and probe()) or (amx and amx()))
    if setting == "on" and device.type == "cuda" and not supported:
        raise ConfigError("bf16 is on, but this GPU does not support bfloat16; use off or auto")
    return True if setting == "on" else supported
