"""The SQL layer on Apache Spark against DuckDB: the same generated data, the same results.

DuckDB side: `pcdp run` (the normal nightly run, every model). Spark side: `dbt build --target
spark` (dbt-spark, in-process PySpark session in local mode) of every model that does not depend
on a Python model (dbt-spark runs Python models only on Databricks) and without the seeds (read
only by Python models), with every data test of that selection. Both builds run in this process,
so the Spark tables are read back through the same SparkSession. The package then scores the
Spark-built features (through pcdp.frames, as a Python model's shim would) and must give the
DuckDB run's predictions.

Runs in the Spark venv (`make test-spark`), not in `make test`: about three minutes on two cores.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult
from pyspark.sql import SparkSession

from pcdp.cli import main as pcdp_main
from pcdp.frames import local_connection, register_inputs, to_arrow, to_pandas
from pcdp.generate import generate
from pcdp.runtime import run_instance_types

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2025, 12, 31)
CUSTOMERS = 300
SPARK_SCHEMA = "pcdp_parity"
# Everything downstream of a Python model, and the seeds (only Python models read them).
SPARK_EXCLUDE = ["path:python_models+", "path:seeds"]
SPARK_MODELS = {
    *(f"base_raw__{name}" for name in ("events", "identifies", "orders", "products")),
    *(f"base_raw__{name}" for name in ("content", "accounts", "fx_rates")),
    *(f"stg_raw__{name}" for name in ("events", "identifies", "orders", "products")),
    *(f"stg_raw__{name}" for name in ("content", "accounts", "fx_rates")),
    "quarantine",
    "int_identity__identifier_sets",
    "int_identity__set_members",
    "int_identity__nodes",
    "int_identity__edges",
    "identity_guarded_identifiers",
    "int_identity__components",
    "customer_identifiers",
    "customers",
    "int_customer_events",
    "int_customer_orders",
    "customer_features",
    "customer_feature_snapshots",
}


def _dbt_spark(
    args: list[str], spark_dir: Path, raw: Path, **extra_vars: object
) -> dbtRunnerResult:
    variables = {"raw_path": str(raw), "as_of": AS_OF.isoformat(), **extra_vars}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PCDP_SPARK_DIR", str(spark_dir))
        patch.setenv("PCDP_SPARK_SCHEMA", SPARK_SCHEMA)
        return dbtRunner().invoke(
            [
                *args,
                "--project-dir",
                str(PROJECT),
                "--profiles-dir",
                str(PROJECT),
                "--target",
                "spark",
                "--vars",
                json.dumps(variables),
                "--target-path",
                str(spark_dir / "target"),
                "--log-path",
                str(spark_dir / "logs"),
            ]
        )


@pytest.fixture(scope="module")
def parity_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("spark_parity")
    generate(root / "raw", customers=CUSTOMERS, seed=11, as_of=AS_OF)
    return root


@pytest.fixture(scope="module")
def duckdb_build(parity_dir: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    db = parity_dir / "pcdp.duckdb"
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(PROJECT)
        argv = ["run", "--raw", str(parity_dir / "raw"), "--db", str(db)]
        assert pcdp_main([*argv, "--as-of", AS_OF.isoformat()]) == 0
    connection = duckdb.connect(str(db), read_only=True)
    yield connection
    connection.close()


@pytest.fixture(scope="module")
def spark_build(parity_dir: Path) -> dbtRunnerResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(PROJECT)
        return _dbt_spark(
            ["build", "--exclude", *SPARK_EXCLUDE], parity_dir / "spark", parity_dir / "raw"
        )


@pytest.fixture(scope="module")
def spark(spark_build: dbtRunnerResult) -> SparkSession:
    # dbt-spark's session method leaves its SparkSession running in this process.
    return SparkSession.builder.getOrCreate()


def _duck(con: duckdb.DuckDBPyConnection, table: str) -> pd.DataFrame:
    return con.execute(f"select * from {table}").df()


def _spark(spark: SparkSession, table: str) -> pd.DataFrame:
    return spark.table(f"{SPARK_SCHEMA}.{table}").toPandas()


def _sorted(frame: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    return frame.sort_values(keys).reset_index(drop=True)


def _timestamps(frame: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    out = frame.copy()
    for column in columns:
        out[column] = pd.to_datetime(out[column]).astype("datetime64[us]")
    return out


def test_spark_builds_the_sql_layer_with_passing_data_tests(spark_build: dbtRunnerResult):
    assert spark_build.success, [
        (r.node.name, r.status, r.message) for r in spark_build.result if r.status != "success"
    ]
    statuses = {r.node.name: (r.node.resource_type, str(r.status)) for r in spark_build.result}
    built = {name for name, (kind, _) in statuses.items() if kind == "model"}
    assert built == SPARK_MODELS
    tests = {name: status for name, (kind, status) in statuses.items() if kind == "test"}
    assert len(tests) >= 40
    assert set(tests.values()) == {"pass"}
    # The convergence check of the unrolled identity components ran and passed.
    assert any(name.startswith("pcdp_components_converged") for name in tests)


def test_customers_are_the_same(duckdb_build, spark):
    columns = ["first_seen_at", "last_seen_at"]
    duck = _timestamps(_sorted(_duck(duckdb_build, "customers"), ["customer_id"]), columns)
    spk = _timestamps(_sorted(_spark(spark, "customers"), ["customer_id"]), columns)
    assert len(duck) > CUSTOMERS / 2
    assert list(spk.columns) == list(duck.columns)
    # customer_id is md5-derived from each component's anchor identifier: equal, not just
    # the same partition.
    assert spk["customer_id"].tolist() == duck["customer_id"].tolist()
    for column in duck.columns:
        assert spk[column].astype(duck[column].dtype).tolist() == duck[column].tolist(), column


def test_identifiers_belong_to_the_same_customers(duckdb_build, spark):
    keys = ["identifier_type", "identifier_value"]
    duck = _sorted(_duck(duckdb_build, "customer_identifiers"), keys)
    spk = _sorted(_spark(spark, "customer_identifiers"), keys)
    assert len(spk) == len(duck) > 0
    assert spk[keys].values.tolist() == duck[keys].values.tolist()
    assert spk["customer_id"].tolist() == duck["customer_id"].tolist()

    # The identifier -> customer partition, independent of how ids are named.
    def partition(frame: pd.DataFrame) -> set[frozenset[tuple[str, str]]]:
        groups = frame.groupby("customer_id")[keys].apply(
            lambda g: frozenset(map(tuple, g.values.tolist()))
        )
        return set(groups)

    assert partition(spk) == partition(duck)
    assert any(len(group) > 2 for group in partition(duck))


def test_guarded_identifiers_are_the_same(duckdb_build, spark):
    keys = ["identifier_type", "identifier_value", "guard_rule"]
    duck = _sorted(_duck(duckdb_build, "identity_guarded_identifiers"), keys)
    spk = _sorted(_spark(spark, "identity_guarded_identifiers"), keys)
    assert spk[keys + ["degree"]].values.tolist() == duck[keys + ["degree"]].values.tolist()


def test_quarantine_is_the_same(duckdb_build, spark):
    duck = _duck(duckdb_build, "quarantine")
    spk = _spark(spark, "quarantine")
    by_reason = ["dataset", "reason"]
    duck_counts = duck.groupby(by_reason).size().to_dict()
    assert duck_counts, "the generator plants bad rows"
    assert spk.groupby(by_reason).size().to_dict() == duck_counts
    # The same rows are rejected (by key where the dataset has one).
    keyed = ["dataset", "reason", "record_key"]
    assert _sorted(spk[keyed].fillna(""), keyed).values.tolist() == (
        _sorted(duck[keyed].fillna(""), keyed).values.tolist()
    )


def test_rows_used_are_the_same(duckdb_build, spark):
    for dataset in ("events", "identifies", "orders", "products", "content", "accounts"):
        table = f"stg_raw__{dataset}"
        duck_rows = duckdb_build.execute(f"select count(*) from {table}").fetchone()[0]
        assert spark.table(f"{SPARK_SCHEMA}.{table}").count() == duck_rows, dataset


def _assert_frames_close(duck: pd.DataFrame, spk: pd.DataFrame) -> None:
    assert list(spk.columns) == list(duck.columns)
    assert len(spk) == len(duck) > 0
    for column in duck.columns:
        left, right = duck[column], spk[column]
        if pd.api.types.is_datetime64_any_dtype(left):
            assert pd.to_datetime(right).astype("datetime64[us]").tolist() == (
                left.astype("datetime64[us]").tolist()
            ), column
        elif column == "customer_id":
            assert right.tolist() == left.tolist()
        else:
            left_values = pd.to_numeric(left).astype(float).to_numpy()
            right_values = pd.to_numeric(right).astype(float).to_numpy()
            assert np.array_equal(np.isnan(left_values), np.isnan(right_values)), column
            assert np.allclose(left_values, right_values, rtol=1e-9, atol=1e-9, equal_nan=True), (
                column
            )


def test_customer_features_match_to_floating_tolerance(duckdb_build, spark):
    duck = _sorted(_duck(duckdb_build, "customer_features"), ["customer_id"])
    spk = _sorted(_spark(spark, "customer_features"), ["customer_id"])
    _assert_frames_close(duck, spk)
    # Real features, not columns of zeros.
    assert duck["frequency"].sum() > 0 and duck["events_30d"].sum() > 0


def test_training_snapshots_match_to_floating_tolerance(duckdb_build, spark):
    keys = ["cutoff_at", "customer_id"]
    duck = _sorted(_duck(duckdb_build, "customer_feature_snapshots"), keys)
    spk = _sorted(_spark(spark, "customer_feature_snapshots"), keys)
    _assert_frames_close(duck, spk)


def test_frames_convert_a_spark_dataframe(spark):
    frame = spark.table(f"{SPARK_SCHEMA}.customers").select("customer_id", "identifier_count")
    expected = {row.customer_id: row.identifier_count for row in frame.collect()}
    assert len(expected) > 0
    columns = to_arrow(frame).to_pydict()
    assert dict(zip(columns["customer_id"], columns["identifier_count"], strict=True)) == expected
    pandas_frame = to_pandas(frame)
    pairs = zip(pandas_frame["customer_id"], pandas_frame["identifier_count"], strict=True)
    assert dict(pairs) == expected
    # What a Python model's shim does on Spark: compute in a local DuckDB over the fetched input.
    con = local_connection(spark)
    assert register_inputs(con, {"customers": frame}) == {"customers": "pcdp_input__customers"}
    count, total = con.execute(
        "select count(*), sum(identifier_count) from pcdp_input__customers"
    ).fetchone()
    assert (count, total) == (len(expected), sum(expected.values()))


def test_the_package_scores_spark_built_features_like_duckdb(duckdb_build, spark):
    # What a Python model does on Spark: it hands run_instance_types its session and the
    # adapter's DataFrames, which pcdp.frames fetches as Arrow into a local DuckDB.
    tables = {
        "customer_features": ("customer_features", ["customer_id"]),
        "customer_feature_snapshots": ("customer_feature_snapshots", ["cutoff_at", "customer_id"]),
        "customer_events": ("int_customer_events", ["event_id"]),
        "customer_orders": ("int_customer_orders", ["order_id"]),
    }
    frames = {
        name: spark.table(f"{SPARK_SCHEMA}.{table}").orderBy(*order)
        for name, (table, order) in tables.items()
    }
    # The seed is not built on Spark (only Python models read seeds): the DuckDB run's copy.
    frames["rfm_segment_map"] = duckdb_build.sql("select * from rfm_segment_map").df()
    types = ["rfm", "pcltv", "action_prediction"]
    records = run_instance_types(types, PROJECT / "instances.yml", AS_OF, spark, frames)

    rows = records.to_pylist()
    spark_outcomes = {
        row["instance_id"]: (row["message"] or "").split("\n")[0]
        for row in rows
        if row["record_type"] == "status"
    }
    duck_outcomes = {
        instance_id: (error or "").split("\n")[0]
        for instance_id, error in duckdb_build.execute(
            "select instance_id, error from model_runs"
        ).fetchall()
        if instance_id in spark_outcomes
    }
    assert spark_outcomes == duck_outcomes
    keys = ["instance_id", "customer_id", "attribute", "value"]
    spark_predictions = sorted(
        tuple(row[key] for key in keys) for row in rows if row["record_type"] == "prediction"
    )
    placeholders = ", ".join("?" for _ in spark_outcomes)
    query = f"select {', '.join(keys)} from predictions where instance_id in ({placeholders})"
    duck_predictions = sorted(duckdb_build.execute(query, list(spark_outcomes)).fetchall())
    assert {"rfm", "churn_30d"} <= {prediction[0] for prediction in duck_predictions}
    assert spark_predictions == duck_predictions


def test_too_few_propagation_rounds_fail_the_convergence_test(parity_dir, spark):
    # Last: it rebuilds int_identity__components with one round only.
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(PROJECT)
        result = _dbt_spark(
            ["build", "--select", "int_identity__components"],
            parity_dir / "spark",
            parity_dir / "raw",
            identity_propagation_rounds=1,
        )
    statuses = {r.node.name: str(r.status) for r in result.result}
    converged = [name for name in statuses if name.startswith("pcdp_components_converged")]
    assert converged and statuses[converged[0]] == "fail"
    assert statuses["int_identity__components"] == "success"
