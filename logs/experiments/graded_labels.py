"""Exploratory: do graded labels for the multi-model sources (share of RouterBench's 11 / RouterDC's 7
models that solve a prompt) train a BERT router that ranks difficulty better within sources? Train rows
take the graded label, validation rows keep the routed-pair label, so every run is scored on the same
targets (mean per-source ROC-AUC, sources with >= 5 rows per label). Seed 0, config.yaml's BERT params."""
import sys
from pathlib import Path

import polars as pl
import torch
from loguru import logger

from ragrouter.common.io import setup_logging
from ragrouter.data.corpus import balance_within_source, build_corpus
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.routers.registry import train_router

setup_logging(sys.argv[1])
torch.set_num_threads(2)
corpus = pl.read_parquet("resources/corpus/corpus.parquet")
graded, _ = build_corpus(Path("resources/data"), ["routerbench-zs", "routerdc-7models"], 1000, 0, labels="graded")
graded = graded.select("id", pl.col("weak_score").alias("graded_score"), pl.col("label").alias("graded_label"))
joined = corpus.join(graded, on="id", how="left")
is_train = pl.col("split") == "train"
regraded = joined.with_columns(
    pl.when(is_train & pl.col("graded_score").is_not_null()).then(pl.col("graded_score")).otherwise(pl.col("weak_score")).alias("weak_score"),
    pl.when(is_train & pl.col("graded_score").is_not_null()).then(pl.col("graded_label")).otherwise(pl.col("label")).alias("label"),
).drop("graded_score", "graded_label")
for source in ["routerbench-zs", "routerdc-7models"]:
    train = regraded.filter(is_train & (pl.col("source") == source))
    logger.info(f"{source}: graded train weak_score counts 1..5 {[int((train['weak_score'] == s).sum()) for s in range(1, 6)]}, strong share {train['label'].mean():.3f}")
val = ValidationSet.of(corpus.filter(pl.col("split") == "validation"))
params = {"epochs": 1, "max_length": 96, "train_dtype": "float32", "inference_dtype": "float32", "validation_metric": "per_source"}
for name, frame in [("graded labels", regraded), ("graded labels, balanced within source", balance_within_source(regraded, 0))]:
    logger.info(f"=== {name}: {frame.filter(is_train).height} train rows")
    router = train_router("bert", frame, pl.DataFrame(), params, 0, "resources/models/encoder")
    scores = router.strong_win_rates(val.prompts)
    logger.info(f"=== {name}: final validation (routed-pair labels) {val.summary(scores)}; selection metric {val.auc(scores, 'per_source'):.4f}")
