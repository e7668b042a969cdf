"""Does a label vote over *all* labelled rows rank difficulty within a task better than over the capped
1,000 rows per source? (issue 12: after the per-task rerun the full RAGRouter's score is its K-neighbour
vote plus the words prior, so the vote's knowledge base is its main lever.)

The corpus as the workflow builds it (decontaminated, 10 % validation from every row, graded train
labels, balanced within source); only the cap varies. The kNN control's vote on MiniLM sentence
embeddings (128 tokens) stands in for RAGRouter's retrieval; k is chosen by the per-task validation
mean as config.yaml does. Benchmarks: ROC-AUC of strong needed, information only.

Usage: python logs/experiments/vote_all_rows/run.py RUN_CHECKOUT LOG   (its resources/: data, models, benchmarks)
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

import numpy as np
import polars as pl
import torch
from loguru import logger

from ragrouter.common.embeddings import SentenceEncoder
from ragrouter.common.io import setup_logging
from ragrouter.data.corpus import balance_within, cap_train_rows, prepare_corpus
from ragrouter.evaluation.diagnostics import strong_needed
from ragrouter.evaluation.validation import ValidationSet, roc_auc
from ragrouter.routers.knn import KNNRouter

run = Path(sys.argv[1])
setup_logging(sys.argv[2])
torch.set_num_threads(2)
corpus, battles = prepare_corpus(
    run / "resources/data",
    {"sources": ["routerbench-zs", "routerdc-7models", "alpaca-eval", "arena-bench-v1", "gpt4_dataset"], "ngram": 13, "validation_fraction": 0.1, "split_seed": 0, "labels": "graded"},
    pl.read_parquet(run / "resources/benchmarks/evaluation_prompts.parquet")["prompt"].to_list(),
)  # decontaminated, split, graded; the cap and the balance follow below
val_rows = corpus.filter(pl.col("split") == "validation")
val = ValidationSet.of(val_rows)
encoder = SentenceEncoder(str(run / "resources/models/encoder"), max_length=128, batch_size=64)
embed = lambda prompts: np.asarray(encoder.encode(list(prompts)), dtype=np.float32)  # noqa: E731
val_emb = embed(val.prompts)
benchmarks = {b: pl.read_parquet(run / f"resources/benchmarks/{b}.parquet") for b in ("mmlu", "gsm8k")}
bench_emb = {b: embed(t["prompt"]) for b, t in benchmarks.items()}
grid = [2, 5, 10, 20, 50, 100]
for cap in [1000, None]:
    frame = balance_within(cap_train_rows(corpus, battles, cap, 0)[0], 0)
    train = frame.filter(pl.col("split") == "train")
    router = KNNRouter(None, embed(train["prompt"]), train["label"].to_numpy(), grid[0], 1024)
    neighbours = router.neighbour_labels(val_emb, grid[-1])
    per_task = {k: val.auc(neighbours[:, :k].mean(axis=1), "per_task") for k in grid}
    k = max(per_task, key=lambda k: (round(per_task[k], 4), -k))
    bench = {b: roc_auc(strong_needed(t), router.neighbour_labels(bench_emb[b], k).mean(axis=1)) for b, t in benchmarks.items()}
    logger.info(f"cap {cap}: {train.height} train rows; validation per-task by k {({kk: round(v, 3) for kk, v in per_task.items()})}; k = {k}: "
                f"per-source {val.auc(neighbours[:, :k].mean(axis=1), 'per_source'):.3f}; MMLU ROC-AUC {bench['mmlu']:.3f}, GSM8K {bench['gsm8k']:.3f}")
