"""Tokenized rows for training: check and cut them, pad them into batches.

``as_rows`` turns tokenized rows (or ``finetune.records.Example`` objects, tokenized
first by ``tokenize_rows``) into lists of ints no longer than the model's window, dropping
rows without any supervised token; ``PaddingCollator`` pads a batch of them on the right
for the Trainer. ``example_lines`` keeps the text of ``Example`` rows for the adapter's
``data/`` folder. Importing this module imports neither torch nor transformers.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from core.errors import ConfigError
from finetune.records import TrainingError

logger = logging.getLogger(__name__)


@dataclass
class PaddingCollator:
    """Pad a batch of rows to its longest row (dynamic padding), on the right.

    ``input_ids`` are padded with ``pad_token_id``, ``attention_mask`` with 0 and
    ``labels`` with -100, so padding never counts in the loss. Rows longer than
    ``max_length`` are cut (``as_rows`` already did, for rows it produced).
    """

    pad_token_id: int
    max_length: int | None = None
    pad_to_multiple_of: int | None = None

    def __call__(self, rows: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
        import torch

        cut = [{k: list(r[k])[: self.max_length] for k in ("input_ids", "attention_mask",
                                                            "labels")} for r in rows]
        width = max(len(r["input_ids"]) for r in cut)
        if self.pad_to_multiple_of:
            width = -(-width // self.pad_to_multiple_of) * self.pad_to_multiple_of
        fill = {"input_ids": self.pad_token_id, "attention_mask": 0, "labels": -100}
        return {key: torch.tensor([r[key] + [value] * (width - len(r[key])) for r in cut],
                                  dtype=torch.long)  # (batch, seq)
                for key, value in fill.items()}


def as_rows(rows: Iterable[Mapping[str, Any]], max_length: int,
            split: str) -> tuple[list[dict[str, list[int]]], dict[str, int]]:
    """Check and normalize tokenized rows into lists of ints, cut to ``max_length``.

    ``attention_mask`` defaults to all ones and ``labels`` to ``input_ids``. Rows left
    without any supervised token (all labels -100) are dropped and counted. Returns the
    rows and ``{"given", "dropped", "truncated", "tokens"}``. Raises ``TrainingError``
    for a row that is not a mapping with ``input_ids`` or has mismatched lengths.
    """
    out: list[dict[str, list[int]]] = []
    info = {"given": 0, "dropped": 0, "truncated": 0, "tokens": 0}
    for i, row in enumerate(rows):
        info["given"] += 1
        if not isinstance(row, Mapping) or "input_ids" not in row:
            raise TrainingError(f"{split} row {i}: expected a mapping with input_ids, "
                                f"got {type(row).__name__}")
        ids = _ints(row["input_ids"])
        mask = _ints(row["attention_mask"]) if "attention_mask" in row else [1] * len(ids)
        labels = _ints(row["labels"]) if "labels" in row else list(ids)
        if not len(ids) == len(mask) == len(labels):
            raise TrainingError(f"{split} row {i}: input_ids, attention_mask and labels "
                                f"differ in length ({len(ids)}, {len(mask)}, {len(labels)})")
        if len(ids) > max_length:
            info["truncated"] += 1
            ids, mask, labels = ids[:max_length], mask[:max_length], labels[:max_length]
        if all(label == -100 for label in labels):
            info["dropped"] += 1
            continue
        info["tokens"] += sum(mask)
        out.append({"input_ids": ids, "attention_mask": mask, "labels": labels})
    if info["truncated"]:
        logger.warning("%s: %d of %d rows were longer than %d tokens and were cut", split,
                       info["truncated"], info["given"], max_length)
    if info["dropped"]:
        logger.warning("%s: %d rows had no answer tokens left and were dropped", split,
                       info["dropped"])
    return out, info


def fit_max_length(model: Any, wanted: int) -> int:
    """``wanted`` (the configured row length), capped by the model's position count (with
    a warning when it is cut)."""
    positions = getattr(model.config.get_text_config(), "max_position_embeddings", None)
    if positions and wanted > positions:
        logger.warning("max_length %d exceeds the model's %d positions; using %d",
                       wanted, positions, positions)
        return int(positions)
    return wanted


def pad_id_of(tokenizer: Any) -> int:
    """The id batches are padded with: the pad token, else the end token. Raises
    ``ConfigError`` when the tokenizer has neither."""
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    if pad is None:
        raise ConfigError("tokenizer has neither a pad nor an eos token; set a pad token")
    return int(pad)


def example_lines(rows: Sequence[Any]) -> list[str] | None:
    """``Example`` rows as JSON lines (what the adapter was trained on, already redacted);
    None for pre-tokenized rows, which carry no text worth keeping."""
    from finetune.records import Example

    if not all(isinstance(r, Example) for r in rows):
        return None
    return [json.dumps(r.to_json(), ensure_ascii=False) for r in rows]


def tokenize_rows(rows: Iterable[Any], tokenizer: Any) -> list[Any]:
    """Rows as given, with ``Example`` objects turned into tokenized rows."""
    from finetune.dataset import tokenize_example
    from finetune.records import Example

    return [tokenize_example(r, tokenizer) if isinstance(r, Example) else r for r in rows]


def _ints(values: Any) -> list[int]:
    return [int(v) for v in (values.tolist() if hasattr(values, "tolist") else values)]

