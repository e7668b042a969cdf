"""sha1 of every prompt any trained router or knowledge base of the run uses."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
from loguru import logger

from ragrouter.io import setup_logging, sha1_text, write_gzip_lines

setup_logging(snakemake.log[0])  # noqa: F821
prompts = set()
for path in snakemake.input:  # noqa: F821
    prompts.update(pl.read_parquet(path, columns=["prompt"])["prompt"].to_list())
hashes = sorted({sha1_text(p) for p in prompts})
logger.info(f"{len(hashes)} distinct training prompts from {len(snakemake.input)} files")  # noqa: F821
write_gzip_lines(hashes, snakemake.output[0])  # noqa: F821
