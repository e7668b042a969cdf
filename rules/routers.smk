# Routers: RouteLLM's random router, and the trained routers (train -> checkpoint -> scores).


rule score_random:
    input:
        "resources/benchmarks/{benchmark}.parquet",
    output:
        expand(
            "results/scores/{{benchmark}}/random/seed-{seed}.parquet",
            seed=router_seeds("random"),
        ),
    log:
        "logs/score_random/{benchmark}.log",
    benchmark:
        "logs/benchmarks/score_random/{benchmark}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/score_random.py"


rule train_router:
    input:
        unpack(train_inputs),
    output:
        checkpoint=directory("resources/routers/{router}/seed-{seed}"),
        validation="results/validation/{router}/seed-{seed}.parquet",
    params:
        kind=lambda wildcards: router_kind(wildcards.router),
        params=lambda wildcards: config["routers"][wildcards.router].get("params", {}),
        embedding=WORKFLOW.embedding_settings,
        processes=lambda wildcards: training_processes(config["routers"][wildcards.router], f"routers.{wildcards.router}"),
        int8_check=WORKFLOW.int8_checked,
    threads: config["job_threads"]
    log:
        "logs/train_router/{router}/seed-{seed}.log",
    benchmark:
        "logs/benchmarks/train_router/{router}/seed-{seed}.tsv"
    resources:
        mem_mb=router_setting("mem_mb", 8000),
        runtime=router_setting("runtime", 120),
        gpu=router_setting("gpus", 0),
        slurm_partition=slurm_partition(router_setting("gpus", 0)),
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/train_router.py"


rule score_router:
    input:
        unpack(score_inputs),
    output:
        expand("results/scores/{benchmark}/{{router}}/seed-{{seed}}.parquet", benchmark=config["benchmarks"]),
    params:
        kind=lambda wildcards: router_kind(wildcards.router),
        params=lambda wildcards: config["routers"][wildcards.router].get("params", {}),
        embedding=WORKFLOW.embedding_settings,
        inference_backend=config.get("inference_backend", "torch"),
    threads: config["job_threads"]
    log:
        "logs/score_router/{router}/seed-{seed}.log",
    benchmark:
        "logs/benchmarks/score_router/{router}/seed-{seed}.tsv"
    resources:
        mem_mb=router_setting("mem_mb", 8000),
        runtime=router_setting("runtime", 120),
        gpu=router_setting("gpus", 0),
        slurm_partition=slurm_partition(router_setting("gpus", 0)),
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/score_router.py"


rule score_released_router:
    input:
        benchmark="resources/benchmarks/{benchmark}.parquet",
    output:
        "results/scores/{benchmark}/{released}/seed-0.parquet",
    params:
        kind=released_setting("router", None),
        config=released_setting("config", {}),
        embeddings_base_url=released_setting("embeddings_base_url", None),
    threads: config["job_threads"]
    log:
        "logs/score_released_router/{benchmark}/{released}.log",
    benchmark:
        "logs/benchmarks/score_released_router/{benchmark}/{released}.tsv"
    resources:
        mem_mb=released_setting("mem_mb", 16000),
        runtime=released_setting("runtime", 240),
        gpu=released_setting("gpus", 0),
        slurm_partition=slurm_partition(released_setting("gpus", 0)),
    conda:
        "../envs/routellm.yaml"
    script:
        "../workflow_scripts/score_released_router.py"
