"""`pcdp report --db FILE --out DIR`: a self-contained HTML report of a built warehouse.

Writes ``DIR/index.html`` (pcdp.report): model instance statuses, run history, each instance's
latest metrics and charts, RFM segments, interests, identity statistics and quarantine counts.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from pcdp.errors import UsageError
from pcdp.report import write_report


def cmd_report(args: argparse.Namespace) -> int:
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: not a directory")
    index = write_report(Path(args.db), out)
    print(f"wrote {index}", flush=True)
    return 0


def register(commands: argparse._SubParsersAction) -> None:
    report = commands.add_parser("report", help="write a self-contained HTML report")
    report.add_argument("--db", required=True, help="DuckDB warehouse file")
    report.add_argument("--out", required=True, help="directory to write index.html into")
    report.set_defaults(handler=cmd_report)
