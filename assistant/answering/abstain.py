"""When to say "the documents do not cover this" instead of answering.

Two checks, each returning ``None`` (answer) or a reason ``"<rule>: <details>"``:

- ``before_generation``: nothing was retrieved (``no_passages``), or the best retrieved
  passage's dense cosine to the query is below ``min_retrieval_score``
  (``low_retrieval_score``). Scores come from ``Passage.scores["dense"]``; passages found by
  BM25 alone are re-embedded when an embedder is at hand.
- ``after_generation``: the model itself replied with the abstention sentence
  (``model_abstained``), said nothing (``empty_answer``), or fewer than
  ``min_supported_fraction`` of its sentences are supported by a passage (``unsupported``).

Default thresholds were measured on ``examples/acme`` (all-MiniLM-L6-v2, hybrid k=5): the
best dense cosine of answerable train questions was 0.31 at the lowest (median 0.60);
off-topic questions (geography, cooking, sports, ...) reached 0.27 at most (median 0.15).
In-domain unanswerable questions score like answerable ones (0.38-0.69), so only the
after-generation support check can catch them.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from assistant.answering.citations import Verification
from core.errors import ConfigError
from core.prompt_format import is_abstention
from index.records import Passage

if TYPE_CHECKING:
    from ingest.embedding import Embedder

logger = logging.getLogger(__name__)

RULES = ("no_passages", "low_retrieval_score", "model_abstained", "empty_answer",
         "unsupported")


@dataclass(frozen=True)
class AbstainConfig:
    """Abstention thresholds.

    ``min_retrieval_score``: the dense cosine (-1..1) the best passage needs before the
    model is asked at all; -1 turns the check off. ``min_supported_fraction``: the share
    (0..1) of answer sentences that must be supported by some passage; 0 turns it off.
    """

    min_retrieval_score: float = 0.28
    min_supported_fraction: float = 0.5

    def __post_init__(self) -> None:
        if not -1.0 <= self.min_retrieval_score <= 1.0:
            raise ConfigError(
                f"min_retrieval_score must be in [-1, 1], got {self.min_retrieval_score}")
        if not 0.0 <= self.min_supported_fraction <= 1.0:
            raise ConfigError(
                f"min_supported_fraction must be in [0, 1], got {self.min_supported_fraction}")

    def to_json(self) -> dict:
        return {"min_retrieval_score": self.min_retrieval_score,
                "min_supported_fraction": self.min_supported_fraction}


def best_dense_score(query: str, passages: Sequence[Passage],
                     embedder: Embedder | None = None) -> float | None:
    """The highest dense cosine between ``query`` and ``passages``.

    Uses ``Passage.scores["dense"]`` where present; when no passage has one (BM25 search)
    and an ``embedder`` is given, embeds the query and passage texts. ``None`` when it
    cannot be known.
    """
    known = [p.scores["dense"] for p in passages if "dense" in p.scores]
    if known:
        return float(max(known))
    if embedder is None or not passages:
        return None
    vectors = embedder.encode([query] + [p.text for p in passages])  # (1 + n, dim)
    vectors = vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-9)
    return float(np.max(vectors[1:] @ vectors[0]))


def before_generation(query: str, passages: Sequence[Passage], config: AbstainConfig,
                      embedder: Embedder | None = None) -> str | None:
    """Why to abstain without generating, or ``None`` to go on."""
    if not passages:
        return "no_passages: retrieval returned no passages"
    if config.min_retrieval_score <= -1.0:
        return None
    best = best_dense_score(query, passages, embedder)
    if best is None:
        logger.debug("no dense score and no embedder: retrieval check skipped")
        return None
    if best < config.min_retrieval_score:
        return (f"low_retrieval_score: best dense cosine {best:.3f} < "
                f"min_retrieval_score {config.min_retrieval_score}")
    return None


def after_generation(text: str, verification: Verification | None,
                     config: AbstainConfig) -> str | None:
    """Why to abstain given the model's reply and its check, or ``None`` to answer.

    ``verification`` is ``None`` for closed-book answers: then only ``model_abstained`` and
    ``empty_answer`` apply.
    """
    if is_abstention(text):
        return "model_abstained: the model replied with the abstention sentence"
    if not text.strip():
        return "empty_answer: the model produced no text"
    if verification is None:
        return None
    claims = verification.claims
    if not claims:
        return "empty_answer: the reply has no sentence with content"
    fraction = verification.supported_fraction
    if fraction < config.min_supported_fraction:
        supported = sum(s.supported for s in claims)
        return (f"unsupported: {supported} of {len(claims)} sentences supported by a "
                f"passage ({fraction:.2f} < min_supported_fraction "
                f"{config.min_supported_fraction})")
    return None
