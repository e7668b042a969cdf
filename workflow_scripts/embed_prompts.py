"""Embed one prompt set (training corpus and battles, or a benchmark) with the encoder."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
import torch
from loguru import logger

from ragrouter.common.embeddings import SentenceEncoder, embed_prompts
from ragrouter.common.io import setup_logging

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
settings = snakemake.params.embedding  # noqa: F821
encoder = SentenceEncoder(snakemake.input.model, settings.get("max_length", 256), settings.get("batch_size", 64))  # noqa: F821
prompts = [p for path in snakemake.input.prompts for p in pl.read_parquet(path, columns=["prompt"])["prompt"].to_list()]  # noqa: F821
table = embed_prompts(prompts, encoder, snakemake.output[0])  # noqa: F821
logger.info(f"embedded {table.height} distinct prompts ({len(prompts)} rows) into {encoder.dim}-d vectors")
