"""A warehouse's run lock and run-state file, kept next to the DuckDB file.

DuckDB lets one process write a file, and a reader cannot even open it while a writer has it,
so what another process needs to know during a run lives outside the warehouse:

* ``FILE.lock`` - `pcdp run` holds an exclusive ``flock`` on it for the whole run (all dates
  of a backfill), so two runs on one warehouse never overlap; the lock goes with the process,
  also when it is killed.
* ``FILE.run.json`` - the latest run's state (``running``, ``complete`` or ``failed``), its
  run id, as-of date, start and end, the instances it runs, and where it publishes. It is
  replaced atomically (write a temporary file, then ``os.replace``), so a reader always sees
  a whole JSON document. `pcdp status` merges it with the published tables: instances of a
  run in progress show ``Running``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pcdp.errors import UsageError


class RunInProgressError(UsageError):
    """Another `pcdp run` holds the warehouse's run lock."""


def lock_path(db: str | Path) -> Path:
    db = Path(db)
    return db.with_name(db.name + ".lock")


def state_path(db: str | Path) -> Path:
    db = Path(db)
    return db.with_name(db.name + ".run.json")


def utc_now() -> str:
    """The current UTC time as ISO text without offset (timestamps in pcdp are naive UTC)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None).isoformat(timespec="seconds")


@contextlib.contextmanager
def run_lock(db: str | Path) -> Iterator[None]:
    """Hold the warehouse's run lock, or raise RunInProgressError naming the run holding it."""
    path = lock_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = open(path, "a+", encoding="utf-8")  # noqa: SIM115 - held for the whole block
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunInProgressError(_holder_message(db)) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()}\n")
        handle.flush()
        yield
    finally:
        handle.close()  # closing the file releases the lock


def _holder_message(db: str | Path) -> str:
    state = read_state(db) or {}
    detail = ""
    if state.get("state") == "running":
        detail = (
            f" (run {state.get('run_id')}, pid {state.get('pid')}, as of {state.get('as_of')},"
            f" started {state.get('started_at')} UTC)"
        )
    return (
        f"another pcdp run is in progress on {db}{detail}; this run did not start."
        " Wait for it to finish (see `pcdp status`)."
    )


def run_in_progress(db: str | Path) -> bool:
    """True while some process holds the warehouse's run lock."""
    path = lock_path(db)
    try:
        descriptor = os.open(path, os.O_RDONLY)
    except OSError:
        return False
    try:
        fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(descriptor)
    return False


def read_state(db: str | Path) -> dict[str, Any] | None:
    """The latest run's state, or None when there is none (or it cannot be read)."""
    try:
        state = json.loads(state_path(db).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def write_state(db: str | Path, state: dict[str, Any]) -> None:
    """Replace the run-state file atomically."""
    path = state_path(db)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(state, handle, indent=2, sort_keys=True, default=str)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)
