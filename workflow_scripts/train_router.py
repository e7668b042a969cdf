"""Train one router for one seed and save its checkpoint."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
import torch

from ragrouter.common.io import setup_logging, write_parquet
from ragrouter.evaluation.validation import validation_scores
from ragrouter.routers.registry import make_encoder, save_checkpoint, train_router

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs = snakemake.input  # noqa: F821
encoder = make_encoder(inputs.model, [inputs.embeddings], snakemake.params.embedding) if "embeddings" in inputs.keys() else None  # noqa: F821
corpus = pl.read_parquet(inputs.corpus)
router = train_router(
    snakemake.params.kind,  # noqa: F821
    corpus,
    pl.read_parquet(inputs.battles),
    snakemake.params.params,  # noqa: F821
    int(snakemake.wildcards.seed),  # noqa: F821
    inputs.model,
    encoder,
)
save_checkpoint(router, snakemake.output.checkpoint)  # noqa: F821
write_parquet(validation_scores(router, corpus), snakemake.output.validation)  # noqa: F821
