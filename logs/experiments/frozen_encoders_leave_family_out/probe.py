"""RULE.md's probe and decision: per arm and family F, a task-balanced logistic regression (log word count
appended to every arm's features, all standardised on the fitted rows) fitted on the training rows
outside F, its L2 strength C chosen by an inner leave-family-out over those rows, scores F's validation
rows. Writes probe_scores.parquet (every validation row's score per arm) and prints the decision.
    python logs/experiments/frozen_encoders_leave_family_out/probe.py RUN_CHECKOUT EMBEDDINGS
"""

import sys
from pathlib import Path

import numpy as np
import polars as pl
import yaml
from sklearn.linear_model import LogisticRegression

from ragrouter.evaluation.validation import ValidationSet, stratified_auc, stratified_auc_resamples
from ragrouter.method.classifier import FeatureTable, domain_of_task, family_tasks, task_balanced_weights
from ragrouter.method.fusion import STRUCTURE_STATISTICS

run, embeddings = Path(sys.argv[1]), Path(sys.argv[2])
here = Path(__file__).resolve().parent
C_GRID = (0.001, 0.01, 0.1, 1.0)
corpus = pl.read_parquet(run / "resources/corpus/corpus.parquet")
assert corpus.select("id", "source", "split").equals(pl.read_parquet(embeddings / "ids.parquet")), "embeddings of another corpus"
domains = yaml.safe_load(open(here.parents[2] / "config.yaml"))["ragrouter"]["rag"]["held_out_domains"]
tasks = np.asarray(family_tasks(corpus))
domain_of = domain_of_task(domains)
family = np.asarray([domain_of.get(t, t) for t in tasks])
labels, is_train = corpus["label"].to_numpy(), (corpus["split"] == "train").to_numpy()

features = "resources/ragrouter/features/{}/augmented.parquet"
fused, statistics = FeatureTable([run / features.format("feat-on")]).vectors_and_statistics(corpus["prompt"].to_list())
log_words = statistics[:, [STRUCTURE_STATISTICS.index("log_words")]]
arms = {
    "words": np.zeros((corpus.height, 0)),
    "minilm": FeatureTable([run / features.format("feat-off")])(corpus["prompt"].to_list()),
    "fused": fused,
    **{arm: np.load(embeddings / f"{arm}.npy") for arm in ("mpnet", "smollm2_mid", "smollm2_last")},
}


def fit_score(x: np.ndarray, fit: np.ndarray, score: np.ndarray, c: float) -> np.ndarray:
    """Task-balanced logistic regression on rows `fit`; its decision values on rows `score`."""
    mean, std = x[fit].mean(axis=0), x[fit].std(axis=0)
    z = (x - mean) / np.where(std > 1e-8, std, 1.0)
    model = LogisticRegression(C=c, max_iter=2000).fit(z[fit], labels[fit], sample_weight=task_balanced_weights(labels[fit], tasks[fit]))
    return model.decision_function(z[score])


def inner_choice(x: np.ndarray, outer: str) -> float:
    """C with the best per-task mean over the other families' training rows, each scored by a fit
    without its own family (ties: the smaller C)."""
    rows = is_train & (family != outer)
    means = {}
    for c in C_GRID:
        scores = np.full(len(labels), np.nan)
        for inner in sorted(set(family[rows])):
            held = rows & (family == inner)
            scores[held] = fit_score(x, rows & ~held, held, c)
        means[c] = stratified_auc(labels[rows], scores[rows], tasks[rows])
    return max(C_GRID, key=lambda c: (round(means[c], 4), -c))


validation = ~is_train
out = {"id": corpus["id"].filter(validation), "task": tasks[validation], "family": family[validation], "label": labels[validation]}
for arm, values in arms.items():
    x = np.hstack([values, log_words]).astype(np.float64)
    scores = np.full(len(labels), np.nan)
    for outer in sorted(set(family)):
        held = validation & (family == outer)
        c = inner_choice(x, outer) if values.shape[1] else 1.0
        scores[held] = fit_score(x, is_train & (family != outer), held, c)
        print(f"{arm} without {outer}: C = {c}", flush=True)
    out[arm] = scores[validation]
rows = pl.DataFrame(out)
rows.write_parquet(here / "probe_scores.parquet")

val = ValidationSet.of(rows)
for arm in arms:
    per_family = {f: round(ValidationSet.of(part).auc(part[arm].to_numpy(), "per_task"), 3) for (f,), part in rows.sort("family").group_by("family", maintain_order=True)}
    print(f"{arm}: LFO per-task mean {val.auc(rows[arm].to_numpy(), 'per_task'):.4f}; by family {per_family}")
best = max((a for a in arms if a != "words"), key=lambda a: val.auc(rows[a].to_numpy(), "per_task"))
draws = stratified_auc_resamples(val.labels, [rows[best].to_numpy(), rows["words"].to_numpy()], val.tasks, resamples=1000, seed=0)
low, high = np.percentile(draws[0] - draws[1], [2.5, 97.5])
gain = val.auc(rows[best].to_numpy(), "per_task") - val.auc(rows["words"].to_numpy(), "per_task")
print(f"B = {best}: gain over words {gain:+.4f}, paired bootstrap 95% interval [{low:+.4f}, {high:+.4f}]")
print("decision:", f"{best} becomes a structure-prior candidate" if low > 0 else "nothing changes")
