"""K = 2, the smallest K of config.yaml's grid [2, 3, 4], won in every seed of the full RAGRouter: does the
vote keep improving below the grid's edge? The committed full variant's knowledge base and query
vectors (the three-seed run's checkout), its 1,033 validation rows, the per-task mean as config.yaml
chooses; K = 1..8, the vote alone and blended with the words prior's percentile, a as in config.yaml's
grid (the prior here is the validation rows' own log word count, the direction the fitted prior takes;
percentiles as the router computes them, `reference_quantiles` of the validation values).
No benchmark prompt is read.

Usage: python logs/experiments/neighbours_grid_edge/run.py RUN_CHECKOUT LOG
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.common.io import setup_logging
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.method.classifier import FeatureTable, neighbour_vote, percentile, reference_quantiles
from ragrouter.method.knowledge_base import KnowledgeBase

run = Path(sys.argv[1])
setup_logging(sys.argv[2])
corpus = pl.read_parquet(run / "resources/ragrouter/aug-on_sample-on.parquet")
validation = corpus.filter(pl.col("split") == "validation")
val = ValidationSet.of(validation)
kb = KnowledgeBase.load(run / "resources/ragrouter/aug-on_sample-on_feat-on/kb")
vectors, _ = FeatureTable([run / "resources/ragrouter/features/feat-on/augmented.parquet"]).vectors_and_statistics(validation["prompt"].to_list())
ids, _ = kb.search(vectors, 8)
words = np.log1p(np.array([len(p.split()) for p in validation["prompt"]], dtype=np.float64))


for k in range(1, 9):
    vote = neighbour_vote(kb, ids[:, :k])
    blends = {a: val.auc((1 - a) * percentile(vote, reference_quantiles(vote)) + a * percentile(words, reference_quantiles(words)), "per_task") for a in (0.0, 0.25, 0.5, 0.75)}
    best = max(blends, key=lambda a: (round(blends[a], 4), -a))
    logger.info(f"K = {k}: vote per-task {blends[0.0]:.4f}, per-source {val.auc(vote, 'per_source'):.4f}; with the words prior by a "
                f"{({a: round(v, 4) for a, v in blends.items()})}: best a = {best}, {blends[best]:.4f}")
