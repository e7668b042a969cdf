"""Loaders for the paper's own training sets, which need the Hugging Face Hub.

Stage: data. Reads a hub id or a local file; returns corpus-schema tables.

`lmarena-ai/arena-human-preference-55k` and `routellm/gpt4_dataset` are read through `datasets`
when given a hub id (connected users), or from a local JSON / JSONL / parquet / CSV file with the
same schema (offline; tested on the real 10-row gpt4_dataset sample and a written Arena fixture).
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl

from ragrouter.data.sources import DataError

ARENA_FIELDS = ["id", "model_a", "model_b", "prompt", "response_a", "response_b", "winner_model_a", "winner_model_b", "winner_tie"]
GPT4_FIELDS = ["prompt", "mixtral_score"]


def _read_table(source: str | Path, split: str = "train") -> tuple[pl.DataFrame, str]:
    path = Path(source)
    if path.exists():
        if path.suffix == ".parquet":
            return pl.read_parquet(path), str(path)
        if path.suffix == ".csv":
            return pl.read_csv(path), str(path)
        if path.suffix == ".jsonl":
            return pl.read_ndjson(path), str(path)
        data = json.loads(path.read_text())
        if isinstance(data, dict):  # pandas' column-oriented to_json: {column: {row_id: value}}
            keys = list(next(iter(data.values())).keys())
            return pl.DataFrame({"id": keys, **{col: [data[col][k] for k in keys] for col in data}}), str(path)
        return pl.DataFrame(data), str(path)
    import datasets  # only connected users get here

    ds = datasets.load_dataset(str(source), split=split)
    return pl.from_arrow(ds.data.table), str(source)


def _check_fields(df: pl.DataFrame, where: str, fields: list[str]) -> None:
    missing = [f for f in fields if f not in df.columns]
    if missing:
        raise DataError(f"{where}: missing column(s) {missing} (columns: {df.columns})")


def load_gpt4_dataset(source: str | Path) -> pl.DataFrame:
    """routellm/gpt4_dataset -> id, prompt, source, gpt4_response, mixtral_response, mixtral_score.

    The Anyscale sample names the columns gpt4 / mixtral / label; both spellings are accepted.
    """
    df, where = _read_table(source)
    df = df.rename({k: v for k, v in {"gpt4": "gpt4_response", "mixtral": "mixtral_response", "label": "mixtral_score"}.items() if k in df.columns})
    _check_fields(df, where, GPT4_FIELDS)
    if "id" not in df.columns:
        df = df.with_row_index("id")
    if "source" in df.columns and isinstance(df["source"].dtype, pl.List):  # the sample wraps it in a list
        df = df.with_columns(pl.col("source").list.first())
    for i, score in enumerate(df["mixtral_score"].to_list()):
        if score is None or int(score) != score or not 1 <= int(score) <= 5:
            raise DataError(f"{where}: row {i}: field 'mixtral_score' must be an integer 1-5, got {score!r}")
    return df.with_columns(pl.col("id").cast(pl.String), pl.col("mixtral_score").cast(pl.Int64))


def _first_turn(cell: str, where: str, row: int, field: str) -> str:
    """Arena stores prompts and responses as JSON-encoded lists of turns."""
    try:
        turns = json.loads(cell)
    except (TypeError, json.JSONDecodeError) as err:
        raise DataError(f"{where}: row {row}: field {field!r} is not a JSON list of turns") from err
    if not isinstance(turns, list) or not turns:
        raise DataError(f"{where}: row {row}: field {field!r} is not a non-empty JSON list of turns")
    return "" if turns[0] is None else str(turns[0])


def load_arena_55k(source: str | Path) -> pl.DataFrame:
    """lmarena-ai/arena-human-preference-55k -> battles: id, prompt, model_a, model_b, winner."""
    df, where = _read_table(source)
    _check_fields(df, where, ARENA_FIELDS)
    rows = []
    for i, r in enumerate(df.iter_rows(named=True)):
        flags = [int(r["winner_model_a"]), int(r["winner_model_b"]), int(r["winner_tie"])]
        if sorted(flags) != [0, 0, 1]:
            raise DataError(f"{where}: row {i}: exactly one of winner_model_a / winner_model_b / winner_tie must be 1, got {flags}")
        rows.append(
            {
                "id": str(r["id"]),
                "prompt": _first_turn(r["prompt"], where, i, "prompt"),
                "model_a": r["model_a"],
                "model_b": r["model_b"],
                "winner": ["model_a", "model_b", "tie"][flags.index(1)],
            }
        )
    return pl.DataFrame(rows)
