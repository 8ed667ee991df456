"""Fusing the results of BM25 and dense search into one ranking.

Two methods:

- ``convex`` (the default): each retriever's scores are scaled to 0..1, its best
  candidate scoring 1, and an item scores ``sum_r w_r * norm_r(score)`` over the
  retrievers that returned it (an item a retriever did not return gets 0 from it). BM25
  scores are divided by the best one (0 is their floor: a weak match still counts);
  cosine scores are min-max scaled over the dense candidates. A convex combination of
  normalised scores outranks RRF (Bruch, Gai and Ingber, "An Analysis of Fusion
  Functions for Hybrid Retrieval", ACM TOIS 2023); it keeps what RRF throws away, how
  far ahead of the rest a retriever's first hit is. Equal weights; the method was chosen
  on the dev and training questions of both corpora (benchmarks/README.md, "Fusing BM25
  and dense scores").
- ``rrf``: reciprocal-rank fusion (Cormack et al., SIGIR 2009), ``sum_r w_r / (k +
  rank_r)`` with ranks counted from 1; it needs no score calibration. It was the
  default before, with equal weights.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from core.errors import ConfigError

logger = logging.getLogger(__name__)


FUSIONS = ("convex", "rrf")
# Each method's (BM25, dense) weights when none are given: equal.
DEFAULT_WEIGHTS = {"convex": (0.5, 0.5), "rrf": (1.0, 1.0)}
# The score each retriever's scale starts from under convex fusion (absent: its worst
# candidate's score).
SCORE_FLOORS = {"bm25": 0.0}


@dataclass(frozen=True)
class HybridConfig:
    """How hybrid search fuses BM25 and dense results.

    ``fusion`` is ``convex`` or ``rrf``; ``bm25_weight`` and ``dense_weight`` weigh the
    two retrievers (None: the method's default, ``DEFAULT_WEIGHTS``, equal);
    ``candidates`` is how many hits each retriever contributes before fusion; ``rrf_k``
    damps the advantage of the very first ranks under RRF (60 in the original paper).
    """

    fusion: str = "convex"
    rrf_k: int = 60
    bm25_weight: float | None = None
    dense_weight: float | None = None
    candidates: int = 100

    def __post_init__(self) -> None:
        if self.fusion not in FUSIONS:
            raise ConfigError(f"hybrid.fusion must be one of {', '.join(FUSIONS)}, "
                              f"got {self.fusion!r}")
        bm25, dense = DEFAULT_WEIGHTS[self.fusion]
        if self.bm25_weight is None:  # a weight not given is the method's default
            object.__setattr__(self, "bm25_weight", bm25)
        if self.dense_weight is None:
            object.__setattr__(self, "dense_weight", dense)
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

    def fuse(self, scored: Mapping[str, Mapping[int, float]]) -> list[tuple[int, float]]:
        """Fuse ``scored`` (retriever name -> {item: score}, best first) by this config's
        method: ``(item, fused score)`` best first."""
        if self.fusion == "rrf":
            return rrf({name: list(by_item) for name, by_item in scored.items()},
                       self.weights, k=self.rrf_k)
        return convex(scored, self.weights, depth=self.candidates)

    @classmethod
    def from_settings(cls, settings: object) -> HybridConfig:
        """The fusion ``core.settings.Settings`` asks for (``search_fusion``,
        ``search_dense_weight``)."""
        dense = settings.search_dense_weight
        return cls(fusion=settings.search_fusion, dense_weight=dense,
                   bm25_weight=None if dense is None else 1.0 - dense)


def convex(
    scored: Mapping[str, Mapping[int, float]],
    weights: Mapping[str, float] | None = None,
    floors: Mapping[str, float] | None = None,
    depth: int | None = None,
) -> list[tuple[int, float]]:
    """Fuse ``scored`` (retriever name -> {item: score}) by a weighted sum of normalised
    scores: each retriever's best candidate counts 1, and its ``floors`` score (default
    ``SCORE_FLOORS``; for a retriever without one, its worst candidate's score) counts 0;
    all count 1 when they tie. An item a retriever did not return gets 0 from it.
    ``weights`` as in ``rrf``. Ties are broken by the smallest id.

    ``depth``: a retriever without a floor is scaled over its ``depth`` best candidates
    only (those further down count 0), so fetching more candidates (room for the version
    policy to demote, or a larger k) does not change how the first ones are scored."""
    floors = SCORE_FLOORS if floors is None else floors
    weights = dict(weights or {})
    unknown = set(weights) - set(scored)
    if unknown:
        raise ConfigError(f"fusion weights name unknown retrievers: {', '.join(sorted(unknown))}")
    fused: dict[int, float] = {}
    for name, by_item in scored.items():
        if not by_item:
            continue
        weight = float(weights.get(name, 1.0))
        values = [float(v) for v in by_item.values()]
        worst = min(values)
        if depth is not None and len(values) > depth:
            worst = sorted(values, reverse=True)[depth - 1]
        low = min(float(floors.get(name, worst)), worst)
        span = max(values) - low
        for item, value in by_item.items():
            norm = max(0.0, (float(value) - low) / span) if span > 0 else 1.0
            fused[int(item)] = fused.get(int(item), 0.0) + weight * norm
    return sorted(fused.items(), key=lambda pair: (-pair[1], pair[0]))


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
