"""Issue 13 item 3: thread settings by measurement. The BERT router (seed 0, config.yaml) scores all
1,404 scored MMLU prompts (float32 torch): one process on 2 threads, one on 1 thread, and two 1-thread
processes at once (what Snakemake runs with --cores 2 and `threads: 1`). Run from the repository root
after `snakemake --cores 2 resources/routers/bert/seed-0 resources/benchmarks/mmlu.parquet`:

    python logs/experiments/threads/scoring_threads.py > logs/experiments/threads/scoring_threads.log
"""

import json
import subprocess
import sys
import time

CHILD = """
import sys, time, torch, polars as pl
from ragrouter.routers import bert_classifier as bc
torch.set_num_threads(int(sys.argv[1]))
router = bc.load("resources/routers/bert/seed-0")
prompts = pl.read_parquet("resources/benchmarks/mmlu.parquet")["prompt"].to_list()
router.strong_win_rates(prompts[:64])  # warm-up
start = time.perf_counter()
router.strong_win_rates(prompts)
print(len(prompts) / (time.perf_counter() - start))
"""


def run(threads: int, copies: int) -> list[float]:
    start = time.perf_counter()
    procs = [subprocess.Popen([sys.executable, "-c", CHILD, str(threads)], stdout=subprocess.PIPE, text=True) for _ in range(copies)]
    rates = [float(p.communicate()[0].strip().splitlines()[-1]) for p in procs]
    return rates, time.perf_counter() - start


for threads, copies in [(2, 1), (1, 1), (1, 2)]:
    rates, wall = run(threads, copies)
    print(json.dumps({"threads": threads, "processes": copies, "prompts_per_s_each": [round(r, 1) for r in rates], "prompts_per_s_total": round(sum(rates), 1), "wall_s": round(wall, 1)}), flush=True)
