# Every configured model becomes a plain Hugging Face folder once.


rule prepare_model:
    output:
        directory("resources/models/{model}"),
    params:
        source=lambda wildcards: config["models"][wildcards.model],
    log:
        "logs/prepare_model/{model}.log",
    benchmark:
        "logs/benchmarks/prepare_model/{model}.tsv"
    resources:
        mem_mb=4000,
    conda:
        TRAIN_ENV
    script:
        "../workflow_scripts/prepare_model.py"
