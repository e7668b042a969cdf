"""Beside RULE.md (decides nothing): the same leave-family-out scores, ROC-AUC pooled over the tasks of one
source instead of averaged within tasks. In RouterBench (the benchmarks' GPT-4 / Mixtral pair) and
RouterDC, each task lies in another family, so each task's rows are scored by a router that never saw
it: does a router order unseen tasks by how often they need the strong model, as MMLU's unseen
subjects would need? Validation rows keep their natural label rates.
    python logs/experiments/baselines_leave_family_out/pooled_within_source.py
"""

from pathlib import Path

import polars as pl

from ragrouter.evaluation.validation import roc_auc

here = Path(__file__).resolve().parent
rows = pl.read_parquet(here.parent / "frozen_encoders_leave_family_out/probe_scores.parquet")
rows = rows.join(pl.read_parquet(here / "knn.parquet").select("id", "source"), on="id", validate="1:1")
for path in sorted(here.glob("*.parquet")):
    rows = rows.join(pl.read_parquet(path).select("id", pl.col("score").alias(path.stem)), on="id", validate="1:1")
ragrouter = pl.concat([pl.read_parquet(p) for p in sorted((here.parent / "leave_family_out").glob("*_seed-0.parquet"))])
rows = rows.join(ragrouter.select("id", ragrouter_classifier="classifier", ragrouter_vote="vote_2"), on="id", validate="1:1")
scores = [c for c in rows.columns if c not in ("id", "task", "family", "label", "source")]
for (source,), part in rows.sort("source").group_by("source", maintain_order=True):
    if part["task"].n_unique() < 2:
        continue
    rates = ", ".join(f"{t.split('/')[-1]} {r:.2f} ({n})" for t, r, n in part.group_by("task").agg(pl.col("label").mean(), pl.len()).sort("task").rows())
    print(f"{source}: {part.height} rows; strong-needed rate by task: {rates}")
    print("  pooled ROC-AUC: " + ", ".join(f"{c} {roc_auc(part['label'].to_numpy(), part[c].to_numpy()):.3f}" for c in scores))
