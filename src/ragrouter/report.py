"""results/REPORT.md: every table beside the thesis' numbers, bootstrap intervals, the thesis' claims
checked, and the run's per-rule wall time, all computed from committed score and benchmark files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.data.benchmarks import BENCHMARKS
from ragrouter.evaluate import RANDOM_ROUTER, evaluate_router, load_scores

FULL = "ragrouter_aug-on_sample-on_feat-on_rag-on"
# The thesis' values (CPT(50%), CPT(80%), APGR), as issue 5 quotes them.
THESIS: dict[str, dict[str, tuple[float, float, float]]] = {
    "mmlu": {
        "random": (50.05, 79.95, 0.498),
        "sw_ranking": (46.83, 76.43, 0.550),
        "matrix_factorization": (40.80, 74.46, 0.542),
        "bert": (45.86, 75.33, 0.527),
        "causal_llm": (42.99, 74.60, 0.545),
        FULL: (37.25, 71.89, 0.589),
        "ragrouter_aug-off_sample-on_feat-on_rag-on": (38.35, 72.56, 0.572),
        "ragrouter_aug-on_sample-off_feat-on_rag-on": (38.15, 72.32, 0.576),
        "ragrouter_aug-on_sample-on_feat-off_rag-on": (38.75, 72.65, 0.568),
        "ragrouter_aug-on_sample-on_feat-on_rag-off": (39.68, 73.78, 0.559),
    },
    "gsm8k": {
        "random": (50.03, 80.04, 0.496),
        "sw_ranking": (40.78, 71.89, 0.559),
        "matrix_factorization": (38.35, 72.23, 0.571),
        "bert": (44.23, 78.69, 0.539),
        "causal_llm": (32.82, 62.35, 0.631),
        FULL: (28.21, 57.69, 0.695),
    },
}
METRICS = ("CPT(50%)", "CPT(80%)", "APGR")


def _metrics(router_id: str, seed_scores: list[np.ndarray], strong: np.ndarray, weak: np.ndarray, scale: float, idx: np.ndarray | None = None) -> dict[str, float]:
    if idx is not None:
        seed_scores, strong, weak = [s[idx] for s in seed_scores], strong[idx], weak[idx]
    return evaluate_router(router_id, seed_scores, strong, weak, scale, "curve" if router_id == RANDOM_ROUTER else "seeds").metrics


def bootstrap(
    scores: dict[str, list[np.ndarray]], strong: np.ndarray, weak: np.ndarray, scale: float, resamples: int = 200, seed: int = 0
) -> dict[str, np.ndarray]:
    """Per router, (resamples, 3) metrics on prompt resamples drawn with replacement; every router
    sees the same resamples, so differences between routers are paired."""
    rng = np.random.default_rng(seed)
    draws = [rng.integers(0, len(strong), len(strong)) for _ in range(resamples)]
    logger.disable("ragrouter.evaluate")  # resamples make many curves non-monotone; that warning is for real runs
    try:
        return {r: np.array([[m[k] for k in METRICS] for m in (_metrics(r, s, strong, weak, scale, i) for i in draws)]) for r, s in scores.items()}
    finally:
        logger.enable("ragrouter.evaluate")


def _interval(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.nanpercentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def _fmt(x: float, metric: str) -> str:
    return f"{x:.3f}" if metric == "APGR" else f"{x:.2f}"


def table_markdown(table: pl.DataFrame, benchmark: str, boot: dict[str, np.ndarray]) -> str:
    thesis = THESIS.get(benchmark, {})
    lines = ["| router | " + " | ".join(f"{m} (95% CI)" for m in METRICS) + " | thesis " + " / ".join(METRICS) + " |", "|---" * 5 + "|"]
    for row in table.iter_rows(named=True):
        cells = []
        for j, m in enumerate(METRICS):
            lo, hi = _interval(boot[row["router_id"]][:, j])
            std = row.get(f"{m}_std")
            std_txt = f" ±{_fmt(std, m)}" if std is not None and not np.isnan(std) else ""
            cells.append(f"{_fmt(row[m], m)}{std_txt} [{_fmt(lo, m)}, {_fmt(hi, m)}]")
        paper = thesis.get(row["router_id"])
        lines.append(f"| {row['router']} | " + " | ".join(cells) + f" | {' / '.join(str(v) for v in paper) if paper else '-'} |")
    return "\n".join(lines)


def claim_rows(table: pl.DataFrame, boot: dict[str, np.ndarray], target: str, others: Sequence[str]) -> list[str]:
    """`target` beats each of `others`: lower CPT(50%)+CPT(80%) and higher APGR, with paired 95% CIs
    of the differences (other - target for CPT, target - other for APGR: positive = target better)."""
    names = dict(zip(table["router_id"], table["router"], strict=True))
    point = {r: np.array([table.filter(pl.col("router_id") == r)[m][0] for m in METRICS]) for r in [target, *others]}
    rows = []
    for other in others:
        d_cpt = (point[other][0] + point[other][1]) - (point[target][0] + point[target][1])
        d_apgr = point[target][2] - point[other][2]
        b_cpt = (boot[other][:, 0] + boot[other][:, 1]) - (boot[target][:, 0] + boot[target][:, 1])
        b_apgr = boot[target][:, 2] - boot[other][:, 2]
        (c_lo, c_hi), (a_lo, a_hi) = _interval(b_cpt), _interval(b_apgr)
        holds = d_cpt > 0 and d_apgr > 0
        sure = c_lo > 0 and a_lo > 0
        verdict = "holds (CIs exclude 0)" if sure else ("holds on the point estimate, CI includes 0" if holds else "fails")
        rows.append(f"| {names[target]} vs {names[other]} | {d_cpt:+.2f} [{c_lo:+.2f}, {c_hi:+.2f}] | {d_apgr:+.3f} [{a_lo:+.3f}, {a_hi:+.3f}] | {verdict} |")
    return rows


def rule_times(benchmark_dir: str | Path) -> pl.DataFrame:
    """Wall seconds per rule summed over its `benchmark:` files (the last line of each)."""
    rows = []
    for path in sorted(Path(benchmark_dir).rglob("*.tsv")):
        rule = path.relative_to(benchmark_dir).parts[0]
        seconds = float(path.read_text().strip().splitlines()[-1].split("\t")[0])
        rows.append({"rule": rule, "seconds": seconds})
    frame = pl.DataFrame(rows, schema={"rule": pl.String, "seconds": pl.Float64})
    return frame.group_by("rule").agg(pl.len().alias("jobs"), pl.col("seconds").sum()).sort("seconds", descending=True)


def build_report(
    tables: dict[str, dict], table_paths: dict[str, str], benchmark_paths: dict[str, str], score_paths: Sequence[str], benchmark_dir: str, resamples: int = 200
) -> str:
    """The report text; `tables` is config["tables"], `table_paths` table -> csv, `benchmark_paths` benchmark -> parquet."""
    out = [
        "# RAGRouter reference run: results",
        "",
        "Generated by rule `make_report` from the committed score files (`results/scores/`), tables and",
        "`benchmark:` files; nothing here is typed by hand. Intervals are 95% percentile bootstrap",
        f"intervals over prompts ({resamples} paired resamples, seed 0); `±` is the std over training seeds.",
        "Thesis values are the numbers quoted in issue 5 (CPT(50%) / CPT(80%) / APGR).",
        "",
    ]
    boots: dict[str, dict[str, np.ndarray]] = {}
    frames: dict[str, pl.DataFrame] = {}
    for name, spec in tables.items():
        bench = spec["benchmark"]
        frame = pl.read_csv(table_paths[name])
        frames[name] = frame
        if bench not in boots:
            benchmark = pl.read_parquet(benchmark_paths[bench])
            scores = load_scores(benchmark, [p for p in score_paths if f"/scores/{bench}/" in p])
            boots[bench] = bootstrap(scores, benchmark["strong"].to_numpy(), benchmark["weak"].to_numpy(), BENCHMARKS[bench].scale, resamples)
            out += [f"Benchmark `{bench}`: {benchmark.height} prompts scored.", ""]
        out += [f"## {spec.get('title', name)}", "", table_markdown(frame, bench, boots[bench]), ""]
    out += ["## The thesis' claims, checked", "", "| claim | CPT(50%)+CPT(80%) gain [95% CI] | APGR gain [95% CI] | verdict |", "|---|---|---|---|"]
    for name, spec in tables.items():
        frame, ids = frames[name], frames[name]["router_id"].to_list()
        if FULL not in ids:
            continue
        others = [r for r in ids if r != FULL]
        out += claim_rows(frame, boots[spec["benchmark"]], FULL, others)
    times = rule_times(benchmark_dir)
    out += [
        "",
        "## Wall time of the run (from `logs/benchmarks/`)",
        "",
        f"Summed over all {int(times['jobs'].sum())} jobs: {times['seconds'].sum() / 60:.1f} minutes.",
        "",
        "| rule | jobs | minutes |",
        "|---|---|---|",
        *[f"| {r['rule']} | {r['jobs']} | {r['seconds'] / 60:.1f} |" for r in times.iter_rows(named=True)],
        "",
    ]
    return "\n".join(out)
