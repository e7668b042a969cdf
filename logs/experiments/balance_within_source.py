"""Exploratory: does balancing labels within sources help the BERT router on validation (mean
per-source ROC-AUC)? Seed 0, config.yaml's BERT params, the reference corpus (1,000 rows per source)."""
import sys
import polars as pl
import torch
from ragrouter.common.io import setup_logging
from ragrouter.data.corpus import balance_within_source
from ragrouter.routers.registry import train_router
from ragrouter.routers.prompt_length import PromptLengthRouter
from ragrouter.evaluation.validation import ValidationSet
from loguru import logger

setup_logging(sys.argv[1])
torch.set_num_threads(2)
corpus = pl.read_parquet("resources/corpus/corpus.parquet")
val = ValidationSet.of(corpus.filter(pl.col("split") == "validation"))
logger.info(f"prompt_length control on validation: {val.summary(PromptLengthRouter().strong_win_rates(val.prompts))}")
params = {"epochs": 1, "max_length": 96, "train_dtype": "float32", "inference_dtype": "float32", "validation_metric": "per_source"}
for name, frame in [("pooled labels", corpus), ("balanced within source", balance_within_source(corpus, 0))]:
    logger.info(f"=== {name}: {frame.filter(pl.col('split') == 'train').height} train rows")
    router = train_router("bert", frame, pl.DataFrame(), params, 0, "resources/models/encoder")
    logger.info(f"=== {name}: final validation {val.summary(router.strong_win_rates(val.prompts))}")
