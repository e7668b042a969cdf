"""`ragrouter report`: the tables, metrics, figures and REPORT.md rebuilt from the committed score
files alone, in seconds: no training, no `resources/`. The benchmarks' outcomes are re-read from the
data directory (RouteLLM's evaluation files, checksum-verified); everything else the rules
`evaluate_benchmark`, `make_table` and `make_report` read is committed. Same functions as those
rules, so a rebuild of an unchanged checkout is byte-identical to the run's files.

Stage: evaluation.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import yaml
from loguru import logger

from ragrouter.common.io import write_parquet, write_text
from ragrouter.common.workflow_config import WorkflowConfig
from ragrouter.data.benchmarks import load_benchmark, subsample
from ragrouter.data.sources import DataError, fetch_dataset, resolve_data_dir
from ragrouter.evaluation.metrics import benchmark_report, results_table
from ragrouter.evaluation.report import report_from_files

SCHEMA = Path(__file__).resolve().parents[3] / "schemas/config.schema.yaml"
RUN_CONFIG = "results/run_config.yaml"  # written by rule record_run_config: what `ragrouter report` rebuilds with


def write_run_config(config: dict, path: str | Path = RUN_CONFIG) -> None:
    """The run's config as the rules saw it, so that its committed results can be rebuilt after
    config.yaml has moved on (`ragrouter report` reads it by default)."""
    header = "# The config this run's results were made with (rule record_run_config); `ragrouter report` rebuilds from it.\n"
    write_text(header + yaml.safe_dump(config, sort_keys=False, allow_unicode=True), path)


def load_config(configfile: str | Path, seeds: list[int] | None = None) -> dict:
    """The config as the rules see it: YAML, `seeds` overridden (as `--config seeds=[...]`), then
    validated against the workflow's schema, which fills in its defaults."""
    from snakemake.utils import validate

    _require_committed(str(configfile))
    config = yaml.safe_load(Path(configfile).read_text())
    if seeds is not None:
        config["seeds"] = seeds
    validate(config, schema=str(SCHEMA))
    return config


def _require_committed(path: str) -> None:
    if not Path(path).exists():
        raise DataError(f"{path} is missing: `ragrouter report` reads the committed outputs of a run (run the workflow, or check out its results)")


def rebuild(config: dict, out: Path | str = ".") -> list[str]:
    """Write every table, benchmark metrics file, figure and REPORT.md of `config` under `out` from
    the score, validation, summary and `benchmark:` files under the working directory; return the paths."""
    out, start = Path(out), time.perf_counter()
    workflow = WorkflowConfig(config)
    names, written = workflow.router_names(), []
    context = workflow.report_context_files()
    for key in ("serving", "agreement"):  # a run from before a check existed: the report leaves its section out
        if key in context and not Path(context[key]).exists():
            logger.warning(f"{context.pop(key)} is not committed; REPORT.md leaves its section out")
    for path in [*workflow.all_scores(), *workflow.validation_files(), *context.values()]:  # all present before anything is written
        _require_committed(path)
    with tempfile.TemporaryDirectory(prefix="ragrouter-report-") as tmp:
        evals = Path(tmp) / "routellm-evals"
        fetch_dataset("routellm-evals", resolve_data_dir(config["data_dir"]), evals)
        benchmarks = {}
        for name in config["benchmarks"]:
            table = subsample(load_benchmark(name, evals, config["strong_model"], config["weak_model"]), workflow.benchmark_subsample(name))
            benchmarks[name] = f"{tmp}/{name}.parquet"
            write_parquet(table, benchmarks[name])
            metrics, plot = out / f"results/metrics/{name}.json", out / f"results/plots/{name}.png"
            benchmark_report(benchmarks[name], name, workflow.benchmark_scores(name), names, str(metrics), str(plot))
            written += [str(metrics), str(plot)]
        table_paths = {}
        for table, spec in config["tables"].items():
            table_paths[table] = str(out / f"results/{table}.csv")
            plot = str(out / f"results/plots/tables/{table}.png")
            results_table(benchmarks[spec["benchmark"]], spec["benchmark"], workflow.table_scores(table), spec["rows"], names, table_paths[table], plot, spec.get("title"))
            written += [table_paths[table], plot]
        text = report_from_files(
            config["tables"],
            table_paths,
            benchmarks,
            workflow.all_scores(),
            workflow.validation_files(),
            names,
            context["corpus_summary"],
            context["stage_summary"],
            config["models"],
            config.get("benchmark_subsample", 1),
            workflow.label_settings(),
            set(workflow.job_names()),
            serving=context.get("serving"),
            agreement=context.get("agreement"),
            inference_backend=config.get("inference_backend", "torch"),
        )
    write_text(text, out / "results/REPORT.md")
    written.append(str(out / "results/REPORT.md"))
    logger.info(f"rebuilt {len(written)} files under {out.resolve()} in {time.perf_counter() - start:.1f} s")
    return written
