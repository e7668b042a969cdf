"""Query vectors of one prompt set: fused h_fuse_global (feat=on) or mean-pooled encoder states (feat=off)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
import torch

from ragrouter.common.io import setup_logging, sha1_text, write_parquet
from ragrouter.method.fusion import (
    FusionEncoder,
    feature_settings,
    mean_pooled_semantic,
)

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs = snakemake.input  # noqa: F821
prompts = pl.read_parquet(inputs.prompts)["prompt"].unique(maintain_order=True).to_list()
table = pl.DataFrame({"prompt_sha1": [sha1_text(p) for p in prompts]})
if "fusion" in inputs.keys():  # feat=on: h_fuse_global and the parse's structure statistics
    vectors, statistics = FusionEncoder.load(inputs.fusion, inputs.model).encode_with_statistics(prompts)
    table = table.with_columns(pl.Series("statistics", statistics.tolist(), dtype=pl.List(pl.Float32)))
else:
    settings = feature_settings(snakemake.params.fusion.get("params", {}), fused=False)  # noqa: F821
    vectors = mean_pooled_semantic(prompts, inputs.model, settings["max_length"], truncation=settings["truncation"])
write_parquet(table.with_columns(pl.Series("vector", vectors.tolist(), dtype=pl.List(pl.Float32))), snakemake.output[0])  # noqa: F821
