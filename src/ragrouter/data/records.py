"""Raw records, read and checked one at a time with pydantic models before a loader uses them.

Stage: data (every raw loader: training sources, paper datasets, benchmarks, `ragrouter route`
input). Reads a file; yields `(row, record)`; raises `DataError`.

Why: a malformed record must stop the run with the user's file, the row and the field, never a
`KeyError` or `TypeError` deep inside a loader. Rows are counted as a reader of the file would:
the line for JSONL and text files, the line of a CSV row with the header as row 1, and the 0-based
position in a JSON array, a parquet table or a hub dataset.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError

from ragrouter.data.sources import DataError

FiniteFloat = Annotated[float, Field(allow_inf_nan=False)]
NonBlank = Annotated[str, Field(pattern=r"\S")]
QuestionId = int | NonBlank  # smart union: kept as the file spells it
EmptyIsNone = BeforeValidator(lambda v: None if v == "" else v)


class Record(BaseModel):
    """A raw record: the fields a loader reads are typed; any other field passes through."""

    model_config = ConfigDict(extra="allow", frozen=True)


def read_text(path: Path) -> str:
    """The file's text (gunzipped for `.gz`); bytes that are not UTF-8 are named by their line."""
    path = Path(path)
    try:
        raw = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
    except (OSError, EOFError, zlib.error) as err:
        raise DataError(f"{path}: not a readable gzip file ({err})") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw[: err.start].count(b"\n") + 1
        raise DataError(f"{path}: row {line}: not valid UTF-8 (byte {err.start})") from None


def jsonl_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(line, parsed JSON) for every non-blank line."""
    for line_no, line in enumerate(read_text(path).splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield line_no, json.loads(line)
        except json.JSONDecodeError as err:
            raise DataError(f"{path}: row {line_no}: not valid JSON ({err.msg})") from None


def read_json(path: Path) -> Any:
    """The parsed JSON document of a file; malformed JSON is named with its line."""
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as err:
        raise DataError(f"{path}: not valid JSON ({err.msg}, line {err.lineno})") from None


def json_array_rows(path: Path) -> Iterator[tuple[int, Any]]:
    """(0-based position, element) of a file holding one JSON array."""
    data = read_json(path)
    if not isinstance(data, list):
        raise DataError(f"{path}: expected a JSON array of records, got {type(data).__name__}")
    yield from enumerate(data)


def csv_rows(path: Path, required: list[str]) -> Iterator[tuple[int, dict[str, str]]]:
    """(row, record) of a CSV file with a header (row 1) holding every `required` column."""
    csv.field_size_limit(1 << 30)
    reader = csv.DictReader(io.StringIO(read_text(path), newline=""))
    try:
        fields = reader.fieldnames or []
        for field in required:
            if field not in fields:
                raise DataError(f"{path}: missing column {field!r} (columns: {fields})")
        for row_no, rec in enumerate(reader, start=2):
            if None in rec or any(v is None for v in rec.values()):
                raise DataError(f"{path}: row {row_no}: expected {len(fields)} fields, got a row of another length")
            yield row_no, rec
    except csv.Error as err:
        raise DataError(f"{path}: row {reader.line_num}: not valid CSV ({err})") from None


def parquet_rows(path: Path) -> list[tuple[int, dict]]:
    """(0-based position, record) of a parquet table; an unreadable file is named."""
    import polars as pl

    try:
        return list(enumerate(pl.read_parquet(path).to_dicts()))
    except (pl.exceptions.PolarsError, OSError) as err:
        raise DataError(f"{path}: not a readable parquet file ({err})") from None


def checked(schema: Any, value: Any, where: str | Path, row: int | None = None, field: str | None = None) -> Any:
    """`value` validated by `schema` (a pydantic model or type); else a DataError naming `where`, the
    row and the first failing field (`field`: the name of a single value)."""
    try:
        return _adapter(schema).validate_python(value)
    except ValidationError as err:
        first = err.errors()[0]
        name = ".".join(str(p) for p in first["loc"]) or field or "record"
        at = f"row {row}: " if row is not None else ""
        raise DataError(f"{where}: {at}field {name!r}: {first['msg']} (value {repr(first.get('input'))[:80]})") from None


@functools.cache
def _adapter(schema: Any) -> TypeAdapter:
    return TypeAdapter(schema)


__all__ = ["EmptyIsNone", "FiniteFloat", "NonBlank", "QuestionId", "Record", "checked", "csv_rows", "json_array_rows", "jsonl_rows", "parquet_rows", "read_json", "read_text"]
