# Config validation, wildcard constraints and input functions shared by all rules.

from snakemake.utils import validate

from ragrouter.data.sources import datasets, resolve_data_dir


validate(config, schema="../schemas/config.schema.yaml")

DATASETS = datasets()
TRAINED_ROUTERS = [r for r in config["routers"] if r != "random"]


wildcard_constraints:
    dataset="|".join(DATASETS),
    benchmark="|".join(config["benchmarks"]),
    model="|".join(config["models"]),
    table="|".join(config["tables"]),
    router="|".join(TRAINED_ROUTERS) if TRAINED_ROUTERS else "(?!)",
    seed=r"\d+",
    prompt_set="corpus|" + "|".join(config["benchmarks"]),


def data_dir():
    return str(resolve_data_dir(config["data_dir"]))


def router_seeds(router_id):
    """Random router: RouteLLM's iterations; trained routers: the configured training seeds."""
    if router_id == "random":
        return list(range(config["routers"]["random"]["iterations"]))
    return config["seeds"]


def score_files(benchmark, router_id):
    return expand(
        "results/scores/{benchmark}/{router}/seed-{seed}.parquet",
        benchmark=benchmark,
        router=router_id,
        seed=router_seeds(router_id),
    )


def table_routers(table):
    """The table's rows whose routers are configured; the others are absent until they exist."""
    return [r for r in config["tables"][table]["rows"] if r in config["routers"]]


def router_names():
    return {r: s.get("name", r) for r, s in config["routers"].items()}


def router_setting(key, default):
    return lambda wildcards: config["routers"][wildcards.router].get(key, default)
