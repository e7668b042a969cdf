# Serving check: the full RAGRouter routes raw prompts end to end (ragrouter.serving.route, `ragrouter route`).

SERVING_BENCHMARK = serving_setting("benchmark", "mmlu")
SERVING_ROUTER = f"{FULL_RAGROUTER}/seed-{config['seeds'][0]}"


rule serving_check:
    input:
        router=f"resources/routers/{SERVING_ROUTER}",
        encoder=f"resources/models/{ragrouter_setting('fusion', {}).get('encoder', 'encoder')}",
        fusion="resources/ragrouter/fusion",
        corpus="resources/corpus/corpus.parquet",
        benchmark=f"resources/benchmarks/{SERVING_BENCHMARK}.parquet",
        scores=f"results/scores/{SERVING_BENCHMARK}/{SERVING_ROUTER}.parquet",
    output:
        report("results/serving/serving_check.json", caption="../report/serving.rst", category="Report"),
    params:
        router_id=FULL_RAGROUTER,
        benchmark=SERVING_BENCHMARK,
        strong_percent=serving_setting("strong_percent", 50),
        latency_prompts=serving_setting("latency_prompts", 200),
    threads: 2
    log:
        "logs/serving_check/serving_check.log",
    benchmark:
        "logs/benchmarks/serving_check/serving_check.tsv"
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/serving_check.py"
