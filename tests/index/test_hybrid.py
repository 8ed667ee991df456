"""Fusing BM25 and dense results: weighted RRF and the convex combination, checked against
hand-computed scores."""

from __future__ import annotations

import pytest

from core.errors import ConfigError
from index.hybrid import HybridConfig, convex, rrf


def test_rrf_hand_computed():
    fused = dict(rrf({"bm25": [1, 2, 3], "dense": [3, 1]}, k=60))
    assert fused[1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3] == pytest.approx(1 / 63 + 1 / 61)
    assert fused[2] == pytest.approx(1 / 62)
    assert [item for item, _ in rrf({"bm25": [1, 2, 3], "dense": [3, 1]})] == [1, 3, 2]


def test_rrf_weights_change_the_order():
    rankings = {"bm25": [10, 20], "dense": [20, 10]}
    fused = rrf(rankings, {"bm25": 2.0, "dense": 0.5}, k=1)
    assert fused[0][0] == 10
    assert fused[0][1] == pytest.approx(2.0 / 2 + 0.5 / 3)
    assert fused[1][1] == pytest.approx(2.0 / 3 + 0.5 / 2)
    assert rrf(rankings, {"bm25": 0.5, "dense": 2.0}, k=1)[0][0] == 20


def test_rrf_ties_are_deterministic_and_duplicates_count_once():
    assert rrf({"a": [5, 4], "b": [4, 5]}) == rrf({"b": [4, 5], "a": [5, 4]})
    assert [i for i, _ in rrf({"a": [5, 4], "b": [4, 5]})] == [4, 5]
    assert dict(rrf({"a": [7, 7, 8]}))[7] == pytest.approx(1 / 61)
    assert rrf({}) == [] and rrf({"a": []}) == []


def test_rrf_rejects_weights_for_unknown_retrievers():
    with pytest.raises(ConfigError, match="dnse"):
        rrf({"dense": [1]}, {"dnse": 1.0})


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [({"rrf_k": -1}, "hybrid.rrf_k"), ({"bm25_weight": -0.5}, "hybrid.bm25_weight"),
     ({"candidates": 0}, "hybrid.candidates"), ({"bm25_weight": 0, "dense_weight": 0}, "both")],
)
def test_config_errors_name_the_field(kwargs, field):
    with pytest.raises(ConfigError, match=field):
        HybridConfig(**kwargs)


def test_convex_hand_computed():
    scored = {"bm25": {1: 8.0, 2: 4.0}, "dense": {2: 0.9, 3: 0.5, 1: 0.1}}
    fused = dict(convex(scored, {"bm25": 0.5, "dense": 0.5}))
    # BM25 is scaled from 0 (8 -> 1, 4 -> 0.5); cosine from the worst candidate (0.1 -> 0).
    assert fused[1] == pytest.approx(0.5 * 1.0 + 0.5 * 0.0)
    assert fused[2] == pytest.approx(0.5 * 0.5 + 0.5 * 1.0)
    assert fused[3] == pytest.approx(0.5 * 0.5)
    assert [item for item, _ in convex(scored)] == [2, 1, 3]


def test_convex_keeps_a_clear_lead_that_rrf_flattens():
    # Dense is sure of item 9 (far ahead of the rest); BM25 mildly prefers 5 and 6, which
    # dense ranks second and third. RRF sees only ranks and puts them first.
    scored = {"bm25": {5: 10.0, 6: 9.5, 9: 2.0}, "dense": {9: 0.9, 5: 0.31, 6: 0.3}}
    assert convex(scored)[0][0] == 9
    assert rrf({name: list(items) for name, items in scored.items()})[0][0] == 5


def test_convex_ties_single_candidates_and_empty_lists():
    assert convex({"dense": {4: 0.7}}) == [(4, 1.0)]
    assert [i for i, _ in convex({"a": {5: 1.0, 4: 1.0}})] == [4, 5]
    assert convex({}) == [] and convex({"bm25": {}, "dense": {}}) == []
    with pytest.raises(ConfigError, match="dnse"):
        convex({"dense": {1: 0.5}}, {"dnse": 1.0})


def test_config_fuses_by_its_method():
    scored = {"bm25": {5: 10.0, 6: 9.5, 9: 2.0}, "dense": {9: 0.9, 5: 0.31, 6: 0.3}}
    assert HybridConfig().fusion == "convex" and HybridConfig().weights == {
        "bm25": 0.5, "dense": 0.5}
    assert HybridConfig().fuse(scored)[0][0] == 9
    assert HybridConfig(fusion="rrf").weights == {"bm25": 1.0, "dense": 1.0}
    assert HybridConfig(fusion="rrf").fuse(scored)[0][0] == 5
    with pytest.raises(ConfigError, match="hybrid.fusion"):
        HybridConfig(fusion="sum")


def test_fetching_deeper_does_not_rescore_the_first_candidates():
    # The version policy fetches more candidates than ``candidates`` to have room to demote
    # stale rows; the extra ones must not move the cosine scale of the first ones.
    shallow = {"bm25": {1: 8.0, 2: 4.0}, "dense": {2: 0.9, 3: 0.5, 1: 0.1}}
    deep = {"bm25": {1: 8.0, 2: 4.0}, "dense": {2: 0.9, 3: 0.5, 1: 0.1, 7: 0.05, 8: -0.3}}
    assert dict(convex(deep, depth=3))[1] == pytest.approx(dict(convex(shallow))[1])
    assert dict(convex(deep, depth=3))[8] == 0.0  # below the scale's floor: 0, not negative
    assert dict(convex(deep))[1] != pytest.approx(dict(convex(shallow))[1])  # the old drift
    config = HybridConfig(candidates=3)
    assert config.fuse(deep)[:3] == convex(shallow, config.weights)[:3]
