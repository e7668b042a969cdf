"""PPL-weighted dynamic sampling and label rebalancing of a (possibly augmented) corpus."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl

from ragrouter.common.io import setup_logging, write_parquet
from ragrouter.method.sampling import dynamic_sample

setup_logging(snakemake.log[0])  # noqa: F821
corpus = pl.read_parquet(snakemake.input.corpus)  # noqa: F821
ppl = corpus.join(pl.read_parquet(snakemake.input.perplexity), on="prompt", how="left", maintain_order="left")["ppl"]  # noqa: F821
original = pl.read_parquet(snakemake.input.original).filter(pl.col("split") == "train").height  # noqa: F821
params = {"original_size": original, **snakemake.params.sample}  # noqa: F821
write_parquet(dynamic_sample(corpus, ppl.to_numpy(), params, snakemake.params.seed), snakemake.output[0])  # noqa: F821
