"""SW ranking router: planted ranking, fast path = RouteLLM-style reference fit, BT and tier helpers."""

from __future__ import annotations

import itertools
import math

import numpy as np
import polars as pl
import pytest
import torch
from _router_fixtures import (
    EASY_PROMPT,
    HARD_PROMPT,
    VAL_ONLY_MODEL,
    HashEncoder,
    minilm_encoder,
    synthetic_data,
)

from ragrouter.data.benchmarks import STRONG_MODEL, WEAK_MODEL
from ragrouter.routers.base import Router
from ragrouter.routers.bradley_terry import (
    aggregate_pairs,
    compute_tiers,
    fit_bt,
    fit_bt_battles,
)
from ragrouter.routers.battle_training import routed_validation
from ragrouter.routers.sw_ranking import (
    SWRankingRouter,
    reference_strong_win_rates,
    similarity_weights,
    train,
)

torch.set_num_threads(1)


@pytest.fixture(scope="module")
def data():
    return synthetic_data()


@pytest.fixture(scope="module")
def router(data):
    corpus, battles = data
    return train(corpus, battles, HashEncoder(), {}, seed=0)


def test_planted_hard_prompt_scores_above_easy(router):
    hard, easy = router.strong_win_rates([HARD_PROMPT, EASY_PROMPT])
    assert hard > easy + 0.1, (hard, easy)
    assert hard > 0.6 and abs(easy - 0.5) < 0.15


def test_each_model_its_own_tier_and_validation_battles_unused(router):
    # 4 training models < 10 tiers: one model per tier, best model in tier 0
    assert sorted(router.tiers.values()) == [0, 1, 2, 3]
    assert router.tiers[STRONG_MODEL] == 0
    assert VAL_ONLY_MODEL not in router.tiers


def test_fast_path_equals_reference_fit(data, router):
    """Batched Newton on aggregated counts == per-battle sklearn logistic regression (RouteLLM's way)."""
    queries = router.encoder.encode([HARD_PROMPT, EASY_PROMPT, "Compute the integral of x^3 from 0 to 2.", "Hi friend!"])
    fast = router.strong_win_rates_from_embeddings(queries)
    reference = reference_strong_win_rates(router, data[1], queries)
    np.testing.assert_allclose(fast, reference, rtol=0, atol=1e-6)
    assert np.ptp(fast) > 0.05  # the queries really differ, so equality is not trivial


def test_fast_path_with_merged_tiers_equals_reference(data):
    corpus, battles = data
    router = train(corpus, battles, HashEncoder(), {"num_tiers": 3}, seed=0)
    assert len(set(router.tiers.values())) == 3 and router.tiers[STRONG_MODEL] != router.tiers[WEAK_MODEL]
    queries = router.encoder.encode([HARD_PROMPT, EASY_PROMPT])
    np.testing.assert_allclose(router.strong_win_rates_from_embeddings(queries), reference_strong_win_rates(router, battles, queries), rtol=0, atol=1e-6)


def test_batch_and_single_forms_agree(router):
    prompts = [HARD_PROMPT, EASY_PROMPT, "Find the derivative of 3x^2.", "Good morning!"]
    batch = router.strong_win_rates(prompts)
    single = np.array([router.calculate_strong_win_rate(p) for p in prompts])
    assert batch.shape == (4,)
    np.testing.assert_allclose(batch, single, rtol=0, atol=1e-12)
    assert router.strong_win_rates([]).shape == (0,)


def test_small_batches_give_the_same_scores(router):
    prompts = [HARD_PROMPT, EASY_PROMPT, "Find the derivative of 3x^2.", "Good morning!", "Prove that 7 is prime."]
    full = router.strong_win_rates(prompts)
    router.batch_size, saved = 2, router.batch_size
    try:
        np.testing.assert_allclose(router.strong_win_rates(prompts), full, rtol=0, atol=1e-10)
    finally:
        router.batch_size = saved


def test_save_load_round_trip(router, tmp_path):
    path = tmp_path / "sw.pkl"
    router.save(path)
    loaded = Router.load(path)
    assert isinstance(loaded, SWRankingRouter)
    prompts = [HARD_PROMPT, EASY_PROMPT]
    np.testing.assert_array_equal(loaded.strong_win_rates(prompts), router.strong_win_rates(prompts))


def test_tier_grid_is_chosen_on_validation(data):
    corpus, battles = data
    router = train(corpus, battles, HashEncoder(), {"num_tiers": [1, 4]}, seed=0)
    assert router.num_tiers == 4  # 1 tier merges the routed pair: skipped
    with pytest.raises(ValueError, match="one tier"):
        train(corpus, battles, HashEncoder(), {"num_tiers": 1}, seed=0)


def test_similarity_sharpness_scales_the_exponent_of_routellm_s_weights():
    sims = np.array([[0.8, 0.4, 0.0]])
    np.testing.assert_allclose(similarity_weights(sims), 10 * 10 ** (sims / 0.8))  # RouteLLM's formula
    sharp = similarity_weights(sims, 10.0)
    assert sharp[0, 0] / sharp[0, 2] == pytest.approx(1e10) and sharp[0, 0] / sharp[0, 1] == pytest.approx(1e5)


def test_sharper_weights_keep_the_fast_path_equal_to_the_reference(data):
    corpus, battles = data
    router = train(corpus, battles, HashEncoder(), {"similarity_sharpness": 10}, seed=0)
    assert router.similarity_sharpness == 10.0
    queries = router.encoder.encode([HARD_PROMPT, EASY_PROMPT, "Compute the integral of x^3 from 0 to 2."])
    sharp = router.strong_win_rates_from_embeddings(queries)
    np.testing.assert_allclose(sharp, reference_strong_win_rates(router, battles, queries), rtol=0, atol=1e-6)
    router.similarity_sharpness = 1.0
    assert np.abs(sharp - router.strong_win_rates_from_embeddings(queries)).max() > 1e-3  # the parameter reaches the fit


def test_sharpness_and_tiers_are_chosen_together_on_validation(data):
    """Every candidate ranks the planted validation perfectly: ties keep the first (s = 1, 3 tiers).
    With the validation labels shuffled the candidates differ, and the one kept is the best."""
    corpus, battles = data
    grid = {"num_tiers": [3, 4], "similarity_sharpness": [1, 30]}
    tied = train(corpus, battles, HashEncoder(), grid, seed=0)
    assert (tied.num_tiers, tied.similarity_sharpness) == (3, 1.0)
    is_val = pl.col("split") == "validation"
    shuffled = corpus.with_columns(pl.when(is_val).then(pl.col("label").shuffle(seed=3).over("split")).otherwise(pl.col("label")).alias("label"))
    router = train(shuffled, battles, HashEncoder(), grid, seed=0)
    val = routed_validation(shuffled, STRONG_MODEL, WEAK_MODEL)
    aucs = {}
    for tiers, sharpness in itertools.product(grid["num_tiers"], grid["similarity_sharpness"]):
        candidate = train(shuffled, battles, HashEncoder(), {"num_tiers": tiers, "similarity_sharpness": sharpness}, seed=0)
        aucs[(tiers, sharpness)] = val.auc(candidate.strong_win_rates(val.prompts), "per_source")
    assert len(set(aucs.values())) > 1
    assert aucs[(router.num_tiers, router.similarity_sharpness)] == max(aucs.values())


def test_fit_bt_matches_sklearn_and_recovers_ratings():
    from sklearn.linear_model import LogisticRegression

    rng = np.random.default_rng(1)
    true = np.array([1.0, 0.3, 0.0, -0.8])
    rows = []
    for _ in range(3000):
        a, b = rng.choice(4, size=2, replace=False)
        p = 1 / (1 + math.exp(-(true[a] - true[b])))
        u = rng.random()
        rows.append((a, b, "tie" if u < 0.2 else ("model_a" if u < 0.2 + 0.8 * p else "model_b")))
    a, b, w = (np.array(x) for x in zip(*rows, strict=True))
    counts = aggregate_pairs(np.zeros(len(a)), a, b, w)
    theta, iters = fit_bt(counts.i, counts.j, counts.wins, counts.total, 4)
    assert iters < 30
    # RouteLLM's doubled-row logistic regression
    x = np.zeros((2 * len(a), 4))
    x[np.arange(2 * len(a)), np.concatenate([a, a])] = 1.0
    x[np.arange(2 * len(a)), np.concatenate([b, b])] = -1.0
    y = np.concatenate([(w == "model_a") | (w == "tie"), w == "model_a"]).astype(float)
    coef = LogisticRegression(fit_intercept=False, C=np.inf, tol=1e-12, max_iter=10_000).fit(x, y).coef_[0]
    np.testing.assert_allclose(theta, coef - coef.mean(), atol=1e-5)
    assert np.all(np.diff(theta) < 0)  # the planted order is recovered
    ratings = fit_bt_battles(pl.DataFrame({"model_a": [str(v) for v in a], "model_b": [str(v) for v in b], "winner": w}))
    np.testing.assert_allclose([ratings[str(k)] for k in range(4)], theta, atol=1e-9)


def _brute_force_tiers(values: list[float], m: int) -> float:
    n, best = len(values), math.inf
    for cuts in itertools.combinations(range(1, n), m - 1):
        bounds = [0, *cuts, n]
        best = min(best, sum(np.var(values[bounds[k] : bounds[k + 1]]) for k in range(m)))
    return best


@pytest.mark.parametrize("m", [1, 2, 3, 4])
def test_compute_tiers_is_optimal_contiguous_split(m):
    rng = np.random.default_rng(m)
    ratings = {f"m{k}": float(v) for k, v in enumerate(rng.normal(size=8))}
    tiers = compute_tiers(ratings, m)
    order = sorted(ratings, key=lambda k: -ratings[k])
    labels = [tiers[k] for k in order]
    assert labels == sorted(labels) and set(labels) == set(range(m))  # contiguous, best first
    values = [ratings[k] for k in order]
    cost = sum(np.var([v for v, t in zip(values, labels, strict=True) if t == tier]) for tier in range(m))
    assert cost == pytest.approx(_brute_force_tiers(values, m), abs=1e-12)


@pytest.mark.slow
def test_minilm_encoder_end_to_end(tmp_path):
    corpus, battles = synthetic_data(n_per_kind=12, n_val_per_kind=3, repeats=1)
    router = train(corpus, battles, minilm_encoder(), {}, seed=0)
    hard, easy = router.strong_win_rates([HARD_PROMPT, EASY_PROMPT])
    assert hard > easy
    router.save(tmp_path / "sw.pkl")
    loaded = Router.load(tmp_path / "sw.pkl")
    assert loaded.encoder._model is None  # the pickle holds no encoder weights
    np.testing.assert_allclose(loaded.strong_win_rates([HARD_PROMPT, EASY_PROMPT]), [hard, easy], atol=1e-6)
