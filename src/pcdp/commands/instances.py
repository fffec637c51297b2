"""Lifecycle commands: `pcdp instances list|activate|suspend`, `pcdp backfill`, `pcdp publish`.

* `pcdp instances activate|suspend ID [--instances FILE]` sets the instance's `status:` in the
  instances file (ready / suspended) by editing that one value in place, so comments and
  formatting stay; `pcdp status` shows the new state at once and the next run applies it.
* `pcdp backfill --raw DIR --db FILE --from DATE --to DATE [--step 1d|7d|1m]` runs the as-of
  dates in order under one run lock, as `pcdp run --as-of` would one by one, and publishes
  after the last one.
* `pcdp publish --db FILE` publishes the warehouse again (e.g. after a plain `dbt build`).
"""

from __future__ import annotations

import argparse
import calendar
import datetime as dt
import re
from pathlib import Path

from pcdp import runstate
from pcdp.errors import UsageError
from pcdp.instances import (
    InstanceNotFoundError,
    InstancesFileError,
    load_instances,
    set_configured_status,
)
from pcdp.project import project_dir


def _say(message: str) -> None:
    print(message, flush=True)


def _instances_file(args: argparse.Namespace) -> Path:
    path = Path(args.instances or project_dir() / "instances.yml")
    if not path.is_file():
        raise UsageError(f"--instances {path}: no such file")
    return path


def cmd_list(args: argparse.Namespace) -> int:
    path = _instances_file(args)
    try:
        specs = load_instances(path)
    except InstancesFileError as error:
        raise UsageError(str(error)) from error
    _say(f"{'instance':<28} {'type':<20} configured")
    for spec in specs:
        _say(f"{spec.id:<28} {spec.type:<20} {spec.status}")
        if spec.error:
            _say(f"    error: {spec.error}")
    return 0


def _set_status(args: argparse.Namespace, status: str) -> int:
    path = _instances_file(args)
    try:
        previous = set_configured_status(path, args.id, status)
    except (InstancesFileError, InstanceNotFoundError) as error:
        raise UsageError(str(error)) from error
    spec = next(spec for spec in load_instances(path) if spec.id == args.id)
    if previous == status:
        _say(f"{args.id} is already {status} in {path}")
    else:
        _say(f"{args.id}: {previous} -> {status} in {path}; the next run applies it")
    if spec.error and status == "ready":
        _say(f"warning: {args.id} cannot run until its configuration is fixed: {spec.error}")
    return 0


def cmd_activate(args: argparse.Namespace) -> int:
    return _set_status(args, "ready")


def cmd_suspend(args: argparse.Namespace) -> int:
    return _set_status(args, "suspended")


def parse_step(text: str) -> tuple[int, str]:
    """`7d`, `1w` or `1m` (calendar months) as (count, unit)."""
    match = re.fullmatch(r"([1-9][0-9]*)\s*([dwm])", text.strip().lower())
    if not match:
        raise UsageError(f"--step must be like 1d, 7d, 2w or 1m, got '{text}'")
    count, unit = int(match.group(1)), match.group(2)
    return (count * 7, "d") if unit == "w" else (count, unit)


def backfill_dates(start: dt.date, end: dt.date, step: str) -> list[dt.date]:
    """The as-of dates from `start` to `end` (inclusive when on the grid), `step` apart. With
    months, a start on a month's last day keeps to month ends."""
    if end < start:
        raise UsageError("--to must not be before --from")
    count, unit = parse_step(step)
    dates = []
    current, number = start, 0
    month_end = start.day == calendar.monthrange(start.year, start.month)[1]
    while current <= end:
        dates.append(current)
        number += 1
        if unit == "d":
            current = start + dt.timedelta(days=count * number)
        else:
            months = start.month - 1 + count * number
            year, month = start.year + months // 12, months % 12 + 1
            last = calendar.monthrange(year, month)[1]
            current = dt.date(year, month, last if month_end else min(start.day, last))
    return dates


def _date(text: str, option: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise UsageError(f"{option} must be a date like 2025-12-31, got '{text}'") from error


def cmd_backfill(args: argparse.Namespace) -> int:
    from pcdp.cli import run_dates, run_inputs

    raw, instances, db = run_inputs(args)
    dates = backfill_dates(_date(args.start, "--from"), _date(args.end, "--to"), args.step)
    _say(f"pcdp backfill: {len(dates)} as-of dates: {', '.join(d.isoformat() for d in dates)}")
    return run_dates(
        raw,
        db,
        dates,
        instances,
        serving=args.serving,
        parquet=args.parquet,
        publish=not args.no_publish,
    )


def cmd_publish(args: argparse.Namespace) -> int:
    from pcdp import publish

    db = Path(args.db).resolve()
    try:
        with runstate.run_lock(db):
            publication = publish.publish(db, args.serving, args.parquet, rebuild=args.rebuild)
            state = runstate.read_state(db) or {}
            state["serving"] = str(publication.path)
            runstate.write_state(db, state)
    except publish.PublishError as error:
        raise UsageError(str(error)) from error
    where = publication.path
    if publication.parquet is not None:
        where = f"{where} and {publication.parquet}"
    _say(
        f"published run {publication.run_id} (as of {publication.as_of}) to {where}:"
        f" {len(publication.row_counts)} tables"
    )
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    from pcdp.cli import add_publishing_arguments

    group = commands.add_parser("instances", help="list, activate or suspend model instances")
    actions = group.add_subparsers(dest="instances_command", required=True)
    for name, handler, text in (
        ("list", cmd_list, "each configured instance, its type, state and config errors"),
        ("activate", cmd_activate, "set an instance to ready: it runs from the next run on"),
        ("suspend", cmd_suspend, "set an instance to suspended: it keeps its last results"),
    ):
        action = actions.add_parser(name, help=text)
        if name != "list":
            action.add_argument("id", help="the instance id")
        action.add_argument("--instances", help="instances YAML (default: the project's own)")
        action.set_defaults(handler=handler)

    backfill = commands.add_parser(
        "backfill", help="run past as-of dates in order (one run per date)"
    )
    backfill.add_argument("--raw", required=True, help="directory of raw datasets")
    backfill.add_argument("--db", required=True, help="DuckDB warehouse file")
    backfill.add_argument("--from", dest="start", required=True, help="first as-of YYYY-MM-DD")
    backfill.add_argument("--to", dest="end", required=True, help="last as-of YYYY-MM-DD")
    backfill.add_argument("--step", default="1d", help="1d, 7d, 2w, 1m ... [1d]")
    backfill.add_argument("--instances", help="model instances YAML (default: the project's own)")
    add_publishing_arguments(backfill)
    backfill.set_defaults(handler=cmd_backfill)

    publish = commands.add_parser(
        "publish", help="publish the warehouse's outputs to its serving file again"
    )
    publish.add_argument("--db", required=True, help="DuckDB warehouse file")
    publish.add_argument("--serving", help="serving DuckDB file [NAME.serving.duckdb]")
    publish.add_argument("--parquet", help="also publish as Parquet files under this directory")
    publish.add_argument(
        "--rebuild",
        action="store_true",
        help="copy the published tables one by one into a file that holds only them, instead"
        " of copying the warehouse file and dropping the rest (smaller, slower)",
    )
    publish.set_defaults(handler=cmd_publish)
