"""FAISS vector indexes: exact and approximate neighbours, devices, IVF fallback, filters."""

from __future__ import annotations

import logging

import numpy as np
import pytest
from synthetic import unit

from core.errors import ConfigError
from index.vectors import VectorIndex, VectorIndexConfig, effective_kind, gpu_count


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(7)
    base = unit(rng, 800, 16)
    queries = base[[3, 150, 799]] + 0.01 * unit(rng, 3, 16)
    return base, queries / np.linalg.norm(queries, axis=1, keepdims=True)


@pytest.mark.parametrize(
    "config",
    [
        VectorIndexConfig(kind="flat", device="cpu"),
        VectorIndexConfig(kind="hnsw", device="cpu", hnsw_m=8, hnsw_ef_construction=40),
        VectorIndexConfig(kind="ivf", device="cpu", ivf_nlist=8, ivf_nprobe=8),
    ],
    ids=["flat", "hnsw", "ivf"],
)
def test_nearest_neighbour_is_found(data, config, tmp_path):
    base, queries = data
    index = VectorIndex.build(base, config)
    assert index.kind == config.kind
    index.save(tmp_path)
    loaded = VectorIndex.load(tmp_path, index.kind, config, base)
    for searcher in (index, loaded):
        scores, rows = searcher.search(queries, 5)
        assert rows[:, 0].tolist() == [3, 150, 799]
        assert np.all(np.diff(scores, axis=1) <= 1e-6)  # best first
        exact = base[rows[:, 0]] @ queries.T
        np.testing.assert_allclose(scores[:, 0], np.diag(exact), rtol=1e-5)


def test_flat_is_exact_inner_product(data):
    base, queries = data
    scores, rows = VectorIndex.build(base, VectorIndexConfig(device="cpu")).search(queries, 10)
    truth = np.argsort(-(queries @ base.T), axis=1)[:, :10]
    np.testing.assert_array_equal(rows, truth)


def test_mask_restricts_results(data):
    base, queries = data
    mask = np.zeros(len(base), dtype=bool)
    mask[100:200] = True
    for config in (VectorIndexConfig(device="cpu"),
                   VectorIndexConfig(kind="hnsw", device="cpu", hnsw_m=8)):
        _, rows = VectorIndex.build(base, config).search(queries, 7, mask=mask)
        assert ((rows >= 100) & (rows < 200)).all()
        assert rows[1, 0] == 150  # the true neighbour is inside the mask


def test_k_larger_than_index_and_empty_index():
    rng = np.random.default_rng(0)
    small = VectorIndex.build(unit(rng, 3), VectorIndexConfig(device="cpu"))
    scores, rows = small.search(unit(rng, 1), 10)
    assert rows.shape == (1, 3)
    empty = VectorIndex.build(np.zeros((0, 16), np.float32), VectorIndexConfig(device="cpu"))
    scores, rows = empty.search(unit(rng, 2), 5)
    assert rows.shape == (2, 0) and scores.shape == (2, 0)


@pytest.mark.skipif(gpu_count() > 0, reason="this machine has a usable GPU")
def test_gpu_without_gpu_is_an_error(data):
    with pytest.raises(ConfigError, match="no GPU"):
        VectorIndex.build(data[0], VectorIndexConfig(kind="flat", device="gpu"))


def test_auto_device_uses_cpu_here_and_hnsw_never_on_gpu():
    from index.vectors import resolve_device

    expected = "gpu" if gpu_count() else "cpu"
    assert resolve_device(VectorIndexConfig(device="auto")) == expected
    assert resolve_device(VectorIndexConfig(kind="hnsw", device="auto")) == "cpu"
    with pytest.raises(ConfigError, match="hnsw"):
        if gpu_count():
            resolve_device(VectorIndexConfig(kind="hnsw", device="gpu"))
        else:
            raise ConfigError("gpu with hnsw: skipped without GPU")


def test_ivf_falls_back_to_flat_on_tiny_input(caplog):
    rng = np.random.default_rng(1)
    base = unit(rng, 50)
    config = VectorIndexConfig(kind="ivf", device="cpu")
    assert effective_kind(config, 50) == "flat"
    assert effective_kind(VectorIndexConfig(kind="ivf", ivf_nlist=4), 200) == "ivf"
    with caplog.at_level(logging.WARNING, logger="index.vectors"):
        index = VectorIndex.build(base, config)
    assert index.kind == "flat"
    assert "flat" in caplog.text
    assert index.search(base[:1], 1)[1][0, 0] == 0


def test_ivf_reuses_a_trained_quantizer(data):
    base, queries = data
    config = VectorIndexConfig(kind="ivf", device="cpu", ivf_nlist=8, ivf_nprobe=8)
    first = VectorIndex.build(base, config)
    centroids = first.index.quantizer.reconstruct_n(0, 8)
    second = VectorIndex.build(base[::-1].copy(), config, trained=first)
    np.testing.assert_array_equal(second.index.quantizer.reconstruct_n(0, 8), centroids)
    assert second.search(queries, 1)[1][0, 0] == len(base) - 1 - 3


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"kind": "annoy"}, "vectors.kind"),
        ({"device": "tpu"}, "vectors.device"),
        ({"hnsw_m": 1}, "vectors.hnsw_m"),
        ({"ivf_nprobe": 0}, "vectors.ivf_nprobe"),
        ({"ivf_nlist": 0}, "vectors.ivf_nlist"),
    ],
)
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        VectorIndexConfig(**kwargs)


def test_config_json_round_trip_rejects_unknown_keys():
    config = VectorIndexConfig(kind="hnsw", hnsw_m=16)
    assert VectorIndexConfig.from_json(config.to_json()) == config
    with pytest.raises(ConfigError, match="nlists"):
        VectorIndexConfig.from_json({"nlists": 3})


def test_id_rows_map_faiss_ids_and_hide_deleted_nodes(data, tmp_path):
    base, queries = data
    config = VectorIndexConfig(kind="hnsw", device="cpu", hnsw_m=8)
    built = VectorIndex.build(base, config)
    id_rows = np.arange(len(base))[::-1].copy()  # id i is row n-1-i
    id_rows[150] = -1  # the node nearest to queries[1] is deleted
    mapped = VectorIndex(built.index, "hnsw", config, id_rows=id_rows)
    mapped.save(tmp_path)
    for index in (mapped, VectorIndex.load(tmp_path, "hnsw", config, base)):
        _, rows = index.search(queries, 3)
        assert rows[0, 0] == len(base) - 1 - 3 and rows[2, 0] == 0
        assert len(base) - 1 - 150 not in rows[1]
        mask = np.zeros(len(base), dtype=bool)
        mask[[0, 5]] = True
        _, rows = index.search(queries, 3, mask=mask)
        assert set(rows[2].tolist()) == {0, 5, -1}
