"""Are the scores the same with 1 and 2 threads? The BERT router (config.yaml params, seed 0) trained
with each thread count, then both checkpoints score the 1,033 validation rows and MMLU's 1,404 scored
prompts with 1 and 2 threads. Run from the repository root as training_threads.py is:

    python logs/experiments/threads/thread_equality.py > logs/experiments/threads/thread_equality.log
"""

import json
import subprocess
import sys
import tempfile

TRAIN = """
import sys, torch, yaml, polars as pl
from loguru import logger
from ragrouter.routers import bert_classifier as bc
logger.remove()
threads = int(sys.argv[1])
torch.set_num_threads(threads)
params = {**yaml.safe_load(open("config.yaml"))["routers"]["bert"]["params"], "threads": threads}
bc.train(pl.read_parquet("resources/corpus/corpus.parquet"), params, 0, "resources/models/encoder").save(sys.argv[2])
"""
SCORE = """
import sys, torch, numpy as np, polars as pl
from ragrouter.routers import bert_classifier as bc
torch.set_num_threads(int(sys.argv[1]))
router = bc.load(sys.argv[2])
corpus = pl.read_parquet("resources/corpus/corpus.parquet").filter(pl.col("split") == "validation")
prompts = corpus["prompt"].to_list() + pl.read_parquet("resources/benchmarks/mmlu.parquet")["prompt"].to_list()
np.save(sys.argv[3], router.strong_win_rates(prompts))
"""

import numpy as np  # noqa: E402

with tempfile.TemporaryDirectory() as tmp:
    procs = [subprocess.Popen([sys.executable, "-c", TRAIN, str(t), f"{tmp}/train-{t}"], stderr=subprocess.DEVNULL) for t in (1, 2)]
    assert all(p.wait() == 0 for p in procs)
    scores = {}
    for trained in (1, 2):
        for scoring in (1, 2):
            subprocess.run([sys.executable, "-c", SCORE, str(scoring), f"{tmp}/train-{trained}", f"{tmp}/s-{trained}-{scoring}.npy"], check=True, stderr=subprocess.DEVNULL)
            scores[(trained, scoring)] = np.load(f"{tmp}/s-{trained}-{scoring}.npy")
    reference = scores[(2, 2)]  # today's setting: trained and scored with 2 threads
    for key, value in scores.items():
        print(json.dumps({"train_threads": key[0], "score_threads": key[1], "max_abs_diff_vs_2_2": float(np.abs(value - reference).max()), "prompts": len(value)}), flush=True)
