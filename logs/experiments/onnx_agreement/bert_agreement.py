"""Issue 13: the ONNX Runtime paths of the BERT router (seed 0, reference config) against its float32
torch scores on every benchmark prompt of the reference config: Spearman, APGR difference, speed.

    RAGROUTER_DATA_DIR=../shared/data snakemake --cores 2 resources/routers/bert/seed-0 \
        resources/benchmarks/{mmlu,gsm8k,mt_bench}.parquet
    python logs/experiments/onnx_agreement/bert_agreement.py > logs/experiments/onnx_agreement/bert_agreement.log
"""

import json
import time

import polars as pl
import torch

from ragrouter.evaluation.metrics import agreement
from ragrouter.routers import bert_classifier as bc

torch.set_num_threads(2)
router = bc.load("resources/routers/bert/seed-0")
rows = []
for name in ("mmlu", "gsm8k", "mt_bench"):
    benchmark = pl.read_parquet(f"resources/benchmarks/{name}.parquet")
    prompts = benchmark["prompt"].to_list()
    results = {}
    for backend in ("torch", "onnx", "onnx_int8"):
        router.use_backend(backend, 2)
        start = time.perf_counter()
        results[backend] = router.strong_win_rates(prompts)
        results[backend + "_rate"] = len(prompts) / (time.perf_counter() - start)
    for backend in ("onnx", "onnx_int8"):
        row = {"benchmark": name, "backend": backend, **agreement(results["torch"], results[backend], benchmark, name), "prompts_per_s": results[backend + "_rate"], "torch_prompts_per_s": results["torch_rate"]}
        rows.append(row)
        print(json.dumps(row), flush=True)
print(pl.DataFrame(rows))
