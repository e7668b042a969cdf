"""Seed 0 of RAGRouter (full) and of w/o RAG remade on another CPU, against the committed files.

The committed files came from AMD EPYC machines (reference run 5). This compares a rebuild of the
same commit from raw data on an Intel Xeon with AMX (rules train_ragrouter and score_ragrouter, seed
0): per file the largest and median |difference| of the score (and of the int8 column the
validation files keep), the Spearman correlation, and RouteLLM's metrics of both score files.

Usage: python logs/experiments/cross_cpu_intel/compare.py <rebuilt checkout> [committed checkout]
"""

import sys
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import spearmanr

from ragrouter.evaluation.metrics import evaluate_all

rebuilt = Path(sys.argv[1])
committed = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(".")
full, no_rag = "ragrouter_aug-on_sample-on_feat-on_rag-on", "ragrouter_aug-on_sample-on_feat-on_rag-off"


def compare(relative: str, columns: tuple[str, ...] = ("score",)) -> None:
    a, b = pl.read_parquet(rebuilt / relative), pl.read_parquet(committed / relative)
    for column in columns:
        d = np.abs(a[column].to_numpy() - b[column].to_numpy())
        rho = spearmanr(a[column], b[column])[0]
        print(f"{relative} [{column}]: {a.height} rows, max |d| {d.max():.2e}, median {np.median(d):.2e}, Spearman {rho:.6f}")


for variant in (full, no_rag):
    compare(f"results/validation/{variant}/seed-0.parquet", ("score", "score_onnx_int8"))
for benchmark in ("mmlu", "gsm8k", "mt_bench"):
    relative = f"results/scores/{benchmark}/{full}/seed-0.parquet"
    compare(relative)
    table = pl.read_parquet(rebuilt / f"resources/benchmarks/{benchmark}.parquet")
    for name, root in (("committed", committed), ("rebuilt", rebuilt)):
        metrics = evaluate_all(table, benchmark, [str(root / relative)])[0].metrics
        print(f"  {name}: " + ", ".join(f"{k} {metrics[k]:.4f}" for k in ("CPT(50%)", "CPT(80%)", "APGR")))
