"""Matrix factorization router: planted ranking, RouteLLM's MF scoring, ids from the battles, round trip."""

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
from ragrouter.routers.matrix_factorization import MatrixFactorizationRouter, train

torch.set_num_threads(1)
FAST = {"dim": 16, "epochs": 60, "lr": 1e-2, "batch_prompts": 8, "patience": 60, "alpha": 0.0}


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
    assert hard > 0.7


def test_model_ids_come_from_training_battles(router):
    assert router.models == sorted(MODELS)  # includes models unknown to RouteLLM's table
    assert VAL_ONLY_MODEL not in router.models
    assert router.models[router.strong_id] == STRONG_MODEL and router.models[router.weak_id] == WEAK_MODEL


def test_win_rate_is_sigmoid_of_score_difference(router):
    emb = router.encoder.encode([HARD_PROMPT, EASY_PROMPT, "Prove that 9 is odd."])
    scores = router.model_scores_from_embeddings(emb)
    assert scores.shape == (3, len(router.models))
    expected = sigmoid(scores[:, router.strong_id] - scores[:, router.weak_id])
    np.testing.assert_allclose(router.strong_win_rates_from_embeddings(emb), expected, rtol=0, atol=1e-12)
    # RouteLLM's MF score: classifier(normalize(P_m) * proj(x)), recomputed from the stored weights
    p = router.model_embeddings / np.linalg.norm(router.model_embeddings, axis=1, keepdims=True)
    manual = np.array([[router.classifier @ (p[m] * (router.projection @ x)) for m in range(len(router.models))] for x in emb])
    np.testing.assert_allclose(scores, manual, rtol=0, atol=1e-10)


def test_batch_and_single_forms_agree(router):
    prompts = [HARD_PROMPT, EASY_PROMPT, "Find the derivative of 3x^2.", "Good morning!"]
    batch = router.strong_win_rates(prompts)
    single = np.array([router.calculate_strong_win_rate(p) for p in prompts])
    np.testing.assert_allclose(batch, single, rtol=0, atol=1e-12)
    assert np.all((batch > 0) & (batch < 1))
    assert router.strong_win_rates([]).shape == (0,)


def test_save_load_round_trip(router, tmp_path):
    path = tmp_path / "mf.pkl"
    router.save(path)
    loaded = Router.load(path)
    assert isinstance(loaded, MatrixFactorizationRouter)
    prompts = [HARD_PROMPT, EASY_PROMPT]
    np.testing.assert_array_equal(loaded.strong_win_rates(prompts), router.strong_win_rates(prompts))


def test_training_is_seeded(data):
    corpus, battles = data
    params = {**FAST, "epochs": 3, "alpha": 0.1}
    a = train(corpus, battles, HashEncoder(), params, seed=3)
    b = train(corpus, battles, HashEncoder(), params, seed=3)
    c = train(corpus, battles, HashEncoder(), params, seed=4)
    np.testing.assert_array_equal(a.projection, b.projection)
    assert not np.allclose(a.projection, c.projection)


def test_ties_are_dropped_by_default(data):
    """With only tied battles there is nothing to learn under RouteLLM's tie handling."""
    corpus, battles = data
    only_ties = battles.with_columns(winner=pl.lit("tie"))
    with pytest.raises(ValueError, match="no training battles"):
        train(corpus, only_ties, HashEncoder(), FAST, seed=0)
    router = train(corpus, only_ties, HashEncoder(), {**FAST, "tie_mode": "half", "epochs": 2}, seed=0)
    assert np.isfinite(router.calculate_strong_win_rate(HARD_PROMPT))


@pytest.mark.slow
def test_minilm_encoder_end_to_end(tmp_path):
    corpus, battles = synthetic_data(n_per_kind=12, n_val_per_kind=3, repeats=1)
    router = train(corpus, battles, minilm_encoder(), {**FAST, "epochs": 40}, seed=0)
    hard, easy = router.strong_win_rates([HARD_PROMPT, EASY_PROMPT])
    assert hard > easy
    router.save(tmp_path / "mf.pkl")
    loaded = Router.load(tmp_path / "mf.pkl")
    assert loaded.encoder._model is None
    np.testing.assert_allclose(loaded.strong_win_rates([HARD_PROMPT, EASY_PROMPT]), [hard, easy], atol=1e-6)


def test_label_battles_teach_the_corpus_labels_beside_or_instead_of_the_battle_table(data):
    """The planted battle table says maths needs the strong model; the corpus labels here say the
    opposite. Trained on the labels' routed-pair battles alone, MF follows the labels; the helper
    turns each training row into one battle won as its label says, and rejects an unknown mode."""
    from ragrouter.routers.battle_training import with_label_battles

    corpus, battles = data
    flipped = corpus.with_columns((1 - pl.col("label")).alias("label"))
    only = with_label_battles(battles, flipped, STRONG_MODEL, WEAK_MODEL, "only")
    labelled = only.filter(pl.col("source") == "corpus labels")
    train_rows = flipped.filter(pl.col("split") == "train")
    assert labelled.height == train_rows.height and only.filter(pl.col("split") == "train").height == train_rows.height
    assert labelled["winner"].to_list() == ["model_a" if y else "model_b" for y in train_rows["label"]]
    assert with_label_battles(battles, flipped, STRONG_MODEL, WEAK_MODEL, "added").height == battles.height + train_rows.height
    assert with_label_battles(battles, flipped, STRONG_MODEL, WEAK_MODEL, "none") is battles
    with pytest.raises(ValueError, match="label_battles must be one of"):
        with_label_battles(battles, flipped, STRONG_MODEL, WEAK_MODEL, "golden")
    router = train(flipped, battles, HashEncoder(), {**FAST, "label_battles": "only", "select": "auc"}, seed=0)
    hard, easy = router.strong_win_rates([HARD_PROMPT, EASY_PROMPT])
    assert easy > hard + 0.05, (hard, easy)  # the table alone gives hard > easy + 0.2 (test_planted_hard_prompt_scores_above_easy)
