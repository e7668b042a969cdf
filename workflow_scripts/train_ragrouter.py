"""Fine-tune one RAGRouter variant's classifier on RAG prompts (rag=on) or bare queries (rag=off),
under `accelerate launch` when the config asks for several processes."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import torch

from ragrouter.common.io import setup_logging
from ragrouter.routers.train_job import RAGRouterJob, train

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs, wildcards, params = snakemake.input, snakemake.wildcards, snakemake.params  # noqa: F821
rag = wildcards.rag == "on"
job = RAGRouterJob(
    corpus=inputs.corpus,
    queries=inputs.queries if rag else None,
    kb=inputs.kb if rag else None,
    features=inputs.features,
    rag=params.rag,
    classifier=params.classifier,
    fusion=params.fusion,
    fused=wildcards.feat == "on",
    seed=int(wildcards.seed),
    model_dir=inputs.model,
    checkpoint=snakemake.output.checkpoint,  # noqa: F821
    validation=snakemake.output.validation,  # noqa: F821
    int8_check=snakemake.params.int8_check,  # noqa: F821
)
train(job, params.processes)
