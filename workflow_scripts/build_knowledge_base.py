"""Split a variant's training rows 70:30 into the FAISS knowledge base and the classifier's queries."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl

from ragrouter.common.io import atomic_dir, setup_logging, write_parquet
from ragrouter.method.classifier import FeatureTable
from ragrouter.method.knowledge_base import KnowledgeBase, split_kb

setup_logging(snakemake.log[0])  # noqa: F821
params = snakemake.params  # noqa: F821
kb_rows, queries = split_kb(pl.read_parquet(snakemake.input.corpus), params.fraction, params.seed)  # noqa: F821
kb_rows = kb_rows.unique(subset=["prompt"], keep="first", maintain_order=True)  # sampling repeats rows; one entry each
vectors = FeatureTable([snakemake.input.features])(kb_rows["prompt"].to_list())  # noqa: F821
kb = KnowledgeBase.build(vectors, kb_rows["prompt"].to_list(), kb_rows["label"].to_list(), kb_rows["weak_score"].to_list(), params.index)
with atomic_dir(snakemake.output.kb) as tmp:  # noqa: F821
    kb.save(tmp)
write_parquet(queries, snakemake.output.queries)  # noqa: F821
