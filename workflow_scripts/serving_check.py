"""Serving check: the full RAGRouter scores a benchmark from raw prompts (live features), at a
threshold calibrated on the corpus' validation split; throughput and agreement with the workflow's
score file are written to JSON for the report."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import numpy as np
import polars as pl
import torch
from loguru import logger

from ragrouter.common.io import setup_logging, write_json
from ragrouter.routers.base import check_score_file
from ragrouter.serving import route as serve

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs, params = snakemake.input, snakemake.params  # noqa: F821
router = serve.load_router(inputs.router, inputs.encoder, inputs.get("fusion"))
calibration = serve.calibration_prompts(inputs.corpus)
calibration_scores, calibration_rate, _ = serve.timed_scores(router, calibration)
threshold = serve.calibrate_threshold(calibration_scores, params.strong_percent)
benchmark = pl.read_parquet(inputs.benchmark)
scores, rate, features_share = serve.timed_scores(router, benchmark["prompt"].to_list())
workflow_scores = check_score_file(pl.read_parquet(inputs.scores), benchmark, inputs.scores)
strong = serve.route(scores, threshold)
result = {
    "router": params.router_id,
    "benchmark": params.benchmark,
    "threads": torch.get_num_threads(),
    "calibration_prompts": len(calibration),
    "strong_percent_target": params.strong_percent,
    "threshold": threshold,
    "benchmark_prompts": benchmark.height,
    "benchmark_strong_percent": 100.0 * float(strong.mean()),
    "prompts_per_s": rate,
    "features_time_share": features_share,
    "calibration_prompts_per_s": calibration_rate,
    "max_abs_diff_vs_workflow_scores": float(np.max(np.abs(scores - workflow_scores))),
}
logger.info(f"serving check: {result}")
write_json(result, snakemake.output[0])  # noqa: F821
