"""Issue 12, next step 1: drop the RAG text from the classifier and keep the neighbours only as the
vote number. Validation rows only; no benchmark prompt is read.

The w/o-RAG checkpoint's classifier reads the bare query; the full variant's checkpoint gives the
K-neighbour vote (its K). Both are scored on the validation rows as `classifier.train` builds them
(`validation_retrieval`: each row with and without its own task in retrieval; the bare classifier
reads the same query either way), then (1 - w) * classifier + w * vote and the words prior are
chosen on the same grids as the workflow, next to the full variant's own classifier in their place.

Usage (a run where train_ragrouter has run for both variants, seed 0):
    python logs/experiments/vote_beside_bare_classifier/run.py <run dir> [seed]
"""

import sys
from pathlib import Path

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.evaluation.validation import ValidationSet, pair_weighted_auc
from ragrouter.method import classifier as C
from ragrouter.method.knowledge_base import KnowledgeBase

run = Path(sys.argv[1])
seed = int(sys.argv[2]) if len(sys.argv) > 2 else 0
logger.remove()
logger.add(sys.stdout, format="{message}", level="INFO")

variant = "aug-on_sample-on_feat-on"
corpus = pl.read_parquet(run / "resources/ragrouter/aug-on_sample-on.parquet")  # the variant's corpus (rules/common.smk)
family_rows, validation = corpus.filter(pl.col("split") == "train"), corpus.filter(pl.col("split") == "validation")
queries = pl.read_parquet(run / f"resources/ragrouter/{variant}/queries.parquet")
kb = KnowledgeBase.load(run / f"resources/ragrouter/{variant}/kb")
features = C.FeatureTable([run / "resources/ragrouter/features/feat-on/augmented.parquet"])
full = C.load(run / f"resources/routers/ragrouter_{variant}_rag-on/seed-{seed}")
bare = C.load(run / f"resources/routers/ragrouter_{variant}_rag-off/seed-{seed}")

rows, exclude = C.validation_rows(validation, kb, family_rows, full.params["validation_retrieval"])
val = ValidationSet.of(rows)
prompts = rows["prompt"].to_list()
inputs = C.query_inputs(kb, prompts, features, full.params, exclude, full.classifier.tokenizer, full.classifier.max_length)
rag_classifier = full.classifier.strong_win_rates(inputs.texts, C.joined_features(inputs.vectors, inputs.numbers, full.params["numeric_scaling"]))
bare_inputs = C.query_inputs(None, prompts, features, bare.params)
bare_classifier = bare.classifier.strong_win_rates(bare_inputs.texts, C.joined_features(bare_inputs.vectors, bare_inputs.numbers, bare.params["numeric_scaling"]))
train_statistics = features.vectors_and_statistics(queries["prompt"].to_list())[1]
train_tasks = C.tasks_of([C.family(i) for i in queries["id"]], queries["source"])
logger.info(f"{val.labels.size} validation rows (with and without own task), K = {full.params['neighbours']}")


def metrics(scores: np.ndarray) -> str:
    return f"per-task mean {val.auc(scores, 'per_task'):.4f}, pair-weighted {pair_weighted_auc(val.labels, scores, val.tasks):.4f}"


logger.info(f"vote alone: {metrics(inputs.vote)}")
for name, clf in (("classifier on the RAG prompt (the method)", rag_classifier), ("classifier on the bare query", bare_classifier)):
    logger.info(f"{name}, alone: {metrics(clf)}")
    w = C.choose_vote_weight(clf, inputs.vote, val, [0, 0.25, 0.5, 0.75, 1], "per_task")
    blended = C.blend_vote(clf, inputs.vote, w)
    a, prior = C.choose_prior(blended, inputs.statistics, train_statistics, queries["label"].to_numpy(), train_tasks, val, [["log_words"]], [0, 0.25, 0.5, 0.75], "per_task")
    final = C.blend_prior(blended, C.structure_prior(prior, inputs.statistics), a, prior["quantiles"]) if prior else blended
    logger.info(f"{name}: w = {w}, a = {a}: {metrics(final)}")
