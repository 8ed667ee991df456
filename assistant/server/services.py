"""What the server answers with, and the live state around it.

``Services`` is what ``create_app`` can be handed (tests inject a tiny model, a small
index, a fake registry); ``build_services(settings)`` makes the real ones (base model,
adapters, searcher, feedback store). ``Runtime`` is the app's live state: it wraps the
generator in a ``BatchingGenerator``, builds the answerer once both an index and a model
are there, refreshes the index and the adapter registry in the background, and runs
answers in worker threads under the concurrency bound and the request deadline (the
``deadline`` context variable of ``assistant.answering.generation``, which stops
generation once it passes).
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from assistant.answering.build import (
    answer_config,
    build_answerer,
    generates,
    load_generator,
    open_index,
    warn_unused_adapters,
)
from assistant.answering.generation import deadline
from assistant.answering.records import Answer, Message
from assistant.feedback import FeedbackStore
from assistant.server.auth import (
    OPEN,
    Auth,
    check_adapter,
    check_sources,
    screen_history,
    screen_passages,
)
from assistant.server.batching import BatchingGenerator
from assistant.server.errors import ApiError, from_library, not_ready
from assistant.server.keystore import KeyInfo
from assistant.server.limits import Slots
from assistant.server.metrics import Metrics
from assistant.server.routing import AdapterRouter, UnknownAdapterError
from assistant.server.streaming import AnswerStream, timeout_error
from core.errors import AssistantError
from core.settings import Settings
from index.access import restricted

logger = logging.getLogger(__name__)

AnswererFactory = Callable[[Any, Any], Any]  # (searcher, generator) -> Answerer


@dataclass
class Services:
    """The parts a server is built from; all optional, missing ones make it not ready.

    ``generator`` implements the ``Generator`` protocol of ``assistant.answering.answer``;
    ``adapters`` is the ``AdapterSet`` it generates through (None: base model only);
    ``model_id`` the name ``/v1/models`` lists for the base model. ``searcher`` may be
    None when no index was published yet: the server then opens ``index_dir`` (with
    ``embedder``) once one appears. ``make_answerer(searcher, generator)`` builds the
    ``Answerer`` (default: ``assistant.answering.build.build_answerer``); ``registry`` is a
    ``finetune.registry.AdapterRegistry`` (its directory may appear later) or None.
    ``embedder`` (None: the index's own, loaded from its manifest) embeds queries and,
    unless ``verifier_embedder`` is given, checks citations (an index built with a tuned
    embedder is best checked with the bundled one, which the citation thresholds were
    calibrated on).
    """

    generator: Any = None
    model_id: str = "base"
    adapters: Any = None
    searcher: Any = None
    index_dir: Path | None = None
    embedder: Any = None
    make_answerer: AnswererFactory | None = None
    feedback: FeedbackStore | None = None
    registry: Any = None
    static_adapters: dict[str, Path] | None = None
    verifier_embedder: Any = None
    selector: Any = None  # a tuned unit selector (answer_unit_selector), loaded at start


def build_services(settings: Settings) -> Services:
    """Load the base model, adapters and index named by ``settings``, and the places
    gazetteer (blocking, seconds).

    A missing index is not an error (the server reports not ready until it appears);
    a model that cannot be found raises ``AssistantError``. When the settings' answers
    are only extracted or declined (``build.generates`` false), the model's weights load
    on first need (``build.load_generator(lazy=True)``): an adapter served (configured,
    or promoted in the registry) loads them when ``Runtime.install`` adds it.
    """
    from assistant.answering import places
    from assistant.answering.models import ModelConfig

    places.warm()  # not on the first question that names a place (search and extraction)
    base = load_generator(ModelConfig(base=settings.server_model,
                                      device=settings.server_device), settings,
                          lazy=not generates(settings))
    from finetune.registry import AdapterRegistry

    # Also when the directory is not there yet: the first `finetune --promote` creates it,
    # and the background sync then serves what it promoted, as for an existing registry.
    registry = AdapterRegistry(settings.server_registry or settings.adapters_dir)
    searcher, embedder = open_index(settings.server_index, None)
    verifier_embedder = None
    if settings.server_verifier_embedder:
        from ingest.embedding import embedder_unless_loaded

        # None when it is the index's embedder: the answerer then checks with that one.
        verifier_embedder = embedder_unless_loaded(settings.server_verifier_embedder, embedder)
        if verifier_embedder is embedder:
            verifier_embedder = None
    selector = None
    if settings.answer_unit_selector:  # loaded now: a bad one stops the start, naming it
        from assistant.answering.selector import load_selector

        selector = load_selector(settings.answer_unit_selector, settings.embedders_dir,
                                 device=settings.server_device)
    return Services(
        generator=base.generator,
        model_id=base.loaded.model_id,
        adapters=base.adapters,
        searcher=searcher,
        index_dir=settings.server_index,
        embedder=embedder,
        feedback=FeedbackStore(settings.feedback_db),
        registry=registry,
        static_adapters=dict(settings.server_adapters),
        verifier_embedder=verifier_embedder,
        selector=selector,
    )


class Runtime:
    """The app's live state (one per app); see the module docs."""

    def __init__(self, settings: Settings, metrics: Metrics) -> None:
        self.settings, self.metrics = settings, metrics
        self.services: Services | None = None
        self.loading_error: str | None = None
        self.generator: BatchingGenerator | None = None
        self.router: AdapterRouter | None = None
        self.answerer: Any = None
        self.feedback: FeedbackStore | None = None
        self.slots = Slots(settings.server_max_concurrent, metrics.in_flight.set)
        # Threads: one per generation slot, plus room for stores and adapter loads.
        self.executor = ThreadPoolExecutor(settings.server_max_concurrent + 4,
                                           thread_name_prefix="assistant-answer")
        self._lock = threading.Lock()
        self.auth: Auth | None = None  # set by create_app; checks responses against scopes

    # -- setup and background upkeep -----------------------------------------------

    def install(self, services: Services) -> None:
        """Take ``services`` into use (called once, possibly from a loader thread)."""
        s = self.settings
        self.feedback = services.feedback or FeedbackStore(s.feedback_db)
        if services.generator is not None:
            self.generator = BatchingGenerator(
                services.generator, window_s=s.server_batch_window_ms / 1000,
                max_batch=max_batch(s.server_max_batch, services.generator),
                on_batch=self.metrics.batch_size.observe)
        self.router = AdapterRouter(services.adapters, services.registry,
                                    services.static_adapters)
        self.services = services
        self.router.sync()
        served = self.router.known() if services.make_answerer is None else []
        if served:
            warn_unused_adapters(f"adapters {', '.join(served)} are served", s)
        self._maybe_build_answerer()

    def _maybe_build_answerer(self) -> None:
        services = self.services
        with self._lock:
            if self.answerer is not None or services is None or self.generator is None:
                return
            if services.searcher is None:
                services.searcher, services.embedder = open_index(services.index_dir,
                                                                  services.embedder)
            if services.searcher is None:
                return
            if services.make_answerer is not None:
                self.answerer = services.make_answerer(services.searcher, self.generator)
            else:
                self.answerer = build_answerer(
                    self.generator, services.searcher,
                    embedder=services.verifier_embedder or services.embedder,
                    config=answer_config(self.settings), selector=services.selector)
        self.metrics.set_index_version(services.searcher.version)
        self.metrics.ready.set(1)
        logger.info("ready: index %s, model %s", services.searcher.version, services.model_id)

    def refresh(self) -> None:
        """One round of upkeep: open or refresh the index, sync the adapter registry."""
        if self.services is None:
            return
        if self.answerer is None:
            self._maybe_build_answerer()
        searcher = self.services.searcher
        if searcher is not None:
            try:
                if searcher.refresh():
                    logger.info("now serving index version %s", searcher.version)
            except AssistantError as exc:  # a bad new version: keep serving the old one
                logger.error("index refresh failed, still serving %s: %s",
                             searcher.version, exc)
            self.metrics.set_index_version(searcher.version)
        if self.router is not None:
            try:
                self.router.sync()
            except AssistantError as exc:
                logger.error("adapter registry sync failed: %s", exc)

    def close(self) -> None:
        if self.generator is not None:
            self.generator.close()
        self.executor.shutdown(wait=False, cancel_futures=True)

    # -- readiness -------------------------------------------------------------------

    def not_ready_reasons(self) -> list[str]:
        if self.loading_error:
            return [f"model failed to load: {self.loading_error}"]
        if self.services is None:
            return ["model is loading"]
        reasons = []
        if self.generator is None:
            reasons.append("no model loaded")
        if self.services.searcher is None:
            where = self.services.index_dir
            reasons.append(f"no index published at {where}" if where else "no index configured")
        return reasons

    def require_answerer(self) -> Any:
        if self.answerer is None:
            raise not_ready("not ready: " + "; ".join(self.not_ready_reasons() or ["starting"]))
        return self.answerer

    def require_searcher(self) -> Any:
        searcher = self.services.searcher if self.services else None
        if searcher is None:
            raise not_ready("not ready: " + "; ".join(self.not_ready_reasons() or ["starting"]))
        return searcher

    @property
    def model_id(self) -> str:
        return self.services.model_id if self.services else "base"

    # -- answering -------------------------------------------------------------------

    def _finish(self, answer: Answer, label: str | None, key: KeyInfo = OPEN,
                answer_id: str | None = None) -> Answer:
        """The answer as sent and stored: the adapter version that answered, and for a
        stream the id it announced (``AnswerStream.answer_id``)."""
        if answer.adapter != label:
            answer = replace(answer, adapter=label)
        if answer_id is not None:
            answer = replace(answer, id=answer_id)
        self.screen(key, [p.source for p in answer.passages]
                    + [c.source for c in answer.citations])
        assert self.feedback is not None
        # The key id: feedback under a scoped key may name only that key's answers.
        self.feedback.save_answer({**answer.to_json(), "key_id": key.id})
        self.metrics.tokens.inc(int(answer.usage.get("completion_tokens", 0) or 0))
        return answer

    def screen(self, key: KeyInfo, sources: Sequence[str]) -> None:
        """500 ``ApiError`` when a source is outside what ``key`` may see (the last
        check before a response; search already filters inside the index)."""
        if key.scopes.access is not None and self.auth is not None:
            screen_passages(self.auth, key, self.require_searcher(), sources)

    def scoped(self, key: KeyInfo, history: Sequence[Message], options: Any,
               field: str) -> list[Message]:
        """Check ``options`` against ``key`` (403 for an adapter or a source outside
        it) and return the history the request is answered with."""
        check_adapter(key, options.adapter, field)
        check_sources(key, options.sources, "body.sources")
        return screen_history(key, history)

    def _resolve(self, adapter: str | None, field: str, key: KeyInfo = OPEN) -> str | None:
        assert self.router is not None
        try:
            return self.router.resolve(adapter)
        except UnknownAdapterError as exc:
            known = [n for n in exc.known if key.scopes.allows_adapter(n)]  # only its own
            raise ApiError(404, "adapter_not_found", str(UnknownAdapterError(exc.name, known)),
                           field=field, known=known) from exc

    async def answer(self, question: str, history: Sequence[Message], options: Any,
                     field: str = "body.adapter", key: KeyInfo = OPEN) -> Answer:
        """Answer in a worker thread under a slot and the deadline; ``ApiError`` on failure.

        Generation stops at the deadline (``generation.deadline``), so the slot is free
        again about one decoding step after the 504. Every search made for it is limited
        to what ``key`` may see (``index.access``).
        """
        history = self.scoped(key, history, options, field)
        answerer = self.require_answerer()
        limit = self.settings.server_timeout_s
        release = self.slots.take()
        until = time.monotonic() + limit

        def work() -> Answer:
            deadline.set(until)
            try:
                label = self._resolve(options.adapter, field, key)
                result = answerer.answer(question, history, replace(options, adapter=label))
                return self._finish(result, label, key)
            finally:
                release()

        with restricted(key.scopes.access):  # the worker's copy of the context keeps it
            future = asyncio.get_running_loop().run_in_executor(
                self.executor, contextvars.copy_context().run, work)
        future.add_done_callback(_consume)
        try:
            return await asyncio.wait_for(asyncio.shield(future), timeout=limit)
        except TimeoutError:
            raise timeout_error(limit) from None
        except Exception as exc:
            raise from_library(exc, field=field) from exc

    async def stream(self, question: str, history: Sequence[Message], options: Any,
                     field: str = "body.adapter", key: KeyInfo = OPEN) -> AnswerStream:
        """Start a streamed answer; returns once its first event is there.

        Errors before the first event (not ready, unknown adapter, busy, timeout) raise
        ``ApiError`` here, so they become proper HTTP statuses; later ones come out of
        the stream as an error item. Generation stops at the deadline, which frees the
        slot. Searches are limited to what ``key`` may see. The final answer gets the
        stream's ``answer_id``, known before the first token.
        """
        history = self.scoped(key, history, options, field)
        answerer = self.require_answerer()
        release = self.slots.take()
        stream = AnswerStream(self.settings.server_timeout_s)

        def events() -> Iterator[Any]:
            label = self._resolve(options.adapter, field, key)
            inner = answerer.stream_answer(question, history, replace(options, adapter=label))
            try:
                for event in inner:
                    if hasattr(event, "answer"):
                        event = replace(event, answer=self._finish(
                            event.answer, label, key, answer_id=stream.answer_id))
                    yield event
            finally:
                close = getattr(inner, "close", None)
                if close is not None:
                    close()  # stops the generation thread when the client went away

        with restricted(key.scopes.access):  # the worker's copy of the context keeps it
            stream.start(self.executor, events, release)
        await stream.first()
        return stream


def max_batch(setting: int | None, generator: Any) -> int:
    """The batch size limit: ``setting``, or when unset 8 on a GPU and 1 on a CPU, where
    generation is compute-bound and padded batches run slower than one by one (see the
    README's serving benchmark)."""
    if setting is not None:
        return setting
    device = str(getattr(getattr(generator, "loaded", None), "device", "cpu"))
    return 1 if device == "cpu" else 8


def _consume(future: Any) -> None:
    """Retrieve a finished future's exception so an abandoned one logs no warning."""
    if not future.cancelled():
        future.exception()
