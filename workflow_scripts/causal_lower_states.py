"""A causal-LLM router's frozen lower layers run once over a benchmark's prompts, for every seed's
checkpoint to continue from (routers.causal_llm `freeze_input_embeddings`)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl

from ragrouter.common.io import setup_logging
from ragrouter.routers.causal_llm import write_lower_states

setup_logging(snakemake.log[0])  # noqa: F821
prompts = pl.read_parquet(snakemake.input.prompts)["prompt"].to_list()  # noqa: F821
write_lower_states(snakemake.input.model, prompts, snakemake.params.params, snakemake.output[0], snakemake.threads)  # noqa: F821
