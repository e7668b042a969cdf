"""Score every benchmark with the full RAGRouter (seed 0) through the float32 torch path and each fast
backend; write the agreement (Spearman, APGR difference) and throughput of each to JSON."""

import sys
import time
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
import torch
from loguru import logger

from ragrouter.common.io import setup_logging, write_json
from ragrouter.evaluation.metrics import agreement
from ragrouter.method.classifier import FeatureTable
from ragrouter.routers.registry import load_checkpoint

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs, params = snakemake.input, snakemake.params  # noqa: F821
router = load_checkpoint(inputs.router)
router.features = FeatureTable(inputs.features)
checkpoint_dtype = router.classifier.dtype
router.classifier.to_float32()  # the reference, whatever the checkpoint's own inference dtype


def timed_scores(prompts):
    start = time.perf_counter()
    scores = router.strong_win_rates(prompts)
    return scores, len(prompts) / max(time.perf_counter() - start, 1e-9)


rows = []
for path in inputs.benchmarks:
    name, benchmark = Path(path).stem, pl.read_parquet(path)
    prompts = benchmark["prompt"].to_list()
    router.use_backend("torch")
    reference, reference_rate = timed_scores(prompts)
    for backend in params.backends:
        router.use_backend(backend, snakemake.threads)  # noqa: F821
        fast, rate = timed_scores(prompts)
        row = {"benchmark": name, "backend": backend, **agreement(reference, fast, benchmark, name), "prompts_per_s": rate, "reference_prompts_per_s": reference_rate}
        logger.info(f"{name} {backend}: {row}")
        rows.append(row)
write_json({"router": params.router_id, "checkpoint_dtype": checkpoint_dtype, "threads": snakemake.threads, "rows": rows}, snakemake.output[0])  # noqa: F821
