"""The `pcdp` command line: run, generate, status, profile (contract section 3)."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path

from pcdp import warehouse
from pcdp.commands import command_modules
from pcdp.errors import UsageError
from pcdp.project import project_dir, run_dbt


def _say(message: str) -> None:
    print(message, flush=True)


def _as_of(text: str | None) -> dt.date:
    if not text:
        return dt.datetime.now(dt.UTC).date()
    try:
        return dt.date.fromisoformat(text)
    except ValueError as error:
        raise UsageError(f"--as-of must be a date like 2025-12-31, got '{text}'") from error


def cmd_run(args: argparse.Namespace) -> int:
    raw = Path(args.raw).resolve()
    if not raw.is_dir():
        raise UsageError(f"--raw {args.raw}: no such directory")
    instances = Path(args.instances or project_dir() / "instances.yml").resolve()
    if not instances.is_file():
        raise UsageError(f"--instances {instances}: no such file")
    as_of = _as_of(args.as_of)
    db = Path(args.db)
    _say(f"pcdp run: as of {as_of}, raw data {raw}, warehouse {db}")
    outcome = run_dbt(
        ["build"],
        db,
        {"raw_path": str(raw), "as_of": as_of.isoformat(), "instances_file": str(instances)},
        progress=_say,
    )
    for warning in outcome.warnings:
        _say(f"warning: {warning}")
    if not outcome.success:
        _say(f"pcdp run failed after {outcome.seconds:.1f}s:")
        for failure in outcome.failures:
            _say(f"  - {failure}")
        return 1
    _say(f"dbt build finished in {outcome.seconds:.1f}s")
    _say(warehouse.run_summary(db))
    return 0


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
    _say(warehouse.status_table(Path(args.db)))
    return 0


def cmd_profile(args: argparse.Namespace) -> int:
    found = warehouse.find_customer(Path(args.db), args.identifier)
    if found is None:
        _say(f"no customer has the identifier '{args.identifier}'")
        return 1
    _say(warehouse.format_profile(found))
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
    run.set_defaults(handler=cmd_run)

    generate = commands.add_parser("generate", help="write a synthetic raw directory")
    generate.add_argument("--out", required=True)
    generate.add_argument("--customers", type=int, required=True)
    generate.add_argument("--days", type=int, default=730)
    generate.add_argument("--seed", type=int, default=42)
    generate.add_argument("--as-of", help="last day of the history (default 2025-12-31)")
    generate.set_defaults(handler=cmd_generate)

    status = commands.add_parser("status", help="each model instance's lifecycle status")
    status.add_argument("--db", required=True)
    status.set_defaults(handler=cmd_status)

    profile = commands.add_parser("profile", help="one customer's unified profile")
    profile.add_argument("--db", required=True)
    profile.add_argument("identifier", help="a customer id, user id, email, phone or anonymous id")
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
