"""Metrics on hand-made cases whose right value is worked out in the comments."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eval.metrics import (
    bootstrap_ci,
    exact_match,
    mrr,
    ndcg_at_k,
    normalize_answer,
    paired_bootstrap_test,
    paired_permutation_test,
    per_query,
    precision_at_k,
    query_ndcg,
    query_recall,
    recall_at_k,
    token_f1,
)


def test_ndcg_single_relevant_at_rank_two() -> None:
    # DCG = 1/log2(3); ideal DCG = 1/log2(2) = 1  ->  0.63093
    assert query_ndcg(["x", "r"], {"r": 1}, k=10) == pytest.approx(1 / math.log2(3))
    assert query_ndcg(["x", "r"], {"r": 1}, k=10) == pytest.approx(0.6309297535714575)


def test_ndcg_perfect_and_missing() -> None:
    assert query_ndcg(["r", "x"], {"r": 1}, k=10) == pytest.approx(1.0)
    assert query_ndcg(["x", "y"], {"r": 1}, k=10) == 0.0
    # relevant doc just past the cutoff does not count
    assert query_ndcg(["x", "r"], {"r": 1}, k=1) == 0.0


def test_ndcg_graded_gains() -> None:
    # ranking b(1), a(2), x(0): DCG = 1/log2(2) + 2/log2(3) = 1 + 1.26186 = 2.26186
    # ideal a(2), b(1):        IDCG = 2/log2(2) + 1/log2(3) = 2 + 0.63093 = 2.63093
    expected = (1 + 2 / math.log2(3)) / (2 + 1 / math.log2(3))
    assert query_ndcg(["b", "a", "x"], {"a": 2, "b": 1}, k=10) == pytest.approx(expected)
    assert expected == pytest.approx(0.85972, abs=1e-5)


def test_ndcg_ideal_uses_unretrieved_relevant_docs() -> None:
    # 2 relevant, only one retrieved at rank 1: DCG = 1, IDCG = 1 + 1/log2(3) = 1.63093
    assert query_ndcg(["a"], {"a": 1, "b": 1}, k=10) == pytest.approx(1 / (1 + 1 / math.log2(3)))


def test_ndcg_ignores_zero_and_negative_grades() -> None:
    assert query_ndcg(["n", "z", "r"], {"r": 1, "z": 0, "n": -1}, k=10) == pytest.approx(0.5)


def test_recall_two_of_three() -> None:
    judged = {"a": 1, "b": 1, "c": 1}
    assert query_recall(["a", "x", "b", "c"], judged, k=3) == pytest.approx(2 / 3)
    assert query_recall(["a", "x", "b", "c"], judged, k=4) == pytest.approx(1.0)


def test_mean_metrics_over_queries() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1, "c": 1}, "q3": {"z": 0}}  # q3: nothing relevant
    run = {"q1": ["x", "a"], "q2": ["c", "y", "b"], "q3": ["z"], "q9": ["a"]}
    # q1: rr = 1/2, q2: rr = 1; q3 and q9 are not counted
    assert mrr(qrels, run) == pytest.approx(0.75)
    assert mrr(qrels, run, k=1) == pytest.approx(0.5)
    # P@2: q1 1/2, q2 1/2
    assert precision_at_k(qrels, run, k=2) == pytest.approx(0.5)
    # P@5 divides by 5 even though fewer were returned: q1 1/5, q2 2/5
    assert precision_at_k(qrels, run, k=5) == pytest.approx(0.3)
    # R@2: q1 1, q2 1/2
    assert recall_at_k(qrels, run, k=2) == pytest.approx(0.75)
    # nDCG@10: q1 1/log2(3); q2 (1 + 1/log2(4)) / (1 + 1/log2(3))
    q2 = (1 + 0.5) / (1 + 1 / math.log2(3))
    assert ndcg_at_k(qrels, run, k=10) == pytest.approx((1 / math.log2(3) + q2) / 2)


def test_query_missing_from_run_scores_zero() -> None:
    qrels = {"q1": {"a": 1}, "q2": {"b": 1}}
    assert ndcg_at_k(qrels, {"q1": ["a"]}) == pytest.approx(0.5)
    assert set(per_query(lambda r, j: 1.0, qrels, {})) == {"q1", "q2"}


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="more than once"):
        query_ndcg(["a", "a"], {"a": 1}, k=10)
    with pytest.raises(ValueError, match="k must be"):
        query_recall(["a"], {"a": 1}, k=0)
    with pytest.raises(ValueError, match="no query has a relevant"):
        ndcg_at_k({"q": {"a": 0}}, {"q": ["a"]})


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("The Cat sat.", "cat sat"),
        ("  an   apple, a day ", "apple day"),
        ("Theory of everything", "theory of everything"),  # 'the' inside a word stays
        # Unicode punctuation goes too: the manual's curly quotes hid a right answer
        ("The default is **\u201cread committed\u201d**.", "default is read committed"),
        ("don\u2019t", "dont"),
    ],
)
def test_normalize_answer(text: str, normalized: str) -> None:
    assert normalize_answer(text) == normalized


def test_exact_match() -> None:
    assert exact_match("The Denver Broncos!", "denver broncos") == 1.0
    assert exact_match("Broncos", ["Denver Broncos", "the broncos"]) == 1.0
    assert exact_match("Panthers", ["Denver Broncos"]) == 0.0
    with pytest.raises(ValueError):
        exact_match("x", [])


def test_token_f1() -> None:
    # pred {denver, broncos, won}, ref {denver, broncos}: P = 2/3, R = 1, F1 = 0.8
    assert token_f1("the Denver Broncos won", "Denver Broncos") == pytest.approx(0.8)
    assert token_f1("Panthers", "Denver Broncos") == 0.0
    # best reference wins
    assert token_f1("Broncos", ["Panthers", "the Broncos"]) == pytest.approx(1.0)
    # overlap counts each token as often as both sides have it: pred [x, x], ref [x]:
    # common 1, P = 1/2, R = 1, F1 = 2/3
    assert token_f1("x x", "x") == pytest.approx(2 / 3)
    assert token_f1("", "") == 1.0
    assert token_f1("the", "cat") == 0.0  # normalises to empty vs 'cat'


def test_bootstrap_ci_contains_mean_and_shrinks() -> None:
    rng = np.random.default_rng(1)
    small = rng.random(30)
    large = rng.random(3000)
    mean_s, low_s, high_s = bootstrap_ci(small)
    mean_l, low_l, high_l = bootstrap_ci(large)
    assert mean_s == pytest.approx(small.mean())
    assert low_s < mean_s < high_s
    assert low_l < mean_l < high_l
    assert (high_l - low_l) < (high_s - low_s) / 5  # ~ sqrt(100) = 10x narrower
    assert bootstrap_ci(small, seed=3) == bootstrap_ci(small, seed=3)
    assert bootstrap_ci([0.5] * 10) == (0.5, 0.5, 0.5)


def test_bootstrap_ci_bad_inputs() -> None:
    with pytest.raises(ValueError, match="non-empty"):
        bootstrap_ci([])
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_ci([1.0, float("nan")])
    with pytest.raises(ValueError, match="confidence"):
        bootstrap_ci([1.0], confidence=1.5)


@pytest.mark.parametrize("test", [paired_bootstrap_test, paired_permutation_test])
def test_paired_tests(test) -> None:
    rng = np.random.default_rng(2)
    base = rng.random(200)
    better = base + 0.1 + rng.normal(0, 0.02, 200)
    assert test(better, base, n_resamples=2000) < 0.01
    assert test(base, base, n_resamples=2000) == pytest.approx(1.0)
    noise = base + rng.normal(0, 0.05, 200)
    noise -= noise.mean() - base.mean()  # same mean, so no real difference
    assert test(noise, base, n_resamples=2000) > 0.5
    with pytest.raises(ValueError, match="equal lengths"):
        test([1.0, 2.0], [1.0])
