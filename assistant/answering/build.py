"""Build an answerer from its parts: base model, adapters, generator, searcher, checker.

Every place that answers (``assistant ask`` and ``mcp``, the server, the eval setups)
assembles the same parts, in small steps it can interleave with its own (the server wraps
the generator in a batcher and may wait for an index; the eval shares one base model
across setups and records what the generator returns):

- ``load_generator(ModelConfig)``: the base model, an ``AdapterSet`` over it and a
  ``LocalGenerator`` through that set (``LoadedBase``); with ``lazy`` (what ``ask``,
  ``mcp`` and the server pass when ``generates(settings)`` is false) the model is found
  at once but its weights load on first need (``models.LazyModel``);
- ``load_adapter(adapters, spec)``: one adapter by directory, ``name`` (the registry's
  promoted version) or ``name@vN`` (``core.refs``), served under ``name@vN``;
- ``open_index(index_dir)``: the searcher and the embedder the index was built with;
- ``build_answerer(generator, searcher, ...)``: a ``RagAnswerer`` over a searcher (its
  evidence units scored by a tuned unit selector when one is set), or a
  ``ClosedBookAnswerer`` without one.

Heavy modules (torch, transformers, peft) load when a function runs, not on import.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from core.errors import IndexNotFoundError
from core.refs import format_ref, parse_ref

if TYPE_CHECKING:
    from assistant.answering.adapters import AdapterSet
    from assistant.answering.answer import (
        AnswerConfig,
        ClosedBookAnswerer,
        LocalGenerator,
        RagAnswerer,
    )
    from assistant.answering.citations import CitationVerifier
    from assistant.answering.generation import Generator
    from assistant.answering.judge import UnitJudge
    from assistant.answering.models import LazyModel, LoadedModel, ModelConfig
    from core.settings import Settings
    from index.searcher import Searcher
    from ingest.embedding import Embedder

logger = logging.getLogger(__name__)


class LoadedBase(NamedTuple):
    """A base model ready to answer: the model, the adapter set over it, and the
    generator that generates through that set (so adapters added later are usable)."""

    loaded: LoadedModel | LazyModel
    adapters: AdapterSet
    generator: LocalGenerator


def load_generator(config: ModelConfig, settings: Settings | None = None, *,
                   lazy: bool = False) -> LoadedBase:
    """Load ``config``'s base model (converting a GGUF once into ``settings.models_dir``)
    with an empty ``AdapterSet`` and a ``LocalGenerator`` through it.

    With ``lazy`` (for answerers that may never generate: ``lazy=not generates(settings)``)
    the model is resolved and its tokenizer loaded now, which is all counting tokens
    needs, and the weights on first need, once (``models.LazyModel``): a generation, or
    an adapter added to the set. Raises ``ModelLoadError`` when the model cannot be found
    or loaded (lazily: found, or its tokenizer loaded), ``ConfigError`` for a bad device
    or dtype.
    """
    from assistant.answering.adapters import AdapterSet
    from assistant.answering.answer import LocalGenerator
    from assistant.answering.models import lazy_base, load_base

    loaded = lazy_base(config, settings) if lazy else load_base(config, settings)
    adapters = AdapterSet(loaded)
    return LoadedBase(loaded, adapters, LocalGenerator(adapters))


def load_adapter(adapters: AdapterSet, spec: str, registry_root: Path | None = None) -> str:
    """Load adapter ``spec`` into ``adapters`` and return the name it is served under.

    ``spec`` is a directory (a path by ``core.refs.is_path``: a separator, a leading
    ``.``/``~``, or an existing file or folder), served under the folder's name (a
    registry's version folder, ``.../support/v0001``, as ``support@v1``); or
    ``name`` (the promoted version) or ``name@vN`` in the registry at ``registry_root``
    (default ``$ASSISTANT_HOME/adapters``), served as ``name@vN``. Raises ``RefError``
    for a malformed spec, ``RegistryError`` for an unknown name or version,
    ``AdapterError`` for a directory that holds no adapter for this base.
    """
    ref = parse_ref(spec)
    if ref is None:
        path = Path(spec)
        folder = path.expanduser().resolve()
        name = folder.name
        if (version := re.fullmatch(r"v(\d+)", name)) and folder.parent.name:
            # a registry's version folder (".../adapters/support/v0001"): its name@vN
            name = format_ref(folder.parent.name, int(version.group(1)))
        adapters.add(name, path)
        return name
    from core.settings import get_settings
    from finetune.registry import AdapterRegistry

    registry = AdapterRegistry(registry_root if registry_root is not None
                               else get_settings().adapters_dir)
    found = registry.get(ref.name, ref.version)
    label = format_ref(found.name, found.version)
    adapters.add(label, found.path)
    return label


_NOTED: set[str] = set()  # missing-index messages already logged as warnings


def _note_missing(message: str) -> None:
    """A warning the first time, then debug: a server retries every few seconds while it
    waits for an index, and one line says it."""
    if message in _NOTED:
        logger.debug(message)
        return
    _NOTED.add(message)
    logger.warning(message)


def open_index(index_dir: Path | None, embedder: Embedder | None = None, *,
               required: bool = False) -> tuple[Searcher | None, Embedder | None]:
    """``(searcher, embedder)`` for ``index_dir``.

    Without an ``embedder``, the one the index was built with is loaded (from its
    manifest) for the searcher and returned, so the citation checker can share it. When
    nothing is published there yet (or ``index_dir`` is None), returns ``(None,
    embedder)``, or with ``required`` raises ``IndexNotFoundError``; ``IndexMismatchError``
    when ``embedder`` is not the index's.
    """
    if index_dir is None:
        if required:
            raise IndexNotFoundError("no index given")
        return None, embedder
    from index.searcher import Searcher

    try:
        searcher = Searcher(Path(index_dir), embedder=embedder)
    except IndexNotFoundError as exc:
        if required:
            raise
        _note_missing(f"{exc}; no searcher until an index is published")
        return None, embedder
    if embedder is None:
        from ingest.embedding import Embedder, EmbedderConfig

        model = searcher.manifest.embedder.load_name()
        searcher.close()  # reopened below with the embedder, which checks it is the index's
        embedder = Embedder(EmbedderConfig(model=model))
        searcher = Searcher(Path(index_dir), embedder=embedder)
    return searcher, embedder


def generates(settings: Settings) -> bool:
    """Whether answerers built from ``settings`` may ask the model for an answer:
    ``answer_generate`` when set; unset, only when answering over whole passages
    (``answer_evidence_first`` false), so evidence-first answering extracts or declines."""
    if settings.answer_generate is not None:
        return settings.answer_generate
    return not settings.answer_evidence_first


def answer_config(settings: Settings) -> AnswerConfig:
    """The ``AnswerConfig`` that ``settings`` ask for: ``answer_evidence_first``,
    ``generates(settings)`` and the corpus names, the rest at their defaults."""
    from assistant.answering.answer import AnswerConfig

    return AnswerConfig(evidence_first=settings.answer_evidence_first,
                        generate=generates(settings), corpus_names=settings.corpus_names)


def warn_unused_adapters(what: str, settings: Settings) -> bool:
    """Log a warning that ``what`` (adapters being loaded or served) will never answer,
    when ``settings`` make answers by extraction only; returns whether it warned."""
    if generates(settings):
        return False
    logger.warning("%s, but answers are extracted from the documents or declined, so no "
                   "adapter writes one: set ASSISTANT_ANSWER_GENERATE=true to let the model "
                   "answer what extraction cannot", what)
    return True


def build_answerer(generator: Generator, searcher: Searcher | None = None, *,
                   embedder: Embedder | None = None, verifier: CitationVerifier | None = None,
                   config: AnswerConfig | None = None,
                   selector: str | Embedder | None = None,
                   judge: UnitJudge | None = None) -> RagAnswerer | ClosedBookAnswerer:
    """The answerer over ``generator``.

    With a ``searcher``: a ``RagAnswerer`` whose citations ``verifier`` checks (default: a
    ``CitationVerifier`` over ``embedder``; pass one ``verifier`` to several answerers to
    share its cache). Without one: a ``ClosedBookAnswerer``, the model alone. ``config``
    defaults to ``answer_config(get_settings())``: on the default evidence-first path,
    extract or decline.

    ``selector`` scores the evidence units: a unit selector tuned by ``assistant finetune
    --mode selector`` (``NAME@vN``, ``NAME`` or its directory, ``selector.load_selector``)
    or one already loaded; without one, the verifier's embedder does. When ``config`` is
    None too, the ``answer_unit_selector`` setting is the default (a caller passing its
    own config, as the eval does, passes its own selector). ``judge`` picks a unit where
    extraction declines (``judge.UnitJudge``); with ``config`` None too, the
    ``answer_unit_judge`` setting makes one (loaded on first use). Raises ``ConfigError`` when a
    searcher comes with neither a verifier nor an embedder, or for a selector that is
    unknown, missing or not a selector (the message names it).
    """
    from assistant.answering.answer import ClosedBookAnswerer, RagAnswerer
    from core.settings import get_settings

    if config is None:
        settings = get_settings()
        config = answer_config(settings)
        if selector is None:
            selector = settings.answer_unit_selector
        if judge is None and settings.answer_unit_judge:
            from assistant.answering.judge import UnitJudge

            judge = UnitJudge(settings.answer_unit_judge, settings.answer_unit_judge_min_p,
                              device=settings.server_device)
    if searcher is None:
        return ClosedBookAnswerer(generator, config)
    if verifier is None:
        from assistant.answering.citations import CitationVerifier

        verifier = CitationVerifier(embedder)
    scorer = None
    if selector is not None:
        from assistant.answering.selector import selector_scorer

        scorer = selector_scorer(selector)
    return RagAnswerer(searcher, generator, verifier, config, scorer=scorer, judge=judge)
