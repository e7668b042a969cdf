"""Perplexity of every train prompt of the augmented corpus under the causal LM (for dynamic sampling)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
import torch

from ragrouter.common.io import setup_logging, write_parquet
from ragrouter.method.perplexity import perplexities

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
settings = snakemake.params.perplexity  # noqa: F821
prompts = pl.read_parquet(snakemake.input.corpus).filter(pl.col("split") == "train")["prompt"].unique(maintain_order=True)  # noqa: F821
ppl = perplexities(prompts.to_list(), snakemake.input.model, settings.get("max_length", 128), settings.get("batch_size", 16))  # noqa: F821
write_parquet(pl.DataFrame({"prompt": prompts, "ppl": ppl}), snakemake.output[0])  # noqa: F821
