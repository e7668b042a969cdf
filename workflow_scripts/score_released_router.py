"""Score one benchmark with one of RouteLLM's released routers, through `routellm`'s own class."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
import torch
from loguru import logger

from ragrouter.common.io import setup_logging
from ragrouter.routers.base import write_scores
from ragrouter.serving.routellm_bridge import released_router_scores

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
params = snakemake.params  # noqa: F821
benchmark = pl.read_parquet(snakemake.input.benchmark)  # noqa: F821
logger.info(f"routellm {params.kind}: {params.config}; {benchmark.height} prompts")
scores = released_router_scores(params.kind, params.config, benchmark["prompt"].to_list(), params.embeddings_base_url)
write_scores(benchmark, scores, snakemake.output[0])  # noqa: F821
