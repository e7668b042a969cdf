"""The Snakemake workflow: lint-clean, plans every table, and runs every rule on the tiny config."""

from __future__ import annotations

import json
import re
import os
import shutil
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
RAGROUTER = str(Path(sys.executable).parent / "ragrouter")
TABLES = [f"results/table{i}.csv" for i in range(1, 7)]


def run(args, cwd=ROOT, env=None, timeout=900):
    proc = subprocess.run(SNAKEMAKE + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc.returncode, proc.stdout + proc.stderr


def test_lint_is_clean():
    code, out = run(["--lint"])
    assert code == 0, out
    assert "Congratulations" in out


def test_dry_run_plans_tables_1_to_6_for_each_seed():
    code, out = run(["-n", "--forceall", "--config", "seeds=[0,1]", "--", *TABLES])
    assert code == 0, out
    for rule in ["make_table", "prepare_benchmark", "fetch_dataset", "score_random"]:
        assert rule in out
    assert "resources/routers/bert/seed-1" in out and "resources/routers/bert/seed-2" not in out


def test_dry_run_imports_no_torch(tmp_path):
    """Parsing the rules imports only the light modules (config, paths, router ids): no torch, no models."""
    shutil.copy(ROOT / ".test/config.yaml", tmp_path / "config.yaml")
    cmd = [sys.executable, "-X", "importtime", "-m", "snakemake", "-n", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    imported = {line.rsplit("|", 1)[-1].strip() for line in proc.stderr.splitlines() if line.startswith("import time:")}
    assert {"ragrouter.routers.kinds", "ragrouter.method.variants"} <= imported  # the rules did read the package
    heavy = {m for m in imported if m.split(".")[0] in {"torch", "transformers", "sentence_transformers", "faiss", "spacy", "sklearn", "pandera"}}
    assert not heavy, sorted(heavy)[:10]


def test_judge_cache_is_an_input_of_augmentation_made_by_its_own_rule(tmp_path):
    """The judge's cache is made by rule judge_cache and is an input of augment_corpus, so a rerun of
    augmentation keeps it; its configured folder is the one planned."""
    judge = tmp_path / "judge.yaml"
    judge.write_text(yaml.safe_dump({"ragrouter": {"augment": {"labeling": "judge", "judge": {"cache_dir": "resources/my_cache"}}}}))
    code, out = run(["-n", "--forceall", "--configfile", "config.yaml", str(judge), "--", "resources/ragrouter/augmented.parquet"])
    assert code == 0, out
    assert "rule judge_cache:" in out and "output: resources/my_cache" in out
    assert "input: resources/corpus/corpus.parquet, resources/benchmarks/evaluation_prompts.parquet, resources/my_cache" in out


def test_released_routers_are_planned_into_tables_1_and_2(tmp_path):
    extra = tmp_path / "released.yaml"
    released = {"routellm_mf": {"name": "RouteLLM MF (released)", "router": "mf", "config": {"checkpoint_path": "routellm/mf_gpt4_augmented"}}}
    extra.write_text(yaml.safe_dump({"released_routers": released}))
    code, out = run(["-n", "--forceall", "--configfile", "config.yaml", str(extra), "--config", "seeds=[0]", "--", "results/table1.csv", "results/table2.csv"])
    assert code == 0, out
    for benchmark in ("mmlu", "gsm8k"):
        assert f"output: results/scores/{benchmark}/routellm_mf/seed-0.parquet" in out
    assert out.count("rule score_released_router:") == 2 and "routellm_bert" not in out  # rows of unconfigured ones stay out


def test_slurm_profile_dry_runs():
    code, out = run(["-n", "--forceall", "--profile", "profiles/slurm", "results/table1.csv"])
    assert code == 0, out


@pytest.mark.parametrize(
    ("old", "new", "named"),
    [
        ("validation_fraction: 0.005", "validation_fraction: 2", "validation_fraction"),  # out of range
        ("rows: [random, prompt_length,", "rows: [random, promt_length,", "promt_length"),  # misspelled table row
        ("    name: P2L\n", "    name: P2L\n    mem: 4000\n", "'mem' was unexpected"),  # a router setting nothing reads
        ("seeds: [0]", "seeds: [0]\nseed: [1]", "'seed' was unexpected"),  # unknown top-level key
        ("seeds: [0]", "seeds: [0]\njob_threads: 0", "job_threads"),  # a job needs a thread
        ("    name: P2L\n", "    name: P2L\n    gpus: 1\n    processes: 2\n", "routers.p2l: processes 2 > gpus 1"),  # a process without a GPU
        ("  fusion: {train_examples", "  fusion: {encoder: causal_lm, train_examples", "embedding.from_fusion"),  # routers and fusion on different encoders
    ],
)
def test_bad_config_is_rejected(tmp_path, old, new, named):
    text = (ROOT / ".test/config.yaml").read_text()
    assert old in text
    (tmp_path / "config.yaml").write_text(text.replace(old, new, 1))
    code, out = run(["-n", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path)])
    assert code != 0 and named in out


def planned_jobs(target: str, workdir: Path) -> set[tuple[str, str]]:
    """(rule, outputs) of every job a dry run plans for `target` from nothing."""
    code, out = run(["-n", "-s", str(ROOT / "Snakefile"), "--directory", str(workdir), target])
    assert code == 0, out
    jobs, rule = set(), None
    for line in out.splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule = line.split()[1].rstrip(":")
        elif line.startswith("    output:") and rule:
            jobs.add((rule, line.split(":", 1)[1].strip()))
    return jobs


def test_each_ablation_wildcard_changes_exactly_the_stage_it_names(tmp_path):
    """Switching one of aug/sample/feat/rag off re-plans only its own stage and what is downstream of
    it; every upstream artifact is shared with the full variant."""
    shutil.copy(ROOT / ".test/config.yaml", tmp_path / "config.yaml")
    score = "results/scores/mmlu/ragrouter_{}/seed-0.parquet"
    full = planned_jobs(score.format("aug-on_sample-on_feat-on_rag-on"), tmp_path)
    downstream = {"build_knowledge_base", "train_ragrouter", "score_ragrouter"}
    expected = {
        "aug-off_sample-on_feat-on_rag-on": {"sample_corpus"} | downstream,
        "aug-on_sample-off_feat-on_rag-on": downstream,
        # both feature files come from one encoder pass (encode_features): feat=off reads the other file
        "aug-on_sample-on_feat-off_rag-on": downstream,
        "aug-on_sample-on_feat-on_rag-off": {"train_ragrouter", "score_ragrouter"},
    }
    for variant, rules in expected.items():
        changed = planned_jobs(score.format(variant), tmp_path) - full
        assert {rule for rule, _ in changed} == rules, variant


@pytest.mark.slow
@pytest.mark.dag
def test_tiny_workflow_runs_every_rule(tmp_path, data_dir, smollm2_dir):
    config = yaml.safe_load((ROOT / ".test/config.yaml").read_text())
    # the GGUF conversion is tested by the session fixture; here prepare_model copies its result (`path:`)
    config["models"]["causal_lm"] = f"path:{smollm2_dir}"
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    env = {**os.environ, "RAGROUTER_DATA_DIR": str(data_dir)}
    # one thread per job, two jobs at a time: the tiny jobs are dominated by start-up, not compute
    code, out = run(["--cores", "2", "--max-threads", "1", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path)], env=env)
    assert code == 0, out[-5000:]
    table = pl.read_csv(tmp_path / "results/table1.csv")
    rows = ["random", "prompt_length", "knn", "sw_ranking", "matrix_factorization", "bert", "causal_llm", "p2l", "routellm_random", "ragrouter_aug-on_sample-on_feat-on_rag-on"]
    assert table["router_id"].to_list() == rows
    assert {"CPT(50%)", "CPT(80%)", "APGR"} <= set(table.columns)
    for i in range(3, 7):  # every ablation table: the variant with one switch off, then the full method
        ablation = pl.read_csv(tmp_path / f"results/table{i}.csv")
        assert ablation.height == 2 and ablation["router"][1] == "RAGRouter" and " w/o " in ablation["router"][0]
    for variant, grid in (("aug-on_sample-on_feat-on_rag-on", [0, 0.5, 1]), ("aug-on_sample-on_feat-on_rag-off", [0])):  # w chosen on validation; none without neighbours
        meta = json.loads((tmp_path / f"resources/routers/ragrouter_{variant}/seed-0/router.json").read_text())
        assert meta["params"]["vote_weight"] in grid, meta["params"]
    for router in ("bert", "ragrouter_aug-on_sample-on_feat-on_rag-on"):  # onnx_int8_checked: int8 scored on validation, read when scoring
        assert "score_onnx_int8" in pl.read_parquet(tmp_path / f"results/validation/{router}/seed-0.parquet").columns
        assert re.search(r"scoring with onnx(_int8)?\n", (tmp_path / f"logs/{'score_router/bert' if router == 'bert' else 'score_ragrouter/' + router.removeprefix('ragrouter_')}/seed-0.log").read_text())
    assert "read from the lower states of 50 prompts" in (tmp_path / "logs/score_router/causal_llm/seed-0.log").read_text()  # freeze_input_embeddings
    assert "cap: at most 20 train rows per source" in (tmp_path / "logs/train_router/knn/seed-0.log").read_text()  # a router's own cap
    ragrouter_log = (tmp_path / "logs/train_ragrouter/aug-on_sample-on_feat-on_rag-on/seed-0.log").read_text()
    sampled, capped, held_out = map(int, re.search(r"ragrouter: (\d+) training queries \((\d+) within the classifier's cap, (\d+) of them retrieving with their own task held out", ragrouter_log).groups())
    assert held_out == round(0.5 * capped)  # .test/config.yaml: held_out_training_share 0.5
    assert "loses its domain's other tasks too: {'science_multiple_choice': [" in ragrouter_log  # .test/config.yaml: held_out_domains
    trained = int(re.search(r"bert: (\d+) train rows", ragrouter_log)[1])
    assert trained == capped < sampled and trained <= 30 * 5  # the classifier's cap: at most 30 of each source's sampled rows
    report = (tmp_path / "results/REPORT.md").read_text()
    for table in config["tables"]:  # every table has its figure, and REPORT.md shows it
        assert (tmp_path / f"results/plots/tables/{table}.png").read_bytes()[:4] == b"\x89PNG" and f"(plots/tables/{table}.png)" in report
    # `ragrouter report` rebuilds the same tables, figures and REPORT.md from the run's small files alone
    (tmp_path / "resources").rename(tmp_path / "resources.away")
    proc = subprocess.run([RAGROUTER, "report", "--out", "rebuilt"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300)
    (tmp_path / "resources.away").rename(tmp_path / "resources")
    assert proc.returncode == 0, proc.stderr[-3000:]
    for name in [*(f"results/{t}.csv" for t in config["tables"]), "results/metrics/mmlu.json", "results/REPORT.md"]:
        assert (tmp_path / "rebuilt" / name).read_bytes() == (tmp_path / name).read_bytes(), name
    code, rules = run(["--list-rules", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path)], env=env)
    ran = {p.name for p in (tmp_path / "logs").iterdir() if p.is_dir() and p.name != "benchmarks"}
    expected = {r.strip() for r in rules.splitlines() if r.strip() and r.strip() != "all" and not r.startswith(" ")}
    # embed_prompts: the embedding routers read encode_features' states here (`embedding.from_fusion`);
    # test_a_run_killed_mid_rule_resumes_to_byte_identical_tables runs it
    assert expected - {"embed_prompts"} <= ran, f"rules without a log: {expected - ran}"
    assert "embed_prompts" not in ran
    code, out = run(["-n", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path)], env=env)
    assert code == 0 and "Nothing to be done" in out


TOY_ROUTER = '''"""A router of one\'s own: the share of question marks in the prompt."""
import numpy as np

from ragrouter.routers.base import Router


class QuestionMarks(Router):
    def strong_win_rates(self, prompts):
        return np.array([p.count("?") / (len(p) + 1) for p in prompts], dtype=np.float64)


def train(corpus, battles, encoder, params, seed):
    return QuestionMarks()
'''


def _small_config(tmp_path: Path, data_dir: Path) -> dict:
    """The tiny config cut to three routers and Table 1: every data, embedding, training, scoring
    and evaluation rule kind, in about a minute. A fourth router is one of our own, added as the
    README says: one module (on PYTHONPATH) and one config entry naming it as its kind."""
    config = yaml.safe_load((ROOT / ".test/config.yaml").read_text())
    config["benchmarks"] = ["mmlu"]
    config["routers"] = {k: config["routers"][k] for k in ("random", "prompt_length", "sw_ranking")}
    config["routers"]["question_marks"] = {"name": "Toy: question marks", "kind": "toy_question_marks"}
    config.pop("ragrouter")
    config["embedding"]["from_fusion"] = False  # without RAGRouter's features: rule embed_prompts
    config["models"] = {"encoder": config["models"]["encoder"]}
    config["tables"] = {"table1": {"benchmark": "mmlu", "rows": ["random", "prompt_length", "sw_ranking", "question_marks"]}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    (tmp_path / "my_routers").mkdir()
    (tmp_path / "my_routers/toy_question_marks.py").write_text(TOY_ROUTER)
    return {**os.environ, "RAGROUTER_DATA_DIR": str(data_dir), "PYTHONPATH": os.pathsep.join([str(tmp_path / "my_routers"), os.environ.get("PYTHONPATH", "")])}


@pytest.mark.slow
def test_a_run_killed_mid_rule_resumes_to_byte_identical_tables(tmp_path, data_dir):
    """SIGKILL a run inside embed_prompts, resume it, then rerun embed_prompts and everything
    downstream of it uninterrupted (`--forcerun`): the tables are byte-identical."""
    import signal
    import time

    env = _small_config(tmp_path, data_dir)
    cmd = ["--cores", "2", "--max-threads", "1", "-s", str(ROOT / "Snakefile"), "--directory", str(tmp_path)]
    # SIGKILL the whole run while embed_prompts is inside its script (its log exists, its output not yet)
    proc = subprocess.Popen(SNAKEMAKE + cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    log, deadline = tmp_path / "logs/embed_prompts/corpus.log", time.monotonic() + 300
    while not log.exists() and proc.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before embed_prompts started"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not (tmp_path / "resources/embeddings/corpus.parquet").exists()  # nothing half-written under the output's name
    code, out = run(["--unlock", *cmd], env=env)
    assert code == 0, out[-3000:]
    code, out = run([*cmd, "--rerun-incomplete"], env=env)
    assert code == 0, out[-3000:]
    outputs = ("results/table1.csv", "results/metrics/mmlu.json", "results/scores/mmlu/sw_ranking/seed-0.parquet")
    resumed = {name: (tmp_path / name).read_bytes() for name in outputs}
    code, out = run([*cmd, "--forcerun", "embed_prompts"], env=env)
    assert code == 0 and "embed_prompts" in out, out[-3000:]
    for name in outputs:
        assert (tmp_path / name).read_bytes() == resumed[name], name
    table = pl.read_csv(tmp_path / "results/table1.csv")
    assert table["router_id"].to_list() == ["random", "prompt_length", "sw_ranking", "question_marks"]
    assert table.filter(pl.col("router_id") == "question_marks")["router"].item() == "Toy: question marks"


def test_committed_results_rebuild_byte_identical_from_the_committed_files(tmp_path, data_dir):
    """README's quick look: every committed table, metrics file and REPORT.md recomputes from the
    committed score files with the workflow's own code (and REPORT.md is current with that code),
    under the config the run recorded (results/run_config.yaml), whatever config.yaml says now."""
    env = {**os.environ, "RAGROUTER_DATA_DIR": str(data_dir)}
    proc = subprocess.run([RAGROUTER, "report", "--out", str(tmp_path)], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    committed = [*(ROOT / "results").glob("table*.csv"), *(ROOT / "results/metrics").glob("*.json"), ROOT / "results/REPORT.md"]
    assert len(committed) == 11
    for path in committed:
        name = path.relative_to(ROOT)
        assert (tmp_path / name).read_bytes() == path.read_bytes(), f"{name} differs from its rebuild: run `ragrouter report` and commit"


def test_paper_config_leaves_no_cpu_budget_of_the_reference_config():
    """`--configfile config.paper.yaml` merges over config.yaml (Snakemake's recursive update): none
    of the reference run's CPU budgets may survive the merge."""
    from snakemake.utils import update_config

    config = yaml.safe_load((ROOT / "config.yaml").read_text())
    update_config(config, yaml.safe_load((ROOT / "config.paper.yaml").read_text()))
    assert config["benchmark_subsample"] == 1 and config["corpus"]["max_train_rows_per_source"] is None
    assert config["inference_backend"] == "torch"  # ONNX Runtime scores float32 on the CPU only; bf16 on GPUs is torch's
    assert config["embedding"]["from_fusion"] is False  # its fusion encoder (DeBERTa-v3) is not the routers' (MPNet)
    assert [s["name"] for s in config["corpus"]["sources"]] == ["arena_55k", "gpt4_dataset"]  # the paper's training data
    classifiers = [config["routers"]["bert"]["params"], config["routers"]["causal_llm"]["params"], config["ragrouter"]["classifier"]["params"]]
    for params in classifiers:
        assert params.get("train_dtype", "auto") == "auto" and params.get("inference_dtype", "auto") == "auto", params
    assert config["routers"]["bert"]["params"]["max_length"] >= 512 and config["ragrouter"]["classifier"]["params"]["max_length"] >= 512
    assert config["routers"]["causal_llm"]["params"]["max_train_examples"] is None and config["ragrouter"]["perplexity"]["max_length"] >= 512
    rag = config["ragrouter"]
    used = ["encoder", config["routers"]["bert"]["backbone"], config["routers"]["causal_llm"]["backbone"], rag["perplexity"]["model"], rag["fusion"]["encoder"], rag["classifier"]["backbone"]]
    assert all(config["models"][m].startswith("hub:") for m in used), {m: config["models"][m] for m in used}


def test_slurm_jobs_get_gpus_only_where_the_config_asks_and_keep_their_configured_resources():
    code, out = run(["-n", "--forceall", "--profile", "profiles/slurm", "--configfile", "config.yaml", "config.paper.yaml", "--", "results/table1.csv"])
    assert code == 0, out[-3000:]
    jobs, rule, output = {}, None, None
    for line in out.splitlines():
        if line.startswith(("rule ", "localrule ")):
            rule = line.split()[1].rstrip(":")
        elif line.startswith("    output:"):
            output = line.split(":", 1)[1].strip().split(",")[0]
        elif line.startswith("    resources:") and rule:
            jobs[(rule, output)] = dict(kv.split("=", 1) for kv in line.split(":", 1)[1].strip().split(", "))
    bert = jobs[("train_router", "resources/routers/bert/seed-0")]
    sw = jobs[("train_router", "resources/routers/sw_ranking/seed-0")]
    causal = jobs[("train_router", "resources/routers/causal_llm/seed-0")]
    rag = jobs[("train_ragrouter", "resources/routers/ragrouter_aug-on_sample-on_feat-on_rag-on/seed-0")]
    assert (bert["gpu"], bert["slurm_partition"], bert["runtime"]) == ("1", "gpu", "240")
    assert (sw["gpu"], sw["slurm_partition"]) == ("0", "cpu")
    assert (causal["mem_mb"], causal["runtime"], rag["gpu"], rag["slurm_partition"]) == ("64000", "720", "1", "gpu")
