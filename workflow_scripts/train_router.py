"""Train one router for one seed and save its checkpoint (under `accelerate launch` when the
router's config asks for several processes)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import torch

from ragrouter.common.io import setup_logging
from ragrouter.routers.train_job import TrainJob, train

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs, output = snakemake.input, snakemake.output  # noqa: F821
job = TrainJob(
    kind=snakemake.params.kind,  # noqa: F821
    corpus=inputs.corpus,
    battles=inputs.battles,
    params=snakemake.params.params,  # noqa: F821
    seed=int(snakemake.wildcards.seed),  # noqa: F821
    model_dir=inputs.model,
    checkpoint=output.checkpoint,
    validation=output.validation,
    int8_check=snakemake.params.int8_check,  # noqa: F821
    embeddings=inputs.embeddings if "embeddings" in inputs.keys() else None,
    embedding=snakemake.params.embedding,  # noqa: F821
)
train(job, snakemake.params.processes)  # noqa: F821
