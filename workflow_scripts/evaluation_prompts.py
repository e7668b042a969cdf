"""Every prompt of every configured benchmark, never subsampled: what decontamination checks against
(a benchmark scored every N-th prompt is still evaluated on the rest by anyone who scores it fully)."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
from loguru import logger

from ragrouter.common.io import setup_logging, write_parquet
from ragrouter.data.benchmarks import load_benchmark

setup_logging(snakemake.log[0])  # noqa: F821
frames = [load_benchmark(name, Path(snakemake.input[0]), snakemake.params.strong, snakemake.params.weak).select("prompt", "prompt_sha1", benchmark=pl.lit(name)) for name in snakemake.params.benchmarks]  # noqa: F821
table = pl.concat(frames)
logger.info(", ".join(f"{f['benchmark'][0]}: {f.height} prompts" for f in frames))
write_parquet(table, snakemake.output[0])  # noqa: F821
