"""Check an answer's ``[n]`` citations against the passages they point to.

``CitationVerifier(embedder, CitationConfig()).verify(answer_text, passages)`` splits the
answer into sentences, reads each sentence's markers (``[1]``, ``[1, 2]``, ``[1][2]``),
and scores how well every passage supports the sentence: the cosine between the sentence
and the passage's best-matching sentence (one batched ``Embedder.encode`` call for the
whole answer), blended with the share of the sentence's content words and numbers that
passage sentence contains. A number in the answer that the passage lacks cuts the support
hard ("60 days" is not supported by "30 days"). That passage sentence becomes the quote.

A cited passage that supports its sentence is kept; one that does not is moved to the
retrieved passage that does, or dropped. The result carries the answer with its markers
rewritten to match, the ``Citation`` records, and per-sentence support, so the eval can
score citation recall and precision from it. Deterministic for a given embedder.
"""

from __future__ import annotations

import logging
import re
import threading
from collections import OrderedDict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from assistant.answering.records import Citation
from assistant.answering.stopwords import STOPWORDS
from core.errors import ConfigError
from core.prompt_format import insert_markers, is_abstention
from index.records import Passage

if TYPE_CHECKING:
    from ingest.embedding import Embedder

logger = logging.getLogger(__name__)

METHODS = ("hybrid", "embedding", "lexical")

_MARKERS = re.compile(r"\[\s*(\d+(?:\s*[,;]\s*\d+)*)\s*\]")
_LEADING_MARKERS = re.compile(r"(?:\s*\[\s*\d+(?:\s*[,;]\s*\d+)*\s*\])+")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+|\n+")
_ENUMERATOR = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s+")
_TOKEN = re.compile(r"\$?\d+(?:[.,]\d+)*%?|[a-z][a-z0-9]*")


@dataclass(frozen=True)
class CitationConfig:
    """How citations are checked.

    ``min_support``: the support (0..1) a passage needs to back a sentence. ``method``:
    ``hybrid`` (cosine blended with lexical overlap), ``embedding`` or ``lexical``.
    ``semantic_weight``: the cosine's share in ``hybrid``. ``number_penalty``: the share of
    support lost when none of the sentence's numbers is in the passage (pro rata).
    ``add_missing``: also cite the best passage for a supported sentence the model left
    uncited (off by default: the verifier checks citations, it does not invent them).
    ``cache_size``: texts (passage sentences, answer sentences) whose embeddings are kept
    between calls (0 = none).
    """

    min_support: float = 0.5
    method: str = "hybrid"
    semantic_weight: float = 0.6
    number_penalty: float = 0.7
    max_quote_chars: int = 300
    add_missing: bool = False
    cache_size: int = 4096

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ConfigError(f"method must be one of {', '.join(METHODS)}, got {self.method!r}")
        for name in ("min_support", "semantic_weight", "number_penalty"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {value}")
        if self.max_quote_chars < 20:
            raise ConfigError(f"max_quote_chars must be >= 20, got {self.max_quote_chars}")
        if self.cache_size < 0:
            raise ConfigError(f"cache_size must be >= 0, got {self.cache_size}")


@dataclass(frozen=True)
class SentenceSupport:
    """One answer sentence after checking.

    ``text``: the sentence without markers. ``cited``: in-range passage numbers the model
    wrote; ``invalid``: out-of-range ones. ``citations``: the numbers after checking.
    ``scores[i]``: support of the sentence by passage ``i + 1``; ``quotes[i]`` the passage
    sentence behind that score. ``is_claim``: false for sentences with no content words
    and for the abstention sentence (they need no support).
    """

    index: int
    text: str
    cited: tuple[int, ...]
    invalid: tuple[int, ...]
    citations: tuple[int, ...]
    scores: tuple[float, ...]
    quotes: tuple[str, ...]
    is_claim: bool
    min_support: float

    @property
    def support(self) -> float:
        return max(self.scores, default=0.0)

    @property
    def best_n(self) -> int | None:
        return int(np.argmax(self.scores)) + 1 if self.scores else None

    @property
    def supported(self) -> bool:
        return self.is_claim and self.support >= self.min_support

    def to_json(self) -> dict:
        return {
            "index": self.index, "text": self.text, "cited": list(self.cited),
            "invalid": list(self.invalid), "citations": list(self.citations),
            "support": round(self.support, 4), "best_n": self.best_n,
            "supported": self.supported, "is_claim": self.is_claim,
            "scores": [round(s, 4) for s in self.scores],
        }


@dataclass(frozen=True)
class Verification:
    """The checked answer: rewritten ``text``, ``citations``, per-sentence ``sentences``,
    and counts of citations ``kept``/``moved``/``dropped``/``added``/``invalid``."""

    text: str
    citations: tuple[Citation, ...]
    sentences: tuple[SentenceSupport, ...]
    counts: dict[str, int] = field(default_factory=dict)

    @property
    def claims(self) -> list[SentenceSupport]:
        return [s for s in self.sentences if s.is_claim]

    @property
    def supported_fraction(self) -> float:
        """Share of claim sentences some passage supports (0.0 when there are none)."""
        claims = self.claims
        return sum(s.supported for s in claims) / len(claims) if claims else 0.0

    def to_json(self) -> dict:
        return {
            "text": self.text,
            "citations": [c.to_json() for c in self.citations],
            "sentences": [s.to_json() for s in self.sentences],
            "counts": dict(self.counts),
            "supported_fraction": round(self.supported_fraction, 4),
        }


class CitationVerifier:
    """Checks citations with ``embedder`` (may be None only for ``method="lexical"``)."""

    def __init__(self, embedder: Embedder | None, config: CitationConfig | None = None) -> None:
        self.config = config or CitationConfig()
        if embedder is None and self.config.method != "lexical":
            raise ConfigError(f"method {self.config.method!r} needs an embedder; "
                              "pass one or use method='lexical'")
        self.embedder = embedder
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, answer_text: str, passages: Sequence[Passage]) -> Verification:
        """Check ``answer_text`` (with ``[n]`` markers, n counted from 1 over ``passages``)."""
        cfg = self.config
        spans = split_sentences(answer_text)
        raw = [answer_text[a:b] for a, b in spans]
        parsed = [_parse_markers(s, len(passages)) for s in raw]
        texts = [_strip_markers(s) for s in raw]
        claim = [_is_claim(t) for t in texts]
        units = [passage_units(p.text) for p in passages]
        scores, quotes = self._score([t for t, c in zip(texts, claim, strict=True) if c],
                                     passages, units)
        counts = dict.fromkeys(("kept", "moved", "dropped", "added", "invalid"), 0)
        sentences, rebuilt, row = [], [], 0
        for i, (text, (cited, invalid), is_claim) in enumerate(
                zip(texts, parsed, claim, strict=True)):
            counts["invalid"] += len(invalid)
            s_scores: tuple[float, ...] = ()
            s_quotes: tuple[str, ...] = ()
            if is_claim:
                s_scores = tuple(float(x) for x in scores[row])
                s_quotes = tuple(quotes[row])
                row += 1
                final = self._decide(cited, s_scores, counts)
            else:
                final = ()
                counts["dropped"] += len(cited)
            sentences.append(SentenceSupport(i, text, cited, invalid, final, s_scores,
                                             s_quotes, is_claim, cfg.min_support))
            rebuilt.append(insert_markers(text, "".join(f"[{n}]" for n in final)))
        return Verification(
            text=_rejoin(answer_text, spans, rebuilt),
            citations=self._citations(sentences, passages),
            sentences=tuple(sentences),
            counts={**counts, "sentences": len(sentences),
                    "claims": sum(claim),
                    "unsupported_sentences": sum(s.is_claim and not s.supported
                                                 for s in sentences)},
        )

    def _decide(self, cited: tuple[int, ...], scores: tuple[float, ...],
                counts: dict[str, int]) -> tuple[int, ...]:
        floor = self.config.min_support
        good = [n for n in cited if scores[n - 1] >= floor]
        final = list(good)
        ranked = [n for n in np.argsort(-np.asarray(scores), kind="stable") + 1
                  if scores[n - 1] >= floor]
        for n in cited:
            if n in good:
                counts["kept"] += 1
                continue
            alternative = next((int(m) for m in ranked if m not in final), None)
            if alternative is None:
                counts["dropped"] += 1
            else:
                final.append(alternative)
                counts["moved"] += 1
        if not cited and self.config.add_missing and ranked:
            final.append(int(ranked[0]))
            counts["added"] += 1
        return tuple(final)

    def _score(self, claims: list[str], passages: Sequence[Passage],
               units: list[list[tuple[int, int]]]) -> tuple[np.ndarray, list[list[str]]]:
        """(claims, passages) support matrix and, per pair, the best passage sentence."""
        cfg = self.config
        unit_texts = [p.text[a:b] for p, us in zip(passages, units, strict=True) for a, b in us]
        owner = np.array([i for i, us in enumerate(units) for _ in us], dtype=np.int64)
        scores = np.zeros((len(claims), len(passages)), dtype=np.float64)
        quotes = [[""] * len(passages) for _ in claims]
        if not claims or not unit_texts:
            return scores, quotes
        lexical = np.zeros((len(claims), len(unit_texts)))
        claim_terms = [content_terms(c) for c in claims]
        heading_terms = [content_terms(" ".join(p.heading)) for p in passages]
        for j, text in enumerate(unit_texts):
            terms = content_terms(text) | heading_terms[owner[j]]
            for i, wanted in enumerate(claim_terms):
                lexical[i, j] = len(wanted & terms) / len(wanted) if wanted else 0.0
        if cfg.method == "lexical":
            combined = lexical
        else:
            claim_vectors, unit_vectors = self._embed(claims, unit_texts)
            cosine = np.clip(claim_vectors @ unit_vectors.T, 0.0, 1.0)  # (claims, units)
            w = 1.0 if cfg.method == "embedding" else cfg.semantic_weight
            combined = w * cosine + (1.0 - w) * lexical
        passage_numbers = [numbers(p.text + " " + " ".join(p.heading)) for p in passages]
        for i, claim in enumerate(claims):
            wanted = numbers(claim)
            for p in range(len(passages)):
                cols = np.flatnonzero(owner == p)
                if cols.size == 0:
                    continue
                best = cols[int(np.argmax(combined[i, cols]))]
                factor = 1.0
                if wanted:
                    missing = len(wanted - passage_numbers[p]) / len(wanted)
                    factor = 1.0 - cfg.number_penalty * missing
                scores[i, p] = float(combined[i, best]) * factor
                quotes[i][p] = _quote(unit_texts[best], cfg.max_quote_chars)
        return scores, quotes

    def _embed(self, claims: list[str], units: list[str]) -> tuple[np.ndarray, np.ndarray]:
        """Unit-normalized vectors of claims and passage units, in one ``encode`` call for
        every text not cached. Passage units recur across questions, and a streamed
        answer's sentences recur across the checks of its growing prefix, so each is
        embedded once."""
        texts = claims + units
        with self._lock:
            cached = {t: self._cache[t] for t in texts if t in self._cache}
        missing = list(dict.fromkeys(t for t in texts if t not in cached))
        fresh: dict[str, np.ndarray] = {}
        if missing:
            vectors = self.embedder.encode(missing)  # (missing, dim)
            vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True),
                                           1e-9)
            fresh = dict(zip(missing, vectors, strict=True))
        if self.config.cache_size:
            with self._lock:
                for text in dict.fromkeys(texts):
                    self._cache[text] = cached.get(text, fresh.get(text))
                    self._cache.move_to_end(text)
                while len(self._cache) > self.config.cache_size:
                    self._cache.popitem(last=False)
        vectors = np.stack([cached[t] if t in cached else fresh[t] for t in texts])
        return vectors[: len(claims)], vectors[len(claims):]

    def _citations(self, sentences: list[SentenceSupport],
                   passages: Sequence[Passage]) -> tuple[Citation, ...]:
        """One ``Citation`` per cited passage, quoting its best-supported sentence; its
        ``origin`` is ``model`` when some sentence kept the model's own ``[n]``, else
        ``verifier`` (moved or added)."""
        confirmed = {n for s in sentences for n in s.citations if n in s.cited}
        best: dict[int, tuple[float, str]] = {}
        for s in sentences:
            for n in s.citations:
                score, quote = s.scores[n - 1], s.quotes[n - 1]
                if n not in best or score > best[n][0]:
                    best[n] = (score, quote)
        out = []
        for n, (score, quote) in best.items():
            p = passages[n - 1]
            out.append(Citation(n=n, chunk_id=p.chunk_id, source=p.source,
                                page_index=p.page_index, page_label=p.page_label,
                                heading=p.heading_path, quote=quote, support=score,
                                effective_date=p.effective_date, status=p.status,
                                origin="model" if n in confirmed else "verifier"))
        return tuple(out)


def split_sentences(text: str) -> list[tuple[int, int]]:
    """``(start, end)`` spans of the sentences (or lines) of ``text``, stripped.

    Markers written after the full stop (``"... days. [1] Next"``) stay with their sentence.
    """
    spans, start = [], 0
    for match in _SENTENCE_END.finditer(text):
        if match.start() < start:
            continue
        lead = _LEADING_MARKERS.match(text, match.end())
        end = lead.end() if lead is not None else match.start()
        spans.append((start, end))
        start = end if lead is not None else match.end()
    spans.append((start, len(text)))
    return [_trim(text, a, b) for a, b in spans if text[a:b].strip()]


def passage_units(text: str) -> list[tuple[int, int]]:
    """Spans of a passage's sentences/lines; pieces under 4 words join the next one."""
    merged: list[tuple[int, int]] = []
    pending: int | None = None
    for a, b in split_sentences(text):
        start = a if pending is None else pending
        if len(text[start:b].split()) < 4:
            pending = start
            continue
        merged.append((start, b))
        pending = None
    if pending is not None:  # a short tail joins the previous unit (or stands alone)
        tail_end = len(text.rstrip())
        merged.append((merged.pop()[0], tail_end) if merged else (pending, tail_end))
    return merged


def content_terms(text: str) -> set[str]:
    """Lower-cased content words (crudely singularized) and normalized numbers."""
    terms = set()
    for token in _TOKEN.findall(text.lower()):
        if token[0].isdigit() or token[0] == "$":
            terms.add(_number(token))
        elif token not in STOPWORDS and len(token) > 1:
            terms.add(token[:-1] if len(token) > 3 and token.endswith("s")
                      and not token.endswith("ss") else token)
    return terms


def numbers(text: str) -> set[str]:
    """Normalized numbers in ``text``: ``$10,000`` -> ``10000``, ``12.99`` stays."""
    return {_number(t) for t in _TOKEN.findall(text.lower()) if t[0].isdigit() or t[0] == "$"}


def _number(token: str) -> str:
    token = token.lstrip("$").rstrip("%").replace(",", "")
    return token.rstrip(".") if "." in token else token


def _parse_markers(sentence: str, n_passages: int) -> tuple[tuple[int, ...], tuple[int, ...]]:
    found = [int(n) for m in _MARKERS.finditer(sentence) for n in re.split(r"[,;]", m.group(1))]
    valid = tuple(dict.fromkeys(n for n in found if 1 <= n <= n_passages))
    invalid = tuple(dict.fromkeys(n for n in found if not 1 <= n <= n_passages))
    return valid, invalid


def _strip_markers(sentence: str) -> str:
    text = _MARKERS.sub("", sentence)
    text = re.sub(r"\s+([.,!?;:])", r"\1", text)
    return " ".join(text.split())


def _is_claim(text: str) -> bool:
    return bool(content_terms(_ENUMERATOR.sub("", text))) and not is_abstention(text)


def _quote(unit: str, limit: int) -> str:
    """The unit itself (a verbatim span of the passage), cut at a word under ``limit``."""
    unit = unit.strip()
    if len(unit) <= limit:
        return unit
    cut = unit[:limit]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def _trim(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _rejoin(original: str, spans: list[tuple[int, int]], pieces: list[str]) -> str:
    """``original`` with each span replaced by its rewritten piece; separators kept."""
    out, last = [], 0
    for (a, b), piece in zip(spans, pieces, strict=True):
        out.append(original[last:a])
        out.append(piece)
        last = b
    out.append(original[last:])
    return "".join(out).strip()
