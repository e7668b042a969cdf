"""Validation probe: does the K-neighbour vote carry difficulty when the query's own task is not in the
knowledge base (as for MMLU, whose prompts were decontaminated out of every source)? Full variant of a
run's checkout; per-task mean ROC-AUC of the vote with and without excluding the query's task from
retrieval, K = 1..6, alone and blended with the log word count's percentile as the structure prior
is (a as in config.yaml's grid, 1: the words alone). No benchmark prompt is read.

Usage: python logs/experiments/vote_leave_task_out/run.py RUN_CHECKOUT LOG
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

import numpy as np
import polars as pl
from loguru import logger

from ragrouter.common.io import setup_logging
from ragrouter.data.sources import tasks_of
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.method.classifier import FeatureTable, neighbour_vote, percentile, reference_quantiles
from ragrouter.method.knowledge_base import KnowledgeBase

resources = Path(sys.argv[1]) / "resources"
setup_logging(sys.argv[2])
corpus = pl.read_parquet(resources / "ragrouter/aug-on_sample-on.parquet")
validation = corpus.filter(pl.col("split") == "validation")
val = ValidationSet.of(validation)
kb = KnowledgeBase.load(resources / "ragrouter/aug-on_sample-on_feat-on/kb")
train = corpus.filter(pl.col("split") == "train")
task_of_text = dict(zip(train["prompt"].to_list(), tasks_of(train["id"].str.replace(r"#.*$", ""), train["source"]), strict=True))
kb_tasks = np.array([task_of_text.get(t, "?") for t in kb.texts])
logger.info(f"{len(kb)} KB entries, {int((kb_tasks == '?').sum())} without a task; {validation.height} validation rows over {len(set(val.tasks))} tasks")
ids_of_task = {t: np.flatnonzero(kb_tasks == t).tolist() for t in set(val.tasks)}
vectors = FeatureTable([resources / "ragrouter/features/feat-on/augmented.parquet"])(validation["prompt"].to_list())
words = np.log1p(np.array([len(p.split()) for p in validation["prompt"].to_list()], dtype=float))
logger.info(f"log word count: per-task {val.auc(words, 'per_task'):.4f}")
for name, exclude in (("own task in KB", None), ("own task left out", [ids_of_task[t] for t in val.tasks])):
    if exclude is not None:
        # the IVF index visits 16 of its cells; with the query's own task excluded, those cells can hold
        # nothing else (12% of the queries got no neighbour), so search every cell: all K slots filled
        kb.index.nprobe = kb.index.nlist
    ids, _ = kb.search(vectors, 6, exclude)
    logger.info(f"{name}: {float((ids < 0).mean()):.3f} of the 6 slots empty")
    for k in range(1, 7):
        vote = neighbour_vote(kb, ids[:, :k])
        blends = {a: round(val.auc((1 - a) * percentile(vote, reference_quantiles(vote)) + a * percentile(words, reference_quantiles(words)), "per_task"), 4) for a in (0.0, 0.25, 0.5, 0.75, 1.0)}
        logger.info(f"{name}, K = {k}: per-task ROC-AUC of the vote blended with the words by a {blends}")
