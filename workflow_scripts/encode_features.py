"""Query vectors of one prompt set from one frozen-encoder pass: fused h_fuse_global with the parse's
structure statistics (feat=on) and the mean-pooled encoder states (feat=off)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
import torch

from ragrouter.common.io import setup_logging, sha1_text, write_parquet
from ragrouter.method.fusion import FusionEncoder, feature_settings

setup_logging(snakemake.log[0])  # noqa: F821
torch.set_num_threads(snakemake.threads)  # noqa: F821
inputs, output = snakemake.input, snakemake.output  # noqa: F821
encoder = FusionEncoder.load(inputs.fusion, inputs.model)
expected = feature_settings(snakemake.params.fusion.get("params", {}), fused=False)  # noqa: F821
if encoder.pooled_settings != expected:  # the feat=off vectors must be what RAGRouter checkpoints and serving expect
    raise ValueError(f"{inputs.fusion}: tokenisation {encoder.pooled_settings} differs from the config's fusion params {expected}; rerun train_fusion")
prompts = pl.concat([pl.read_parquet(path, columns=["prompt"]) for path in snakemake.input.prompts])["prompt"].unique(maintain_order=True).to_list()  # noqa: F821
vectors, statistics, pooled = encoder.encode_all(prompts)
keys = pl.Series("prompt_sha1", [sha1_text(p) for p in prompts])
fused = pl.DataFrame([keys, pl.Series("statistics", statistics.tolist(), dtype=pl.List(pl.Float32)), pl.Series("vector", vectors.tolist(), dtype=pl.List(pl.Float32))])
write_parquet(fused, output.fused)
write_parquet(pl.DataFrame([keys, pl.Series("vector", pooled.tolist(), dtype=pl.List(pl.Float32))]), output.pooled)
