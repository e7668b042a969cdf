"""All routers on one benchmark: RouteLLM's per-threshold log, metrics JSON and plot."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

from ragrouter.common.io import setup_logging
from ragrouter.evaluation.metrics import benchmark_report

setup_logging(snakemake.log[0])  # noqa: F821
benchmark_report(
    snakemake.input.benchmark,  # noqa: F821
    snakemake.wildcards.benchmark,  # noqa: F821
    snakemake.input.scores,  # noqa: F821
    snakemake.params.names,  # noqa: F821
    snakemake.output.metrics,  # noqa: F821
    snakemake.output.plot,  # noqa: F821
)
