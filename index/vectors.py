"""Dense nearest-neighbour search with FAISS over inner product (cosine on unit vectors).

Three kinds: ``flat`` (exact ``IndexFlatIP``, the default; rebuilt at load time from
``vectors.npy``, so nothing else is stored), ``hnsw`` (graph, CPU only: FAISS has no
GPU HNSW; a new version updates the previous graph rather than rebuilding it) and ``ivf``
(inverted lists over a k-means coarse quantizer, reused between versions). GPUs are probed
once; ``device="auto"`` moves flat and IVF indexes to every visible GPU when a GPU build
of FAISS sees one, ``device="gpu"`` without one is an error, never a silent fallback.
"""

from __future__ import annotations

import functools
import logging
import math
from dataclasses import asdict, dataclass, fields
from pathlib import Path

import numpy as np

from core.errors import ConfigError

logger = logging.getLogger(__name__)

KINDS = ("flat", "hnsw", "ivf")
DEVICES = ("auto", "cpu", "gpu")
FAISS_FILE = "vectors.faiss"
ROWS_FILE = "vectors.rows.npy"  # FAISS id -> row (-1: deleted), for carried-over graphs
MIN_POINTS_PER_LIST = 39  # FAISS warns below 39 training points per centroid
GPU_MAX_K = 2048  # GPU FAISS k-selection limit


@dataclass(frozen=True)
class VectorIndexConfig:
    """How to build and search the vector index.

    ``ivf_nlist=None`` picks ``4 * sqrt(N)`` lists, clamped to N. IVF over fewer than
    ``39 * nlist`` vectors cannot be trained well and is built flat instead (logged, and
    recorded as ``vector_kind`` in the manifest).
    """

    kind: str = "flat"
    device: str = "auto"
    hnsw_m: int = 32
    hnsw_ef_construction: int = 80
    hnsw_ef_search: int = 64
    ivf_nlist: int | None = None
    ivf_nprobe: int = 16

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ConfigError(f"vectors.kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if self.device not in DEVICES:
            raise ConfigError(
                f"vectors.device must be one of {', '.join(DEVICES)}, got {self.device!r}"
            )
        for name, low, high in (
            ("hnsw_m", 4, 256),
            ("hnsw_ef_construction", 8, 4096),
            ("hnsw_ef_search", 1, 4096),
            ("ivf_nprobe", 1, 65536),
        ):
            value = getattr(self, name)
            if not isinstance(value, int) or not low <= value <= high:
                raise ConfigError(
                    f"vectors.{name} must be an integer in {low}..{high}, got {value!r}"
                )
        if self.ivf_nlist is not None and (
            not isinstance(self.ivf_nlist, int) or not 1 <= self.ivf_nlist <= 1 << 20
        ):
            raise ConfigError(
                f"vectors.ivf_nlist must be None or in 1..1048576, got {self.ivf_nlist!r}"
            )

    def to_json(self) -> dict:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict) -> VectorIndexConfig:
        """Build from a dict; unknown keys are an error."""
        unknown = set(data) - {f.name for f in fields(cls)}
        if unknown:
            raise ConfigError(f"unknown vectors config keys: {', '.join(sorted(unknown))}")
        return cls(**data)


@functools.lru_cache(maxsize=1)
def gpu_count() -> int:
    """Number of GPUs a GPU build of FAISS can use; 0 for CPU-only builds (probed once)."""
    import faiss

    if not hasattr(faiss, "get_num_gpus") or not hasattr(faiss, "StandardGpuResources"):
        return 0
    return int(faiss.get_num_gpus())


def resolve_device(config: VectorIndexConfig) -> str:
    """Where FAISS holds this config's index: ``cpu`` or ``gpu`` (every GPU a GPU build
    of FAISS sees, ``gpu_count()``). Raises ``ConfigError`` for ``gpu`` without one, or
    for HNSW on a GPU. The torch device of a model is ``core.devices.resolve_device``."""
    gpus = gpu_count()
    if config.device == "gpu":
        if gpus == 0:
            raise ConfigError(
                "vectors.device='gpu' but no GPU is usable: no GPU FAISS build (faiss-gpu) "
                "or no GPU visible; use device 'auto' or 'cpu'"
            )
        if config.kind == "hnsw":
            raise ConfigError("vectors.device='gpu' is not supported for kind 'hnsw' (CPU only)")
        return "gpu"
    if config.device == "auto" and gpus > 0 and config.kind != "hnsw":
        return "gpu"
    return "cpu"


def ivf_nlist(config: VectorIndexConfig, n: int) -> int:
    """The number of inverted lists for ``n`` vectors (auto: ``4 * sqrt(n)``, clamped to n)."""
    nlist = config.ivf_nlist if config.ivf_nlist is not None else int(round(4 * math.sqrt(n)))
    return max(1, min(nlist, n))


def effective_kind(config: VectorIndexConfig, n: int) -> str:
    """The kind that will be built for ``n`` vectors: IVF falls back to flat when too small."""
    if config.kind == "ivf" and n < MIN_POINTS_PER_LIST * ivf_nlist(config, n):
        return "flat"
    return config.kind


class VectorIndex:
    """A built FAISS index plus what is needed to search it: its kind, config and device.

    FAISS ids are rows, unless ``id_rows`` (int64 (ntotal,)) maps them: an HNSW graph
    carried into a new version keeps its old nodes (renumbered, or -1 for deleted ones,
    which searches skip) because FAISS cannot delete from HNSW.
    """

    def __init__(
        self,
        index,
        kind: str,
        config: VectorIndexConfig,
        device: str = "cpu",
        id_rows: np.ndarray | None = None,
    ) -> None:
        self.index = index
        self.kind = kind
        self.config = config
        self.device = device
        self.id_rows = id_rows
        self._alive = None if id_rows is None else id_rows >= 0

    @property
    def size(self) -> int:
        return int(self.index.ntotal)

    @classmethod
    def build(
        cls, vectors: np.ndarray, config: VectorIndexConfig, trained: VectorIndex | None = None
    ) -> VectorIndex:
        """Build a CPU index over ``vectors`` (float32 (n, d)).

        ``trained`` may be a previous version's IVF index (loaded for this purpose; it is
        emptied and refilled): its coarse quantizer is reused, which skips k-means on
        incremental updates. Raises ``ConfigError`` when the config asks for a missing GPU.
        """
        import faiss

        device = resolve_device(config)  # fail early on an impossible device request
        n, dim = vectors.shape
        kind = effective_kind(config, n)
        if kind != config.kind:
            logger.warning(
                "IVF needs at least %d vectors to train %d lists, got %d: building a flat index",
                MIN_POINTS_PER_LIST * ivf_nlist(config, n), ivf_nlist(config, n), n,
            )
        if kind == "flat":
            index = faiss.IndexFlatIP(dim)
        elif kind == "hnsw":
            index = faiss.IndexHNSWFlat(dim, config.hnsw_m, faiss.METRIC_INNER_PRODUCT)
            index.hnsw.efConstruction = config.hnsw_ef_construction
        elif trained is not None and trained.kind == "ivf" and trained.index.d == dim:
            index = trained.index  # the caller's private copy: emptied and refilled here
            index.reset()
            logger.info("reusing the previous IVF quantizer (%d lists)", index.nlist)
        else:
            nlist = ivf_nlist(config, n)
            quantizer = faiss.IndexFlatIP(dim)
            index = faiss.IndexIVFFlat(quantizer, dim, nlist, faiss.METRIC_INNER_PRODUCT)
            if device == "gpu":
                gpu_index = faiss.index_cpu_to_all_gpus(index)
                gpu_index.train(vectors)
                index = faiss.index_gpu_to_cpu(gpu_index)
            else:
                index.train(vectors)
        if n:
            index.add(vectors)
        return cls(index, kind, config)

    def save(self, directory: Path) -> None:
        """Write the FAISS file for hnsw/ivf; a flat index is rebuilt from vectors.npy."""
        import faiss

        if self.kind != "flat":
            faiss.write_index(self.index, str(directory / FAISS_FILE))
        if self.id_rows is not None:
            np.save(directory / ROWS_FILE, self.id_rows)

    @classmethod
    def load(
        cls, directory: Path, kind: str, config: VectorIndexConfig, vectors: np.ndarray
    ) -> VectorIndex:
        """Open a version's vector index on the configured device, ready to search.

        ``vectors`` (float32 (n, d), may be a memmap) is what a flat index is rebuilt from.
        """
        import faiss

        device = resolve_device(config)
        if kind == "flat":
            index = faiss.IndexFlatIP(vectors.shape[1])
            if len(vectors):
                index.add(np.ascontiguousarray(vectors, dtype=np.float32))
        else:
            index = faiss.read_index(str(directory / FAISS_FILE))
        id_rows = np.load(directory / ROWS_FILE) if (directory / ROWS_FILE).exists() else None
        if device == "gpu":
            index = faiss.index_cpu_to_all_gpus(index)
            if kind == "ivf":
                faiss.GpuParameterSpace().set_index_parameter(index, "nprobe", config.ivf_nprobe)
        return cls(index, kind, config, device, id_rows)

    def search(
        self, queries: np.ndarray, k: int, mask: np.ndarray | None = None
    ) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` rows per query: ``(scores (q, k'), rows (q, k'))``, row -1 for gaps.

        ``queries`` is float32 (q, d). ``mask`` (bool (n,)) restricts the search to rows
        where it is true: exactly on CPU through a FAISS ID selector, by over-fetching
        and filtering on GPU.
        """
        import faiss

        queries = np.ascontiguousarray(queries, dtype=np.float32).reshape(-1, self.index.d)
        k = min(k, self.size)
        if k <= 0:
            empty = np.full((len(queries), 0), -1, dtype=np.int64)
            return np.zeros(empty.shape, dtype=np.float32), empty
        allowed = mask  # over FAISS ids from here on
        if self.id_rows is not None:
            allowed = self._alive.copy()
            if mask is not None:
                allowed[self._alive] &= mask[self.id_rows[self._alive]]
        if self.device == "gpu":
            fetch = min(k if allowed is None else k * 10, self.size, GPU_MAX_K)
            scores, ids = self.index.search(queries, fetch)
            if allowed is not None:
                scores, ids = _filter(scores, ids, allowed, k)
            return scores, self._rows(ids)
        kw: dict = {}
        if allowed is not None:
            bitmap = np.packbits(np.asarray(allowed, dtype=bool), bitorder="little")
            kw["sel"] = faiss.IDSelectorBitmap(bitmap)  # bitmap outlives the search below
        if self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.config.hnsw_ef_search, k), **kw)
        elif self.kind == "ivf":
            params = faiss.SearchParametersIVF(nprobe=self.config.ivf_nprobe, **kw)
        else:
            params = faiss.SearchParameters(**kw) if kw else None
        scores, ids = self.index.search(queries, k, params=params)
        return scores, self._rows(ids)

    def _rows(self, ids: np.ndarray) -> np.ndarray:
        if self.id_rows is None:
            return ids
        return np.where(ids >= 0, self.id_rows[np.clip(ids, 0, None)], -1)


def _filter(scores: np.ndarray, rows: np.ndarray, mask: np.ndarray, k: int):
    """Keep the first ``k`` hits per query whose row ``mask`` allows; pad with -1."""
    out_s = np.full((len(rows), k), -np.inf, dtype=np.float32)
    out_r = np.full((len(rows), k), -1, dtype=np.int64)
    for i, (srow, rrow) in enumerate(zip(scores, rows, strict=True)):
        keep = (rrow >= 0) & mask[np.clip(rrow, 0, None)]
        n = min(k, int(keep.sum()))
        out_s[i, :n], out_r[i, :n] = srow[keep][:n], rrow[keep][:n]
    return out_s, out_r
