"""Lint-time stand-in for dbt's `target`: the default DuckDB target, whose SQL sqlfluff lints.

sqlfluff's jinja templater does not know dbt's profile; the real target comes from profiles.yml.
"""

type = "duckdb"
name = "duckdb"
