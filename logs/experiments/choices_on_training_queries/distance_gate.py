"""A vote weight gated by retrieval distance: does the neighbours' mean squared L2 distance tell a query
whose task is in the knowledge base from one whose task is not, well enough to lean on the words
prior only for the latter? Both retrieval copies of the training queries and of the validation rows
(run dir as run.py); two weights a, below and above the median distance, on the same grid.

Usage: python logs/experiments/choices_on_training_queries/distance_gate.py <run dir>
"""
import sys

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score
from ragrouter.data.sources import tasks_of
from ragrouter.evaluation.validation import pair_weighted_auc, stratified_auc
from ragrouter.method import classifier as C
from ragrouter.method.knowledge_base import KnowledgeBase
run = sys.argv[1] if len(sys.argv) > 1 else "/work/run7"; variant="aug-on_sample-on_feat-on"
corpus=pl.read_parquet(f"{run}/resources/ragrouter/aug-on_sample-on.parquet"); fam=corpus.filter(pl.col("split")=="train"); val=corpus.filter(pl.col("split")=="validation")
queries=pl.read_parquet(f"{run}/resources/ragrouter/{variant}/queries.parquet")
kb=KnowledgeBase.load(f"{run}/resources/ragrouter/{variant}/kb"); feats=C.FeatureTable([f"{run}/resources/ragrouter/features/feat-on/augmented.parquet"])
def doubled(rows):
    rows=rows.with_columns(pl.Series("task", tasks_of([C.family(i) for i in rows["id"]], rows["source"]), dtype=pl.String))
    v, st = feats.vectors_and_statistics(rows["prompt"].to_list())
    f=C.family_exclusions(kb, rows, fam); h=[sorted(set(a)|set(b)) for a,b in zip(f, C.task_exclusions(kb, rows, fam))]
    out=[]
    for ex, suffix in ((f,""),(h," (held out)")):
        ids, d = kb.search(v, 2, ex); out.append((C.neighbour_vote(kb, ids), d.mean(1), st[:,0], [t+suffix for t in rows["task"]]))
    vote, dist, words, tasks = (np.concatenate([o[i] for o in out]) if i<3 else out[0][3]+out[1][3] for i in range(4))
    return vote, dist, words, tasks, np.tile(rows["label"].to_numpy(),2)
for name, rows in (("train queries", queries), ("validation", val)):
    vote, dist, words, tasks, y = doubled(rows); n=len(vote)//2
    print(name, "mean L2^2 distance own-task", np.median(dist[:n]).round(3), "held-out", np.median(dist[n:]).round(3), "AUC(held-out vs own by dist)", round(roc_auc_score(np.r_[np.zeros(n), np.ones(n)], dist), 3))
    pv, pw = C.percentile(vote, C.reference_quantiles(vote)), C.percentile(words, C.reference_quantiles(words))
    thr = np.median(dist)
    best=[]
    for an in (0, .25, .5, .75, 1):
        for af in (0, .25, .5, .75, 1):
            a = np.where(dist < thr, an, af); s=(1-a)*pv + a*pw
            best.append((round(stratified_auc(y,s,tasks),4), round(pair_weighted_auc(y,s,tasks),4), an, af))
    best.sort(reverse=True); print(" top (per-task, pair, a_near, a_far):", best[:4]); print(" ungated:", [b for b in best if b[2]==b[3]][:3])
