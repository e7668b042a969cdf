"""The rerun's decision, on validation only: the full variant's served validation scores (3 seeds) as
REPORT.md's Validation table reads them, run 5's against the rerun with the fusion on all rows.
Decided before any benchmark score of the rerun was read; rule: adopt only if the mean per-task rises.

Usage: python logs/experiments/fusion_training_rows/decide.py <run 5 dir> <rerun dir>
"""

import sys

from ragrouter.evaluation.validation import validation_table

variant = "aug-on_sample-on_feat-on_rag-on"
for name, root in zip(("run 5 (fusion on 1,000 rows)", "rerun (fusion on all rows)"), sys.argv[1:3], strict=True):
    table = validation_table({variant: [f"{root}/results/validation/ragrouter_{variant}/seed-{s}.parquet" for s in range(3)]})
    print(f"{name}: " + ", ".join(f"{k} {table[k][0]:.4f}" for k in ("mean per-source", "mean per-task", "per-task SE", "pair-weighted per-task")))
