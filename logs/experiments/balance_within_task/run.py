"""Balance the train labels within each *task* instead of each source, for every router? (issue 12:
the last untried lever on the training signal.) RouterBench's and RouterDC's tasks differ in base rate
as much as the sources do (ARC-Easy 6 %, GSM8K-train 49 %), so balanced only within sources a vote still
learns which task a prompt resembles; MMLU mixes 57 subjects, where that is noise.

The corpus as the workflow builds it (decontaminated, 10 % validation from every row, graded train
labels, cap 1,000 per source); only `corpus.balance` varies. The kNN control's vote on MiniLM sentence
embeddings (128 tokens) stands in for RAGRouter's retrieval, k chosen by the per-task validation mean as
config.yaml does; the words prior's percentile is blended with a chosen the same way. Benchmarks:
ROC-AUC of strong needed, information only.

Usage: python logs/experiments/balance_within_task/run.py RUN_CHECKOUT LOG   (its resources/: data, models, benchmarks)
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
val_words = np.log1p(np.array([len(p.split()) for p in val.prompts], dtype=np.float64))
bench_words = {b: np.log1p(np.array([len(p.split()) for p in t["prompt"]], dtype=np.float64)) for b, t in benchmarks.items()}


def percentile(reference: np.ndarray, values: np.ndarray) -> np.ndarray:
    """Each value's share of validation values below it: the blend's common scale, batch-free."""
    ref = np.sort(reference)
    return np.searchsorted(ref, values, side="right") / len(ref)


for within in ["source", "task"]:
    frame = balance_within(cap_train_rows(corpus, battles, 1000, 0)[0], 0, within)
    train = frame.filter(pl.col("split") == "train")
    router = KNNRouter(None, embed(train["prompt"]), train["label"].to_numpy(), grid[0], 1024)
    neighbours = router.neighbour_labels(val_emb, grid[-1])
    per_task = {k: val.auc(neighbours[:, :k].mean(axis=1), "per_task") for k in grid}
    k = max(per_task, key=lambda k: (round(per_task[k], 4), -k))
    vote = neighbours[:, :k].mean(axis=1)
    blends = {a: val.auc((1 - a) * percentile(vote, vote) + a * percentile(val_words, val_words), "per_task") for a in (0, 0.25, 0.5, 0.75)}
    a = max(blends, key=lambda a: (round(blends[a], 4), -a))
    bench = {}
    for b, t in benchmarks.items():
        bvote = router.neighbour_labels(bench_emb[b], k).mean(axis=1)
        blended = (1 - a) * percentile(vote, bvote) + a * percentile(val_words, bench_words[b])
        bench[b] = (roc_auc(strong_needed(t), bvote), roc_auc(strong_needed(t), blended))
    base = train["label"].mean()
    logger.info(f"balance within {within}: {train.height} train rows (strong share {base:.3f}); validation per-task by k "
                f"{({kk: round(v, 3) for kk, v in per_task.items()})}; k = {k}: per-source {val.auc(vote, 'per_source'):.3f}; "
                f"vote ROC-AUC MMLU {bench['mmlu'][0]:.3f}, GSM8K {bench['gsm8k'][0]:.3f}; words blend per-task by a "
                f"{({aa: round(v, 3) for aa, v in blends.items()})}; a = {a}: MMLU {bench['mmlu'][1]:.3f}, GSM8K {bench['gsm8k'][1]:.3f}")
