"""Running the pcdp dbt project, with short progress lines and plain errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
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


def run_dbt(
    args: list[str],
    db: Path,
    dbt_vars: dict[str, object],
    progress: Progress | None = None,
) -> DbtOutcome:
    """Run one dbt command (e.g. ["build"]) against the DuckDB file `db`.

    dbt runs in a child process: the DuckDB file is released when it ends, and the memory of
    Python models goes with it.
    """
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
        json.dumps(dbt_vars),
        "--log-format",
        "json",
        "--no-use-colors",
    ]
    started = time.perf_counter()
    with subprocess.Popen(  # noqa: S603 - an argv list of our own, no shell
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, "PCDP_DB": str(db), "DBT_SEND_ANONYMOUS_USAGE_STATS": "false"},
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
        name = node_result.get("unique_id", "?").split(".")[-1]
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
