"""How well an evidence unit matches a question: a lexical overlap term and, with an
embedder, the cosine of the two embeddings.

    score = (1 - lexical_weight) * cosine + lexical_weight * overlap
            + rank_weight * retrieval_prior

- ``cosine`` mixes the question's cosine with the unit's text and with ``prefix: text``
  (``prefix_weight`` of the latter), so the heading path ("Regional prices", "Premium")
  counts without drowning a short unit ("Weight: 3.6 kg") in it;
- ``overlap`` is the share of the question's content terms (``content_terms``: words after
  ``STOPWORDS``, lightly stemmed) in the unit's text, a term found only in its prefix
  counting half;
- ``retrieval_prior`` is 1 for the units of the first retrieved passage, falling linearly
  with the passage's rank (off by default: on acme dev it moved hit@1 by a question
  either way).

The cosine of MiniLM embeddings of unrelated text is near 0 and the other terms are in
[0, 1], so ``min_score`` is on a fixed scale. The defaults were chosen on the acme dev
split (``benchmarks/evidence_selection.py``).

``EmbeddingScorer`` embeds each distinct text once and keeps the vectors (up to
``cache_size``), so scoring the same passages for many questions embeds them once.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

import numpy as np

from assistant.answering.stopwords import STOPWORDS
from core.errors import ConfigError

if TYPE_CHECKING:
    from assistant.answering.evidence import EvidenceUnit
    from ingest.embedding import Embedder

DEFAULT_LEXICAL_WEIGHT = 0.3
DEFAULT_PREFIX_WEIGHT = 0.75
DEFAULT_RANK_WEIGHT = 0.0

_TOKEN = re.compile(r"[a-z0-9]+(?:[.:_-][a-z0-9]+)*")
# Question words that say what kind of answer is wanted, not what it is about.
_QUESTION_WORD_LIST = (
    "much many long often soon quickly far big large heavy tall wide high fast loud strong "
    "cost costs price prices need needs want make makes happen happens mean means kind type "
    "i'm im i've ive thing things way ways still ever anything something someone until "
    "roughly approximately exactly")
_QUESTION_WORDS = frozenset(_QUESTION_WORD_LIST.split())
_NUMBER_WORDS = {
    "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6", "seven": "7",
    "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
}


def stem(word: str) -> str:
    """A light suffix stripper ("refunds" -> "refund", "charging" -> "charg")."""
    word = _NUMBER_WORDS.get(word, word)
    if any(c.isdigit() for c in word) or len(word) <= 3:
        return word
    for suffix in ("ies", "ing", "ed", "es", "s", "ly"):
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            if suffix == "ies":
                return word[:-3] + "y"
            if suffix == "s" and word[-2] in "siu":  # "glass", "plus", "this"
                return word
            if suffix == "ly" and (len(word) < 6 or word[-3] == "p"):
                return word  # "apply", "reply", "early", "supply": no adverbs of "app", "ear"
            return word[: -len(suffix)]
    return word


def tokens(text: str) -> list[str]:
    """Lower-case word tokens; dotted, dashed and colon-joined ones ("3.4.2", "e70",
    "robots:control", "arv-x900p") are kept whole, with their parts added after them."""
    out = []
    for tok in _TOKEN.findall(text.casefold().replace("\u2019", "'")):
        out.append(tok.strip(".:_-"))
        parts = re.split(r"[.:_-]", tok)
        if len(parts) > 1 and not re.fullmatch(r"[\d.]+", tok):
            out.extend(p for p in parts if p)
    return [t for t in out if t]


def content_terms(text: str) -> list[str]:
    """The stemmed content words of ``text`` (no stopwords, no question words), in order,
    without repeats."""
    seen, out = set(), []
    parts: list[str] = []  # of a compound ordinal just read: not terms of their own
    for tok in tokens(text):
        if parts and tok == parts[0]:
            parts.pop(0)
            continue  # "twenty" and "fifth" of "twenty-fifth" (as "the Twenty-fifth Amendment")
        parts = tok.split("-") if "-" in tok and tok in _ORDINAL_VALUE else []
        if tok in STOPWORDS or tok in _QUESTION_WORDS or len(tok) < 2 and not tok.isdigit():
            continue
        term = stem(tok)
        if term not in seen:
            seen.add(term)
            out.append(term)
    return out


def term_set(text: str) -> set[str]:
    """Every stemmed token of ``text`` (stopwords included), for membership tests; a
    numbered division also by its other spellings (``division_numbers``)."""
    toks = tokens(text)
    terms = {stem(t) for t in toks}
    # most texts name no division: the second pass only for those that do
    return terms if _DIVISIONS.isdisjoint(toks) else terms | division_numbers(text)


# Words that number the parts of a law, a contract or a book: "Article XIV", "the
# Fourteenth Amendment", "Chapter 3", "the third chapter".
_DIVISIONS = frozenset(["article", "articles", "amendment", "amendments", "chapter", "chapters",
                        "part", "parts", "section", "sections", "title", "clause", "clauses",
                        "appendix", "volume", "book"])
_ROMAN = re.compile(r"(?=[ivxl])(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")
_ROMAN_DIGITS = ((90, "xc"), (50, "l"), (40, "xl"), (10, "x"), (9, "ix"), (5, "v"),
                 (4, "iv"), (1, "i"))
_ORDINALS = ["first", "second", "third", "fourth", "fifth", "sixth", "seventh", "eighth",
             "ninth", "tenth", "eleventh", "twelfth", "thirteenth", "fourteenth", "fifteenth",
             "sixteenth", "seventeenth", "eighteenth", "nineteenth"]
_TENS = ["twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]
_TENTHS = ["twentieth", "thirtieth", "fortieth", "fiftieth", "sixtieth", "seventieth",
           "eightieth", "ninetieth"]
_NUMBERED = re.compile(r"(\d{1,2})(?:st|nd|rd|th|d)?")


def _roman(token: str) -> int | None:
    """The value of a Roman numeral from 1 to 99 ("xiv"), else None."""
    if _ROMAN.fullmatch(token) is None:
        return None
    value, rest = 0, token
    for n, digits in _ROMAN_DIGITS:
        while rest.startswith(digits):
            value, rest = value + n, rest[len(digits):]
    return value


def _ordinal(n: int) -> str:
    """"fourteenth", "twenty-fifth" (1 to 99)."""
    if n < 20:
        return _ORDINALS[n - 1]
    tens, ones = divmod(n, 10)
    return f"{_TENS[tens - 2]}-{_ORDINALS[ones - 1]}" if ones else _TENTHS[tens - 2]


_ORDINAL_VALUE = {_ordinal(n): n for n in range(1, 100)}


def _spellings(n: int) -> set[str]:
    """Every token a numbered division's number may be written as: "14", "14th", "xiv",
    "fourteenth", "twenty-fifth" (whole: a question's key terms leave out the parts of a
    compound ordinal, ``content_terms``, so "first" is not named by "Article XXI")."""
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    roman, rest = "", n
    for value, digits in _ROMAN_DIGITS:
        while rest >= value:
            roman, rest = roman + digits, rest - value
    return {str(n), f"{n}{suffix}", roman, _ordinal(n)}


def division_numbers(text: str) -> set[str]:
    """The other spellings (``_spellings``) of each numbered division ``text`` names:
    "Article XIV" adds "14", "14th", "fourteenth"; "the Fourteenth Amendment" adds "xiv",
    "14", "14th". Only beside a division word: "mix" or "DC" alone stays a word."""
    words = [w.strip(".:_-") for w in _TOKEN.findall(text.casefold())]
    out: set[str] = set()
    for before, word in zip(words, words[1:], strict=False):
        n: int | None = None
        if before in _DIVISIONS:  # "article xiv", "chapter 3"
            m = _NUMBERED.fullmatch(word)
            n = int(m[1]) if m else _roman(word)
        elif word in _DIVISIONS:  # "fourteenth amendment", "22nd amendment"
            m = _NUMBERED.fullmatch(before)
            n = int(m[1]) if m and before[-1:].isalpha() else _ORDINAL_VALUE.get(before)
        if n and 0 < n < 100:
            out |= _spellings(n)
    return out


def lexical_overlap(question: str, unit: EvidenceUnit, prefix_weight: float = 0.5) -> float:
    """Share of ``question``'s content terms found in the unit: a term in its text counts
    1, a term only in its prefix ``prefix_weight`` (0 when the question has none)."""
    terms = content_terms(question)
    if not terms:
        return 0.0
    text, prefix = term_set(unit.text), term_set(unit.path)
    return sum(1.0 if t in text else prefix_weight if t in prefix else 0.0
               for t in terms) / len(terms)


def with_path(unit: EvidenceUnit) -> str:
    """``path: text``, the unit as ``EmbeddingScorer`` embeds it with its prefix (its text
    alone when it has no path)."""
    return f"{unit.path}: {unit.text}" if unit.path else unit.text


def unit_forms(prefix_weight: float = DEFAULT_PREFIX_WEIGHT,
               ) -> list[Callable[[EvidenceUnit], str]]:
    """The forms of a unit ``EmbeddingScorer(prefix_weight=...)`` embeds, in order: its
    text (when ``prefix_weight`` < 1) and ``with_path`` (when > 0)."""
    return ([_text] if prefix_weight < 1.0 else []) + \
        ([with_path] if prefix_weight > 0.0 else [])


def _text(unit: EvidenceUnit) -> str:
    return unit.text


def embedded_texts(unit: EvidenceUnit, prefix_weight: float = DEFAULT_PREFIX_WEIGHT,
                   ) -> list[str]:
    """The texts of ``unit`` that ``EmbeddingScorer(prefix_weight=...)`` embeds
    (``unit_forms``), without repeats. A tuned selector (``assistant.answering.selector``)
    trains on exactly these."""
    return list(dict.fromkeys(form(unit) for form in unit_forms(prefix_weight)))


def retrieval_prior(units: Sequence[EvidenceUnit]) -> np.ndarray:
    """``1 - passage_rank / n_passages`` per unit: 1 for the first passage's units, falling
    linearly (0.8, 0.6, ... with five passages)."""
    n = max((u.passage_rank for u in units), default=0) + 1
    return np.array([1 - u.passage_rank / n for u in units], dtype=np.float32)


class LexicalScorer:
    """``lexical_overlap`` alone: no model, for tests and as a fallback."""

    def score(self, question: str, units: Sequence[EvidenceUnit]) -> np.ndarray:
        return np.array([lexical_overlap(question, u) for u in units], dtype=np.float32)


class EmbeddingScorer:
    """Cosine of ``embedder`` embeddings mixed with ``lexical_overlap`` (module docstring).

    ``embedder`` is anything with ``encode(list[str]) -> (n, dim)`` L2-normalized float32
    rows, such as ``ingest.embedding.Embedder``. The cosine is taken with the unit's text
    and with ``prefix: text``, mixed by ``prefix_weight`` (0: text only, 1: with prefix
    only): a short unit embedded with its prefix is mostly its prefix. Raises
    ``ConfigError`` when a weight is outside [0, 1].
    """

    def __init__(self, embedder: Embedder, lexical_weight: float = DEFAULT_LEXICAL_WEIGHT,
                 prefix_weight: float = DEFAULT_PREFIX_WEIGHT,
                 rank_weight: float = DEFAULT_RANK_WEIGHT, cache_size: int = 50_000) -> None:
        for name, value in (("lexical_weight", lexical_weight), ("prefix_weight", prefix_weight),
                            ("rank_weight", rank_weight)):
            if not 0.0 <= value <= 1.0:
                raise ConfigError(f"{name} must be in [0, 1], got {value}")
        self.embedder = embedder
        self.lexical_weight = lexical_weight
        self.prefix_weight = prefix_weight
        self.rank_weight = rank_weight
        self.cache_size = cache_size
        self._cache: OrderedDict[str, np.ndarray] = OrderedDict()

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """Embeddings of ``texts`` (float32 ``(n, dim)``), each distinct text encoded once."""
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        if missing:
            for text, vec in zip(missing, self.embedder.encode(missing), strict=True):
                self._cache[text] = np.asarray(vec, dtype=np.float32)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return np.stack([self._cache[t] for t in texts]) if texts else np.zeros((0, 0))

    def cosines(self, question: str, units: Sequence[EvidenceUnit]) -> np.ndarray:
        """Cosine of the question with each unit (float32 ``(len(units),)``)."""
        if not units:
            return np.zeros(0, dtype=np.float32)
        q = self.vectors([question])[0]
        pw = self.prefix_weight
        out = np.zeros(len(units), dtype=np.float32)
        if pw < 1.0:
            out += (1 - pw) * (self.vectors([u.text for u in units]) @ q)
        if pw > 0.0:
            out += pw * (self.vectors([with_path(u) for u in units]) @ q)
        return out

    def score(self, question: str, units: Sequence[EvidenceUnit]) -> np.ndarray:
        if not units:
            return np.zeros(0, dtype=np.float32)
        w = self.lexical_weight
        lexical = np.array([lexical_overlap(question, u) for u in units], dtype=np.float32)
        score = lexical if w == 1.0 else (1 - w) * self.cosines(question, units) + w * lexical
        return (score + self.rank_weight * retrieval_prior(units)).astype(np.float32)


_PLAIN_WORD = re.compile(r"[a-z]{3,}")


class RelatedTerms:
    """Which of a question's key terms a unit names only in other words ("heavy" in the
    question, "weight" in the unit; "weekday" and "Monday").

    Not used in the answer path: letting extraction count such words (``extract``'s
    ``related``) gained right answers on acme dev but added wrong ones on the PostgreSQL
    training questions at every ``min_cosine`` (``benchmarks/soft_terms.py``, figures in
    benchmarks/README.md), so extraction matches key terms word for word.

    ``vectors`` embeds words (``EmbeddingScorer.vectors``: cached, so each distinct word is
    encoded once). Called with the question, the key ``terms`` (stems, as
    ``content_terms`` gives them) the unit lacks, and the unit, it returns ``{term: unit
    word}`` for each term one of whose words in the question is within ``min_cosine`` of a
    word of the unit's path or text (plain words of three letters or more, no stopwords).
    Raises ``ConfigError`` when ``min_cosine`` is outside (0, 1].
    """

    def __init__(self, vectors: Callable[[Sequence[str]], np.ndarray],
                 min_cosine: float) -> None:
        if not 0.0 < min_cosine <= 1.0:
            raise ConfigError(f"min_cosine must be in (0, 1], got {min_cosine}")
        self.vectors = vectors
        self.min_cosine = min_cosine

    def _unit_vectors(self, words: list[str]) -> np.ndarray:
        v = np.asarray(self.vectors(words), dtype=np.float32)
        return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)

    def __call__(self, question: str, terms: Sequence[str],
                 unit: EvidenceUnit) -> dict[str, str]:
        wanted = set(terms)
        asked: dict[str, list[str]] = {}
        for word in _PLAIN_WORD.findall(question.casefold()):
            if word not in STOPWORDS and stem(word) in wanted:
                asked.setdefault(stem(word), []).append(word)
        if not asked:
            return {}
        words = sorted({w for w in _PLAIN_WORD.findall(f"{unit.path} {unit.text}".casefold())
                        if w not in STOPWORDS})
        if not words:
            return {}
        have = self._unit_vectors(words)
        out = {}
        for term, forms in asked.items():
            sims = self._unit_vectors(forms) @ have.T
            i, j = np.unravel_index(int(np.argmax(sims)), sims.shape)
            if sims[i, j] >= self.min_cosine:
                out[term] = words[j]
        return out
