"""``--engine ray`` on a local Ray instance gives the same index as the in-process engine."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np
import pytest

from index.build import IngestConfig, ingest

pytest.importorskip("ray")
pytestmark = pytest.mark.slow


def vectors_by_chunk(index: Path) -> dict[str, np.ndarray]:
    version = (index / "CURRENT").read_text().strip()
    db = sqlite3.connect(index / "versions" / version / "chunks.sqlite")
    ids = [r[0] for r in db.execute("SELECT chunk_id FROM chunks ORDER BY row")]
    matrix = np.load(index / "versions" / version / "vectors.npy")
    return dict(zip(ids, matrix, strict=True))


def test_ray_engine_matches_local_engine(tmp_path, embedder):
    import ray

    docs = tmp_path / "docs"
    docs.mkdir()
    for i in range(6):
        (docs / f"note{i}.md").write_text(
            f"# Note {i}\n\n## Details\n\nItem {i} costs ${10 + i} and ships in {i + 1} days.\n"
        )
    (docs / "broken.pdf").write_bytes(b"%PDF-1.4 truncated")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        remote = ingest([docs], tmp_path / "ray", IngestConfig(engine="ray"), False, embedder)
    finally:
        ray.shutdown()
    local = ingest([docs], tmp_path / "local", IngestConfig(), False, embedder)
    assert sorted(remote.added) == sorted(local.added) and len(remote.added) == 6
    assert [s.source for s in remote.skipped] == ["broken.pdf"]
    a, b = vectors_by_chunk(tmp_path / "ray"), vectors_by_chunk(tmp_path / "local")
    assert set(a) == set(b)
    assert max(float(np.abs(a[k] - b[k]).max()) for k in a) < 1e-4
