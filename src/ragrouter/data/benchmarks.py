"""RouteLLM's evaluation benchmarks, loaded exactly as `routellm/evals/benchmarks.py` loads them.

Stage: data (rule `prepare_benchmark`). Reads `routellm-evals/`; writes `resources/benchmarks/<name>.parquet`.

Each benchmark becomes one table in RouteLLM's row order with the columns
`row, prompt, prompt_sha1, strong, weak`: `strong`/`weak` are the per-prompt quality of each model
(1.0/0.0 correctness for MMLU and GSM8K, the mean GPT-4 judge score over both turns for MT-Bench).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from ragrouter.common.io import sha1_text
from ragrouter.data.sources import DataError

STRONG_MODEL = "gpt-4-1106-preview"
WEAK_MODEL = "mistralai/Mixtral-8x7B-Instruct-v0.1"


@dataclass(frozen=True)
class BenchmarkSpec:
    name: str
    label: str
    kind: str  # "correctness": quality in {0, 1}, accuracy in %; "judge": mean 1-10 judge score
    scale: float  # multiplies the mean quality into RouteLLM's reported unit


BENCHMARKS: dict[str, BenchmarkSpec] = {
    "mmlu": BenchmarkSpec("mmlu", "MMLU", "correctness", 100.0),
    "gsm8k": BenchmarkSpec("gsm8k", "GSM8K", "correctness", 100.0),
    "mt_bench": BenchmarkSpec("mt_bench", "MT-Bench", "judge", 1.0),
}


def read_jsonl(path: Path) -> list[dict]:
    rows = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as err:
                raise DataError(f"{path}: row {lineno}: not valid JSON ({err.msg})") from err
    return rows


def require_fields(path: Path, row_no: int, row: dict, fields: list[str]) -> None:
    for field in fields:
        if field not in row or row[field] is None:
            raise DataError(f"{path}: row {row_no}: missing field {field!r}")


def _contaminated(path: Path) -> set[str]:
    rows = read_jsonl(path)
    for i, row in enumerate(rows, start=1):
        require_fields(path, i, row, ["eval_prompt"])
    return {r["eval_prompt"] for r in rows}


def _read_correctness_csv(path: Path, strong: str = STRONG_MODEL, weak: str = WEAK_MODEL) -> pl.DataFrame:
    """Read a RouteLLM response CSV and check its prompt and both models' correctness columns."""
    df = pl.read_csv(path, infer_schema_length=0)  # all strings: we parse booleans ourselves
    for field in ["prompt", weak, strong]:
        if field not in df.columns:
            raise DataError(f"{path}: missing column {field!r} (columns: {df.columns})")
    out = {"prompt": df["prompt"].to_list()}
    for model, key in [(strong, "strong"), (weak, "weak")]:
        values = []
        for i, cell in enumerate(df[model].to_list()):
            if cell not in ("True", "False"):
                raise DataError(f"{path}: row {i + 2}: field {model!r} must be True/False, got {cell!r}")
            values.append(1.0 if cell == "True" else 0.0)
        out[key] = values
    for i, prompt in enumerate(out["prompt"]):
        if prompt is None or not prompt.strip():
            raise DataError(f"{path}: row {i + 2}: field 'prompt' is empty")
    return pl.DataFrame(out)


def _finish(df: pl.DataFrame) -> pl.DataFrame:
    df = df.with_row_index("row").with_columns(
        pl.col("row").cast(pl.Int64),
        pl.col("prompt").map_elements(sha1_text, return_dtype=pl.String).alias("prompt_sha1"),
    )
    return df.select("row", "prompt", "prompt_sha1", "strong", "weak", *[c for c in df.columns if c not in {"row", "prompt", "prompt_sha1", "strong", "weak"}])


def load_mmlu(evals_dir: Path, strong: str = STRONG_MODEL, weak: str = WEAK_MODEL) -> pl.DataFrame:
    """57 domains concatenated in RouteLLM's `ALL_MMLU_DOMAINS` order, minus contaminated prompts."""
    evals_dir = Path(evals_dir)
    domains = [d.strip() for d in (evals_dir / "mmlu/domains.txt").read_text().splitlines() if d.strip()]
    frames = [
        _read_correctness_csv(evals_dir / f"mmlu/responses/mmlu_{d}.csv", strong, weak).with_columns(pl.lit(d).alias("domain"))
        for d in domains
    ]
    df = pl.concat(frames)
    contaminated = _contaminated(evals_dir / "mmlu/contaminated_prompts.jsonl")
    return _finish(df.filter(~pl.col("prompt").is_in(list(contaminated))))


def load_gsm8k(evals_dir: Path, strong: str = STRONG_MODEL, weak: str = WEAK_MODEL) -> pl.DataFrame:
    evals_dir = Path(evals_dir)
    df = _read_correctness_csv(evals_dir / "gsm8k/gsm8k_responses.csv", strong, weak)
    contaminated = _contaminated(evals_dir / "gsm8k/contaminated_prompts.jsonl")
    return _finish(df.filter(~pl.col("prompt").is_in(list(contaminated))))


def load_mt_bench(evals_dir: Path, strong: str = STRONG_MODEL, weak: str = WEAK_MODEL) -> pl.DataFrame:
    """Turn 1 is routed; quality is the mean judge score of both turns, as RouteLLM's merge gives."""
    evals_dir = Path(evals_dir)
    qpath = evals_dir / "mt_bench/question.jsonl"
    questions = read_jsonl(qpath)
    contaminated = _contaminated(evals_dir / "mt_bench/contaminated_prompts.jsonl")
    jpath = evals_dir / "mt_bench/judgements.jsonl"
    scores: dict[tuple[str, str], list[float]] = {}
    for i, j in enumerate(read_jsonl(jpath), start=1):
        require_fields(jpath, i, j, ["question_id", "model", "score"])
        try:
            score = float(j["score"])
        except (TypeError, ValueError) as err:
            raise DataError(f"{jpath}: row {i}: field 'score' is not a number: {j['score']!r}") from err
        scores.setdefault((str(j["question_id"]), j["model"]), []).append(score)
    rows = []
    for i, q in enumerate(questions, start=1):
        require_fields(qpath, i, q, ["question_id", "turns"])
        turns = q["turns"]
        if turns[0] in contaminated or (len(turns) > 1 and turns[1] in contaminated):
            continue
        qid = str(q["question_id"])
        row = {"prompt": turns[0], "question_id": qid}
        for model, key in [(strong, "strong"), (weak, "weak")]:
            judged = scores.get((qid, model), [])
            if len(judged) != 2:
                raise DataError(f"{jpath}: question {qid}: expected 2 judgements of {model}, found {len(judged)}")
            row[key] = sum(judged) / len(judged)
        rows.append(row)
    return _finish(pl.DataFrame(rows))


LOADERS = {"mmlu": load_mmlu, "gsm8k": load_gsm8k, "mt_bench": load_mt_bench}


def load_benchmark(name: str, evals_dir: Path, strong: str = STRONG_MODEL, weak: str = WEAK_MODEL) -> pl.DataFrame:
    """One benchmark with the `strong` and `weak` models' quality (config `strong_model` /
    `weak_model`: the columns, or MT-Bench judge `model` names, the evaluation files must hold)."""
    if name not in LOADERS:
        raise DataError(f"unknown benchmark {name!r}; choose one of {sorted(LOADERS)}")
    return LOADERS[name](evals_dir, strong, weak)
