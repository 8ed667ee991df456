"""Per-question metrics of one answer, and their summary per setup with intervals and tests.

Every metric is a number per question (``None`` where it does not apply), so each
setup's headline figure is a mean with a percentile-bootstrap 95% interval, and two
setups are compared on the questions both have a value for with a paired sign-flip
permutation test (``eval.metrics``). Definitions (see ``METRICS`` for the list):

- Retrieval, against the gold sources: a retrieved passage matches a ``SourceRef`` when
  its source is the file (or ends with ``/file``), or its doc id is, and then, when the
  ref gives a page, the physical page matches, else when it gives a heading, the heading
  is one of the passage's heading path. Each gold source counts once (a second passage
  of it gains nothing): ``recall@k``, ``mrr`` (first match), ``ndcg@10`` (binary gains).
- Answers (short gold answers): SQuAD ``exact_match`` and ``token_f1`` on the answer
  without ``[n]`` markers, and ``contains_answer``: the normalised gold is a substring of
  the normalised answer. Yes/no sets: ``accuracy`` of the first yes/no/maybe word.
  Unanswerable questions take no part in these.
- Citations, ALCE-style (Gao et al., 2023), over the claim sentences of answered
  questions, with the verifier's per-passage support standing in for NLI and "the cited
  set supports" taken as "some cited passage supports" (support >= min_support):
  ``citation_recall`` = share of claim sentences whose written citations support them (an
  uncited sentence scores 0); ``citation_precision`` = share of written citations that
  support their sentence (out-of-range numbers count as failures). Under the max rule a
  citation is ALCE-"irrelevant" exactly when it does not support its sentence alone.
  ``citation_gold`` = share of written in-range citations pointing to a gold source.
  ``valid_citation`` = 1 when the answer keeps (verifier-kept, model-written) at least one
  citation that points to a gold source (answered, answerable questions with gold sources).
- Abstention, on the unanswerable questions (gold answer None): ``abstain_recall`` =
  abstained there; ``abstain_precision`` = over abstained questions, unanswerable ones.
- Outcomes, the figures a user feels (``outcome_scores``): ``answered`` (not abstained,
  no error; all questions); ``correct`` (answerable questions: answered, the answer part
  holds the gold answer or one of its ``aliases``, every ``answer_parts`` span, and not the
  ``stale_answer``; a bare yes/no gold or alias must open the answer, not merely occur in
  it; a gold the question holds but for its punctuation must occur as written
  (``gives_answer``); yes/no questions: the decision is right); ``wrong`` (over answered
  questions: unanswerable, or not correct); ``stale`` (over answered questions that have a
  ``stale_answer``: the answer holds it); ``correct_and_cited`` (answerable questions with
  gold sources: correct and at least one citation points to a gold document and section or
  page); ``long_answer`` (over answered questions: more than ``LONG_ANSWER_WORDS`` words,
  so dumping evidence cannot pass for an answer; the report lists them);
  ``declined_pointed`` (answerable questions the system declined: one of the first
  ``RELATED_SHOWN`` passages the abstention shows as related evidence, as ``ask``, the API
  clients and the chat page do, holds the gold answer or an alias, so the user is pointed
  to it); ``correct_or_pointed`` (answerable questions: correct, or declined pointing to
  the answer). Neither applies to yes/no/maybe questions, whose verdict no passage
  states. A declined question counts as neither answered nor correct: these say how much
  of what declining costs the user finds in the related passages.
  Citations are scored against the gold sources apart from the verifier's own support
  scores, separately by who made them: ``gold_cited_model`` (a ``[n]`` the model wrote and
  the verifier kept) and ``gold_cited_system`` (a citation the answer path attached; only
  when the answer record says which is which, per citation ``origin``).
- Cost: ``latency_s`` (the answer's total time; p50 and p95 in the summary),
  ``prompt_tokens`` (prefill) and ``completion_tokens`` (decode).

Every metric is also reported per question type (``type`` in the question file) and per
answer kind (``answer_kind`` in the answer record: generated, extracted, abstained;
``error`` when answering failed).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import combinations
from types import SimpleNamespace

import numpy as np

from eval.metrics import (
    bootstrap_ci,
    exact_match,
    normalize_answer,
    paired_permutation_test,
    query_ndcg,
    query_recall,
    query_reciprocal_rank,
    token_f1,
)
from finetune.records import SourceRef

logger = logging.getLogger(__name__)

_MARKERS = re.compile(r"\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\]")
_DECISION = re.compile(r"\b(yes|no|maybe)\b", re.I)
# A quotation of 5+ words, closed or cut off at the end, with an optional lead-in.
# A quotation opens with a quote mark that follows no word: the mark closing a quoted
# word ('an "Admin", who can ...') is not the start of a quotation running to the end.
_QUOTED = re.compile(r'(?:\bpassage\s*(?:\[\s*\d+\s*\])?\s*says:\s*)?(?<![\w.,;:!?%)\]])'
                     r'["\u201c](?:[^"\u201d\s]+\s+){4,}[^"\u201d]*(?:["\u201d]|$)', re.I)
_ANSWER_LEAD = re.compile(r"\bso the answer is:\s*", re.I)


LONG_ANSWER_WORDS = 60  # an answer longer than this is flagged as a possible evidence dump
RELATED_SHOWN = 3  # related passages an abstention shows on every surface


@dataclass(frozen=True)
class MetricSpec:
    """A metric's key in results, its label in reports, and how to show it."""

    key: str
    label: str
    group: str
    unit: str = "fraction"  # fraction | seconds | tokens
    paired: bool = True  # compared between setups


METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("recall@k", "Recall@k", "retrieval"),
    MetricSpec("mrr", "MRR", "retrieval"),
    MetricSpec("ndcg@10", "nDCG@10", "retrieval"),
    MetricSpec("exact_match", "Exact match", "answer"),
    MetricSpec("token_f1", "Token F1", "answer"),
    MetricSpec("contains_answer", "Contains gold answer", "answer"),
    MetricSpec("accuracy", "Accuracy (yes/no/maybe)", "answer"),
    MetricSpec("citation_recall", "Citation recall (ALCE)", "citations"),
    MetricSpec("citation_precision", "Citation precision (ALCE)", "citations"),
    MetricSpec("citation_gold", "Citations to a gold source", "citations"),
    MetricSpec("valid_citation", "Valid citation rate", "citations"),
    MetricSpec("abstain_recall", "Abstention recall", "abstention"),
    MetricSpec("abstain_precision", "Abstention precision", "abstention", paired=False),
    MetricSpec("abstained", "Abstained (all questions)", "abstention"),
    MetricSpec("answered", "Answered (all questions)", "outcome"),
    MetricSpec("correct", "Correct (answerable questions)", "outcome"),
    MetricSpec("wrong", "Wrong (share of answers given)", "outcome", paired=False),
    MetricSpec("correct_and_cited", "Correct and cited to the gold section", "outcome"),
    MetricSpec("stale", "Stale answer (answered conflict questions)", "outcome", paired=False),
    MetricSpec("long_answer", f"Longer than {LONG_ANSWER_WORDS} words (answers given)",
               "outcome", paired=False),
    MetricSpec("declined_pointed", "Declined, related passages hold the answer (answerable "
               "declined)", "outcome", paired=False),
    MetricSpec("correct_or_pointed", "Correct, or declined with the answer in the related "
               "passages (answerable questions)", "outcome"),
    MetricSpec("gold_cited_model", "Model-written citation to a gold source", "citations",
               paired=False),
    MetricSpec("gold_cited_system", "System-attached citation to a gold source", "citations",
               paired=False),
    MetricSpec("latency_s", "Latency (s)", "cost", unit="seconds"),
    MetricSpec("prompt_tokens", "Prompt tokens", "cost", unit="tokens"),
    MetricSpec("completion_tokens", "Generated tokens", "cost", unit="tokens"),
)
METRIC_KEYS = tuple(m.key for m in METRICS)


# -- single values ------------------------------------------------------------------------


def strip_markers(text: str) -> str:
    """``text`` without ``[n]`` citation markers."""
    return " ".join(_MARKERS.sub("", text).split())


def answer_part(text: str) -> str:
    """``text`` without quoted evidence: a quotation of five words or more (with its
    ``Passage [n] says:`` lead-in) and the ``So the answer is:`` that may follow it. A
    grounded answer quotes the passage holding the gold answer, which must not count as
    giving the answer; what is left is scored. The whole text if nothing is left."""
    left = _QUOTED.sub(" ", text)
    left = _ANSWER_LEAD.sub(" ", left)
    return " ".join(left.split()) or text


def contains_answer(prediction: str, gold: str) -> float:
    """1.0 when the normalised ``gold`` occurs in the normalised ``prediction``."""
    needle = normalize_answer(gold)
    return float(bool(needle) and f" {needle} " in f" {normalize_answer(prediction)} ")


def parse_decision(text: str) -> str | None:
    """The first ``yes``/``no``/``maybe`` word of ``text`` (lower case), or None."""
    match = _DECISION.search(text)
    return match.group(1).lower() if match else None


def _norm(text: str) -> str:
    return " ".join(text.casefold().split()).rstrip(":").strip()


def passage_matches(passage, ref: SourceRef) -> bool:
    """Whether a retrieved/cited ``passage`` (anything with ``source``, ``doc_id``,
    ``page_index``, ``heading``) is the gold source ``ref``."""
    source = getattr(passage, "source", "") or ""
    doc_id = getattr(passage, "doc_id", "") or ""
    if ref.file not in (source, doc_id) and not source.endswith("/" + ref.file):
        return False
    if ref.page is not None:
        return getattr(passage, "page_index", None) == ref.page
    if ref.heading:
        heading = getattr(passage, "heading", ()) or ()
        if isinstance(heading, str):
            heading = tuple(h for h in heading.split(" > ") if h)
        return _norm(ref.heading) in {_norm(h) for h in heading}
    return True


def gold_index(passage, refs: Sequence[SourceRef]) -> int | None:
    """Index of the first gold source ``passage`` matches, or None."""
    return next((i for i, ref in enumerate(refs) if passage_matches(passage, ref)), None)


def retrieval_scores(passages: Sequence, refs: Sequence[SourceRef], k: int) -> dict[str, float]:
    """``recall@k``, ``mrr`` and ``ndcg@10`` of a ranking against gold sources (non-empty)."""
    ranked, seen = [], set()
    for i, passage in enumerate(passages):
        g = gold_index(passage, refs)
        if g is None or g in seen:
            ranked.append(f"other-{i}")
        else:
            seen.add(g)
            ranked.append(f"gold-{g}")
    judged = {f"gold-{g}": 1 for g in range(len(refs))}
    return {
        "recall@k": query_recall(ranked, judged, k),
        "mrr": query_reciprocal_rank(ranked, judged, None),
        "ndcg@10": query_ndcg(ranked, judged, 10),
    }


def citation_scores(sentences: Sequence, passages: Sequence, refs: Sequence[SourceRef],
                    ) -> dict[str, float | None]:
    """ALCE-style citation recall/precision of one answer from the verifier's
    ``SentenceSupport`` list, plus the gold-source shares (None without gold sources)."""
    claims = [s for s in sentences if s.is_claim]
    recall = None
    if claims:
        hits = sum(
            1 for s in claims
            if s.cited and max(s.scores[n - 1] for n in s.cited) >= s.min_support)
        recall = hits / len(claims)
    written = [(s, n) for s in claims for n in s.cited]
    failed = sum(len(s.invalid) for s in claims)
    total = len(written) + failed
    precision = None
    if total:
        precision = sum(1 for s, n in written if s.scores[n - 1] >= s.min_support) / total
    gold = kept_gold = None
    if refs:
        if written:
            gold = sum(gold_index(passages[n - 1], refs) is not None
                       for _, n in written) / len(written)
        kept = [n for s in claims for n in s.cited if n in s.citations]
        kept_gold = float(any(gold_index(passages[n - 1], refs) is not None for n in kept))
    return {"citation_recall": recall, "citation_precision": precision,
            "citation_gold": gold, "valid_citation": kept_gold}


def answer_scores(answer_text: str, abstained: bool, gold_answer: str | None,
                  kind: str) -> dict[str, float]:
    """The answer-text metrics of one answer: ``accuracy`` for yes/no/maybe questions;
    ``exact_match``, ``token_f1`` and ``contains_answer`` (of ``answer_part``) otherwise;
    nothing for unanswerable ones. An abstention scores as an empty answer."""
    if gold_answer is None:
        return {}
    text = strip_markers(answer_text)
    if kind == "yesno":
        return {"accuracy": float(not abstained and parse_decision(text) == gold_answer)}
    prediction = "" if abstained else answer_part(text)
    return {"exact_match": exact_match(prediction, gold_answer),
            "token_f1": token_f1(prediction, gold_answer),
            "contains_answer": contains_answer(prediction, gold_answer)}


def holds(prediction: str, span: str) -> bool:
    """Whether the normalised ``span`` occurs in the normalised ``prediction`` as whole
    words (``contains_answer`` as a bool)."""
    return contains_answer(prediction, span) == 1.0


_DECISIONS = ("yes", "no")
_LEAD = re.compile(r"^\W*(?:the\s+answer\s+is\W*)?", re.I)


def holds_answer(prediction: str, gold: str) -> bool:
    """Whether ``prediction`` gives the answer ``gold``: a bare ``yes``/``no`` must be the
    answer's first word (after an "The answer is:" lead), so "No, ..." answers "no" but a
    "no" somewhere in a rambling reply does not; any other answer must occur as whole
    words (``holds``)."""
    if normalize_answer(gold) in _DECISIONS:
        words = _LEAD.sub("", prediction).split()
        return bool(words) and normalize_answer(words[0]) == normalize_answer(gold)
    return holds(prediction, gold)


def gives_answer(prediction: str, gold: str, question: str = "") -> bool:
    """``holds_answer``, except for a gold that the ``question`` itself holds once
    punctuation is dropped but does not hold as written (the "RMA-" an RMA number starts
    with): the answer must then hold it as written (case aside), or merely naming the
    question's "RMA" would count. A gold the question holds as written (either of the
    choices a question offers) keeps the plain rule."""
    if question and holds(question, gold) and gold.casefold() not in question.casefold():
        return gold.casefold() in prediction.casefold()
    return holds_answer(prediction, gold)


def answer_kind(answer: Mapping | None, error: str | None = None) -> str:
    """How an answer record was made: its ``answer_kind`` when the answer path records one
    (generated, extracted, abstained), else ``abstained`` or ``generated``; ``error`` when
    answering failed."""
    if error or answer is None:
        return "error"
    kind = answer.get("answer_kind")
    if kind:
        return str(kind)
    return "abstained" if answer.get("abstained") else "generated"


def _cites_gold(citations: Iterable[Mapping], refs: Sequence[SourceRef]) -> bool:
    return any(gold_index(SimpleNamespace(source=c.get("source", ""), doc_id="",
                                          page_index=c.get("page_index"),
                                          heading=c.get("heading") or ""), refs) is not None
               for c in citations)


def outcome_scores(answer: Mapping | None, gold: Mapping, error: str | None = None,
                   ) -> dict[str, float | None]:
    """The outcome metrics of one stored answer record against its ``gold`` (the
    results.jsonl shapes): ``answered``, ``correct``, ``wrong``, ``stale``,
    ``correct_and_cited``, ``long_answer``, ``declined_pointed``, ``correct_or_pointed``,
    ``gold_cited_model``, ``gold_cited_system`` and ``prompt_tokens``; None where a metric
    does not apply (see the module text)."""
    out: dict[str, float | None] = dict.fromkeys(
        ("answered", "correct", "wrong", "stale", "correct_and_cited", "long_answer",
         "declined_pointed", "correct_or_pointed", "gold_cited_model", "gold_cited_system",
         "prompt_tokens"))
    abstained = bool(answer and answer.get("abstained"))
    answered = answer is not None and not error and not abstained
    out["answered"] = float(answered)
    gold_answer, kind = gold.get("answer"), gold.get("kind", "short")
    refs = tuple(SourceRef(file=s["file"], page=s.get("page"), heading=s.get("heading"))
                 for s in gold.get("sources", ()) if s.get("role", "gold") == "gold")
    text = strip_markers(answer.get("answer", "")) if answered else ""
    prediction = answer_part(text) if answered else ""
    correct = False
    if answered and gold_answer is not None:
        if kind == "yesno":
            correct = parse_decision(text) == gold_answer
        else:
            stale = gold.get("stale_answer")
            asked = str(answer.get("question") or "")
            correct = (any(gives_answer(prediction, g, asked)
                           for g in (gold_answer, *gold.get("aliases", ())))
                       and all(holds(prediction, part) for part in gold.get("answer_parts", ()))
                       and not (stale and holds(prediction, stale)))
    if gold_answer is not None:
        out["correct"] = float(correct)
    if gold_answer is not None and kind != "yesno":  # a verdict is not read off a passage
        pointed = False
        if abstained and not error:
            golds = (gold_answer, *gold.get("aliases", ()))
            shown = list(answer.get("passages") or ())[:RELATED_SHOWN]
            pointed = any(holds(str(p.get("text", "")), g) for p in shown for g in golds)
            out["declined_pointed"] = float(pointed)
        out["correct_or_pointed"] = float(correct or pointed)
    if answered:
        out["wrong"] = float(gold_answer is None or not correct)
        out["long_answer"] = float(len(text.split()) > LONG_ANSWER_WORDS)
        if gold.get("stale_answer"):
            out["stale"] = float(holds(prediction, gold["stale_answer"]))
    citations = list(answer.get("citations", ())) if answered else []
    if gold_answer is not None and refs:
        out["correct_and_cited"] = float(correct and _cites_gold(citations, refs))
        if answered:
            origins = {c.get("origin") for c in citations}
            model = [c for c in citations if c.get("origin", "model") == "model"]
            out["gold_cited_model"] = float(_cites_gold(model, refs))
            if origins - {None}:  # the answer path says who made each citation
                system = [c for c in citations if c.get("origin", "model") != "model"]
                out["gold_cited_system"] = float(_cites_gold(system, refs))
    usage = (answer or {}).get("usage") or {}
    if usage.get("prompt_tokens") is not None and not error:
        out["prompt_tokens"] = float(usage["prompt_tokens"])
    return out


def question_metrics(
    *,
    answer_text: str,
    abstained: bool,
    gold_answer: str | None,
    kind: str,
    refs: Sequence[SourceRef],
    retrieval: bool,
    retrieved: Sequence = (),
    k: int = 5,
    sentences: Sequence | None = None,
    passages: Sequence = (),
    latency_s: float | None = None,
    completion_tokens: int | None = None,
) -> dict[str, float | None]:
    """Every metric of ``METRICS`` for one answer; ``None`` where it does not apply."""
    out: dict[str, float | None] = dict.fromkeys(METRIC_KEYS)
    if retrieval and refs:
        out.update(retrieval_scores(retrieved, refs, k))
    out.update(answer_scores(answer_text, abstained, gold_answer, kind))
    if retrieval and not abstained and sentences is not None:
        scores = citation_scores(sentences, passages, refs if gold_answer is not None else ())
        out.update(scores)
    out["abstained"] = float(abstained)
    if gold_answer is None:
        out["abstain_recall"] = float(abstained)
    if abstained:
        out["abstain_precision"] = float(gold_answer is None)
    out["latency_s"] = latency_s
    out["completion_tokens"] = None if completion_tokens is None else float(completion_tokens)
    return out


# -- summaries ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    """A summary figure with its 95% bootstrap interval over ``n`` questions."""

    value: float
    low: float
    high: float
    n: int

    def to_json(self) -> dict:
        return {"value": self.value, "low": self.low, "high": self.high, "n": self.n}


def quantile_ci(values: Sequence[float], q: float, n_resamples: int = 1000,
                seed: int = 0) -> Estimate:
    """The ``q`` quantile of ``values`` with a percentile-bootstrap 95% interval."""
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        raise ValueError("values must not be empty")
    rng = np.random.default_rng(seed)
    samples = arr[rng.integers(0, arr.size, size=(n_resamples, arr.size))]
    stats = np.quantile(samples, q, axis=1)
    low, high = np.quantile(stats, [0.025, 0.975])
    return Estimate(float(np.quantile(arr, q)), float(low), float(high), int(arr.size))


def summarize(per_question: Mapping[str, Mapping[str, float | None]], n_resamples: int = 1000,
              seed: int = 0) -> dict[str, Estimate]:
    """One setup's figures from ``{question id: metrics}``: the mean of each metric with
    its interval (metrics no question has are left out), plus ``latency_p50`` and
    ``latency_p95``."""
    out: dict[str, Estimate] = {}
    for key in METRIC_KEYS:
        values = [m[key] for m in per_question.values() if m.get(key) is not None]
        if values:
            mean, low, high = bootstrap_ci(values, n_resamples, 0.95, seed)
            out[key] = Estimate(mean, low, high, len(values))
    latencies = [m["latency_s"] for m in per_question.values() if m.get("latency_s") is not None]
    if latencies:
        out["latency_p50"] = quantile_ci(latencies, 0.50, n_resamples, seed)
        out["latency_p95"] = quantile_ci(latencies, 0.95, n_resamples, seed)
    return out


@dataclass(frozen=True)
class Comparison:
    """Setup ``a`` minus setup ``b`` on ``metric`` over ``n`` shared questions."""

    metric: str
    a: str
    b: str
    diff: float
    p_value: float
    n: int

    @property
    def significant(self) -> bool:
        return self.p_value < 0.05

    def to_json(self) -> dict:
        return {"metric": self.metric, "a": self.a, "b": self.b, "diff": self.diff,
                "p_value": self.p_value, "n": self.n, "significant": self.significant}


def compare_setups(per_setup: Mapping[str, Mapping[str, Mapping[str, float | None]]],
                   metrics: Iterable[str] | None = None, n_resamples: int = 10_000,
                   seed: int = 0) -> list[Comparison]:
    """Paired permutation tests for every pair of setups and every paired metric, on the
    questions where both setups have a value (at least 2)."""
    keys = list(metrics) if metrics is not None else [m.key for m in METRICS if m.paired]
    out = []
    for a, b in combinations(per_setup, 2):
        shared = sorted(set(per_setup[a]) & set(per_setup[b]))
        for key in keys:
            pairs = [(per_setup[a][q].get(key), per_setup[b][q].get(key)) for q in shared]
            pairs = [(x, y) for x, y in pairs if x is not None and y is not None]
            if len(pairs) < 2:
                continue
            xs, ys = zip(*pairs, strict=True)
            p = paired_permutation_test(xs, ys, n_resamples, seed)
            out.append(Comparison(key, a, b, float(np.mean(xs) - np.mean(ys)), p, len(pairs)))
    return out
