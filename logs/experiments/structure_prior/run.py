"""A difficulty prior from the parse's structure statistics, blended into RAGRouter's score (issue 12
item 5: the syntactic branch's graph statistics as a difficulty signal beside the GraphSAGE state).

prior = logistic regression of the strong label on the eight `STRUCTURE_STATISTICS` (standardised),
fitted on the full variant's sampled training rows; score = (1 - a) * RAGRouter + a * prior, with a
chosen on the validation rows by the mean per-source ROC-AUC (and, beside it, the per-task mean).
The benchmark columns are information only: nothing is chosen on them.

Usage: python logs/experiments/structure_prior/run.py RUN_CHECKOUT  (after a reference run: its
resources/ and results/, three seeds of the full RAGRouter)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

import numpy as np
import polars as pl
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from ragrouter.common.io import sha1_text
from ragrouter.evaluation.diagnostics import strong_needed
from ragrouter.evaluation.metrics import evaluate_router
from ragrouter.evaluation.validation import ValidationSet, roc_auc
from ragrouter.method.fusion import STRUCTURE_STATISTICS

run = Path(sys.argv[1])
full = "ragrouter_aug-on_sample-on_feat-on_rag-on"
grid = [0.0, 0.1, 0.25, 0.5, 0.75, 1.0]


def statistics(name: str) -> dict[str, np.ndarray]:
    t = pl.read_parquet(run / f"resources/ragrouter/features/feat-on/{name}.parquet")
    return dict(zip(t["prompt_sha1"].to_list(), np.asarray(t["statistics"].to_list(), dtype=np.float64), strict=True))


corpus_stats = statistics("augmented")
rows = pl.read_parquet(run / "resources/ragrouter/aug-on_sample-on.parquet")
train = rows.filter(pl.col("split") == "train")
x_train = np.stack([corpus_stats[sha1_text(p)] for p in train["prompt"]])
scaler = StandardScaler().fit(x_train)
prior_model = LogisticRegression(C=1.0, max_iter=1000).fit(scaler.transform(x_train), train["label"].to_numpy())
print("prior coefficients (standardised):", dict(zip(STRUCTURE_STATISTICS, np.round(prior_model.coef_[0], 3), strict=True)))


def prior(prompts_sha1: list[str], stats: dict[str, np.ndarray]) -> np.ndarray:
    return prior_model.predict_proba(scaler.transform(np.stack([stats[h] for h in prompts_sha1])))[:, 1]


corpus = pl.read_parquet(run / "resources/corpus/corpus.parquet")
sha_of_id = dict(zip(corpus["id"].to_list(), [sha1_text(p) for p in corpus["prompt"]], strict=True))
benchmarks = {b: pl.read_parquet(run / f"resources/benchmarks/{b}.parquet") for b in ("mmlu", "gsm8k")}
bench_prior = {b: prior(t["prompt_sha1"].to_list(), statistics(b)) for b, t in benchmarks.items()}
for b, t in benchmarks.items():
    print(f"{b}: prior alone, ROC-AUC of strong needed {roc_auc(strong_needed(t), bench_prior[b]):.3f}")

print("seed | a chosen | validation per-source a=0 -> a | per-task a=0 -> a | MMLU APGR a=0 -> a | GSM8K APGR a=0 -> a")
for seed in (0, 1, 2):
    val = pl.read_parquet(run / f"results/validation/{full}/seed-{seed}.parquet")
    vset = ValidationSet.of(val)
    val_prior = prior([sha_of_id[i] for i in val["id"]], corpus_stats)
    if seed == 0:
        print(f"prior alone on validation: per-source {vset.auc(val_prior, 'per_source'):.3f}, per-task {vset.auc(val_prior, 'per_task'):.3f}, pooled {vset.auc(val_prior):.3f}")
    blend = lambda s, p, a: (1 - a) * s + a * p  # noqa: E731
    aucs = {a: vset.auc(blend(val["score"].to_numpy(), val_prior, a), "per_source") for a in grid}
    chosen = max(aucs, key=lambda a: (round(aucs[a], 4), -a))
    task = {a: vset.auc(blend(val["score"].to_numpy(), val_prior, a), "per_task") for a in (0.0, chosen)}
    apgr = {}
    for b, t in benchmarks.items():
        s = pl.read_parquet(run / f"results/scores/{b}/{full}/seed-{seed}.parquet")["score"].to_numpy()
        apgr[b] = [evaluate_router(full, [blend(s, bench_prior[b], a)], t["strong"].to_numpy(), t["weak"].to_numpy(), 1.0).metrics["APGR"] for a in (0.0, chosen)]
    print(f"{seed} | {chosen} | {aucs[0.0]:.3f} -> {aucs[chosen]:.3f} | {task[0.0]:.3f} -> {task[chosen]:.3f} | "
          f"{apgr['mmlu'][0]:.3f} -> {apgr['mmlu'][1]:.3f} | {apgr['gsm8k'][0]:.3f} -> {apgr['gsm8k'][1]:.3f}   (grid {({a: round(v, 3) for a, v in aucs.items()})})")
