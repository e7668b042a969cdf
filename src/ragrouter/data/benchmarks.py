"""RouteLLM's evaluation benchmarks, loaded exactly as `routellm/evals/benchmarks.py` loads them.

Stage: data (rule `prepare_benchmark`). Reads `routellm-evals/`; writes `resources/benchmarks/<name>.parquet`.

Each benchmark becomes one table in RouteLLM's row order with the columns
`row, prompt, prompt_sha1, strong, weak`: `strong`/`weak` are the per-prompt quality of each model
(1.0/0.0 correctness for MMLU and GSM8K, the mean GPT-4 judge score over both turns for MT-Bench).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

import polars as pl
from pydantic import Field

from ragrouter.common.io import sha1_text
from ragrouter.data.records import FiniteFloat, NonBlank, QuestionId, Record, checked, csv_rows, jsonl_rows
from ragrouter.data.sources import DataError

Correctness = Literal["True", "False"]

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


class ContaminatedPrompt(Record):
    eval_prompt: str


class MTBenchQuestion(Record):
    question_id: QuestionId
    turns: Annotated[list[str], Field(min_length=1)]


class MTBenchJudgment(Record):
    question_id: QuestionId
    model: NonBlank
    score: FiniteFloat


def _contaminated(path: Path) -> set[str]:
    return {checked(ContaminatedPrompt, rec, path, i).eval_prompt for i, rec in jsonl_rows(path)}


def _read_correctness_csv(path: Path, strong: str = STRONG_MODEL, weak: str = WEAK_MODEL) -> pl.DataFrame:
    """Read a RouteLLM response CSV: a non-blank prompt and both models' True/False correctness."""
    out: dict[str, list] = {"prompt": [], "strong": [], "weak": []}
    for i, rec in csv_rows(path, ["prompt", weak, strong]):
        out["prompt"].append(checked(NonBlank, rec["prompt"], path, i, "prompt"))
        for model, key in [(strong, "strong"), (weak, "weak")]:
            out[key].append(1.0 if checked(Correctness, rec[model], path, i, model) == "True" else 0.0)
    return pl.DataFrame(out, schema={"prompt": pl.String, "strong": pl.Float64, "weak": pl.Float64})


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
    contaminated = _contaminated(evals_dir / "mt_bench/contaminated_prompts.jsonl")
    jpath = evals_dir / "mt_bench/judgements.jsonl"
    scores: dict[tuple[str, str], list[float]] = {}
    for i, rec in jsonl_rows(jpath):
        j = checked(MTBenchJudgment, rec, jpath, i)
        scores.setdefault((str(j.question_id), j.model), []).append(j.score)
    rows = []
    for i, rec in jsonl_rows(qpath):
        q = checked(MTBenchQuestion, rec, qpath, i)
        if q.turns[0] in contaminated or (len(q.turns) > 1 and q.turns[1] in contaminated):
            continue
        qid = str(q.question_id)
        row = {"prompt": checked(NonBlank, q.turns[0], qpath, i, "turns.0"), "question_id": qid}
        for model, key in [(strong, "strong"), (weak, "weak")]:
            judged = scores.get((qid, model), [])
            if len(judged) != 2:
                raise DataError(f"{qpath}: row {i}: question {qid}: expected 2 judgements of {model} in {jpath}, found {len(judged)}")
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


def spread_every(height: int, max_prompts: int | None) -> int:
    """The step that keeps at most `max_prompts` of `height` prompts spread over the whole benchmark
    (RouteLLM's order runs domain by domain): what the serving checks time and compare, not the tables."""
    return 1 if not max_prompts or height <= max_prompts else -(-height // max_prompts)


def subsample(table: pl.DataFrame, every: int) -> pl.DataFrame:
    """Every `every`-th prompt in RouteLLM's order, rows renumbered (quick-look and CI configs)."""
    if every <= 1:
        return table
    return table.gather_every(every).with_columns(pl.int_range(pl.len(), dtype=pl.Int64).alias("row"))
