"""What would RAGRouter choose with `choice_rows: validation_and_unused_training`?

The seed-0 full variant's trained classifier (4,702 of the 9,026 training queries, its per-source cap
of 2,000) scores the 4,324 queries it never trained on, each retrieving as a validation row does, with
and without its own task; K's vote AUCs and the w and a grids are then read on those rows and the
validation rows together (`classifier.with_unused_training_queries`, the workflow's own choosers),
and on each part alone. K stays the trained one (2): another K would need another classifier.

Usage: python logs/experiments/choices_on_unused_training_queries/run.py <run dir>
"""

import sys
from pathlib import Path

import numpy as np
import polars as pl
import torch

from ragrouter.data.corpus import sample_per_source
from ragrouter.evaluation.validation import ValidationSet, pair_weighted_auc, stratified_auc_se
from ragrouter.method import classifier as C

torch.set_num_threads(2)
run = Path(sys.argv[1])
variant = "aug-on_sample-on_feat-on"
corpus = pl.read_parquet(run / "resources/ragrouter/aug-on_sample-on.parquet")
family_rows, validation = corpus.filter(pl.col("split") == "train"), corpus.filter(pl.col("split") == "validation")
rows = pl.read_parquet(run / f"resources/ragrouter/{variant}/queries.parquet")
router = C.load(run / f"resources/routers/ragrouter_{variant}_rag-on/seed-0")
features = C.FeatureTable([run / "resources/ragrouter/features/feat-on/augmented.parquet"])
kb, p = router.kb, dict(router.params)
retrieval, metric = p["validation_retrieval"], p["validation_metric"]

in_classifier = np.zeros(rows.height, dtype=bool)
in_classifier[sample_per_source(rows.with_row_index("_query"), 2000, 0)["_query"].to_numpy()] = True
val_rows, val_exclude = C.validation_rows(validation, kb, family_rows, retrieval)
choice, exclude = C.with_unused_training_queries(val_rows, val_exclude, rows.filter(pl.Series(~in_classifier)), kb, family_rows, retrieval)
parts = {"validation and unused training": np.ones(choice.height, dtype=bool), "validation only": np.arange(choice.height) < val_rows.height}
parts["unused training only"] = ~parts["validation only"]
print(f"{val_rows.height} validation rows (two retrieval copies), {choice.height - val_rows.height} unused training queries (two copies)")

vectors = features(choice["prompt"].to_list())
ids, _ = kb.search(vectors, 4, exclude)
inputs = C.query_inputs(kb, choice["prompt"].to_list(), features, p, exclude, router.classifier.tokenizer, router.classifier.max_length)
classifier_scores = router.classifier.strong_win_rates(inputs.texts, C.joined_features(inputs.vectors, inputs.numbers, p["numeric_scaling"]))
prior_rows = rows.filter(pl.Series(in_classifier))
prior_statistics = features.vectors_and_statistics(prior_rows["prompt"].to_list())[1]

for name, mask in parts.items():
    sub = choice.filter(pl.Series(mask))
    val = ValidationSet.of(sub)
    print(f"\n== choices on {name}: {sub.height} rows, {len(set(val.tasks))} strata")
    for k in (2, 3, 4):
        vote = C.neighbour_vote(kb, ids[mask, :k])
        print(f"  vote K = {k}: per-task {val.auc(vote, metric):.4f} ± {stratified_auc_se(val.labels, vote, val.tasks):.4f}")
    w = C.choose_vote_weight(classifier_scores[mask], inputs.vote[mask], val, [0, 0.25, 0.5, 0.75, 1], metric)
    scores = C.blend_vote(classifier_scores[mask], inputs.vote[mask], w)
    a, prior = C.choose_prior(
        scores, inputs.statistics[mask], prior_statistics, prior_rows["label"].to_numpy(), C.family_tasks(prior_rows), val,
        [["log_words"], list(C.STRUCTURE_STATISTICS)], [0, 0.25, 0.5, 0.75], metric,
    )
    final = C.blend_prior(scores, C.structure_prior(prior, inputs.statistics[mask]), a, prior["quantiles"]) if prior else scores
    print(f"  chosen w = {w}, a = {a}{' on ' + str(prior['statistics']) if prior else ''}: per-task {val.auc(final, metric):.4f} "
          f"± {stratified_auc_se(val.labels, final, val.tasks):.4f}, pair-weighted {pair_weighted_auc(val.labels, final, val.tasks):.4f}")
    for w_, a_ in ((0.5, 0.5), (0.5, 0.75), (0.75, 0.75), (1.0, 0.75)):
        s = C.blend_vote(classifier_scores[mask], inputs.vote[mask], w_)
        pr = C.fit_structure_prior(prior_statistics, prior_rows["label"].to_numpy(), C.family_tasks(prior_rows), ["log_words"])
        sp = C.structure_prior(pr, inputs.statistics[mask])
        f = C.blend_prior(s, sp, a_, {"score": C.reference_quantiles(s), "prior": C.reference_quantiles(sp)})
        print(f"    w = {w_}, a = {a_} (log words): per-task {val.auc(f, metric):.4f}, pair-weighted {pair_weighted_auc(val.labels, f, val.tasks):.4f}")
