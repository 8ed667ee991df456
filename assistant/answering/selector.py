"""A unit selector tuned on the company's own Q&A, and loading one to score evidence units.

Evidence-first answering scores the evidence units of the retrieved passages against the
question with ``EmbeddingScorer`` (``evidence_scoring``): the cosine of an embedder's
vectors mixed with lexical overlap. By default that embedder is the verifier's (the
bundled all-MiniLM-L6-v2). This module tunes a copy of it on the company's own questions
so the unit that answers ranks first, with the embedder-tuning machinery of
``finetune.retriever`` (sentence-transformers' trainer, ``MultipleNegativesRankingLoss``,
the no-duplicates batch plan, the versioned save under ``$ASSISTANT_HOME/embedders``):

- ``build_selector_pairs``: for each answerable Q&A record, its passages retrieved as
  serving retrieves them (hybrid, k=5) are cut into units (``split_passages``); the
  **positive** is the first unit of a gold passage (the record's ``sources``, else the
  best retrieved passage holding the answer; a gold passage retrieval missed is added
  after the retrieved ones) whose text holds the answer or an alias; the **hard
  negatives** are the other units of the same passages that do not hold it, the ones the
  current scorer ranks highest first. A record with no unit holding its answer is skipped
  and counted in the build report, as are records without a gold passage.
- ``train_selector``: fine-tunes the embedder on (question, positive, negatives) rows of
  exactly the texts ``EmbeddingScorer`` embeds (``evidence_scoring.embedded_texts``: the
  unit's text and ``path: text``, one row each), scores a held-out share of the questions
  (unit hit@1 and hit@3 under ``EmbeddingScorer``, lexical overlap included, as serving
  scores) before training and after every epoch, and saves the model as the next version
  of ``embedders/NAME`` with a manifest whose ``kind`` is ``"selector"``: named ``NAME@vN``
  it is refused as an index or citation-check embedder
  (``ingest.embedding.resolve_model_path``), and the answerer takes nothing else as a
  selector.
- ``load_selector(spec)``: ``NAME@vN``, ``NAME`` (its newest version) or the version's
  directory, as an ``Embedder`` for ``EmbeddingScorer``; ``build.build_answerer`` calls it
  for the ``answer_unit_selector`` setting and an eval setup's ``selector``.

It lives in the answering layer because the unit splitter does; ``finetune`` (below it)
provides the trainer and the store. ``assistant finetune --mode selector`` calls it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from assistant.answering.evidence import (
    EvidenceUnit,
    UnitScorer,
    split_passage,
    split_passages,
)
from assistant.answering.evidence_scoring import (
    DEFAULT_LEXICAL_WEIGHT,
    DEFAULT_PREFIX_WEIGHT,
    EmbeddingScorer,
    unit_forms,
)
from assistant.answering.segment import norm
from core.errors import ConfigError
from core.refs import RefError, format_ref, parse_ref
from finetune.pii import Redactor
from finetune.raft import (
    answer_needles,
    chunks_per_source,
    current_golds,
    golds_by_sources,
    holds_needle,
)
from finetune.records import BuildReport, DatasetError, QARecord
from finetune.registry import check_name
from finetune.retriever import check_contrastive_config
from finetune.sources import normalize
from ingest.embedding import SELECTOR_KIND

if TYPE_CHECKING:
    from finetune.retriever import RetrieverResult
    from index.searcher import Searcher
    from ingest.embedding import Embedder

logger = logging.getLogger(__name__)

KIND = SELECTOR_KIND  # the manifest's kind; a tuned index embedder's is "embedder"


@dataclass(frozen=True)
class SelectorConfig:
    """``epochs``, ``lr`` (AdamW, linear decay after ``warmup`` of the steps) and
    ``batch_size`` (rows per step; every other row's units are in-batch negatives) of the
    training; ``hard_negatives`` other units per row, the hardest first; ``val_fraction``
    of the questions held out for unit hit@1/hit@3; ``k`` passages retrieved with ``mode``
    per question, as serving retrieves them. The defaults were chosen on the acme dev
    split (``benchmarks/evidence_selection.py --selector``)."""

    epochs: int = 1
    lr: float = 2e-5
    batch_size: int = 16
    warmup: float = 0.1
    hard_negatives: int = 3
    val_fraction: float = 0.1
    k: int = 5
    mode: str = "hybrid"
    seed: int = 0

    def __post_init__(self) -> None:
        check_contrastive_config(self, ("epochs", "batch_size", "k"))
        if isinstance(self.hard_negatives, bool) or not isinstance(self.hard_negatives, int) \
                or self.hard_negatives < 0:
            raise ConfigError(f"hard_negatives must be an integer >= 0, got "
                              f"{self.hard_negatives!r}")


@dataclass(frozen=True)
class UnitPair:
    """A question and the units of its passages: ``positive`` (an index into ``units``) is
    trained on; ``answers`` are every unit holding the answer (a hit when held out, never a
    negative); ``negatives`` the hard negatives, hardest first."""

    record_id: str
    question: str
    units: tuple[EvidenceUnit, ...]
    positive: int
    answers: tuple[int, ...]
    negatives: tuple[int, ...]

    @property
    def positive_unit(self) -> EvidenceUnit:
        return self.units[self.positive]

    @property
    def negative_units(self) -> list[EvidenceUnit]:
        return [self.units[i] for i in self.negatives]


def build_selector_pairs(
    records: Sequence[QARecord], searcher: Searcher, scorer: UnitScorer,
    config: SelectorConfig | None = None, redactor: Redactor | None = None,
    public_documents: bool = False,
) -> tuple[list[UnitPair], BuildReport]:
    """One pair per answerable record with a unit holding its answer (module docstring).

    ``scorer`` ranks the hard negatives (the one serving uses: ``EmbeddingScorer`` over
    the embedder to be tuned). ``redactor`` (default: on) redacts the question and every
    unit's text and heading path; ``public_documents=True`` keeps personal-data strings
    that occur in the documents. Raises ``DatasetError`` when no pair is left.
    """
    config = config or SelectorConfig()
    redactor = redactor if redactor is not None else Redactor()
    report = BuildReport()
    answerable = [r for r in records if r.answer is not None]
    if len(answerable) < len(records):
        report.drop("no answer in the documents (no unit to rank first)",
                    len(records) - len(answerable))
    hits = (searcher.search_batch([r.question for r in answerable], k=config.k,
                                  mode=config.mode) if answerable else [])
    by_sources = golds_by_sources(answerable, searcher, chunks_per_source(searcher)) \
        if answerable else []
    raw: list[UnitPair] = []
    for record, cited, retrieved in zip(answerable, by_sources, hits, strict=True):
        needles = answer_needles(record)
        golds, how = current_golds(record, cited, retrieved)
        if not golds:
            report.drop(how or f"gold passage not found (by sources, or the answer in the "
                               f"top {config.k})")
            continue
        seen = {h.chunk_id for h in retrieved}
        missed = [g for g in golds if g.chunk_id not in seen]
        units = split_passages([*retrieved, *missed])
        gold_texts = {norm(u.text) for g in golds for u in split_passage(g)}
        answers = [i for i, u in enumerate(units) if holds_needle(needles, u.text)]
        positives = [i for i in answers if norm(units[i].text) in gold_texts]
        if not positives:
            report.drop("no unit of the gold passage holds the answer")
            continue
        holding = set(answers)
        others = [i for i in range(len(units)) if i not in holding]
        if not others:
            report.drop("no other unit to contrast the answer with")
            continue
        scores = np.asarray(scorer.score(record.question, units), dtype=np.float32)
        hardest = sorted(others, key=lambda i: (-float(scores[i]), i))
        report.gold_by[how] += 1
        report.kinds["gold passage added (not retrieved)" if missed else
                     "gold passage retrieved"] += 1
        raw.append(UnitPair(record.id, record.question, tuple(units), positives[0],
                            tuple(answers), tuple(hardest[:config.hard_negatives])))
    if public_documents and redactor.enabled:
        redactor = redactor.allowing({t for p in raw for u in p.units for t in (u.text, u.path)})
    report.redaction = redactor.description
    cache: dict[str, tuple[str, Any]] = {}

    def clean(text: str) -> str:
        if not redactor.enabled or not text:
            return text
        if text not in cache:
            cache[text] = redactor.redact(text)
        redacted, counts = cache[text]
        report.pii.update(counts)
        return redacted

    pairs, keys = [], set()
    for p in raw:
        key = (normalize(p.question), norm(p.positive_unit.text))
        if key in keys:
            report.drop("duplicate (same question and answer unit)")
            continue
        keys.add(key)
        units = tuple(replace(u, text=clean(u.text), path=clean(u.path)) for u in p.units)
        pairs.append(replace(p, question=clean(p.question), units=units))
    report.kept = len(pairs)
    if not pairs:
        reasons = ", ".join(f"{n} {r}" for r, n in report.dropped.items()) or "no input"
        raise DatasetError(f"no (question, answer unit) pairs left to train on "
                           f"({len(records)} records; dropped: {reasons})")
    return pairs, report


def training_rows(pairs: Sequence[UnitPair], hard_negatives: int,
                  prefix_weight: float = DEFAULT_PREFIX_WEIGHT,
                  ) -> tuple[dict[str, list[str]], list[tuple[str, ...]]]:
    """The trainer's columns (``anchor``, ``positive``, then ``negative_1..n``) and each
    row's batch keys: one row per pair and per form of a unit ``EmbeddingScorer(
    prefix_weight=...)`` embeds (its text, ``with_path``; ``embedded_texts``), so the
    tuned model is trained on exactly what it scores; a form that repeats the positive of
    another (a unit without a path) is one row. A pair with fewer hard negatives repeats
    its last one (its positive when it has none).

    A row's keys are its question and every form of its answer units and negatives: two
    rows sharing one never share a batch, so no row's answer is another row's negative
    (the rows of one question, one per form, are in separate batches too)."""
    forms = unit_forms(prefix_weight)
    columns: dict[str, list[str]] = {"anchor": [], "positive": []}
    for j in range(hard_negatives):
        columns[f"negative_{j + 1}"] = []
    keys: list[tuple[str, ...]] = []
    for p in pairs:
        shared = {form(p.units[i]) for form in forms for i in (*p.answers, *p.negatives)}
        done: set[str] = set()
        for form in forms:
            positive = form(p.positive_unit)
            if positive in done:
                continue
            done.add(positive)
            negatives = [form(u) for u in p.negative_units] or [positive]
            columns["anchor"].append(p.question)
            columns["positive"].append(positive)
            for j in range(hard_negatives):
                columns[f"negative_{j + 1}"].append(negatives[min(j, len(negatives) - 1)])
            keys.append((p.question, *sorted(shared)))
    return columns, keys


def unit_hits(embedder: Embedder, pairs: Sequence[UnitPair],
              lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
              prefix_weight: float = DEFAULT_PREFIX_WEIGHT) -> dict[str, float | int | None]:
    """``hit@1`` and ``hit@3``: the share of ``pairs`` whose best-scored (top three)
    units hold the answer, scored by ``EmbeddingScorer`` over ``embedder`` as serving
    scores them; ``n`` pairs. A fresh scorer each call: during training the embedder's
    model changes under it."""
    if not pairs:
        return {"hit@1": None, "hit@3": None, "n": 0}
    scorer = EmbeddingScorer(embedder, lexical_weight=lexical_weight, prefix_weight=prefix_weight)
    at1 = at3 = 0
    for p in pairs:
        scores = scorer.score(p.question, p.units)
        order = [int(i) for i in np.argsort(-scores, kind="stable")]
        at1 += order[0] in p.answers
        at3 += any(i in p.answers for i in order[:3])
    return {"hit@1": round(at1 / len(pairs), 4), "hit@3": round(at3 / len(pairs), 4),
            "n": len(pairs)}


def split_unit_pairs(pairs: Sequence[UnitPair], val_fraction: float, seed: int = 0,
                     ) -> tuple[list[UnitPair], list[UnitPair]]:
    """``finetune.retriever.split_pairs``' deterministic split by record."""
    from finetune.retriever import split_pairs

    return split_pairs(pairs, val_fraction, seed)  # type: ignore[arg-type]  # by record_id


def pairs_hash(train: Sequence[UnitPair], val: Sequence[UnitPair]) -> str:
    """SHA-256 of the pairs and their split, for the manifest."""
    digest = hashlib.sha256()
    for name, part in (("train", train), ("val", val)):
        for p in part:
            digest.update(json.dumps({"split": name, **asdict(p)}, sort_keys=True,
                                     ensure_ascii=False, default=str).encode())
            digest.update(b"\n")
    return digest.hexdigest()


def train_selector(
    train: Sequence[UnitPair], val: Sequence[UnitPair], base: str, registry: Path, name: str,
    config: SelectorConfig, data: dict | None = None, device: str = "auto",
    progress: bool = True, on_epoch: Callable[[dict], None] | None = None,
) -> RetrieverResult:
    """Fine-tune embedder ``base`` (bundled name, directory, or ``NAME@vN`` of a tuned
    one) on ``train`` and save it as the next version of ``registry/name`` with a
    ``kind: "selector"`` manifest; ``val`` is scored (``unit_hits``) before training and
    after each epoch (``on_epoch`` gets each epoch's row). ``data`` (source, build report)
    goes into the manifest. Raises ``DatasetError`` for no training pairs,
    ``RegistryError`` for a bad name, ``ConfigError`` for an embedder that does not load.
    """
    from finetune.artifacts import code_version, library_versions
    from finetune.retriever import RetrieverResult, save_version
    from finetune.retriever_training import fit, plan_batches
    from ingest.embedding import Embedder, EmbedderConfig

    check_name(name)
    if not train:
        raise DatasetError("no training pairs")
    # batch 64 for the held-out scoring; fit() trains embedder.model in place, so
    # unit_hits(embedder) scores the model as it is after each epoch
    embedder = Embedder(EmbedderConfig(model=base, device=device, batch_size=64))
    model = embedder.model
    lexical, prefix = DEFAULT_LEXICAL_WEIGHT, DEFAULT_PREFIX_WEIGHT
    columns, keys = training_rows(train, config.hard_negatives, prefix)
    plan = plan_batches(keys, config.batch_size, config.epochs, config.seed)
    steps = sum(len(b) for b in plan)
    before = unit_hits(embedder, val, lexical, prefix)

    def epoch_done(row: dict) -> None:
        logger.info("epoch %d: %s", row["epoch"], row)
        if on_epoch is not None:
            on_epoch(row)

    started = time.perf_counter()
    epochs = fit(model, columns, plan, lr=config.lr, warmup=config.warmup, seed=config.seed,
                 score=lambda: unit_hits(embedder, val, lexical, prefix), progress=progress,
                 desc=f"tuning selector {embedder.info.model_id}", on_epoch=epoch_done)
    seconds = time.perf_counter() - started
    manifest = {
        "name": name,
        "kind": KIND,
        "base_embedder": {"model_id": embedder.info.model_id, "path": embedder.info.path},
        "config": asdict(config),
        "scorer": {"lexical_weight": lexical, "prefix_weight": prefix,
                   "trained_texts": "unit text and 'path: text'" if 0 < prefix < 1 else
                   ("'path: text'" if prefix == 1 else "unit text")},
        "data": {**(data or {}), "train_pairs": len(train), "val_pairs": len(val),
                 "train_rows": len(columns["anchor"]), "data_hash": pairs_hash(train, val)},
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


# -- using one --------------------------------------------------------------------------


def resolve_selector(spec: str, registry: Path | None = None, *,
                     base_dir: Path | None = None) -> tuple[Path, dict]:
    """The directory and manifest of tuned selector ``spec``: ``NAME@vN`` (that version),
    ``NAME`` (its newest) under ``registry`` (default ``$ASSISTANT_HOME/embedders``), or a
    version's directory (a path by ``core.refs.is_path``; with ``base_dir``, relative paths
    are taken from it, not the working directory, as eval configs take theirs).

    Raises ``ConfigError`` naming ``spec`` when it is malformed, names no tuned selector
    (unknown name or version, a missing directory, a directory with no manifest) or names
    a tuned index embedder instead.
    """
    from finetune.retriever import MANIFEST, embedder_versions

    if registry is None:
        from core.settings import get_settings

        registry = get_settings().embedders_dir
    registry = Path(registry)
    what = f"unit selector {spec!r}"
    try:  # with base_dir no disk check: a relative path is taken from base_dir
        ref = parse_ref(spec, on_disk=base_dir is None)
    except RefError as exc:
        raise ConfigError(f"{what}: {exc}") from exc
    if ref is None:
        path = Path(spec).expanduser()
        if base_dir is not None and not path.is_absolute():
            path = (Path(base_dir) / path).resolve()
        if not path.is_dir():
            raise ConfigError(f"{what}: no such directory {path}")
    else:
        store = embedder_versions(registry, ref.name)
        numbers = store.numbers()
        if not numbers:
            raise ConfigError(f"{what}: nothing named {ref.name!r} under {registry} (train "
                              "one with `assistant finetune --mode selector`)")
        if ref.version is None:
            path = store.path(numbers[-1])
        elif ref.version not in numbers:
            have = ", ".join(format_ref(ref.name, n) for n in numbers)
            raise ConfigError(f"{what}: no version {ref.version} under {registry / ref.name} "
                              f"(there are {have})")
        else:
            path = store.path(ref.version)
    try:
        manifest = json.loads((path / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{what}: {path} is not a tuned selector (no {MANIFEST}; train one "
                          "with `assistant finetune --mode selector`)") from exc
    except (OSError, ValueError) as exc:
        raise ConfigError(f"{what}: unreadable {path / MANIFEST} ({exc})") from exc
    kind = manifest.get("kind") if isinstance(manifest, dict) else None
    if kind != KIND:
        raise ConfigError(f"{what}: {path} is a tuned {kind or 'unknown'} model, not a unit "
                          "selector (`assistant finetune --mode selector` makes those; an "
                          "index embedder is set with `ingest --embedder`)")
    return path, manifest


def selector_label(path: Path, manifest: dict) -> str:
    """``name@vN`` of a resolved selector (its directory's name when the manifest lacks
    them)."""
    name, version = manifest.get("name"), manifest.get("version")
    return format_ref(name, version) if name and isinstance(version, int) else Path(path).name


def load_selector(spec: str, registry: Path | None = None, *, device: str = "auto",
                  base_dir: Path | None = None) -> Embedder:
    """Tuned selector ``spec`` (``resolve_selector``) loaded as an ``Embedder`` for
    ``EmbeddingScorer``. Raises ``ConfigError`` naming ``spec`` (``resolve_selector``'s,
    or a model that does not load)."""
    from ingest.embedding import Embedder, EmbedderConfig

    path, manifest = resolve_selector(spec, registry, base_dir=base_dir)
    try:
        embedder = Embedder(EmbedderConfig(model=str(path), device=device))
    except ConfigError as exc:
        raise ConfigError(f"unit selector {spec!r}: {exc}") from exc
    logger.info("unit selector %s (%s)", selector_label(path, manifest), path)
    return embedder


def selector_scorer(selector: str | Any) -> EmbeddingScorer:
    """``EmbeddingScorer`` over ``selector``: a spec for ``load_selector`` or an already
    loaded embedder (anything with ``encode``)."""
    model = load_selector(selector) if isinstance(selector, str) else selector
    return EmbeddingScorer(model)

