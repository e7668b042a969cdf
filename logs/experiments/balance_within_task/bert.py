"""The BERT router under both label balances (the second half of `run.py`): the balance is a corpus
choice every router shares, so the fine-tuned classifier's validation must agree before it changes.
config.yaml's BERT params (one epoch, 96 tokens, float32), seed 0; scored on the same 1,033 validation
rows (routed-pair labels), per-task and per-source means. No benchmark prompt is read.

Usage: python logs/experiments/balance_within_task/bert.py RUN_CHECKOUT LOG
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))

import polars as pl
import torch
from loguru import logger

from ragrouter.common.io import setup_logging
from ragrouter.data.corpus import balance_within, cap_train_rows, prepare_corpus
from ragrouter.evaluation.validation import ValidationSet
from ragrouter.routers.registry import train_router

run = Path(sys.argv[1])
setup_logging(sys.argv[2])
torch.set_num_threads(2)
corpus, battles = prepare_corpus(
    run / "resources/data",
    {"sources": ["routerbench-zs", "routerdc-7models", "alpaca-eval", "arena-bench-v1", "gpt4_dataset"], "ngram": 13, "validation_fraction": 0.1, "split_seed": 0, "labels": "graded"},
    pl.read_parquet(run / "resources/benchmarks/evaluation_prompts.parquet")["prompt"].to_list(),
)  # decontaminated, split, graded; the cap and the balance follow below
val = ValidationSet.of(corpus.filter(pl.col("split") == "validation"))
bert = {"epochs": 1, "max_length": 96, "train_dtype": "float32", "inference_dtype": "float32"}
for within in ["source", "task"]:
    frame = balance_within(cap_train_rows(corpus, battles, 1000, 0)[0], 0, within)
    start = time.time()
    router = train_router("bert", frame, pl.DataFrame(), bert, 0, run / "resources/models/encoder")
    scores = router.strong_win_rates(val.prompts)
    logger.info(f"=== BERT, balance within {within}: {frame.filter(pl.col('split') == 'train').height} train rows, "
                f"{time.time() - start:.0f} s; validation per-task {val.auc(scores, 'per_task'):.3f}, {val.summary(scores)}")
