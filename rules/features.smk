# Sentence embeddings of every prompt set, computed once and shared by the routers that need them,
# unless `embedding.from_fusion` has them read the mean-pooled states of rule encode_features.


rule embed_prompts:
    input:
        model="resources/models/encoder",
        prompts=prompt_set_input,
    output:
        "resources/embeddings/{prompt_set}.parquet",
    params:
        embedding=config.get("embedding", {}),
    threads: config["job_threads"]
    log:
        "logs/embed_prompts/{prompt_set}.log",
    benchmark:
        "logs/benchmarks/embed_prompts/{prompt_set}.tsv"
    resources:
        mem_mb=4000,
        runtime=60,
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/embed_prompts.py"


rule causal_lower_states:
    input:
        model=lambda wildcards: f"resources/models/{config['routers'][wildcards.router].get('backbone', 'causal_lm')}",
        prompts="resources/benchmarks/{benchmark}.parquet",
    output:
        directory("resources/lower_states/{router}/{benchmark}"),
    params:
        params=lambda wildcards: {k: v for k, v in config["routers"][wildcards.router].get("params", {}).items() if k in LOWER_STATE_PARAMS},
    threads: config["job_threads"]
    log:
        "logs/causal_lower_states/{router}/{benchmark}.log",
    benchmark:
        "logs/benchmarks/causal_lower_states/{router}/{benchmark}.tsv"
    resources:
        mem_mb=8000,
        runtime=120,
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/causal_lower_states.py"
