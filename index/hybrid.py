"""Fusing rankings from several retrievers with weighted reciprocal-rank fusion (RRF).

RRF (Cormack et al., SIGIR 2009) scores each item ``sum_r w_r / (k + rank_r)`` over the
retrievers ``r`` that returned it, with ranks counted from 1. It needs no score
calibration between BM25 and cosine, which is why it is the hybrid default.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.errors import ConfigError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class HybridConfig:
    """How hybrid search fuses BM25 and dense results.

    ``candidates`` is how many hits each retriever contributes before fusion; ``rrf_k``
    damps the advantage of the very first ranks (60 in the original paper).
    """

    rrf_k: int = 60
    bm25_weight: float = 1.0
    dense_weight: float = 1.0
    candidates: int = 100

    def __post_init__(self) -> None:
        if not isinstance(self.rrf_k, int) or not 0 <= self.rrf_k <= 10_000:
            raise ConfigError(f"hybrid.rrf_k must be an integer in 0..10000, got {self.rrf_k!r}")
        for name in ("bm25_weight", "dense_weight"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 100.0:
                raise ConfigError(f"hybrid.{name} must be in 0..100, got {value!r}")
        if self.bm25_weight == 0 and self.dense_weight == 0:
            raise ConfigError("hybrid.bm25_weight and hybrid.dense_weight cannot both be 0")
        if not isinstance(self.candidates, int) or not 1 <= self.candidates <= 10_000:
            raise ConfigError(
                f"hybrid.candidates must be an integer in 1..10000, got {self.candidates!r}"
            )

    @property
    def weights(self) -> dict[str, float]:
        return {"bm25": float(self.bm25_weight), "dense": float(self.dense_weight)}


def rrf(
    rankings: Mapping[str, Sequence[int]],
    weights: Mapping[str, float] | None = None,
    k: int = 60,
) -> list[tuple[int, float]]:
    """Fuse ``rankings`` (retriever name -> item ids, best first) into ``(id, score)``.

    ``weights`` maps retriever names to weights (missing names weigh 1.0; a weight for a
    retriever not in ``rankings`` is an error, as it is almost certainly a typo). An id
    listed twice by one retriever counts at its best rank. Results are sorted by fused
    score, ties broken by the smallest id, so the order is deterministic.
    """
    weights = dict(weights or {})
    unknown = set(weights) - set(rankings)
    if unknown:
        raise ConfigError(f"rrf weights name unknown retrievers: {', '.join(sorted(unknown))}")
    if k < 0:
        raise ConfigError(f"rrf k must be >= 0, got {k}")
    fused: dict[int, float] = {}
    for name, ranked in rankings.items():
        weight = float(weights.get(name, 1.0))
        seen: set[int] = set()
        for rank, item in enumerate(ranked, start=1):
            item = int(item)
            if item in seen:
                continue
            seen.add(item)
            fused[item] = fused.get(item, 0.0) + weight / (k + rank)
    return sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))
