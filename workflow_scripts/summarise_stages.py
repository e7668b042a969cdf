"""results/data/stage_summary.csv: rows, distinct prompts and strong share of every data stage and source."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

from ragrouter.common.io import setup_logging, write_csv
from ragrouter.evaluation.report import stage_summary

setup_logging(snakemake.log[0])  # noqa: F821
summary = stage_summary(dict(snakemake.input.items()))  # noqa: F821
write_csv(summary, snakemake.output[0])  # noqa: F821
