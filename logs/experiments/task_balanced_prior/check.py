"""The workflow's own `choose_prior` (ragrouter.method.classifier) on the committed three-seed run's full
RAGRouter (validation scores and checkpoint inputs of `/work/run3`), per-task metric, config.yaml's grids:
what train_ragrouter will choose from the same classifier scores. Benchmarks: information only.

Usage: python logs/experiments/task_balanced_prior/check.py RUN_CHECKOUT
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

import polars as pl

from ragrouter.data.sources import tasks_of
from ragrouter.evaluation.diagnostics import strong_needed
from ragrouter.evaluation.metrics import evaluate_router
from ragrouter.evaluation.validation import ValidationSet, roc_auc
from ragrouter.method.classifier import (
    FeatureTable,
    blend_prior,
    choose_prior,
    family,
    structure_prior,
)
from ragrouter.method.fusion import STRUCTURE_STATISTICS

run = Path(sys.argv[1])
full = "ragrouter_aug-on_sample-on_feat-on_rag-on"
features = FeatureTable([run / f"resources/ragrouter/features/feat-on/{n}.parquet" for n in ("augmented", "mmlu", "gsm8k")])
rows = pl.read_parquet(run / "resources/ragrouter/aug-on_sample-on.parquet").filter(pl.col("split") == "train")
corpus = pl.read_parquet(run / "resources/corpus/corpus.parquet")
validation = corpus.filter(pl.col("split") == "validation")
benchmarks = {b: pl.read_parquet(run / f"resources/benchmarks/{b}.parquet") for b in ("mmlu", "gsm8k")}
train_stats = features.vectors_and_statistics(rows["prompt"].to_list())[1]
val_stats = features.vectors_and_statistics(validation["prompt"].to_list())[1]
tasks = tasks_of([family(i) for i in rows["id"]], rows["source"])
for seed in (0, 1, 2):
    val = pl.read_parquet(run / f"results/validation/{full}/seed-{seed}.parquet")
    assert val["id"].to_list() == validation["id"].to_list()
    vset = ValidationSet.of(validation)
    a, prior = choose_prior(val["score"].to_numpy(), val_stats, train_stats, rows["label"].to_numpy(), tasks, vset,
                            [["log_words"], list(STRUCTURE_STATISTICS)], [0, 0.25, 0.5, 0.75], "per_task")
    line = [f"seed {seed}: a = {a}" + (f" on {prior['statistics']}" if prior else "")]
    for b, t in benchmarks.items():
        s = pl.read_parquet(run / f"results/scores/{b}/{full}/seed-{seed}.parquet")["score"].to_numpy()
        if prior:
            s = blend_prior(s, structure_prior(prior, features.vectors_and_statistics(t["prompt"].to_list())[1]), a, prior["quantiles"])
        apgr = evaluate_router(full, [s], t["strong"].to_numpy(), t["weak"].to_numpy(), 1.0).metrics["APGR"]
        line.append(f"{b} APGR {apgr:.3f}, ROC-AUC of strong needed {roc_auc(strong_needed(t), s):.3f}")
    print("; ".join(line))
