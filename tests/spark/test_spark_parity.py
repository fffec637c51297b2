"""The SQL layer on Apache Spark against DuckDB: the same generated data, the same results.

DuckDB side: `pcdp run` (the normal nightly run, every model). Spark side, in three dbt builds
(dbt-spark, in-process PySpark session in local mode), each with the data tests of its models:
1. the seeds and every model that does not depend on a Python model (dbt-spark runs Python
   models only on Databricks);
2. the Python models' tables, computed by the package as each Python model does
   (run_instance_types on the Spark session and the Spark-built inputs, through pcdp.frames;
   instances_table) and written as Spark tables under the models' names; then the SQL models
   downstream of them (predictions, model_runs, customer_profile, ...); then the audience
   definitions, compiled by the package to Spark SQL against the Spark-built profiles, and the
   audience views (`dbt run-operation pcdp_publish_audience_views`, what the on-run-end hook
   does);
3. an earlier run's predictions added on both warehouses, then the monitoring models (score
   drift, matured backtests, model_metrics, model_monitoring) rebuilt on both.
All builds run in this process, so the Spark tables are read back through the same
SparkSession.

Runs in the Spark venv (`make test-spark`), not in `make test`: about five minutes on two cores.
"""

from __future__ import annotations

import datetime as dt
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult
from pyspark.sql import SparkSession
from pyspark.sql.types import VariantVal

from pcdp.audience import attr_type_for_db_type, compile_filter
from pcdp.audience.definitions import definitions_from_relations
from pcdp.cli import main as pcdp_main
from pcdp.frames import local_connection, register_inputs, to_arrow, to_pandas
from pcdp.generate import generate
from pcdp.instances import INSTANCE_TYPES
from pcdp.project import instance_model_inputs
from pcdp.runtime import instances_table, run_instance_types

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
AS_OF = dt.date(2025, 12, 31)
CUSTOMERS = 300
SPARK_SCHEMA = "pcdp_parity"
# Everything downstream of a Python model.
SPARK_EXCLUDE = ["path:python_models+"]
SEEDS = {"rfm_segment_map", "iab_content_taxonomy", "iab_keyword_lexicon", "custom_taxonomy"}
SPARK_MODELS = {
    *(f"base_raw__{name}" for name in ("events", "identifies", "orders", "products")),
    *(f"base_raw__{name}" for name in ("content", "accounts", "fx_rates")),
    *(f"stg_raw__{name}" for name in ("events", "identifies", "orders", "products")),
    *(f"stg_raw__{name}" for name in ("content", "accounts", "fx_rates")),
    "quarantine",
    "int_identity__identifier_sets",
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
# The Python models' tables, computed by the package as each model does and written as Spark
# tables under the model's name: model -> (instance types, inputs as model input name -> the
# relation it refs), read from the model's source (python_models/instances/<model>.py).
PYTHON_OUTPUTS = {
    model: instance_model_inputs(model)
    for model in (
        "instance_outputs__action_prediction",
        "instance_outputs__byom",
        "instance_outputs__interest",
        "instance_outputs__pcltv",
        "instance_outputs__rfm",
    )
}
# Models downstream of the Python models that build on Spark over the tables above; the
# monitoring models (MONITOR_MODELS) are built after an earlier run is added (monitor_history).
SPARK_DOWNSTREAM_MODELS = {
    "int_instance_records",
    "predictions",
    "model_runs",
    "model_curves",
    "model_instances",
    "customer_profile",
    "account_profile",
    "signal_conversion_values",
    "customer_interest_affinities",
    "rfm_segment_transitions",
}
MONITOR_MODELS = {
    "int_monitor__score_drift",
    "int_monitor__matured_action",
    "int_monitor__matured_pcltv",
    "int_monitor_metrics",
    "model_metrics",
    "model_monitoring",
}
EARLIER_DAYS = 35


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


@pytest.fixture(scope="module")
def python_outputs(spark) -> dict[str, pa.Table]:
    """Each Python model's table, computed by the package on the Spark session and the
    Spark-built inputs, written as a Spark table under the model's name in the target schema,
    where dbt's ref() finds it."""
    tables = {"int_model_instances": instances_table(PROJECT / "instances.yml")}
    for model, (types, inputs) in PYTHON_OUTPUTS.items():
        frames = {
            name: spark.table(f"{SPARK_SCHEMA}.{relation}") for name, relation in inputs.items()
        }
        tables[model] = run_instance_types(types, PROJECT / "instances.yml", AS_OF, spark, frames)
    for model, table in tables.items():
        schema = ", ".join(f"{field.name} string" for field in table.schema)
        rows = table.to_pylist()
        frame = spark.createDataFrame([tuple(row.values()) for row in rows], schema)
        frame.write.mode("overwrite").saveAsTable(f"{SPARK_SCHEMA}.{model}")
    return tables


@pytest.fixture(scope="module")
def spark_downstream_build(parity_dir: Path, python_outputs) -> dbtRunnerResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(PROJECT)
        return _dbt_spark(
            ["build", "--select", *sorted(SPARK_DOWNSTREAM_MODELS)],
            parity_dir / "spark",
            parity_dir / "raw",
        )


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


def _assert_built(
    result: dbtRunnerResult, models: set[str], min_tests: int, outcomes=frozenset({"pass"})
) -> dict[str, str]:
    """The build succeeded, built exactly `models`, and ran at least `min_tests` data tests,
    each with one of `outcomes`; returns test name -> status."""
    assert result.success, [
        (r.node.name, r.status, r.message) for r in result.result if r.status != "success"
    ]
    statuses = {r.node.name: (r.node.resource_type, str(r.status)) for r in result.result}
    built = {name for name, (kind, _) in statuses.items() if kind == "model"}
    assert built == models
    tests = {name: status for name, (kind, status) in statuses.items() if kind == "test"}
    assert len(tests) >= min_tests
    assert set(tests.values()) <= outcomes
    return tests


def test_spark_builds_the_sql_layer_with_passing_data_tests(spark_build: dbtRunnerResult):
    tests = _assert_built(spark_build, SPARK_MODELS, min_tests=40)
    seeded = {r.node.name for r in spark_build.result if r.node.resource_type == "seed"}
    assert seeded == SEEDS
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


def test_seeds_load_on_spark_as_on_duckdb(duckdb_build, spark):
    # dbt-spark's own seed loading breaks on a quote ("Women's Fashion") and loads an empty
    # cell as the text 'None'; macros/seeds.sql writes escaped literals and nulls.
    for seed in sorted(SEEDS):
        duck = _duck(duckdb_build, seed)
        spk = _spark(spark, seed)
        assert list(spk.columns) == list(duck.columns), seed
        rows = [[_plain(value) for value in row] for row in duck.itertuples(index=False)]
        spark_rows = [[_plain(value) for value in row] for row in spk.itertuples(index=False)]
        assert sorted(spark_rows, key=repr) == sorted(rows, key=repr), seed
    lexicon = spark.table(f"{SPARK_SCHEMA}.iab_keyword_lexicon")
    assert lexicon.where("label like '%Women''s%'").count() > 0
    taxonomy = spark.table(f"{SPARK_SCHEMA}.iab_content_taxonomy")
    assert taxonomy.where("parent_id is null").count() > 0
    assert taxonomy.where("parent_id = 'None'").count() == 0


def test_customer_features_match_to_floating_tolerance(duckdb_build, spark):
    duck = _duck(duckdb_build, "customer_features")
    _assert_same_table(duck, _spark(spark, "customer_features"), ["customer_id"])
    # Real features, not columns of zeros.
    assert duck["frequency"].sum() > 0 and duck["events_30d"].sum() > 0


def test_training_snapshots_match_to_floating_tolerance(duckdb_build, spark):
    duck = _duck(duckdb_build, "customer_feature_snapshots")
    spk = _spark(spark, "customer_feature_snapshots")
    _assert_same_table(duck, spk, ["cutoff_at", "customer_id"])


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


def test_the_package_scores_spark_built_features_like_duckdb(duckdb_build, python_outputs):
    # What a Python model does on Spark: it hands run_instance_types its session and the
    # adapter's DataFrames, which pcdp.frames fetches as Arrow into a local DuckDB (fixture
    # python_outputs, every instance type).
    covered = {kind for types, _ in PYTHON_OUTPUTS.values() for kind in types}
    assert covered == set(INSTANCE_TYPES)
    records = pa.concat_tables(python_outputs[model] for model in PYTHON_OUTPUTS)
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
    assert {"rfm", "churn_30d", "interest_product"} <= {row[0] for row in duck_predictions}
    assert spark_predictions == duck_predictions


def test_spark_builds_the_models_downstream_of_the_python_models(spark_downstream_build):
    _assert_built(spark_downstream_build, SPARK_DOWNSTREAM_MODELS, min_tests=10)


def _plain(value: object) -> object:
    """A cell as a comparable Python value: arrays as lists, JSON text and Spark VARIANT
    values as their value."""
    if isinstance(value, np.ndarray | list | tuple):
        return [_plain(item) for item in value]
    if isinstance(value, VariantVal):
        return json.loads(value.toJson())
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and np.isnan(value):
        return None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _assert_same_table(duck: pd.DataFrame, spk: pd.DataFrame, keys: list[str]) -> None:
    """Same columns and rows (sorted by keys); numbers to floating tolerance, timestamps to
    the microsecond, everything else (lists, JSON text) as Python values."""
    assert list(spk.columns) == list(duck.columns)
    assert len(spk) == len(duck) > 0
    duck, spk = _sorted(duck, keys), _sorted(spk, keys)
    for column in duck.columns:
        left, right = duck[column], spk[column]
        if pd.api.types.is_datetime64_any_dtype(left):
            assert pd.to_datetime(right).astype("datetime64[us]").tolist() == (
                left.astype("datetime64[us]").tolist()
            ), column
        elif pd.api.types.is_numeric_dtype(left) and not pd.api.types.is_bool_dtype(left):
            left_values = pd.to_numeric(left).astype(float).to_numpy()
            right_values = pd.to_numeric(right).astype(float).to_numpy()
            assert np.allclose(left_values, right_values, rtol=1e-9, atol=1e-9, equal_nan=True), (
                column
            )
        else:
            assert [_plain(item) for item in right] == [_plain(item) for item in left], column


def test_predictions_match_duckdb(duckdb_build, spark, spark_downstream_build):
    columns = "customer_id, instance_id, attribute, value, value_type, as_of"
    duck = duckdb_build.execute(f"select {columns} from predictions").df()
    spk = spark.sql(f"select {columns} from {SPARK_SCHEMA}.predictions").toPandas()
    duck["as_of"], spk["as_of"] = duck["as_of"].astype(str), spk["as_of"].astype(str)
    _assert_same_table(duck, spk, ["instance_id", "customer_id", "attribute"])


def test_model_runs_match_duckdb(duckdb_build, spark, spark_downstream_build):
    columns = "instance_id, cast(as_of as string) as as_of, status, rows_scored"
    duck = duckdb_build.execute(f"select {columns}, error from model_runs").df()
    spk = spark.sql(f"select {columns}, error from {SPARK_SCHEMA}.model_runs").toPandas()
    for frame in (duck, spk):
        frame["error"] = frame["error"].fillna("").str.split("\n").str[0]
    assert set(duck["status"]) >= {"Complete"}
    _assert_same_table(duck, spk, ["instance_id"])
    started = spark.sql(f"select started_at from {SPARK_SCHEMA}.model_runs").toPandas()
    assert started["started_at"].notna().all()


def test_model_instances_match_duckdb(duckdb_build, spark, spark_downstream_build):
    columns = "instance_id, type, status, configured_status, last_rows_scored, params, config"
    duck = duckdb_build.execute(f"select {columns} from model_instances").df()
    spk = spark.sql(f"select {columns} from {SPARK_SCHEMA}.model_instances").toPandas()
    _assert_same_table(duck, spk, ["instance_id"])


def test_customer_profile_matches_duckdb(duckdb_build, spark, spark_downstream_build):
    duck = _duck(duckdb_build, "customer_profile")
    spk = _spark(spark, "customer_profile")
    # Every instance's attributes, not only the headline features.
    assert {"rfm_cluster", "churn_30d_score", "interest_iab_affinity"} <= set(duck.columns)
    _assert_same_table(duck, spk, ["customer_id"])


def test_customer_interest_affinities_match_duckdb(duckdb_build, spark, spark_downstream_build):
    duck = _duck(duckdb_build, "customer_interest_affinities")
    spk = _spark(spark, "customer_interest_affinities")
    duck["as_of"], spk["as_of"] = duck["as_of"].astype(str), spk["as_of"].astype(str)
    assert {"interest_product", "interest_iab", "interest_custom"} <= set(duck["instance_id"])
    _assert_same_table(duck, spk, ["instance_id", "customer_id", "label"])


def test_rfm_segment_transitions_match_duckdb(duckdb_build, spark, spark_downstream_build):
    duck = _duck(duckdb_build, "rfm_segment_transitions")
    spk = _spark(spark, "rfm_segment_transitions")
    for frame in (duck, spk):
        frame["as_of"] = frame["as_of"].astype(str)
    assert len(duck) > 0 and set(duck["instance_id"]) == {"rfm"}
    _assert_same_table(duck, spk, ["instance_id", "customer_id", "as_of"])


def _grammar_tests():
    """tests/python/test_audience_grammar.py: its profile rows and the rows each filter selects
    on DuckDB."""
    path = PROJECT / "tests" / "python" / "test_audience_grammar.py"
    spec = importlib.util.spec_from_file_location("audience_grammar_cases", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_filters_select_the_same_rows_on_spark_as_on_duckdb(spark):
    cases = _grammar_tests()
    con = cases.make_profile()
    frame = spark.createDataFrame(
        to_arrow(con.sql("select * exclude (extra) from customer_profile"))
    )
    frame.createOrReplaceTempView("pcdp_filter_cases")
    # The Spark types map to the attribute types the DuckDB ones do.
    spark_schema = {
        name: attr_type for name, kind in frame.dtypes if (attr_type := attr_type_for_db_type(kind))
    }
    assert spark_schema == cases.schema_from_duckdb(con)
    assert len(cases.SELECTIONS) > 50
    for text, expected in cases.SELECTIONS:
        sql = compile_filter(text, spark_schema, dialect="spark")
        rows = spark.sql(f"select customer_id from pcdp_filter_cases where {sql}").collect()
        assert {row.customer_id for row in rows} == expected, text
    # Spark reads a backslash in a string literal as an escape: a value with one still matches.
    values = spark.createDataFrame(
        [("b1", "C:\\new", ["A\\B > C"]), ("b2", "C:new", ["AB > C"])],
        "customer_id string, rfm_cluster string, interest_product array<string>",
    )
    values.createOrReplaceTempView("pcdp_filter_backslashes")
    schema = {"rfm_cluster": "text", "interest_product": "list"}
    for text in ("rfm_cluster = 'C:\\new'", "interest_product contains 'A\\B'"):
        sql = compile_filter(text, schema, dialect="spark")
        rows = spark.sql(f"select customer_id from pcdp_filter_backslashes where {sql}").collect()
        assert [row.customer_id for row in rows] == ["b1"], text


@pytest.fixture(scope="module")
def spark_audiences(parity_dir, spark, spark_downstream_build) -> dbtRunnerResult:
    """audience_definitions computed by the package as the Python model does (the adapter's
    DataFrames in, filters compiled to Spark SQL and counted there), written under the model's
    name; a view of an audience that is gone planted; then the audience views published as
    the on-run-end hook does."""
    profiles = {
        "customer": spark.table(f"{SPARK_SCHEMA}.customer_profile"),
        "account": spark.table(f"{SPARK_SCHEMA}.account_profile"),
    }
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(PROJECT)
        definitions = definitions_from_relations("audiences.yml", spark, profiles)
        spark.createDataFrame(definitions).write.mode("overwrite").saveAsTable(
            f"{SPARK_SCHEMA}.audience_definitions"
        )
        spark.sql(f"create or replace view {SPARK_SCHEMA}.audience_gone as select 1 as id")
        return _dbt_spark(
            ["run-operation", "pcdp_publish_audience_views"],
            parity_dir / "spark",
            parity_dir / "raw",
        )


def test_audiences_match_duckdb(duckdb_build, spark, spark_audiences):
    assert spark_audiences.success, spark_audiences.exception
    columns = "audience_name, target, view_name, status, error, member_count"
    duck = duckdb_build.execute(f"select {columns} from audience_definitions").df()
    spk = spark.sql(f"select {columns} from {SPARK_SCHEMA}.audience_definitions").toPandas()
    _assert_same_table(duck, spk, ["audience_name"])
    # At 300 customers pcLTV and the purchase model do not train: their audiences are refused
    # (the same error on both); the others are built.
    built = duck[duck["status"] == "ok"]
    assert set(built["audience_name"]) == {
        "champions",
        "technology_fans",
        "loyal_without_shoes",
        "at_risk_valuable",
        "key_accounts",
    }
    # Compiled for Spark: backquoted columns, `contains` as exists(... rlike ...).
    filters = dict(
        spark.sql(
            f"select audience_name, filter_sql from {SPARK_SCHEMA}.audience_definitions"
        ).collect()
    )
    assert "exists(`interest_iab`" in filters["technology_fans"]
    views = {row.viewName for row in spark.sql(f"show views in {SPARK_SCHEMA}").collect()}
    assert set(built["view_name"]) <= views
    refused = set(duck["view_name"]) - set(built["view_name"])
    assert "audience_gone" not in views and refused and not refused & views
    for view_name, target in built[["view_name", "target"]].itertuples(index=False):
        key = "customer_id" if target == "customer" else "account_id"
        duck_members = sorted(duckdb_build.execute(f"select {key} from {view_name}").fetchall())
        spark_rows = spark.sql(f"select {key} from {SPARK_SCHEMA}.{view_name}").collect()
        assert sorted(tuple(row) for row in spark_rows) == duck_members, view_name
    # Real memberships, `contains` and `not ... contains` among them.
    counts = dict(zip(duck["audience_name"], duck["member_count"], strict=True))
    assert counts["technology_fans"] > 0 and counts["loyal_without_shoes"] > 0


@pytest.fixture(scope="module")
def monitor_history(parity_dir, duckdb_build, spark, spark_downstream_build):
    """Both warehouses given an earlier run (this run's predictions, stamped EARLIER_DAYS days
    before: a drift baseline, and action predictions whose window has passed), then their
    monitoring models rebuilt. DuckDB: on a copy of the run's database."""
    history_db = parity_dir / "history.duckdb"
    history_db.write_bytes((parity_dir / "pcdp.duckdb").read_bytes())
    columns = "customer_id, instance_id, attribute, value, value_type, run_id, as_of"
    earlier = (
        "select customer_id, instance_id, attribute, value, value_type, 'earlier' as run_id,"
        f" cast(as_of - interval {EARLIER_DAYS} day as date) as as_of from predictions"
    )
    with duckdb.connect(str(history_db)) as con:
        con.execute(f"insert into predictions ({columns}) {earlier}")
    spark_earlier = earlier.replace("from predictions", f"from {SPARK_SCHEMA}.predictions")
    # By name: on Spark the partition columns (as_of, instance_id) come last.
    spark.sql(f"insert into {SPARK_SCHEMA}.predictions ({columns}) {spark_earlier}")
    variables = {"raw_path": str(parity_dir / "raw"), "as_of": AS_OF.isoformat()}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(PROJECT)
        patch.setenv("PCDP_DB", str(history_db))
        duck = dbtRunner().invoke(
            [
                "build",
                "--select",
                *sorted(MONITOR_MODELS),
                "--project-dir",
                str(PROJECT),
                "--profiles-dir",
                str(PROJECT),
                "--target",
                "duckdb",
                "--vars",
                json.dumps(variables),
                "--target-path",
                str(parity_dir / "history_target"),
                "--log-path",
                str(parity_dir / "history_logs"),
            ]
        )
        spk = _dbt_spark(
            ["build", "--select", *sorted(MONITOR_MODELS)], parity_dir / "spark", parity_dir / "raw"
        )
    # dbt-duckdb keeps its connection (with the profile's settings) open in this process: read
    # a copy of the database (and of its write-ahead log, if any).
    for suffix in ("", ".wal"):
        source = parity_dir / f"history.duckdb{suffix}"
        if source.exists():
            (parity_dir / f"history_read.duckdb{suffix}").write_bytes(source.read_bytes())
    connection = duckdb.connect(str(parity_dir / "history_read.duckdb"), read_only=True)
    yield connection, duck, spk
    connection.close()


def test_monitoring_over_an_earlier_run_matches_duckdb(monitor_history, spark):
    duck_con, duck, spk = monitor_history
    assert duck.success, [(r.node.name, r.message) for r in duck.result if r.status != "success"]
    # The monitoring checks' tests warn (never fail) about checks that did not pass.
    _assert_built(spk, MONITOR_MODELS, min_tests=5, outcomes={"pass", "warn"})
    columns = "instance_id, metric, value, value_text"
    duck_metrics = duck_con.execute(f"select {columns} from int_monitor_metrics").df()
    spark_metrics = spark.sql(f"select {columns} from {SPARK_SCHEMA}.int_monitor_metrics")
    # Drift of every kind of attribute (numbers, booleans, labels, records) and a matured
    # backtest of the action predictions whose window has passed.
    metrics = set(duck_metrics["metric"])
    assert {"psi_max", "drift_baseline_as_of", "matured_auc", "matured_precision"} <= metrics
    assert {"psi_rfm_cluster", "psi_churn_30d_segment", "psi_interest_iab_affinity"} <= metrics
    _assert_same_table(duck_metrics, spark_metrics.toPandas(), ["instance_id", "metric"])
    columns = "instance_id, check_name, metric, value, expected, limit_value, passed, message"
    duck_checks = duck_con.execute(f"select {columns} from model_monitoring").df()
    spark_checks = spark.sql(f"select {columns} from {SPARK_SCHEMA}.model_monitoring").toPandas()
    _assert_same_table(duck_checks, spark_checks, ["instance_id", "metric"])


def test_rerunning_an_as_of_date_on_spark_replaces_its_predictions(
    parity_dir, spark, monitor_history
):
    # Spark's Parquet tables cannot delete rows: predictions is partitioned by as_of and
    # instance_id there, and the pre-hook drops the partitions of the rerun date's succeeded
    # instances instead. The earlier run's rows (monitor_history) are kept.
    def counts() -> dict[tuple[str, str], int]:
        rows = spark.sql(
            f"select cast(as_of as string), instance_id, count(*) from {SPARK_SCHEMA}.predictions"
            " group by 1, 2"
        ).collect()
        return {(as_of, instance_id): count for as_of, instance_id, count in rows}

    def run_ids() -> set[str]:
        query = f"select distinct run_id from {SPARK_SCHEMA}.predictions where as_of = '{AS_OF}'"
        return {row.run_id for row in spark.sql(query).collect()}

    before, before_run_ids = counts(), run_ids()
    earlier = (AS_OF - dt.timedelta(days=EARLIER_DAYS)).isoformat()
    assert {as_of for as_of, _ in before} == {AS_OF.isoformat(), earlier}
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(PROJECT)
        result = _dbt_spark(
            ["build", "--select", "int_instance_records", "predictions"],
            parity_dir / "spark",
            parity_dir / "raw",
        )
    _assert_built(result, {"int_instance_records", "predictions"}, min_tests=1)
    assert counts() == before
    # The rows are this build's (int_instance_records stamps a new run id), not the old ones.
    assert run_ids().isdisjoint(before_run_ids)
    partitions = spark.sql(f"show partitions {SPARK_SCHEMA}.predictions").collect()
    assert len(partitions) == len(before)


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
