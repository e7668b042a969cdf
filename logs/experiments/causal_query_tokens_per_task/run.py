"""The causal-LLM baseline's query budget, chosen again on the per-task mean (issue 12 item 3): the
16 tokens of config.yaml were chosen on the mean per-source ROC-AUC (`causal_query_tokens`), before
every choice moved to the per-task mean. Trains the router as rule train_router does (config.yaml's
causal_llm params, `max_query_tokens` replaced, 1 thread) and prints REPORT.md's Validation columns
of its validation scores:
    python logs/experiments/causal_query_tokens_per_task/run.py RESOURCES_DIR MAX_QUERY_TOKENS SEED
"""

import sys
import time

import polars as pl
import torch
import yaml

from ragrouter.common.io import setup_logging
from ragrouter.evaluation.validation import validation_scores, validation_table
from ragrouter.routers.registry import train_router

resources, tokens, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
out = f"logs/experiments/causal_query_tokens_per_task/q{tokens}_seed-{seed}"
setup_logging(f"{out}.log")
torch.set_num_threads(1)
params = {**yaml.safe_load(open("config.yaml"))["routers"]["causal_llm"]["params"], "max_query_tokens": tokens}
corpus = pl.read_parquet(f"{resources}/corpus/corpus.parquet")
start = time.perf_counter()
router = train_router("causal_llm", corpus, pl.read_parquet(f"{resources}/corpus/battles.parquet"), params, seed, f"{resources}/models/causal_lm", None)
validation_scores(router, corpus, router.validation_scores).write_parquet(f"{out}.parquet")
table = validation_table({"causal_llm": [f"{out}.parquet"]})
columns = ("mean per-source", "mean per-task", "per-task SE", "pair-weighted per-task")
print(f"max_query_tokens {tokens} seed {seed}: trained in {time.perf_counter() - start:.0f} s; " + ", ".join(f"{k} {table[k][0]:.4f}" for k in columns), flush=True)
