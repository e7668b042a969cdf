"""Diagnostics of what a router's score measures: does it rank the prompts that need the strong
model first (ROC-AUC of "strong needed"), or does it follow the prompt's length (Spearman with the
word count)? A router below 0.5 on the first ranks strong-needed prompts below chance. Where the
benchmark has subjects (MMLU's 57 `domain`s), the ROC-AUC within each subject, averaged: what the
score ranks beyond recognising the subject, whose strong-needed rates differ (2 % to 42 % on MMLU).

Stage: evaluation (rule `make_report`). Reads a benchmark and its score files.
"""

from __future__ import annotations

import numpy as np
import polars as pl
from scipy.stats import spearmanr

from ragrouter.evaluation.validation import roc_auc, stratified_auc
from ragrouter.routers.prompt_length import word_counts


def strong_needed(benchmark: pl.DataFrame) -> np.ndarray:
    """1 where the strong model's quality beats the weak one's (GPT-4 right and Mixtral wrong on
    MMLU and GSM8K; a higher judge score on MT-Bench)."""
    return (benchmark["strong"].to_numpy() > benchmark["weak"].to_numpy()).astype(np.int64)


def score_diagnostics(benchmark: pl.DataFrame, scores: dict[str, list[np.ndarray]]) -> pl.DataFrame:
    """Per router: mean over seeds (iterations for Random) of the ROC-AUC of strong-needed, of its mean
    within the benchmark's subjects (null without a `domain` column), and of the Spearman correlation
    with the prompt's word count."""
    needed = strong_needed(benchmark)
    words = word_counts(benchmark["prompt"].to_list())
    subjects = benchmark["domain"].to_list() if "domain" in benchmark.columns else None
    rows = []
    for router, seed_scores in scores.items():
        aucs = [roc_auc(needed, s) for s in seed_scores]
        rhos = [float(spearmanr(s, words).statistic) if np.ptp(s) > 0 else float("nan") for s in seed_scores]
        rows.append({
            "router_id": router,
            "auc_strong_needed": float(np.mean(aucs)),
            "auc_within_subject": float(np.mean([stratified_auc(needed, s, subjects) for s in seed_scores])) if subjects else None,
            "spearman_words": float(np.mean(rhos)),
        })
    return pl.DataFrame(rows, schema={"router_id": pl.String, "auc_strong_needed": pl.Float64, "auc_within_subject": pl.Float64, "spearman_words": pl.Float64})


def subject_rate_auc(benchmark: pl.DataFrame) -> float | None:
    """ROC-AUC of a score that knows only each prompt's subject and that subject's strong-needed rate,
    read from the benchmark's own labels: how much recognising the subject alone could give (None
    without subjects). A reference for the table, not a router: it reads the labels it is scored on."""
    if "domain" not in benchmark.columns:
        return None
    needed = strong_needed(benchmark)
    rate = pl.DataFrame({"subject": benchmark["domain"], "needed": needed}).select(pl.col("needed").mean().over("subject"))
    return roc_auc(needed, rate["needed"].to_numpy())
