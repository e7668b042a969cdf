"""Issue 13 items 3-4: threads for training. The BERT router (config.yaml's params, seed 0) trains on
the reference corpus: one process on 2 threads, one on 1 thread, and two 1-thread processes at once
(Snakemake with --cores 2 and `threads: 1`). Run from the repository root after
`snakemake --cores 2 resources/corpus/corpus.parquet resources/models/encoder`:

    python logs/experiments/threads/training_threads.py > logs/experiments/threads/training_threads.log
"""

import json
import subprocess
import sys
import time

CHILD = """
import sys, time, torch, yaml, polars as pl
from loguru import logger
from ragrouter.routers import bert_classifier as bc
logger.remove()
threads = int(sys.argv[1])
torch.set_num_threads(threads)
params = {**yaml.safe_load(open("config.yaml"))["routers"]["bert"]["params"], "threads": threads}
corpus = pl.read_parquet("resources/corpus/corpus.parquet")
start = time.perf_counter()
router = bc.train(corpus, params, 0, "resources/models/encoder")
print(time.perf_counter() - start)
"""


def run(threads: int, copies: int) -> tuple[list[float], float]:
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(threads)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) for _ in range(copies)]
    seconds = [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return seconds, time.perf_counter() - start


for threads, copies in [(2, 1), (1, 1), (1, 2)]:
    seconds, wall = run(threads, copies)
    print(json.dumps({"threads": threads, "processes": copies, "train_s_each": [round(s, 1) for s in seconds], "trainings_per_hour": round(3600 * copies / wall, 1), "wall_s": round(wall, 1)}), flush=True)
