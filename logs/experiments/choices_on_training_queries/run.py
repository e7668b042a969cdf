"""Could RAGRouter's cheap choices (the vote's K, the words prior) be scored on the training queries?

With `kb_fraction: 1.0` every training row is both a knowledge-base entry and a classifier query that
never retrieves its own family (parent and augmented variants), so its K-neighbour vote is
cross-fitted. Here those 9,026 queries (the full variant, seed 0) are scored like the validation rows:
the vote at K = 1-4 and the log word count, with and without the query's own task in retrieval
(`classifier.family_exclusions` / `task_exclusions`), per-task mean, its bootstrap SE and the
pair-weighted per-task ROC-AUC, against the training labels (graded, balanced within source). The
same numbers on the validation rows (routed-pair labels) are printed beside them.

Usage: python logs/experiments/choices_on_training_queries/run.py <run dir>
"""

import sys
from pathlib import Path

import numpy as np
import polars as pl

from ragrouter.data.sources import tasks_of
from ragrouter.evaluation.validation import pair_weighted_auc, stratified_auc, stratified_auc_se
from ragrouter.method import classifier as C
from ragrouter.method.knowledge_base import KnowledgeBase

run = Path(sys.argv[1])
variant = "aug-on_sample-on_feat-on"
corpus = pl.read_parquet(run / "resources/ragrouter/aug-on_sample-on.parquet")
family_rows, validation = corpus.filter(pl.col("split") == "train"), corpus.filter(pl.col("split") == "validation")
queries = pl.read_parquet(run / f"resources/ragrouter/{variant}/queries.parquet")
kb = KnowledgeBase.load(run / f"resources/ragrouter/{variant}/kb")
features = C.FeatureTable([run / "resources/ragrouter/features/feat-on/augmented.parquet"])


def scored(rows: pl.DataFrame) -> dict[str, tuple[np.ndarray, np.ndarray, list[str]]]:
    """Per retrieval ("own task in KB", "own task held out"): the votes at K = 1..4 (n, 4), log words, tasks."""
    rows = rows.with_columns(pl.Series("task", tasks_of([C.family(i) for i in rows["id"]], rows["source"]), dtype=pl.String))
    vectors, statistics = features.vectors_and_statistics(rows["prompt"].to_list())
    family = C.family_exclusions(kb, rows, family_rows)
    held_out = [sorted(set(f) | set(t)) for f, t in zip(family, C.task_exclusions(kb, rows, family_rows), strict=True)]
    out = {}
    for name, exclude in (("own task in KB", family), ("own task held out", held_out)):
        ids, _ = kb.search(vectors, 4, exclude)
        out[name] = (np.stack([C.neighbour_vote(kb, ids[:, :k]) for k in range(1, 5)], 1), statistics[:, 0], rows["task"].to_list())
    return out


for split, rows in (("training queries", queries), ("validation rows", validation)):
    labels = rows["label"].to_numpy()
    print(f"\n{split}: {rows.height} rows, strong-needed share {labels.mean():.3f}")
    for retrieval, (votes, words, tasks) in scored(rows).items():
        for name, score in [*((f"vote K = {k}", votes[:, k - 1]) for k in range(1, 5)), ("log words", words)]:
            print(
                f"  {retrieval:18s} {name:10s} per-task mean {stratified_auc(labels, score, tasks):.4f} "
                f"± {stratified_auc_se(labels, score, tasks):.4f}, pair-weighted {pair_weighted_auc(labels, score, tasks):.4f}"
            )

# the vote-versus-words balance on both copies at once (as `validation_retrieval:
# with_and_without_own_task` scores validation): (1 - a) percentile(vote) + a percentile(words)
print("\n(1 - a) percentile(vote K) + a percentile(log words), both retrieval copies, per-task mean / pair-weighted")
for split, rows in (("training queries", queries), ("validation rows", validation)):
    labels = np.tile(rows["label"].to_numpy(), 2)
    copies = scored(rows)
    tasks = [*copies["own task in KB"][2], *(t + " (held out)" for t in copies["own task held out"][2])]
    words = np.concatenate([c[1] for c in copies.values()])
    for k in (2, 3, 4):
        vote = np.concatenate([c[0][:, k - 1] for c in copies.values()])
        cells = []
        for a in (0.0, 0.25, 0.5, 0.75, 1.0):
            blend = (1 - a) * C.percentile(vote, C.reference_quantiles(vote)) + a * C.percentile(words, C.reference_quantiles(words))
            cells.append(f"a={a}: {stratified_auc(labels, blend, tasks):.4f} / {pair_weighted_auc(labels, blend, tasks):.4f}")
        print(f"  {split:16s} K = {k}  " + "  ".join(cells))
