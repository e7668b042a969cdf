"""One validation layer for the tables that enter training, scoring and evaluation: the corpus,
score files and embedding files, checked with pandera's polars schemas (types, nulls, NaN, ranges,
duplicate keys, blank prompts). A failure is a `DataError` that names the file, the row and the
field, before anything is computed from the table.

Stage: every stage that reads one of these tables (`split_corpus`, `check_score_file`,
`load_embeddings`). Reads a table; returns it unchanged or raises.
"""

from __future__ import annotations

import pandera.polars as pa
import polars as pl

from ragrouter.data.sources import DataError


def _non_blank(data: pa.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col(data.key).str.strip_chars().str.len_chars() > 0)


def _finite(data: pa.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col(data.key).is_finite())


def _finite_vector(data: pa.PolarsData) -> pl.LazyFrame:
    return data.lazyframe.select(pl.col(data.key).list.eval(pl.element().is_finite()).list.all())


NON_BLANK = pa.Check(_non_blank, name="not blank")
FINITE = pa.Check(_finite, name="finite (no NaN or inf)")

CORPUS = pa.DataFrameSchema(
    {
        "id": pa.Column(pl.String, unique=True, required=False),
        "prompt": pa.Column(pl.String, NON_BLANK),
        "source": pa.Column(pl.String, required=False),
        "weak_score": pa.Column(pl.Int64, pa.Check.in_range(1, 5)),
        "label": pa.Column(pl.Int64, pa.Check.isin([0, 1])),
        "split": pa.Column(pl.String, pa.Check.isin(["train", "validation"])),
    },
    name="corpus",
)
SCORES = pa.DataFrameSchema(
    {
        "row": pa.Column(pl.Int64, unique=True),
        "prompt_sha1": pa.Column(pl.String),  # matched against the benchmark's by `check_score_file`
        "score": pa.Column(pl.Float64, FINITE),
    },
    name="score file",
)
EMBEDDINGS = pa.DataFrameSchema(
    {
        "prompt_sha1": pa.Column(pl.String, unique=True),
        "embedding": pa.Column(pl.List(pl.Float32), pa.Check(_finite_vector, name="finite vector")),
    },
    name="embeddings",
)


def _describe(failure: dict) -> str:
    check, field, value, row = failure["check"], failure["column"], failure["failure_case"], failure["index"]
    if check == "column_in_dataframe":
        return f"missing column {value!r}"
    if check.startswith("dtype("):
        return f"field {field!r} has type {value}, expected {check.removeprefix('dtype(').removesuffix(')')}"
    where = f"row {row}: " if row is not None else ""
    what = {"not_nullable": "is null or NaN", "field_uniqueness": "is not unique"}.get(check, f"fails {check}")
    return f"{where}field {field!r} {what} (value {value!r})"


def check_table(frame: pl.DataFrame, schema: pa.DataFrameSchema, where: str) -> pl.DataFrame:
    """`frame` if it satisfies `schema`; else a DataError naming `where` (the file), the first bad row
    (0-based) and its field, and how many other failures there are. Extra columns are allowed."""
    try:
        return schema.validate(frame, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases.sort("index", nulls_last=False)
        first = cases.row(0, named=True)
        more = f" (and {cases.height - 1} more failures)" if cases.height > 1 else ""
        raise DataError(f"{where}: {schema.name}: {_describe(first)}{more}") from None
