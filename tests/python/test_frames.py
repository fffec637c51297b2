"""pcdp.frames: Python model inputs converted by type (the Spark DataFrame case runs in
tests/spark, with a real SparkSession); the instance models' inputs as read from their source."""

from __future__ import annotations

import duckdb
import pandas as pd
import pyarrow as pa
import pytest

from pcdp.frames import detached, local_connection, register_inputs, to_arrow, to_pandas
from pcdp.instances import INSTANCE_TYPES
from pcdp.project import instance_model_inputs, project_dir

EXPECTED = {"customer_id": ["cus_a", "cus_b"], "frequency": [3, 0]}


@pytest.fixture()
def con():
    connection = duckdb.connect()
    connection.execute(
        "create table features as "
        "select * from (values ('cus_a', 3), ('cus_b', 0)) as t (customer_id, frequency)"
    )
    yield connection
    connection.close()


def _inputs(con: duckdb.DuckDBPyConnection) -> dict[str, object]:
    """The same two rows as each input type the shims can meet here."""
    table = pa.table(EXPECTED)
    return {
        "duckdb_relation": con.table("features"),
        "pandas": pd.DataFrame(EXPECTED),
        "arrow_table": table,
        "arrow_reader": pa.RecordBatchReader.from_batches(table.schema, table.to_batches()),
    }


@pytest.mark.parametrize("kind", ["duckdb_relation", "pandas", "arrow_table", "arrow_reader"])
def test_to_arrow_and_to_pandas_keep_the_rows(con, kind):
    assert to_arrow(_inputs(con)[kind]).select(list(EXPECTED)).to_pydict() == EXPECTED
    frame = to_pandas(_inputs(con)[kind])
    assert frame[list(EXPECTED)].to_dict(orient="list") == EXPECTED


def test_register_inputs_makes_every_input_a_view(con):
    views = register_inputs(con, _inputs(con))
    assert views == {name: f"pcdp_input__{name}" for name in _inputs(con)}
    for view in views.values():
        rows = con.execute(f"select customer_id, frequency from {view} order by 1").fetchall()
        assert rows == [("cus_a", 3), ("cus_b", 0)]


def test_a_duckdb_relation_is_a_view_over_its_sql_not_a_copy(con):
    register_inputs(con, {"features": con.table("features")})
    con.execute("insert into features values ('cus_c', 1)")
    assert con.execute("select count(*) from pcdp_input__features").fetchone()[0] == 3


class CursorWrapper:
    """Like dbt-duckdb's DuckDBCursorWrapper: forwards everything to a DuckDB cursor."""

    def __init__(self, cursor):
        self._cursor = cursor

    def __getattr__(self, name):
        return getattr(self._cursor, name)


class SparkLikeSession:
    """A session that runs SQL but cannot execute DuckDB statements or register Arrow."""

    def sql(self, query):
        raise AssertionError("the package must not send SQL to a foreign session")


def test_local_connection_is_the_duckdb_session_or_a_new_one(con):
    assert local_connection(con) is con
    wrapped = CursorWrapper(con.cursor())
    assert local_connection(wrapped) is wrapped
    for session in (object(), SparkLikeSession()):
        other = local_connection(session)
        assert isinstance(other, duckdb.DuckDBPyConnection) and other is not con
        assert other.execute("select 42").fetchone()[0] == 42


def test_input_names_must_be_snake_case_and_types_known(con):
    with pytest.raises(ValueError, match="snake case"):
        register_inputs(con, {"x; drop table features": pd.DataFrame(EXPECTED)})
    assert con.execute("select count(*) from features").fetchone()[0] == 2
    with pytest.raises(TypeError, match="cannot convert a list"):
        to_pandas([1, 2])


def test_run_instance_types_with_another_adapters_frames_matches_duckdb(tmp_path):
    """A Python model on another adapter hands run_instance_types its own session and frames
    (here pandas and Arrow, as Snowpark's to_pandas and PySpark's toArrow give): the inputs are
    fetched into an in-memory DuckDB and the records equal those of the DuckDB relations."""
    from pathlib import Path

    from pcdp.runtime import run_instance_types

    seed = Path(__file__).resolve().parents[2] / "seeds" / "rfm_segment_map.csv"
    instances = tmp_path / "instances.yml"
    instances.write_text("instances:\n  - {id: rfm, type: rfm, status: ready}\n")
    warehouse = duckdb.connect()
    warehouse.execute(
        "create table features as select 'cus_' || i as customer_id,"
        " (i * 37) % 365 as recency_days, i % 7 as frequency,"
        " cast((i * 13) % 500 as decimal(18, 2)) as monetary from range(200) as t (i)"
    )
    warehouse.execute(f"create table segment_map as select * from read_csv('{seed}')")

    def prediction_rows(session, inputs):
        records = run_instance_types(["rfm"], instances, "2025-12-31", session, inputs)
        rows = [row for row in records.to_pylist() if row["record_type"] == "prediction"]
        return sorted((row["customer_id"], row["attribute"], row["value"]) for row in rows)

    in_duckdb = prediction_rows(
        warehouse,
        {
            "customer_features": warehouse.table("features"),
            "rfm_segment_map": warehouse.table("segment_map"),
        },
    )
    elsewhere = prediction_rows(
        object(),  # a session that is not DuckDB's
        {
            "customer_features": warehouse.table("features").df(),
            "rfm_segment_map": warehouse.table("segment_map").arrow().read_all(),
        },
    )
    assert len(in_duckdb) == 4 * 171  # buyers (frequency > 0) get a cluster and three scores
    assert elsewhere == in_duckdb


def test_instance_model_inputs_are_read_from_the_models():
    # What runs instance types outside dbt (tests/spark, bench/) takes each Python model's
    # types and refs from its source.
    models = sorted(
        path.stem for path in (project_dir() / "python_models" / "instances").glob("*.py")
    )
    declared = {m: instance_model_inputs(m) for m in models if m.startswith("instance_outputs__")}
    assert {kind for types, _ in declared.values() for kind in types} == set(INSTANCE_TYPES)
    project_relations = {
        path.stem for folder in ("models", "seeds") for path in (project_dir() / folder).rglob("*")
    }
    for model, (_, inputs) in declared.items():
        assert inputs and set(inputs.values()) <= project_relations, model
    assert declared["instance_outputs__rfm"] == (
        ["rfm"],
        {"customer_features": "customer_features", "rfm_segment_map": "rfm_segment_map"},
    )
    with pytest.raises(ValueError, match="does not call run_instance_types"):
        instance_model_inputs("int_model_instances")
    with pytest.raises(FileNotFoundError):
        instance_model_inputs("no_such_model")


def test_detached_copies_a_column_out_of_its_batch(con):
    (batch,) = con.sql("select customer_id, frequency from features").to_arrow_reader(10)
    column = batch.column("customer_id")
    copy = detached(column)
    assert copy.equals(column)
    # its own buffers: holding it does not hold the rest of the imported batch
    assert {b.address for b in copy.buffers() if b} & {
        b.address for b in column.buffers() if b
    } == set()
