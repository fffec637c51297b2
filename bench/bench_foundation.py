"""Benchmark of the foundation: generate N customers, then time each stage of a run.

Stages are dbt selections run one after another in their own dbt process (staging and
quarantine, identity + features, training snapshots), so each gets its own wall time and peak
RSS (the child's ru_maxrss). Identity and features share one dbt process, as in a nightly run
(the issue's target is for the two together); their SQL time is also split by folder. A
one-pass DuckDB aggregation over the same events is the floor to compare with.

    python bench/bench_foundation.py --customers 1000000     # ~50 M events
    python bench/bench_foundation.py --customers 100000 --reuse

Each stage also reports its SQL time (dbt's elapsed time, so wall time minus it is dbt start-up)
and its slowest models, from the stage's run_results.json.

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import duckdb

from pcdp.generate import generate
from pcdp.project import project_dir

STAGES = {
    "staging + quarantine": "path:models/staging path:models/marts/quarantine.sql",
    "identity + features": (
        "path:models/identity int_customer_events int_customer_orders customer_features"
    ),
    "training snapshots": "customer_feature_snapshots",
}


def _timed_child(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Run a command; return (seconds, peak RSS in GB of that child)."""
    started = time.perf_counter()
    child = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL)  # noqa: S603
    _, status, usage = os.wait4(child.pid, 0)
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(command)}")
    return time.perf_counter() - started, usage.ru_maxrss / 1024**2


def _folder(unique_id: str) -> str:
    """identity or features, for a model of STAGES["identity + features"]."""
    name = unique_id.rsplit(".", 1)[-1]
    return "features" if name.startswith(("int_customer_", "customer_features")) else "identity"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--reuse", action="store_true", help="keep generated data if present")
    args = parser.parse_args()

    raw = (args.out / f"raw_{args.customers}").resolve()
    db = (args.out / f"foundation_{args.customers}.duckdb").resolve()
    figures: dict[str, object] = {"customers": args.customers}
    if not (args.reuse and (raw / "_truth" / "manifest.json").is_file()):
        started = time.perf_counter()
        generate(raw, customers=args.customers, seed=1)
        figures["generate_s"] = round(time.perf_counter() - started, 1)
        figures["generate_peak_rss_gb"] = round(
            resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2, 2
        )
    manifest = json.loads((raw / "_truth" / "manifest.json").read_text())
    figures["events"] = manifest["row_counts"]["events"]
    db.unlink(missing_ok=True)

    project = project_dir()
    dbt = str(Path(sys.executable).with_name("dbt"))
    env = {**os.environ, "PCDP_DB": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"}
    dbt_vars = json.dumps({"raw_path": str(raw), "as_of": "2025-12-31"})
    # One target directory kept for every stage, as `pcdp run` keeps one per warehouse: the
    # seed step (not timed) parses the project, and the stages start from dbt's partial parse
    # as a nightly run does (a cold parse adds about 2 s to each stage).
    target = db.with_name(f".{db.name}.dbt") / "target"
    common = ["--project-dir", str(project), "--profiles-dir", str(project), "--vars", dbt_vars]
    common += ["--target-path", str(target)]
    _timed_child([dbt, "seed", *common], env)
    for stage, selection in STAGES.items():
        seconds, rss = _timed_child([dbt, "run", "--select", *selection.split(), *common], env)
        results = json.loads((target / "run_results.json").read_text())
        figures[f"{stage} s"] = round(seconds, 1)
        figures[f"{stage} peak_rss_gb"] = round(rss, 2)
        figures[f"{stage} sql s"] = round(results["elapsed_time"], 1)
        slowest = sorted(results["results"], key=lambda result: -result["execution_time"])[:4]
        figures[f"{stage} slowest"] = ", ".join(
            f"{result['unique_id'].rsplit('.', 1)[-1]} {result['execution_time']:.1f}"
            for result in slowest
        )
        if stage == "identity + features":
            for folder in ("identity", "features"):
                figures[f"  {folder} models sql s"] = round(
                    sum(
                        result["execution_time"]
                        for result in results["results"]
                        if _folder(result["unique_id"]) == folder
                    ),
                    1,
                )

    with duckdb.connect(str(db)) as con:
        started = time.perf_counter()
        con.execute(
            "select coalesce(user_id, email, anonymous_id) as who, count(*), max(occurred_at)"
            " from stg_raw__events group by 1"
        ).fetchall()
        figures["floor: one-pass aggregation over events s"] = round(
            time.perf_counter() - started, 1
        )
        figures["customers resolved"] = con.execute("select count(*) from customers").fetchone()[0]
    for name, value in figures.items():
        print(f"{name:<45} {value}")


if __name__ == "__main__":
    main()
