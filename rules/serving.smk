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
        validation=f"results/validation/{SERVING_ROUTER}.parquet" if WORKFLOW.int8_checked else [],
    output:
        report("results/serving/serving_check.json", caption="../report/serving.rst", category="Report"),
    params:
        router_id=FULL_RAGROUTER,
        benchmark=SERVING_BENCHMARK,
        inference_backend=config.get("inference_backend", "torch"),
        strong_percent=serving_setting("strong_percent", 50),
        latency_prompts=serving_setting("latency_prompts", 200),
        max_prompts=serving_setting("max_prompts", 1000),
    threads: 2
    log:
        "logs/serving_check/serving_check.log",
    benchmark:
        "logs/benchmarks/serving_check/serving_check.tsv"
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/serving_check.py"


# The fast inference paths against the float32 reference: the full RAGRouter's seed-0 scores of
# every benchmark (at most serving.max_prompts of each) through each backend (per-prompt Spearman, APGR difference, prompts/s).
rule inference_agreement:
    input:
        router=f"resources/routers/{SERVING_ROUTER}",
        benchmarks=expand("resources/benchmarks/{benchmark}.parquet", benchmark=config["benchmarks"]),
        features=expand("resources/ragrouter/features/feat-on/{benchmark}.parquet", benchmark=config["benchmarks"]),
    output:
        report("results/serving/inference_agreement.json", caption="../report/serving.rst", category="Report"),
    params:
        router_id=FULL_RAGROUTER,
        backends=["onnx", "onnx_int8"],
        max_prompts=serving_setting("max_prompts", 1000),
    threads: 2
    log:
        "logs/inference_agreement/inference_agreement.log",
    benchmark:
        "logs/benchmarks/inference_agreement/inference_agreement.tsv"
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/inference_agreement.py"
