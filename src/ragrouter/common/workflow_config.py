"""What a validated config means for the workflow: which routers and RAGRouter variants run, with
which seeds, where their score files are, and how the report names them. Shared by the rules
(`rules/common.smk`) and `ragrouter report`, so the quick rebuild reads exactly the files the run wrote.

Light on purpose (no torch): Snakemake imports it every time it parses the rules.
"""

from __future__ import annotations

from typing import Any

from ragrouter.data.sources import datasets
from ragrouter.method.variants import FULL, VARIANT_RE, variant_name


class WorkflowConfig:
    """Derived views of one config dict (validated, defaults filled in by the schema)."""

    def __init__(self, config: dict[str, Any]):
        self.config = config
        self.released: dict[str, dict] = config.get("released_routers", {})  # RouteLLM's own checkpoints, scored as released
        self.trained: list[str] = [r for r in config["routers"] if r != "random"]
        # RAGRouter variants: the ragrouter_* rows of the tables, once the ragrouter section is configured
        rows = {r for t in config["tables"].values() for r in t["rows"] if VARIANT_RE.match(r)}
        self.variants: list[str] = sorted(rows) if "ragrouter" in config else []
        self.routers: list[str] = [*config["routers"], *self.variants, *self.released]
        self.embeddings_from_fusion: bool = bool(config.get("embedding", {}).get("from_fusion"))
        fusion_encoder = config["ragrouter"].get("fusion", {}).get("encoder", "encoder") if "ragrouter" in config else None
        if self.embeddings_from_fusion and fusion_encoder != "encoder":
            raise ValueError("config: embedding.from_fusion needs a ragrouter section whose fusion encodes with the `encoder` model (models.encoder)")

    @property
    def int8_checked(self) -> bool:
        """`inference_backend: onnx_int8_checked`: training jobs score validation in int8 too, and
        scoring jobs read that to choose the checkpoint's path."""
        return self.config.get("inference_backend") == "onnx_int8_checked"

    def shares_lower_states(self, router_id: str) -> bool:
        """A causal-LLM router whose frozen lower layers run once per benchmark for all seeds."""
        settings = self.config["routers"].get(router_id, {})
        return settings.get("kind", router_id) == "causal_llm" and bool(settings.get("params", {}).get("freeze_input_embeddings"))

    def embedding_file(self, prompt_set: str) -> str:
        """The sentence embeddings of a prompt set (`corpus`: corpus and battles; or a benchmark) that
        the embedding routers read: the fusion encoder's feat=off states, or rule embed_prompts' file."""
        if self.embeddings_from_fusion:
            return f"resources/ragrouter/features/feat-off/{'augmented' if prompt_set == 'corpus' else prompt_set}.parquet"
        return f"resources/embeddings/{prompt_set}.parquet"

    @property
    def embedding_settings(self) -> dict[str, Any]:
        """How the embedding routers embed a prompt no file holds (`registry.make_encoder`)."""
        settings = dict(self.config.get("embedding", {}))
        if self.embeddings_from_fusion:
            settings["fusion"] = self.config["ragrouter"].get("fusion", {}).get("params", {})
        return settings

    def router_seeds(self, router_id: str) -> list[int]:
        """Random router: RouteLLM's iterations; released routers: one (nothing is trained); trained
        routers: the configured training seeds."""
        if router_id == "random":
            return list(range(self.config["routers"]["random"]["iterations"]))
        if router_id in self.released:
            return [0]
        return self.config["seeds"]

    def score_files(self, benchmark: str, router_id: str) -> list[str]:
        return [f"results/scores/{benchmark}/{router_id}/seed-{s}.parquet" for s in self.router_seeds(router_id)]

    def table_routers(self, table: str) -> list[str]:
        """The table's rows whose routers are configured; the others are absent until they exist."""
        return [r for r in self.config["tables"][table]["rows"] if r in self.routers]

    def table_scores(self, table: str) -> list[str]:
        benchmark = self.config["tables"][table]["benchmark"]
        return [f for r in self.table_routers(table) for f in self.score_files(benchmark, r)]

    def benchmark_scores(self, benchmark: str) -> list[str]:
        return [f for r in self.routers for f in self.score_files(benchmark, r)]

    def all_scores(self) -> list[str]:
        return [f for b in self.config["benchmarks"] for f in self.benchmark_scores(b)]

    def router_names(self) -> dict[str, str]:
        names = {r: s.get("name", r) for r, s in {**self.config["routers"], **self.released}.items()}
        names.update({r: variant_name(r, self.config["ragrouter"]["name"]) for r in self.variants})
        return names

    def validation_files(self) -> list[str]:
        """Every trained router's and RAGRouter variant's validation scores, all seeds."""
        return [f"results/validation/{r}/seed-{s}.parquet" for r in [*self.trained, *self.variants] for s in self.config["seeds"]]

    def report_context_files(self) -> dict[str, str]:
        """What REPORT.md describes besides the tables, all small committed files: the data at each
        stage and, with the full RAGRouter, the serving and fast-path checks."""
        files = {"corpus_summary": "results/data/corpus_summary.csv", "stage_summary": "results/data/stage_summary.csv"}
        if FULL in self.variants:
            files |= {"serving": "results/serving/serving_check.json", "agreement": "results/serving/inference_agreement.json"}
        return files

    def label_settings(self) -> dict[str, str]:
        """The label scheme the report states: corpus labels and balance, and RAGRouter's rebalancing."""
        corpus = self.config["corpus"]
        settings = {"corpus.labels": corpus.get("labels", "pair"), "corpus.balance": corpus.get("balance", "none")}
        if self.variants:
            settings["ragrouter.sample.rebalance_within"] = str(self.config["ragrouter"].get("sample", {}).get("rebalance_within"))
        return settings

    def job_names(self) -> list[str]:
        """Every wildcard value a job of this configuration can have; the report counts only the
        `benchmark:` files whose path is made of these (not those of routers configured in earlier runs)."""
        config, variants = self.config, [v.removeprefix("ragrouter_") for v in self.variants]
        names = {*self.routers, *variants, *config["benchmarks"], "corpus", "augmented", *config["tables"], *datasets(), *config["models"]}
        names |= {v.rsplit("_rag-", 1)[0] for v in variants} | {f"seed-{s}" for s in config["seeds"]}
        names |= {part for v in variants for part in v.split("_") if part.startswith(("aug-", "feat-"))}
        return sorted(names)

    def benchmark_subsample(self, benchmark: str) -> int:
        """Every N-th prompt of the benchmark (quick-look and CI configs); 1 keeps all."""
        value = self.config.get("benchmark_subsample", 1)
        return value.get(benchmark, 1) if isinstance(value, dict) else value
