"""The same question on every RAGRouter variant with a knowledge base: `choose_neighbours` itself (the
K-neighbour vote's mean per-task ROC-AUC on the variant's 1,033 validation rows) over K = 1..6, on the
knowledge bases and query vectors of a run's checkout. No benchmark prompt is read.

Usage: python logs/experiments/neighbours_grid_edge/variants.py RUN_CHECKOUT LOG
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

import polars as pl

from ragrouter.common.io import setup_logging
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.method.classifier import FeatureTable, choose_neighbours
from ragrouter.method.knowledge_base import KnowledgeBase

resources = Path(sys.argv[1]) / "resources"
setup_logging(sys.argv[2])
for aug, sample, feat in (("on", "on", "on"), ("off", "on", "on"), ("on", "off", "on"), ("on", "on", "off")):
    # the variant's training corpus, as rule train_ragrouter's `ragrouter_corpus`
    corpus = f"ragrouter/aug-{aug}_sample-on.parquet" if sample == "on" else "ragrouter/augmented.parquet"
    validation = pl.read_parquet(resources / corpus).filter(pl.col("split") == "validation")
    kb = KnowledgeBase.load(resources / f"ragrouter/aug-{aug}_sample-{sample}_feat-{feat}/kb")
    vectors = FeatureTable([resources / f"ragrouter/features/feat-{feat}/augmented.parquet"])(validation["prompt"].to_list())
    k = choose_neighbours(kb, vectors, ValidationSet.of(validation), list(range(1, 7)), "per_task")
    print(f"aug-{aug}_sample-{sample}_feat-{feat}: K = {k}")
