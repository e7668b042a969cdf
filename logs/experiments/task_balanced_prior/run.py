"""The structure prior of `structure_prior`, refitted with labels balanced *within each task* and chosen
by the mean per-task validation ROC-AUC (issue 12: a score must not profit from recognising the task).

prior = logistic regression of the strong label on standardised `STRUCTURE_STATISTICS` (or log words
alone), each training row weighted so that every task's two labels weigh the same (tasks with one label
get weight 0); score = (1 - a) * rank(RAGRouter) + a * rank(prior), ranks taken within the scored set,
a chosen on the validation rows by the per-task mean. Benchmarks are information only.

Usage: python logs/experiments/task_balanced_prior/run.py RUN_CHECKOUT
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

import numpy as np
import polars as pl
from scipy.stats import rankdata
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ragrouter.common.io import sha1_text
from ragrouter.data.sources import tasks_of
from ragrouter.evaluation.diagnostics import strong_needed
from ragrouter.evaluation.metrics import evaluate_router
from ragrouter.evaluation.validation import ValidationSet, roc_auc
from ragrouter.method.classifier import task_balanced_weights
from ragrouter.method.fusion import STRUCTURE_STATISTICS

run = Path(sys.argv[1])
full = "ragrouter_aug-on_sample-on_feat-on_rag-on"
grid = [0.0, 0.1, 0.25, 0.5, 0.75, 0.9, 1.0]


def statistics(name: str) -> dict[str, np.ndarray]:
    t = pl.read_parquet(run / f"resources/ragrouter/features/feat-on/{name}.parquet")
    return dict(zip(t["prompt_sha1"].to_list(), np.asarray(t["statistics"].to_list(), dtype=np.float64), strict=True))


corpus_stats = statistics("augmented")
rows = pl.read_parquet(run / "resources/ragrouter/aug-on_sample-on.parquet")
train = rows.filter(pl.col("split") == "train")
y = train["label"].to_numpy()
tasks = tasks_of([p or i for p, i in zip(train["parent_id"], train["id"], strict=True)], train["source"].to_list())
weights = task_balanced_weights(y, tasks)
print(f"train rows {train.height}, tasks {len(set(tasks))}, rows with weight > 0: {(weights > 0).sum()}")
x_all = np.stack([corpus_stats[sha1_text(p)] for p in train["prompt"]])

corpus = pl.read_parquet(run / "resources/corpus/corpus.parquet")
sha_of_id = dict(zip(corpus["id"].to_list(), [sha1_text(p) for p in corpus["prompt"]], strict=True))
benchmarks = {b: pl.read_parquet(run / f"resources/benchmarks/{b}.parquet") for b in ("mmlu", "gsm8k")}
bench_stats = {b: statistics(b) for b in benchmarks}
val0 = pl.read_parquet(run / f"results/validation/{full}/seed-0.parquet")
vset0 = ValidationSet.of(val0)
x_val = np.stack([corpus_stats[sha_of_id[i]] for i in val0["id"]])

priors = {}
for name, cols in (("all eight statistics", list(range(len(STRUCTURE_STATISTICS)))), ("log words", [0])):
    for weighting, w in (("pooled labels", np.ones(len(y))), ("task-balanced", weights)):
        scaler = StandardScaler().fit(x_all[:, cols])
        model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(x_all[:, cols]), y, sample_weight=w)
        f = lambda x, s=scaler, m=model, c=cols: m.predict_proba(s.transform(x[:, c]))[:, 1]
        key = f"{name}, {weighting}"
        priors[key] = f
        bench = {b: roc_auc(strong_needed(t), f(np.stack([bench_stats[b][h] for h in t["prompt_sha1"]]))) for b, t in benchmarks.items()}
        vp = f(x_val)
        print(f"prior [{key}]: coef {np.round(model.coef_[0], 3).tolist()}; validation per-task {vset0.auc(vp, 'per_task'):.3f}, "
              f"per-source {vset0.auc(vp, 'per_source'):.3f}, pooled {vset0.auc(vp):.3f}; MMLU AUC {bench['mmlu']:.3f}, GSM8K AUC {bench['gsm8k']:.3f}")

rank = lambda v: (rankdata(v) - 0.5) / len(v)
for key in ("all eight statistics, task-balanced", "log words, task-balanced"):
    f = priors[key]
    bench_prior = {b: f(np.stack([bench_stats[b][h] for h in t["prompt_sha1"]])) for b, t in benchmarks.items()}
    print(f"\nblend with [{key}]: seed | a chosen (per-task) | per-task a=0 -> a | per-source | MMLU APGR a=0 -> a (AUC) | GSM8K APGR a=0 -> a (AUC)")
    for seed in (0, 1, 2):
        val = pl.read_parquet(run / f"results/validation/{full}/seed-{seed}.parquet")
        vset = ValidationSet.of(val)
        vp = f(np.stack([corpus_stats[sha_of_id[i]] for i in val["id"]]))
        blend = lambda s, p, a: (1 - a) * rank(s) + a * rank(p)
        aucs = {a: vset.auc(blend(val["score"].to_numpy(), vp, a), "per_task") for a in grid}
        chosen = max(aucs, key=lambda a: (round(aucs[a], 4), -a))
        src = {a: vset.auc(blend(val["score"].to_numpy(), vp, a), "per_source") for a in (0.0, chosen)}
        out = {}
        for b, t in benchmarks.items():
            s = pl.read_parquet(run / f"results/scores/{b}/{full}/seed-{seed}.parquet")["score"].to_numpy()
            out[b] = [(evaluate_router(full, [blend(s, bench_prior[b], a)], t["strong"].to_numpy(), t["weak"].to_numpy(), 1.0).metrics["APGR"],
                       roc_auc(strong_needed(t), blend(s, bench_prior[b], a))) for a in (0.0, chosen)]
        print(f"{seed} | {chosen} | {aucs[0.0]:.3f} -> {aucs[chosen]:.3f} | {src[0.0]:.3f} -> {src[chosen]:.3f} | "
              + " | ".join(f"{o[0][0]:.3f} -> {o[1][0]:.3f} ({o[0][1]:.3f} -> {o[1][1]:.3f})" for o in out.values())
              + f"   grid {({a: round(v, 3) for a, v in aucs.items()})}")
