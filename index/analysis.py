"""Text to BM25 terms, and per-chunk term counts that carry over between index versions.

Tokenization is Anserini-like (Lucene's ``EnglishAnalyzer``): lowercase, split on word
characters, drop Lucene's 33 English stopwords, stem (Snowball English by default, or
Porter). It gives the same terms as ``bm25s.tokenize`` (a test checks this), with a
stem cache so that tokenizing document by document costs no more than all at once.

``TermCounts`` is a CSR table of ``(term id, frequency)`` per chunk plus each chunk's
length, over a ``Vocabulary`` whose ids never change while it only grows. Kept documents
copy their slice of it into the next version, so an incremental update re-tokenizes only
the chunks that changed.
"""

from __future__ import annotations

import itertools
import logging
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

COUNTS_FILE = "termcounts.npz"
# Lucene-like: single characters count, and numbers such as "0.05" or "1,000" stay whole.
# On SciFact this moves BM25 to the published Anserini figures (see eval/retrieval.py).
TOKEN_PATTERN = r"(?u)\w+(?:[.,'’]\w+)*"
SKLEARN_PATTERN = r"(?u)\b\w\w+\b"  # bm25s's default
MAX_CACHED_TOKENS = 2_000_000


class Analyzer:
    """Turns texts into stemmed terms exactly as ``bm25s.tokenize`` does, only faster.

    Lowercase, split into runs of 2+ word characters, drop stopwords, stem. Each token
    is stemmed once and remembered, which makes many small calls (one per document) as
    cheap as one big one. Thread-safe (PyStemmer objects are not).
    """

    def __init__(
        self, stemmer: str = "porter", stopwords: str = "en", token_pattern: str = TOKEN_PATTERN,
        split_identifiers: bool = False,
    ) -> None:
        self.stemmer_name = stemmer
        self.stopwords = stopwords
        self.split_identifiers = split_identifiers
        self._find = re.compile(token_pattern).findall
        self._stop: frozenset[str] = frozenset()
        self._stemmer = None
        self._cache: dict[str, str | None] = {}  # token -> stem, None for stopwords
        self._ids: dict[str, int] = {}
        self._ids_vocab: Vocabulary | None = None
        self._lock = threading.Lock()
        self._ready = False

    def _setup(self) -> None:
        from bm25s.stopwords import STOPWORDS_EN

        self._stop = frozenset(STOPWORDS_EN if self.stopwords == "en" else ())
        if self.stemmer_name != "none":
            import Stemmer

            self._stemmer = Stemmer.Stemmer(self.stemmer_name)
        self._ready = True

    def _split(self, text: str) -> tuple[list[str], list[str]]:
        """The tokens of a lowercased text, and the parts of those joined by underscores.

        With ``split_identifiers``, "deadlock_detected" is a token and "deadlock",
        "detected" its parts, as Lucene's word-delimiter filter with the original kept: a
        question that says "division by zero" then matches the row naming
        ``division_by_zero``, and one that quotes the identifier still matches it whole.
        The parts count as terms but not toward a chunk's length (Lucene discounts such
        overlapping tokens too), so a table of identifiers is not penalised as if it were
        twice as long."""
        tokens = self._find(text)
        if not self.split_identifiers or "_" not in text:
            return tokens, []
        return tokens, [part for token in tokens if "_" in token
                        for part in self._find(token.replace("_", " "))]

    def _stems(self, tokens: set[str]) -> dict[str, str | None]:
        """Stem of each token (None for stopwords); the caller holds the lock."""
        if not self._ready:
            self._setup()
        cache = self._cache
        if len(cache) > MAX_CACHED_TOKENS:
            cache.clear()
        missing = [t for t in tokens if t not in cache]
        if missing:
            words = [t for t in missing if t not in self._stop]
            stems = self._stemmer.stemWords(words) if self._stemmer else words
            cache.update(zip(words, stems, strict=True))
            cache.update((t, None) for t in missing if t in self._stop)
        return {t: cache[t] for t in tokens}

    def terms(self, text: str) -> list[str]:
        """The stemmed, stopword-free terms of one text (a query), in order."""
        tokens, parts = self._split(text.lower())
        tokens += parts
        with self._lock:
            stems = self._stems(set(tokens))
        return [stem for t in tokens if (stem := stems[t]) is not None]

    def count(self, texts: Sequence[str], vocab: Vocabulary) -> TermCounts:
        """Term counts for ``texts``, adding unseen terms to ``vocab``."""
        if not texts:
            return TermCounts.empty()
        split = [self._split(text.lower()) for text in texts]
        with self._lock:
            if self._ids_vocab is not vocab or len(self._ids) > MAX_CACHED_TOKENS:
                self._ids, self._ids_vocab = {}, vocab
            ids = self._ids  # token -> term id in ``vocab``, -1 for stopwords
            missing = {t for tokens, parts in split for t in (*tokens, *parts) if t not in ids}
            if missing:
                for token, stem in self._stems(missing).items():
                    ids[token] = -1 if stem is None else vocab.add(stem)
            lookup = ids.__getitem__
            whole = [[i for i in map(lookup, tokens) if i >= 0] for tokens, _ in split]
            id_lists = [w + [i for i in map(lookup, parts) if i >= 0] if parts else w
                        for w, (_, parts) in zip(whole, split, strict=True)]
        # a chunk's length counts its tokens, not the parts of its identifiers
        lengths = np.fromiter(map(len, whole), dtype=np.int64, count=len(texts))
        n_terms = np.fromiter(map(len, id_lists), dtype=np.int64, count=len(texts))
        flat = np.fromiter(
            itertools.chain.from_iterable(id_lists), dtype=np.int64, count=int(n_terms.sum())
        )
        chunk = np.repeat(np.arange(len(texts), dtype=np.int64), n_terms)
        width = max(len(vocab), 1)
        # One sort over all tokens gives each chunk's distinct terms and their frequencies.
        keys, tfs = np.unique(chunk * width + flat, return_counts=True)
        per_chunk = np.bincount(keys // width, minlength=len(texts))
        offsets = np.zeros(len(texts) + 1, dtype=np.int64)
        np.cumsum(per_chunk, out=offsets[1:])
        return TermCounts(
            offsets=offsets,
            terms=(keys % width).astype(np.int32),
            tfs=tfs.astype(np.int32),
            lengths=lengths.astype(np.int32),
        )


class Vocabulary:
    """Term <-> id, append-only so that stored ids stay valid."""

    def __init__(self, terms: Sequence[str] = ()) -> None:
        self.terms: list[str] = list(terms)
        self.ids: dict[str, int] = {t: i for i, t in enumerate(self.terms)}

    def __len__(self) -> int:
        return len(self.terms)

    def add(self, term: str) -> int:
        found = self.ids.get(term)
        if found is None:
            found = self.ids[term] = len(self.terms)
            self.terms.append(term)
        return found


@dataclass(frozen=True)
class TermCounts:
    """Per-chunk term frequencies in CSR form.

    ``offsets`` int64 (n + 1,); chunk ``i`` has terms ``terms[offsets[i]:offsets[i+1]]``
    (int32 vocabulary ids) with frequencies ``tfs`` (int32) at the same positions, and
    ``lengths[i]`` tokens in all (int32 (n,), what BM25 normalizes by).
    """

    offsets: np.ndarray
    terms: np.ndarray
    tfs: np.ndarray
    lengths: np.ndarray

    @classmethod
    def empty(cls) -> TermCounts:
        i32 = np.zeros(0, dtype=np.int32)
        return cls(np.zeros(1, dtype=np.int64), i32, i32, i32)

    def __len__(self) -> int:
        return len(self.lengths)

    def slice(self, start: int, stop: int) -> TermCounts:
        """Chunks ``start..stop-1`` as their own table (views, no copy)."""
        lo, hi = int(self.offsets[start]), int(self.offsets[stop])
        return TermCounts(
            offsets=self.offsets[start : stop + 1] - lo,
            terms=self.terms[lo:hi],
            tfs=self.tfs[lo:hi],
            lengths=self.lengths[start:stop],
        )

    @classmethod
    def concat(cls, parts: Sequence[TermCounts]) -> TermCounts:
        parts = [p for p in parts if len(p)]
        if not parts:
            return cls.empty()
        sizes = np.array([len(p.terms) for p in parts], dtype=np.int64)
        shifts = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        tails = [p.offsets[1:] + s for p, s in zip(parts, shifts, strict=True)]
        offsets = np.concatenate([np.zeros(1, dtype=np.int64), *tails])
        return cls(
            offsets=offsets,
            terms=np.concatenate([p.terms for p in parts]),
            tfs=np.concatenate([p.tfs for p in parts]),
            lengths=np.concatenate([p.lengths for p in parts]),
        )

    def compacted(self, vocab: Vocabulary) -> tuple[TermCounts, Vocabulary]:
        """Drop vocabulary terms no chunk uses any more, renumbering the rest."""
        used = np.unique(self.terms)
        if len(used) == len(vocab):
            return self, vocab
        remap = np.full(len(vocab), -1, dtype=np.int32)
        remap[used] = np.arange(len(used), dtype=np.int32)
        counts = TermCounts(self.offsets, remap[self.terms], self.tfs, self.lengths)
        return counts, Vocabulary([vocab.terms[i] for i in used])

    def save(self, directory: Path) -> Path:
        path = directory / COUNTS_FILE
        np.savez(path, offsets=self.offsets, terms=self.terms, tfs=self.tfs, lengths=self.lengths)
        return path

    @classmethod
    def load(cls, directory: Path) -> TermCounts:
        with np.load(directory / COUNTS_FILE) as data:
            return cls(data["offsets"], data["terms"], data["tfs"], data["lengths"])
