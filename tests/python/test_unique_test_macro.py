"""The `unique` data test on DuckDB (macros/tests.sql) against dbt's own, compiled by dbt."""

from __future__ import annotations

import random

import duckdb
import pyarrow as pa
import pytest
from conftest import invoke_dbt


def compiled_test(tmp_path, macro: str) -> str:
    """`macro`('ids', 'x') compiled by dbt in this project."""
    inline = f"{{{{ {macro}('ids', 'x') }}}}"
    result = invoke_dbt(["compile", "--quiet", "--inline", inline], tmp_path)
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


@pytest.fixture(scope="module")
def tests_sql(tmp_path_factory) -> dict[str, str]:
    out = tmp_path_factory.mktemp("compile")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PCDP_DB", str(out / "compile.duckdb"))
        return {
            "project": compiled_test(out, "test_unique"),
            "dbt": compiled_test(out, "default__test_unique"),
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


def test_unique_passes_on_distinct_values_and_nulls(tests_sql):
    values = [f"id_{i}" for i in range(1000)] + [None, None]
    assert failures(tests_sql["project"], values) == []
