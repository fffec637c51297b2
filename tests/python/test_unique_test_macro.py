"""The `unique` and `unique_combination_of_columns` data tests on DuckDB (macros/tests.sql)
against dbt's own and the portable default, compiled by dbt."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pytest
from conftest import invoke_dbt


def compiled_test(tmp_path, macro: str, arguments: str = "'ids', 'x'") -> str:
    """`macro`(`arguments`) compiled by dbt in this project."""
    inline = f"{{{{ {macro}({arguments}) }}}}"
    result = invoke_dbt(["compile", "--quiet", "--inline", inline], tmp_path)
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


@pytest.fixture(scope="module")
def tests_sql(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("compile")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PCDP_DB", str(out / "compile.duckdb"))
        pair = "'pairs', ['x', 'y']"
        # with a `where` config, dbt passes the model as an aliased subquery
        where = "\"(select * from ids where x >= 'ev_00010000') dbt_subquery\", 'x'"
        pair_where = "\"(select * from pairs where y >= 2) dbt_subquery\", ['x', 'y']"
        return {
            "project": compiled_test(out, "test_unique"),
            "dbt": compiled_test(out, "default__test_unique"),
            "project where": compiled_test(out, "test_unique", where),
            "dbt where": compiled_test(out, "default__test_unique", where),
            "combination": compiled_test(out, "test_unique_combination_of_columns", pair),
            "combination default": compiled_test(
                out, "default__test_unique_combination_of_columns", pair
            ),
            "combination where": compiled_test(
                out, "test_unique_combination_of_columns", pair_where
            ),
            "combination default where": compiled_test(
                out, "default__test_unique_combination_of_columns", pair_where
            ),
        }


def failures(sql: str, values: list[str | None]) -> list[tuple[str, int]]:
    with duckdb.connect() as con:
        con.register("ids", pa.table({"x": pa.array(values, pa.string())}))
        return sorted(con.execute(sql).fetchall())


def test_the_project_overrides_dbts_unique_test_on_duckdb(tests_sql):
    assert "hash(" in tests_sql["project"]
    assert "hash(" not in tests_sql["dbt"]


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unique_fails_on_exactly_the_rows_dbts_test_fails_on(tests_sql, seed):
    rng = random.Random(seed)
    values: list[str | None] = [f"ev_{i:08d}" for i in range(20_000)]
    values += rng.sample(values, 25)  # 25 repeated values, some of them more than twice
    values += rng.sample(values[:20_000], 5) * 3
    values += [None] * 40  # nulls are not duplicates
    rng.shuffle(values)
    expected = failures(tests_sql["dbt"], values)
    assert 25 <= len(expected) <= 30 and all(count >= 2 for _, count in expected)
    assert failures(tests_sql["project"], values) == expected
    expected_where = failures(tests_sql["dbt where"], values)
    assert 0 < len(expected_where) < len(expected)
    assert failures(tests_sql["project where"], values) == expected_where


def test_unique_passes_on_distinct_values_and_nulls(tests_sql):
    values = [f"id_{i}" for i in range(1000)] + [None, None]
    assert failures(tests_sql["project"], values) == []


def combination_failures(sql: str, pairs: list[tuple[str | None, int | None]]) -> list[tuple]:
    with duckdb.connect() as con:
        con.register(
            "pairs",
            pa.table(
                {
                    "x": pa.array([x for x, _ in pairs], pa.string()),
                    "y": pa.array([y for _, y in pairs], pa.int64()),
                }
            ),
        )
        return sorted(con.execute(sql).fetchall(), key=repr)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_unique_combination_fails_on_exactly_the_rows_the_default_fails_on(tests_sql, seed):
    assert "hash(" in tests_sql["combination"]
    assert "hash(" not in tests_sql["combination default"]
    rng = random.Random(seed)
    pairs: list[tuple[str | None, int | None]] = [
        (f"c_{i % 5000:05d}", i // 5000) for i in range(20_000)
    ]
    pairs += rng.sample(pairs, 20)  # repeated combinations
    pairs += [("c_00001", None)] * 2 + [(None, 7)] * 3 + [(None, None)] * 2  # nulls group alike
    pairs += [("c_00002", None), (None, 8)]  # once each: not duplicates
    rng.shuffle(pairs)
    expected = combination_failures(tests_sql["combination default"], pairs)
    assert 23 <= len(expected) <= 23 + 20 and all(count >= 2 for *_, count in expected)
    assert (None, None, 2) in expected
    assert combination_failures(tests_sql["combination"], pairs) == expected
    expected_where = combination_failures(tests_sql["combination default where"], pairs)
    assert 0 < len(expected_where) < len(expected)
    assert combination_failures(tests_sql["combination where"], pairs) == expected_where
    assert combination_failures(tests_sql["combination"], sorted(set(pairs), key=repr)) == []
