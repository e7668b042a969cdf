"""results/REPORT.md from the tables, score files and benchmark: timings of the run."""

import sys

sys.path.insert(0, f"{snakemake.scriptdir}/../src")  # noqa: F821

from pathlib import Path

from ragrouter.io import setup_logging, write_text
from ragrouter.report import build_report

setup_logging(snakemake.log[0])  # noqa: F821
tables = snakemake.params.tables  # noqa: F821
table_paths = {t: f"results/{t}.csv" for t in tables}
benchmark_paths = {Path(p).stem: p for p in snakemake.input.benchmarks}  # noqa: F821
text = build_report(tables, table_paths, benchmark_paths, list(snakemake.input.scores), snakemake.params.benchmark_dir)  # noqa: F821
write_text(text, snakemake.output[0])  # noqa: F821
