"""Question in, grounded answer with checked citations out.

Every setup the eval compares implements ``Answerer.answer(question, history, options)``:

- ``RagAnswerer(searcher, generator, verifier, config)``: bound the history, rewrite a
  follow-up into a standalone query, retrieve, abstain early when nothing relevant came
  back, fit passages and history into the context window (``core.prompt_format``),
  generate, check the citations (``assistant.answering.citations``), abstain when the reply is not
  supported. With ``AnswerConfig.evidence_first`` the prompt numbers evidence units
  instead of passages and the reply is checked sentence by sentence, falling back to an
  extracted answer or an abstention (``assistant.answering.evidence_first``).
- ``ClosedBookAnswerer(generator, config)``: the model alone (base and fine-tune-only
  setups); no citations, abstains only when the model says the abstention sentence.

Both also stream (``stream_answer`` yields ``TokenEvent`` pieces, then one ``FinalEvent``
with the checked answer; no tokens when abstaining before generation). The model comes
in through the small ``Generator`` protocol; ``LocalGenerator`` runs it in-process with
``generation`` and ``text_stream``, and a server can wrap it to batch
concurrent requests.
"""

from __future__ import annotations

import logging
import time
import unicodedata
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Protocol, runtime_checkable

from assistant.answering import abstain, evidence_first
from assistant.answering.abstain import AbstainConfig
from assistant.answering.adapters import AdapterSet
from assistant.answering.budget import decline_reason, question_budget
from assistant.answering.citations import CitationVerifier, Verification
from assistant.answering.evidence import STALE_STATUSES, UnitScorer
from assistant.answering.evidence_first import Evidence
from assistant.answering.extract import asks_two, search_query
from assistant.answering.generation import (
    Generation,
    GenerationConfig,
    Generator,
    PromptError,
    Target,
    count_tokens,
    generate_batch,
    render_chat,
)
from assistant.answering.models import AdapterError, LoadedModel
from assistant.answering.records import Answer, Citation, Message
from assistant.answering.rewrite import bound_history, rewrite_follow_up
from assistant.answering.text_stream import TextStream, stream_batch
from core.errors import ConfigError
from core.prompt_format import (
    ABSTAIN_TEXT,
    PromptBudgetError,
    abstention_text,
    build_closed_book_messages,
    build_grounded_messages,
    fit_to_budget,
)
from index.records import Passage
from index.searcher import MAX_K, MODES

if TYPE_CHECKING:
    from assistant.answering.judge import UnitJudge
    from index.searcher import Searcher

logger = logging.getLogger(__name__)

Messages = Sequence[Mapping[str, str]]


@dataclass(frozen=True)
class AnswerOptions:
    """Per-request choices: ``k`` passages (1..1000) by ``mode`` (bm25/dense/hybrid) from
    ``sources`` (path patterns, None = all), through ``adapter`` (None = base model), with
    at most ``max_new_tokens`` (1..8192) of answer. Raises ``ConfigError`` naming the field."""

    k: int = 5
    mode: str = "hybrid"
    adapter: str | None = None
    sources: tuple[str, ...] | None = None
    max_new_tokens: int = 256

    def __post_init__(self) -> None:
        if isinstance(self.k, bool) or not isinstance(self.k, int) or not 1 <= self.k <= MAX_K:
            raise ConfigError(f"k must be an integer in 1..{MAX_K}, got {self.k!r}")
        if self.mode not in MODES:
            raise ConfigError(f"mode must be one of {', '.join(MODES)}, got {self.mode!r}")
        if self.adapter is not None and (not isinstance(self.adapter, str)
                                         or not self.adapter.strip()):
            raise ConfigError(f"adapter must be a non-empty name or None, got {self.adapter!r}")
        if self.sources is not None:
            if isinstance(self.sources, str) or not all(
                    isinstance(s, str) and s for s in self.sources):
                raise ConfigError("sources must be a list of non-empty path patterns or None")
            object.__setattr__(self, "sources", tuple(self.sources))
        if isinstance(self.max_new_tokens, bool) or not isinstance(self.max_new_tokens, int) \
                or not 1 <= self.max_new_tokens <= 8192:
            raise ConfigError(f"max_new_tokens must be in 1..8192, got {self.max_new_tokens!r}")


@dataclass(frozen=True)
class AnswerConfig:
    """How an answerer works, besides per-request options.

    ``max_history_tokens`` bounds the conversation kept (newest turns first); ``rewrite``
    turns follow-up rewriting on, ``llm_rewrite`` uses the model for it instead of rules;
    ``min_passages`` is how few passages budgeting may leave; ``temperature`` and
    ``repetition_penalty`` go to decoding. ``evidence_first`` (on by default) answers
    from evidence units: the prompt numbers the units ``select_units`` keeps, the reply
    is checked sentence by sentence (unsupported sentences removed, key facts checked
    against the cited units), and a reply that fails gives way to ``extract``'s answer or
    an abstention (``assistant.answering.evidence_first``; retrieval answerers only).
    ``extract_first`` (evidence-first only; on by default) answers with ``extract``'s
    sentence when a unit qualifies, without generating: on the acme dev split extracted
    answers were right far more often than generated ones. ``generate`` (evidence-first
    only; on by default): false never asks the model; a question no unit answers by
    extraction is declined, with the closest units as related passages.
    ``corpus_names``: the names the whole corpus is about ("PostgreSQL" for its manual);
    extraction does not ask a unit to repeat them (``extract.asked_terms``).
    """

    abstain: AbstainConfig = field(default_factory=AbstainConfig)
    max_history_tokens: int = 512
    rewrite: bool = True
    llm_rewrite: bool = False
    min_passages: int = 1
    temperature: float = 0.0
    repetition_penalty: float = 1.0
    evidence_first: bool = True
    extract_first: bool = True
    generate: bool = True
    corpus_names: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ("evidence_first", "extract_first", "generate"):
            if not isinstance(getattr(self, name), bool):
                raise ConfigError(f"{name} must be true or false, got "
                                  f"{getattr(self, name)!r}")
        names = self.corpus_names
        if isinstance(names, str) or not all(isinstance(n, str) and n.strip() for n in names):
            raise ConfigError(f"corpus_names must be a list of non-empty names, got {names!r}")
        object.__setattr__(self, "corpus_names", tuple(n.strip() for n in names))
        if not self.generate and not self.evidence_first:
            raise ConfigError("generate = false needs evidence_first = true: over whole "
                              "passages only the model can answer")
        if self.max_history_tokens < 0:
            raise ConfigError(f"max_history_tokens must be >= 0, got {self.max_history_tokens}")
        if self.min_passages < 1:
            raise ConfigError(f"min_passages must be >= 1, got {self.min_passages}")
        self.generation(1)  # validates temperature and repetition_penalty

    def generation(self, max_new_tokens: int) -> GenerationConfig:
        return GenerationConfig(max_new_tokens=max_new_tokens, temperature=self.temperature,
                                repetition_penalty=self.repetition_penalty)


@dataclass(frozen=True)
class TokenEvent:
    """A piece of the answer as the model writes it (markers not yet checked)."""

    text: str


@dataclass(frozen=True)
class FinalEvent:
    """The finished, checked answer; always the last event of a stream."""

    answer: Answer


StreamEvent = TokenEvent | FinalEvent


@dataclass(frozen=True)
class Trace:
    """An answer with what led to it: the ``messages`` sent, the model's ``raw`` reply and
    its ``verification`` (None when no generation ran or for closed-book answers)."""

    answer: Answer
    messages: tuple[dict, ...] = ()
    raw: str = ""
    verification: Verification | None = None


@runtime_checkable
class Answerer(Protocol):
    """Anything that answers a question; every eval setup implements it."""

    def answer(self, question: str, history: Sequence[Message] = (),
               options: AnswerOptions | None = None) -> Answer: ...


class LocalGenerator:
    """``Generator`` over a ``LoadedModel`` or ``AdapterSet`` with ``generation`` (streams
    with ``text_stream``).

    ``stream`` returns a ``TextStream`` (iterate for pieces; ``result`` holds the
    ``Generation`` afterwards; ``close()`` cancels). Over a ``models.LazyModel`` it counts
    tokens with the tokenizer alone; the weights load on the first generation.
    """

    def __init__(self, target: Target) -> None:
        self.target = target
        self.loaded: LoadedModel = getattr(target, "loaded", target)

    @property
    def model_id(self) -> str:
        return self.loaded.model_id

    @property
    def context_window(self) -> int:
        return self.loaded.context_window

    def count_tokens(self, text: str) -> int:
        return count_tokens(self.loaded.tokenizer, text)

    def prompt_tokens(self, messages: Messages) -> int:
        return count_tokens(self.loaded.tokenizer, render_chat(self.loaded.tokenizer, messages))

    def generate(self, messages: Messages, config: GenerationConfig,
                 adapter: str | None = None) -> Generation:
        return generate_batch(self.target, [messages], config, adapter)[0]

    def generate_many(self, batch: Sequence[Messages], config: GenerationConfig,
                      adapter: str | None = None) -> list[Generation]:
        return generate_batch(self.target, list(batch), config, adapter)

    def stream(self, messages: Messages, config: GenerationConfig, adapter: str | None = None):
        return self.stream_many([messages], config, adapter)[0]

    def stream_many(self, batch: Sequence[Messages], config: GenerationConfig,
                    adapter: str | None = None) -> list[TextStream]:
        """One ``TextStream`` per prompt, generated together (``stream_batch``)."""
        # An unknown adapter on a bare model would only surface inside the stream's thread.
        if isinstance(self.target, AdapterSet):
            self.target.check(adapter)
        elif adapter is not None:
            raise AdapterError(f"adapter {adapter!r} asked for, but {self.model_id} has no "
                               "adapters loaded")
        return stream_batch(self.target, list(batch), config, adapter)


@dataclass
class _Draft:
    """A request between preparation and generation."""

    question: str
    query: str
    options: AnswerOptions
    clock: float
    passages: list[Passage] = field(default_factory=list)
    messages: list[dict] = field(default_factory=list)
    abstain_reason: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    retrieved: list[Passage] = field(default_factory=list)
    evidence: Evidence | None = None
    # what extraction reads: the question, with a follow-up's referent written in
    asked: str = ""
    ready: Trace | None = None  # answered without generation (an extraction)


class _Base:
    generator: Generator
    config: AnswerConfig

    def answer(self, question: str, history: Sequence[Message] = (),
               options: AnswerOptions | None = None) -> Answer:
        """Answer ``question`` given the conversation so far. Raises ``ConfigError`` for
        bad options or an empty question, ``PromptError`` when the question alone does not
        fit the context window, ``AdapterError`` for an unknown adapter."""
        return self.answer_with_trace(question, history, options).answer

    def answer_with_trace(self, question: str, history: Sequence[Message] = (),
                          options: AnswerOptions | None = None) -> Trace:
        """``answer`` plus the prompt, raw reply and citation check (for the eval)."""
        draft = self._start(question, history, options or AnswerOptions())
        if draft.abstain_reason is not None:
            return self._abstained(draft)
        if draft.ready is not None:
            return draft.ready
        clock = time.perf_counter()
        generation = self.generator.generate(draft.messages, self._gen_config(draft),
                                             draft.options.adapter)
        draft.timings["generate"] = time.perf_counter() - clock
        return self._finish(draft, generation)

    def answer_many(self, questions: Sequence[str], options: AnswerOptions | None = None,
                    histories: Sequence[Sequence[Message]] | None = None) -> list[Answer]:
        """Answer independent questions (each after its own ``histories`` turns, when
        given), generating them in one batch (same options)."""
        options = options or AnswerOptions()
        if histories is not None and len(histories) != len(questions):
            raise ValueError("answer_many: one history per question")
        drafts = [self._start(q, histories[i] if histories is not None else (), options)
                  for i, q in enumerate(questions)]
        todo = [d for d in drafts if d.abstain_reason is None and d.ready is None]
        clock = time.perf_counter()
        generations = self.generator.generate_many(
            [d.messages for d in todo], self.config.generation(options.max_new_tokens),
            options.adapter) if todo else []
        seconds = time.perf_counter() - clock
        done = {}
        for draft, generation in zip(todo, generations, strict=True):
            draft.timings["generate"] = seconds
            done[id(draft)] = self._finish(draft, generation).answer
        return [done.get(id(d)) or (d.ready.answer if d.ready is not None else
                                    self._abstained(d).answer) for d in drafts]

    def stream_answer(self, question: str, history: Sequence[Message] = (),
                      options: AnswerOptions | None = None) -> Iterator[StreamEvent]:
        """Yield ``TokenEvent`` pieces as the model writes, then one ``FinalEvent``.

        Errors (bad options, an oversize question, an unknown adapter) raise here, before
        the first event. Closing the iterator early cancels generation.
        """
        draft = self._start(question, history, options or AnswerOptions())
        if draft.abstain_reason is not None:
            return iter([FinalEvent(self._abstained(draft).answer)])
        if draft.ready is not None:
            answer = draft.ready.answer
            return iter([TokenEvent(answer.answer), FinalEvent(answer)])
        clock = time.perf_counter()
        pieces = self.generator.stream(draft.messages, self._gen_config(draft),
                                       draft.options.adapter)
        return self._stream(draft, pieces, clock)

    def _stream(self, draft: _Draft, pieces: Iterator[str],
                clock: float) -> Iterator[StreamEvent]:
        try:
            for piece in pieces:
                yield TokenEvent(piece)
        finally:
            _close_stream(pieces)
        yield FinalEvent(self._finish(draft, _stream_result(draft, pieces, clock)).answer)

    def _start(self, question: str, history: Sequence[Message],
               options: AnswerOptions) -> _Draft:
        """The cheap checks first: a question with no word a document could answer (and
        no earlier user turn with one) is declined before retrieval; every other one
        generates at most ``budget.question_budget`` tokens (``assistant.answering.budget``).
        Then ``_prepare``."""
        clock = time.perf_counter()
        reason = decline_reason(_check_question(question), history)
        if reason is not None:
            draft = _Draft(question.strip(), question.strip(), options, clock)
            draft.abstain_reason = reason
            return draft
        budget = question_budget(question, options.max_new_tokens)
        if budget != options.max_new_tokens:
            options = replace(options, max_new_tokens=budget)
        return self._prepare(question, history, options)

    def _gen_config(self, draft: _Draft) -> GenerationConfig:
        return self.config.generation(draft.options.max_new_tokens)

    def _answer(self, draft: _Draft, text: str, reason: str | None, **kwargs) -> Answer:
        draft.timings["total"] = time.perf_counter() - draft.clock
        if reason is None:
            text += stale_note(kwargs.get("citations", ()))
        return Answer(
            question=draft.question, answer=abstention_text(reason) if reason else text,
            abstained=reason is not None, abstain_reason=reason,
            passages=tuple(draft.passages), model=self.generator.model_id,
            adapter=draft.options.adapter, query=draft.query, timings=dict(draft.timings),
            **kwargs,
        )

    def _abstained(self, draft: _Draft) -> Trace:
        answer = self._answer(draft, ABSTAIN_TEXT, draft.abstain_reason,
                              usage={"prompt_tokens": 0, "completion_tokens": 0})
        return Trace(answer, tuple(draft.messages))

    def _prepare(self, question: str, history: Sequence[Message],
                 options: AnswerOptions) -> _Draft:
        raise NotImplementedError

    def _finish(self, draft: _Draft, generation: Generation) -> Trace:
        raise NotImplementedError


class RagAnswerer(_Base):
    """Retrieve -> budget -> generate -> check citations -> abstain if unsupported."""

    def __init__(self, searcher: Searcher, generator: Generator, verifier: CitationVerifier,
                 config: AnswerConfig | None = None, scorer: UnitScorer | None = None,
                 judge: UnitJudge | None = None) -> None:
        self.searcher, self.generator, self.verifier = searcher, generator, verifier
        self.config = config or AnswerConfig()
        self._scorer: UnitScorer | None = scorer
        self.judge = judge  # evidence-first: picks a unit where extraction declines

    @property
    def scorer(self) -> UnitScorer:
        """What scores evidence units (``evidence_first``): the ``scorer`` given (e.g. a
        tuned unit selector, ``build.build_answerer``), else the verifier's embedder mixed
        with lexical overlap (``EmbeddingScorer``), lexical alone without an embedder."""
        if self._scorer is None:
            from assistant.answering.evidence_scoring import EmbeddingScorer, LexicalScorer

            embedder = self.verifier.embedder
            self._scorer = EmbeddingScorer(embedder) if embedder is not None \
                else LexicalScorer()
        return self._scorer

    def _prepare(self, question: str, history: Sequence[Message],
                 options: AnswerOptions) -> _Draft:
        clock = time.perf_counter()
        question = _check_question(question)
        cfg, gen = self.config, self.generator
        if cfg.generate:  # a client error: fail before any retrieval
            self._check_fits(question, options)
        turns = bound_history(history, gen.count_tokens, cfg.max_history_tokens)
        query = asked = question
        if cfg.rewrite:
            follow_up = rewrite_follow_up(question, turns, cfg.max_history_tokens,
                                          gen.count_tokens, gen if cfg.llm_rewrite else None,
                                          cfg.llm_rewrite, cfg.corpus_names)
            query, asked = follow_up.query, follow_up.question
        draft = _Draft(question, query, options, clock, asked=asked)
        draft.timings["rewrite"] = time.perf_counter() - clock
        step = time.perf_counter()
        # the attribute a question implies is searched for too ("how heavy" -> weight)
        retrieved = self.searcher.search(search_query(query), k=options.k, mode=options.mode,
                                         sources=options.sources)
        draft.timings["retrieve"] = time.perf_counter() - step
        draft.passages = retrieved
        draft.abstain_reason = abstain.before_generation(query, retrieved, cfg.abstain,
                                                         self.verifier.embedder)
        if draft.abstain_reason is None and cfg.evidence_first:
            return self._prepare_evidence(draft, question, retrieved, turns)
        if draft.abstain_reason is None:
            draft.passages, draft.messages = self._fit(question, retrieved, turns, options)
        return draft

    def _prepare_evidence(self, draft: _Draft, question: str, retrieved: list[Passage],
                          turns: list[Message]) -> _Draft:
        """Units in place of passages; abstain (keeping the closest units) when the
        selection does."""
        step = time.perf_counter()
        draft.retrieved = retrieved
        draft.evidence = evidence = evidence_first.gather(draft.query, retrieved, self.scorer)
        draft.timings["evidence"] = time.perf_counter() - step
        selection = evidence.selection
        draft.passages = list(evidence.passages) or retrieved
        if selection.abstain:
            draft.abstain_reason = (
                f"low_evidence_score: best unit score {selection.best_score:.3f} < "
                f"min_score {selection.min_score}")
            return draft
        if self.config.extract_first or not self.config.generate:
            draft.ready = self._extracted(draft, None, None)
            if draft.ready is not None:
                return draft
        if not self.config.generate:
            draft.abstain_reason = (
                "no_extraction: the question asks two things, which one quote of the "
                "documents cannot answer, and generation is off" if asks_two(question)
                else "no_extraction: no unit holds what the question asks for, and "
                "generation is off")
            return draft
        draft.passages, draft.messages = self._fit(question, evidence.passages, turns,
                                                   draft.options)
        return draft

    def _extracted(self, draft: _Draft, usage: dict[str, int] | None,
                   generation: Generation | None) -> Trace | None:
        """``extract``'s answer from the draft's evidence as a ``Trace``; None when no unit
        qualifies."""
        step = time.perf_counter()
        found = evidence_first.extracted(draft.asked or draft.question,
                                         draft.evidence, draft.passages,
                                         draft.retrieved,
                                         self.verifier.config.max_quote_chars, self.judge,
                                         self.config.corpus_names)
        draft.timings["extract"] = time.perf_counter() - step
        if found is None:
            return None
        text, cite, draft.passages, _ = found
        answer = self._answer(draft, text, None, citations=(cite,),
                              usage=usage or {"prompt_tokens": 0, "completion_tokens": 0},
                              answer_kind="extracted")
        return Trace(answer, tuple(draft.messages), generation.text if generation else "")

    def _check_fits(self, question: str, options: AnswerOptions) -> None:
        gen = self.generator
        try:
            fit_to_budget(gen.count_tokens, question, [], [], gen.context_window,
                          options.max_new_tokens)
        except PromptBudgetError as exc:
            raise PromptError(str(exc)) from exc

    def _fit(self, question: str, passages: list[Passage], turns: list[Message],
             options: AnswerOptions) -> tuple[list[Passage], list[dict]]:
        """Passages and messages that fit; the template's real size is checked after the
        estimate, and the budget tightened by any excess."""
        gen, window = self.generator, self.generator.context_window
        for _ in range(4):
            try:
                kept, kept_turns = fit_to_budget(
                    gen.count_tokens, question, passages, turns, window, options.max_new_tokens,
                    min_passages=self.config.min_passages)
            except PromptBudgetError as exc:
                raise PromptError(str(exc)) from exc
            messages = build_grounded_messages(question, kept, kept_turns)
            excess = gen.prompt_tokens(messages) + options.max_new_tokens \
                - gen.context_window
            if excess <= 0:
                return kept, messages
            window -= excess
        raise PromptError(f"cannot fit the prompt into {gen.context_window} tokens with "
                          f"{options.max_new_tokens} reserved for the answer")

    def _finish(self, draft: _Draft, generation: Generation) -> Trace:
        if self.config.evidence_first and draft.evidence is not None:
            return self._finish_evidence(draft, generation)
        clock = time.perf_counter()
        verification = self.verifier.verify(generation.text, draft.passages)
        draft.timings["verify"] = time.perf_counter() - clock
        reason = abstain.after_generation(generation.text, verification, self.config.abstain)
        answer = self._answer(
            draft, verification.text, reason,
            citations=() if reason else verification.citations,
            usage=_usage(generation))
        return Trace(answer, tuple(draft.messages), generation.text, verification)

    def _finish_evidence(self, draft: _Draft, generation: Generation) -> Trace:
        """The checked reply, else ``extract``'s answer, else an abstention (keeping the
        units as related passages)."""
        clock = time.perf_counter()
        checked = evidence_first.check_generated(
            generation.text, draft.query, draft.passages, self.verifier,
            self.config.abstain.min_supported_fraction,
            truncated=generation.finish_reason == "length")
        draft.timings["verify"] = time.perf_counter() - clock
        usage = _usage(generation)
        messages, raw = tuple(draft.messages), generation.text
        if checked.failure is None:
            answer = self._answer(draft, checked.text, None, citations=checked.citations,
                                  usage=usage, answer_kind="generated")
            return Trace(answer, messages, raw, checked.verification)
        # With extract_first the evidence was tried before generating: no second look.
        trace = None if self.config.extract_first else self._extracted(draft, usage, generation)
        if trace is None:
            answer = self._answer(draft, ABSTAIN_TEXT,
                                  f"{checked.failure}; nothing to extract", usage=usage,
                                  answer_kind="abstained")
            return Trace(answer, messages, raw, checked.verification)
        logger.debug("generated answer failed (%s); extracted instead", checked.failure)
        return Trace(trace.answer, messages, raw, checked.verification)

    def _stream(self, draft: _Draft, pieces: Iterator[str],
                clock: float) -> Iterator[StreamEvent]:
        """Evidence-first: nothing unchecked is sent (``evidence_first.checked_prefixes``:
        each time a sentence is complete the reply so far is checked; when it passes, what
        it adds to the text already sent goes out). So the first piece waits until the
        reply answers the question, and a sentence that fails is never sent. The final
        answer is the whole reply's check; when that fails after
        checked text went out (a late rule: too few sentences supported), the answer is
        what was sent, with its citations. ``timings["first_token"]``: seconds from the
        request to the first piece sent."""
        if not self.config.evidence_first:
            yield from super()._stream(draft, pieces, clock)
            return
        sent = ""
        last: evidence_first.Checked | None = None

        def check(upto: str) -> evidence_first.Checked:
            return evidence_first.check_generated(
                upto, draft.query, draft.passages, self.verifier,
                self.config.abstain.min_supported_fraction)

        try:
            for checked in evidence_first.checked_prefixes(pieces, check):
                draft.timings.setdefault("first_token", time.perf_counter() - draft.clock)
                yield TokenEvent(checked.text[len(sent):])
                sent, last = checked.text, checked
        finally:
            _close_stream(pieces)
        generation = _stream_result(draft, pieces, clock)
        answer = self._finish(draft, generation).answer
        if sent and last is not None:
            if answer.answer_kind != "generated" or not answer.answer.startswith(sent):
                answer = self._answer(draft, sent, None, citations=last.citations,
                                      usage=_usage(generation), answer_kind="generated")
            if len(answer.answer) > len(sent):  # the rest of the reply, or a stale note
                yield TokenEvent(answer.answer[len(sent):])
        elif not answer.abstained:
            draft.timings.setdefault("first_token", time.perf_counter() - draft.clock)
            answer = replace(answer, timings=dict(draft.timings))
            yield TokenEvent(answer.answer)
        yield FinalEvent(answer)


class ClosedBookAnswerer(_Base):
    """The model alone: no retrieval, no citations; abstains only when the model does."""

    def __init__(self, generator: Generator, config: AnswerConfig | None = None) -> None:
        self.generator = generator
        self.config = config or AnswerConfig()

    def _prepare(self, question: str, history: Sequence[Message],
                 options: AnswerOptions) -> _Draft:
        clock = time.perf_counter()
        question = _check_question(question)
        gen = self.generator
        turns = bound_history(history, gen.count_tokens, self.config.max_history_tokens)
        draft = _Draft(question, question, options, clock)
        while True:
            messages = build_closed_book_messages(question, turns)
            if gen.prompt_tokens(messages) + options.max_new_tokens <= gen.context_window:
                break
            if not turns:
                raise PromptError(
                    f"the question does not fit {gen.context_window} tokens with "
                    f"{options.max_new_tokens} reserved for the answer; shorten it")
            turns = turns[1:]
        draft.messages = messages
        return draft

    def _finish(self, draft: _Draft, generation: Generation) -> Trace:
        text = generation.text.strip()
        reason = abstain.after_generation(text, None, self.config.abstain)
        answer = self._answer(draft, text, reason, usage=_usage(generation))
        return Trace(answer, tuple(draft.messages), generation.text)


def stale_note(citations: Sequence[Citation]) -> str:
    """What an answer drawn only from documents not in force must say: " (From SOURCE, a
    superseded document, effective DATE.)", " (From SOURCE, a document not in force until
    DATE.)"; "" when any citation is to a document in force (or of unknown status), or
    there is none."""
    if not citations or any(c.status not in STALE_STATUSES for c in citations):
        return ""
    c = citations[0]
    if c.status == "upcoming":
        until = f" until {c.effective_date}" if c.effective_date else " yet"
        return f" (From {c.source}, a document not in force{until}.)"
    when = f", effective {c.effective_date}" if c.effective_date else ""
    article = "an" if c.status[0] in "aeiou" else "a"
    return f" (From {c.source}, {article} {c.status} document{when}.)"


def _check_question(question: str) -> str:
    """The question stripped and in Unicode compatibility form (NFKC): full-width
    "ＳｗｅｅｐＢｏｔ Ｓ７", as some keyboards type it, reads "SweepBot S7"."""
    if not isinstance(question, str) or not question.strip():
        raise ConfigError("question is empty: ask something")
    return unicodedata.normalize("NFKC", question).strip()


def _usage(generation: Generation) -> dict[str, int]:
    return {"prompt_tokens": generation.prompt_tokens,
            "completion_tokens": generation.completion_tokens}


def _close_stream(pieces: Iterator[str]) -> None:
    """Cancel a generator's stream (a ``TextStream`` has ``close``; a plain iterator not)."""
    close = getattr(pieces, "close", None)
    if close is not None:
        close()


def _stream_result(draft: _Draft, pieces: Iterator[str], clock: float) -> Generation:
    """The ``Generation`` a finished stream holds, with the generate time recorded.
    Raises ``RuntimeError`` for a stream that ended without one (a generator bug)."""
    generation = getattr(pieces, "result", None)
    if generation is None:
        raise RuntimeError("the generator's stream ended without a result")
    draft.timings["generate"] = time.perf_counter() - clock
    return generation
