"""Issue 13: freezing the causal-LLM baseline's input embeddings, so its frozen lower layers' states
are computed once per prompt set for all seeds. Trains the router as rule train_router does
(config.yaml's causal_llm params + freeze_input_embeddings) on a run's corpus, prints its validation
summary (the log) and times scoring 400 validation prompts from their lower states vs from tokens:
    python logs/experiments/causal_frozen_embeddings/run.py RESOURCES_DIR SEED
"""

import sys
import tempfile
import time

import numpy as np
import polars as pl
import torch
import yaml

from ragrouter.common.io import setup_logging
from ragrouter.routers import causal_llm as cl
from ragrouter.routers.registry import train_router

resources, seed = sys.argv[1], int(sys.argv[2])
setup_logging(f"logs/experiments/causal_frozen_embeddings/seed-{seed}.log")
torch.set_num_threads(1)
params = {**yaml.safe_load(open("config.yaml"))["routers"]["causal_llm"]["params"], "freeze_input_embeddings": True}
corpus = pl.read_parquet(f"{resources}/corpus/corpus.parquet")
start = time.perf_counter()
router = train_router("causal_llm", corpus, pl.read_parquet(f"{resources}/corpus/battles.parquet"), params, seed, f"{resources}/models/causal_lm", None)
print(f"seed {seed}: trained in {time.perf_counter() - start:.0f} s", flush=True)
prompts = corpus.filter(pl.col("split") == "validation")["prompt"].to_list()[:400]
with tempfile.TemporaryDirectory() as tmp:
    start = time.perf_counter()
    cl.write_lower_states(f"{resources}/models/causal_lm", prompts, params, f"{tmp}/states", threads=1)
    lower = time.perf_counter() - start
    router.attach_lower_states([f"{tmp}/states"])
    start = time.perf_counter()
    cached = router.strong_win_rates(prompts)
    upper = time.perf_counter() - start
router.lower_states, router.frozen_layers = None, 0
start = time.perf_counter()
direct = router.strong_win_rates(prompts)
whole = time.perf_counter() - start
print(f"400 prompts: lower states {400 / lower:.1f} prompts/s, scoring from them {400 / upper:.1f} prompts/s, "
      f"from tokens {400 / whole:.1f} prompts/s; max |difference| {np.abs(cached - direct).max():.2e}", flush=True)
