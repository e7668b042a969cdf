"""Verify (or download) one raw dataset and copy it under resources/data."""

import sys
from pathlib import Path

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821 - also works inside conda envs

from ragrouter.common.io import setup_logging
from ragrouter.data.sources import fetch_dataset

setup_logging(snakemake.log[0])  # noqa: F821
fetch_dataset(snakemake.wildcards.dataset, Path(snakemake.params.data_dir), Path(snakemake.output[0]))  # noqa: F821
