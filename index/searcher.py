"""Query the live index version: BM25, dense, or hybrid (RRF), optionally reranked.

A ``Searcher`` serves one index directory. It opens the version ``CURRENT`` names and
keeps serving it until ``refresh()`` finds a newer one and swaps it in; searches that
are running at that moment finish on the version they started with. Superseded and
archived documents rank below their current version by default (``index.current_first``).
"""

from __future__ import annotations

import dataclasses
import logging
import threading
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from core.errors import ConfigError, IndexNotFoundError
from index.access import AccessFilter, effective
from index.current_first import (
    NamedVersions,
    VersionTable,
    check_policy,
    named_versions,
)
from index.hybrid import HybridConfig
from index.manifest import Manifest, check_embedder
from index.records import DocRecord, Passage
from index.snapshot import Snapshot
from index.store import IndexStore, dir_size

if TYPE_CHECKING:
    from index.rerank import Reranker
    from ingest.embedding import Embedder

logger = logging.getLogger(__name__)

MODES = ("bm25", "dense", "hybrid")
MAX_K = 1000
_OPEN_RETRIES = 5


class Searcher:
    """Search the index at ``index_dir``.

    ``embedder`` embeds queries for dense and hybrid search; when None, the embedder
    recorded in the manifest is loaded on the first search that needs it. ``device``,
    ``ef_search`` and ``nprobe`` override the manifest's search-time vector settings.
    ``versions`` is the default version policy: ``prefer`` (superseded and archived
    documents rank below their current version), ``only-current`` or ``off``. Raises
    ``IndexNotFoundError`` when nothing is published at ``index_dir``,
    ``IndexMismatchError`` when ``embedder`` is not the one the index was built with and
    ``ConfigError`` for an unknown policy.
    """

    def __init__(
        self,
        index_dir: Path,
        embedder: Embedder | None = None,
        reranker: Reranker | None = None,
        hybrid: HybridConfig | None = None,
        device: str | None = None,
        ef_search: int | None = None,
        nprobe: int | None = None,
        versions: str = "prefer",
    ) -> None:
        self.versions = check_policy(versions)
        self.store = IndexStore(Path(index_dir))
        self.reranker = reranker
        if hybrid is None:
            from core.settings import get_settings  # lazily: the settings read the environment

            hybrid = HybridConfig.from_settings(get_settings())
        self.hybrid = hybrid
        overrides = {"device": device, "hnsw_ef_search": ef_search, "ivf_nprobe": nprobe}
        self._search_config = {k: v for k, v in overrides.items() if v is not None}
        self._embedder = embedder
        self._lock = threading.Lock()
        self._snapshot = self._open_live()
        if embedder is not None:
            check_embedder(self._snapshot.manifest, embedder.info, self.store.root)

    # -- versions ----------------------------------------------------------------

    @property
    def version(self) -> str:
        return self._snapshot.version

    @property
    def manifest(self) -> Manifest:
        return self._snapshot.manifest

    def refresh(self) -> bool:
        """Switch to the live version if it changed; True if it did. Thread-safe.

        A new version built by another embedder raises ``IndexMismatchError`` and the
        searcher keeps serving the version it had.
        """
        live = self.store.current()
        if live is None or live == self._snapshot.version:
            return False
        snapshot = self._open_live()
        if self._embedder is not None:
            check_embedder(snapshot.manifest, self._embedder.info, self.store.root)
        with self._lock:
            if snapshot.version == self._snapshot.version:
                return False
            old, self._snapshot = self._snapshot, snapshot
        logger.info("index %s: %s -> %s", self.store.root, old.version, snapshot.version)
        return True

    def close(self) -> None:
        self._snapshot.close()

    def info(self) -> dict:
        """Version, manifest fields, counts, sizes on disk and the versions present."""
        snap = self._snapshot
        statuses = Counter(d.record.status for d in snap.documents)
        return {
            "index": str(self.store.root),
            "version": snap.version,
            **{k: v for k, v in snap.manifest.to_json().items() if k != "version"},
            "documents_by_status": {s: statuses[s] for s in sorted(statuses)},
            "size_bytes": dir_size(snap.dir),
            "total_size_bytes": dir_size(self.store.root),
            "versions": self.store.versions(),
        }

    def documents(self) -> list[DocRecord]:
        """Every document of the served version, in index order."""
        return [d.record for d in self._snapshot.documents]

    # -- search ------------------------------------------------------------------

    def search(
        self, query: str, k: int = 5, mode: str = "hybrid", sources: Sequence[str] | None = None,
        versions: str | None = None, access: AccessFilter | None = None,
    ) -> list[Passage]:
        """The ``k`` best passages for ``query``.

        ``mode`` is ``bm25``, ``dense`` or ``hybrid``; ``sources`` keeps only chunks whose
        source equals or glob-matches one of the patterns; ``versions`` overrides the
        searcher's version policy for this call; ``access`` (and any filter
        ``index.access.restricted`` set in this context) keeps only documents it allows,
        before the top-k cut. Raises ``ConfigError`` for an empty query, ``k`` outside
        1..1000, an unknown mode or policy.
        """
        return self.search_batch([query], k=k, mode=mode, sources=sources,
                                 versions=versions, access=access)[0]

    def search_batch(
        self,
        queries: Sequence[str],
        k: int = 5,
        mode: str = "hybrid",
        sources: Sequence[str] | None = None,
        versions: str | None = None,
        access: AccessFilter | None = None,
    ) -> list[list[Passage]]:
        """``search`` for many queries, embedding them in one batch (one list per query).

        Each passage's ``scores`` holds what ranked it: ``bm25``, ``dense`` and, in hybrid
        mode, the fused score under the fusion's name, ``convex`` or ``rrf`` (and ``rerank``
        when a reranker reordered it).
        """
        _check_k(k)
        filters = effective(access)
        policy = check_policy(versions) if versions is not None else self.versions
        if mode not in MODES:
            raise ConfigError(f"search mode must be one of {', '.join(MODES)}, got {mode!r}")
        if isinstance(queries, str):
            raise ConfigError("search_batch takes a list of queries, not one string")
        for query in queries:
            if not isinstance(query, str) or not query.strip():
                raise ConfigError("query is empty: give some words to search for")
        if not queries:
            return []
        snap = self._snapshot
        mask = _and_optional(snap.source_mask(_patterns(sources)), snap.access_mask(filters))
        pool = max(k, self.reranker.candidates) if self.reranker else k
        table = snap.version_table if policy != "off" else None
        series = table if table is not None and table.has_series else None  # release notes
        if table is not None and not table.has_stale:
            table = None  # nothing superseded in this version: nothing to do
        asked = [named_versions(q) for q in queries] if table or series else []
        named = [table.named(a) for a in asked] if table else [frozenset()] * len(queries)
        masks = [mask] * len(queries)
        fetch = self._fetch(pool, mode)
        if table is not None and policy == "only-current":
            masks = [_and(mask, table.allowed_rows(n)) for n in named]
        elif table is not None or series is not None:
            fetch = max(fetch, 3 * pool)  # room to demote stale rows and still fill ``pool``
        dense: list[dict[int, float]] = [{} for _ in queries]
        if mode != "bm25":
            vectors = self._encode(queries)
            groups: dict[frozenset[int], list[int]] = {}
            for i in range(len(queries)):  # one FAISS call per distinct mask
                groups.setdefault(named[i] if masks[i] is not mask else frozenset(), []).append(i)
            for members in groups.values():
                found = self._dense(snap, vectors[members], fetch, masks[members[0]])
                for i, by_row in zip(members, found, strict=True):
                    dense[i] = by_row
        results = []
        for i, query in enumerate(queries):
            details: dict[str, dict[int, float]] = {}
            if mode != "dense":
                rows, scores = snap.bm25.search(query, fetch, masks[i])
                details["bm25"] = dict(zip(rows.tolist(), scores.tolist(), strict=True))
            if mode != "bm25":
                details["dense"] = dense[i]
            hits = self._rank(details, mode)
            if table is not None and policy == "prefer":
                order = table.prefer([int(table.row_doc[r]) for r, _ in hits], named[i])
                hits = [hits[j] for j in order]
            if series is not None:
                hits = self._with_newest(snap, series, hits, asked[i], k, details, query,
                                         vectors[i] if mode != "bm25" else None, masks[i],
                                         mode)
                order = series.series_order([int(series.row_doc[r]) for r, _ in hits],
                                            asked[i], k)
                hits = [hits[j] for j in order]
            passages = snap.passages(hits[:pool], details)
            if self.reranker is not None and passages:
                passages = self.reranker.rerank(query, passages)
                if table is not None and policy == "prefer":
                    order = table.prefer([table.doc_of(p.source) for p in passages], named[i])
                    passages = [passages[j] for j in order]
                if series is not None:
                    order = series.series_order([series.doc_of(p.source) for p in passages],
                                                asked[i], k)
                    passages = [passages[j] for j in order]
            if named[i]:  # the versions the question names: for it, the ones that hold
                passages = [dataclasses.replace(p, named=True)  # (named: table is set)
                            if table.doc_of(p.source) in named[i] else p for p in passages]
            results.append(passages[:k])
        return results

    def search_vector(
        self, vector: np.ndarray, k: int = 5, sources: Sequence[str] | None = None,
        access: AccessFilter | None = None,
    ) -> list[Passage]:
        """Dense search with an already embedded query (float32 (dim,)); no reranking."""
        return self.search_vectors(np.asarray(vector)[None, :], k=k, sources=sources,
                                   access=access)[0]

    def search_vectors(
        self, vectors: np.ndarray, k: int = 5, sources: Sequence[str] | None = None,
        access: AccessFilter | None = None,
    ) -> list[list[Passage]]:
        """Dense search for a batch of embedded queries (float32 (q, dim)), under the
        searcher's version policy (no question text: no date or version is named) and
        the access filters (``access`` and the context's), as ``search``."""
        _check_k(k)
        filters = effective(access)
        snap = self._snapshot
        dim = snap.manifest.embedder.dim
        vectors = np.asarray(vectors, dtype=np.float32)
        if vectors.ndim != 2 or vectors.shape[1] != dim:
            raise ConfigError(f"query vectors must have shape (q, {dim}), got {vectors.shape}")
        if not np.isfinite(vectors).all():
            raise ConfigError("query vectors contain NaN or infinity")
        mask = _and_optional(snap.source_mask(_patterns(sources)), snap.access_mask(filters))
        table: VersionTable | None = snap.version_table if self.versions != "off" else None
        fetch = k
        if table is not None and table.has_stale and self.versions == "only-current":
            mask = _and(mask, table.allowed_rows(frozenset()))
        elif table is not None and table.has_stale:
            fetch = 3 * k
        else:
            table = None
        out = []
        for by_row in self._dense(snap, vectors, fetch, mask):
            hits = self._rank({"dense": by_row}, "dense")
            if table is not None and self.versions == "prefer":
                order = table.prefer([int(table.row_doc[r]) for r, _ in hits], frozenset())
                hits = [hits[j] for j in order]
            out.append(snap.passages(hits[:k], {"dense": by_row}))
        return out

    # -- internals ---------------------------------------------------------------

    def _fetch(self, pool: int, mode: str) -> int:
        return max(pool, self.hybrid.candidates) if mode == "hybrid" else pool

    def _rank(self, details: dict[str, dict[int, float]], mode: str) -> list[tuple[int, float]]:
        """Rows best first with their final score; hybrid adds the fused score as
        ``details[fusion]`` (``convex`` or ``rrf``)."""
        if mode != "hybrid":
            (by_row,) = details.values()
            return sorted(by_row.items(), key=lambda pair: (-pair[1], pair[0]))
        fused = self.hybrid.fuse(details)  # each retriever's rows are listed best first
        details[self.hybrid.fusion] = dict(fused)
        return fused

    def _with_newest(self, snap: Snapshot, series: VersionTable,
                     hits: list[tuple[int, float]], asked: NamedVersions, k: int,
                     details: dict[str, dict[int, float]], query: str,
                     vector: np.ndarray | None, mask: np.ndarray | None, mode: str,
                     ) -> list[tuple[int, float]]:
        """``hits`` with the best passage of each newest release the question asks about
        but the first ``k`` lack (``VersionTable.missing_newest``) moved up to the first
        slot its series holds there (``series_order`` then sorts the series); a release
        not among the candidates at all is searched within its own document."""
        docs = [int(series.row_doc[r]) for r, _ in hits]
        for doc in series.missing_newest(docs, asked, k):
            at = next((j for j, d in enumerate(docs) if d == doc), None)
            if at is not None:
                hit = hits.pop(at)
                docs.pop(at)
            else:  # search the release's own rows: its best passage for these words
                own = _and(mask, series.row_doc == doc)
                found: dict[str, dict[int, float]] = {}
                if mode != "dense":
                    rows, scores = snap.bm25.search(query, 3, own)
                    found["bm25"] = dict(zip(rows.tolist(), scores.tolist(), strict=True))
                if vector is not None:
                    found["dense"] = self._dense(snap, vector[None, :], 3, own)[0]
                best = self._rank(dict(found), mode) if any(found.values()) else []
                if not best:  # none of its words: its opening (title, date, summary)
                    rows = np.flatnonzero(own)
                    if not len(rows):
                        continue  # out of the caller's scope
                    best = [(int(rows[0]), 0.0)]
                for name, by_row in found.items():
                    details.setdefault(name, {}).update(by_row)
                hit = best[0]
            # its series' first slot: in the top k, though another series' newest may have
            # been put before it
            slot = next(j for j, d in enumerate(docs)
                        if d >= 0 and series.series[d] == series.series[doc])
            hits.insert(slot, (hit[0], hits[slot][1]))
            docs.insert(slot, doc)
        return hits

    def _dense(self, snap: Snapshot, vectors, n: int, mask) -> list[dict[int, float]]:
        scores, rows = snap.vectors.search(vectors, n, mask)
        return [
            {int(r): float(s) for r, s in zip(row, score, strict=True) if r >= 0}
            for row, score in zip(rows, scores, strict=True)
        ]

    def _encode(self, queries: Sequence[str]) -> np.ndarray:
        embedder = self._get_embedder()
        if hasattr(embedder, "encode"):
            return np.asarray(embedder.encode(list(queries)), dtype=np.float32)  # (q, dim)
        return np.stack([np.asarray(embedder.encode_query(q), dtype=np.float32) for q in queries])

    def _get_embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                from ingest.embedding import Embedder, EmbedderConfig

                model = self._snapshot.manifest.embedder.load_name()
                logger.info("loading embedder %s for %s", model, self.store.root)
                embedder = Embedder(EmbedderConfig(model=model))
                check_embedder(self._snapshot.manifest, embedder.info, self.store.root)
                self._embedder = embedder
            return self._embedder

    def _open_live(self) -> Snapshot:
        for attempt in range(_OPEN_RETRIES):
            live = self.store.current()
            if live is None:
                root = self.store.root
                if root.is_dir() and not self.store.versions_dir.exists() and any(root.iterdir()):
                    raise IndexNotFoundError(  # a documents folder given as the index
                        f"{root} is no index: it holds other files; give the directory "
                        "that `assistant ingest DOCS --index DIR` made")
                raise IndexNotFoundError(
                    f"no index at {root}; run `assistant ingest DOCS --index {root}` first"
                )
            try:
                return Snapshot(self.store, live, self._search_config)
            except FileNotFoundError as exc:  # pruned between reading CURRENT and opening?
                if attempt == _OPEN_RETRIES - 1:
                    raise IndexNotFoundError(
                        f"index {self.store.root}: version {live} named by CURRENT cannot be "
                        f"opened ({exc}); re-ingest to publish a new version"
                    ) from exc
                logger.debug("version %s vanished while opening; retrying", live)
                time.sleep(0.01 * (attempt + 1))
        raise AssertionError("unreachable")


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or not 1 <= k <= MAX_K:
        raise ConfigError(f"k must be an integer in 1..{MAX_K}, got {k!r}")


def _and(mask: np.ndarray | None, other: np.ndarray) -> np.ndarray:
    return other if mask is None else mask & other


def _and_optional(mask: np.ndarray | None, other: np.ndarray | None) -> np.ndarray | None:
    return mask if other is None else _and(mask, other)


def _patterns(sources: Sequence[str] | str | None) -> list[str] | None:
    if sources is None:
        return None
    patterns = [sources] if isinstance(sources, str) else list(sources)
    if not all(isinstance(p, str) and p for p in patterns):
        raise ConfigError("sources must be non-empty path patterns (exact or glob)")
    return patterns
