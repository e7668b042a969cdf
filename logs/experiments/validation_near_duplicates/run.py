"""Are validation prompts near-duplicates of training prompts from *another* source? RouterBench and
RouterDC both carry ARC-Challenge and MBPP, so one question can sit in validation under one source and
in training under the other (the split is drawn per prompt text, decontamination only checks the
benchmarks). A copy's label is the same question's difficulty for another model pair: a K-neighbour
vote would read it, and validation would credit the vote for it. Describes the split; chooses nothing.

For every validation row of the committed corpus: the cosine similarity of its nearest train row
(the feat=off mean-pooled MiniLM vectors of rule encode_features), and the K = 2 vote's per-task
validation ROC-AUC on rows with and without a near-duplicate in training.

Usage: python logs/experiments/validation_near_duplicates/run.py RUN_CHECKOUT
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

import numpy as np
import polars as pl

from ragrouter.data.sources import tasks_of
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.method.classifier import FeatureTable

run = Path(sys.argv[1])
corpus = pl.read_parquet(run / "resources/corpus/corpus.parquet")
features = FeatureTable([run / "resources/ragrouter/features/feat-off/augmented.parquet"])
train, val = corpus.filter(pl.col("split") == "train"), corpus.filter(pl.col("split") == "validation")
unit = lambda x: x / np.linalg.norm(x, axis=1, keepdims=True)  # noqa: E731
xt, xv = unit(features(train["prompt"].to_list())), unit(features(val["prompt"].to_list()))
sims = xv @ xt.T
order = np.argsort(-sims, axis=1)[:, :2]
nearest = sims[np.arange(len(xv)), order[:, 0]]
vote = train["label"].to_numpy()[order].mean(axis=1)
same_source = train["source"].to_numpy()[order[:, 0]] == val["source"].to_numpy()
tasks = tasks_of(val["id"], val["source"])
print(f"{val.height} validation rows; nearest train row cosine: quantiles 50/90/99 % "
      f"{np.quantile(nearest, [0.5, 0.9, 0.99]).round(3).tolist()}")
for threshold in (0.95, 0.98):
    dup = nearest >= threshold
    print(f"cosine >= {threshold}: {dup.sum()} rows ({dup.mean():.1%}), {(dup & ~same_source).sum()} of them from another source; by task: "
          + ", ".join(f"{t} {n}" for t, n in pl.Series(np.asarray(tasks)[dup]).value_counts(sort=True).iter_rows()))
    for name, keep in (("with a near-duplicate", dup), ("without", ~dup)):
        sub = ValidationSet.of(val.filter(pl.Series(keep)))
        print(f"  K = 2 vote on rows {name} ({keep.sum()}): per-task ROC-AUC {sub.auc(vote[keep], 'per_task'):.3f}, pooled {sub.auc(vote[keep]):.3f}")
same = dup = nearest >= 0.98
labels = val["label"].to_numpy()
nearest_label = train["label"].to_numpy()[order[:, 0]]
print(f"near-duplicate pairs (>= 0.98): the validation row's label equals its copy's in {(labels[dup] == nearest_label[dup]).mean():.1%} of {dup.sum()}")
