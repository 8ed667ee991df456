"""sentence-transformers' trainer, set up for tuning the embedder on (question, passage) rows.

``plan_batches`` lays out every epoch's batches before training with sentence-transformers'
``NoDuplicatesBatchSampler``, keyed by texts the caller names (``finetune.retriever``: each
pair's question and all its gold passages, the answer-holding ones included, which are no
training column). ``fit`` runs ``SentenceTransformerTrainer`` with
``MultipleNegativesRankingLoss`` (in-batch negatives plus any hard-negative column, the DPR
recipe) over that plan and scores the held-out questions after each epoch's last batch.

All epochs go to the trainer as one pass of exactly the planned batches: when rows clash,
a pass of the no-duplicates sampler can yield more batches than its ``__len__``
(``ceil(rows / size)``), and the trainer runs ``__len__`` steps an epoch, so it would skip
the last batches (the clashing rows) and its learning-rate schedule would not end at zero.

Nothing reaches a model hub: no reports, no checkpoints, no pushes, and no model-card
callback (it would copy training rows into the saved README and look the base model up on
the hub). Imported by ``finetune.retriever`` only when training starts.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable, Sequence
from typing import Any

import torch
from datasets import Dataset
from sentence_transformers import SentenceTransformerTrainer, SentenceTransformerTrainingArguments
from tqdm.auto import tqdm
from transformers import PrinterCallback, TrainerCallback

from finetune.records import TrainingError

try:  # sentence-transformers 6
    from sentence_transformers.base.sampler import DefaultBatchSampler, NoDuplicatesBatchSampler
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
except ImportError:  # sentence-transformers 5.x
    from sentence_transformers.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sampler import DefaultBatchSampler, NoDuplicatesBatchSampler

logger = logging.getLogger(__name__)


def plan_batches(keys: Sequence[Sequence[str]], size: int, epochs: int, seed: int = 0,
                 ) -> list[list[list[int]]]:
    """Each epoch's batches of row indices (``[epoch][batch] -> rows``): every row once an
    epoch, shuffled afresh (seed ``seed + epoch``), at most ``size`` rows a batch, and no
    two rows of a batch sharing any of their ``keys`` (one non-empty sequence of texts per
    row); a row that clashes waits for a later batch, so a batch can be short."""
    if not keys or any(not k for k in keys):
        raise ValueError("plan_batches needs at least one row, each with at least one key")
    width = max(len(k) for k in keys)
    # The sampler compares a row's column values: one column per key, padded with the
    # row's own first key (a repeat within a row clashes with nothing).
    table = Dataset.from_dict({f"key{i}": [k[i] if i < len(k) else k[0] for k in keys]
                               for i in range(width)})
    sampler = NoDuplicatesBatchSampler(table, batch_size=size, drop_last=False,
                                       generator=torch.Generator(), seed=seed)
    plan = []
    for epoch in range(epochs):
        sampler.set_epoch(epoch)
        plan.append([list(batch) for batch in sampler])
    return plan


class PlannedBatchSampler(DefaultBatchSampler):
    """The trainer's batch sampler: ``batches`` (row indices) in order, as one pass."""

    def __init__(self, dataset: Any, batches: Sequence[Sequence[int]], **kwargs: Any) -> None:
        super().__init__(dataset, **kwargs)
        self.batches = [list(b) for b in batches]

    def __iter__(self):
        return iter(self.batches)

    def __len__(self) -> int:
        return len(self.batches)


def fit(model: Any, columns: dict[str, list[str]], plan: list[list[list[int]]], *, lr: float,
        warmup: float, seed: int, score: Callable[[], dict], progress: bool, desc: str,
        on_epoch: Callable[[dict], None] | None = None) -> list[dict]:
    """Train ``model`` (a SentenceTransformer, left on its device) on ``columns`` (the
    question, its positive passage, then any hard negatives: one list per column, one item
    per row) batch by batch as ``plan`` lays out, with AdamW at ``lr`` decaying linearly to
    zero after ``warmup`` of the steps.

    After each epoch's last batch ``score()`` is called with the model in eval mode. Returns
    one row per epoch: ``epoch``, ``train_loss`` (mean over its steps) and ``score()``'s
    items prefixed ``val_`` (its ``n`` left out); each row also goes to ``on_epoch``. A
    step-by-step bar (``desc``) shows on stderr when ``progress``.
    """
    batches = [b for epoch in plan for b in epoch]
    steps = len(batches)
    use_cpu = model.device.type == "cpu"
    bar = tqdm(total=steps, desc=desc, unit="step", disable=not progress)
    epochs = _EpochRows(model, plan, score, bar, on_epoch)
    with tempfile.TemporaryDirectory(prefix="retriever-trainer-") as scratch:
        args = SentenceTransformerTrainingArguments(
            output_dir=scratch,  # nothing is saved there: save_strategy="no"
            num_train_epochs=1,  # one pass over the planned batches of every epoch
            # the trainer's bookkeeping only: the sampler hands it the batches
            per_device_train_batch_size=max(len(b) for b in batches),
            batch_sampler=lambda dataset, **kw: PlannedBatchSampler(dataset, batches, **kw),
            learning_rate=lr,
            lr_scheduler_type="linear",
            warmup_steps=int(warmup * steps),
            optim="adamw_torch",
            weight_decay=0.01,  # torch.optim.AdamW's default, which the loop before used
            max_grad_norm=0.0,  # no clipping, as before
            seed=seed,
            data_seed=seed,
            use_cpu=use_cpu,
            dataloader_pin_memory=not use_cpu,
            logging_strategy="steps",
            logging_steps=1,  # each step's loss, for the bar and the epoch means
            eval_strategy="no",
            save_strategy="no",
            report_to="none",
            push_to_hub=False,
            disable_tqdm=True,  # the bar above is the progress report
        )
        trainer = _Trainer(model=model, args=args, train_dataset=Dataset.from_dict(columns),
                           loss=MultipleNegativesRankingLoss(model), callbacks=[epochs])
        trainer.remove_callback(PrinterCallback)  # it would print every step's log to stdout
        logger.info("training on %d rows: %d epochs, %d steps, on %s",
                    len(next(iter(columns.values()))), len(plan), steps, args.device)
        try:
            trainer.train()
        finally:
            bar.close()
    model.eval()
    if trainer.state.global_step != steps:
        raise TrainingError(f"the trainer ran {trainer.state.global_step} of the {steps} "
                           "planned steps")
    return epochs.rows


class _Trainer(SentenceTransformerTrainer):
    def add_model_card_callback(self, default_args_dict: dict[str, Any]) -> None:
        """No model-card data: the saved README stays the base model's, as before the
        trainer, with no training rows in it and no hub look-up for it."""


class _EpochRows(TrainerCallback):
    """Per-step loss onto the bar; at each epoch's last step, the epoch's row."""

    def __init__(self, model: Any, plan: list[list[list[int]]], score: Callable[[], dict],
                 bar: Any, on_epoch: Callable[[dict], None] | None) -> None:
        self.model, self.score, self.bar, self.on_epoch = model, score, bar, on_epoch
        self.ends, total = [], 0
        for epoch in plan:
            total += len(epoch)
            self.ends.append(total)
        self.rows: list[dict] = []
        self.losses: list[float] = []

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not logs or "loss" not in logs:  # the closing summary has train_loss instead
            return
        value = float(logs["loss"])
        self.losses.append(value)
        self.bar.update(1)
        self.bar.set_postfix(loss=f"{value:.3f}")
        if len(self.rows) < len(self.ends) and state.global_step == self.ends[len(self.rows)]:
            self.model.eval()
            row = {"epoch": len(self.rows) + 1,
                   "train_loss": round(sum(self.losses) / max(len(self.losses), 1), 6),
                   **{f"val_{k}": v for k, v in self.score().items() if k != "n"}}
            self.losses = []
            self.rows.append(row)
            if self.on_epoch is not None:
                self.on_epoch(row)
            # the trainer puts the model back in train mode at its next step
