"""Lexical search with BM25, stored and searched with bm25s.

Defaults follow Anserini's BEIR baselines: Lucene's BM25 variant with ``k1=0.9`` and
``b=0.4`` over title + text, English stopwords and stemming. The score matrix is
computed here from ``TermCounts`` with numpy (the same formulas as bm25s, checked by the
tests) so that an incremental update reuses the counts of unchanged chunks, then saved
and loaded with bm25s's own ``save``/``load``.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from core.errors import ConfigError
from index.analysis import TOKEN_PATTERN, Analyzer, TermCounts, Vocabulary

logger = logging.getLogger(__name__)

METHODS = ("lucene", "robertson", "atire")
STEMMERS = ("english", "porter", "none")
STOPWORDS = ("en", "none")
VOCAB_FILE = "vocab.terms.json"


# A query term that is a code: it holds a digit and no dot, three characters or more
# ("25006", "22p02", "e1234"; not "15.10" or "3.2", versions a question names as a point
# of reference, nor "8" or "30").
CODE_TERM = re.compile(r"^(?=[^.]*\d)[^.]{3,}$")
# A code term counts ``code_weight`` times only when at most this many chunks hold it: an
# identifier the asker copied from an error message or a screen, not a common number.
CODE_MAX_CHUNKS = 20


@dataclass(frozen=True)
class BM25Config:
    """BM25 scoring and analysis. ``include_title`` indexes ``title + "\\n" + text``;
    ``include_heading`` puts the chunk's heading path after the title ("Title > 20.3.
    Connection and Authentication > max_connections (integer)"), as dense search embeds
    it, so a chunk cut from the middle of a section still matches its section's words.
    ``None`` is an index built before headings were indexed: none are, and the next
    ingest into it indexes them (``IndexWriter.open``; the chunks are re-tokenized, not
    re-embedded).

    ``code_weight``: how many times a rare code in the query (``CODE_TERM``, in at most
    ``CODE_MAX_CHUNKS`` chunks) counts. A question that quotes "25006" or "22P02" wants
    the chunk that holds it, but once BM25 sums every query term, a page that says "hot
    standby" ten times outscores the table row with the code; counting the code three
    times puts it back in front (benchmarks/README.md, "Fusing BM25 and dense scores").
    1 counts it once, like any term.

    ``split_identifiers``: a token joined by underscores also counts as its parts
    (``Analyzer``), so "deadlock" finds the row naming ``deadlock_detected`` and
    "autovacuum cost delay" the setting ``autovacuum_vacuum_cost_delay``. ``None`` is an
    index built before this: its terms are not split, and the next ingest into it
    re-tokenizes them (not re-embeds).
    """

    k1: float = 0.9
    b: float = 0.4
    method: str = "lucene"
    stemmer: str = "porter"
    stopwords: str = "en"
    include_title: bool = True
    include_heading: bool | None = True
    token_pattern: str = TOKEN_PATTERN
    code_weight: int = 3
    split_identifiers: bool | None = True

    def __post_init__(self) -> None:
        if (not isinstance(self.code_weight, int) or isinstance(self.code_weight, bool)
                or not 1 <= self.code_weight <= 10):
            raise ConfigError(f"bm25.code_weight must be an integer in 1..10, "
                              f"got {self.code_weight!r}")
        if not isinstance(self.k1, int | float) or not 0.0 <= self.k1 <= 10.0:
            raise ConfigError(f"bm25.k1 must be in 0..10, got {self.k1!r}")
        if not isinstance(self.b, int | float) or not 0.0 <= self.b <= 1.0:
            raise ConfigError(f"bm25.b must be in 0..1, got {self.b!r}")
        for name, allowed in (("method", METHODS), ("stemmer", STEMMERS), ("stopwords", STOPWORDS)):
            if getattr(self, name) not in allowed:
                raise ConfigError(
                    f"bm25.{name} must be one of {', '.join(allowed)}, got {getattr(self, name)!r}"
                )

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> BM25Config:
        """Build from a dict; unknown keys are an error."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown bm25 config keys: {', '.join(sorted(unknown))}")
        # Older manifests: no headings, identifiers not split.
        return cls(**{"include_heading": None, "split_identifiers": None, **data})

    def analyzer(self) -> Analyzer:
        return Analyzer(
            stemmer=self.stemmer, stopwords=self.stopwords, token_pattern=self.token_pattern,
            split_identifiers=bool(self.split_identifiers),
        )

    def same_analysis(self, other: BM25Config) -> bool:
        """Whether term counts made under ``other`` are valid under this config."""
        return self._analysis() == other._analysis()

    def _analysis(self) -> tuple:
        """What a chunk's terms depend on."""
        return (self.stemmer, self.stopwords, self.include_title, bool(self.include_heading),
                self.token_pattern, bool(self.split_identifiers))

    def document_text(self, title: str, text: str, heading: Sequence[str] = ()) -> str:
        """What BM25 indexes of a chunk: its title and heading path (as configured), a
        newline, its text."""
        parts = [title] if self.include_title and title else []
        if self.include_heading:
            parts += [h for h in heading if h]
        return f"{' > '.join(parts)}\n{text}" if parts else text


def _idf(df: np.ndarray, n: int, method: str) -> np.ndarray:
    df = df.astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        if method == "lucene":
            idf = np.log1p((n - df + 0.5) / (df + 0.5))
        elif method == "robertson":
            idf = np.log(np.maximum((n - df + 0.5) / (df + 0.5), 1.0))
        else:  # atire
            idf = np.log(n / df)
    return np.where(df > 0, idf, 0.0)


def score_matrix(counts: TermCounts, n_terms: int, config: BM25Config) -> dict:
    """BM25 weight of every (term, chunk) pair as bm25s's CSC ``scores`` dict."""
    n = len(counts)
    df = np.bincount(counts.terms, minlength=n_terms)
    idf = _idf(df, n, config.method).astype(np.float32)
    lengths = counts.lengths.astype(np.float64)
    avg = float(lengths.mean()) if n and lengths.sum() else 1.0
    # The tf components of Kamphuis et al. (ECIR 2020), in float32 as bm25s computes them.
    norm = (config.k1 * ((1 - config.b) + config.b * lengths / avg)).astype(np.float32)
    per_entry = np.diff(counts.offsets)
    tf = counts.tfs.astype(np.float32)
    tfc = tf / (np.repeat(norm, per_entry) + tf)
    if config.method == "atire":
        tfc *= np.float32(config.k1 + 1)
    weights = idf[counts.terms] * tfc
    order = np.argsort(counts.terms, kind="stable")  # group by term, rows ascending within
    indptr = np.zeros(n_terms + 1, dtype=np.int64)
    np.cumsum(df, out=indptr[1:])
    rows = np.repeat(np.arange(n, dtype=np.int32), per_entry)
    return {"data": weights[order], "indices": rows[order], "indptr": indptr, "num_docs": n}


class BM25Index:
    """A searchable BM25 index over the chunks of one version (row = chunk position)."""

    def __init__(self, retriever, config: BM25Config) -> None:
        self.retriever = retriever  # bm25s.BM25
        self.config = config
        self.analyzer = config.analyzer()

    @property
    def size(self) -> int:
        return int(self.retriever.scores["num_docs"])

    @classmethod
    def build(cls, counts: TermCounts, vocab: Vocabulary, config: BM25Config) -> BM25Index:
        """Score ``counts`` (one entry per chunk, in row order) over ``vocab``."""
        import bm25s

        retriever = bm25s.BM25(k1=config.k1, b=config.b, method=config.method)
        retriever.scores = score_matrix(counts, len(vocab), config)
        retriever.vocab_dict = dict(vocab.ids)
        retriever.unique_token_ids_set = set(range(len(vocab)))
        retriever.nonoccurrence_array = None
        return cls(retriever, config)

    def save(self, directory: Path, vocab: Vocabulary, counts: TermCounts) -> None:
        """Write the bm25s index plus the vocabulary and counts the next version reuses."""
        directory.mkdir(parents=True, exist_ok=True)
        self.retriever.save(str(directory), show_progress=False)
        (directory / VOCAB_FILE).write_text(json.dumps(vocab.terms, ensure_ascii=False))
        counts.save(directory)

    @classmethod
    def load(cls, directory: Path, config: BM25Config) -> BM25Index:
        """Open a saved index for searching (arrays memory-mapped)."""
        import bm25s

        retriever = bm25s.BM25.load(str(directory), mmap=True, show_progress=False, verbosity=0)
        return cls(retriever, config)

    @staticmethod
    def load_terms(directory: Path) -> tuple[Vocabulary, TermCounts]:
        """The vocabulary and per-chunk counts a writer carries into the next version."""
        terms = json.loads((directory / VOCAB_FILE).read_text())
        return Vocabulary(terms), TermCounts.load(directory)

    def search(
        self, query: str, n: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``n`` ``(rows int64, scores float32)`` with a positive score, best first.

        A query with no indexed terms (only stopwords, or unseen words) returns empty
        arrays. ``mask`` (bool (size,)) keeps only the rows where it is true.
        """
        vocab = self.retriever.vocab_dict
        terms = self.analyzer.terms(query)
        ids = [vocab[t] for t in terms if t in vocab]
        ids += self._code_repeats(terms, vocab)
        if not ids or self.size == 0 or n <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        scores = self.retriever.get_scores_from_ids(ids)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        hits = np.flatnonzero(scores > 0)
        if len(hits) > n:
            hits = hits[np.argpartition(-scores[hits], n - 1)[:n]]
        order = np.lexsort((hits, -scores[hits]))  # score desc, then row asc for ties
        hits = hits[order]
        return hits.astype(np.int64), scores[hits].astype(np.float32)

    def _code_repeats(self, terms: list[str], vocab: dict[str, int]) -> list[int]:
        """The extra ids that make each rare code among the query's ``terms`` count
        ``code_weight`` times (a term listed twice in ``get_scores_from_ids`` adds its
        scores twice)."""
        extra = self.config.code_weight - 1
        if extra <= 0:
            return []
        indptr = self.retriever.scores["indptr"]  # term-major: a term's chunks are a slice
        out: list[int] = []
        for term in dict.fromkeys(terms):
            i = vocab.get(term)
            if i is not None and CODE_TERM.match(term) and (
                    0 < int(indptr[i + 1]) - int(indptr[i]) <= CODE_MAX_CHUNKS):
                out += [i] * extra
        return out
