"""Does the fusion encoder trained on every corpus training row (7,752) instead of a seeded 1,000
give query vectors whose neighbours' vote ranks validation difficulty better? (issue 12 item 5)

`train_fusion` as rule train_fusion runs it (config.yaml's fusion params, the weak score as target,
seed 0), on 1,000 rows (the reference, rebuilt here so that both arms run the same code) and on all
rows; each encodes the full variant's training rows (aug on, sample on) and the validation rows, builds
the knowledge base as rule build_knowledge_base does, and scores the validation rows as RAGRouter's
choices do (each row twice: with and without its own task in retrieval): the K-neighbour vote at
K = 2, 3, 4, per-task mean ± bootstrap SE and pair-weighted. A logistic regression of the training
labels on the vectors, read on validation, says how much within-task difficulty the vector carries.
No classifier is trained and no benchmark prompt is read.

Usage: python logs/experiments/fusion_training_rows/run.py <run dir>
"""

import sys
from pathlib import Path

import numpy as np
import polars as pl
import torch
import yaml
from sklearn.linear_model import LogisticRegression

from ragrouter.evaluation.validation import ValidationSet, pair_weighted_auc, stratified_auc_se
from ragrouter.method import classifier as C
from ragrouter.method.fusion import train_fusion
from ragrouter.method.knowledge_base import KnowledgeBase, split_kb

torch.set_num_threads(2)
run = Path(sys.argv[1])
config = yaml.safe_load(Path("config.yaml").read_text())["ragrouter"]
fusion = config["fusion"]
encoder_dir = run / "resources/models/encoder"
corpus = pl.read_parquet(run / "resources/corpus/corpus.parquet")
kb_split, _ = split_kb(corpus, config["kb_fraction"], 0)
sampled = pl.read_parquet(run / "resources/ragrouter/aug-on_sample-on.parquet")
family_rows, validation = sampled.filter(pl.col("split") == "train"), sampled.filter(pl.col("split") == "validation")


class Vectors:
    """The FeatureTable interface over vectors computed here."""

    def __init__(self, prompts: list[str], vectors: np.ndarray) -> None:
        self.index = {p: i for i, p in enumerate(prompts)}
        self.vectors = vectors

    def __call__(self, prompts):
        return self.vectors[[self.index[p] for p in prompts]]


for name, rows in (("1,000 rows (as config.yaml)", kb_split.sample(fusion["train_examples"], seed=0, shuffle=True)), (f"all {kb_split.height:,} rows", kb_split)):
    model = train_fusion(rows["prompt"].to_list(), rows["weak_score"].to_list(), encoder_dir, params=fusion.get("params", {}), seed=0)
    prompts = pl.concat([family_rows["prompt"], validation["prompt"]]).unique(maintain_order=True).to_list()
    vectors = Vectors(prompts, model.encode_all(prompts)[0])
    kb_rows = family_rows.unique(subset=["prompt"], keep="first", maintain_order=True)
    kb = KnowledgeBase.build(vectors(kb_rows["prompt"].to_list()), kb_rows["prompt"].to_list(), kb_rows["label"].to_list(), kb_rows["weak_score"].to_list(), config.get("index", {}))
    choice, exclude = C.validation_rows(validation, kb, family_rows, "with_and_without_own_task")
    val = ValidationSet.of(choice)
    ids, _ = kb.search(vectors(choice["prompt"].to_list()), 4, exclude)
    print(f"\n== fusion trained on {name}", flush=True)
    for k in (2, 3, 4):
        vote = C.neighbour_vote(kb, ids[:, :k])
        print(f"  vote K = {k}: per-task {val.auc(vote, 'per_task'):.4f} ± {stratified_auc_se(val.labels, vote, val.tasks):.4f}, pair-weighted {pair_weighted_auc(val.labels, vote, val.tasks):.4f}")
    x = vectors(family_rows["prompt"].to_list())
    probe = LogisticRegression(C=0.1, max_iter=2000).fit(x, family_rows["label"].to_numpy())
    plain = ValidationSet.of(validation)
    s = probe.decision_function(vectors(validation["prompt"].to_list()))
    print(f"  logistic probe on the vector: per-task {plain.auc(s, 'per_task'):.4f}, per-source {plain.auc(s, 'per_source'):.4f}", flush=True)
