"""The text normalisation macros (macros/normalize.sql), compiled by dbt and run in DuckDB."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest
from conftest import invoke_dbt


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> str:
    """The macros under test applied to column x of a relation texts, compiled by dbt (once:
    a dbt invocation takes seconds): columns fast, portable, parsed and x."""
    out = tmp_path_factory.mktemp("compile")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PCDP_DB", str(out / "compile.duckdb"))
        result = invoke_dbt(
            [
                "compile",
                "--quiet",
                "--inline",
                "select {{ pcdp_text('x') }} as fast, {{ default__pcdp_text('x') }} as portable,"
                " {{ pcdp_timestamp('x') }} as parsed, x from texts",
            ],
            out,
        )
    assert result.success, result.exception
    return result.result.results[0].node.compiled_code


@pytest.fixture(scope="module")
def texts() -> list[str]:
    """Every character of the Basic Multilingual Plane before, after and inside an ASCII word,
    alone, and in runs of spaces: whatever DuckDB's trim strips must be stripped."""
    values = ["", " ", "   ", "ev_1", " ev_1 ", "a b", "\t", "x\t", "Café", " Café ", "日本"]
    for code in range(1, 0x10000):
        if 0xD800 <= code <= 0xDFFF:  # surrogates are not characters
            continue
        c = chr(code)
        values += [c, c + "ab", "ab" + c, "a" + c + "b", c + c + " ab " + c]
    return values


def test_duckdb_text_equals_trim_and_nullif(texts, compiled):
    # The DuckDB macro skips trim for ASCII text without a leading or trailing space; it must
    # give what the portable macro (trim, then empty is null) gives for every value.
    with duckdb.connect() as con:
        con.register("texts", pa.table({"x": pa.array(texts, pa.string())}))
        rows = con.execute(f"select fast, portable from ({compiled})").fetchall()
        trimmed = con.execute(
            "select count(*) filter (where trim(x) != x), count(*) filter (where x is null)"
            " from texts"
        ).fetchone()
    assert len(rows) == len(texts)
    assert [fast for fast, _ in rows] == [portable for _, portable in rows]
    # the set exercises both branches: text trim changes, and text it leaves alone
    assert trimmed[0] >= 60 and trimmed[1] == 0
    assert rows[0] == (None, None) and rows[4] == ("ev_1", "ev_1")


def test_duckdb_timestamp_is_the_utc_wall_time_of_the_instant(compiled):
    texts = [
        "2025-03-30T01:30:00+02:00",
        "2024-03-10T02:30:00-05:00",
        " 2024-01-01T10:00:00Z ",
        "2024-01-01 10:00",
        "0001-01-01T00:00:00Z",
        "infinity",
        "-infinity",
        "2024-02-30T00:00:00Z",
        "yesterday",
        "",
        None,
    ]
    with duckdb.connect() as con:
        # Text without an offset is read in the session's zone, UTC as in the profile.
        con.execute("set TimeZone = 'UTC'")
        con.register("texts", pa.table({"x": pa.array(texts, pa.string())}))
        expected = con.execute(
            "select x, timezone('UTC', try_cast(trim(x) as timestamptz)) from texts"
        ).fetchall()
        parsed = con.execute(f"select x, parsed from ({compiled})").fetchall()
    assert parsed == expected
    assert [row[1] is None for row in expected] == [False] * 7 + [True] * 4
