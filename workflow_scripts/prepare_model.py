"""Turn one configured model source into a plain Hugging Face folder."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

from ragrouter.common.io import setup_logging
from ragrouter.common.models import prepare_model

setup_logging(snakemake.log[0])  # noqa: F821
prepare_model(snakemake.params.source, snakemake.output[0])  # noqa: F821
