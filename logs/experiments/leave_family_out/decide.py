"""RULE.md's decision from the five leave-family-out score files of one seed: the per-task mean ROC-AUC
of every grid point (w, prior statistics, a) blended as the workflow blends, the best point G against
the workflow's choice C, and the paired bootstrap interval of G - C (rows resampled within task and
label, as `stratified_auc_se`).
    python logs/experiments/leave_family_out/decide.py SEED
"""

import sys
from itertools import product
from pathlib import Path

import numpy as np
import polars as pl
from scipy.stats import rankdata

from ragrouter.evaluation.validation import ValidationSet, kept_strata
from ragrouter.method.classifier import percentile, reference_quantiles

here, seed = Path(__file__).resolve().parent, int(sys.argv[1])
rows = pl.concat([pl.read_parquet(p) for p in sorted(here.glob(f"*_seed-{seed}.parquet"))])
val = ValidationSet.of(rows)
print(f"{rows.height} validation rows over {rows['task'].n_unique()} tasks and {rows['family'].n_unique()} families")
print("K-neighbour vote alone, per-task mean:", {k: round(val.auc(rows[f"vote_{k}"].to_numpy(), "per_task"), 4) for k in (2, 3, 4)})
for name in ("classifier", "vote_2", "prior_words", "prior_all"):
    per_family = {f: round(ValidationSet.of(part).auc(part[name].to_numpy(), "per_task"), 3) for (f,), part in rows.group_by("family", maintain_order=True)}
    print(f"{name} alone: per-task mean {val.auc(rows[name].to_numpy(), 'per_task'):.4f}; by family {per_family}")


def blended(w: float, prior: str, a: float) -> np.ndarray:
    """(1 - a) percentile((1 - w) classifier + w vote) + a percentile(prior), the percentiles over these rows."""
    score = (1 - w) * rows["classifier"].to_numpy() + w * rows["vote_2"].to_numpy()
    if a == 0:
        return score
    values = rows[f"prior_{prior}"].to_numpy()
    return (1 - a) * percentile(score, reference_quantiles(score)) + a * percentile(values, reference_quantiles(values))


grid = list(product((0.0, 0.25, 0.5, 0.75, 1.0), ("words", "all"), (0.0, 0.25, 0.5, 0.75)))
aucs = {point: round(val.auc(blended(*point), "per_task"), 4) for point in grid}
for w in (0.0, 0.25, 0.5, 0.75, 1.0):
    print(f"w = {w}: " + "; ".join(f"{prior} {({a: aucs[(w, prior, a)] for a in (0.0, 0.25, 0.5, 0.75)})}" for prior in ("words", "all")))
best = max(grid, key=lambda p: (aucs[p], -p[0], -p[2], p[1] == "words"))
chosen = (0.5, "words", 0.5)
print(f"G = {best} ({aucs[best]}); C = {chosen} ({aucs[chosen]})")

labels, strata = val.labels, np.asarray(val.tasks)
g, c = blended(*best), blended(*chosen)
rng = np.random.default_rng(0)
gains = []
for s in kept_strata(labels, strata):
    pos, neg = (np.flatnonzero((strata == s) & (labels == k)) for k in (1, 0))
    draws = np.hstack([rng.choice(pos, (1000, len(pos))), rng.choice(neg, (1000, len(neg)))])
    aucs_of = [(rankdata(x[draws], axis=1)[:, : len(pos)].sum(axis=1) - len(pos) * (len(pos) + 1) / 2) / (len(pos) * len(neg)) for x in (g, c)]
    gains.append(aucs_of[0] - aucs_of[1])
gain = np.mean(gains, axis=0)
low, high = np.percentile(gain, [2.5, 97.5])
print(f"G - C: {aucs[best] - aucs[chosen]:+.4f}, paired bootstrap 95% interval [{low:+.4f}, {high:+.4f}] over {len(gains)} tasks")
print("decision:", "nothing changes" if best == chosen or low <= 0 <= high else f"adopt G = {best}")
