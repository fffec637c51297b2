"""Running the pcdp dbt project, with short progress lines and plain errors; one nightly run
(`run_once`: dbt build, run state, publishing)."""

from __future__ import annotations

import ast
import datetime as dt
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

Progress = Callable[[str], None]


def project_dir() -> Path:
    """The dbt project (the directory holding dbt_project.yml): PCDP_PROJECT_DIR or the repo."""
    configured = os.environ.get("PCDP_PROJECT_DIR")
    if configured:
        return Path(configured).resolve()
    for parent in Path(__file__).resolve().parents:
        if (parent / "dbt_project.yml").is_file():
            return parent
    raise RuntimeError(
        "cannot find the pcdp dbt project; set PCDP_PROJECT_DIR to the folder with dbt_project.yml"
    )


def instance_model_inputs(model: str) -> tuple[list[str], dict[str, str]]:
    """The instance types and inputs (input name -> the dbt model or seed it refs) of the dbt
    Python model `model` in python_models/instances, read from the model's own source: dbt
    needs each ref as a literal `dbt.ref("...")` call there, so that file is the one statement
    of them, and whatever runs the instance types outside dbt (the Spark parity test, the
    benchmarks) reads it here. Raises ValueError when the model calls no run_instance_types
    with a literal list of types and a literal dict of refs."""
    path = project_dir() / "python_models" / "instances" / f"{model}.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if not (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", None) == "run_instance_types"
            and len(node.args) == 5
            and isinstance(node.args[0], ast.List)
            and isinstance(node.args[4], ast.Dict)
        ):
            continue
        types = [ast.literal_eval(item) for item in node.args[0].elts]
        inputs = {
            ast.literal_eval(key): ast.literal_eval(value.args[0])
            for key, value in zip(node.args[4].keys, node.args[4].values, strict=True)
            if isinstance(value, ast.Call) and getattr(value.func, "attr", None) == "ref"
        }
        if len(inputs) == len(node.args[4].keys):
            return types, inputs
    raise ValueError(f"{path} does not call run_instance_types(types, ..., {{name: dbt.ref()}})")


@dataclass
class DbtOutcome:
    """What a dbt invocation did: success, and one plain sentence per failure."""

    success: bool
    failures: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0


_RESULT_EVENTS = ("LogModelResult", "LogSeedResult", "LogTestResult", "LogHookEndLine")


def _parse_event(line: str) -> dict | None:
    try:
        event = json.loads(line)
    except json.JSONDecodeError:
        return None
    return event if isinstance(event, dict) and "info" in event else None


def _report(event: dict, progress: Progress | None) -> None:
    """Print a line per finished model or seed, and per test that did not pass."""
    if progress is None or event["info"].get("name") not in _RESULT_EVENTS:
        return
    node = event.get("data", {}).get("node_info", {})
    status = node.get("node_status", "")
    if node.get("resource_type") == "test" and status == "pass":
        return
    name = node.get("node_name", "")
    progress(f"  {node.get('resource_type', ''):<6} {name:<48} {status}")


#: Vars that change every run, passed to dbt as these environment variables instead (read by
#: macro pcdp_run_value and by pcdp.runtime): dbt parses the whole project again whenever
#: --vars change, about 4 s of every nightly run at 1 M customers.
RUN_ENV_VARS = {"as_of": "PCDP_AS_OF", "run_id": "PCDP_RUN_ID"}


def split_run_vars(dbt_vars: dict[str, object]) -> tuple[dict[str, object], dict[str, str]]:
    """`dbt_vars` as dbt should get them: the vars to pass as --vars, and the environment
    variables (RUN_ENV_VARS) that carry the per-run ones instead."""
    project_vars = {name: value for name, value in dbt_vars.items() if name not in RUN_ENV_VARS}
    run_env = {env: str(dbt_vars[name]) for name, env in RUN_ENV_VARS.items() if name in dbt_vars}
    return project_vars, run_env


def run_dbt(
    args: list[str],
    db: Path,
    dbt_vars: dict[str, object],
    progress: Progress | None = None,
) -> DbtOutcome:
    """Run one dbt command (e.g. ["build"]) against the DuckDB file `db`.

    dbt runs in a child process: the DuckDB file is released when it ends, and the memory of
    Python models goes with it. `as_of` and `run_id` in `dbt_vars` reach dbt as the
    environment variables of RUN_ENV_VARS, the rest as --vars, so that the next run with the
    same other vars reuses this run's parse (dbt's partial parsing).
    """
    threads = os.environ.get("PCDP_THREADS", "").strip()
    if threads and not (threads.isdigit() and int(threads) >= 1):
        # the profile reads it; dbt itself would fail with a bare "max_workers must be > 0"
        return DbtOutcome(
            success=False,
            failures=[f"PCDP_THREADS must be a whole number of at least 1, got {threads!r}"],
        )
    project_vars, run_env = split_run_vars(dbt_vars)
    project = project_dir()
    db = Path(db).resolve()
    db.parent.mkdir(parents=True, exist_ok=True)
    artefacts = db.parent / f".{db.name}.dbt"
    command = [
        str(Path(sys.executable).with_name("dbt")),
        *args,
        "--project-dir",
        str(project),
        "--profiles-dir",
        str(project),
        "--target-path",
        str(artefacts / "target"),
        "--log-path",
        str(artefacts / "logs"),
        "--vars",
        json.dumps(project_vars),
        "--log-format",
        "json",
        "--no-use-colors",
    ]
    # a run value left in this process's environment would stand in for one not passed here
    env = {name: value for name, value in os.environ.items() if name not in RUN_ENV_VARS.values()}
    env.update(run_env, PCDP_DB=str(db), DBT_SEND_ANONYMOUS_USAGE_STATS="false")
    started = time.perf_counter()
    with subprocess.Popen(  # noqa: S603 - an argv list of our own, no shell
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    ) as child:
        assert child.stdout is not None
        logged_errors = []
        for line in child.stdout:
            event = _parse_event(line)
            if event is None:
                continue
            _report(event, progress)
            if event["info"].get("level") == "error":
                logged_errors.append(_plain(event["info"].get("msg", "")))
        returncode = child.wait()
    outcome = DbtOutcome(success=returncode == 0, seconds=time.perf_counter() - started)
    results_file = artefacts / "target" / "run_results.json"
    results = json.loads(results_file.read_text())["results"] if results_file.is_file() else []
    for node_result in results:
        status = node_result.get("status")
        parts = node_result.get("unique_id", "?").split(".")
        # test.<project>.<name>.<hash> for tests, <type>.<project>.<name> for the others
        name = parts[2] if parts[0] == "test" and len(parts) > 3 else parts[-1]
        message = _plain(node_result.get("message") or "")
        if status in ("error", "fail", "runtime error"):
            outcome.failures.append(f"{name}: {message}")
        elif status == "warn":
            outcome.warnings.append(f"{name}: {message}")
    if not outcome.success and not outcome.failures:
        outcome.failures.extend(logged_errors or [f"dbt failed; see {artefacts / 'logs'}"])
    return outcome


def _plain(message: str) -> str:
    """dbt wraps errors in several header lines; keep the lines that say what went wrong."""
    lines = [line.strip() for line in message.splitlines() if line.strip()]
    useful = [
        line
        for line in lines
        if not line.startswith(("Compilation Error in", "Runtime Error in", "compiled code at"))
        and not line.startswith("in macro ")
        and "called by" not in line
    ]
    return " ".join(useful or lines)


@dataclass
class RunOutcome:
    """What one `pcdp run` date did: the dbt outcome, and the publication when it succeeded."""

    run_id: str
    as_of: dt.date
    dbt: DbtOutcome
    publication: object | None = None  # a pcdp.publish.Publication
    publish_error: str | None = None

    @property
    def success(self) -> bool:
        return self.dbt.success and self.publish_error is None


def new_run_id(as_of: dt.date) -> str:
    """A run id that sorts by start time: 20260101T020000Z-2025-12-31-1a2b3c4d."""
    started = dt.datetime.now(dt.UTC)
    return f"{started:%Y%m%dT%H%M%SZ}-{as_of.isoformat()}-{uuid.uuid4().hex[:8]}"


def run_once(
    raw: Path,
    db: Path,
    as_of: dt.date,
    instances_file: Path,
    serving: Path | None = None,
    parquet: Path | None = None,
    publish: bool = True,
    progress: Progress | None = None,
    backfill: dict | None = None,
    dbt_runner: Callable[..., DbtOutcome] | None = None,
) -> RunOutcome:
    """One run for one as-of date: `dbt build`, then publishing; the caller holds the run lock
    (pcdp.runstate.run_lock). The run-state file says `running` throughout, then `complete`
    or `failed`, so other processes can show each instance's lifecycle while it runs.
    `dbt_runner` (default `run_dbt`, same arguments) lets an orchestrator run dbt its way."""
    from pcdp import publish as publishing
    from pcdp import runstate
    from pcdp.instances import load_instances

    db = Path(db).resolve()
    serving = Path(serving).resolve() if serving else publishing.serving_path(db)
    run_id = new_run_id(as_of)
    state: dict = {
        "state": "running",
        "run_id": run_id,
        "as_of": as_of.isoformat(),
        "pid": os.getpid(),
        "started_at": runstate.utc_now(),
        "raw": str(raw),
        "instances_file": str(instances_file),
        "serving": str(serving) if publish else None,
        "parquet": str(parquet) if parquet else None,
        "instances": [
            {
                "instance_id": spec.id,
                "type": spec.type,
                "configured_status": spec.status,
                "runs": spec.runnable,
                "error": spec.error,
            }
            for spec in load_instances(instances_file)
        ],
    }
    if backfill:
        state["backfill"] = backfill
    previous = runstate.read_state(db) or {}
    if not publish and previous.get("serving"):
        state["serving"] = previous["serving"]  # readers keep using the last publication
    runstate.write_state(db, state)
    outcome = RunOutcome(run_id, as_of, DbtOutcome(success=False))
    try:
        outcome.dbt = (dbt_runner or run_dbt)(
            ["build"],
            db,
            {
                "raw_path": str(raw),
                "as_of": as_of.isoformat(),
                "instances_file": str(instances_file),
                "run_id": run_id,
            },
            progress=progress,
        )
        if outcome.dbt.success and publish:
            try:
                outcome.publication = publishing.publish(
                    db, serving, parquet, run_id=run_id, as_of=as_of.isoformat()
                )
            except (publishing.PublishError, OSError) as error:
                outcome.publish_error = str(error)
    finally:
        state["finished_at"] = runstate.utc_now()
        state["state"] = "complete" if outcome.success else "failed"
        if not outcome.success:
            state["message"] = (
                outcome.publish_error
                or "; ".join(outcome.dbt.failures)
                or "the run was interrupted"
            )
        if outcome.publication is not None:
            state["published_at"] = outcome.publication.published_at
        runstate.write_state(db, state)
    return outcome
