"""The validation metric every choice is made with: per-source ROC-AUC and its mean."""

from __future__ import annotations

import numpy as np
import pytest

import polars as pl

from ragrouter.data.sources import task_of
from ragrouter.evaluation.validation import (
    ValidationSet,
    pair_weighted_auc,
    per_source_auc,
    roc_auc,
    stratified_auc,
    stratified_auc_resamples,
    stratified_auc_se,
    validation_table,
)


def test_stratified_auc_on_a_hand_checked_example():
    # source a: positives {0.4, 0.8} above both negatives {0.1, 0.35}: 4 of 4 pairs -> 1.0
    # source b: positives {0.2, 0.9} vs negatives {0.3, 0.1}: 0.2<0.3, 0.2>0.1, 0.9>0.3, 0.9>0.1 -> 0.75
    # source c: one label only -> NaN, left out of the mean
    labels = np.array([0, 1, 0, 1, 1, 0, 1, 0, 1, 1])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.3, 0.9, 0.1, 0.5, 0.6])
    sources = ["a"] * 4 + ["b"] * 4 + ["c"] * 2
    per = per_source_auc(labels, scores, sources)
    assert list(per) == ["a", "b", "c"]
    assert per["a"] == 1.0 and per["b"] == 0.75 and np.isnan(per["c"])
    assert stratified_auc(labels, scores, sources, min_per_class=1) == pytest.approx(0.875)
    assert stratified_auc(labels, scores, sources, min_per_class=3) != stratified_auc(labels, scores, sources, min_per_class=3)  # NaN: no source has 3 per label


def test_pair_weighted_auc_weighs_each_stratum_by_its_pairs():
    # the example above: source a has 2 x 2 pairs (AUC 1.0), source b 2 x 2 (0.75); source c none.
    # Add source d: 1 positive over 3 negatives, ranked last (AUC 0.0, 3 pairs)
    labels = np.array([0, 1, 0, 1, 1, 0, 1, 0, 1, 1, 1, 0, 0, 0])
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.3, 0.9, 0.1, 0.5, 0.6, 0.0, 0.1, 0.2, 0.3])
    sources = ["a"] * 4 + ["b"] * 4 + ["c"] * 2 + ["d"] * 4
    # plain mean (1 + 0.75 + 0) / 3; pairs (4 * 1 + 4 * 0.75 + 3 * 0) / 11
    assert stratified_auc(labels, scores, sources, min_per_class=1) == pytest.approx(1.75 / 3)
    assert pair_weighted_auc(labels, scores, sources, min_per_class=1) == pytest.approx(7 / 11)
    assert pair_weighted_auc(labels, scores, sources, min_per_class=2) == pytest.approx(0.875)  # d left out
    assert np.isnan(pair_weighted_auc(labels, scores, sources, min_per_class=3))


def test_stratified_auc_se_is_zero_for_a_perfect_ranking_and_shrinks_with_more_rows():
    rng = np.random.default_rng(1)
    def rows(n):
        strata = np.repeat(["a", "b"], n)
        labels = (rng.random(2 * n) < 0.3).astype(int)
        return labels, labels + rng.normal(0, 1.5, 2 * n), strata

    labels, scores, strata = rows(60)
    assert stratified_auc_se(labels, labels.astype(float), strata) == 0.0  # every resample ranks perfectly
    small = stratified_auc_se(labels, scores, strata)
    assert small == stratified_auc_se(labels, scores, strata)  # seeded
    assert 0.02 < small < 0.15
    assert stratified_auc_se(*rows(960)) < small / 2  # 16x the rows: about a quarter of the error


def test_paired_resamples_score_every_array_on_the_same_rows():
    """Two arrays resampled apart would give a nonzero spread to the gain of a score over itself; on
    shared rows it is exactly 0, and a score that ranks better gains in every resample."""
    rng = np.random.default_rng(2)
    strata = np.repeat(["a", "b"], 80)
    labels = (rng.random(160) < 0.4).astype(int)
    noisy = labels + rng.normal(0, 1.5, 160)
    draws = stratified_auc_resamples(labels, [noisy, noisy.copy(), labels + rng.normal(0, 0.2, 160)], strata, resamples=300)
    assert draws.shape == (3, 300)
    assert np.array_equal(draws[0], draws[1])
    assert (draws[2] > draws[0]).all()
    assert abs(draws[0].mean() - stratified_auc(labels, noisy, strata)) < 0.02  # centred on the statistic


def test_a_score_that_only_knows_the_source_is_rewarded_pooled_but_not_within_sources():
    """Base rates 80 % vs 20 %, difficulty independent of the source: the source indicator alone
    scores well pooled and exactly 0.5 within each source."""
    rng = np.random.default_rng(0)
    sources = np.array(["alpaca"] * 500 + ["routerbench"] * 500)
    labels = np.concatenate([rng.random(500) < 0.8, rng.random(500) < 0.2]).astype(int)
    source_only = (sources == "alpaca").astype(float)
    assert roc_auc(labels, source_only) > 0.75
    assert stratified_auc(labels, source_only, sources) == 0.5
    assert np.isnan(stratified_auc(np.ones(4), np.arange(4.0), ["a", "a", "b", "b"], min_per_class=1))


def test_validation_set_scores_both_metrics_and_rejects_an_unknown_one():
    import polars as pl

    from ragrouter.evaluation.validation import ValidationSet

    rows = pl.DataFrame({"prompt": list("abcdefgh"), "label": [0, 1, 0, 1, 1, 0, 1, 0], "source": ["a"] * 4 + ["b"] * 4})
    scores = np.array([0.1, 0.4, 0.35, 0.8, 0.2, 0.3, 0.9, 0.1])
    # two rows per label and source: too few to choose by, so the pooled AUC decides
    assert ValidationSet.of(rows).auc(scores, "per_source") == pytest.approx(roc_auc(rows["label"].to_numpy(), scores))
    val, scores = ValidationSet.of(pl.concat([rows] * 3)), np.tile(scores, 3)
    assert val.auc(scores, "per_source") == pytest.approx(0.875) and val.auc(scores) == pytest.approx(roc_auc(val.labels, scores))
    assert "a 1.000" in val.summary(scores) and "b 0.750" in val.summary(scores)
    with pytest.raises(ValueError, match="per_source"):
        val.auc(scores, "macro")


def test_task_of_names_the_dataset_inside_a_multi_task_source():
    assert task_of("routerbench-zs:arc-challenge.test.100", "routerbench-zs") == "routerbench-zs/arc-challenge"
    assert task_of("routerdc-7models:arc_easy_train:12", "routerdc-7models") == "routerdc-7models/arc_easy"
    assert task_of("routerdc-7models:MATH_prealgebra:116", "routerdc-7models") == "routerdc-7models/MATH_prealgebra"
    assert task_of("routerdc-7models:gsm8k-train:7", "routerdc-7models") == "routerdc-7models/gsm8k-train"
    assert task_of("alpaca-eval:12", "alpaca-eval") == "alpaca-eval"


def test_a_score_that_only_knows_the_task_is_rewarded_per_source_but_not_per_task(tmp_path):
    # one source, two tasks of 20 rows: an easy one (5 strong-needed) and a hard one (15); within
    # each task the score is constant, so it ranks difficulty only by recognising the task
    ids = [f"routerdc-7models:arc_easy:{i}" for i in range(20)] + [f"routerdc-7models:gsm8k-train:{i}" for i in range(20)]
    labels = [1] * 5 + [0] * 15 + [1] * 15 + [0] * 5
    scores = [0.1] * 20 + [0.9] * 20
    pl.DataFrame({"id": ids, "source": ["routerdc-7models"] * 40, "label": labels, "score": scores}).write_parquet(tmp_path / "v.parquet")
    row = validation_table({"task_recogniser": [str(tmp_path / "v.parquet")]}).row(0, named=True)
    # per source, of the 20 x 20 strong-over-not pairs: 15 x 15 won (hard strong over easy not),
    # 5 x 5 lost, the 2 x 75 within-task pairs tied (half each): (225 + 75) / 400
    assert row["mean per-source"] == pytest.approx(0.75)
    assert row["mean per-task"] == pytest.approx(0.5)  # within a task the constant score knows nothing
    assert row["pair-weighted per-task"] == pytest.approx(0.5) and row["per-task SE"] == 0.0  # all ties, in every resample


def test_validation_set_per_task_metric_stratifies_by_the_ids_task():
    ids = [f"routerdc-7models:arc_easy:{i}" for i in range(20)] + [f"routerdc-7models:gsm8k-train:{i}" for i in range(20)]
    rows = pl.DataFrame({"id": ids, "prompt": ids, "source": ["routerdc-7models"] * 40, "label": [1] * 5 + [0] * 15 + [1] * 15 + [0] * 5})
    val, task_recogniser = ValidationSet.of(rows), np.array([0.1] * 20 + [0.9] * 20)
    assert val.auc(task_recogniser, "per_source") == pytest.approx(0.75) and val.auc(task_recogniser, "per_task") == pytest.approx(0.5)
