"""Score every benchmark (at most serving.max_prompts of each, spread over it) with the full RAGRouter
(seed 0) through the float32 torch path and each fast backend; write the agreement (Spearman, APGR difference) and throughput of each to JSON."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
import torch
from loguru import logger

from ragrouter.common.io import setup_logging, write_json
from ragrouter.data.benchmarks import spread_every
from ragrouter.evaluation.metrics import agreement
from ragrouter.method.classifier import FeatureTable
from ragrouter.routers.registry import load_checkpoint
from ragrouter.serving.route import timed_scores

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs, params = snakemake.input, snakemake.params  # noqa: F821
router = load_checkpoint(inputs.router)
router.features = FeatureTable(inputs.features)
checkpoint_dtype = router.classifier.dtype
router.classifier.to_float32()  # the reference, whatever the checkpoint's own inference dtype
benchmarks = {Path(path).stem: pl.read_parquet(path) for path in inputs.benchmarks}
benchmarks = {name: b.gather_every(spread_every(b.height, params.max_prompts)) for name, b in benchmarks.items()}
router.use_backend("torch")
reference = {name: timed_scores(router, b["prompt"].to_list())[:2] for name, b in benchmarks.items()}
rows = []
for backend in params.backends:
    router.use_backend(backend, snakemake.threads)  # exported (and quantised) once per backend  # noqa: F821
    for name, benchmark in benchmarks.items():
        fast, rate, _ = timed_scores(router, benchmark["prompt"].to_list())
        row = {"benchmark": name, "backend": backend, **agreement(reference[name][0], fast, benchmark, name), "prompts_per_s": rate, "reference_prompts_per_s": reference[name][1]}
        logger.info(f"{name} {backend}: {row}")
        rows.append(row)
rows.sort(key=lambda row: list(benchmarks).index(row["benchmark"]))  # benchmark by benchmark, backends in order
write_json({"router": params.router_id, "checkpoint_dtype": checkpoint_dtype, "classifier_in_score": router.classifier_in_score, "threads": snakemake.threads, "rows": rows}, snakemake.output[0])  # noqa: F821
