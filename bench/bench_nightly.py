"""Benchmark of a whole nightly run: `pcdp run` with every example instance, per stage.

For each size: generate (or reuse) N customers, run `pcdp run` once in a child process (wall
time; memory two ways: the peak RSS of the largest process, i.e. the dbt child, from
os.wait4, and the peak of the whole process tree's proportional set size, `pcdp run` and dbt
together, sampled from /proc every 0.5 s), then split the run into stages from dbt's
run_results.json and manifest.json: the union of the execution intervals of the nodes of each
stage (dbt runs two nodes at a time), with the tree's peak while the stage ran (shared with
whatever ran beside it), and the rest of the run (dbt start-up, parsing, hooks, publishing).
The floor is one DuckDB pass that aggregates the same raw events per identifier, measured
before and after the run (the machine's speed drifts); the ratio run / floor uses their mean.
With two sizes it prints the growth of each figure. With --history-nights N it then copies
the run's predictions as the N nights before it and runs again: a warehouse's steady state,
where the predictions history (one set of rows per run) has grown for N nights.

    python bench/bench_nightly.py --customers 100000 1000000 --reuse [--history-nights 30]

Prints figures; asserts nothing.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import re
import subprocess
import sys
import threading
import time
from pathlib import Path

import duckdb

from pcdp.generate import generate
from pcdp.publish import publish

AS_OF = "2025-12-31"


def stage_of(unique_id: str, path: str) -> str:
    """The bench stage a dbt node belongs to, from its kind and file path."""
    if unique_id.startswith("test."):
        return "data tests"
    if unique_id.startswith("seed."):
        return "seeds"
    if path.startswith("models/staging/") or path == "models/marts/quarantine.sql":
        return "staging + quarantine"
    for folder in ("identity", "features"):
        if path.startswith(f"models/{folder}/"):
            return folder
    name = Path(path).stem
    if name.startswith("instance_outputs__"):
        return "instance type " + name.removeprefix("instance_outputs__")
    if path.startswith(("models/instances/", "python_models/instances/")):
        return "instance history + monitoring"
    return "marts + audiences"


def busy_seconds(intervals: list[tuple[dt.datetime, dt.datetime]]) -> float:
    """Length of the union of the intervals."""
    total, end = 0.0, None
    for start, stop in sorted(intervals):
        if end is None or start > end:
            total += (stop - start).total_seconds()
            end = stop
        elif stop > end:
            total += (stop - end).total_seconds()
            end = stop
    return total


def stage_intervals(artefacts: Path) -> dict[str, list[tuple[dt.datetime, dt.datetime]]]:
    """The execution intervals of each stage's nodes in the last dbt invocation whose
    artefacts are in ``artefacts``."""
    results = json.loads((artefacts / "run_results.json").read_text())["results"]
    nodes = json.loads((artefacts / "manifest.json").read_text())["nodes"]
    intervals: dict[str, list[tuple[dt.datetime, dt.datetime]]] = {}
    for result in results:
        node = nodes.get(result["unique_id"], {})
        stage = stage_of(result["unique_id"], node.get("original_file_path", ""))
        for step in result.get("timing", []):
            if step.get("name") == "execute" and step.get("started_at"):
                span = (
                    dt.datetime.fromisoformat(step["started_at"].replace("Z", "+00:00")),
                    dt.datetime.fromisoformat(step["completed_at"].replace("Z", "+00:00")),
                )
                intervals.setdefault(stage, []).append(span)
    return dict(sorted(intervals.items()))


def stage_seconds(intervals: dict[str, list[tuple[dt.datetime, dt.datetime]]]) -> dict[str, float]:
    """Seconds per stage (the union of its nodes' intervals), and of all nodes together."""
    seconds = {stage: busy_seconds(spans) for stage, spans in intervals.items()}
    seconds["all nodes (stages overlap: dbt runs two at a time)"] = busy_seconds(
        [span for spans in intervals.values() for span in spans]
    )
    return seconds


def tree_pss_bytes(root: int) -> int:
    """Proportional set size of process `root` and all its descendants (Linux /proc): unlike
    summed RSS, libraries two processes share count once."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:  # the process ended meanwhile
                continue
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry))
    total, pending = 0, [root]
    while pending:
        pid = pending.pop()
        pending.extend(children.get(pid, []))
        try:
            rollup = Path(f"/proc/{pid}/smaps_rollup").read_text()
        except OSError:
            continue
        found = re.search(r"^Pss:\s+(\d+) kB", rollup, re.MULTILINE)
        total += int(found.group(1)) * 1024 if found else 0
    return total


class TreeMemorySampler(threading.Thread):
    """Samples tree_pss_bytes(pid) every `interval` seconds until stop(): (UTC time, bytes)."""

    def __init__(self, pid: int, interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.pid, self.interval = pid, interval
        self.samples: list[tuple[dt.datetime, int]] = []
        self._stopped = threading.Event()

    def run(self) -> None:
        while not self._stopped.wait(self.interval):
            self.samples.append((dt.datetime.now(dt.UTC), tree_pss_bytes(self.pid)))

    def stop(self) -> None:
        self._stopped.set()
        self.join()

    def peak_gib(self, spans: list[tuple[dt.datetime, dt.datetime]] | None = None) -> float | None:
        """The largest sample, within `spans` when given (None when no sample falls there)."""
        inside = [
            size
            for moment, size in self.samples
            if spans is None or any(start <= moment <= stop for start, stop in spans)
        ]
        return round(max(inside) / 1024**3, 2) if inside else None


def run_figures(raw: Path, db: Path, label: str) -> dict[str, float | None]:
    """`pcdp run` once into `db`: wall time, memory and seconds and memory per stage, names
    prefixed with `label`."""
    pcdp = str(Path(sys.executable).with_name("pcdp"))
    command = [pcdp, "run", "--raw", str(raw), "--db", str(db), "--as-of", AS_OF]
    log = db.with_name(f".{db.name}.run.log")
    started = time.perf_counter()
    with log.open("w") as output:
        child = subprocess.Popen(command, stdout=output)  # noqa: S603
        sampler = TreeMemorySampler(child.pid)
        sampler.start()
        # the tree is sampled until the child is reaped (its pid is gone then)
        while True:
            reaped, status, usage = os.wait4(child.pid, os.WNOHANG)
            if reaped:
                break
            time.sleep(0.2)
        sampler.stop()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"failed: {' '.join(command)} (output in {log})")
    total = time.perf_counter() - started
    figures = {
        f"{label} s": round(total, 1),
        f"{label} peak_rss_gb": round(usage.ru_maxrss / 1024**2, 2),
        f"{label} peak tree_pss_gib": sampler.peak_gib(),
    }
    intervals = stage_intervals(db.parent / f".{db.name}.dbt" / "target")
    stages = stage_seconds(intervals)
    busy = stages.pop("all nodes (stages overlap: dbt runs two at a time)")
    for stage, seconds in stages.items():
        figures[f"  {stage} s"] = round(seconds, 1)
        peak = sampler.peak_gib(intervals[stage])
        if peak is not None:  # shorter than the sampling interval
            figures[f"  {stage} peak tree_pss_gib"] = peak
    figures["  rest (dbt start-up, hooks, publishing) s"] = round(total - busy, 1)
    published = re.search(r"^published to .* in ([0-9.]+)s$", log.read_text(), re.MULTILINE)
    if published:
        figures["  publishing (part of the rest) s"] = float(published.group(1))
    return figures


def add_history(db: Path, nights: int) -> None:
    """Copies of the run's predictions as the `nights` nights before it (as_of - 1 day, ...,
    run ids suffixed): the predictions history a warehouse has after that many nightly runs.
    One insert per night, oldest first, as nightly runs append them (so the table's row groups
    each hold one date, which is what lets readers skip the dates they do not need)."""
    with duckdb.connect(str(db)) as con:
        for night in range(nights, 0, -1):
            con.execute(
                """
                insert into predictions by name
                select
                    * replace (
                        cast(as_of - to_days(cast($night as integer)) as date) as as_of,
                        run_id || '-history-' || $night as run_id
                    )
                from predictions
                where as_of = cast($as_of as date)
                """,
                {"night": night, "as_of": AS_OF},
            )


def floor_seconds(raw: Path) -> float:
    """One DuckDB pass that aggregates the raw events per identifier: the floor."""
    with duckdb.connect() as con:
        started = time.perf_counter()
        con.execute(
            "select coalesce(user_id, email, anonymous_id) as who, count(*), max(occurred_at)"
            " from read_parquet(?) group by 1",
            [str(raw / "events" / "*.parquet")],
        ).fetchall()
        return time.perf_counter() - started


def bench_size(customers: int, out: Path, reuse: bool, history_nights: int) -> dict:
    raw = (out / f"raw_{customers}").resolve()
    db = (out / f"nightly_{customers}.duckdb").resolve()
    figures: dict[str, float | int] = {"customers": customers}
    if not (reuse and (raw / "_truth" / "manifest.json").is_file()):
        started = time.perf_counter()
        generate(raw, customers=customers, seed=1)
        figures["generate s"] = round(time.perf_counter() - started, 1)
    manifest = json.loads((raw / "_truth" / "manifest.json").read_text())
    figures["events"] = manifest["row_counts"]["events"]
    for stale in (db, db.with_name(db.stem + ".serving.duckdb")):
        stale.unlink(missing_ok=True)

    # the floor before and after the run: how much the machine's speed moved meanwhile
    floor_before = floor_seconds(raw)
    figures.update(run_figures(raw, db, "whole run"))
    total = figures["whole run s"]
    floor = floor_seconds(raw)
    figures["floor before the run s"] = round(floor_before, 2)
    figures["floor: one pass over the events s"] = round(floor, 2)
    figures["ratio whole run / floor"] = round(total / ((floor_before + floor) / 2), 1)

    if history_nights:
        add_history(db, history_nights)
        publish(db)  # as each of those nights' runs would have
        label = f"after {history_nights} nights"
        # the stage names repeat: this run's figures follow its own heading
        figures.update({f"{label}: {k}": v for k, v in run_figures(raw, db, "run").items()})
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=[100_000, 1_000_000])
    parser.add_argument("--out", type=Path, default=Path("bench/out"))
    parser.add_argument("--reuse", action="store_true", help="keep generated data if present")
    parser.add_argument(
        "--history-nights",
        type=int,
        default=0,
        help="then add this many earlier nights of predictions and run again (steady state)",
    )
    args = parser.parse_args()

    runs = []
    for customers in args.customers:
        runs.append(bench_size(customers, args.out, args.reuse, args.history_nights))
        # each size's figures as soon as they exist: a 1 M run takes many minutes
        print(json.dumps(runs[-1]), flush=True)
    names = list(dict.fromkeys(name for figures in runs for name in figures))
    print(f"{'figure':<56}" + "".join(f"{n:>14,}" for n in args.customers), end="")
    print(f"{'growth':>10}" if len(runs) == 2 else "")
    for name in names[1:]:
        values = [figures.get(name) for figures in runs]
        line = f"{name:<56}" + "".join(f"{v if v is not None else '-':>14}" for v in values)
        if len(runs) == 2 and all(isinstance(v, int | float) and v for v in values):
            line += f"{values[1] / values[0]:>9.1f}x"
        print(line)


if __name__ == "__main__":
    main()
