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
