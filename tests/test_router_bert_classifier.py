"""BERT classifier router: label mapping, scoring, training on a planted corpus, save/load.

Also covers the shared training helpers in `ragrouter.common.finetuning`.
"""

from __future__ import annotations

import copy

import numpy as np
import polars as pl
import pytest
import torch

from ragrouter.common import finetuning as tu
from ragrouter.common.io import atomic_dir
from ragrouter.routers import bert_classifier as bc
from ragrouter.routers.registry import check_checkpoint_settings

HARD = [
    "Prove that every bounded monotone sequence of real numbers converges, using the least upper bound axiom.",
    "Compute the integral of x^3 e^(2x) sin(x) dx and justify each integration by parts step.",
    "Derive the closed form of the sum of k^4 for k from 1 to n by induction.",
    "Show that the Galois group of x^5 - 4x + 2 over the rationals is S5.",
    "Solve the recurrence T(n) = 3T(n/4) + n log n with the master theorem and prove it.",
    "Find all integer solutions of x^2 - 7y^2 = 1 and prove there are infinitely many.",
    "Prove that the eigenvalues of a real symmetric matrix are real and its eigenvectors orthogonal.",
    "Evaluate the contour integral of 1/(z^4 + 1) over the upper half plane with residues.",
]
EASY = ["say hi", "hello there", "say hello", "hi!", "greet me", "say hi to me", "hello", "hey, say hi"]
PROBE_HARD = "Prove that the integral of x^2 sin(x) over the real line diverges, with a rigorous argument."
PROBE_EASY = "say hi please"


def planted_corpus() -> pl.DataFrame:
    prompts = HARD + EASY + ["tell me a joke", "what is 2 + 2"]
    scores = [1, 2, 1, 3, 1, 1, 2, 1] + [5] * len(EASY) + [4, 4]
    split = ["train"] * len(prompts)
    # A small validation split (needed for ROC-AUC / epoch selection).
    prompts += ["Prove Fermat's little theorem with group theory.", "say hey"]
    scores += [1, 5]
    split += ["validation", "validation"]
    return pl.DataFrame(
        {
            "id": [f"t:{i}" for i in range(len(prompts))],
            "prompt": prompts,
            "source": ["test"] * len(prompts),
            "strong_model": ["gpt-4-1106-preview"] * len(prompts),
            "weak_model": ["mistralai/Mixtral-8x7B-Instruct-v0.1"] * len(prompts),
            "weak_score": scores,
            "label": [int(s <= 3) for s in scores],
            "split": split,
        }
    )


TEST_PARAMS = {"max_length": 32, "epochs": 6, "learning_rate": 3e-4, "batch_size": 4, "warmup_ratio": 0.0, "threads": 1, "eval_batch_size": 8}


@pytest.fixture(scope="module")
def trained(minilm_dir):
    torch.set_num_threads(1)
    return bc.train(planted_corpus(), TEST_PARAMS, seed=0, model_dir=minilm_dir)


@pytest.mark.parametrize("score,label", [(1, 0), (2, 0), (3, 0), (4, 1), (5, 2)])
def test_three_way_label(score, label):
    assert bc.three_way_label(score) == label
    # the strong class is exactly the corpus routing label
    assert (label == 0) == (score <= 3)


@pytest.mark.parametrize("bad", [0, 6, -1])
def test_three_way_label_rejects_out_of_range(bad):
    with pytest.raises(ValueError, match="1..5"):
        bc.three_way_label(bad)


def test_strong_win_rate_is_one_minus_tie_and_weak():
    probs = torch.tensor([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6], [1 / 3, 1 / 3, 1 / 3]])
    rates = bc.strong_win_rate_from_logits(torch.log(probs))
    np.testing.assert_allclose(rates, [0.7, 0.1, 1 / 3], atol=1e-6)


def test_unknown_param_is_an_error(minilm_dir):
    with pytest.raises(ValueError, match="unknown parameter"):
        bc.train(planted_corpus(), {"epoch": 1}, seed=0, model_dir=minilm_dir)


def test_batches_cover_every_index_once():
    lengths = np.random.default_rng(0).integers(1, 50, size=103)
    for batches in [tu.sorted_batches(lengths, 8), tu.bucketed_batches(lengths, 8, np.random.default_rng(1), pool=3)]:
        flat = np.concatenate(batches)
        assert sorted(flat.tolist()) == list(range(103))
        assert max(len(b) for b in batches) <= 8


def test_epoch_selection_prefers_auc_then_loss_then_later_epoch():
    best = {"auc": 0.70, "loss": 0.9}
    assert tu.is_better(0.71, 5.0, best)
    assert not tu.is_better(0.69, 0.1, best)
    assert tu.is_better(0.70, 0.8, best) and tu.is_better(0.70, 0.9, best)
    assert not tu.is_better(0.70, 1.0, best)
    assert tu.is_better(float("nan"), float("nan"), best)  # no validation: the latest epoch


def test_atomic_dir_replaces_existing_folder(tmp_path):
    target = tmp_path / "router"
    target.mkdir()
    (target / "stale.txt").write_text("old")
    with atomic_dir(target) as tmp:
        (tmp / "new.txt").write_text("new")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]
    assert [p.name for p in tmp_path.iterdir()] == ["router"]  # no temporary left behind
    with pytest.raises(RuntimeError), atomic_dir(target) as tmp:
        (tmp / "half.txt").write_text("x")
        raise RuntimeError("interrupted")
    assert sorted(p.name for p in target.iterdir()) == ["new.txt"]


@pytest.mark.slow
def test_ranks_planted_hard_prompt_above_easy(trained):
    hard, easy = trained.strong_win_rates([PROBE_HARD, PROBE_EASY])
    assert 0.0 <= easy <= 1.0 and 0.0 <= hard <= 1.0
    assert hard > easy + 0.1


@pytest.mark.slow
def test_batch_and_single_scores_agree(trained):
    prompts = [PROBE_HARD, PROBE_EASY, "x" * 500, "a medium length question about the history of Rome"]
    batch = trained.strong_win_rates(prompts)
    single = np.array([trained.calculate_strong_win_rate(p) for p in prompts])
    assert batch.shape == (4,) and batch.dtype == np.float64
    # bfloat16 weights (the default): padding changes matmul shapes, so bf16-level differences
    np.testing.assert_allclose(batch, single, atol=1e-2)
    assert trained.strong_win_rates([]).shape == (0,)
    # the same weights in float32 agree to float precision
    fp32 = bc.BertClassifierRouter(copy.deepcopy(trained.model), trained.tokenizer, trained.max_length, trained.truncation, 2, "float32")
    np.testing.assert_allclose(fp32.strong_win_rates(prompts), [fp32.calculate_strong_win_rate(p) for p in prompts], atol=1e-5)
    np.testing.assert_allclose(fp32.strong_win_rates(prompts), batch, atol=1e-2)


@pytest.mark.slow
def test_save_load_round_trip(trained, tmp_path):
    prompts = [PROBE_HARD, PROBE_EASY, "what is the capital of France?"]
    path = tmp_path / "bert_router"
    trained.save(path)
    trained.save(path)  # overwriting an existing save works
    assert (path / "router.json").is_file()
    loaded = bc.BertClassifierRouter.load(path)
    np.testing.assert_allclose(loaded.strong_win_rates(prompts), trained.strong_win_rates(prompts), atol=1e-6)
    assert loaded.max_length == TEST_PARAMS["max_length"]
    with pytest.raises(FileNotFoundError):
        bc.load(tmp_path / "missing")
    check_checkpoint_settings(path, "bert", TEST_PARAMS)  # the settings it was trained with
    with pytest.raises(ValueError, match=rf"max_length: trained with {TEST_PARAMS['max_length']}, configured 99\); retrain"):
        check_checkpoint_settings(path, "bert", {**TEST_PARAMS, "max_length": 99})
    with pytest.raises(ValueError, match="labels: trained with 'three_way', configured 'weak_score'"):
        check_checkpoint_settings(path, "bert", {**TEST_PARAMS, "labels": "weak_score"})


@pytest.mark.slow
def test_training_is_deterministic(minilm_dir, trained):
    again = bc.train(planted_corpus(), {**TEST_PARAMS, "epochs": 1}, seed=0, model_dir=minilm_dir)
    twice = bc.train(planted_corpus(), {**TEST_PARAMS, "epochs": 1}, seed=0, model_dir=minilm_dir)
    prompts = [PROBE_HARD, PROBE_EASY]
    np.testing.assert_allclose(again.strong_win_rates(prompts), twice.strong_win_rates(prompts), atol=1e-6)
