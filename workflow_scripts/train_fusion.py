"""Train the semantic-syntactic fusion encoder (GraphSAGE + cross-modal attention) on train prompts."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
import torch

from ragrouter.common.io import atomic_dir, setup_logging
from ragrouter.method.fusion import train_fusion
from ragrouter.method.knowledge_base import split_kb

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
settings, seed = snakemake.params.fusion, snakemake.params.seed  # noqa: F821
# The knowledge-base split of the original corpus only (the same 7:3 split as build_knowledge_base).
train, _ = split_kb(pl.read_parquet(snakemake.input.corpus), snakemake.params.kb_fraction, seed)  # noqa: F821
train = train.sample(min(settings.get("train_examples", train.height), train.height), seed=seed, shuffle=True)
model = train_fusion(train["prompt"].to_list(), train["weak_score"].to_list(), snakemake.input.model, params=settings.get("params", {}), seed=seed)  # noqa: F821
with atomic_dir(snakemake.output[0]) as tmp:  # noqa: F821
    model.save(tmp)
