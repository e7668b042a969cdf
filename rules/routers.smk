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
