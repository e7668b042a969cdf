"""Serving check: the full RAGRouter scores a benchmark from raw prompts (live features), at a
threshold calibrated on the corpus' validation split; batched throughput, single-prompt latency and
agreement with the workflow's score file are written to JSON for the report."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import numpy as np
import polars as pl
import torch
from loguru import logger

from ragrouter.common.io import setup_logging, write_json
from ragrouter.common.onnx_inference import configured_backend
from ragrouter.data.benchmarks import spread_every
from ragrouter.routers.base import check_score_file
from ragrouter.serving import route as serve

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs, params = snakemake.input, snakemake.params  # noqa: F821
router = serve.load_router(inputs.router, inputs.encoder, inputs.get("fusion"))
router.use_backend(configured_backend(params.inference_backend, inputs.get("validation")), snakemake.threads)  # the workflow's own path  # noqa: F821
calibration = serve.calibration_prompts(inputs.corpus)
calibration_scores, calibration_rate, _ = serve.timed_scores(router, calibration)
threshold = serve.calibrate_threshold(calibration_scores, params.strong_percent)
benchmark = pl.read_parquet(inputs.benchmark)
workflow_scores = check_score_file(pl.read_parquet(inputs.scores), benchmark, inputs.scores)
every = spread_every(benchmark.height, params.max_prompts)
benchmark, workflow_scores = benchmark.gather_every(every), workflow_scores[::every]
scores, rate, features_share = serve.timed_scores(router, benchmark["prompt"].to_list())
strong = serve.route(scores, threshold)
one_at_a_time = benchmark["prompt"].sample(min(params.latency_prompts, benchmark.height), seed=0).to_list()
serve.single_prompt_latency(router, one_at_a_time[:5])  # warm-up: first calls pay lazy initialisation
latency = serve.single_prompt_latency(router, one_at_a_time)
result = {
    "router": params.router_id,
    "benchmark": params.benchmark,
    "threads": torch.get_num_threads(),
    "inference_backend": router.classifier.fast.backend if router.classifier.fast is not None else "torch",
    "classifier_in_score": router.classifier_in_score,
    "calibration_prompts": len(calibration),
    "strong_percent_target": params.strong_percent,
    "threshold": threshold,
    "benchmark_prompts": benchmark.height,
    "every": every,
    "benchmark_strong_percent": 100.0 * float(strong.mean()),
    "prompts_per_s": rate,
    "features_time_share": features_share,
    "calibration_prompts_per_s": calibration_rate,
    "max_abs_diff_vs_workflow_scores": float(np.max(np.abs(scores - workflow_scores))),
    **latency,
}
logger.info(f"serving check: {result}")
write_json(result, snakemake.output[0])  # noqa: F821
