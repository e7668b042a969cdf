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
if "fusion" in inputs.keys():
    vectors = FusionEncoder.load(inputs.fusion, inputs.model).encode(prompts)
else:
    settings = feature_settings(snakemake.params.fusion.get("params", {}), fused=False)  # noqa: F821
    vectors = mean_pooled_semantic(prompts, inputs.model, settings["max_length"], truncation=settings["truncation"])
table = pl.DataFrame({"prompt_sha1": [sha1_text(p) for p in prompts], "vector": vectors.tolist()})
write_parquet(table.with_columns(pl.col("vector").cast(pl.List(pl.Float32))), snakemake.output[0])  # noqa: F821
