# RAGRouter: augment -> PPL sampling -> fused features -> FAISS knowledge base -> RAG classifier.
# Ablation wildcards: aug, sample, feat, rag in {on, off}; a variant is ragrouter_aug-X_sample-X_feat-X_rag-X.


rule judge_cache:
    localrule: True
    output:
        directory(judge_cache_dir()),
    log:
        "logs/judge_cache/judge_cache.log",
    conda:
        "../envs/data.yaml"
    shell:
        "mkdir -p {output} 2> {log}"


rule augment_corpus:
    input:
        corpus="resources/corpus/corpus.parquet",
        evaluation="resources/benchmarks/evaluation_prompts.parquet",
        judge_cache=ancient(judge_cache_dir()),
    output:
        corpus="resources/ragrouter/augmented.parquet",
        summary=report("results/ragrouter/augmentation_summary.csv", caption="../report/augmentation.rst", category="RAGRouter"),
    params:
        augment=ragrouter_setting("augment", {}),
        ngram=config["corpus"]["ngram"],
        seed=config["corpus"]["split_seed"],
    log:
        "logs/augment_corpus/augment_corpus.log",
    benchmark:
        "logs/benchmarks/augment_corpus/augment_corpus.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/augment_corpus.py"


rule prompt_perplexity:
    input:
        corpus="resources/ragrouter/augmented.parquet",
        model=f"resources/models/{ragrouter_setting('perplexity', {}).get('model', 'causal_lm')}",
    output:
        "resources/ragrouter/perplexity.parquet",
    params:
        perplexity=ragrouter_setting("perplexity", {}),
    threads: config["job_threads"]
    log:
        "logs/prompt_perplexity/prompt_perplexity.log",
    benchmark:
        "logs/benchmarks/prompt_perplexity/prompt_perplexity.tsv"
    resources:
        mem_mb=6000,
        runtime=120,
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/prompt_perplexity.py"


rule sample_corpus:
    input:
        corpus=augmented_or_original,
        original="resources/corpus/corpus.parquet",
        perplexity="resources/ragrouter/perplexity.parquet",
    output:
        "resources/ragrouter/aug-{aug}_sample-on.parquet",
    params:
        sample=ragrouter_setting("sample", {}),
        seed=config["corpus"]["split_seed"],
    log:
        "logs/sample_corpus/aug-{aug}.log",
    benchmark:
        "logs/benchmarks/sample_corpus/aug-{aug}.tsv"
    conda:
        "../envs/data.yaml"
    script:
        "../workflow_scripts/sample_corpus.py"


rule train_fusion:
    input:
        corpus="resources/corpus/corpus.parquet",
        model=f"resources/models/{ragrouter_setting('fusion', {}).get('encoder', 'encoder')}",
    output:
        directory("resources/ragrouter/fusion"),
    params:
        fusion=ragrouter_setting("fusion", {}),
        kb_fraction=ragrouter_setting("kb_fraction", 0.7),
        seed=config["corpus"]["split_seed"],
    threads: config["job_threads"]
    log:
        "logs/train_fusion/train_fusion.log",
    benchmark:
        "logs/benchmarks/train_fusion/train_fusion.tsv"
    resources:
        mem_mb=8000,
        runtime=60,
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/train_fusion.py"


rule encode_features:
    input:
        unpack(feature_inputs),
    output:
        fused="resources/ragrouter/features/feat-on/{feature_set}.parquet",
        pooled="resources/ragrouter/features/feat-off/{feature_set}.parquet",
    params:
        fusion=ragrouter_setting("fusion", {}),
    threads: config["job_threads"]
    log:
        "logs/encode_features/{feature_set}.log",
    benchmark:
        "logs/benchmarks/encode_features/{feature_set}.tsv"
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/encode_features.py"


rule build_knowledge_base:
    input:
        corpus=ragrouter_corpus,
        features="resources/ragrouter/features/feat-{feat}/augmented.parquet",
    output:
        kb=directory("resources/ragrouter/aug-{aug}_sample-{sample}_feat-{feat}/kb"),
        queries="resources/ragrouter/aug-{aug}_sample-{sample}_feat-{feat}/queries.parquet",
    params:
        fraction=ragrouter_setting("kb_fraction", 0.7),
        index=ragrouter_setting("index", {}),
        seed=config["corpus"]["split_seed"],
    log:
        "logs/build_knowledge_base/aug-{aug}_sample-{sample}_feat-{feat}.log",
    benchmark:
        "logs/benchmarks/build_knowledge_base/aug-{aug}_sample-{sample}_feat-{feat}.tsv"
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/build_knowledge_base.py"


rule train_ragrouter:
    input:
        kb="resources/ragrouter/aug-{aug}_sample-{sample}_feat-{feat}/kb",
        queries="resources/ragrouter/aug-{aug}_sample-{sample}_feat-{feat}/queries.parquet",
        corpus=ragrouter_corpus,
        features="resources/ragrouter/features/feat-{feat}/augmented.parquet",
        model=f"resources/models/{ragrouter_setting('classifier', {}).get('backbone', 'encoder')}",
    output:
        checkpoint=directory("resources/routers/ragrouter_aug-{aug}_sample-{sample}_feat-{feat}_rag-{rag}/seed-{seed}"),
        validation="results/validation/ragrouter_aug-{aug}_sample-{sample}_feat-{feat}_rag-{rag}/seed-{seed}.parquet",
    params:
        rag=ragrouter_setting("rag", {}),
        classifier=ragrouter_setting("classifier", {}).get("params", {}),
        fusion=ragrouter_setting("fusion", {}).get("params", {}),
        processes=training_processes(config.get("ragrouter", {}), "ragrouter"),
        int8_check=WORKFLOW.int8_checked,
    threads: config["job_threads"]
    log:
        "logs/train_ragrouter/aug-{aug}_sample-{sample}_feat-{feat}_rag-{rag}/seed-{seed}.log",
    benchmark:
        "logs/benchmarks/train_ragrouter/aug-{aug}_sample-{sample}_feat-{feat}_rag-{rag}/seed-{seed}.tsv"
    resources:
        mem_mb=ragrouter_setting("mem_mb", 12000),
        runtime=ragrouter_setting("runtime", 120),
        gpu=ragrouter_setting("gpus", 0),
        slurm_partition=slurm_partition(ragrouter_setting("gpus", 0)),
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/train_ragrouter.py"


rule score_ragrouter:
    input:
        checkpoint="resources/routers/ragrouter_aug-{aug}_sample-{sample}_feat-{feat}_rag-{rag}/seed-{seed}",
        benchmarks=expand("resources/benchmarks/{benchmark}.parquet", benchmark=config["benchmarks"]),
        features=expand("resources/ragrouter/features/feat-{{feat}}/{benchmark}.parquet", benchmark=config["benchmarks"]),
        validation="results/validation/ragrouter_aug-{aug}_sample-{sample}_feat-{feat}_rag-{rag}/seed-{seed}.parquet" if WORKFLOW.int8_checked else [],
    output:
        expand("results/scores/{benchmark}/ragrouter_aug-{{aug}}_sample-{{sample}}_feat-{{feat}}_rag-{{rag}}/seed-{{seed}}.parquet", benchmark=config["benchmarks"]),
    params:
        kind="ragrouter",  # its feature settings are checked by the router itself when it loads
        params={},
        inference_backend=config.get("inference_backend", "torch"),
    threads: config["job_threads"]
    log:
        "logs/score_ragrouter/aug-{aug}_sample-{sample}_feat-{feat}_rag-{rag}/seed-{seed}.log",
    benchmark:
        "logs/benchmarks/score_ragrouter/aug-{aug}_sample-{sample}_feat-{feat}_rag-{rag}/seed-{seed}.tsv"
    resources:
        mem_mb=ragrouter_setting("mem_mb", 12000),
        runtime=ragrouter_setting("runtime", 120),
        gpu=ragrouter_setting("gpus", 0),
        slurm_partition=slurm_partition(ragrouter_setting("gpus", 0)),
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/score_router.py"
