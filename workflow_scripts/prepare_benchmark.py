"""Load one RouteLLM benchmark in RouteLLM's row order and store it as parquet."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

from loguru import logger

from ragrouter.common.io import setup_logging, write_parquet
from ragrouter.data.benchmarks import load_benchmark, subsample

setup_logging(snakemake.log[0])  # noqa: F821
name = snakemake.wildcards.benchmark  # noqa: F821
table = load_benchmark(name, Path(snakemake.input[0]), snakemake.params.strong, snakemake.params.weak)  # noqa: F821
if snakemake.params.subsample > 1:  # noqa: F821 - CPU-budget and CI configs
    table = subsample(table, snakemake.params.subsample)  # noqa: F821
    logger.warning(f"{name}: subsampled every {snakemake.params.subsample}-th prompt (benchmark_subsample in the config)")  # noqa: F821
logger.info(f"{name}: {table.height} prompts after decontamination; strong {table['strong'].mean():.4f}, weak {table['weak'].mean():.4f}")
write_parquet(table, snakemake.output[0])  # noqa: F821
