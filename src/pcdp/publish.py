"""Safe publishing: the public outputs of a run, copied where readers can always read them.

DuckDB allows one writer per file and a reader cannot open a file while it is being written,
so BI tools (and `pcdp profile` / `pcdp status`) do not read the warehouse itself. After each
successful run, `pcdp run` publishes:

* a **serving DuckDB file** (default ``NAME.serving.duckdb`` next to ``NAME.duckdb``): built
  as a temporary file in the same directory, checkpointed, closed, fsynced and then swapped
  in with ``os.replace``. A reader opens either the previous complete file or the new
  complete file, never a half-written one; a connection already open keeps reading the
  previous file until it reconnects. The temporary file is a byte copy of the warehouse (with
  its write-ahead log, if any) from which every unpublished relation is dropped: at 1 M
  customers 3 s, where copying the published tables one by one took 20 s, as DuckDB
  compresses every column again on the way. The price is size: DuckDB does not shrink a file,
  so the serving file is as large as the warehouse (4.4 GB at 1 M customers, against 1.0 GB
  for the published tables alone), and its free blocks still hold the dropped relations'
  bytes (the raw events among them) until DuckDB reuses them, so it needs the warehouse's
  access rights. A published view that read a dropped relation is published as a table of
  its rows; a view that reads only published relations (an audience) stays a view.
  ``rebuild=True`` (``pcdp publish --rebuild``) builds the file table by table instead: it
  then holds only the published data, at the 20 s price.
* optionally **Parquet files**: ``DIR/versions/<time>_<run_id>/<relation>.parquet`` plus
  ``_publication.json``, and the symlink ``DIR/current`` switched atomically to the new
  version; the previous versions are kept (``keep_versions``) so reads in flight finish.

What is published: every table and view of the warehouse's main schema except the internal
layers (``base_raw__*``, ``stg_raw__*``, ``int_*``, ``instance_outputs__*``, ``pcdp_*``, the
training snapshots ``customer_feature_snapshots``), but with ``stg_raw__accounts`` (which
`pcdp profile` and account audiences read). The table ``_pcdp_publication`` records the run
id, as-of date, publication time and each relation's row count.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

from pcdp import runstate

# The contract's outputs (section 4); a warehouse without them is not published.
PUBLIC_TABLES = (
    "customers",
    "customer_identifiers",
    "customer_features",
    "customer_profile",
    "predictions",
    "model_instances",
    "model_runs",
    "model_metrics",
    "model_curves",
    "quarantine",
)
INTERNAL_PREFIXES = ("base_raw__", "stg_raw__", "int_", "instance_outputs__", "pcdp_")
INTERNAL_NAMES = frozenset({"customer_feature_snapshots"})
# Internal relations readers need all the same: accounts for `pcdp profile` and audiences.
PUBLISHED_INTERNALS = frozenset({"stg_raw__accounts"})
PUBLICATION_TABLE = "_pcdp_publication"
# DuckDB's memory limit while publishing: the run's own ($PCDP_MEMORY_LIMIT, default as in
# profiles.yml). Without it DuckDB may take 80 % of the machine's memory: copying 130 M
# prediction rows (1 M customers, eight nights) peaked at 6.9 GiB.
DEFAULT_MEMORY_LIMIT = "2GB"


def _connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    limit = os.environ.get("PCDP_MEMORY_LIMIT") or DEFAULT_MEMORY_LIMIT
    return duckdb.connect(str(path), read_only=read_only, config={"memory_limit": limit})


class PublishError(Exception):
    """The warehouse cannot be published (not built, or the target cannot be written)."""


@dataclass
class Publication:
    """What one publication wrote."""

    path: Path
    run_id: str
    as_of: str
    published_at: str
    row_counts: dict[str, int] = field(default_factory=dict)
    parquet: Path | None = None
    seconds: float = 0.0


def serving_path(db: str | Path) -> Path:
    """The default serving file of a warehouse: NAME.serving.duckdb next to NAME.duckdb."""
    db = Path(db)
    return db.with_name(f"{db.stem}.serving{db.suffix or '.duckdb'}")


def configured_serving_path(db: str | Path) -> Path:
    """Where the warehouse's last run published (recorded in its run state), else the default."""
    state = runstate.read_state(db) or {}
    configured = state.get("serving")
    return Path(configured) if configured else serving_path(db)


def readable_path(db: str | Path) -> Path:
    """The file a reader should open for the warehouse `db`: its serving file when one has
    been published, else the warehouse itself (which then must not be in use by a run)."""
    serving = configured_serving_path(db)
    return serving if serving.is_file() else Path(db)


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _is_public(name: str) -> bool:
    if name in PUBLISHED_INTERNALS:
        return True
    return not name.startswith(INTERNAL_PREFIXES) and name not in INTERNAL_NAMES


def _relations(con: duckdb.DuckDBPyConnection, catalog: str) -> list[tuple[str, str]]:
    rows = con.execute(
        """
        select table_name, 'table' from duckdb_tables()
        where database_name = ? and schema_name = 'main'
        union all
        select view_name, 'view' from duckdb_views()
        where database_name = ? and schema_name = 'main' and not internal and not temporary
        order by 1
        """,
        [catalog, catalog],
    ).fetchall()
    return [(name, kind) for name, kind in rows if _is_public(name)]


def publish(
    db: str | Path,
    serving: str | Path | None = None,
    parquet: str | Path | None = None,
    run_id: str | None = None,
    as_of: str | None = None,
    keep_versions: int = 3,
    rebuild: bool = False,
) -> Publication:
    """Publish the warehouse `db` (no run may be writing it) to its serving file and, when
    `parquet` is given, to Parquet files; see the module docstring."""
    started = time.perf_counter()
    db = Path(db).resolve()
    serving = Path(serving).resolve() if serving else serving_path(db)
    if not db.is_file():
        raise PublishError(f"{db}: no such warehouse file")
    if serving == db:
        raise PublishError("the serving file must not be the warehouse file itself")
    serving.parent.mkdir(parents=True, exist_ok=True)
    temporary = serving.with_name(f".{serving.name}.{os.getpid()}.tmp")
    _remove(temporary)
    published_at = runstate.utc_now()
    try:
        if not rebuild:
            _copy_file(db, temporary)
        con = _connect(temporary)
        try:
            con.execute(f"attach {_literal(str(db))} as pcdp_warehouse (read_only)")
            relations = _relations(con, "pcdp_warehouse")
            missing = sorted(set(PUBLIC_TABLES) - {name for name, _ in relations})
            if missing:
                raise PublishError(
                    f"{db} lacks {', '.join(missing)}; run `pcdp run` before publishing"
                )
            run_id, as_of = _run_identity(con, run_id, as_of)
            if rebuild:
                _copy_relations(con, relations)
            else:
                _drop_unpublished(con, relations)
            counts = {
                name: con.execute(f"select count(*) from main.{_quote(name)}").fetchone()[0]
                for name, _ in relations
            }
            con.execute(
                f"create table main.{PUBLICATION_TABLE} ("
                " run_id varchar, as_of date, published_at timestamp, source varchar,"
                " relation varchar, kind varchar, row_count bigint)"
            )
            con.executemany(
                f"insert into main.{PUBLICATION_TABLE} values (?, ?, ?, ?, ?, ?, ?)",
                [
                    [run_id, as_of, published_at, str(db), name, kind, counts[name]]
                    for name, kind in relations
                ],
            )
            con.execute("detach pcdp_warehouse")
            con.execute("checkpoint")
        finally:
            con.close()
        _fsync(temporary)
        temporary.chmod(0o444)  # a hint to readers: open it read-only
        os.replace(temporary, serving)
        _fsync(serving.parent)
    except (duckdb.Error, OSError) as error:
        raise PublishError(f"cannot publish {db} to {serving}: {error}") from error
    finally:
        _remove(temporary)
    publication = Publication(serving, run_id, as_of, published_at, counts)
    if parquet is not None:
        publication.parquet = publish_parquet(serving, Path(parquet), keep_versions)
    publication.seconds = time.perf_counter() - started
    return publication


def _copy_file(db: Path, temporary: Path) -> None:
    """Copy the warehouse file, with its write-ahead log when it has one (the changes of a
    connection that closed without a checkpoint), which the copy replays when opened."""
    shutil.copyfile(db, temporary)
    wal = db.with_name(db.name + ".wal")
    if wal.is_file():
        shutil.copyfile(wal, temporary.with_name(temporary.name + ".wal"))


def _drop_unpublished(con: duckdb.DuckDBPyConnection, relations: list[tuple[str, str]]) -> None:
    """In a copy of the warehouse: drop every schema but main and every relation of main that
    is not published, then make a published view that no longer binds (it read a dropped
    relation) a table of the warehouse's view."""
    schemas = con.execute(
        "select schema_name from duckdb_schemas()"
        " where database_name = current_database() and not internal and schema_name <> 'main'"
    ).fetchall()
    for (schema,) in schemas:
        con.execute(f"drop schema {_quote(schema)} cascade")
    published = {name for name, _ in relations}
    for kind in ("view", "table"):
        for name in _own_relations(con, kind):
            if name not in published:
                con.execute(f"drop {kind} main.{_quote(name)}")
    for name, kind in relations:
        if kind != "view":
            continue
        try:
            con.execute(f"select * from main.{_quote(name)} limit 0")
        except (duckdb.CatalogException, duckdb.BinderException):
            con.execute(f"drop view main.{_quote(name)}")
            _copy_table(con, name)


def _copy_relations(con: duckdb.DuckDBPyConnection, relations: list[tuple[str, str]]) -> None:
    """In a new file: copy the published relations of the attached warehouse, tables first
    (the views kept as views read them)."""
    for name, kind in sorted(relations, key=lambda relation: relation[1] == "view"):
        if not (kind == "view" and _recreate_view(con, name)):
            _copy_table(con, name)


def _copy_table(con: duckdb.DuckDBPyConnection, name: str) -> None:
    con.execute(
        f"create table main.{_quote(name)} as select * from pcdp_warehouse.main.{_quote(name)}"
    )


def _own_relations(con: duckdb.DuckDBPyConnection, kind: str | None = None) -> list[str]:
    """The relations of the connection's own file (main schema), of one `kind` ('table' or
    'view') or both, by name."""
    rows = con.execute(
        """
        select table_name, 'table' from duckdb_tables()
        where database_name = current_database() and schema_name = 'main'
        union all
        select view_name, 'view' from duckdb_views()
        where database_name = current_database() and schema_name = 'main'
            and not internal and not temporary
        order by 1
        """
    ).fetchall()
    return [name for name, relation_kind in rows if kind in (None, relation_kind)]


def _recreate_view(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Create the warehouse's view `name` in the connection's own file from its definition;
    False (nothing created) when the definition reads a relation the file does not hold or
    does not bind there. The definition is the warehouse's own catalog entry (DuckDB's text of
    the view), run only when it is one CREATE statement."""
    (definition,) = con.execute(
        "select sql from duckdb_views() where database_name = 'pcdp_warehouse'"
        " and schema_name = 'main' and view_name = ?",
        [name],
    ).fetchone()
    statements = con.extract_statements(definition or "")
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.CREATE:
        return False
    try:
        con.execute(definition)
    except (duckdb.CatalogException, duckdb.BinderException):
        # it reads an unpublished relation, another catalog, or columns the copy lacks
        return False
    return True


def _run_identity(
    con: duckdb.DuckDBPyConnection, run_id: str | None, as_of: str | None
) -> tuple[str, str]:
    """The run id and as-of date to record: given, else the warehouse's latest run."""
    if run_id and as_of:
        return run_id, str(as_of)
    latest = con.execute(
        "select run_id, cast(as_of as varchar) from pcdp_warehouse.main.model_runs"
        " order by finished_at desc, run_id desc limit 1"
    ).fetchone()
    return (run_id or (latest[0] if latest else "unknown")), str(
        as_of or (latest[1] if latest else dt.date.today().isoformat())
    )


def publish_parquet(serving: Path, directory: Path, keep_versions: int = 3) -> Path:
    """Write every relation of the serving file as Parquet into a new version directory and
    switch DIR/current to it atomically; returns the version directory."""
    directory = directory.resolve()
    versions = directory / "versions"
    versions.mkdir(parents=True, exist_ok=True)
    with _connect(serving, read_only=True) as con:
        identity = con.execute(
            f"select any_value(run_id), cast(any_value(as_of) as varchar),"
            f" cast(any_value(published_at) as varchar) from {PUBLICATION_TABLE}"
        ).fetchone()
        names = _own_relations(con)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%dT%H%M%S.%fZ")
        version_name = re.sub(r"[^A-Za-z0-9_.-]", "_", f"{stamp}_{identity[0]}")
        version = versions / version_name
        staging = versions / f".{version_name}.{os.getpid()}.tmp"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir()
        for name in names:
            target = staging / f"{name}.parquet"
            con.execute(
                f"copy (select * from main.{_quote(name)}) to {_literal(str(target))}"
                " (format parquet)"
            )
    (staging / "_publication.json").write_text(
        json.dumps(
            {"run_id": identity[0], "as_of": identity[1], "published_at": identity[2]},
            indent=2,
        )
    )
    os.replace(staging, version)
    link = directory / "current"
    temporary_link = directory / f".current.{os.getpid()}.tmp"
    _remove(temporary_link)
    os.symlink(Path("versions") / version_name, temporary_link)
    os.replace(temporary_link, link)
    _fsync(directory)
    old = sorted(
        (path for path in versions.iterdir() if path.is_dir() and not path.name.startswith(".")),
        key=lambda path: path.name,
    )
    for stale in old[: max(0, len(old) - max(1, keep_versions))]:
        if stale != version:
            shutil.rmtree(stale, ignore_errors=True)
    return version


def read_publication(path: str | Path) -> dict | None:
    """The publication record of a serving file (run_id, as_of, published_at, the source
    warehouse, row counts), or None when the file is not a serving file."""
    try:
        with duckdb.connect(str(path), read_only=True) as con:
            rows = con.execute(
                f"select run_id, cast(as_of as varchar), cast(published_at as varchar), source,"
                f" relation, row_count from {PUBLICATION_TABLE} order by relation"
            ).fetchall()
    except duckdb.Error:
        return None
    if not rows:
        return None
    return {
        "run_id": rows[0][0],
        "as_of": rows[0][1],
        "published_at": rows[0][2],
        "source": rows[0][3],
        "row_counts": {relation: count for *_, relation, count in rows},
    }


def _remove(path: Path) -> None:
    for candidate in (path, path.with_name(path.name + ".wal")):
        if candidate.is_symlink() or candidate.is_file():
            candidate.unlink()


def _fsync(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
