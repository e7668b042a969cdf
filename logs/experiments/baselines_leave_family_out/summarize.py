"""RULE.md's table: each baseline's leave-family-out per-task mean ROC-AUC (and per family) beside word
count's (`frozen_encoders_leave_family_out`'s `words` arm, the same folds), with the paired bootstrap
interval of the difference.
    python logs/experiments/baselines_leave_family_out/summarize.py
"""

from pathlib import Path

import numpy as np
import polars as pl

from ragrouter.evaluation.validation import ValidationSet, stratified_auc_resamples

here = Path(__file__).resolve().parent
words = pl.read_parquet(here.parent / "frozen_encoders_leave_family_out/probe_scores.parquet").select("id", "words")
for path in sorted(here.glob("*.parquet")):
    rows = pl.read_parquet(path).join(words, on="id", how="inner", validate="1:1").sort("family")
    val = ValidationSet.of(rows)
    scores, reference = rows["score"].to_numpy(), rows["words"].to_numpy()
    per_family = {f: round(ValidationSet.of(part).auc(part["score"].to_numpy(), "per_task"), 3) for (f,), part in rows.group_by("family", maintain_order=True)}
    draws = stratified_auc_resamples(val.labels, [scores, reference], val.tasks, resamples=1000, seed=0)
    low, high = np.percentile(draws[0] - draws[1], [2.5, 97.5])
    gain = val.auc(scores, "per_task") - val.auc(reference, "per_task")
    print(f"{path.stem}: {rows.height} rows, LFO per-task mean {val.auc(scores, 'per_task'):.4f}; vs words {gain:+.4f} [{low:+.4f}, {high:+.4f}]; by family {per_family}")
