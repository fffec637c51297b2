"""`pcdp audience validate | preview | export` (contract sections 3 and 5).

* ``validate FILE [--db FILE] [--instances FILE]`` checks every audience of FILE against the
  warehouse's customer_profile / account_profile (``--db``), or, without a warehouse, against the
  columns a run with the instances file would produce; exits 1 naming each refused audience.
* ``preview NAME --db FILE [--file FILE]``: the audience's size, and its size by RFM segment.
* ``export NAME --db FILE --out PATH [--format csv|parquet] [--file FILE]``: its members with
  their identifiers (most recently seen email, phone, user id and anonymous id).

``preview`` and ``export`` read the view ``audience_<name>`` the last run built; with ``--file``
they compile the audience from that file against the warehouse instead (nothing is written to
the warehouse), so an audience can be tried before a run.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import duckdb

from pcdp import warehouse
from pcdp.audience import quote_ident, quote_literal, schema_from_duckdb
from pcdp.audience.definitions import STATUS_OK, build_definitions, problems
from pcdp.audience.files import NAME_RE, TARGET_RELATIONS, load_audience_entries
from pcdp.audience.profile_schema import expected_schemas
from pcdp.errors import UsageError

IDENTIFIER_TYPES = ("email", "phone", "user_id", "anonymous_id")
SUMMARY_WIDTH = 150  # a refused audience's line in the run summary is cut to this


def _say(message: str) -> None:
    print(message, flush=True)


def warehouse_schemas(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """The attribute schema of each audience target in a built warehouse (None if absent)."""
    schemas: dict[str, Any] = {}
    for target, relation in TARGET_RELATIONS.items():
        try:
            schemas[target] = schema_from_duckdb(con, relation)
        except LookupError:
            schemas[target] = None
    if schemas["customer"] is None:
        raise warehouse.WarehouseError("the warehouse has no customer_profile (run `pcdp run`)")
    return schemas


def _counter(con: duckdb.DuckDBPyConnection):
    def count(target: str, sql: str) -> int:
        relation = quote_ident(TARGET_RELATIONS[target])
        return con.execute(f"select count(*) from {relation} where {sql}").fetchone()[0]

    return count


# ------------------------------------------------------------------------------- validate
def cmd_validate(args: argparse.Namespace) -> int:
    path = Path(args.file)
    if args.db:
        with warehouse.connect(Path(args.db)) as con:
            rows = build_definitions(path, warehouse_schemas(con), _counter(con))
        against = f"warehouse {args.db}"
    else:
        from pcdp.project import project_dir

        instances = Path(args.instances or project_dir() / "instances.yml")
        try:
            schemas = expected_schemas(instances)
        except ValueError as error:
            raise UsageError(str(error)) from error
        rows = build_definitions(path, schemas)
        against = f"the profile columns of {instances}"
    found = problems(rows)
    for row in rows:
        if row["status"] == STATUS_OK:
            size = "" if row["member_count"] is None else f": {row['member_count']:,} members"
            _say(f"ok       {row['audience_name']} ({row['target']}){size}")
    for problem in found:
        _say(f"refused  {problem}")
    total = sum(1 for row in rows if row["entry"] > 0)
    if found:
        _say(f"{path}: {len(found)} problem(s) (checked against {against})")
        return 1
    _say(f"{path}: all {total} audience(s) valid (checked against {against})")
    return 0


# ---------------------------------------------------------------------- preview / export
def _members_sql(con: duckdb.DuckDBPyConnection, name: str, file: str | None) -> tuple[str, str]:
    """(target, SQL relation of the audience's members) for NAME."""
    if not NAME_RE.match(name):
        raise UsageError(f"'{name}' is not an audience name (lower snake case)")
    if file:
        entries = [e for e in load_audience_entries(file) if e.name == name or e.entry == 0]
        if not entries:
            raise UsageError(f"{file} has no audience named '{name}'")
        if entries[0].audience is None:
            raise UsageError(entries[0].error or f"audience '{name}' is malformed")
        rows = build_definitions(file, warehouse_schemas(con))
        row = next(r for r in rows if r["audience_name"] == name)
        if row["status"] != STATUS_OK:
            raise UsageError(row["error"])
        relation = quote_ident(TARGET_RELATIONS[row["target"]])
        return row["target"], f"(select * from {relation} where {row['filter_sql']})"
    view = f"audience_{name}"
    target = "customer"
    if warehouse.has_relation(con, "audience_definitions"):
        found = con.execute(
            "select status, error, target from audience_definitions where audience_name = ?",
            [name],
        ).fetchone()
        if found and found[0] != STATUS_OK:
            raise UsageError(f"audience '{name}' was refused by the last run: {found[1]}")
        if found:
            target = found[2]
    if not warehouse.has_relation(con, view):
        known = []
        if warehouse.has_relation(con, "audience_definitions"):
            known = [
                r[0]
                for r in con.execute(
                    "select audience_name from audience_definitions where status = 'ok' order by 1"
                ).fetchall()
            ]
        listing = ", ".join(known) if known else "none"
        raise UsageError(f"no audience '{name}' in the warehouse (audiences built: {listing})")
    return target, quote_ident(view)


def _segment_column(con: duckdb.DuckDBPyConnection) -> str | None:
    columns = [
        r[0]
        for r in con.execute(
            "select column_name from information_schema.columns"
            " where table_name = 'customer_profile' and table_schema = current_schema()"
            " and data_type = 'VARCHAR' and column_name like '%\\_cluster' escape '\\'"
            " order by column_name = 'rfm_cluster' desc, ordinal_position"
        ).fetchall()
    ]
    return columns[0] if columns else None


def preview(con: duckdb.DuckDBPyConnection, name: str, file: str | None = None) -> dict:
    """Size of audience NAME, of its target population, and by RFM segment (customers)."""
    target, members = _members_sql(con, name, file)
    relation = quote_ident(TARGET_RELATIONS[target])
    size = con.execute(f"select count(*) from {members}").fetchone()[0]
    population = con.execute(f"select count(*) from {relation}").fetchone()[0]
    result: dict[str, Any] = {
        "audience": name,
        "target": target,
        "size": size,
        "population": population,
        "segment_column": None,
        "by_segment": [],
    }
    if target == "account":
        result["member_customers"] = con.execute(
            f"select coalesce(sum(member_count), 0) from {members}"
        ).fetchone()[0]
        return result
    column = _segment_column(con)
    if column:
        col = quote_ident(column)
        result["segment_column"] = column
        result["by_segment"] = con.execute(
            f"select {col}, count(*) from {members} group by 1 order by 2 desc, 1 nulls last"
        ).fetchall()
    return result


def format_preview(result: dict) -> str:
    unit = "accounts" if result["target"] == "account" else "customers"
    share = result["size"] / result["population"] if result["population"] else 0.0
    lines = [
        f"audience {result['audience']}: {result['size']:,} {unit} "
        f"({share:.1%} of {result['population']:,})"
    ]
    if "member_customers" in result:
        lines.append(f"  member customers of these accounts: {result['member_customers']:,}")
    if result["segment_column"]:
        lines.append(f"by {result['segment_column']}:")
        lines += [
            f"  {segment if segment is not None else '(no segment)':<24} {count:>8,}"
            for segment, count in result["by_segment"]
        ]
    elif result["target"] == "customer":
        lines.append("(no RFM segment column in customer_profile)")
    return "\n".join(lines)


def cmd_preview(args: argparse.Namespace) -> int:
    with warehouse.connect(Path(args.db)) as con:
        result = preview(con, args.name, args.file)
    if args.json:
        _say(json.dumps(result, default=str, indent=2))
    else:
        _say(format_preview(result))
    return 0


def _identifiers_sql(customers: str) -> str:
    """Per customer of ``customers`` (SQL relation with customer_id), the most recently seen
    identifier of each type."""
    columns = ",\n".join(
        f"max(identifier_value) filter (where identifier_type = {quote_literal(kind)}) as {kind}"
        for kind in IDENTIFIER_TYPES
    )
    return (
        "select customer_id,\n"
        f"{columns}\n"
        "from (select customer_id, identifier_type, identifier_value,"
        " row_number() over (partition by customer_id, identifier_type"
        " order by last_seen_at desc, identifier_value) as recency_rank"
        " from customer_identifiers"
        f" where customer_id in (select customer_id from {customers}))"
        " where recency_rank = 1 group by customer_id"
    )


def export_sql(con: duckdb.DuckDBPyConnection, name: str, file: str | None = None) -> str:
    """The query exporting audience NAME: one row per member customer with identifiers."""
    target, members = _members_sql(con, name, file)
    ids = ", ".join(f"ids.{kind}" for kind in IDENTIFIER_TYPES)
    if target == "account":
        people = (
            "(select distinct members.account_id, members.account_name,"
            " customer_identifiers.customer_id"
            f" from {members} as members"
            " inner join stg_raw__accounts as accounts"
            " on members.account_id = accounts.account_id"
            " inner join customer_identifiers"
            " on customer_identifiers.identifier_type = 'user_id'"
            " and accounts.user_id = customer_identifiers.identifier_value)"
        )
        return (
            f"with people as {people}, ids as ({_identifiers_sql('people')})"
            f" select people.account_id, people.account_name, people.customer_id, {ids}"
            " from people left join ids on people.customer_id = ids.customer_id"
            " order by people.account_id, people.customer_id"
        )
    return (
        f"with members as (select * from {members}), ids as ({_identifiers_sql('members')})"
        f" select members.customer_id, {ids}, members.* exclude (customer_id)"
        " from members left join ids on members.customer_id = ids.customer_id"
        " order by members.customer_id"
    )


def output_format(out: str, given: str | None) -> str:
    if given:
        return given
    return "parquet" if out.lower().endswith((".parquet", ".pq")) else "csv"


def copy_to(con: duckdb.DuckDBPyConnection, query: str, out: Path, fmt: str) -> int:
    """Write ``query``'s rows to ``out`` (csv with a header, or parquet); returns the count."""
    out.parent.mkdir(parents=True, exist_ok=True)
    options = "format csv, header true" if fmt == "csv" else "format parquet"
    con.execute(f"copy ({query}) to {quote_literal(str(out))} ({options})")
    return con.execute(f"select count(*) from ({query})").fetchone()[0]


def cmd_export(args: argparse.Namespace) -> int:
    fmt = output_format(args.out, args.format)
    with warehouse.connect(Path(args.db)) as con:
        query = export_sql(con, args.name, args.file)
        rows = copy_to(con, query, Path(args.out), fmt)
    _say(f"wrote {rows:,} rows of audience {args.name} to {args.out} ({fmt})")
    return 0


# ---------------------------------------------------------------------------- run summary
def summary_lines(db: Path) -> list[str]:
    """What `pcdp run` should print about audiences: views built and refused audiences."""
    with warehouse.connect(Path(db)) as con:
        if not warehouse.has_relation(con, "audience_definitions"):
            return ["audiences: none built (no audience_definitions)"]
        rows = con.execute(
            "select entry, audience_name, target, status, error, member_count, audiences_file"
            " from audience_definitions order by entry"
        ).fetchall()
    if not rows:
        return ["audiences: the audience file has no audiences"]
    built = [r for r in rows if r[3] == STATUS_OK]
    refused = [r for r in rows if r[3] != STATUS_OK]
    lines = [f"audiences ({rows[0][6]}): {len(built)} built, {len(refused)} refused"]
    for _, name, target, _, _, members, _ in built:
        unit = "accounts" if target == "account" else "customers"
        lines.append(f"  audience_{name:<40} {members:>9,} {unit}")
    for _, _, _, _, error, _, _ in refused:
        first = (error or "").splitlines()[0] if error else ""
        if len(first) > SUMMARY_WIDTH:
            first = first[: SUMMARY_WIDTH - 3] + "..."
        lines.append(f"  refused: {first}")
    return lines


def register(commands: argparse._SubParsersAction) -> None:
    audience = commands.add_parser("audience", help="validate, preview and export audiences")
    actions = audience.add_subparsers(dest="audience_command", required=True)

    validate = actions.add_parser(
        "validate", help="check an audience file; exit 1 naming each refused audience"
    )
    validate.add_argument("file", help="audience YAML file")
    validate.add_argument("--db", help="check against this warehouse's profile tables")
    validate.add_argument(
        "--instances",
        help="without --db: the instances file whose profile columns to assume "
        "(default: the project's own)",
    )
    validate.set_defaults(handler=cmd_validate)

    preview_parser = actions.add_parser("preview", help="an audience's size, by RFM segment")
    preview_parser.add_argument("name", help="audience name")
    preview_parser.add_argument("--db", required=True, help="DuckDB warehouse file")
    preview_parser.add_argument(
        "--file", help="take the audience from this file instead of the last run"
    )
    preview_parser.add_argument("--json", action="store_true", help="print JSON")
    preview_parser.set_defaults(handler=cmd_preview)

    export = actions.add_parser("export", help="write an audience's members with identifiers")
    export.add_argument("name", help="audience name")
    export.add_argument("--db", required=True, help="DuckDB warehouse file")
    export.add_argument("--out", required=True, help="output file")
    export.add_argument(
        "--format", choices=("csv", "parquet"), help="default: from --out's suffix, else csv"
    )
    export.add_argument("--file", help="take the audience from this file instead of the last run")
    export.set_defaults(handler=cmd_export)
