"""Perplexity-based dynamic sampling: sizes, label balance, validation pass-through, Beta factors, PPL."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from ragrouter.method.perplexity import perplexities
from ragrouter.method.sampling import (
    DEFAULT_SAMPLE_PARAMS,
    beta_cdf,
    beta_quantile,
    difficulty_levels,
    dynamic_sample,
    level_factors,
    target_size,
)

ROOT = Path(__file__).resolve().parents[1]
N_TRAIN, N_VAL, ORIGINAL = 400, 60, 300


@pytest.fixture(scope="module")
def corpus() -> tuple[pl.DataFrame, np.ndarray]:
    """Augmented-corpus stand-in: 25 % strong labels; strong prompts have higher PPL on average."""
    rng = np.random.default_rng(7)
    n = N_TRAIN + N_VAL
    label = (rng.random(n) < 0.25).astype(np.int64)
    score = np.where(label == 1, rng.integers(1, 4, n), rng.integers(4, 6, n))
    df = pl.DataFrame(
        {
            "id": [f"syn:{i}" for i in range(n)],
            "prompt": [f"prompt number {i}" for i in range(n)],
            "source": ["syn"] * n,
            "strong_model": ["s"] * n,
            "weak_model": ["w"] * n,
            "weak_score": score,
            "label": label,
            "split": ["train"] * N_TRAIN + ["validation"] * N_VAL,
        }
    )
    ppl = np.exp(rng.normal(3.0, 0.8, n) + 0.5 * label)
    ppl[N_TRAIN:] = np.nan  # validation rows need no PPL
    return df, ppl


@pytest.fixture(scope="module")
def sampled(corpus) -> pl.DataFrame:
    df, ppl = corpus
    return dynamic_sample(df, ppl, {"original_size": ORIGINAL}, seed=0)


def test_validation_rows_pass_through_unchanged(corpus, sampled):
    df, _ = corpus
    assert sampled.filter(pl.col("split") == "validation").sort("id").equals(df.filter(pl.col("split") == "validation").sort("id"))


def test_size_lies_between_original_and_input(corpus, sampled):
    df, _ = corpus
    train = sampled.filter(pl.col("split") == "train")
    assert ORIGINAL < train.height < N_TRAIN
    assert sampled.height < df.height
    assert set(train["id"]) <= set(df.filter(pl.col("split") == "train")["id"])


def test_labels_balanced_within_one_row(sampled):
    counts = sampled.filter(pl.col("split") == "train")["label"].value_counts()
    assert counts.height == 2 and abs(int(counts["count"][0]) - int(counts["count"][1])) <= 1


def test_deterministic_by_seed(corpus, sampled):
    df, ppl = corpus
    assert dynamic_sample(df, ppl, {"original_size": ORIGINAL}, seed=0).equals(sampled)
    assert not dynamic_sample(df, ppl, {"original_size": ORIGINAL}, seed=1).equals(sampled)


def _levels_of(ids, df, ppl) -> np.ndarray:
    train = df.filter(pl.col("split") == "train")
    level = dict(zip(train["id"], difficulty_levels(ppl[:N_TRAIN]), strict=True))
    return np.array([level[i] for i in ids])


def test_sampling_without_replacement_drops_low_perplexity_rows(corpus):
    df, ppl = corpus
    out = dynamic_sample(df, ppl, {"original_size": ORIGINAL, "rebalance": False}, seed=0).filter(pl.col("split") == "train")
    assert out["id"].n_unique() == out.height  # each row at most once
    dropped = set(df.filter(pl.col("split") == "train")["id"]) - set(out["id"])
    levels = _levels_of(sorted(dropped), df, ppl)
    assert (levels == 0).mean() > 2 * (levels == 3).mean()


def test_sampling_with_replacement_favours_high_perplexity(corpus):
    df, ppl = corpus
    out = dynamic_sample(df, ppl, {"original_size": ORIGINAL, "replace": True}, seed=0)
    levels = _levels_of(out.filter(pl.col("split") == "train")["id"], df, ppl)
    assert (levels == 3).mean() > 2 * (levels == 0).mean()


def test_target_size_rules():
    p = {**DEFAULT_SAMPLE_PARAMS, "original_size": 175_000}
    assert target_size(225_000, p) == 200_000  # the thesis' 225k -> 200k > 175k
    assert target_size(1000, {**p, "original_size": None}) == 900  # original unknown: fallback fraction
    assert target_size(1000, {**p, "original_size": 1000}) == 1000  # not augmented (aug=off): every row, as the rule gives
    with pytest.raises(ValueError):
        target_size(225_000, {**p, "target_size": 230_000})


def test_unaugmented_balanced_input_keeps_every_original_row(corpus):
    """aug=off: the sampling step keeps the original corpus (T = its size); on label-balanced input
    nothing is dropped or repeated, so the ablation removes the augmentation and nothing else."""
    df, ppl = corpus
    train = df.filter(pl.col("split") == "train")
    strong = train.filter(pl.col("label") == 1)
    balanced = pl.concat([strong, train.filter(pl.col("label") == 0).head(strong.height), df.filter(pl.col("split") == "validation")])
    ppl_of = dict(zip(df["id"], ppl, strict=True))
    out = dynamic_sample(balanced, np.array([ppl_of[i] for i in balanced["id"]]), {"original_size": 2 * strong.height}, seed=0)
    out_train = out.filter(pl.col("split") == "train")
    assert sorted(out_train["id"].to_list()) == sorted(balanced.filter(pl.col("split") == "train")["id"].to_list())


def test_ppl_must_align_with_rows(corpus):
    df, ppl = corpus
    with pytest.raises(ValueError):
        dynamic_sample(df, ppl[:-1], {"original_size": ORIGINAL})
    with pytest.raises(ValueError):
        dynamic_sample(df, ppl, {"original_size": ORIGINAL, "alpah": 1.0})


def _numeric_beta_quantile(q: float, a: float, b: float) -> float:
    """Trapezoid-integrated Beta density, inverted by interpolation (independent of beta_cdf)."""
    from math import lgamma

    x = np.linspace(0.0, 1.0, 200_001)
    dens = np.exp(lgamma(a + b) - lgamma(a) - lgamma(b)) * x ** (a - 1) * (1 - x) ** (b - 1)
    cdf = np.concatenate([[0.0], np.cumsum((dens[1:] + dens[:-1]) / 2 * np.diff(x))])
    return float(np.interp(q, cdf, x))


def test_beta_quantiles_match_numeric_integration():
    got = level_factors()
    want = [_numeric_beta_quantile(q, 2, 5) for q in (0.1, 0.3, 0.7, 0.9)]
    np.testing.assert_allclose(got, want, atol=1e-6)
    np.testing.assert_allclose(got, [0.0925953, 0.1818035, 0.3603577, 0.5103163], atol=1e-6)
    for x in (0.05, 0.2, 0.5, 0.9):  # the closed form of I_x(2, 5)
        assert beta_cdf(x, 2, 5) == pytest.approx(1 - (1 - x) ** 5 * (1 + 5 * x), abs=1e-12)
    assert beta_quantile(0.4, 2.5, 3.5) == pytest.approx(_numeric_beta_quantile(0.4, 2.5, 3.5), abs=1e-6)


def test_beta_quantiles_match_scipy():
    stats = pytest.importorskip("scipy.stats")
    np.testing.assert_allclose(level_factors(), stats.beta(2, 5).ppf([0.1, 0.3, 0.7, 0.9]), atol=1e-9)


# --------------------------------------------------------------------------- perplexity (real LM)


@pytest.mark.slow
def test_perplexity_ranks_garbled_above_fluent(smollm2_dir):
    import torch

    torch.set_num_threads(1)
    prompts = [
        "The cat sat on the mat and looked out of the window at the rain.",
        "window mat the rain xqz cat of out sat looked at zzkp the on",
        "Write a short poem about the sea.",
    ]
    batched = perplexities(prompts, smollm2_dir, max_length=32, batch_size=3, progress=False)
    assert np.isfinite(batched).all()
    assert batched[1] > 3 * batched[0]
    single = np.array([perplexities([p], smollm2_dir, max_length=32, batch_size=1, progress=False)[0] for p in prompts[:2]])
    np.testing.assert_allclose(batched[:2], single, rtol=1e-3)  # padding and the mask do not leak into the mean


def test_balancing_within_sources_removes_the_source_signal_pooled_balancing_keeps():
    """Planted confound: strong-needed base rates 80 % (source a) vs 20 % (b), PPL independent of
    both. After pooled 50/50 balancing the source still predicts the label; within sources it cannot."""
    from ragrouter.evaluation.validation import roc_auc

    rng = np.random.default_rng(3)
    n = 2000
    source = np.array(["a"] * (n // 2) + ["b"] * (n // 2))
    label = np.where(source == "a", rng.random(n) < 0.8, rng.random(n) < 0.2).astype(np.int64)
    df = pl.DataFrame(
        {
            "id": [f"t:{i}" for i in range(n)],
            "prompt": [f"prompt {i}" for i in range(n)],
            "source": source,
            "weak_score": np.where(label == 1, 2, 5),
            "label": label,
            "split": ["train"] * n,
        }
    )
    ppl = rng.lognormal(3.0, 0.5, n)

    def source_signal(params: dict) -> tuple[float, pl.DataFrame]:
        out = dynamic_sample(df, ppl, {"original_size": n // 2, **params}, seed=0)
        return roc_auc(out["label"].to_numpy(), (out["source"] == "a").to_numpy().astype(float)), out

    pooled_auc, pooled = source_signal({})
    within_auc, within = source_signal({"rebalance_within": "source"})
    assert pooled["label"].mean() == pytest.approx(0.5, abs=1e-3) and pooled_auc > 0.7
    assert within_auc == pytest.approx(0.5, abs=1e-3)
    for s in ("a", "b"):
        assert within.filter(pl.col("source") == s)["label"].mean() == pytest.approx(0.5, abs=2e-3)
    # the same confound between two task datasets of one source: balanced within each task
    tasks = df.with_columns(pl.lit("routerdc-7models").alias("source"), pl.Series("id", [f"routerdc-7models:{'arc_easy' if s == 'a' else 'gsm8k-train'}:{i}" for i, s in enumerate(source)]))
    by_task = dynamic_sample(tasks, ppl, {"original_size": n // 2, "rebalance_within": "task"}, seed=0)
    for task in ("arc_easy", "gsm8k-train"):
        assert by_task.filter(pl.col("id").str.contains(task))["label"].mean() == pytest.approx(0.5, abs=2e-3)
    with pytest.raises(ValueError, match="nor a corpus column"):
        dynamic_sample(df, ppl, {"original_size": n // 2, "rebalance_within": "domain"})


@pytest.mark.parametrize("replace", [False, True])
def test_sampled_rows_do_not_move_when_the_perplexities_carry_float_noise(replace):
    """Another CPU computes the PPLs to ~1e-7 relative; a relative 1e-6 must not change one sampled row."""
    rng = np.random.default_rng(5)
    n = 4000
    label = (rng.random(n) < 0.22).astype(np.int64)
    df = pl.DataFrame(
        {"id": [f"r:{i}" for i in range(n)], "prompt": [f"p {i}" for i in range(n)], "source": ["s"] * n, "weak_score": np.where(label == 1, 2, 5), "label": label, "split": ["train"] * n}
    )
    ppl = np.exp(rng.normal(3.0, 0.8, n))
    noisy = ppl * (1 + 1e-6 * rng.uniform(-1, 1, n))
    params = {"original_size": 3100, "replace": replace}
    for seed in range(3):
        assert dynamic_sample(df, ppl, params, seed=seed)["id"].to_list() == dynamic_sample(df, noisy, params, seed=seed)["id"].to_list()
