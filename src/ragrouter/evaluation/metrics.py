"""RouteLLM's evaluation, computed from per-prompt score files.

Stage: evaluation (rules `evaluate_benchmark`, `make_table`). Reads score files and the benchmark;
writes `results/metrics/<benchmark>.json`, plots and `results/table<N>.csv`.

`routing_curve` reproduces `routellm/evals/benchmarks.py` (10 `qcut` bins, their edges as
thresholds, `>=` except `>` at the last edge) and `curve_metrics` reproduces `evaluate.py`
(`np.interp` for CPT, trapezoid over % strong calls / 100 for AUC and APGR). Where RouteLLM would
crash (tied or constant scores make `qcut` edges repeat) the repeated edges are dropped; where its
result silently depends on a non-monotone curve a warning is logged.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.data.benchmarks import BENCHMARKS, STRONG_MODEL, WEAK_MODEL
from ragrouter.evaluation.validation import ValidationSet


@dataclass(frozen=True)
class Point:
    threshold: float
    strong_pct: float  # % of prompts routed to the strong model
    quality: float  # accuracy in % (correctness) or mean judge score (MT-Bench)


def thresholds(scores: np.ndarray, num_results: int = 10) -> tuple[np.ndarray, bool]:
    """`pd.qcut(scores, num_results, retbins=True)[1]`: linear-interpolated quantile edges.

    Returns the edges and whether any repeated (pandas raises then; we drop the repeats)."""
    edges = np.quantile(np.asarray(scores, dtype=np.float64), np.linspace(0, 1, num_results + 1))
    unique = np.unique(edges)
    return (edges, False) if len(unique) == len(edges) else (unique, True)


def routing_curve(scores: np.ndarray, strong: np.ndarray, weak: np.ndarray, scale: float, num_results: int = 10) -> list[Point]:
    """Quality and % strong calls at each threshold, as RouteLLM's Benchmark.evaluate yields them."""
    scores = np.asarray(scores, dtype=np.float64)
    edges, tied = thresholds(scores, num_results)
    selections = [scores >= t for t in edges[:-1]] + [scores > edges[-1]]
    if tied:
        # RouteLLM's qcut would raise here. Keep every distinct edge with `>=` (the last one too,
        # so the prompts tied at the top are not lost) and `>` at the top edge (0 % strong).
        selections = [scores >= t for t in edges] + [scores > edges[-1]]
        edges = np.append(edges, edges[-1])
    points = []
    for t, sel in zip(edges, selections, strict=True):
        quality = np.where(sel, strong, weak).mean() * scale
        points.append(Point(float(t), float(sel.mean() * 100), float(quality)))
    return points


def average_curves(curves: Sequence[list[Point]]) -> list[Point]:
    """Average several curves point by point (same threshold index), as for RouteLLM's random router."""
    lengths = {len(c) for c in curves}
    if len(lengths) != 1:
        raise ValueError(f"curves to average have different lengths: {sorted(lengths)}")
    return [
        Point(
            float(np.mean([c[i].threshold for c in curves])),
            float(np.mean([c[i].strong_pct for c in curves])),
            float(np.mean([c[i].quality for c in curves])),
        )
        for i in range(lengths.pop())
    ]


def _trapezoid(y: np.ndarray, x: np.ndarray) -> float:
    return float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2.0))


def curve_metrics(points: list[Point], weak_quality: float, strong_quality: float) -> dict[str, float]:
    """CPT(20/50/80 %), AUC and APGR of one curve, as RouteLLM's evaluate.py computes them."""
    order = np.argsort([p.strong_pct for p in points], kind="stable")
    pct = np.array([points[i].strong_pct for i in order])
    quality = np.array([points[i].quality for i in order])
    if np.any(np.diff(quality) < 0):
        logger.warning("quality is not monotone in % strong calls; CPT via np.interp is then approximate (as in RouteLLM)")
    out = {}
    for frac in (0.2, 0.5, 0.8):
        target = frac * (strong_quality - weak_quality) + weak_quality
        out[f"CPT({int(frac * 100)}%)"] = float(np.interp(target, quality, pct))
    x = pct / 100
    auc = _trapezoid(quality, x)
    weak_auc = _trapezoid(np.full_like(x, weak_quality), x)
    strong_auc = _trapezoid(np.full_like(x, strong_quality), x)
    out["AUC"] = auc
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        out["APGR"] = float((auc - weak_auc) / (strong_auc - weak_auc)) if strong_auc != weak_auc else float("nan")
    return out


def optimal_quality(strong: np.ndarray, weak: np.ndarray, strong_fraction: float, kind: str, scale: float) -> float:
    """The oracle line: RouteLLM's get_optimal_accuracy for correctness and for MT-Bench."""
    n = len(strong)
    if kind == "correctness":
        bonus = min(n * strong_fraction, float(np.sum((weak == 0) & (strong == 1))))
        return float((np.sum(weak == 1) + bonus) / n * scale)
    max_calls = int(n * strong_fraction)
    diff = strong - weak
    order = np.argsort(-diff, kind="stable")
    chosen = np.zeros(n, dtype=bool)
    positive = order[diff[order] > 0]
    chosen[positive[:max_calls]] = True  # pandas' inclusive .loc then overwrite leaves max_calls rows
    return float(np.where(chosen, strong, weak).mean() * scale)


def log_curve(router_id: str, benchmark: str, points: list[Point], n_prompts: int) -> None:
    """Per-threshold lines in the shape RouteLLM's evaluate.py prints them."""
    for p in points:
        n_strong = int(round(p.strong_pct / 100 * n_prompts))
        header = "=" * 15 + f" {router_id} with threshold {p.threshold} on {benchmark} " + "=" * 15
        logger.info(header)
        logger.info(f"Average accuracy: {p.quality:.3f}")
        logger.info(f"Model counts: {WEAK_MODEL}: {n_prompts - n_strong}, {STRONG_MODEL}: {n_strong}")
        logger.info(f"Model %: {WEAK_MODEL}: {100 - p.strong_pct:.3f}%, {STRONG_MODEL}: {p.strong_pct:.3f}%")


@dataclass
class RouterResult:
    router_id: str
    curve: list[Point]  # the curve the metrics come from (averaged for RouteLLM's random router)
    metrics: dict[str, float]  # mean over seeds, or metrics of the averaged curve
    std: dict[str, float]  # std over seeds (ddof=1), NaN with one seed
    per_seed: list[dict[str, float]]
    seed_curves: list[list[Point]] = field(default_factory=list)  # one per seed (the band in the plots)


def evaluate_router(
    router_id: str,
    seed_scores: Sequence[np.ndarray],
    strong: np.ndarray,
    weak: np.ndarray,
    scale: float,
    aggregate: str = "seeds",
    num_results: int = 10,
) -> RouterResult:
    """Metrics of one router from its per-seed score arrays.

    aggregate="curve" averages the curves first (RouteLLM's random router); "seeds" averages the
    per-seed metrics (trained routers, one curve per training seed)."""
    weak_q, strong_q = float(weak.mean() * scale), float(strong.mean() * scale)
    curves = [routing_curve(s, strong, weak, scale, num_results) for s in seed_scores]
    per_seed = [curve_metrics(c, weak_q, strong_q) for c in curves]
    keys = list(per_seed[0])
    same_shape = len({len(c) for c in curves}) == 1
    curve = average_curves(curves) if same_shape else curves[0]
    if aggregate == "curve":
        metrics = curve_metrics(curve, weak_q, strong_q)
    elif aggregate == "seeds":
        metrics = {k: float(np.mean([m[k] for m in per_seed])) for k in keys}
    else:
        raise ValueError(f"unknown aggregate {aggregate!r}")
    std = {k: float(np.std([m[k] for m in per_seed], ddof=1)) if len(per_seed) > 1 else float("nan") for k in keys}
    return RouterResult(router_id, curve, metrics, std, per_seed, curves)


TABLE_COLUMNS = ["CPT(50%)", "CPT(80%)", "APGR"]


def table_frame(results: Sequence[RouterResult], names: dict[str, str]) -> pl.DataFrame:
    """One row per router: CPT in %, APGR as a fraction; `_std` columns when any router has seeds."""
    with_std = any(len(r.per_seed) > 1 for r in results)
    rows = []
    for r in results:
        row = {"router_id": r.router_id, "router": names.get(r.router_id, r.router_id)}
        for col in TABLE_COLUMNS:
            row[col] = round(r.metrics[col], 4 if col == "APGR" else 2)
            if with_std:
                row[f"{col}_std"] = round(r.std[col], 4 if col == "APGR" else 2) if len(r.per_seed) > 1 else None
        rows.append(row)
    schema = {"router_id": pl.String, "router": pl.String}
    for col in TABLE_COLUMNS:
        schema[col] = pl.Float64
        if with_std:
            schema[f"{col}_std"] = pl.Float64
    return pl.DataFrame(rows, schema=schema)

CONTROL_ROUTERS = ("prompt_length", "knn")
# baselines in a fixed order, so each keeps its colour and marker in every figure
BASELINE_ORDER = ["sw_ranking", "matrix_factorization", "bert", "causal_llm", "p2l", "routellm_sw_ranking", "routellm_mf", "routellm_bert", "routellm_causal_llm"]
BASELINE_COLOURS = ["#1f77b4", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*"]


def router_style(router_id: str, others: Sequence[str] = ()) -> dict:
    """One line style per router, the same in every figure: RAGRouter (full) thick red, its ablation
    variants orange, controls grey and dashed, Random black and dotted, baselines in distinct
    colour-marker pairs (a baseline outside BASELINE_ORDER by its place among `others`)."""
    if router_id == "ragrouter_aug-on_sample-on_feat-on_rag-on":
        return {"color": "#d62728", "linewidth": 2.8, "marker": "o", "zorder": 5}
    if router_id.startswith("ragrouter_"):
        return {"color": "#ff7f0e", "linewidth": 1.8, "marker": "s", "linestyle": "-."}
    if router_id in CONTROL_ROUTERS:
        return {"color": "#7f7f7f" if router_id == "prompt_length" else "#b0b0b0", "linestyle": "--", "marker": "x"}
    if router_id == RANDOM_ROUTER:
        return {"color": "black", "linestyle": ":", "marker": None}
    unknown = [r for r in others if r not in BASELINE_ORDER]
    index = BASELINE_ORDER.index(router_id) if router_id in BASELINE_ORDER else len(BASELINE_ORDER) + unknown.index(router_id)
    return {"color": BASELINE_COLOURS[index % len(BASELINE_COLOURS)], "marker": MARKERS[index % len(MARKERS)], "linewidth": 1.2}


def plot_curves(results: Sequence[RouterResult], names: dict[str, str], strong: np.ndarray, weak: np.ndarray, spec, path, title: str | None = None) -> None:
    """Quality vs % strong calls for the given routers (in their order), with the weak, strong and
    oracle lines: one style per router (`router_style`), the min-max spread over seeds as a band,
    the legend beside the axes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from ragrouter.common.io import atomic_path

    fig, ax = plt.subplots(figsize=(9.5, 5))
    grid = np.linspace(0, 100, 101)
    ids = [r.router_id for r in results]
    for r in results:
        style = router_style(r.router_id, ids)
        pts = sorted(r.curve, key=lambda p: p.strong_pct)
        ax.plot([p.strong_pct for p in pts], [p.quality for p in pts], markersize=4, label=names.get(r.router_id, r.router_id), **style)
        if len(r.seed_curves) > 1 and r.router_id != RANDOM_ROUTER:
            seeds = np.array([np.interp(grid, *zip(*sorted((p.strong_pct, p.quality) for p in c))) for c in r.seed_curves])
            ax.fill_between(grid, seeds.min(axis=0), seeds.max(axis=0), color=style["color"], alpha=0.15, linewidth=0)
    ax.axhline(weak.mean() * spec.scale, color="grey", linewidth=0.8, label=f"{WEAK_MODEL} only")
    ax.axhline(strong.mean() * spec.scale, color="black", linewidth=0.8, label=f"{STRONG_MODEL} only")
    steps = np.arange(0, 101, 10)
    ax.plot(steps, [optimal_quality(strong, weak, g / 100, spec.kind, spec.scale) for g in steps], color="#2f4f4f", linestyle=(0, (1, 3)), marker="+", label="Optimal (oracle)")
    ax.set_xlabel("Strong model calls (%)")
    ax.set_ylabel("Accuracy (%)" if spec.kind == "correctness" else "MT-Bench score")
    ax.set_title(title or f"Model calls and performance ({spec.label})")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=110, metadata={"Software": None})
    plt.close(fig)


RANDOM_ROUTER = "random"


def load_scores(benchmark: pl.DataFrame, paths: Sequence[str]) -> dict[str, list[np.ndarray]]:
    """Score files `results/scores/<benchmark>/<router_id>/seed-<k>.parquet`, grouped by router
    (in first-seen order) and checked against the benchmark's rows and prompt hashes."""
    from pathlib import Path

    from ragrouter.routers.base import check_score_file

    grouped: dict[str, list[tuple[int, np.ndarray]]] = {}
    for path in paths:
        p = Path(path)
        seed = int(p.stem.removeprefix("seed-"))
        grouped.setdefault(p.parent.name, []).append((seed, check_score_file(pl.read_parquet(p), benchmark, str(p))))
    return {r: [s for _, s in sorted(v, key=lambda t: t[0])] for r, v in grouped.items()}


def evaluate_all(benchmark: pl.DataFrame, name: str, paths: Sequence[str], order: Sequence[str] | None = None) -> list[RouterResult]:
    spec = BENCHMARKS[name]
    strong, weak = benchmark["strong"].to_numpy(), benchmark["weak"].to_numpy()
    scores = load_scores(benchmark, paths)
    ids = [r for r in (order or scores) if r in scores]
    return [
        evaluate_router(r, scores[r], strong, weak, spec.scale, "curve" if r == RANDOM_ROUTER else "seeds")
        for r in ids
    ]


def benchmark_report(benchmark_path: str, name: str, paths: Sequence[str], names: dict[str, str], metrics_path: str, plot_path: str) -> list[RouterResult]:
    """Metrics JSON and plot for every router on one benchmark, logging RouteLLM's per-threshold lines."""
    from ragrouter.common.io import write_json

    spec = BENCHMARKS[name]
    benchmark = pl.read_parquet(benchmark_path)
    strong, weak = benchmark["strong"].to_numpy(), benchmark["weak"].to_numpy()
    results = evaluate_all(benchmark, name, paths)
    report: dict = {
        "benchmark": name,
        "prompts": benchmark.height,
        "quality_unit": "accuracy %" if spec.kind == "correctness" else "mean judge score (1-10)",
        STRONG_MODEL: float(strong.mean() * spec.scale),
        WEAK_MODEL: float(weak.mean() * spec.scale),
        "optimal": {str(g): optimal_quality(strong, weak, g / 100, spec.kind, spec.scale) for g in range(0, 101, 10)},
        "routers": {},
    }
    for r in results:
        log_curve(r.router_id, name, r.curve, benchmark.height)
        logger.info(f"{r.router_id}: " + ", ".join(f"{k} {v:.4f}" for k, v in r.metrics.items()))
        report["routers"][r.router_id] = {
            "name": names.get(r.router_id, r.router_id),
            "seeds": len(r.per_seed),
            "aggregate": "curve" if r.router_id == RANDOM_ROUTER else "seeds",
            "metrics": r.metrics,
            "std": r.std,
            "per_seed": r.per_seed,
            "curve": [p.__dict__ for p in r.curve],
        }
    write_json(report, metrics_path)
    plot_curves(results, names, strong, weak, spec, plot_path)
    return results


def results_table(benchmark_path: str, name: str, paths: Sequence[str], rows: Sequence[str], names: dict[str, str], out_path: str, plot_path: str, title: str | None = None) -> pl.DataFrame:
    """A thesis table: the configured rows that have score files, in the configured order, and its
    figure (those routers' curves, seeds' spread as bands)."""
    from ragrouter.common.io import write_csv

    benchmark = pl.read_parquet(benchmark_path)
    results = evaluate_all(benchmark, name, paths, order=rows)
    plot_curves(results, names, benchmark["strong"].to_numpy(), benchmark["weak"].to_numpy(), BENCHMARKS[name], plot_path, title)
    table = table_frame(results, names)
    for row in table.iter_rows(named=True):
        logger.info(f"{row['router']}: CPT(50%) {row['CPT(50%)']}, CPT(80%) {row['CPT(80%)']}, APGR {row['APGR']}")
    write_csv(table, out_path)
    return table


# issue 13: below this a fast path is not the default (APGR on benchmarks; on validation rows, the
# mean per-source ROC-AUC stands in for APGR, since choices never read benchmark labels)
FAST_PATH_BAR = {"spearman": 0.999, "apgr_diff": 0.005}
INT8_COLUMN = "score_onnx_int8"  # a validation file's int8 scores (inference_backend onnx_int8_checked)


def meets_fast_path_bar(spearman: float, difference: float) -> bool:
    """Spearman with the float32 scores and the metric's difference from them (APGR, or validation ROC-AUC) within `FAST_PATH_BAR`."""
    return spearman >= FAST_PATH_BAR["spearman"] and abs(difference) <= FAST_PATH_BAR["apgr_diff"]


def int8_agreement(validation: pl.DataFrame) -> dict[str, float | bool]:
    """int8 against float32 on a validation file (`score`, `INT8_COLUMN`): Spearman, the change of
    the mean per-source ROC-AUC, and whether both meet `FAST_PATH_BAR`."""
    from scipy.stats import spearmanr

    reference, fast = validation["score"].to_numpy(), validation[INT8_COLUMN].to_numpy()
    rows = ValidationSet.of(validation)
    spearman = float(spearmanr(reference, fast).statistic)
    auc_diff = rows.auc(fast, "per_source") - rows.auc(reference, "per_source")
    return {"spearman": spearman, "auc_diff": auc_diff, "passes": meets_fast_path_bar(spearman, auc_diff)}


def agreement(reference: np.ndarray, fast: np.ndarray, benchmark: pl.DataFrame, name: str) -> dict[str, float]:
    """Per-prompt Spearman correlation, largest score difference and APGR (RouteLLM's metric, on
    benchmark `name`'s rows) of a fast path's scores against the fp32 reference scores."""
    from scipy.stats import spearmanr

    strong, weak, scale = benchmark["strong"].to_numpy(), benchmark["weak"].to_numpy(), BENCHMARKS[name].scale
    apgr = {k: evaluate_router(k, [s], strong, weak, scale).metrics["APGR"] for k, s in (("reference", reference), ("fast", fast))}
    return {
        "prompts": len(reference),
        "spearman": float(spearmanr(reference, fast).statistic),
        "max_abs_diff": float(np.max(np.abs(reference - fast))),
        "apgr_reference": apgr["reference"],
        "apgr_fast": apgr["fast"],
        "apgr_diff": apgr["fast"] - apgr["reference"],
    }
