"""Reported beside RULE.md's decision, not deciding: leave-family-out, does the classifier transfer
better on the bare query (the w/o-RAG variant) than on the RAG prompt (the full variant)? Per-task
mean ROC-AUC of each alone and blended with the words prior as the workflow blends (w = 0).
    python logs/experiments/leave_family_out/compare_rag_off.py SEED
"""

import sys
from pathlib import Path

import polars as pl

from ragrouter.evaluation.validation import ValidationSet
from ragrouter.method.classifier import percentile, reference_quantiles

here, seed = Path(__file__).resolve().parent, int(sys.argv[1])
for name, folder in (("full variant (RAG prompt)", here), ("w/o RAG (bare query)", here / "rag-off")):
    rows = pl.concat([pl.read_parquet(p) for p in sorted(folder.glob(f"*_seed-{seed}.parquet"))]).sort("id")
    val, score, words = ValidationSet.of(rows), rows["classifier"].to_numpy(), rows["prior_words"].to_numpy()
    per_family = {f: round(ValidationSet.of(part).auc(part["classifier"].to_numpy(), "per_task"), 3) for (f,), part in rows.group_by("family", maintain_order=True)}
    blends = {a: round(val.auc((1 - a) * percentile(score, reference_quantiles(score)) + a * percentile(words, reference_quantiles(words)), "per_task"), 4) for a in (0.25, 0.5, 0.75)}
    print(f"{name}, {rows.height} rows: classifier per-task {val.auc(score, 'per_task'):.4f}, by family {per_family}; with the words prior by a {blends}")
