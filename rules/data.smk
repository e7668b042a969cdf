# Raw inputs, benchmarks, the unified training corpus, battles and decontamination.


rule fetch_dataset:
    output:
        directory("resources/data/{dataset}"),
    params:
        data_dir=data_dir(),
    log:
        "logs/fetch_dataset/{dataset}.log",
    benchmark:
        "logs/benchmarks/fetch_dataset/{dataset}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/fetch_dataset.py"


rule prepare_benchmark:
    input:
        "resources/data/routellm-evals",
    output:
        "resources/benchmarks/{benchmark}.parquet",
    params:
        subsample=benchmark_subsample,
        strong=config["strong_model"],
        weak=config["weak_model"],
    log:
        "logs/prepare_benchmark/{benchmark}.log",
    benchmark:
        "logs/benchmarks/prepare_benchmark/{benchmark}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/prepare_benchmark.py"


rule evaluation_prompts:
    input:
        "resources/data/routellm-evals",
    output:
        "resources/benchmarks/evaluation_prompts.parquet",
    params:
        benchmarks=config["benchmarks"],
        strong=config["strong_model"],
        weak=config["weak_model"],
    log:
        "logs/evaluation_prompts/evaluation_prompts.log",
    benchmark:
        "logs/benchmarks/evaluation_prompts/evaluation_prompts.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/evaluation_prompts.py"


rule build_corpus:
    input:
        unpack(corpus_inputs),
    output:
        corpus="resources/corpus/corpus.parquet",
        battles="resources/corpus/battles.parquet",
        summary=report("results/data/corpus_summary.csv", caption="../report/corpus.rst", category="Data"),
    params:
        corpus=config["corpus"],
        judge=corpus_judge_params(),
    log:
        "logs/build_corpus/build_corpus.log",
    benchmark:
        "logs/benchmarks/build_corpus/build_corpus.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/build_corpus.py"


rule train_prompt_hashes:
    input:
        unpack(training_prompt_files),
        evaluation="resources/benchmarks/evaluation_prompts.parquet",
    output:
        "results/data/train_prompt_sha1.txt.gz",
    log:
        "logs/train_prompt_hashes/train_prompt_hashes.log",
    benchmark:
        "logs/benchmarks/train_prompt_hashes/train_prompt_hashes.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/train_prompt_hashes.py"
