"""Read-only questions to a built pcdp warehouse: run summary, statuses, profile lookup.

Readers open the warehouse's serving file (pcdp.publish) when one has been published, so
they never collide with a run writing the warehouse; `pcdp status` merges the run state
(pcdp.runstate) to show a run in progress.
"""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from pcdp import publish, runstate


class WarehouseError(Exception):
    """The warehouse file is missing or has not been built by `pcdp run`."""


def connect(db: Path, serving: bool = True) -> duckdb.DuckDBPyConnection:
    """A read-only connection to the warehouse `db`: to its serving file when one has been
    published (unless `serving` is False), else to the warehouse file itself."""
    path = publish.readable_path(db) if serving else Path(db)
    if not path.is_file():
        raise WarehouseError(f"{db}: no such warehouse file (run `pcdp run` first)")
    try:
        return duckdb.connect(str(path), read_only=True)
    except duckdb.Error as error:
        if runstate.run_in_progress(db):
            raise WarehouseError(
                f"{db} is being written by a pcdp run in progress and has no published serving"
                " file yet; wait for the run to finish"
            ) from error
        raise WarehouseError(f"{path}: cannot open the warehouse: {error}") from error


def has_relation(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    """Whether the warehouse's main schema has a table or view `name`."""
    found = con.execute(
        "select count(*) from information_schema.tables"
        " where table_name = ? and table_schema = current_schema()",
        [name],
    ).fetchone()
    return bool(found and found[0])


def run_summary(db: Path, run_id: str | None = None) -> str:
    """What a run built: customers, identifiers, guarded identifiers, quarantine, and (given
    its run id) each instance's outcome and the monitoring checks that did not pass. Reads
    the warehouse itself (call it when no run is writing it)."""
    with connect(db, serving=False) as con:
        customers, known = con.execute(
            "select count(*), count(*) filter (where is_known) from customers"
        ).fetchone()
        identifiers = con.execute(
            "select identifier_type, count(*) from customer_identifiers group by 1 order by 1"
        ).fetchall()
        guarded = con.execute(
            "select identifier_type, identifier_value, degree, guard_rule"
            " from identity_guarded_identifiers order by degree desc, identifier_value limit 10"
        ).fetchall()
        quarantine = con.execute(
            "select dataset, reason, count(*) from quarantine group by 1, 2 order by 1, 2"
        ).fetchall()
        features = con.execute("select count(*) from customer_features").fetchone()[0]
        runs, checks = [], []
        if run_id is not None and has_relation(con, "model_runs"):
            runs = con.execute(
                "select instance_id, status, rows_scored, error from model_runs"
                " where run_id = ? order by instance_id",
                [run_id],
            ).fetchall()
        if run_id is not None and has_relation(con, "model_monitoring"):
            checks = con.execute(
                "select instance_id, passed, message from model_monitoring where run_id = ?"
                " order by instance_id, check_name, metric",
                [run_id],
            ).fetchall()
    lines = [
        f"customers: {customers:,} ({known:,} known by a user id, email or phone)",
        "identifiers: " + ", ".join(f"{kind} {count:,}" for kind, count in identifiers),
        f"customer_features: {features:,} rows",
        f"guarded identifiers (not used to join people): {len(guarded)}",
    ]
    lines += [
        f"  {kind} {value!r}: {degree} links ({rule})" for kind, value, degree, rule in guarded
    ]
    total = sum(count for _, _, count in quarantine)
    lines.append(f"quarantined rows: {total:,}")
    lines += [f"  {dataset:<11} {reason:<32} {count:,}" for dataset, reason, count in quarantine]
    if run_id is not None:
        errors = sum(1 for _, status, _, _ in runs if status == "Error")
        lines.append(f"instances run: {len(runs)} ({len(runs) - errors} Complete, {errors} Error)")
        for instance_id, status, rows_scored, error in runs:
            detail = f"{rows_scored or 0:,} customers scored"
            if error:
                detail = error.strip().splitlines()[0]
            lines.append(f"  {instance_id:<28} {status:<9} {detail}")
        failed = [(instance_id, message) for instance_id, passed, message in checks if not passed]
        lines.append(f"monitoring checks: {len(checks)}, not passed: {len(failed)}")
        lines += [f"  {instance_id}: {message}" for instance_id, message in failed]
    return "\n".join(lines)


_CONFIGURED_LABELS = {"draft": "Draft", "ready": "Ready", "suspended": "Suspended"}
# The metric `pcdp status` shows when the instance names none (InstanceResult.headline).
HEADLINE_METRICS = (
    "roc_auc",
    "pr_auc",
    "matured_auc",
    "r2",
    "mape",
    "customers_scored",
)
_MONITOR_PREFIXES = ("psi_", "matured_", "drift_")


def _headline(metrics: dict[str, tuple[float | None, str | None]]) -> str:
    """`name value` of the instance's headline metric, plus drift and matured precision."""
    named = metrics.get("headline_metric", (None, None))[1]
    candidates = [named, *HEADLINE_METRICS] if named else list(HEADLINE_METRICS)
    candidates += sorted(
        name
        for name, (value, _) in metrics.items()
        if value is not None and not name.startswith(_MONITOR_PREFIXES)
    )
    parts = []
    chosen = next((name for name in candidates if metrics.get(name, (None,))[0] is not None), None)
    extras = ("psi_max", "matured_precision", "matured_auc", "matured_revenue_ratio")
    for name in [chosen, *extras]:
        if name is None or name in {part[0] for part in parts}:
            continue
        value = metrics.get(name, (None,))[0]
        if value is not None:
            parts.append((name, value))
    return "  ".join(f"{name} {_number(value)}" for name, value in parts) or "-"


def _number(value: float) -> str:
    if float(value).is_integer() and abs(value) >= 1:
        return f"{int(value):,}"
    return f"{value:.3f}"


def _published_instances(con: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    rows = con.execute(
        "select instance_id, type, status, configured_status, last_run_at, last_as_of,"
        " last_rows_scored, last_error from model_instances order by instance_id"
    ).fetchall()
    instances = {
        row[0]: dict(
            zip(
                (
                    "instance_id",
                    "type",
                    "status",
                    "configured_status",
                    "last_run_at",
                    "last_as_of",
                    "rows",
                    "error",
                ),
                row,
                strict=True,
            ),
            metrics={},
            notes=[],
        )
        for row in rows
    }
    if has_relation(con, "model_runs") and has_relation(con, "model_metrics"):
        metrics = con.execute(
            """
            with latest as (
                select instance_id, run_id from model_runs
                qualify row_number() over (
                    partition by instance_id order by finished_at desc, run_id desc
                ) = 1
            )
            select model_metrics.instance_id, model_metrics.metric, model_metrics.value,
                model_metrics.value_text
            from model_metrics
            inner join latest
                on model_metrics.instance_id = latest.instance_id
                and model_metrics.run_id = latest.run_id
            """
        ).fetchall()
        for instance_id, metric, value, text in metrics:
            if instance_id in instances:
                instances[instance_id]["metrics"][metric] = (value, text)
    return instances


def status_table(db: Path, instances_file: Path | None = None) -> str:
    """Each model instance's lifecycle status with its last run time, as-of date, rows scored
    and headline metric: the published results, merged with the run in progress (Running)
    and with configured states changed since the last run (`pcdp instances activate|suspend`).
    """
    db = Path(db)
    state = runstate.read_state(db) or {}
    header: list[str] = []
    instances: dict[str, dict] = {}
    try:
        with connect(db) as con:
            if has_relation(con, "model_instances"):
                instances = _published_instances(con)
            if has_relation(con, publish.PUBLICATION_TABLE):
                run_id, as_of, published_at = con.execute(
                    "select any_value(run_id), cast(any_value(as_of) as varchar),"
                    f" cast(any_value(published_at) as varchar) from {publish.PUBLICATION_TABLE}"
                ).fetchone()
                header.append(
                    f"results published {published_at} UTC from run {run_id} (as of {as_of})"
                )
    except WarehouseError as error:
        if not state:
            raise
        header.append(f"no results to show yet: {error}")
    if state.get("state") == "running" and runstate.run_in_progress(db):
        position = ""
        if state.get("backfill"):
            backfill = state["backfill"]
            position = f", backfill date {backfill['position']} of {len(backfill['dates'])}"
        header.append(
            f"run in progress: {state.get('run_id')} as of {state.get('as_of')}, started"
            f" {state.get('started_at')} UTC (pid {state.get('pid')}{position})"
        )
        for entry in state.get("instances", []):
            row = instances.setdefault(entry["instance_id"], _new_row(entry))
            if entry.get("runs"):
                row["status"] = "Running"
            elif entry.get("configured_status") in ("draft", "suspended"):
                row["status"] = _CONFIGURED_LABELS[entry["configured_status"]]
    else:
        if state.get("state") == "running":
            header.append(
                f"the run {state.get('run_id')} started {state.get('started_at')} UTC did not"
                " finish (its process ended); statuses are from the last completed run"
            )
        elif state.get("state") == "failed":
            header.append(
                f"the last run {state.get('run_id')} (as of {state.get('as_of')}) failed:"
                f" {state.get('message')}; statuses are from the last completed run"
            )
        _merge_configuration(instances, instances_file or state.get("instances_file"), header)
    if not instances:
        return "\n".join([*header, "no model instances recorded yet"])
    lines = [*header]
    lines.append(
        f"{'instance':<24} {'type':<18} {'status':<10} {'last run (UTC)':<19} {'as of':<10}"
        f" {'rows':>7}  headline"
    )
    for row in sorted(instances.values(), key=lambda r: r["instance_id"]):
        last_run = f"{row['last_run_at']:%Y-%m-%d %H:%M:%S}" if row.get("last_run_at") else "-"
        rows = f"{row['rows']:,}" if row.get("rows") is not None else "-"
        lines.append(
            f"{row['instance_id']:<24} {row['type']:<18} {row['status']:<10} {last_run:<19}"
            f" {str(row.get('last_as_of') or '-'):<10} {rows:>7}  {_headline(row['metrics'])}"
        )
        if row.get("error") and row["status"] == "Error":
            lines.append(f"    error: {row['error'].strip().splitlines()[0]}")
        lines += [f"    note: {note}" for note in row["notes"]]
    return "\n".join(lines)


def _new_row(entry: dict) -> dict:
    return {
        "instance_id": entry["instance_id"],
        "type": entry.get("type", "?"),
        "status": _CONFIGURED_LABELS.get(entry.get("configured_status"), "Ready"),
        "configured_status": entry.get("configured_status"),
        "metrics": {},
        "notes": [],
    }


def _merge_configuration(
    instances: dict[str, dict], instances_file: str | Path | None, header: list[str]
) -> None:
    """Show configured states changed since the last run, and instances added or removed."""
    from pcdp.instances import InstancesFileError, load_instances

    if not instances_file:
        return
    try:
        specs = load_instances(instances_file)
    except InstancesFileError as error:
        header.append(f"cannot compare with the instances file: {error}")
        return
    configured = {spec.id: spec for spec in specs}
    for spec in specs:
        row = instances.get(spec.id)
        if row is None:
            row = instances[spec.id] = _new_row(
                {"instance_id": spec.id, "type": spec.type, "configured_status": spec.status}
            )
            row["notes"].append("not run yet (added since the last run)")
        elif row.get("configured_status") != spec.status:
            row["status"] = _CONFIGURED_LABELS[spec.status]
            row["notes"].append(
                f"configured {spec.status} since the last run (the next run applies it)"
            )
        if spec.error and spec.status == "ready" and row["status"] != "Error":
            row["notes"].append(f"configuration error: {spec.error}")
    for instance_id, row in instances.items():
        if instance_id not in configured:
            row["notes"].append(f"no longer in {instances_file}")


def identifier_candidates(text: str, default_country_code: str = "1") -> list[str]:
    """The normalised forms an identifier typed by a user may take (contract section 1)."""
    trimmed = text.strip()
    candidates = [trimmed, trimmed.lower()]
    digits = re.sub(r"[^0-9]", "", trimmed)
    if digits and re.fullmatch(r"[+0-9 ()./-]+", trimmed):
        if trimmed.startswith("+"):
            candidates.append(digits)
        elif digits.startswith("00"):
            candidates.append(digits[2:])
        elif len(digits) <= 10:
            candidates.append(default_country_code + digits)
        else:
            candidates.append(digits)
    return list(dict.fromkeys(candidates))


def find_customer(db: Path, identifier: str, history: int = 5) -> dict | None:
    """One customer's unified profile, found by any of their identifiers (or customer id).

    Returns ``customer_id``, ``identifiers`` (type, value, first and last seen),
    ``attributes`` (their customer_profile row), ``segments`` (each ``*_cluster`` value and each
    ``*_segment`` that is true), ``audiences`` (names of the audience views they are in),
    ``accounts`` (account id, name and the account audiences it is in) and ``score_history``
    (numeric predictions of the last ``history`` as-of dates, newest first).
    """
    candidates = identifier_candidates(identifier)
    placeholders = ", ".join("?" for _ in candidates)
    with connect(db) as con:
        match = con.execute(
            "select customer_id from customers where customer_id = ?"
            " union select customer_id from customer_identifiers"
            f" where identifier_value in ({placeholders})",
            [identifier.strip(), *candidates],
        ).fetchall()
        if not match:
            return None
        if len(match) > 1:
            ids = ", ".join(sorted(row[0] for row in match))
            raise WarehouseError(f"'{identifier}' matches several customers: {ids}")
        customer_id = match[0][0]
        profile = con.execute("select * from customer_profile where customer_id = ?", [customer_id])
        columns = [column[0] for column in profile.description]
        types = [str(column[1]) for column in profile.description]
        attributes = dict(zip(columns, profile.fetchone(), strict=True))
        identifiers = con.execute(
            "select identifier_type, identifier_value, first_seen_at, last_seen_at"
            " from customer_identifiers where customer_id = ? order by 1, 2",
            [customer_id],
        ).fetchall()
        segments = _segments(attributes, dict(zip(columns, types, strict=True)))
        audiences, account_audiences = _audience_views(con)
        accounts = _accounts(con, customer_id, account_audiences)
        member_of = [
            name
            for name, view in audiences
            if con.execute(
                f"select count(*) from {_quote(view)} where customer_id = ?", [customer_id]
            ).fetchone()[0]
        ]
        score_history = _score_history(con, customer_id, history)
    return {
        "customer_id": customer_id,
        "identifiers": identifiers,
        "attributes": attributes,
        "segments": segments,
        "audiences": member_of,
        "accounts": accounts,
        "score_history": score_history,
    }


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _segments(attributes: dict, types: dict) -> list[tuple[str, str]]:
    """(attribute, segment) pairs: each text *_cluster value and each true *_segment."""
    out = []
    for name, value in attributes.items():
        if name.endswith("_cluster") and isinstance(value, str) and value:
            out.append((name, value))
        elif name.endswith("_segment") and types.get(name) == "BOOLEAN" and value is True:
            out.append((name, "in segment"))
    return out


def _audience_views(con: duckdb.DuckDBPyConnection) -> tuple[list, list]:
    """(name, view) of the built customer audiences and of the built account audiences."""
    if not has_relation(con, "audience_definitions"):
        return [], []
    rows = con.execute(
        "select audience_name, view_name, target from audience_definitions"
        " where status = 'ok' order by audience_name"
    ).fetchall()
    views = {
        name
        for (name,) in con.execute(
            "select table_name from information_schema.tables"
            " where table_type = 'VIEW' and table_schema = current_schema()"
        ).fetchall()
    }
    customer = [
        (name, view) for name, view, target in rows if target == "customer" and view in views
    ]
    account = [(name, view) for name, view, target in rows if target == "account" and view in views]
    return customer, account


def _accounts(con: duckdb.DuckDBPyConnection, customer_id: str, audiences: list) -> list[dict]:
    if not has_relation(con, "stg_raw__accounts"):
        return []
    rows = con.execute(
        "select distinct accounts.account_id, accounts.account_name"
        " from stg_raw__accounts as accounts inner join customer_identifiers as ids"
        " on ids.identifier_type = 'user_id' and accounts.user_id = ids.identifier_value"
        " where ids.customer_id = ? order by 1",
        [customer_id],
    ).fetchall()
    out = []
    for account_id, account_name in rows:
        member_of = [
            name
            for name, view in audiences
            if con.execute(
                f"select count(*) from {_quote(view)} where account_id = ?", [account_id]
            ).fetchone()[0]
        ]
        out.append({"account_id": account_id, "account_name": account_name, "audiences": member_of})
    return out


def _score_history(con: duckdb.DuckDBPyConnection, customer_id: str, history: int) -> list[tuple]:
    """(as_of, attribute, value) of numeric predictions, the last ``history`` as-of dates."""
    if history <= 0 or not has_relation(con, "predictions"):
        return []
    return con.execute(
        "with mine as (select as_of, attribute, try_cast(value as double) as value"
        " from predictions where customer_id = ? and value_type in ('number', 'integer')),"
        " recent as (select distinct as_of from mine order by as_of desc limit ?)"
        " select mine.as_of, mine.attribute, mine.value from mine"
        " where mine.as_of in (select as_of from recent) order by 1 desc, 2",
        [customer_id, history],
    ).fetchall()


def profile_json(found: dict) -> str:
    """The profile as JSON (dates and timestamps as ISO text, decimals as numbers)."""
    import decimal
    import json

    def plain(value: object) -> object:
        if isinstance(value, decimal.Decimal):
            return float(value)
        if hasattr(value, "isoformat"):
            return value.isoformat()
        return str(value)

    document = {
        "customer_id": found["customer_id"],
        "identifiers": [
            {"type": kind, "value": value, "first_seen_at": first, "last_seen_at": last}
            for kind, value, first, last in found["identifiers"]
        ],
        "attributes": found["attributes"],
        "segments": [{"attribute": name, "segment": seg} for name, seg in found["segments"]],
        "audiences": found["audiences"],
        "accounts": found["accounts"],
        "score_history": [
            {"as_of": as_of, "attribute": attribute, "value": value}
            for as_of, attribute, value in found["score_history"]
        ],
    }
    return json.dumps(document, default=plain, indent=2)


def format_profile(found: dict) -> str:
    lines = [f"customer {found['customer_id']}", "identifiers:"]
    lines += [
        f"  {kind:<13} {value:<40} seen {first:%Y-%m-%d} .. {last:%Y-%m-%d}"
        for kind, value, first, last in found["identifiers"]
    ]
    lines.append("attributes:")
    lines += [
        f"  {name:<28} {value}"
        for name, value in found["attributes"].items()
        if name != "customer_id"
    ]
    segments = found.get("segments", [])
    lines.append("segments:" + ("" if segments else " none"))
    lines += [f"  {name:<28} {segment}" for name, segment in segments]
    audiences = found.get("audiences", [])
    lines.append("audiences: " + (", ".join(audiences) if audiences else "none"))
    for account in found.get("accounts", []):
        member = ", ".join(account["audiences"]) or "none"
        lines.append(
            f"account {account['account_id']} ({account['account_name'] or '-'}):"
            f" account audiences: {member}"
        )
    history = found.get("score_history", [])
    if history:
        dates = sorted({as_of for as_of, _, _ in history}, reverse=True)
        table: dict[str, dict] = {}
        for as_of, attribute, value in history:
            table.setdefault(attribute, {})[as_of] = value
        lines.append("score history:")
        lines.append(f"  {'attribute':<28} " + " ".join(f"{d:%Y-%m-%d}" for d in dates))
        for attribute, values in table.items():
            cells = " ".join(
                f"{'-' if values.get(d) is None else format(values[d], '.4g'):>10}" for d in dates
            )
            lines.append(f"  {attribute:<28} {cells}")
    else:
        lines.append("score history: none")
    return "\n".join(lines)
