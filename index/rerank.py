"""Optional second-stage reranking of retrieved passages with a cross-encoder.

No reranker weights ship with the project: ``CrossEncoderReranker`` loads a
sentence-transformers cross-encoder from a local directory only (never from a hub).
Anything with a ``candidates`` count and a ``rerank(query, passages)`` method can be
given to the ``Searcher`` instead.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from core.devices import resolve_device
from core.errors import ConfigError
from index.records import Passage

logger = logging.getLogger(__name__)

ScoreFn = Callable[[str, Sequence[str]], Sequence[float]]


class Reranker(Protocol):
    """Reorders a searcher's top ``candidates`` passages for a query."""

    candidates: int

    def rerank(self, query: str, passages: Sequence[Passage]) -> list[Passage]: ...


def rerank_with(score_fn: ScoreFn, query: str, passages: Sequence[Passage]) -> list[Passage]:
    """Rescore ``passages`` with ``score_fn(query, texts)`` and sort best first.

    Each passage's ``score`` becomes its new score; ``scores`` keeps the retrieval scores
    and gains ``"rerank"``. Ties keep the retrieval order.
    """
    if not passages:
        return []
    scores = np.asarray(score_fn(query, [p.text for p in passages]), dtype=np.float64)
    if scores.shape != (len(passages),):
        raise ValueError(
            f"reranker returned {scores.size} scores for {len(passages)} passages "
            f"(shape {scores.shape})"
        )
    rescored = [
        dataclasses.replace(p, score=float(s), scores={**p.scores, "rerank": float(s)})
        for p, s in zip(passages, scores, strict=True)
    ]
    order = sorted(range(len(rescored)), key=lambda i: (-rescored[i].score, i))
    return [rescored[i] for i in order]


class CrossEncoderReranker:
    """A sentence-transformers ``CrossEncoder`` loaded from a local directory.

    ``candidates`` is how many retrieved passages it rescores (the searcher fetches that
    many, then keeps the best ``k`` after reranking); ``device`` is ``auto``, ``cpu``,
    ``cuda`` or ``cuda:N`` (``core.devices``). Raises ``ConfigError`` when ``path`` is not
    a directory holding a loadable model, or for a device that is unknown or absent.
    """

    def __init__(
        self,
        path: str | Path,
        candidates: int = 20,
        batch_size: int = 16,
        device: str = "auto",
        max_length: int | None = 512,
    ) -> None:
        if not 1 <= candidates <= 1000:
            raise ConfigError(f"reranker.candidates must be in 1..1000, got {candidates}")
        if not 1 <= batch_size <= 4096:
            raise ConfigError(f"reranker.batch_size must be in 1..4096, got {batch_size}")
        path = Path(path)
        if not path.is_dir():
            raise ConfigError(
                f"reranker path {str(path)!r} is not a directory; give a local "
                "sentence-transformers cross-encoder directory (no weights are downloaded)"
            )
        try:
            device = resolve_device(device)
        except ConfigError as exc:  # name the field, as the checks above do
            raise ConfigError(f"reranker.{exc}") from exc
        from sentence_transformers import CrossEncoder

        self.path = path
        self.candidates = candidates
        self.batch_size = batch_size
        try:
            self.model = CrossEncoder(
                str(path), device=device, local_files_only=True, max_length=max_length
            )
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot load cross-encoder from {path}: {exc}") from exc
        logger.info("reranker %s loaded", path)

    def score(self, query: str, texts: Sequence[str]) -> np.ndarray:
        """Relevance of ``texts`` to ``query``, float32 (len(texts),): the model's output
        after its activation (a sigmoid for the usual one-label cross-encoders)."""
        if not texts:
            return np.zeros(0, dtype=np.float32)
        scores = self.model.predict(
            [(query, t) for t in texts], batch_size=self.batch_size,
            show_progress_bar=False, convert_to_numpy=True,
        )
        return np.asarray(scores, dtype=np.float32).reshape(len(texts))

    def rerank(self, query: str, passages: Sequence[Passage]) -> list[Passage]:
        """Rescore and reorder ``passages`` for ``query``, best first."""
        return rerank_with(self.score, query, passages)
