"""Read-only questions to a built pcdp warehouse: run summary, statuses, profile lookup."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb


class WarehouseError(Exception):
    """The warehouse file is missing or has not been built by `pcdp run`."""


def connect(db: Path) -> duckdb.DuckDBPyConnection:
    if not Path(db).is_file():
        raise WarehouseError(f"{db}: no such warehouse file (run `pcdp run` first)")
    try:
        return duckdb.connect(str(db), read_only=True)
    except duckdb.Error as error:
        raise WarehouseError(f"{db}: cannot open the warehouse: {error}") from error


def _has_table(con: duckdb.DuckDBPyConnection, name: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables where table_name = ?", [name]
    ).fetchone()
    return bool(found and found[0])


def run_summary(db: Path) -> str:
    """What the last run built: customers, identifiers, guarded identifiers, quarantine."""
    with connect(db) as con:
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
    return "\n".join(lines)


def status_table(db: Path) -> str:
    """Each model instance's lifecycle status, one line each."""
    with connect(db) as con:
        if not _has_table(con, "model_instances"):
            return "no model instances recorded yet"
        rows = con.execute(
            "select instance_id, type, status, last_run_at, last_error"
            " from model_instances order by instance_id"
        ).fetchall()
    if not rows:
        return "no model instances configured"
    lines = [f"{'instance':<28} {'type':<20} {'status':<10} last run"]
    for instance_id, kind, status, last_run_at, last_error in rows:
        line = f"{instance_id:<28} {kind:<20} {status:<10} {last_run_at or '-'}"
        if last_error:
            line += f"\n    error: {last_error}"
        lines.append(line)
    return "\n".join(lines)


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


def find_customer(db: Path, identifier: str) -> dict | None:
    """One customer's profile, identifiers included, found by any of their identifiers."""
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
        attributes = dict(zip(columns, profile.fetchone(), strict=True))
        identifiers = con.execute(
            "select identifier_type, identifier_value, first_seen_at, last_seen_at"
            " from customer_identifiers where customer_id = ? order by 1, 2",
            [customer_id],
        ).fetchall()
    return {"customer_id": customer_id, "attributes": attributes, "identifiers": identifiers}


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
    return "\n".join(lines)
