"""RouteLLM metric parity: hand-computed cases, pandas' qcut reference, ties and constant scores."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from loguru import logger

from ragrouter.evaluation.metrics import (
    Point,
    average_curves,
    curve_metrics,
    evaluate_router,
    optimal_quality,
    routing_curve,
)


def routellm_reference(scores, strong, weak, num_results=10):
    """RouteLLM's benchmarks.py + evaluate.py loop, written with pandas as it is there."""
    _, thresholds = pd.qcut(pd.Series(scores), num_results, retbins=True)
    points = []
    for i, t in enumerate(thresholds):
        sel = scores >= t if i != len(thresholds) - 1 else scores > t
        res = np.where(sel, strong, weak)
        points.append((sel.mean() * 100, res.sum() / len(res) * 100))
    df = pd.DataFrame(points, columns=["strong_percentage", "accuracy"]).sort_values("strong_percentage")
    w, s = weak.mean() * 100, strong.mean() * 100
    cpt = [np.interp(p * (s - w) + w, df["accuracy"], df["strong_percentage"]) for p in (0.2, 0.5, 0.8)]
    auc = np.trapezoid(df["accuracy"], df["strong_percentage"] / 100)
    weak_auc = np.trapezoid(np.full(len(df), w), df["strong_percentage"] / 100)
    strong_auc = np.trapezoid(np.full(len(df), s), df["strong_percentage"] / 100)
    return points, cpt, auc, (auc - weak_auc) / (strong_auc - weak_auc)


def test_matches_routellm_reference_on_random_scores():
    rng = np.random.default_rng(3)
    n = 1307
    strong = (rng.random(n) < 0.86).astype(float)
    weak = (rng.random(n) < 0.64).astype(float)
    scores = rng.random(n) + 0.3 * (strong - weak)
    ref_points, ref_cpt, ref_auc, ref_apgr = routellm_reference(scores, strong, weak)
    curve = routing_curve(scores, strong, weak, 100.0)
    assert np.allclose([(p.strong_pct, p.quality) for p in curve], ref_points)
    m = curve_metrics(curve, weak.mean() * 100, strong.mean() * 100)
    assert [m["CPT(20%)"], m["CPT(50%)"], m["CPT(80%)"]] == pytest.approx(ref_cpt)
    assert m["AUC"] == pytest.approx(ref_auc)
    assert m["APGR"] == pytest.approx(ref_apgr)
    assert m["APGR"] > 0.5  # the planted signal helps


def test_hand_computed_two_point_curve():
    # Two prompts: only prompt 1 needs the strong model, and it scores higher.
    strong, weak = np.array([1.0, 1.0]), np.array([1.0, 0.0])
    curve = routing_curve(np.array([0.0, 1.0]), strong, weak, 100.0, num_results=1)
    # edges [0, 1]: ">= 0" routes both (100 %, acc 100); "> 1" routes none (0 %, acc 50)
    assert [(p.strong_pct, p.quality) for p in curve] == [(100.0, 100.0), (0.0, 50.0)]
    m = curve_metrics(curve, 50.0, 100.0)
    assert m["CPT(50%)"] == pytest.approx(50.0)  # linear interpolation between the two points
    assert m["AUC"] == pytest.approx(75.0)
    assert m["APGR"] == pytest.approx(0.5)


def test_tied_scores_do_not_crash_and_keep_both_ends():
    with pytest.raises(ValueError):
        pd.qcut(pd.Series([0.0] * 8 + [1.0] * 2), 10)  # what RouteLLM would do
    scores = np.array([0.0] * 8 + [1.0] * 2)
    strong = np.ones(10)
    weak = np.array([1.0] * 8 + [0.0] * 2)
    curve = routing_curve(scores, strong, weak, 100.0)
    pcts = sorted(p.strong_pct for p in curve)
    assert pcts[0] == 0.0 and pcts[-1] == 100.0 and 20.0 in pcts
    m = curve_metrics(curve, 80.0, 100.0)
    assert m["CPT(50%)"] == pytest.approx(10.0)  # half of the 20 % that need the strong model
    assert m["APGR"] > 0.85


def test_constant_scores_give_the_random_diagonal():
    strong, weak = np.array([1.0, 1.0, 0.0, 1.0]), np.array([0.0, 1.0, 0.0, 0.0])
    curve = routing_curve(np.full(4, 0.5), strong, weak, 100.0)
    assert sorted((p.strong_pct, p.quality) for p in curve) == [(0.0, 25.0), (100.0, 75.0)]
    m = curve_metrics(curve, 25.0, 75.0)
    assert m["CPT(50%)"] == pytest.approx(50.0)
    assert m["APGR"] == pytest.approx(0.5)


def test_non_monotone_curve_warns():
    messages = []
    sink = logger.add(messages.append, level="WARNING")
    try:
        curve = [Point(0, 0.0, 50.0), Point(0, 50.0, 80.0), Point(0, 100.0, 70.0)]
        curve_metrics(curve, 50.0, 70.0)
    finally:
        logger.remove(sink)
    assert any("not monotone" in str(m) for m in messages)


def test_random_aggregate_averages_curves_and_reports_std():
    rng = np.random.default_rng(0)
    strong, weak = (rng.random(500) < 0.8).astype(float), (rng.random(500) < 0.6).astype(float)
    seeds = [rng.random(500) for _ in range(4)]
    result = evaluate_router("random", seeds, strong, weak, 100.0, aggregate="curve")
    avg = average_curves([routing_curve(s, strong, weak, 100.0) for s in seeds])
    assert result.curve == avg
    assert result.std["APGR"] > 0
    assert abs(result.metrics["APGR"] - 0.5) < 0.05


def test_optimal_quality_correctness_and_judge():
    strong = np.array([1.0, 1.0, 0.0, 1.0])
    weak = np.array([0.0, 1.0, 0.0, 0.0])
    assert optimal_quality(strong, weak, 0.0, "correctness", 100) == pytest.approx(25.0)
    assert optimal_quality(strong, weak, 0.25, "correctness", 100) == pytest.approx(50.0)
    assert optimal_quality(strong, weak, 1.0, "correctness", 100) == pytest.approx(75.0)
    s, w = np.array([9.0, 8.0, 5.0]), np.array([4.0, 8.0, 7.0])
    # one strong call goes to the largest gain (question 0), none where the weak model is better
    assert optimal_quality(s, w, 0.34, "judge", 1) == pytest.approx((9 + 8 + 7) / 3)
    assert optimal_quality(s, w, 1.0, "judge", 1) == pytest.approx((9 + 8 + 7) / 3)


def test_every_configured_row_gets_its_own_line_style():
    """The figures' legend can be read: no two routers of any configured table share colour, marker
    and line style, and RAGRouter (full) is the one drawn thickest."""
    from pathlib import Path

    import yaml

    from ragrouter.evaluation.metrics import router_style

    tables = yaml.safe_load((Path(__file__).resolve().parents[1] / "config.yaml").read_text())["tables"]
    rows = list(dict.fromkeys(r for t in tables.values() for r in t["rows"])) + ["my_router"]
    styles = {r: router_style(r, rows) for r in rows}
    keys = {(s["color"], s.get("marker"), s.get("linestyle", "-")) for s in styles.values()}
    assert len(keys) == len(rows) - 3  # the four ablation variants share their style (each sits beside the full model alone)
    widest = max(styles, key=lambda r: styles[r].get("linewidth", 1.0))
    assert widest == "ragrouter_aug-on_sample-on_feat-on_rag-on"


def test_table_figure_draws_the_seed_spread_as_a_band(tmp_path, monkeypatch):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.axes
    import polars as pl

    from ragrouter.evaluation import metrics

    rng = np.random.default_rng(0)
    n = 200
    strong, weak = (rng.random(n) < 0.8).astype(float), (rng.random(n) < 0.6).astype(float)
    benchmark = pl.DataFrame({"strong": strong, "weak": weak})
    results = [evaluate_router("bert", [rng.random(n) for _ in range(3)], strong, weak, 100.0), evaluate_router("prompt_length", [rng.random(n)], strong, weak, 100.0)]
    bands = []
    original = matplotlib.axes.Axes.fill_between
    monkeypatch.setattr(matplotlib.axes.Axes, "fill_between", lambda self, x, lo, hi, **kw: bands.append((np.asarray(lo), np.asarray(hi))) or original(self, x, lo, hi, **kw))
    metrics.plot_curves(results, {"bert": "BERT"}, benchmark["strong"].to_numpy(), weak, metrics.BENCHMARKS["mmlu"], tmp_path / "t.png", "Table 1")
    assert (tmp_path / "t.png").read_bytes()[:4] == b"\x89PNG"
    assert len(bands) == 1 and (bands[0][1] >= bands[0][0]).all() and (bands[0][1] > bands[0][0]).any()  # three seeds: one band; one seed: none
