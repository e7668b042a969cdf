# Metrics, plots and tables, all computed from the per-prompt score files.


rule evaluate_benchmark:
    input:
        scores=benchmark_scores,
        benchmark="resources/benchmarks/{benchmark}.parquet",
    output:
        metrics="results/metrics/{benchmark}.json",
        plot=report("results/plots/{benchmark}.png", caption="../report/plot.rst", category="Plots"),
    params:
        names=router_names(),
    log:
        "logs/evaluate_benchmark/{benchmark}.log",
    benchmark:
        "logs/benchmarks/evaluate_benchmark/{benchmark}.tsv"
    conda:
        "../envs/evaluate.yaml"
    script:
        "../workflow_scripts/evaluate_benchmark.py"


rule make_table:
    input:
        scores=table_scores,
        benchmark=table_benchmark,
    output:
        table=report("results/{table}.csv", caption="../report/table.rst", category="Tables"),
        plot=report("results/plots/tables/{table}.png", caption="../report/table_plot.rst", category="Plots"),
    params:
        names=router_names(),
        spec=lambda wildcards: config["tables"][wildcards.table],
    log:
        "logs/make_table/{table}.log",
    benchmark:
        "logs/benchmarks/make_table/{table}.tsv"
    conda:
        "../envs/evaluate.yaml"
    script:
        "../workflow_scripts/make_table.py"


rule summarise_stages:
    input:
        unpack(stage_files),
    output:
        "results/data/stage_summary.csv",
    log:
        "logs/summarise_stages/summarise_stages.log",
    benchmark:
        "logs/benchmarks/summarise_stages/summarise_stages.tsv"
    conda:
        "../envs/evaluate.yaml"
    script:
        "../workflow_scripts/summarise_stages.py"


rule record_run_config:
    localrule: True
    output:
        "results/run_config.yaml",
    params:
        config=config,  # a changed config (`--config seeds=[...]` too) reruns it
    log:
        "logs/record_run_config/record_run_config.log",
    conda:
        "../envs/evaluate.yaml"
    script:
        "../workflow_scripts/record_run_config.py"


rule make_report:
    input:
        unpack(report_context_files),
        tables=expand("results/{table}.csv", table=config["tables"]),
        scores=all_scores,
        benchmarks=expand("resources/benchmarks/{benchmark}.parquet", benchmark=config["benchmarks"]),
        validation=validation_files,
        run_config="results/run_config.yaml",
    output:
        report("results/REPORT.md", caption="../report/report.rst", category="Report"),
    params:
        tables=config["tables"],
        names=router_names(),
        labels=WORKFLOW.label_settings(),
        benchmark_dir="logs/benchmarks",
        job_names=WORKFLOW.job_names(),
        models=config["models"],
        subsample=config.get("benchmark_subsample", 1),
        inference_backend=config.get("inference_backend", "torch"),
    log:
        "logs/make_report/make_report.log",
    conda:
        "../envs/evaluate.yaml"
    script:
        "../workflow_scripts/make_report.py"
