"""Which validation subsets rank the routers as the benchmarks do? For every router with a seed-0
validation file: ROC-AUC of its validation scores within each source file/task (the corpus id's
second part, e.g. RouterDC's gsm8k-train, RouterBench's arc-challenge), and ROC-AUC of strong-needed
on MMLU and GSM8K from its seed-0 score file; then the Spearman correlation over routers between each
subset's AUC and each benchmark's. Reads committed files only (results/). Benchmarks here only
describe how well a validation subset predicts them; nothing is chosen with them.
Usage: python logs/experiments/validation_vs_benchmarks.py <log>"""

import sys
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import spearmanr

from ragrouter.data.benchmarks import load_benchmark
from ragrouter.evaluation.validation import MIN_PER_CLASS, roc_auc, stratified_auc

routers = sorted(p.name for p in Path("results/validation").iterdir() if (p / "seed-0.parquet").exists())
benchmarks = {b: load_benchmark(b, Path("../shared/data/routellm-evals")) for b in ("mmlu", "gsm8k")}
rows = []
for router in routers:
    v = pl.read_parquet(f"results/validation/{router}/seed-0.parquet")
    v = v.with_columns(pl.col("id").str.split(":").list.get(1).str.replace(r"[-_ ]?\d+$", "").str.replace(r"_(train|test)$", "").alias("task"))
    row = {"router": router, "validation/mean per-source": stratified_auc(v["label"].to_numpy(), v["score"].to_numpy(), v["source"].to_list()), "validation/pooled": roc_auc(v["label"].to_numpy(), v["score"].to_numpy())}
    for task, part in v.group_by("task"):
        labels = part["label"].to_numpy()
        if min(labels.sum(), len(labels) - labels.sum()) >= MIN_PER_CLASS:
            row[f"{part['source'][0]}/{task[0]}"] = roc_auc(labels, part["score"].to_numpy())
    for name, bench in benchmarks.items():
        scores = pl.read_parquet(f"results/scores/{name}/{router}/seed-0.parquet").join(bench, on="row", how="left")
        row[f"BENCH {name}"] = roc_auc((scores["strong"] > scores["weak"]).cast(pl.Int64).to_numpy(), scores["score"].to_numpy())
    rows.append(row)
table = pl.DataFrame(rows, infer_schema_length=None)
table.write_csv(Path(sys.argv[1]).with_suffix(".csv"), float_precision=4)
lines = [f"routers: {routers}; per-router AUCs in {Path(sys.argv[1]).with_suffix('.csv')}"]
subsets = [c for c in table.columns if c not in ("router",) and not c.startswith("BENCH")]
for bench in ("BENCH mmlu", "BENCH gsm8k"):
    for c in subsets:
        ok = table.select(c, bench).drop_nulls()
        if ok.height >= 6:
            rho = spearmanr(ok[c], ok[bench]).statistic
            lines.append(f"{bench} vs validation {c}: Spearman over {ok.height} routers {rho:+.2f}")
Path(sys.argv[1]).write_text("\n".join(lines) + "\n")
print("\n".join(lines))
