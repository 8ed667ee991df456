"""Examples in, training-ready data out: redaction, dedup, length filter, split, tokens.

``prepare`` is the one gate every example passes before training: personal data is
redacted first (before anything is tokenized, saved or logged), then exact duplicates,
held-out questions and examples longer than the model's context are dropped, and what
is left is split into train and validation by record, so the grounded and closed-book
examples of one question never straddle the split. ``tokenize_example`` renders an
example with the tokenizer's chat template and supervises only the final assistant
turn (its text and the end-of-turn token).
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import math
import random
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from finetune.pii import Redactor
from finetune.records import BuildReport, DatasetError, Example
from finetune.sources import normalize

logger = logging.getLogger(__name__)

IGNORE_INDEX = -100
_CITATION = re.compile(r"\[\d+\]")
_PASSAGE_HEAD = re.compile(r"\[\d+\] Source: ")
_PASSAGE_SPLIT = re.compile(r"\n\n(?=\[\d+\] Source: )")


def tokenize_example(example: Example, tokenizer: Any) -> dict[str, list[int]]:
    """``{"input_ids", "attention_mask", "labels"}`` of ``example`` rendered with the
    tokenizer's chat template; ``labels`` are ``-100`` everywhere except the tokens of
    the final assistant turn's text and the end-of-turn token after it.

    Needs a fast tokenizer (character offsets). Raises ``DatasetError`` when the template
    renders the prompt differently inside the full conversation, or drops the target.
    """
    prompt = tokenizer.apply_chat_template(
        list(example.prompt), tokenize=False, add_generation_prompt=True)
    full = tokenizer.apply_chat_template(list(example.messages), tokenize=False)
    if not full.startswith(prompt):
        raise DatasetError(
            f"example {example.id}: the chat template renders the prompt differently when "
            "the answer follows; the answer tokens cannot be located"
        )
    target = example.target.strip()
    start = full.find(target, len(prompt))
    if not target or start < 0:
        raise DatasetError(f"example {example.id}: the chat template dropped the answer text")
    end = start + len(target)
    encoded = tokenizer(full, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = list(encoded["input_ids"]), encoded["offset_mapping"]
    labels = [IGNORE_INDEX] * len(ids)
    last = -1
    for i, (lo, hi) in enumerate(offsets):
        if hi > start and lo < end:
            labels[i] = ids[i]
            last = i
    if last < 0:
        raise DatasetError(f"example {example.id}: no token covers the answer text")
    eot = _end_of_turn(tokenizer, ids, offsets, last, end)
    if eot is not None:
        labels[eot] = ids[eot]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


def tokenize_examples(examples: Iterable[Example], tokenizer: Any) -> list[dict[str, list[int]]]:
    """``tokenize_example`` for each, in order: the rows ``finetune.train`` takes."""
    return [tokenize_example(e, tokenizer) for e in examples]


def _end_of_turn(tokenizer: Any, ids: list[int], offsets, last: int, end: int) -> int | None:
    """Index of the token that closes the assistant turn: the first special token after
    the answer (``<|im_end|>``, ``<|eot_id|>``, ``</s>``), else the first token after it."""
    special = set(getattr(tokenizer, "all_special_ids", ()) or ())
    after = [i for i in range(last + 1, len(ids)) if offsets[i][0] >= end]
    for i in after:
        if ids[i] in special:
            return i
    return after[0] if after else None


def prepare(
    examples: Sequence[Example],
    tokenizer: Any,
    max_length: int,
    val_fraction: float = 0.1,
    seed: int = 0,
    redactor: Redactor | None = None,
    exclude_questions: Iterable[str] = (),
    public_documents: bool = False,
) -> tuple[list[Example], list[Example], BuildReport]:
    """Redact, deduplicate, length-filter and split ``examples``.

    ``redactor`` is required: pass ``Redactor(enabled=False)`` to train on unredacted
    text, which the report then says. ``exclude_questions`` (the held-out test
    questions) are dropped wherever they appear. Returns the train and validation
    examples (redacted; ``meta["tokens"]`` holds the length) and the report.
    ``public_documents=True`` keeps personal-data strings that occur in the examples'
    retrieved passages (the company's own documents, e.g. its support phone number)
    wherever they appear, so answers that quote them stay intact. Raises
    ``DatasetError`` when nothing is left to train on, ``ConfigError`` for bad arguments.
    """
    if redactor is None:
        raise ConfigError("redactor is required: pass Redactor() or, to turn redaction "
                          "off explicitly, Redactor(enabled=False)")
    if isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 8:
        raise ConfigError(f"max_length must be an integer >= 8, got {max_length!r}")
    if not 0.0 <= val_fraction < 1.0:
        raise ConfigError(f"val_fraction must be in [0, 1), got {val_fraction!r}")
    if public_documents and redactor.enabled:
        redactor = redactor.allowing(passage_texts(examples))
    report = BuildReport(redaction=redactor.description)
    banned = {normalize(q) for q in exclude_questions}
    seen: set[tuple[str, str, str]] = set()
    cache: dict[str, tuple[str, Counter]] = {}
    kept: list[Example] = []
    for example in examples:
        example = _redacted(example, redactor, cache, report.pii)
        question = normalize(question_of(example))
        if question in banned:
            report.drop("question is in the held-out set")
            continue
        key = (example.kind, question, normalize(_CITATION.sub("", example.target)))
        if key in seen:
            report.drop("duplicate (same kind, question and answer)")
            continue
        seen.add(key)
        n_tokens = len(tokenize_example(example, tokenizer)["input_ids"])
        if n_tokens > max_length:
            report.drop(f"longer than max_length {max_length} tokens")
            continue
        report.lengths.append(n_tokens)
        report.kinds[example.kind] += 1
        kept.append(dataclasses.replace(example, meta={**example.meta, "tokens": n_tokens}))
    report.kept = len(kept)
    if not kept:
        reasons = ", ".join(f"{n} {r}" for r, n in report.dropped.items()) or "no input"
        raise DatasetError(f"no examples left to train on ({len(examples)} given; dropped: "
                           f"{reasons})")
    train, val = split(kept, val_fraction, seed)
    report.train, report.val = len(train), len(val)
    report.data_hash = data_hash(train, val)
    logger.info("prepared %d train + %d validation examples, %d dropped, PII %s",
                len(train), len(val), sum(report.dropped.values()), dict(report.pii))
    return train, val, report


def split(
    examples: Sequence[Example], val_fraction: float, seed: int = 0
) -> tuple[list[Example], list[Example]]:
    """Deterministic train/validation split by record (``meta["record_id"]``, else the
    example id): ``ceil(val_fraction * records)`` records go to validation, at least one
    when there are two or more and ``val_fraction > 0``. Input order is kept."""
    groups = sorted({_group(e) for e in examples})
    random.Random(seed).shuffle(groups)
    n_val = math.ceil(val_fraction * len(groups)) if len(groups) > 1 else 0
    n_val = min(n_val, len(groups) - 1)
    held = set(groups[:n_val])
    train = [e for e in examples if _group(e) not in held]
    val = [e for e in examples if _group(e) in held]
    return train, val


def data_hash(train: Sequence[Example], val: Sequence[Example]) -> str:
    """SHA-256 of the prepared data (ids, kinds, messages, which split): for the adapter
    manifest, so an adapter names exactly the data it was trained on."""
    digest = hashlib.sha256()
    for name, part in (("train", train), ("val", val)):
        for e in part:
            row = {"split": name, "id": e.id, "kind": e.kind, "messages": list(e.messages)}
            digest.update(json.dumps(row, sort_keys=True, ensure_ascii=False).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def question_of(example: Example) -> str:
    """The question of an example: the last user turn, after ``Question:`` when it holds
    passages."""
    text = example.question
    marker = "\nQuestion: "
    return text.rsplit(marker, 1)[1] if marker in text else text


def passage_texts(examples: Iterable[Example]) -> list[str]:
    """The text of every distinct passage shown in grounded prompts (the numbered blocks
    that ``core.prompt_format.format_passages`` writes), without their header lines."""
    texts: dict[str, None] = {}
    for example in examples:
        user = example.question
        if not user.startswith("Passages:\n\n"):
            continue
        block = user[len("Passages:\n\n"):].rsplit("\n\nQuestion: ", 1)[0]
        for passage in _PASSAGE_SPLIT.split(block):
            header, _, text = passage.partition("\n")
            if _PASSAGE_HEAD.match(header) and text.strip():
                texts.setdefault(text.strip())
    return list(texts)


def save_jsonl(examples: Iterable[Example], path: Path | str) -> Path:
    """Write one example per line (UTF-8 JSON), atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8") as f:
        for e in examples:
            f.write(json.dumps(e.to_json(), ensure_ascii=False) + "\n")
    tmp.replace(path)
    return path


def load_jsonl(path: Path | str) -> list[Example]:
    """Examples saved by ``save_jsonl``. Raises ``DatasetError`` naming the first bad
    line (a saved dataset is ours: a bad line means it was damaged, so nothing is
    skipped)."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{path}: no such file")
    out = []
    with path.open(encoding="utf-8") as f:
        for number, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                out.append(Example.from_json(json.loads(line)))
            except (json.JSONDecodeError, KeyError, TypeError, DatasetError) as exc:
                raise DatasetError(f"{path}:{number}: not an example ({exc})") from exc
    return out


def _redacted(example: Example, redactor: Redactor, cache: dict, totals: Counter) -> Example:
    if not redactor.enabled:
        return example
    messages = []
    for m in example.messages:
        if m["content"] not in cache:
            cache[m["content"]] = redactor.redact(m["content"])
        content, counts = cache[m["content"]]
        totals.update(counts)
        messages.append({"role": m["role"], "content": content})
    return dataclasses.replace(example, messages=tuple(messages))


def _group(example: Example) -> str:
    return str(example.meta.get("record_id", example.id))
