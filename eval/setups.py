"""The compared setups: config in, objects that answer a question out.

Every setup is an ``EvalSetup`` with ``answer(question) -> Answer`` (the public answer
record) and ``answer_batch(questions) -> list[Trace]`` for the harness. Its kind follows
from two switches: retrieval on/off and an adapter or none, giving the four of the issue
(base, RAG-only, fine-tune-only, combined); more setups (another k, mode, reranker or base
model) are more ``[setups.NAME]`` tables.

The base model is loaded once per distinct base and shared through one ``AdapterSet``;
adapters are resolved (registry name, ``name@vN`` or directory) before anything is
loaded, so a missing one fails the run before its first question.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.answering.abstain import AbstainConfig
from assistant.answering.answer import AnswerConfig, AnswerOptions, Trace
from assistant.answering.build import LoadedBase, build_answerer, load_generator
from assistant.answering.citations import CitationConfig, CitationVerifier
from assistant.answering.judge import UnitJudge
from assistant.answering.records import Answer, Message
from core.errors import ConfigError
from core.progress import Progress
from core.refs import RefError, parse_ref
from eval.config import EvalConfig, EvalConfigError, SetupConfig
from eval.questions import EvalQuestion
from index.records import DocRecord, Passage

if TYPE_CHECKING:
    from ingest.embedding import Embedder

logger = logging.getLogger(__name__)

ADAPTER_CONFIG = "adapter_config.json"


class MissingAdapterError(EvalConfigError):
    """A setup's adapter cannot be found: unknown name/version or no adapter directory."""


@dataclass(frozen=True)
class ResolvedAdapter:
    """Where a setup's adapter spec points: ``path``, and the registry ``version`` if any."""

    spec: str
    path: Path
    registry_name: str | None = None
    version: int | None = None
    manifest: dict = field(default_factory=dict, repr=False, compare=False)

    def to_json(self) -> dict:
        return {"spec": self.spec, "path": str(self.path), "registry_name": self.registry_name,
                "version": self.version,
                "base_model_id": self.manifest.get("base_model_id"),
                "created_at": self.manifest.get("created_at")}


def resolve_adapter(spec: str, registry_root: Path, base_dir: Path) -> ResolvedAdapter:
    """``spec`` -> adapter directory. A spec that is a path by ``core.refs``' rule without
    the disk check (a ``/``, or starting with ``.``/``~``) is a directory, relative to
    ``base_dir``; ``name@vN`` a registry version; else the registry's promoted version.
    Raises ``MissingAdapterError``."""
    try:
        # No disk check: a relative path is taken from base_dir, not the working directory.
        ref = parse_ref(spec, on_disk=False)
    except RefError as exc:
        raise MissingAdapterError(f"adapter {spec!r}: {exc}") from exc
    if ref is None:
        path = Path(spec).expanduser()
        path = path if path.is_absolute() else (base_dir / path).resolve()
        if not (path / ADAPTER_CONFIG).is_file():
            raise MissingAdapterError(f"adapter {spec!r}: {path} holds no {ADAPTER_CONFIG}")
        return ResolvedAdapter(spec, path)
    from finetune.registry import AdapterRegistry, RegistryError

    try:
        found = AdapterRegistry(registry_root).get(ref.name, ref.version)
    except RegistryError as exc:
        raise MissingAdapterError(f"adapter {spec!r}: {exc}") from exc
    return ResolvedAdapter(spec, found.path, found.name, found.version, found.manifest)


def resolve_adapters(config: EvalConfig) -> tuple[dict[str, ResolvedAdapter | None],
                                                  dict[str, str]]:
    """Each setup's adapter (None for none) and, with ``skip_missing``, the setups left out
    with the reason. Raises ``MissingAdapterError`` naming the setup otherwise."""
    from core.settings import get_settings

    registry = config.registry or get_settings().adapters_dir
    base_dir = config.path.parent if config.path.is_file() else config.path
    resolved: dict[str, ResolvedAdapter | None] = {}
    skipped: dict[str, str] = {}
    for setup in config.setups:
        if setup.adapter is None:
            resolved[setup.name] = None
            continue
        try:
            resolved[setup.name] = resolve_adapter(setup.adapter, registry, base_dir)
        except MissingAdapterError as exc:
            if not config.run.skip_missing:
                raise MissingAdapterError(f"setup {setup.name!r}: {exc} (set [run] "
                                          "skip_missing = true to skip it)") from exc
            logger.warning("skipping setup %s: %s", setup.name, exc)
            skipped[setup.name] = str(exc)
    return resolved, skipped


# -- passages -------------------------------------------------------------------------------


class GoldPassages:
    """A searcher stand-in that returns each question's gold contexts (the oracle)."""

    def __init__(self, questions: Sequence[EvalQuestion]) -> None:
        self._by_text = {" ".join(q.question.split()): q.contexts for q in questions}

    def search(self, query: str, k: int = 5, mode: str = "hybrid",
               sources: Sequence[str] | None = None) -> list[Passage]:
        return list(self._by_text.get(" ".join(query.split()), ()))[:k]

    def search_batch(self, queries: Sequence[str], k: int = 5, mode: str = "hybrid",
                     sources: Sequence[str] | None = None) -> list[list[Passage]]:
        return [self.search(q, k, mode, sources) for q in queries]

    def close(self) -> None:
        pass


def build_context_index(questions: Sequence[EvalQuestion], index_dir: Path,
                        embedder: Embedder, progress: Progress = False) -> int:
    """Index every question's gold contexts (one document per question, one chunk per
    context) at ``index_dir``; an index already holding exactly these is reused. Returns
    how many documents were embedded."""
    from core.errors import IndexNotFoundError
    from index import IndexWriter, Searcher
    from ingest.records import Chunk

    docs: dict[str, tuple[DocRecord, list[Chunk], list[str]]] = {}
    for q in questions:
        if not q.contexts or q.contexts[0].source in docs:
            continue
        texts = [p.text for p in q.contexts]
        joined = "\n\n".join(texts)
        chunks, start = [], 0
        for p in q.contexts:
            chunks.append(Chunk(chunk_id=p.chunk_id, doc_id=p.doc_id, source=p.source,
                                text=p.text, start=start, end=start + len(p.text),
                                heading=p.heading, title=p.title))
            start += len(p.text) + 2
        digest = hashlib.sha256(joined.encode()).hexdigest()
        record = DocRecord(doc_id=q.contexts[0].doc_id, source=q.contexts[0].source,
                           content_hash=digest, size=len(joined.encode()), mtime=0.0,
                           n_chunks=len(chunks), title=q.contexts[0].title)
        docs[record.source] = (record, chunks, texts)
    if not docs:
        raise EvalConfigError("[corpus] kind = 'contexts': the questions carry no contexts")
    try:
        searcher = Searcher(index_dir, embedder=embedder)
        held = {(d.source, d.content_hash) for d in searcher.documents()}
        searcher.close()
        if held == {(r.source, r.content_hash) for r, _, _ in docs.values()}:
            return 0
    except IndexNotFoundError:
        pass
    with IndexWriter.open(Path(index_dir), embedder.info) as writer:
        previous = writer.previous_documents()
        todo = [d for d in docs.values()
                if d[0].source not in previous
                or previous[d[0].source].content_hash != d[0].content_hash]
        texts = [t for _, _, ts in todo for t in ts]
        vectors = embedder.encode(texts, progress=progress) if texts else None  # (n, dim)
        row = 0
        fresh = {d[0].source for d in todo}
        for record, chunks, _ in docs.values():
            if record.source in fresh:
                writer.add_document(record, chunks, vectors[row: row + len(chunks)])
                row += len(chunks)
            else:
                writer.keep_document(record.source)
        writer.commit()
    return len(todo)


def open_searcher(config: EvalConfig, questions: Sequence[EvalQuestion], embedder: Embedder,
                  index_dir: Path, reranker: Path | None = None, progress: Progress = False):
    """The passage source of the retrieval setups for ``[corpus]``'s kind, built or
    refreshed first where the kind says so (``docs``: incremental ingest)."""
    from index import Searcher

    kind = config.corpus.kind
    if kind == "gold":
        return GoldPassages(questions)
    if kind == "docs":
        from index.build import ingest

        report = ingest([config.corpus.docs], index_dir, progress=progress, embedder=embedder)
        logger.info("index %s: version %s, %d chunks embedded, %d skipped files",
                    index_dir, report.version, report.chunks_embedded, len(report.skipped))
    elif kind == "contexts":
        build_context_index(questions, index_dir, embedder, progress)
    elif kind == "beir":
        from eval.beir import load_beir
        from eval.retrieval import build_index

        build_index(load_beir(config.corpus.beir, "test"), index_dir, embedder,
                    progress=progress)
    rerank = None
    if reranker is not None:
        from index.rerank import CrossEncoderReranker

        rerank = CrossEncoderReranker(reranker)
    return Searcher(index_dir, embedder=embedder, reranker=rerank)


# -- setups ---------------------------------------------------------------------------------


class Recording:
    """A ``Generator`` around another that keeps what each ``generate_many`` returned, so
    batched answers still come with the raw reply and prompt (``take()`` empties it)."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.model_id = inner.model_id
        self.context_window = inner.context_window
        self._log: list[tuple[list, object]] = []

    def __getattr__(self, name):  # count_tokens, prompt_tokens, stream
        return getattr(self.inner, name)

    def generate(self, messages, config, adapter=None):
        return self.generate_many([messages], config, adapter)[0]

    def generate_many(self, batch, config, adapter=None):
        results = self.inner.generate_many(batch, config, adapter)
        self._log.extend(zip([list(m) for m in batch], results, strict=True))
        return results

    def take(self) -> list[tuple[list, object]]:
        log, self._log = self._log, []
        return log


class EvalSetup:
    """One compared setup: ``answer(question) -> Answer`` and, for the harness,
    ``answer_batch`` (traces with raw output and citation checks) and ``retrieve``."""

    def __init__(self, config: SetupConfig, generator, verifier: CitationVerifier,
                 answer_config: AnswerConfig, max_new_tokens: int, adapter_name: str | None,
                 searcher=None, selector: Embedder | None = None,
                 judge: UnitJudge | None = None) -> None:
        self.config = config
        self.name = config.name
        self.searcher = searcher
        self.verifier = verifier
        self.generator = Recording(generator)
        self.options = AnswerOptions(k=config.k, mode=config.mode, adapter=adapter_name,
                                     max_new_tokens=max_new_tokens)
        if config.retrieval and searcher is None:
            raise EvalConfigError(f"setup {config.name!r} uses retrieval but has no index")
        self.answerer = build_answerer(self.generator, searcher if config.retrieval else None,
                                       verifier=verifier, config=answer_config,
                                       selector=selector, judge=judge)

    def answer(self, question: str) -> Answer:
        """The answer record for ``question`` under this setup."""
        return self.answerer.answer(question, (), self.options)

    def answer_batch(self, questions: Sequence[str],
                     histories: Sequence[Sequence[tuple[str, str]]] | None = None,
                     ) -> list[Trace]:
        """Answer ``questions`` (each after its ``histories`` turns, ``(role, content)``)
        generating them together; each ``Trace`` holds the prompt, raw reply and
        (retrieval setups) the citation check of that reply."""
        turns = [[Message(role, content) for role, content in h]  # type: ignore[arg-type]
                 for h in (histories or [()] * len(questions))]
        if len(questions) == 1:
            self.generator.take()
            return [self.answerer.answer_with_trace(questions[0], turns[0], self.options)]
        self.generator.take()
        answers = self.answerer.answer_many(list(questions), self.options, turns)
        log = iter(self.generator.take())
        traces = []
        for answer in answers:
            # Answers abstained before generation carry zero prompt tokens; the others
            # were generated in order.
            if not answer.usage.get("prompt_tokens"):
                traces.append(Trace(answer))
                continue
            messages, generation = next(log)
            verification = None
            if self.config.retrieval:
                verification = self.verifier.verify(generation.text, list(answer.passages))
            traces.append(Trace(answer, tuple(messages), generation.text, verification))
        return traces

    def retrieve(self, questions: Sequence[str], k: int) -> list[list[Passage]]:
        """The top ``k`` passages for each question (for retrieval metrics), or empty lists
        for a closed-book setup."""
        if not self.config.retrieval:
            return [[] for _ in questions]
        return self.searcher.search_batch(list(questions), k=k, mode=self.config.mode)


@dataclass
class Models:
    """Base models loaded on demand, once each, with their shared ``AdapterSet``."""

    device: str
    dtype: str
    loaded: dict[str, LoadedBase] = field(default_factory=dict)

    def get(self, base: str) -> LoadedBase:
        """``(loaded, adapters, generator)`` for ``base``, loaded on first use."""
        if base not in self.loaded:
            from assistant.answering.models import ModelConfig

            logger.info("loading base model %s", base)
            self.loaded[base] = load_generator(
                ModelConfig(base=base, device=self.device, dtype=self.dtype))
        return self.loaded[base]

    def adapter(self, base: str, resolved: ResolvedAdapter) -> str:
        """Load ``resolved`` onto ``base`` (once) and return its name in the set."""
        _, adapters, _ = self.get(base)
        name = resolved.spec
        if name not in adapters.names():
            adapters.add(name, resolved.path)
        return name


def verifier_embedder(model: str | None, corpus_embedder: Embedder) -> Embedder:
    """The embedder for the citation check: ``model`` (``[answer] verifier_embedder``) when
    set and not the corpus embedder, else the corpus embedder."""
    from ingest.embedding import embedder_unless_loaded

    return embedder_unless_loaded(model, corpus_embedder)


def build_setups(config: EvalConfig, setups: Sequence[SetupConfig],
                 adapters: dict[str, ResolvedAdapter | None], models: Models,
                 embedder: Embedder, searchers: dict) -> dict[str, EvalSetup]:
    """An ``EvalSetup`` per setup config; ``searchers`` maps a reranker path (or None) to
    an open searcher for the retrieval setups."""
    answer = config.answer
    answer_config = AnswerConfig(
        abstain=AbstainConfig(min_retrieval_score=answer.min_retrieval_score,
                              min_supported_fraction=answer.min_supported_fraction),
        temperature=answer.temperature, corpus_names=answer.corpus_names)
    verifier = CitationVerifier(verifier_embedder(answer.verifier_embedder, embedder),
                                CitationConfig(min_support=answer.min_support))
    selectors = _selectors(config, setups)
    judges: dict[tuple[str, float], UnitJudge] = {}  # one model per (judge, min_p)
    out = {}
    for setup in setups:
        base = setup.base or config.model.base
        _, _, generator = models.get(base)
        resolved = adapters.get(setup.name)
        name = models.adapter(base, resolved) if resolved is not None else None
        searcher = searchers.get(setup.reranker) if setup.retrieval else None
        setup_answer = replace(answer_config, evidence_first=setup.evidence_first,
                               extract_first=setup.extract_first,
                               generate=setup.generate)
        judge = None
        if setup.judge is not None:
            key = (setup.judge, setup.judge_min_p)
            judge = judges.setdefault(key, UnitJudge(setup.judge, setup.judge_min_p,
                                                     device=config.model.device))
        out[setup.name] = EvalSetup(setup, generator, verifier, setup_answer,
                                    config.run.max_new_tokens, name, searcher,
                                    selectors.get(setup.selector), judge)
    return out


def _selectors(config: EvalConfig, setups: Sequence[SetupConfig]) -> dict[str, Embedder]:
    """Each distinct ``selector`` of ``setups`` loaded once (``selector.load_selector``,
    relative paths from the config's folder). Raises ``EvalConfigError`` naming the setup
    for one that is unknown, missing or not a selector."""
    from assistant.answering.selector import load_selector

    base_dir = config.path.parent if config.path.is_file() else config.path
    out: dict[str, Embedder] = {}
    for setup in setups:
        if setup.selector is None or setup.selector in out:
            continue
        try:
            out[setup.selector] = load_selector(setup.selector, device=config.model.device,
                                                base_dir=base_dir)
        except ConfigError as exc:
            raise EvalConfigError(f"[setups.{setup.name}] {exc}") from exc
    return out
