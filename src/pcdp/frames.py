"""The inputs of dbt Python models as Arrow / pandas, whatever the adapter hands over.

dbt gives a Python model each `dbt.ref(...)` as the adapter's own frame type: a DuckDB relation on
DuckDB, a Spark DataFrame on Spark / Databricks (and BigQuery Dataproc), a Snowpark DataFrame on
Snowflake. The package computes on Arrow, pandas and DuckDB SQL; a model's shim converts its
inputs once, here, and passes the session it was given:

    con = local_connection(session)        # DuckDB: the session itself; elsewhere in-memory
    relations = register_inputs(con, inputs)

On DuckDB nothing is copied (a relation of the same connection becomes a view over its SQL);
elsewhere each input is fetched once to the Python process as Arrow.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import duckdb
import pandas as pd
import pyarrow as pa

_VIEW_NAME = re.compile(r"[a-z_][a-z0-9_]*")


def to_arrow(frame: object) -> pa.Table:
    """An Arrow table of a DuckDB relation, Spark / Snowpark / pandas DataFrame or Arrow data."""
    if isinstance(frame, pa.Table):
        return frame
    if isinstance(frame, pa.RecordBatchReader):
        return frame.read_all()
    if isinstance(frame, pd.DataFrame):
        return pa.Table.from_pandas(frame, preserve_index=False)
    if isinstance(frame, duckdb.DuckDBPyRelation):
        result = frame.arrow()  # a RecordBatchReader from DuckDB 1.4 on, a Table before
        return result.read_all() if isinstance(result, pa.RecordBatchReader) else result
    to_arrow_method = getattr(frame, "toArrow", None)  # pyspark >= 4.0
    if callable(to_arrow_method):
        return to_arrow_method()
    return pa.Table.from_pandas(to_pandas(frame), preserve_index=False)


def detached(array: pa.Array) -> pa.Array:
    """A copy of `array` in buffers of its own.

    A column of a record batch imported from DuckDB (Arrow's C data interface) keeps the whole
    imported batch alive: keeping only the customer ids of the scoring batches kept every
    feature column too, ~800 MB for a million customers and a hundred features."""
    return pa.concat_arrays([array])


def to_pandas(frame: object) -> pd.DataFrame:
    """A pandas DataFrame of the same inputs as `to_arrow`."""
    if isinstance(frame, pd.DataFrame):
        return frame
    if isinstance(frame, duckdb.DuckDBPyRelation):
        return frame.df()
    for method in ("toPandas", "to_pandas"):  # Spark / Databricks; Snowpark and Arrow
        convert = getattr(frame, method, None)
        if callable(convert):
            return convert()
    if isinstance(frame, pa.RecordBatchReader):
        return frame.read_all().to_pandas()
    raise TypeError(f"cannot convert a {type(frame).__name__} to a data frame")


def local_connection(session: object) -> duckdb.DuckDBPyConnection:
    """The DuckDB connection to compute in: dbt-duckdb's own, else a new in-memory one.

    dbt-duckdb hands a Python model a cursor, possibly in its own wrapper class that forwards
    to the cursor; it is recognised by what it does (execute SQL, register Arrow), which a
    Spark or Snowpark session does not."""
    if isinstance(session, duckdb.DuckDBPyConnection) or all(
        callable(getattr(session, method, None)) for method in ("execute", "register", "sql")
    ):
        return session  # type: ignore[return-value]
    return duckdb.connect()


def register_inputs(con: duckdb.DuckDBPyConnection, inputs: Mapping[str, object]) -> dict[str, str]:
    """Each input as a temporary view `pcdp_input__<name>` in `con`; returns name → view.

    A DuckDB relation becomes a view over its SQL (it must belong to `con`, as dbt-duckdb's refs
    do); any other frame is fetched as Arrow and registered. Names are the model's own input
    names (lower snake case), never user text.
    """
    views = {}
    for name, frame in inputs.items():
        if not _VIEW_NAME.fullmatch(name):
            raise ValueError(f"input name {name!r} is not lower snake case")
        view = f"pcdp_input__{name}"
        if isinstance(frame, duckdb.DuckDBPyRelation):
            con.execute(f"create or replace temp view {view} as {frame.sql_query()}")
        else:
            con.register(f"{view}__arrow", to_arrow(frame))
            con.execute(f"create or replace temp view {view} as select * from {view}__arrow")
        views[name] = view
    return views
