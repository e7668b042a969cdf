"""P2L router: planted ranking, per-prompt leaderboard, tie handling, batch/single, round trip."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
import torch
from _router_fixtures import (
    EASY_PROMPT,
    HARD_PROMPT,
    MODELS,
    VAL_ONLY_MODEL,
    HashEncoder,
    minilm_encoder,
    synthetic_data,
)

from ragrouter.data.benchmarks import STRONG_MODEL, WEAK_MODEL
from ragrouter.routers.base import Router
from ragrouter.routers.bradley_terry import sigmoid
from ragrouter.routers.p2l import P2LRouter, train

torch.set_num_threads(1)
FAST = {"hidden": 32, "epochs": 40, "lr": 1e-2, "batch_prompts": 8, "patience": 40, "weight_decay": 0.0}


@pytest.fixture(scope="module")
def data():
    return synthetic_data()


@pytest.fixture(scope="module")
def router(data):
    corpus, battles = data
    return train(corpus, battles, HashEncoder(), FAST, seed=0)


def test_planted_hard_prompt_scores_above_easy(router):
    hard, easy = router.strong_win_rates([HARD_PROMPT, EASY_PROMPT])
    assert hard > easy + 0.2, (hard, easy)
    assert hard > 0.7 and abs(easy - 0.5) < 0.2


def test_prompt_leaderboard(router):
    """On a maths prompt the coefficients order the models by their planted maths skill."""
    theta = router.coefficients_from_embeddings(router.encoder.encode([HARD_PROMPT]))[0]
    by_model = dict(zip(router.models, theta, strict=True))
    assert by_model[STRONG_MODEL] == max(by_model.values())
    assert by_model[STRONG_MODEL] > by_model[WEAK_MODEL] + 1.0
    assert router.models == sorted(MODELS) and VAL_ONLY_MODEL not in router.models
    emb = router.encoder.encode([HARD_PROMPT, EASY_PROMPT])
    theta = router.coefficients_from_embeddings(emb)
    np.testing.assert_allclose(router.strong_win_rates_from_embeddings(emb), sigmoid(theta[:, router.strong_id] - theta[:, router.weak_id]), atol=1e-12)


def test_linear_head(data):
    corpus, battles = data
    router = train(corpus, battles, HashEncoder(), {**FAST, "hidden": 0}, seed=0)
    assert len(router.layers) == 1
    hard, easy = router.strong_win_rates([HARD_PROMPT, EASY_PROMPT])
    assert hard > easy + 0.2


def test_ties_count_as_half_wins(data):
    """Every battle tied: with ties as halves every pair is even; dropping ties leaves nothing."""
    corpus, battles = data
    greetings = battles.with_columns(winner=pl.lit("tie"))
    router = train(corpus, greetings, HashEncoder(), {**FAST, "epochs": 20}, seed=0)
    np.testing.assert_allclose(router.strong_win_rates([EASY_PROMPT, HARD_PROMPT]), 0.5, atol=0.05)
    with pytest.raises(ValueError, match="no training battles"):
        train(corpus, greetings, HashEncoder(), {**FAST, "tie_mode": "drop"}, seed=0)


def test_batch_and_single_forms_agree(router):
    prompts = [HARD_PROMPT, EASY_PROMPT, "Find the derivative of 3x^2.", "Good morning!"]
    batch = router.strong_win_rates(prompts)
    single = np.array([router.calculate_strong_win_rate(p) for p in prompts])
    np.testing.assert_allclose(batch, single, rtol=0, atol=1e-12)
    assert router.strong_win_rates([]).shape == (0,)


def test_save_load_round_trip(router, tmp_path):
    path = tmp_path / "p2l.pkl"
    router.save(path)
    loaded = Router.load(path)
    assert isinstance(loaded, P2LRouter)
    prompts = [HARD_PROMPT, EASY_PROMPT]
    np.testing.assert_array_equal(loaded.strong_win_rates(prompts), router.strong_win_rates(prompts))


def test_training_is_seeded(data):
    corpus, battles = data
    params = {**FAST, "epochs": 2}
    a = train(corpus, battles, HashEncoder(), params, seed=5)
    b = train(corpus, battles, HashEncoder(), params, seed=5)
    np.testing.assert_array_equal(a.layers[0][0], b.layers[0][0])


@pytest.mark.slow
def test_minilm_encoder_end_to_end(tmp_path):
    corpus, battles = synthetic_data(n_per_kind=12, n_val_per_kind=3, repeats=1)
    router = train(corpus, battles, minilm_encoder(), FAST, seed=0)
    hard, easy = router.strong_win_rates([HARD_PROMPT, EASY_PROMPT])
    assert hard > easy
    router.save(tmp_path / "p2l.pkl")
    loaded = Router.load(tmp_path / "p2l.pkl")
    assert loaded.encoder._model is None
    np.testing.assert_allclose(loaded.strong_win_rates([HARD_PROMPT, EASY_PROMPT]), [hard, easy], atol=1e-6)
