"""The run's as-of date and id (macros/run_context.sql): a var wins, else the environment
variable `pcdp run` sets, else the run's own date and dbt's invocation id."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from conftest import invoke_dbt

RUN_VALUES = "select {{ pcdp_as_of_date() }} as as_of, {{ pcdp_run_id() }} as run_id"


def _compile(tmp_path, monkeypatch, dbt_vars: dict, env: dict):
    monkeypatch.setenv("PCDP_DB", str(tmp_path / "compile.duckdb"))
    for name in ("PCDP_AS_OF", "PCDP_RUN_ID"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    return invoke_dbt(["compile", "--quiet", "--inline", RUN_VALUES], tmp_path, dbt_vars)


def _compiled(tmp_path, monkeypatch, dbt_vars: dict, env: dict) -> str:
    result = _compile(tmp_path, monkeypatch, dbt_vars, env)
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


@pytest.mark.slow
def test_the_environment_gives_as_of_and_run_id_when_no_var_does(tmp_path, monkeypatch):
    code = _compiled(
        tmp_path, monkeypatch, {}, {"PCDP_AS_OF": "2025-11-30", "PCDP_RUN_ID": "nightly-7"}
    )
    assert code == "select date '2025-11-30' as as_of, 'nightly-7' as run_id"


@pytest.mark.slow
def test_a_var_wins_over_the_environment(tmp_path, monkeypatch):
    code = _compiled(
        tmp_path,
        monkeypatch,
        {"as_of": "2025-10-31", "run_id": "by-hand"},
        {"PCDP_AS_OF": "2025-11-30", "PCDP_RUN_ID": "nightly-7"},
    )
    assert code == "select date '2025-10-31' as as_of, 'by-hand' as run_id"


@pytest.mark.slow
def test_without_either_the_run_date_and_the_invocation_id(tmp_path, monkeypatch):
    code = _compiled(tmp_path, monkeypatch, {}, {})
    as_of, run_id = code.removeprefix("select date '").split("' as as_of, '")
    today = dt.datetime.now(dt.UTC).date()
    assert dt.date.fromisoformat(as_of) in (today - dt.timedelta(days=1), today)
    assert uuid.UUID(run_id.removesuffix("' as run_id"))  # dbt's invocation id


@pytest.mark.slow
def test_an_as_of_from_the_environment_that_is_no_date_fails_naming_both_sources(
    tmp_path, monkeypatch
):
    result = _compile(tmp_path, monkeypatch, {}, {"PCDP_AS_OF": "2025-13"})
    assert not result.success
    assert "as_of (var as_of or PCDP_AS_OF) must be YYYY-MM-DD, got '2025-13'" in str(
        result.exception
    )
