"""Fine-tune one RAGRouter variant's classifier on RAG prompts (rag=on) or bare queries (rag=off)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
import torch

from ragrouter.common.io import setup_logging, write_parquet
from ragrouter.common.seeding import seed_everything
from ragrouter.evaluation.validation import validation_scores
from ragrouter.method import classifier
from ragrouter.method.fusion import feature_settings
from ragrouter.method.knowledge_base import KnowledgeBase
from ragrouter.routers.registry import save_checkpoint

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs, wildcards = snakemake.input, snakemake.wildcards  # noqa: F821
seed = int(wildcards.seed)
seed_everything(seed)
rag = wildcards.rag == "on"
kb = KnowledgeBase.load(inputs.kb) if rag else None
corpus = pl.read_parquet(inputs.corpus)
rows = pl.read_parquet(inputs.queries) if rag else corpus.filter(pl.col("split") == "train")  # rag=off: all training rows
validation = corpus.filter(pl.col("split") == "validation")
features = classifier.FeatureTable([inputs.features])
family_rows = corpus.filter(pl.col("split") == "train")
router = classifier.train(rows, validation, kb, features, family_rows, snakemake.params.rag, snakemake.params.classifier, seed, inputs.model)  # noqa: F821
router.feature_settings = feature_settings(snakemake.params.fusion, fused=wildcards.feat == "on")  # noqa: F821
save_checkpoint(router, snakemake.output.checkpoint)  # noqa: F821
write_parquet(validation_scores(router, validation), snakemake.output.validation)  # noqa: F821
