"""Loaders for the paper's own training sets, which need the Hugging Face Hub.

Stage: data. Reads a hub id or a local file; returns corpus-schema tables.

`lmarena-ai/arena-human-preference-55k` and `routellm/gpt4_dataset` are read through `datasets`
when given a hub id (connected users), or from a local JSON / JSONL / parquet / CSV file with the
same schema (offline; tested on the real 10-row gpt4_dataset sample and a written Arena fixture).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import polars as pl
from pydantic import Field

from ragrouter.data.records import NonBlank, Record, checked, csv_rows, jsonl_rows, parquet_rows, read_json
from ragrouter.data.sources import DataError

class GPT4DatasetRow(Record):
    prompt: str
    mixtral_score: Annotated[int, Field(ge=1, le=5)]


Flag = Annotated[int, Field(ge=0, le=1)]


class Arena55kRow(Record):
    id: int | str
    model_a: NonBlank
    model_b: NonBlank
    prompt: str  # JSON-encoded lists of turns
    response_a: str
    response_b: str
    winner_model_a: Flag
    winner_model_b: Flag
    winner_tie: Flag


# The Anyscale sample of gpt4_dataset names its columns gpt4 / mixtral / label.
GPT4_RENAMES = {"gpt4": "gpt4_response", "mixtral": "mixtral_response", "label": "mixtral_score"}


def _read_records(source: str | Path, split: str = "train") -> tuple[list[tuple[int, dict]], str]:
    """(row, record) of a local JSON / JSONL / parquet / CSV file, or of a hub dataset's split."""
    path = Path(source)
    if not path.exists():
        import datasets  # only connected users get here

        return list(enumerate(datasets.load_dataset(str(source), split=split).to_list())), str(source)
    if path.suffix == ".jsonl":
        return list(jsonl_rows(path)), str(path)
    if path.suffix == ".csv":
        return list(csv_rows(path, [])), str(path)
    if path.suffix == ".parquet":
        return parquet_rows(path), str(path)
    data = read_json(path)
    if isinstance(data, dict):  # pandas' column-oriented to_json: {column: {row_id: value}}
        columns = [c for c in data.values() if isinstance(c, dict)]
        if len(columns) != len(data):
            raise DataError(f"{path}: a column-oriented JSON object must map each column to {{row id: value}}")
        keys = list(columns[0]) if columns else []
        data = [{"id": k, **{col: values.get(k) for col, values in data.items()}} for k in keys]
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of records or a column-oriented object")
    return list(enumerate(data)), str(path)


def load_gpt4_dataset(source: str | Path) -> pl.DataFrame:
    """routellm/gpt4_dataset -> id, prompt, source, gpt4_response, mixtral_response, mixtral_score."""
    records, where = _read_records(source)
    rows = []
    for i, rec in records:
        rec = {GPT4_RENAMES.get(k, k): v for k, v in rec.items()} if isinstance(rec, dict) else rec
        r = checked(GPT4DatasetRow, rec, where, i)
        extra = r.model_extra or {}
        src = extra.get("source")
        rows.append(
            {
                "id": str(extra.get("id", i)),
                "prompt": r.prompt,
                "source": str(src[0] if isinstance(src, list) and src else src) if src is not None else None,
                "gpt4_response": None if extra.get("gpt4_response") is None else str(extra["gpt4_response"]),
                "mixtral_response": None if extra.get("mixtral_response") is None else str(extra["mixtral_response"]),
                "mixtral_score": r.mixtral_score,
            }
        )
    schema = {"id": pl.String, "prompt": pl.String, "source": pl.String, "gpt4_response": pl.String, "mixtral_response": pl.String, "mixtral_score": pl.Int64}
    return pl.DataFrame(rows, schema=schema)


def _first_turn(cell: str, where: str, row: int, field: str) -> str:
    """Arena stores prompts and responses as JSON-encoded lists of turns."""
    try:
        turns = json.loads(cell)
    except json.JSONDecodeError as err:
        raise DataError(f"{where}: row {row}: field {field!r} is not a JSON list of turns") from err
    if not isinstance(turns, list) or not turns:
        raise DataError(f"{where}: row {row}: field {field!r} is not a non-empty JSON list of turns")
    return "" if turns[0] is None else str(turns[0])


def load_arena_55k(source: str | Path) -> pl.DataFrame:
    """lmarena-ai/arena-human-preference-55k -> battles: id, prompt, model_a, model_b, winner, and
    both models' first answers (response_a, response_b)."""
    records, where = _read_records(source)
    rows = []
    for i, rec in records:
        r = checked(Arena55kRow, rec, where, i)
        flags = [r.winner_model_a, r.winner_model_b, r.winner_tie]
        if sorted(flags) != [0, 0, 1]:
            raise DataError(f"{where}: row {i}: exactly one of winner_model_a / winner_model_b / winner_tie must be 1, got {flags}")
        first = {f: _first_turn(getattr(r, f), where, i, f) for f in ("prompt", "response_a", "response_b")}
        rows.append({"id": str(r.id), **first, "model_a": r.model_a, "model_b": r.model_b, "winner": ["model_a", "model_b", "tie"][flags.index(1)]})
    columns = ["id", "prompt", "response_a", "response_b", "model_a", "model_b", "winner"]
    return pl.DataFrame(rows, schema=dict.fromkeys(columns, pl.String)).select("id", "prompt", "model_a", "model_b", "winner", "response_a", "response_b")
