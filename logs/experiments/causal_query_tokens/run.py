"""Issue 13: the causal-LLM baseline's query budget chosen on validation per unit time.

Trains the router exactly as rule train_router does (config.yaml's causal_llm params, with
max_query_tokens replaced) on the committed run's corpus, and prints its validation summary:
    python logs/experiments/causal_query_tokens/run.py RESOURCES_DIR MAX_QUERY_TOKENS SEED
"""

import sys
import time

import polars as pl
import torch
import yaml

from ragrouter.common.io import setup_logging
from ragrouter.routers.registry import train_router

resources, tokens, seed = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
setup_logging(f"logs/experiments/causal_query_tokens/q{tokens}_seed-{seed}.log")
torch.set_num_threads(1)
params = {**yaml.safe_load(open("config.yaml"))["routers"]["causal_llm"]["params"], "max_query_tokens": tokens}
start = time.perf_counter()
router = train_router("causal_llm", pl.read_parquet(f"{resources}/corpus/corpus.parquet"), pl.read_parquet(f"{resources}/corpus/battles.parquet"), params, seed, f"{resources}/models/causal_lm", None)
print(f"max_query_tokens {tokens} seed {seed}: trained in {time.perf_counter() - start:.0f} s")
