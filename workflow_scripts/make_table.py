"""One results table (CPT(50%), CPT(80%), APGR per router) and its figure from the routers' score files."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

from ragrouter.common.io import setup_logging
from ragrouter.evaluation.metrics import results_table

setup_logging(snakemake.log[0])  # noqa: F821
spec = snakemake.params.spec  # noqa: F821
results_table(snakemake.input.benchmark, spec["benchmark"], snakemake.input.scores, spec["rows"], snakemake.params.names, snakemake.output.table, snakemake.output.plot, spec.get("title"))  # noqa: F821
