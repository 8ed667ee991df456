"""Tune the embedder on the company's own questions, so the passage that answers ranks first.

The grounded adapter answers from the passages it is shown and, at 135M parameters, cites
passage [1] far more often than the gold passage sits there (the "Where citations point"
table of ``eval/reports/acme-retrieval-order-4ep``); which passage comes first is the
retriever's doing. ``build_pairs`` turns the Q&A records the adapters train on into
(question, gold passage) pairs from our own index, each with a hard negative: the
best-ranked passage that is not gold and does not hold the answer. ``train_retriever``
fine-tunes the sentence-transformers embedder on them with in-batch negatives
(``MultipleNegativesRankingLoss``, the DPR recipe), scores a held-out share of the
questions before and after every epoch (gold passage's rank among the question's
retrieved candidates), and saves the tuned embedder as a new version with a manifest
(base embedder, data hash and counts, config, metrics, code version), as adapters are.

The index must then be built again with the tuned embedder (``assistant ingest DOCS
--index NEW --embedder DIR``): vectors of two embedders never share an index.

Training is sentence-transformers' own trainer (``finetune.retriever_training``), over
batches its no-duplicates sampler plans so that no two pairs of a batch share a gold
passage (``batches``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from core.artifacts import (
    EMBEDDER_VERSIONS,
    LOCK_FILE,
    StoreLockedError,
    VersionStore,
)
from core.errors import ConfigError
from finetune.pii import Redactor
from finetune.raft import chunks_per_source, flat, gold_by_retrieval, golds_by_sources
from finetune.records import BuildReport, DatasetError, QARecord
from finetune.registry import RegistryError, check_name
from finetune.sources import normalize
from index.searcher import MODES, Searcher
from ingest.embedding import TUNED_MANIFEST

logger = logging.getLogger(__name__)

MANIFEST = TUNED_MANIFEST


@dataclass(frozen=True)
class RetrieverConfig:
    """``epochs``, ``lr`` (AdamW, linear decay after ``warmup`` of the steps) and
    ``batch_size`` (pairs per step; every other pair's passage is a negative) of the
    training; ``hard_negatives`` adds each pair's hard negative; ``val_fraction`` of the
    questions are held out to score the ranking; ``depth`` passages are retrieved with
    ``mode`` per question for hard negatives and as the candidates the held-out ones are
    ranked among."""

    epochs: int = 3
    lr: float = 5e-5
    batch_size: int = 16
    warmup: float = 0.1
    hard_negatives: bool = True
    val_fraction: float = 0.15
    depth: int = 10
    mode: str = "hybrid"
    seed: int = 0

    def __post_init__(self) -> None:
        check_contrastive_config(self, ("epochs", "batch_size", "depth"))


def check_contrastive_config(config: Any, counts: Sequence[str]) -> None:
    """The settings an in-batch contrastive run shares (this module's and the unit
    selector's): ``counts`` (names of attributes) positive integers, ``batch_size`` >= 2
    (the other rows of a batch are the negatives), ``lr`` in (0, 1), ``warmup`` and
    ``val_fraction`` in [0, 1), ``mode`` a search mode. ConfigError naming the first
    that is not."""
    for name in counts:
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ConfigError(f"{name} must be a positive integer, got {value!r}")
    if config.batch_size < 2:
        raise ConfigError("batch_size must be >= 2: the other rows of a batch are the "
                          f"negatives, got {config.batch_size}")
    if not 0 < config.lr < 1:
        raise ConfigError(f"lr must be in (0, 1), got {config.lr!r}")
    if not 0 <= config.warmup < 1:
        raise ConfigError(f"warmup must be in [0, 1), got {config.warmup!r}")
    if not 0 <= config.val_fraction < 1:
        raise ConfigError(f"val_fraction must be in [0, 1), got {config.val_fraction!r}")
    if config.mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {config.mode!r}")


@dataclass(frozen=True)
class Pair:
    """A question; its gold passages' texts: the ones its sources point at (the first is
    trained on), then retrieved ones that hold the answer (a hit when held out, never a
    negative); a hard negative (None when every retrieved passage is gold or holds the
    answer); and the retrieved candidates it is ranked among when held out."""

    record_id: str
    question: str
    golds: tuple[str, ...]
    negative: str | None
    candidates: tuple[str, ...]

    @property
    def positive(self) -> str:
        return self.golds[0]


@dataclass
class RetrieverResult:
    """Where the tuned embedder was saved, its version, and its manifest."""

    path: Path
    version: int
    manifest: dict


def build_pairs(
    records: Sequence[QARecord], searcher: Searcher, config: RetrieverConfig,
    redactor: Redactor, public_documents: bool = False,
) -> tuple[list[Pair], BuildReport]:
    """One pair per answerable record whose gold passage is found (by its ``sources``,
    else the best retrieved passage holding the answer), redacted, without duplicates.

    ``redactor`` is required (``Redactor(enabled=False)`` to turn redaction off, which the
    report says); ``public_documents=True`` keeps personal-data strings that occur in the
    passages (the company's own contact details). Raises ``DatasetError`` when no pair is
    left.
    """
    report = BuildReport()
    answerable = [r for r in records if r.answer is not None]
    if len(answerable) < len(records):
        report.drop("no answer in the documents (no passage to rank first)",
                    len(records) - len(answerable))
    hits = (searcher.search_batch([r.question for r in answerable], k=config.depth,
                                  mode=config.mode) if answerable else [])
    by_sources = golds_by_sources(answerable, searcher, chunks_per_source(searcher))
    raw = []
    for record, found, retrieved in zip(answerable, by_sources, hits, strict=True):
        golds, how = found, "sources"
        if not golds:
            golds, how = gold_by_retrieval(record.answer, retrieved), "retrieval"
        if not golds:
            report.drop(f"gold passage not found (by sources, or the answer in the top "
                        f"{config.depth})")
            continue
        report.gold_by[how] += 1
        gold_ids = {g.chunk_id for g in golds}
        others = [h for h in retrieved if h.chunk_id not in gold_ids]
        holding = [h for h in others if flat(record.answer) in flat(h.text)]
        negative = next((h.text for h in others if h not in holding), None)
        raw.append(Pair(record.id, record.question,
                        tuple(dict.fromkeys(g.text for g in [*golds, *holding])), negative,
                        tuple(h.text for h in retrieved)))
    if public_documents and redactor.enabled:
        redactor = redactor.allowing(
            {t for p in raw for t in (*p.golds, *p.candidates, p.negative) if t})
    report.redaction = redactor.description
    pairs, seen, cache = [], set(), {}

    def clean(text: str | None) -> str | None:
        if text is None or not redactor.enabled:
            return text
        if text not in cache:
            cache[text] = redactor.redact(text)
        redacted, counts = cache[text]
        report.pii.update(counts)
        return redacted

    for p in raw:
        key = (normalize(p.question), p.positive)
        if key in seen:
            report.drop("duplicate (same question and gold passage)")
            continue
        seen.add(key)
        pairs.append(Pair(p.record_id, clean(p.question), tuple(clean(t) for t in p.golds),
                          clean(p.negative), tuple(clean(t) for t in p.candidates)))
    report.kinds["retrieval"] = report.kept = len(pairs)
    if not pairs:
        reasons = ", ".join(f"{n} {r}" for r, n in report.dropped.items()) or "no input"
        raise DatasetError(f"no (question, passage) pairs left to train on ({len(records)} "
                           f"records; dropped: {reasons})")
    return pairs, report


def split_pairs(pairs: Sequence[Pair], val_fraction: float, seed: int = 0,
                ) -> tuple[list[Pair], list[Pair]]:
    """Deterministic split by record: ``ceil(val_fraction * records)`` records held out
    (at least one when there are two or more and ``val_fraction > 0``)."""
    groups = sorted({p.record_id for p in pairs})
    random.Random(seed).shuffle(groups)
    n_val = min(math.ceil(val_fraction * len(groups)), len(groups) - 1) if len(groups) > 1 else 0
    held = set(groups[:n_val])
    return ([p for p in pairs if p.record_id not in held],
            [p for p in pairs if p.record_id in held])


def pairs_hash(train: Sequence[Pair], val: Sequence[Pair]) -> str:
    """SHA-256 of the pairs and their split, for the manifest."""
    digest = hashlib.sha256()
    for name, part in (("train", train), ("val", val)):
        for p in part:
            digest.update(json.dumps({"split": name, **asdict(p)}, sort_keys=True,
                                     ensure_ascii=False).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def batches(pairs: Sequence[Pair], size: int, epochs: int = 1, seed: int = 0,
            ) -> list[list[list[int]]]:
    """Each epoch's batches of indices into ``pairs``, shuffled afresh every epoch, in
    which no two pairs share a gold passage (the answer-holding ones too) or a question:
    another question on the same passage would otherwise be trained as a negative of it.
    A pair that clashes waits for a later batch. sentence-transformers'
    ``NoDuplicatesBatchSampler`` keyed by those texts (the columns trained on hold only
    the first gold). ``ValueError`` for no pairs."""
    from finetune.retriever_training import plan_batches

    return plan_batches([(p.question, *p.golds) for p in pairs], size, epochs, seed)


def rank_scores(model: Any, pairs: Sequence[Pair]) -> dict[str, float | int]:
    """``hit@1`` and ``mrr`` of each pair's first-ranked gold passage among its gold
    passages and retrieved candidates, by cosine under ``model``; ``n`` pairs."""
    import numpy as np

    if not pairs:
        return {"hit@1": None, "mrr": None, "n": 0}
    texts = sorted({t for p in pairs for t in (*p.golds, *p.candidates)})
    where = {t: i for i, t in enumerate(texts)}
    kw = {"normalize_embeddings": True, "convert_to_numpy": True, "show_progress_bar": False}
    passages = model.encode(texts, **kw)
    questions = model.encode([p.question for p in pairs], **kw)
    hits, rr = 0, 0.0
    for p, q in zip(pairs, questions, strict=True):
        pool = list(dict.fromkeys((*p.golds, *p.candidates)))
        scores = passages[[where[t] for t in pool]] @ q
        order = np.argsort(-scores, kind="stable")
        rank = next(r for r, i in enumerate(order) if pool[i] in p.golds)
        hits += rank == 0
        rr += 1 / (rank + 1)
    return {"hit@1": round(hits / len(pairs), 4), "mrr": round(rr / len(pairs), 4),
            "n": len(pairs)}


def train_retriever(
    train: Sequence[Pair], val: Sequence[Pair], base: str, registry: Path, name: str,
    config: RetrieverConfig, data: dict | None = None, device: str = "auto",
    progress: bool = True, on_epoch: Callable[[dict], None] | None = None,
) -> RetrieverResult:
    """Fine-tune embedder ``base`` (bundled name, directory or hub id) on ``train`` and
    save it as the next version of ``registry/name``; ``val`` is scored before training
    and after each epoch (``on_epoch`` gets each epoch's row). ``data`` (source, build
    report) goes into the manifest. Training is sentence-transformers' trainer with
    ``MultipleNegativesRankingLoss`` over ``batches``' plan; nothing is asked of a hub.
    Raises ``DatasetError`` for no training pairs, ``RegistryError`` for a bad name,
    ``ConfigError`` for an embedder that does not load."""
    from finetune.artifacts import code_version, library_versions
    from finetune.retriever_training import fit
    from ingest.embedding import Embedder, EmbedderConfig

    check_name(name)
    if not train:
        raise DatasetError("no training pairs")
    embedder = Embedder(EmbedderConfig(model=base, device=device))
    model = embedder.model
    plan = batches(train, config.batch_size, config.epochs, config.seed)
    steps = sum(len(b) for b in plan)
    columns = {"anchor": [p.question for p in train], "positive": [p.positive for p in train]}
    if config.hard_negatives:  # a pair without one repeats its positive
        columns["negative"] = [p.negative or p.positive for p in train]
    before = rank_scores(model, val)

    def epoch_done(row: dict) -> None:
        logger.info("epoch %d: %s", row["epoch"], row)
        if on_epoch is not None:
            on_epoch(row)

    started = time.perf_counter()
    epochs = fit(model, columns, plan, lr=config.lr, warmup=config.warmup, seed=config.seed,
                 score=lambda: rank_scores(model, val), progress=progress,
                 desc=f"tuning {embedder.info.model_id}", on_epoch=epoch_done)
    seconds = time.perf_counter() - started
    manifest = {
        "name": name,
        "kind": "embedder",
        "base_embedder": {"model_id": embedder.info.model_id, "path": embedder.info.path},
        "config": asdict(config),
        "data": {**(data or {}), "train_pairs": len(train), "val_pairs": len(val),
                 "data_hash": pairs_hash(train, val)},
        "metrics": {"val_before": before, "epochs": epochs,
                    "val_after": epochs[-1] if epochs else None,
                    "train_runtime_s": round(seconds, 1), "steps": steps},
        "code_version": code_version(),
        "libraries": library_versions(),
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    path, version = save_version(model, manifest, Path(registry), name)
    manifest["version"] = version
    return RetrieverResult(path=path, version=version, manifest=manifest)


_PARTIAL_PREFIX = ".partial-"  # .partial-PID-HEX: a save in progress, or a dead one's
_LOCK_TIMEOUT_S = 60.0


def embedder_versions(registry: Path, name: str) -> VersionStore:
    """The version folders of tuned embedder ``name`` under ``registry``; their writer
    lock is ``registry/.lock``. ``RegistryError`` for an unsafe name."""
    registry = Path(registry)
    return VersionStore(registry / check_name(name), EMBEDDER_VERSIONS, _PARTIAL_PREFIX,
                        lock_path=registry / LOCK_FILE)


def save_version(model: Any, manifest: dict, registry: Path, name: str) -> tuple[Path, int]:
    """Write ``model`` and ``manifest`` to a hidden ``.partial-*`` directory, then, under
    the registry's lock, fsync it and rename it to the next free ``registry/name/vNNNN``
    in one step: a killed run leaves no half-written version (only a ``.partial-*`` the
    next save removes). Returns the path and version number. Raises ``RegistryError``
    for an unsafe name or when another save holds the lock for a minute; the model's
    own save errors propagate, leaving nothing behind."""
    store = embedder_versions(registry, name)
    store.clean_temps()  # left by saves whose process died
    tmp = store.new_temp()
    try:
        model.save(str(tmp))
        lock = store.lock(_LOCK_TIMEOUT_S)
        try:
            lock.acquire()
        except StoreLockedError as exc:
            raise RegistryError(f"embedder {name!r}: {store.lock_path} is held by another "
                                "save; retry when it is done") from exc
        try:
            version = store.next_number()
            (tmp / MANIFEST).write_text(json.dumps({**manifest, "version": version}, indent=2)
                                        + "\n")
            target = store.publish(tmp, version)
        finally:
            lock.release()
    except BaseException:
        store.discard(tmp)
        raise
    logger.info("saved embedder %s v%d at %s", name, version, target)
    return target, version


def list_versions(registry: Path, name: str | None = None) -> list[dict]:
    """The manifests (plus ``path``) of ``registry/name``'s versions, or of every name's
    when ``name`` is None, by name and then version."""
    registry = Path(registry)
    if name is None:
        names = sorted(p.name for p in registry.iterdir()
                       if p.is_dir() and not p.name.startswith(".")) \
            if registry.is_dir() else []
        return [v for n in names for v in list_versions(registry, n)]
    store = embedder_versions(registry, name)
    out = []
    for number in store.numbers():
        path = store.path(number)
        try:
            out.append({**json.loads((path / MANIFEST).read_text()), "path": str(path)})
        except (OSError, ValueError) as exc:
            logger.warning("%s: unreadable manifest (%s)", path, exc)
    return out
