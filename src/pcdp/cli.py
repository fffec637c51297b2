"""The `pcdp` command line: run, generate, status, profile (contract section 3)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from pcdp import runstate, warehouse
from pcdp.commands import command_modules
from pcdp.errors import UsageError
from pcdp.instances import InstancesFileError, load_instances
from pcdp.project import project_dir, run_once


def _say(message: str) -> None:
    print(message, flush=True)


def _as_of(text: str | None) -> dt.date:
    if not text:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise UsageError(f"--as-of must be a date like 2025-12-31, got '{text}'") from error


def run_inputs(args: argparse.Namespace) -> tuple[Path, Path, Path]:
    """The raw directory, instances file and warehouse of a run, checked before it starts (a
    bad instances file fails here with a plain message, not inside dbt)."""
    raw = Path(args.raw).resolve()
    if not raw.is_dir():
        raise UsageError(f"--raw {args.raw}: no such directory")
    instances = Path(args.instances or project_dir() / "instances.yml").resolve()
    if not instances.is_file():
        raise UsageError(f"--instances {instances}: no such file")
    try:
        load_instances(instances)
    except InstancesFileError as error:
        raise UsageError(f"--instances: {error}") from error
    return raw, instances, Path(args.db).resolve()


def run_dates(
    raw: Path,
    db: Path,
    dates: list[dt.date],
    instances: Path,
    serving: str | None = None,
    parquet: str | None = None,
    publish: bool = True,
) -> int:
    """Run the as-of dates in order under the warehouse's run lock (exit code 3 when another
    run holds it); stop at the first failed date. Publishes after the last date."""
    try:
        with runstate.run_lock(db):
            for position, as_of in enumerate(dates, start=1):
                last = position == len(dates)
                backfill = None
                if len(dates) > 1:
                    backfill = {"dates": [d.isoformat() for d in dates], "position": position}
                    _say(f"pcdp backfill: date {position} of {len(dates)}")
                _say(f"pcdp run: as of {as_of}, raw data {raw}, warehouse {db}")
                outcome = run_once(
                    raw,
                    db,
                    as_of,
                    instances,
                    serving=Path(serving) if serving else None,
                    parquet=Path(parquet) if parquet else None,
                    publish=publish and last,
                    progress=_say,
                    backfill=backfill,
                )
                for warning in outcome.dbt.warnings:
                    _say(f"warning: {warning}")
                if not outcome.dbt.success:
                    _say(f"pcdp run failed after {outcome.dbt.seconds:.1f}s:")
                    for failure in outcome.dbt.failures:
                        _say(f"  - {failure}")
                    return 1
                _say(f"dbt build finished in {outcome.dbt.seconds:.1f}s (run {outcome.run_id})")
                _say(warehouse.run_summary(db, outcome.run_id))
                if outcome.publish_error:
                    _say("pcdp run: the build succeeded but publishing failed:")
                    _say(f"  - {outcome.publish_error}")
                    return 1
                if outcome.publication is not None:
                    where = outcome.publication.path
                    if outcome.publication.parquet is not None:
                        where = f"{where} and {outcome.publication.parquet}"
                    _say(f"published to {where} in {outcome.publication.seconds:.1f}s")
                    # Read from the serving file just published, i.e. this run's results.
                    from pcdp.commands import audience, signals

                    for line in audience.summary_lines(db) + signals.summary_lines(db):
                        _say(line)
    except runstate.RunInProgressError as error:
        print(f"pcdp run: {error}", file=sys.stderr)
        return 3
    return 0


def cmd_run(args: argparse.Namespace) -> int:
    raw, instances, db = run_inputs(args)
    return run_dates(
        raw,
        db,
        [_as_of(args.as_of)],
        instances,
        serving=args.serving,
        parquet=args.parquet,
        publish=not args.no_publish,
    )


def add_publishing_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--serving",
        help="serving DuckDB file readers use (default: NAME.serving.duckdb next to --db)",
    )
    parser.add_argument(
        "--parquet", help="also publish the outputs as Parquet files under this directory"
    )
    parser.add_argument(
        "--no-publish",
        action="store_true",
        help="do not publish; readers keep the last publication",
    )


def cmd_generate(args: argparse.Namespace) -> int:
    from pcdp.generate import generate

    if args.customers < 1:
        raise UsageError("--customers must be at least 1")
    manifest = generate(
        Path(args.out),
        customers=args.customers,
        days=args.days,
        seed=args.seed,
        as_of=_as_of(args.as_of) if args.as_of else dt.date(2025, 12, 31),
        progress=_say,
    )
    counts = ", ".join(f"{name} {count:,}" for name, count in manifest["row_counts"].items())
    _say(f"wrote {args.out}: {counts}; ground truth in {Path(args.out) / '_truth'}")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    instances = Path(args.instances) if args.instances else None
    _say(warehouse.status_table(Path(args.db), instances_file=instances))
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    if args.history < 0:
        raise UsageError("--history must be 0 or more")
    found = warehouse.find_customer(Path(args.db), args.identifier, history=args.history)
    if found is None:
        _say(f"no customer has the identifier '{args.identifier}'")
        return 1
    _say(warehouse.profile_json(found) if args.json else warehouse.format_profile(found))
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="pcdp", description="Warehouse-native predictive customer data platform."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser("run", help="one nightly run: build everything for an as-of date")
    run.add_argument("--raw", required=True, help="directory of raw datasets")
    run.add_argument("--db", required=True, help="DuckDB warehouse file")
    run.add_argument("--as-of", help="YYYY-MM-DD (default: today, UTC)")
    run.add_argument("--instances", help="model instances YAML (default: the project's own)")
    add_publishing_arguments(run)
    run.set_defaults(handler=cmd_run)

    generate = commands.add_parser("generate", help="write a synthetic raw directory")
    generate.add_argument("--out", required=True)
    generate.add_argument("--customers", type=int, required=True)
    generate.add_argument("--days", type=int, default=730)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--as-of", help="last day of the history (default 2025-12-31)")
    generate.set_defaults(handler=cmd_generate)

    status = commands.add_parser("status", help="each model instance's lifecycle status")
    status.add_argument("--db", required=True, help="the warehouse (or its serving file)")
    status.add_argument(
        "--instances",
        help="instances YAML to compare with (default: the one the last run used)",
    )
    status.set_defaults(handler=cmd_status)

    profile = commands.add_parser("profile", help="one customer's unified profile")
    profile.add_argument("--db", required=True)
    profile.add_argument("identifier", help="a customer id, user id, email, phone or anonymous id")
    profile.add_argument("--json", action="store_true", help="print the profile as JSON")
    profile.add_argument(
        "--history", type=int, default=5, help="as-of dates of score history to show [5]"
    )
    profile.set_defaults(handler=cmd_profile)

    for module in command_modules():
        module.register(commands)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except (UsageError, warehouse.WarehouseError) as error:
        print(f"pcdp {args.command}: {error}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like
        return 0


if __name__ == "__main__":
    sys.exit(main())
