"""Retrieval and answer metrics, and bootstrap statistics to compare setups.

Ranking metrics follow trec_eval as BEIR runs it through pytrec_eval: graded gains with a
log2 discount for nDCG, relevance meaning a grade above zero, and a mean over the queries
that have at least one relevant document. A query with relevant documents but no entry in
the run counts as zero (trec_eval ``-c``), so a retriever cannot gain by skipping queries.
Answer metrics follow the SQuAD evaluation script.
"""

from __future__ import annotations

import logging
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import numpy as np

logger = logging.getLogger(__name__)

Qrels = Mapping[str, Mapping[str, int]]  # query id -> doc id -> relevance grade
Run = Mapping[str, Sequence[str]]  # query id -> doc ids, best first
QueryMetric = Callable[[Sequence[str], Mapping[str, int]], float]


def _check_k(k: int | None) -> None:
    if k is not None and k < 1:
        raise ValueError(f"k must be >= 1 or None, got {k}")


def _top(ranked: Sequence[str], k: int | None) -> Sequence[str]:
    """The first ``k`` ids of a ranking; a repeated id is an error, not a double count."""
    top = ranked if k is None else ranked[:k]
    if len(set(top)) != len(top):
        dupes = sorted(d for d, n in Counter(top).items() if n > 1)
        raise ValueError(f"ranking lists a doc id more than once: {dupes[:5]}")
    return top


def query_ndcg(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """nDCG@k of one ranking: sum(grade / log2(rank + 1)) over the ideal ordering's sum.

    The ideal ranking is built from every judged document with a grade above zero, not only
    those retrieved. Returns 0.0 when nothing is relevant.
    """
    _check_k(k)
    ideal = sorted((g for g in judged.values() if g > 0), reverse=True)[:k]
    if not ideal:
        return 0.0
    discounts = 1.0 / np.log2(np.arange(2, k + 2))  # rank 1 -> 1/log2(2)
    gains = np.array([max(judged.get(d, 0), 0) for d in _top(ranked, k)], dtype=float)
    dcg = float(gains @ discounts[: len(gains)])
    idcg = float(np.array(ideal, dtype=float) @ discounts[: len(ideal)])
    return dcg / idcg


def query_recall(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Fraction of the relevant documents (grade > 0) found in the top ``k``."""
    _check_k(k)
    relevant = {d for d, g in judged.items() if g > 0}
    if not relevant:
        return 0.0
    return len(relevant.intersection(_top(ranked, k))) / len(relevant)


def query_precision(ranked: Sequence[str], judged: Mapping[str, int], k: int) -> float:
    """Relevant documents in the top ``k`` divided by ``k`` (also when fewer were returned)."""
    _check_k(k)
    return sum(1 for d in _top(ranked, k) if judged.get(d, 0) > 0) / k


def query_reciprocal_rank(
    ranked: Sequence[str], judged: Mapping[str, int], k: int | None = None
) -> float:
    """1 / rank of the first relevant document within the top ``k`` (all when None), else 0."""
    _check_k(k)
    for rank, doc_id in enumerate(_top(ranked, k), start=1):
        if judged.get(doc_id, 0) > 0:
            return 1.0 / rank
    return 0.0


def per_query(metric: QueryMetric, qrels: Qrels, run: Run) -> dict[str, float]:
    """``metric(ranking, judgments)`` for each query with at least one relevant document.

    Queries missing from ``run`` score as an empty ranking; queries in ``run`` without
    judgments are left out. Use ``functools.partial`` to fix ``k``.
    """
    return {
        qid: metric(run.get(qid, ()), judged)
        for qid, judged in qrels.items()
        if any(g > 0 for g in judged.values())
    }


def _mean(scores: Mapping[str, float]) -> float:
    if not scores:
        raise ValueError("no query has a relevant document in the qrels")
    return float(np.mean(list(scores.values())))


def ndcg_at_k(qrels: Qrels, run: Run, k: int = 10) -> float:
    """Mean nDCG@k over the queries that have relevant documents (BEIR's headline metric)."""
    return _mean(per_query(lambda r, j: query_ndcg(r, j, k), qrels, run))


def recall_at_k(qrels: Qrels, run: Run, k: int = 100) -> float:
    """Mean per-query recall@k (BEIR's R@k, not the pooled fraction of all pairs)."""
    return _mean(per_query(lambda r, j: query_recall(r, j, k), qrels, run))


def precision_at_k(qrels: Qrels, run: Run, k: int = 10) -> float:
    """Mean precision@k over the queries that have relevant documents."""
    return _mean(per_query(lambda r, j: query_precision(r, j, k), qrels, run))


def mrr(qrels: Qrels, run: Run, k: int | None = None) -> float:
    """Mean reciprocal rank, counting only the top ``k`` when given."""
    return _mean(per_query(lambda r, j: query_reciprocal_rank(r, j, k), qrels, run))


# --- answers ----------------------------------------------------------------------------

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans("", "", string.punctuation)


def normalize_answer(text: str) -> str:
    """SQuAD normalisation: lowercase, drop punctuation and articles, collapse whitespace.
    Punctuation is ASCII's and any other Unicode punctuation (the curly quotes and dashes
    of the PostgreSQL manual: ``The default is “read committed”.`` gives "read
    committed")."""
    text = text.lower().translate(_PUNCT)
    if not text.isascii():
        text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P"))
    return " ".join(_ARTICLES.sub(" ", text).split())


def _as_list(references: str | Sequence[str]) -> list[str]:
    refs = [references] if isinstance(references, str) else list(references)
    if not refs:
        raise ValueError("at least one reference answer is needed")
    return refs


def exact_match(prediction: str, references: str | Sequence[str]) -> float:
    """1.0 when the normalised prediction equals any normalised reference, else 0.0."""
    pred = normalize_answer(prediction)
    return float(any(pred == normalize_answer(r) for r in _as_list(references)))


def _f1(prediction: str, reference: str) -> float:
    pred, ref = normalize_answer(prediction).split(), normalize_answer(reference).split()
    if not pred or not ref:
        return float(pred == ref)  # both empty is a match, one empty is not
    common = sum((Counter(pred) & Counter(ref)).values())
    if common == 0:
        return 0.0
    precision, recall = common / len(pred), common / len(ref)
    return 2 * precision * recall / (precision + recall)


def token_f1(prediction: str, references: str | Sequence[str]) -> float:
    """SQuAD token-overlap F1 of the normalised texts, the best over the references."""
    return max(_f1(prediction, r) for r in _as_list(references))


# --- comparing setups -------------------------------------------------------------------

_CHUNK = 1 << 22  # resampled values per block, bounds memory for large inputs


def _as_array(values: Sequence[float], name: str) -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 1 or arr.size == 0:
        raise ValueError(f"{name} must be a non-empty 1-d sequence of numbers")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} holds NaN or infinite values")
    return arr


def _resampled_means(arr: np.ndarray, n_resamples: int, seed: int) -> np.ndarray:
    """Means of ``n_resamples`` bootstrap resamples (with replacement) of ``arr``."""
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK // arr.size)
    means = [
        arr[rng.integers(0, arr.size, size=(min(rows, n_resamples - i), arr.size))].mean(axis=1)
        for i in range(0, n_resamples, rows)
    ]
    return np.concatenate(means)


def bootstrap_ci(
    values: Sequence[float], n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> tuple[float, float, float]:
    """Mean of ``values`` and its percentile-bootstrap confidence interval ``(mean, low, high)``.

    Raises ValueError for an empty input, non-finite values or a confidence outside (0, 1).
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    arr = _as_array(values, "values")
    means = _resampled_means(arr, n_resamples, seed)
    alpha = (1.0 - confidence) / 2
    low, high = np.quantile(means, [alpha, 1.0 - alpha])
    return float(arr.mean()), float(low), float(high)


def _paired_diff(a: Sequence[float], b: Sequence[float]) -> np.ndarray:
    x, y = _as_array(a, "a"), _as_array(b, "b")
    if x.shape != y.shape:
        raise ValueError(f"paired scores need equal lengths, got {x.size} and {y.size}")
    return x - y


def paired_bootstrap_test(
    a: Sequence[float], b: Sequence[float], n_resamples: int = 10_000, seed: int = 0
) -> float:
    """Two-sided p-value that setups ``a`` and ``b`` (scores on the same questions) differ.

    Resamples questions, centres the resampled mean differences on zero (the null) and
    counts how often they are at least as far from zero as the observed difference.
    Identical inputs give 1.0.
    """
    diff = _paired_diff(a, b)
    observed = diff.mean()
    means = _resampled_means(diff, n_resamples, seed)
    extreme = np.abs(means - observed) >= abs(observed) - 1e-12
    return float(extreme.mean())


def paired_permutation_test(
    a: Sequence[float], b: Sequence[float], n_resamples: int = 10_000, seed: int = 0
) -> float:
    """Two-sided p-value of a paired sign-flip permutation test on the mean difference.

    Swaps each question's two scores at random; the p-value is ``(hits + 1) / (n + 1)``, so it
    is never exactly zero. Identical inputs give 1.0.
    """
    diff = _paired_diff(a, b)
    if n_resamples < 1:
        raise ValueError(f"n_resamples must be >= 1, got {n_resamples}")
    observed = abs(diff.mean())
    rng = np.random.default_rng(seed)
    rows = max(1, _CHUNK // diff.size)
    hits = 0
    for i in range(0, n_resamples, rows):
        signs = rng.choice((-1.0, 1.0), size=(min(rows, n_resamples - i), diff.size))
        hits += int(np.sum(np.abs((signs * diff).mean(axis=1)) >= observed - 1e-12))
    return (hits + 1) / (n_resamples + 1)

