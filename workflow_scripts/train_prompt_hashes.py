"""sha1 of every prompt any trained router or knowledge base of the run uses."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

import polars as pl
from loguru import logger

from ragrouter.common.io import setup_logging, sha1_text, write_gzip_lines

setup_logging(snakemake.log[0])  # noqa: F821
inputs = snakemake.input  # noqa: F821
training = [path for key, path in inputs.items() if key != "evaluation"]
prompts = set()
for path in training:
    prompts.update(pl.read_parquet(path, columns=["prompt"])["prompt"].to_list())
hashes = sorted({sha1_text(p) for p in prompts})
evaluation = set(pl.read_parquet(inputs.evaluation, columns=["prompt_sha1"])["prompt_sha1"].to_list())
overlap = evaluation.intersection(hashes)
if overlap:  # decontamination failed somewhere upstream: stop before anything is reported
    raise ValueError(f"{len(overlap)} training prompts equal an evaluation prompt (first sha1 {sorted(overlap)[0]}) in {training}")
logger.info(f"{len(hashes)} distinct training prompts from {training}; none equals any of {len(evaluation)} evaluation prompts")
write_gzip_lines(hashes, snakemake.output[0])  # noqa: F821
