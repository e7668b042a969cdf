"""RouteLLM's random router on one benchmark: one score file per iteration."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
from loguru import logger

from ragrouter.common.io import setup_logging
from ragrouter.routers.base import write_scores
from ragrouter.routers.random_router import random_iterations

setup_logging(snakemake.log[0])  # noqa: F821
benchmark = pl.read_parquet(snakemake.input[0])  # noqa: F821
iterations = random_iterations(benchmark.height, len(snakemake.output))  # noqa: F821
for scores, path in zip(iterations, snakemake.output, strict=True):  # noqa: F821
    write_scores(benchmark, scores, path)
logger.info(f"random router: {len(iterations)} iterations x {benchmark.height} prompts")
