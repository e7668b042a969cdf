# Config validation, wildcard constraints and input functions shared by all rules.

from pathlib import Path

from snakemake.utils import validate

# Only light modules here (no torch): they are imported every time Snakemake parses the rules.
from ragrouter.common.workflow_config import WorkflowConfig
from ragrouter.data.sources import datasets, resolve_data_dir
from ragrouter.method.augment.params import JUDGE_CACHE_DIR
from ragrouter.method.variants import FULL as FULL_RAGROUTER, VARIANT_RE
from ragrouter.routers.kinds import BACKBONE_KINDS, CORPUS_KINDS, LOWER_STATE_PARAMS, RELEASED_KINDS, router_module, uses_embeddings


# `--config seeds=[0]` arrives as strings (Snakemake reads command-line lists with YAML's BaseLoader)
_seeds = config.get("seeds", [0])
config["seeds"] = [int(s) if str(s).isdigit() else s for s in (_seeds if isinstance(_seeds, list) else [_seeds])]
if config.get("gpu_env") in ("true", "false"):  # `--config gpu_env=true` arrives as a string too
    config["gpu_env"] = config["gpu_env"] == "true"
validate(config, schema="../schemas/config.schema.yaml")
WORKFLOW = WorkflowConfig(config)
# A table row is a configured router, a known router kind not configured here (its row stays out),
# or a RAGRouter variant; anything else is a typo that would silently drop the row.
RELEASED_ROUTERS = WORKFLOW.released
_known = {"random", *config["routers"], *CORPUS_KINDS, *BACKBONE_KINDS, *RELEASED_ROUTERS, *(f"routellm_{k}" for k in RELEASED_KINDS)}
for _table, _spec in config["tables"].items():
    for _row in _spec["rows"]:
        if _row not in _known and not VARIANT_RE.match(_row):
            raise ValueError(f"config: tables.{_table}.rows: unknown router {_row!r}; configured: {sorted(config['routers'])}")


# The torch rules' conda env: envs/train.yaml, or with `gpu_env: true` (GPU machines) the same pins
# with faiss' GPU build (envs/train-cuda.yaml), so the knowledge base searches on the GPU.
TRAIN_ENV = "../envs/train-cuda.yaml" if config.get("gpu_env") else "../envs/train.yaml"


def training_processes(settings, where):
    """How many processes a training job (`routers.<id>` / `ragrouter`) runs under `accelerate launch`:
    `processes`, by default one per GPU it asks for (`gpus`), else 1."""
    gpus = settings.get("gpus", 0)
    processes = settings.get("processes", gpus or 1)
    if gpus and processes > gpus:
        raise ValueError(f"config: {where}: processes {processes} > gpus {gpus}; a training process needs a GPU of its own")
    return processes


for _router, _settings in config["routers"].items():
    training_processes(_settings, f"routers.{_router}")
training_processes(config.get("ragrouter", {}), "ragrouter")

DATASETS = datasets()
TRAINED_ROUTERS = WORKFLOW.trained
for _router in TRAINED_ROUTERS:  # a kind that is neither built in nor an importable router module is a config error
    router_module(config["routers"][_router].get("kind", _router))
RAGROUTER_VARIANTS = WORKFLOW.variants
ROUTERS = WORKFLOW.routers


wildcard_constraints:
    dataset="|".join(DATASETS),
    benchmark="|".join(config["benchmarks"]),
    model="|".join(config["models"]),
    table="|".join(config["tables"]),
    router="|".join(TRAINED_ROUTERS) if TRAINED_ROUTERS else "(?!)",
    released="|".join(RELEASED_ROUTERS) if RELEASED_ROUTERS else "(?!)",
    seed=r"\d+",
    prompt_set="corpus|" + "|".join(config["benchmarks"]),
    feature_set="augmented|" + "|".join(config["benchmarks"]),
    aug="on|off",
    sample="on|off",
    feat="on|off",
    rag="on|off",


def data_dir():
    return str(resolve_data_dir(config["data_dir"]))


def benchmark_subsample(wildcards):
    return WORKFLOW.benchmark_subsample(wildcards.benchmark)


def training_prompt_files(wildcards):
    """Every file whose prompts any router trains on or retrieves from (the augmented corpus is a
    superset of every RAGRouter variant's training rows and knowledge base)."""
    files = {"corpus": "resources/corpus/corpus.parquet", "battles": "resources/corpus/battles.parquet"}
    if RAGROUTER_VARIANTS:
        files["augmented"] = "resources/ragrouter/augmented.parquet"
    return files


def router_seeds(router_id):
    return WORKFLOW.router_seeds(router_id)


def router_names():
    return WORKFLOW.router_names()


def router_setting(key, default):
    return lambda wildcards: config["routers"][wildcards.router].get(key, default)


def released_setting(key, default):
    return lambda wildcards: RELEASED_ROUTERS[wildcards.released].get(key, default)


def prompt_set_input(wildcards):
    if wildcards.prompt_set == "corpus":
        return ["resources/corpus/corpus.parquet", "resources/corpus/battles.parquet"]
    return [f"resources/benchmarks/{wildcards.prompt_set}.parquet"]


def router_kind(router):
    return config["routers"][router].get("kind", router)


def train_inputs(wildcards):
    """Embedding routers need the corpus embeddings; classifiers their backbone folder."""
    settings = config["routers"][wildcards.router]
    inputs = {
        "corpus": "resources/corpus/corpus.parquet",
        "battles": "resources/corpus/battles.parquet",
        "model": f"resources/models/{settings.get('backbone', 'encoder')}",
    }
    if uses_embeddings(router_kind(wildcards.router)):
        inputs["embeddings"] = WORKFLOW.embedding_file("corpus")
    return inputs


def score_inputs(wildcards):
    """One checkpoint scores every benchmark in one job (its imports and model load paid once)."""
    inputs = {
        "checkpoint": f"resources/routers/{wildcards.router}/seed-{wildcards.seed}",
        "benchmarks": expand("resources/benchmarks/{benchmark}.parquet", benchmark=config["benchmarks"]),
        "model": f"resources/models/{config['routers'][wildcards.router].get('backbone', 'encoder')}",
    }
    if uses_embeddings(router_kind(wildcards.router)):
        inputs["embeddings"] = [WORKFLOW.embedding_file(b) for b in config["benchmarks"]]
    if WORKFLOW.shares_lower_states(wildcards.router):
        inputs["lower_states"] = expand("resources/lower_states/{router}/{benchmark}", router=wildcards.router, benchmark=config["benchmarks"])
    if WORKFLOW.int8_checked and router_kind(wildcards.router) == "bert":
        inputs["validation"] = f"results/validation/{wildcards.router}/seed-{wildcards.seed}.parquet"
    return inputs


def benchmark_scores(wildcards):
    return WORKFLOW.benchmark_scores(wildcards.benchmark)


# ---- RAGRouter


def ragrouter_corpus(wildcards):
    """Training corpus of a variant: augmented or not (aug), then PPL-sampled or not (sample)."""
    if wildcards.sample == "on":
        return f"resources/ragrouter/aug-{wildcards.aug}_sample-on.parquet"
    return augmented_or_original(wildcards)


def augmented_or_original(wildcards):
    return "resources/ragrouter/augmented.parquet" if wildcards.aug == "on" else "resources/corpus/corpus.parquet"


def feature_inputs(wildcards):
    """One frozen-encoder pass per prompt set gives both feature files (feat=on fused, feat=off pooled)."""
    inputs = {"model": f"resources/models/{ragrouter_setting('fusion', {}).get('encoder', 'encoder')}", "fusion": "resources/ragrouter/fusion"}
    if wildcards.feature_set == "augmented":
        # the embedding routers' `corpus` set when they read these files: the battles' prompts too
        inputs["prompts"] = ["resources/ragrouter/augmented.parquet", *(["resources/corpus/battles.parquet"] if WORKFLOW.embeddings_from_fusion else [])]
    else:
        inputs["prompts"] = [f"resources/benchmarks/{wildcards.feature_set}.parquet"]
    return inputs


def ragrouter_setting(key, default):
    return config.get("ragrouter", {}).get(key, default)


def judge_cache_dir():
    """The LLM judge's answer cache (`ragrouter.augment.judge.cache_dir`): made once by rule
    judge_cache and an input of augment_corpus, so a rerun of augmentation never deletes it (an
    output would be); `ancient` there, so the answers it gains trigger nothing. Empty offline."""
    return ragrouter_setting("augment", {}).get("judge", {}).get("cache_dir", JUDGE_CACHE_DIR)


def corpus_judge_params():
    """`corpus.judge` (Arena-55k's label alignment) with the workflow's one judge cache, or None."""
    judge = config["corpus"].get("judge")
    return None if judge is None else {**judge, "cache_dir": judge_cache_dir()}


def corpus_inputs(wildcards):
    """The offline sources' folders, paper sources given as local files (hub ids are fetched by
    the rule itself), and the judge's cache when it labels Arena-55k."""
    inputs = {
        "datasets": expand("resources/data/{dataset}", dataset=[d for d in DATASETS if d != "routellm-evals"]),
        "evaluation": "resources/benchmarks/evaluation_prompts.parquet",
        "paper_sources": [s["path"] for s in config["corpus"]["sources"] if isinstance(s, dict) and Path(s["path"]).exists()],
    }
    if config["corpus"].get("judge") is not None:
        inputs["judge_cache"] = ancient(judge_cache_dir())
    return inputs


def slurm_partition(gpus):
    """The SLURM partition of a job from the GPUs it asks for (`gpus`: a number or an input function):
    `slurm.gpu_partition` for GPU jobs, `slurm.cpu_partition` for the rest (defaults gpu / cpu)."""
    names = config.get("slurm", {})

    def partition(wildcards):
        n = gpus(wildcards) if callable(gpus) else gpus
        return names.get("gpu_partition", "gpu") if n else names.get("cpu_partition", "cpu")

    return partition


def serving_setting(key, default):
    return config.get("serving", {}).get(key, default)


def stage_files(wildcards):
    """The data stages REPORT.md summarises (summarise_stages): the corpus, and with the full
    RAGRouter its augmented and PPL-sampled training sets."""
    files = {"corpus": "resources/corpus/corpus.parquet"}
    if FULL_RAGROUTER in RAGROUTER_VARIANTS:
        files |= {"augmented": "resources/ragrouter/augmented.parquet", "sampled": "resources/ragrouter/aug-on_sample-on.parquet"}
    return files


def report_context_files(wildcards):
    return WORKFLOW.report_context_files()


def validation_files(wildcards):
    return WORKFLOW.validation_files()


def all_scores(wildcards):
    return WORKFLOW.all_scores()


def table_benchmark(wildcards):
    return f"resources/benchmarks/{config['tables'][wildcards.table]['benchmark']}.parquet"


def table_scores(wildcards):
    return WORKFLOW.table_scores(wildcards.table)
