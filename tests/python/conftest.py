"""Shared fixtures: generated demo data and a warehouse built from it by `pcdp run`."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import duckdb
import pytest
from dbt.cli.main import dbtRunner, dbtRunnerResult

from pcdp.cli import main
from pcdp.generate import generate
from pcdp.project import project_dir

AS_OF = dt.date(2025, 12, 31)
CUSTOMERS = 1500


@pytest.fixture(scope="session")
def raw_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("raw") / "raw"
    generate(out, customers=CUSTOMERS, seed=7, as_of=AS_OF)
    return out


def build(raw: Path, db: Path, instances: Path | None = None, as_of: dt.date = AS_OF) -> Path:
    """Run `pcdp run` and fail the test with its output when it fails."""
    argv = ["run", "--raw", str(raw), "--db", str(db), "--as-of", as_of.isoformat()]
    if instances is not None:
        argv += ["--instances", str(instances)]
    assert main(argv) == 0, f"pcdp run failed for {raw}"
    return db


def invoke_dbt(args: list[str], out: Path, dbt_vars: dict | None = None) -> dbtRunnerResult:
    """dbt `args` in this project (DuckDB at $PCDP_DB), artefacts and logs under `out`, with
    no raw data and `dbt_vars` (default: the tests' as-of date)."""
    return dbtRunner().invoke(
        [
            *args,
            "--project-dir",
            str(project_dir()),
            "--profiles-dir",
            str(project_dir()),
            "--target-path",
            str(out / "target"),
            "--log-path",
            str(out / "logs"),
            "--vars",
            json.dumps(
                {"raw_path": "", **({"as_of": AS_OF.isoformat()} if dbt_vars is None else dbt_vars)}
            ),
        ]
    )


@pytest.fixture(scope="session")
def warehouse(raw_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build(raw_dir, tmp_path_factory.mktemp("warehouse") / "pcdp.duckdb")


@pytest.fixture()
def con(warehouse: Path):
    connection = duckdb.connect(str(warehouse), read_only=True)
    yield connection
    connection.close()
