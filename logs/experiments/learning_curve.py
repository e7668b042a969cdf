"""Exploratory (issue 12, item 4): what does the cap on train rows per source cost on validation?
The corpus is built as the workflow builds it (decontaminated, 10 % validation drawn from every row,
graded train labels, balanced within source); only `max_train_rows_per_source` varies, so every point
is scored on the same 1,033 validation rows (routed-pair labels, mean per-source ROC-AUC).
Seed 0; the BERT router with config.yaml's params, and the kNN control on MiniLM embeddings."""
import sys
import time
from pathlib import Path

import polars as pl
import torch
from loguru import logger

from ragrouter.common.embeddings import CachedEncoder, SentenceEncoder
from ragrouter.common.io import setup_logging
from ragrouter.data.corpus import assign_split, balance_within_source, build_corpus, cap_train_rows, grade_train_rows, validation_prompts
from ragrouter.data.decontaminate import EvalIndex, decontaminate
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.routers.registry import train_router

setup_logging(sys.argv[1])
torch.set_num_threads(2)
root, sources = Path("resources/data"), ["routerbench-zs", "routerdc-7models", "alpaca-eval", "arena-bench-v1", "gpt4_dataset"]
corpus, battles = build_corpus(root, sources)
corpus = decontaminate(corpus, EvalIndex(pl.read_parquet("resources/benchmarks/evaluation_prompts.parquet")["prompt"].to_list(), n=13), "corpus")
validation = validation_prompts(corpus, 0.1, 0)
corpus, battles = assign_split(corpus, validation), assign_split(battles, validation)
corpus = grade_train_rows(corpus, build_corpus(root, sources, "graded")[0])
val = ValidationSet.of(corpus.filter(pl.col("split") == "validation"))
encoder = CachedEncoder(SentenceEncoder("resources/models/encoder", max_length=128, batch_size=64), ["resources/embeddings/corpus.parquet"])
bert = {"epochs": 1, "max_length": 96, "train_dtype": "float32", "inference_dtype": "float32", "validation_metric": "per_source"}
rows = []
for cap in [250, 500, 1000, 2000, None]:
    frame = balance_within_source(cap_train_rows(corpus, battles, cap, 0)[0], 0)
    n_train = frame.filter(pl.col("split") == "train").height
    for kind, params in [("knn", {}), ("bert", bert)]:
        start = time.time()
        router = train_router(kind, frame, pl.DataFrame(), params, 0, "resources/models/encoder", encoder)
        scores = router.strong_win_rates(val.prompts)
        rows.append({"cap": str(cap), "router": kind, "train_rows": n_train, "pooled": val.auc(scores), "per_source": val.auc(scores, "per_source"), "seconds": round(time.time() - start)})
        logger.info(f"=== cap {cap}, {kind}: {n_train} train rows, {time.time() - start:.0f} s; validation {val.summary(scores)}")
        print(pl.DataFrame(rows), flush=True)
pl.DataFrame(rows).write_csv("logs/experiments/learning_curve.csv")
