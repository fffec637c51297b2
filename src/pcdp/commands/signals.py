"""`pcdp signals export --db FILE --out PATH [--format csv|parquet]`.

Writes the model ``signal_conversion_values`` (value-based bidding: SHA-256 of each customer's
normalised email and phone, predicted value, currency, as-of time) for upload to ad platforms.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import duckdb
import yaml

from pcdp import warehouse
from pcdp.commands.audience import copy_to, output_format
from pcdp.warehouse import has_relation

TABLE = "signal_conversion_values"
COLUMNS = (
    "customer_id",
    "email_sha256",
    "phone_sha256",
    "predicted_value",
    "currency",
    "value_attribute",
    "as_of",
    "as_of_time",
)


def _say(message: str) -> None:
    print(message, flush=True)


def configured_attribute() -> str:
    """The project's default value attribute (dbt var signal_value_attribute)."""
    from pcdp.project import project_dir

    try:
        project = yaml.safe_load((project_dir() / "dbt_project.yml").read_text(encoding="utf-8"))
        return str(project["vars"]["signal_value_attribute"])
    except (OSError, RuntimeError, KeyError, TypeError, yaml.YAMLError):
        return "pcltv_12m"


def empty_note(con: duckdb.DuckDBPyConnection) -> str:
    """Why the signals are empty, as far as the warehouse tells."""
    attribute = configured_attribute()
    has_column = con.execute(
        "select count(*) from information_schema.columns where table_name = 'customer_profile'"
        " and table_schema = current_schema() and column_name = ?",
        [attribute],
    ).fetchone()[0]
    if not has_column:
        return (
            f"{TABLE} is empty: customer_profile has no column '{attribute}' yet "
            "(dbt var signal_value_attribute; its instance has not produced values)"
        )
    return (
        f"{TABLE} is empty: no customer with an email or phone has a value "
        "(or the run used another signal_value_attribute)"
    )


def summary(con: duckdb.DuckDBPyConnection) -> str:
    if not has_relation(con, TABLE):
        return f"signals: no {TABLE} table (run `pcdp run`)"
    rows, attribute, currency = con.execute(
        f"select count(*), any_value(value_attribute), any_value(currency) from {TABLE}"
    ).fetchone()
    if not rows:
        return "signals: " + empty_note(con)
    return (
        f"signals: {rows:,} customers with a hashed email or phone, "
        f"valued by {attribute} ({currency})"
    )


def summary_lines(db: Path) -> list[str]:
    """What `pcdp run` should print about signals."""
    with warehouse.connect(Path(db)) as con:
        return [summary(con)]


def cmd_export(args: argparse.Namespace) -> int:
    fmt = output_format(args.out, args.format)
    with warehouse.connect(Path(args.db)) as con:
        if not has_relation(con, TABLE):
            raise warehouse.WarehouseError(
                f"{args.db}: no {TABLE} table (run `pcdp run` with this version first)"
            )
        query = f"select {', '.join(COLUMNS)} from {TABLE} order by customer_id"
        rows = copy_to(con, query, Path(args.out), fmt)
        note = empty_note(con) if not rows else None
    _say(f"wrote {rows:,} signal rows to {args.out} ({fmt})")
    if note:
        print(f"note: {note}", file=sys.stderr, flush=True)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    signals = commands.add_parser("signals", help="value-based bidding signals")
    actions = signals.add_subparsers(dest="signals_command", required=True)
    export = actions.add_parser(
        "export", help="write hashed identifiers with predicted values for ad platforms"
    )
    export.add_argument("--db", required=True, help="DuckDB warehouse file")
    export.add_argument("--out", required=True, help="output file")
    export.add_argument(
        "--format", choices=("csv", "parquet"), help="default: from --out's suffix, else csv"
    )
    export.set_defaults(handler=cmd_export)
