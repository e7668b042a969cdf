"""results/run_config.yaml: the config this run was made with (validated, defaults filled in, seeds as given)."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

from ragrouter.common.io import setup_logging
from ragrouter.evaluation.rebuild import write_run_config

setup_logging(snakemake.log[0])  # noqa: F821
write_run_config(dict(snakemake.params.config), snakemake.output[0])  # noqa: F821
