"""results/REPORT.md: every table beside the thesis' and RouteLLM's numbers, bootstrap intervals, the
thesis' claims checked, the data and models used, the serving check and the run's per-rule wall time,
all computed from the run's files (score files, data stages, benchmark: timings), never typed by hand.

Stage: evaluation (rule `make_report`). Reads score files, tables, data summaries, `benchmark:`
files and the serving check; writes `results/REPORT.md`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import NamedTuple

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.data.benchmarks import BENCHMARKS
from ragrouter.evaluation.diagnostics import score_diagnostics, subject_rate_auc
from ragrouter.evaluation.metrics import CONTROL_ROUTERS as CONTROLS
from ragrouter.evaluation.metrics import FAST_PATH_BAR, INT8_COLUMN, RANDOM_ROUTER, evaluate_router, int8_agreement, load_scores, meets_fast_path_bar
from ragrouter.evaluation.validation import validation_table
from ragrouter.method.variants import FULL

# The thesis' values (CPT(50%), CPT(80%), APGR): the tables of its README (PROVENANCE).
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
# RouteLLM's numbers for the routed pair, only those read in a public source (PROVENANCE names it):
# the Anyscale llm-router tutorial README, section "Benchmark Evaluation", prints RouteLLM's
# `routellm.evals.evaluate` on GSM8K (1,307 prompts) for its released causal router and one random run.
ROUTELLM: dict[str, dict[str, tuple[float, float, float]]] = {
    "gsm8k": {"random": (53.05, 83.02, 0.486), "routellm_causal_llm": (34.06, 62.38, 0.627)},
}
# Where the comparison columns come from, in words a reader can check (REPORT.md's preamble).
PROVENANCE = [
    "Comparison columns (CPT(50%) / CPT(80%) / APGR). *thesis*: the tables of the thesis' README (GitHub",
    "`thebluecitysky/Routing-Research`). Its experiment notebook (`Experiment Log/RAGRouter test.ipynb`) computes,",
    "with RouteLLM's evaluation code on all of MMLU (14,037 prompts) and GSM8K (1,307), only two routers:",
    "`random` and RouteLLM's released `bert_gpt4_augmented` (APGR MMLU 0.501 and 0.467, GSM8K 0.507 and 0.547).",
    "Every other thesis row appears after `from src.Utils.merge import f1 ... f6`, a module that is not in",
    "the repository, so those numbers cannot be traced to code: they are the thesis' claims, not measurements",
    "this report could reproduce. *RouteLLM published*: numbers printed by RouteLLM's own evaluation code in",
    "the README of GitHub `anyscale/llm-router` (RouteLLM's authors' tutorial), section \"Benchmark Evaluation\":",
    "GSM8K, 1,307 prompts, its released causal router `routellm/causal_llm_augmented` and one random run.",
    "RouteLLM's paper (arXiv 2406.18665) reports its MMLU and GSM8K results as figures and tables that could",
    "not be read offline here, so no number of it is quoted.",
]
# Model roles: the paper's / RouteLLM's choice beside the config key that holds ours.
PAPER_MODELS = {
    "semantic encoder (RAGRouter features), BERT router, embeddings of SW/MF/P2L": ("encoder", "DeBERTa-v3-base (RAGRouter); BERT-base (RouteLLM BERT); OpenAI text-embedding-3-small (RouteLLM SW, MF)"),
    "perplexity (sampling) and Causal-LLM router": ("causal_lm", "GPT-2-large (perplexity); Llama-3-8B (RouteLLM causal LLM)"),
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
    logger.disable("ragrouter.evaluation.metrics")  # resamples make many curves non-monotone; that warning is for real runs
    try:
        return {r: np.array([[m[k] for k in METRICS] for m in (_metrics(r, s, strong, weak, scale, i) for i in draws)]) for r, s in scores.items()}
    finally:
        logger.enable("ragrouter.evaluation.metrics")


def _interval(values: np.ndarray) -> tuple[float, float]:
    lo, hi = np.nanpercentile(values, [2.5, 97.5])
    return float(lo), float(hi)


def _fmt(x: float, metric: str) -> str:
    return f"{x:.3f}" if metric == "APGR" else f"{x:.2f}"


def _quoted(values: tuple[float, float, float] | None) -> str:
    return " / ".join(_fmt(v, m) for v, m in zip(values, METRICS, strict=True)) if values else "-"


def table_markdown(table: pl.DataFrame, benchmark: str, boot: dict[str, np.ndarray]) -> str:
    thesis, routellm = THESIS.get(benchmark, {}), ROUTELLM.get(benchmark, {})
    with_routellm = any(r in routellm for r in table["router_id"])  # the column only where it has a value
    head = "| router | " + " | ".join(f"{m} (95% CI)" for m in METRICS) + " | thesis |" + (" RouteLLM published |" if with_routellm else "")
    lines = [head, "|---" * (6 if with_routellm else 5) + "|"]
    for row in table.iter_rows(named=True):
        cells = []
        for j, m in enumerate(METRICS):
            lo, hi = _interval(boot[row["router_id"]][:, j])
            std = row.get(f"{m}_std")
            std_txt = f" ±{_fmt(std, m)}" if std is not None and not np.isnan(std) else ""
            cells.append(f"{_fmt(row[m], m)}{std_txt} [{_fmt(lo, m)}, {_fmt(hi, m)}]")
        rid = row["router_id"]
        routellm_cell = f" {_quoted(routellm.get(rid))} |" if with_routellm else ""
        lines.append(f"| {row['router']} | " + " | ".join(cells) + f" | {_quoted(thesis.get(rid))} |" + routellm_cell)
    return "\n".join(lines)


class Claim(NamedTuple):
    """One "RAGRouter beats `other`" comparison: its verdict and its Markdown table row."""

    other: str
    verdict: str  # one of VERDICTS
    row: str


VERDICTS = ("holds (CIs exclude 0)", "holds on the point estimate, CI includes 0", "fails")


def claim_rows(table: pl.DataFrame, boot: dict[str, np.ndarray], target: str, others: Sequence[str], where: str = "") -> list[Claim]:
    """`target` beats each of `others`: lower CPT(50%)+CPT(80%) and higher APGR, with paired 95% CIs
    of the differences (other - target for CPT, target - other for APGR: positive = target better)."""
    names = dict(zip(table["router_id"], table["router"], strict=True))
    point = {r: np.array([table.filter(pl.col("router_id") == r)[m][0] for m in METRICS]) for r in [target, *others]}
    claims = []
    for other in others:
        d_cpt = (point[other][0] + point[other][1]) - (point[target][0] + point[target][1])
        d_apgr = point[target][2] - point[other][2]
        b_cpt = (boot[other][:, 0] + boot[other][:, 1]) - (boot[target][:, 0] + boot[target][:, 1])
        b_apgr = boot[target][:, 2] - boot[other][:, 2]
        (c_lo, c_hi), (a_lo, a_hi) = _interval(b_cpt), _interval(b_apgr)
        sure, holds = c_lo > 0 and a_lo > 0, d_cpt > 0 and d_apgr > 0
        verdict = VERDICTS[0] if sure else (VERDICTS[1] if holds else VERDICTS[2])
        row = f"| {where}{names[target]} vs {names[other]} | {d_cpt:+.2f} [{c_lo:+.2f}, {c_hi:+.2f}] | {d_apgr:+.3f} [{a_lo:+.3f}, {a_hi:+.3f}] | {verdict} |"
        claims.append(Claim(names[other], verdict, row))
    return claims


def job_files(folder: str | Path, pattern: str, job_names: set[str] | None = None) -> list[tuple[str, Path]]:
    """(rule, path) of the files `<folder>/<rule>/.../<name>` matching `pattern`; with `job_names`,
    only those whose path below the rule folder is made of those names (or the rule's own)."""
    files = []
    for path in sorted(Path(folder).rglob(pattern)):
        rule, *parts = path.relative_to(folder).with_suffix("").parts
        if job_names is None or all(p in job_names or p == rule for p in parts):
            files.append((rule, path))
    return files


def job_times(benchmark_dir: str | Path, job_names: set[str] | None = None) -> pl.DataFrame:
    """Wall seconds of every job from its `benchmark:` file (the last line), with its rule and, for the
    per-seed jobs (`.../seed-<k>.tsv`: training and scoring), the training seed. With `job_names`, only
    files whose path below the rule folder is made of those names (or the rule's own) count."""
    rows = []
    for rule, path in job_files(benchmark_dir, "*.tsv", job_names):
        seed = int(path.stem.removeprefix("seed-")) if path.stem.startswith("seed-") else None
        seconds = float(path.read_text().strip().splitlines()[-1].split("\t")[0])
        rows.append({"rule": rule, "seed": seed, "seconds": seconds})
    return pl.DataFrame(rows, schema={"rule": pl.String, "seed": pl.Int64, "seconds": pl.Float64})


LOG_TIMESTAMP = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)")


def log_intervals(log_dir: str | Path, job_names: set[str] | None = None) -> list[tuple[str, str]]:
    """First and last timestamp of each per-rule log (`logs/<rule>/...log`, `job_times`' filter), sorted.
    make_report's own log is left out: it is still being written when the report is made, and the
    rebuilt report must read the same times."""
    intervals = []
    for rule, path in job_files(log_dir, "*.log", job_names):
        if rule in ("benchmarks", "experiments", "runs", "make_report") or path.parent == Path(log_dir):
            continue
        found = [m.group(1) for line in path.read_text(errors="replace").splitlines() if (m := LOG_TIMESTAMP.match(line))]
        if found:
            intervals.append((found[0], found[-1]))
    return sorted(intervals)


IDLE_GAP_MINUTES = 30.0  # no job logging for this long: the logs come from separate invocations


def busy_stretches(intervals: list[tuple[str, str]]) -> list[tuple[datetime, datetime]]:
    """The union of the jobs' intervals, merged across gaps shorter than `IDLE_GAP_MINUTES`: one
    stretch for a run from scratch, one more for each later partial rerun."""
    stretches: list[tuple[datetime, datetime]] = []
    for start, end in ((datetime.fromisoformat(a), datetime.fromisoformat(b)) for a, b in intervals):
        if stretches and (start - stretches[-1][1]).total_seconds() / 60 < IDLE_GAP_MINUTES:
            stretches[-1] = (stretches[-1][0], max(stretches[-1][1], end))
        else:
            stretches.append((start, end))
    return stretches


def rule_times(jobs: pl.DataFrame) -> pl.DataFrame:
    """Jobs and wall seconds per rule, slowest first; equal times by rule name (group_by's order is not fixed)."""
    return jobs.group_by("rule").agg(pl.len().alias("jobs"), pl.col("seconds").sum()).sort(["seconds", "rule"], descending=[True, False])


def time_summary(jobs: pl.DataFrame) -> list[str]:
    """Total, shared stages and each training seed: a one-seed run costs the shared part plus one seed."""
    shared = jobs.filter(pl.col("seed").is_null())["seconds"].sum()
    per_seed = jobs.filter(pl.col("seed").is_not_null()).group_by("seed").agg(pl.col("seconds").sum()).sort("seed")
    lines = [
        f"Summed over all {jobs.height} jobs: {jobs['seconds'].sum() / 60:.1f} minutes; the stages shared by every seed "
        f"(data, models, augmentation, sampling, features, knowledge bases, evaluation): {shared / 60:.1f} minutes."
    ]
    if per_seed.height:
        seeds = ", ".join(f"seed {r['seed']} {r['seconds'] / 60:.1f}" for r in per_seed.iter_rows(named=True))
        lines.append(f"Training and scoring, per seed (minutes): {seeds}; a one-seed run: {(shared + per_seed['seconds'][0]) / 60:.1f} minutes.")
    return lines


def markdown_table(frame: pl.DataFrame, float_digits: int = 3) -> list[str]:
    """A polars frame as Markdown table lines."""
    cells = [[f"{v:,.{float_digits}f}" if isinstance(v, float) else f"{v:,}" if isinstance(v, int) else str(v) for v in row] for row in frame.iter_rows()]
    return ["| " + " | ".join(frame.columns) + " |", "|---" * frame.width + "|", *["| " + " | ".join(r) + " |" for r in cells]]


# The data stages REPORT.md describes: rule summarise_stages' input names and their labels.
STAGES = {"corpus": "original corpus", "augmented": "augmented (aug)", "sampled": "PPL-sampled (aug, sample)"}


def stage_summary(stage_files: dict[str, str]) -> pl.DataFrame:
    """Per data stage (STAGES' keys -> parquet) and source, and over all sources (`all`): training
    rows (split == train), distinct prompts and strong-label share. Small and committed, so REPORT.md
    rebuilds without the stages' parquets."""
    rows = []
    for key, path in stage_files.items():
        table = pl.read_parquet(path)
        if "split" in table.columns:
            table = table.filter(pl.col("split") == "train")
        parts = [("all", table), *((str(src), part) for (src,), part in sorted(table.partition_by("source", as_dict=True).items()))]
        rows += [{"stage": STAGES[key], "file": path, "source": src, "rows": part.height, "distinct_prompts": part["prompt"].n_unique(), "strong_share": float(part["label"].mean())} for src, part in parts]
    return pl.DataFrame(rows, schema={"stage": pl.String, "file": pl.String, "source": pl.String, "rows": pl.Int64, "distinct_prompts": pl.Int64, "strong_share": pl.Float64})


def stage_sizes(summary: pl.DataFrame) -> pl.DataFrame:
    """Training rows, distinct prompts and strong-label share at each data stage."""
    total = summary.filter(pl.col("source") == "all")
    return total.select("stage", pl.format("`{}`", "file").alias("file"), "rows", pl.col("distinct_prompts").alias("distinct prompts"), pl.col("strong_share").alias("strong share"))


def stage_base_rates(summary: pl.DataFrame) -> pl.DataFrame:
    """Strong-label share of the training rows of each source at each data stage: what a router
    could learn from the source alone (equal shares: nothing)."""
    return summary.filter(pl.col("source") != "all").pivot("source", index="stage", values="strong_share", maintain_order=True)


def data_and_models_section(
    corpus_summary: str, stage_summary_csv: str, models: dict[str, str], subsample: dict[str, int] | int, labels: dict[str, str] | None = None
) -> list[str]:
    """What data and models the run actually used, next to what the thesis used; `labels`: the
    config's label scheme settings (corpus.labels, corpus.balance, the sampling's rebalance_within)."""
    stages = pl.read_csv(stage_summary_csv)
    scheme = [f"Label scheme: {', '.join(f'{k} `{v}`' for k, v in labels.items())}. Strong-label share of each source's training rows at each stage:", "", *markdown_table(stage_base_rates(stages)), ""] if labels else []
    return [
        "## Data and models actually used",
        "",
        "The thesis trains on Arena-55k and RouteLLM's gpt4_dataset; neither is reachable offline. The run",
        "trains on the routing-labelled public sources in the data directory instead (per source, before",
        "the validation split; labels mapped to the weak model's 1-5 score as README.md documents):",
        "",
        *markdown_table(pl.read_csv(corpus_summary)),
        "",
        "Training-split sizes at each RAGRouter stage (the thesis: original 175k -> augmented ~225k -> sampled):",
        "",
        *markdown_table(stage_sizes(stages)),
        "",
        *scheme,
        f"Benchmarks: every N-th prompt in RouteLLM's order ({subsample if isinstance(subsample, int) else ', '.join(f'{b}: N = {n}' for b, n in subsample.items())}; N = 1 is all).",
        "",
        "| role | used here (config `models`) | thesis / RouteLLM |",
        "|---|---|---|",
        *[f"| {role} | `{models.get(key, '-')}` | {paper} |" for role, (key, paper) in PAPER_MODELS.items()],
        "| RAGRouter classifier backbone | the encoder above, fully fine-tuned (5 classes) | Qwen2.5-7B, fully fine-tuned |",
        "",
    ]


def validation_section(files: dict[str, Sequence[str]], names: dict[str, str]) -> list[str]:
    """Per router: ROC-AUC of strong needed within each source of the corpus' validation split, the
    metric every training-time choice is made with, so a reader sees whether a router ranks difficulty
    or recognises the source (pooled >> mean per-source)."""
    table = validation_table(files)
    summary = ["router", "seeds", "mean per-source", "mean per-task", "per-task SE", "pair-weighted per-task", "pooled"]
    sources = [c for c in table.columns if c not in summary]
    shown = table.with_columns(pl.col("router").replace_strict(names, default=pl.col("router"))).select(*summary, *sources)
    return [
        "## Validation: difficulty within each source",
        "",
        "ROC-AUC of strong needed on the corpus' validation rows (routed-pair labels, `results/validation/`),",
        "within each source, their mean over sources with >= 5 rows of each label, the same mean over",
        "the task datasets inside RouterBench and RouterDC (their tasks' strong-needed shares range from",
        "0.06 to 0.49, so telling a source's easy tasks from its hard ones scores per source but not per",
        "task, nor on a one-task benchmark such as MMLU or GSM8K) and pooled over sources; each router",
        "makes its choices with one of the two means (its `validation_metric`); means over seeds. NaN: a",
        "source with one label. *per-task SE*: the bootstrap standard error of the per-task mean (rows",
        "resampled within each task and label, 200 times): two settings whose validation means differ by",
        "less are not told apart by this split. *pair-weighted per-task*: the share of within-task",
        "(strong needed, not needed) pairs ranked right, each task weighted by its pairs; where it is",
        "well below the plain mean, the signal sits in the small tasks (a task of 6 strong-needed rows",
        "weighs as much as one of 45 in the mean).",
        "",
        *markdown_table(shown),
        "",
    ]


RAGROUTER_CHOICES = {
    "K": re.compile(r"K-neighbour label vote .*; K = (\d+)$"),
    "w (vote)": re.compile(r"K-neighbour vote .*; w = ([0-9.]+)$"),
    "a (prior)": re.compile(r"ragrouter: a = ([0-9.]+)"),
    "prior statistics": re.compile(r"ragrouter: a = [0-9.]+ on \[(.*)\]$"),
}


def ragrouter_choices_section(log_dir: str | Path, variants: Sequence[str], names: dict[str, str]) -> list[str]:
    """What each RAGRouter checkpoint chose on validation (K, the vote weight w, the structure prior's
    weight a and statistics), read from its training log: with w = 1 the classifier's output carries no
    weight, which the tables alone would not show. Empty when no variant has a training log."""
    rows, vote_only = [], {}
    for variant in variants:
        for path in sorted((Path(log_dir) / "train_ragrouter" / variant.removeprefix("ragrouter_")).glob("seed-*.log")):
            found = dict.fromkeys(RAGROUTER_CHOICES, "-")
            for line in path.read_text(errors="replace").splitlines():
                for key, pattern in RAGROUTER_CHOICES.items():
                    if m := pattern.search(line.rstrip()):
                        found[key] = m.group(1).replace("'", "")
            name = names.get(variant, variant)
            rows.append(f"| {name} | {path.stem} | " + " | ".join(found.values()) + " |")
            if found["w (vote)"] != "-" and float(found["w (vote)"]) == 1.0:
                vote_only.setdefault(name, []).append(path.stem)
    if not rows:
        return []
    chosen = "; ".join(f"{name} ({', '.join(seeds)})" for name, seeds in vote_only.items())
    summary = f"w = 1 (the score is the neighbours' vote alone; the classifier is not run) was chosen in {sum(map(len, vote_only.values()))} of {len(rows)} trainings" + (
        f": {chosen}. Where every seed of a row chose it, its table row measures the vote and the prior, not a trained classifier." if vote_only else "."
    )
    return [
        "## RAGRouter's choices on validation (from `logs/train_ragrouter/`)",
        "",
        "Score = (1 − w) · classifier + w · the K neighbours' mean strong label; then, with a > 0,",
        "(1 − a) · percentile(score) + a · percentile(structure prior). `-`: not chosen (no neighbours, no",
        "parse statistics, or a = 0).",
        "",
        "| router | seed | " + " | ".join(RAGROUTER_CHOICES) + " |",
        "|---|---|" + "---|" * len(RAGROUTER_CHOICES),
        *rows,
        "",
        summary,
        "",
    ]


VOTE_ONLY = "its score is the neighbours' vote (w = 1), so the classifier is not run"  # `RAGRouter.classifier_in_score` False


def serving_section(serving_json: str) -> list[str]:
    result = json.loads(Path(serving_json).read_text())
    every, prompts = result.get("every", 1), f"{result['benchmark_prompts']:,} `{result['benchmark']}` prompts"
    prompts = f"the {prompts}" if every == 1 else f"{prompts} (one in {every}, spread over the benchmark)"
    if not result.get("classifier_in_score", True):
        path = f"live features and retrieval; {VOTE_ONLY}"
    else:
        path = f"live features, retrieval, classifier{' through ' + result['inference_backend'] if 'inference_backend' in result else ''}"
    return [
        "## Serving check (rule `serving_check`, `ragrouter route`)",
        "",
        f"`{result['router']}` loaded from its checkpoint routes {prompts} from raw",
        f"text ({path}) at {result['prompts_per_s']:.1f} prompts/s on {result['threads']} CPU threads",
        f"(goal: >= 100; {100 * result['features_time_share']:.0f}% of the time computes the query vectors). Threshold {result['threshold']:.4f}, calibrated for {result['strong_percent_target']:g}% strong calls on",
        f"{result['calibration_prompts']:,} validation prompts of the corpus, sends {result['benchmark_strong_percent']:.1f}% of the benchmark to",
        f"the strong model. Largest difference from the workflow's score file: {result['max_abs_diff_vs_workflow_scores']:.2e}.",
        *(
            [f"One prompt at a time ({result['latency_prompts']} prompts of the benchmark): p50 {result['latency_p50_ms']:.1f} ms, p95 {result['latency_p95_ms']:.1f} ms (goal: p50 <= 50 ms)."]
            if "latency_p50_ms" in result
            else []
        ),
        "",
    ]




def fast_path_passes(rows: list[dict]) -> dict[str, bool]:
    """Per backend: on every benchmark, Spearman >= 0.999 with the float32 scores and |ΔAPGR| <= 0.005."""
    backends = dict.fromkeys(r["backend"] for r in rows)
    return {b: all(meets_fast_path_bar(r["spearman"], r["apgr_diff"]) for r in rows if r["backend"] == b) for b in backends}


def checked_int8_lines(validation: dict[str, Sequence[str]], names: dict[str, str]) -> list[str]:
    """`inference_backend: onnx_int8_checked`: each checkpoint's int8 check on its validation rows
    (the training job wrote both score columns) and the path its score files came from."""
    rows = []
    for router, files in validation.items():
        for path in files:
            frame = pl.read_parquet(path)
            if INT8_COLUMN in frame.columns:
                result = int8_agreement(frame)
                rows.append((names.get(router, router), Path(path).stem, f"{result['spearman']:.5f}", f"{result['auc_diff']:+.4f}", "onnx_int8" if result["passes"] else "onnx"))
    if not rows:
        return []
    table = pl.DataFrame(rows, schema=["router", "seed", "Spearman", "Δ mean per-source ROC-AUC", "scored with"], orient="row")
    return [
        "Per checkpoint (`onnx_int8_checked`), int8 against float32 on its validation rows, and the path its score files came from",
        f"(int8 where Spearman >= {FAST_PATH_BAR['spearman']} and the mean per-source ROC-AUC moves by <= {FAST_PATH_BAR['apgr_diff']}):",
        "",
        *markdown_table(table),
        "",
    ]


def agreement_section(agreement_json: str, configured: str, validation: dict[str, Sequence[str]] | None = None, names: dict[str, str] | None = None) -> list[str]:
    result = json.loads(Path(agreement_json).read_text())
    passes = fast_path_passes(result["rows"])
    table = pl.DataFrame(
        {
            "benchmark": [r["benchmark"] for r in result["rows"]],
            "backend": [r["backend"] for r in result["rows"]],
            "prompts": [r["prompts"] for r in result["rows"]],
            "Spearman": [f"{r['spearman']:.5f}" for r in result["rows"]],
            "max abs diff": [f"{r['max_abs_diff']:.2e}" for r in result["rows"]],
            "APGR fp32": [f"{r['apgr_reference']:.4f}" for r in result["rows"]],
            "APGR fast": [f"{r['apgr_fast']:.4f}" for r in result["rows"]],
            "prompts/s fast (fp32)": [f"{r['prompts_per_s']:.1f} ({r['reference_prompts_per_s']:.1f})" for r in result["rows"]],
        }
    )
    verdicts = ", ".join(f"`{b}` {'meets' if ok else 'misses'} it" for b, ok in passes.items())
    if result.get("classifier_in_score", True):
        speeds = "prompts/s include retrieval and the RAG prompts"
    else:
        speeds = f"{VOTE_ONLY}: the paths agree by construction and prompts/s time the cached query vectors' lookup and retrieval alone (the per-checkpoint table below tests the classifiers whose output counts)"
    return [
        "## Fast inference paths (rule `inference_agreement`)",
        "",
        f"`{result['router']}` (seed 0) scores every benchmark through the float32 torch path and through ONNX Runtime",
        f"(float32, and int8 weights), on {result['threads']} threads; {speeds}. The bar for a",
        f"fast default: Spearman >= {FAST_PATH_BAR['spearman']} and |ΔAPGR| <= {FAST_PATH_BAR['apgr_diff']} on every benchmark: {verdicts}.",
        f"The tables come from the configured path, `inference_backend: {configured}`"
        + (f" (this checkpoint scores in {result['checkpoint_dtype']}; the reference here is it cast to float32)." if result["checkpoint_dtype"] != "float32" else "."),
        "",
        *markdown_table(table),
        "",
        *(checked_int8_lines(validation, names or {}) if configured == "onnx_int8_checked" and validation else []),
    ]


def control_verdicts(frame: pl.DataFrame) -> list[str]:
    """The table's routers that do not beat a control (APGR not higher, point estimates)."""
    apgr = dict(zip(frame["router_id"], frame["APGR"], strict=True))
    names = dict(zip(frame["router_id"], frame["router"], strict=True))
    out = []
    for control in (c for c in CONTROLS if c in apgr):
        losers = [names[r] for r in apgr if r not in CONTROLS and r != RANDOM_ROUTER and not apgr[r] > apgr[control]]
        if losers:
            out.append(f"  - not better than {names[control]} (APGR {apgr[control]:.3f}): {', '.join(losers)}")
    return out


def diagnostics_section(
    frames: dict[str, pl.DataFrame], tables: dict[str, dict], diagnostics: dict[str, pl.DataFrame], subject_reference: dict[str, float | None] | None = None
) -> list[str]:
    """Per benchmark: what each router's score measures, and which routers do not beat the controls.
    `subject_reference`: per benchmark with subjects, `subject_rate_auc`."""
    out = [
        "## Diagnostics: difficulty or source?",
        "",
        "ROC-AUC of *strong needed* (the strong model's quality above the weak one's: GPT-4 right and Mixtral",
        "wrong on MMLU/GSM8K) by the router's score, and its Spearman correlation with the prompt's word count;",
        "means over seeds. Below 0.5 a router ranks the prompts that need GPT-4 below chance.",
        "",
    ]
    names = {r: n for f in frames.values() for r, n in zip(f["router_id"], f["router"], strict=True)}
    for bench, diag in diagnostics.items():
        reference = (subject_reference or {}).get(bench)
        columns = {"ROC-AUC strong needed": "{auc_strong_needed:.3f}"}
        if reference is None:
            out += [f"`{bench}`:", ""]
        else:
            columns["within subject"] = "{auc_within_subject:.3f}"
            out += [
                f"`{bench}`: *within subject* is the mean of the ROC-AUCs inside each of the benchmark's subjects, what a score ranks beyond",
                "recognising the subject. The subjects' strong-needed rates differ: a score that knew only each prompt's subject and that",
                f"subject's rate, read from these very labels, would reach {reference:.3f} overall and 0.5 within.",
                "",
            ]
        columns["Spearman with word count"] = "{spearman_words:+.3f}"
        out += ["| router | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
        cells = " | ".join(columns.values())
        out += [f"| {names.get(r['router_id'], r['router_id'])} | " + cells.format(**r) + " |" for r in diag.iter_rows(named=True)]
        out.append("")
    verdicts = [(spec.get("title", name), control_verdicts(frames[name])) for name, spec in tables.items()]
    verdicts = [(title, lines) for title, lines in verdicts if lines]
    if verdicts:
        out += ["Routers that do not beat a control (a router that does not is not worth running):", ""]
        for title, lines in verdicts:
            out += [f"- {title}:", *lines]
        out.append("")
    return out


def build_report(
    tables: dict[str, dict],
    table_paths: dict[str, str],
    benchmark_paths: dict[str, str],
    score_paths: Sequence[str],
    benchmark_dir: str,
    resamples: int = 200,
    context: list[str] | None = None,
    job_names: set[str] | None = None,
) -> str:
    """The report text; `tables` is config["tables"], `table_paths` table -> csv, `benchmark_paths`
    benchmark -> parquet; `context`: further sections (data, models, serving) placed after the claims."""
    out = [
        "# RAGRouter reference run: results",
        "",
        "Generated by rule `make_report` (or `ragrouter report`, the same code) from the committed score files (`results/scores/`), tables and",
        "`benchmark:` files; nothing here is typed by hand. Intervals are 95% percentile bootstrap",
        f"intervals over prompts ({resamples} paired resamples, seed 0); `±` is the std over training seeds.",
        *PROVENANCE,
        "",
    ]
    boots: dict[str, dict[str, np.ndarray]] = {}
    diagnostics: dict[str, pl.DataFrame] = {}
    subject_reference: dict[str, float | None] = {}
    frames: dict[str, pl.DataFrame] = {}
    for name, spec in tables.items():
        bench = spec["benchmark"]
        frame = pl.read_csv(table_paths[name])
        frames[name] = frame
        if bench not in boots:
            benchmark = pl.read_parquet(benchmark_paths[bench])
            scores = load_scores(benchmark, [p for p in score_paths if f"/scores/{bench}/" in p])
            boots[bench] = bootstrap(scores, benchmark["strong"].to_numpy(), benchmark["weak"].to_numpy(), BENCHMARKS[bench].scale, resamples)
            diagnostics[bench] = score_diagnostics(benchmark, scores)
            subject_reference[bench] = subject_rate_auc(benchmark)
            out += [f"Benchmark `{bench}`: {benchmark.height} prompts scored; accuracy vs % strong calls: ![{bench}](plots/{bench}.png)", ""]
        out += [f"## {spec.get('title', name)}", "", table_markdown(frame, bench, boots[bench]), "", f"![{name}](plots/tables/{name}.png)", ""]
    claims, verdicts = [], []  # the thesis claims wins on MMLU and GSM8K (Tables 1-6); other benchmarks are extra
    for name, spec in tables.items():
        frame, ids = frames[name], frames[name]["router_id"].to_list()
        if FULL in ids and spec["benchmark"] in THESIS:
            title, others = spec.get("title", name), [r for r in ids if r != FULL]
            table_claims = claim_rows(frame, boots[spec["benchmark"]], FULL, others, f"{title}: ")
            claims += table_claims
            lost = [c.other for c in table_claims if c.verdict == VERDICTS[2]]
            verdicts.append(f"- {title}: " + (f"not reproduced; RAGRouter does not beat {', '.join(lost)}" if lost else "reproduced on the point estimates"))
    holding = sum(c.verdict != VERDICTS[2] for c in claims)
    sure = sum(c.verdict == VERDICTS[0] for c in claims)
    out += [
        "## The thesis' claims, checked",
        "",
        f"RAGRouter beats the other row (lower CPT(50%)+CPT(80%) and higher APGR) in {holding} of {len(claims)} comparisons on the",
        f"point estimates, and in {sure} of {len(claims)} with both 95% intervals excluding 0; the rest are reported as failed.",
        "",
        *verdicts,
        "",
        "| claim | CPT(50%)+CPT(80%) gain [95% CI] | APGR gain [95% CI] | verdict |",
        "|---|---|---|---|",
        *(c.row for c in claims),
        "",
        *diagnostics_section(frames, tables, diagnostics, subject_reference),
        *(context or []),
    ]
    jobs = job_times(benchmark_dir, job_names)
    times = rule_times(jobs)
    stretches = busy_stretches(log_intervals(Path(benchmark_dir).parent, job_names))
    parts = "; ".join(f"{(b - a).total_seconds() / 60:.1f} minutes ({a} to {b} UTC)" for a, b in stretches)
    wall = []
    if len(stretches) == 1:
        wall = [f"Wall clock from the first to the last line of the per-rule logs (`logs/<rule>/`): {parts}.", ""]
    elif stretches:
        wall = [
            (
                f"The per-rule logs (`logs/<rule>/`) come from {len(stretches)} invocations (no job logged for over {IDLE_GAP_MINUTES:.0f} minutes "
                f"between them): a run, then reruns of the jobs whose code or parameters changed, whose logs replaced the earlier ones. "
                f"First to last line of each invocation's logs here: {parts}. Each invocation's Snakemake log in `logs/runs/` gives its whole wall clock."
            ),
            "",
        ]
    out += [
        "## Wall time of the run (from `logs/benchmarks/`)",
        "",
        *wall,
        *time_summary(jobs),
        "",
        "| rule | jobs | minutes |",
        "|---|---|---|",
        *[f"| {r['rule']} | {r['jobs']} | {r['seconds'] / 60:.1f} |" for r in times.iter_rows(named=True)],
        "",
    ]
    return "\n".join(out)


def report_from_files(
    tables: dict[str, dict],
    table_paths: dict[str, str],
    benchmark_paths: dict[str, str],
    score_paths: Sequence[str],
    validation_paths: Sequence[str],
    names: dict[str, str],
    corpus_summary: str,
    stage_summary_csv: str,
    models: dict[str, str],
    subsample: dict[str, int] | int,
    labels: dict[str, str],
    job_names: set[str],
    serving: str | None = None,
    agreement: str | None = None,
    inference_backend: str = "torch",
    benchmark_dir: str = "logs/benchmarks",
) -> str:
    """REPORT.md's text from the run's files, as rule make_report and `ragrouter report` build it."""
    context = data_and_models_section(corpus_summary, stage_summary_csv, models, subsample, labels)
    validation = {r: files for r in names if (files := [f for f in validation_paths if Path(f).parent.name == r])}
    context += validation_section(validation, names)
    context += ragrouter_choices_section(Path(benchmark_dir).parent, [r for r in names if r.startswith("ragrouter_")], names)
    if serving is not None:
        context += serving_section(serving)
    if agreement is not None:
        context += agreement_section(agreement, inference_backend, validation, names)
    return build_report(tables, table_paths, benchmark_paths, list(score_paths), benchmark_dir, context=context, job_names=job_names)
