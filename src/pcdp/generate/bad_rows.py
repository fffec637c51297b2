"""Planted bad rows: extra rows that the contract sends to quarantine, with their reasons.

Each bad row is a copy of a good row with exactly one defect, so it carries no information
the truth depends on. Rows are inserted at random positions; a duplicate always comes after
the row it copies (the later copy is the bad one).
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ._text import hex_ids, mix64, seed_key

EVENT_REASONS = (
    "missing_required:event_id",
    "unparseable:occurred_at",
    "duplicate_key:event_id",
    "future_timestamp:occurred_at",
    "no_identifier",
)
ORDER_REASONS = (
    "missing_required:order_id",
    "negative_amount",
    "no_fx_rate",
    "unparseable:amount",
    "duplicate_key:order_id",
)
IDENTIFY_REASONS = ("missing_required:observed_at",)
BAD_TIMESTAMPS = ["not-a-date", "2025-13-45T25:61:00Z", "yesterday", "31/31/2025 10:00"]
BAD_AMOUNTS = ["twelve", "12.34.56", "$#!", "1,2,3"]


def bad_count(customers: int) -> int:
    """Bad rows per reason: 5 for tiny data sets, up to 10 for large ones."""
    return int(min(10, 4 + len(str(max(1, customers)))))


def _set(table: pa.Table, name: str, values: list | pa.Array) -> pa.Table:
    i = table.schema.get_field_index(name)
    arr = values if isinstance(values, pa.Array) else pa.array(values, type=table.schema[i].type)
    return table.set_column(i, name, arr.cast(table.schema[i].type))


def _new_ids(prefix: str, seed: int, stream: int, n: int) -> pa.Array:
    return hex_ids(prefix, mix64(np.uint64(seed_key(seed, stream)) + np.arange(n, dtype=np.uint64)))


def insert_rows(
    rng: np.random.Generator, good: pa.Table, bad: pa.Table, min_pos: np.ndarray
) -> pa.Table:
    """Insert ``bad`` rows into ``good`` at random positions no earlier than ``min_pos``."""
    n = good.num_rows
    pos = min_pos + (rng.random(bad.num_rows) * (n + 1 - min_pos)).astype(np.int64)
    keys = np.concatenate([np.arange(n, dtype=np.float64), pos - 0.5])
    order = np.argsort(keys, kind="stable")
    both = pa.concat_tables([good, bad.select(good.column_names).cast(good.schema)])
    return both.take(pa.array(order))


def plant_events(
    rng: np.random.Generator, good: pa.Table, n_bad: int, seed: int, as_of_ts: int
) -> tuple[pa.Table, list[tuple[str, str]]]:
    """Return the part with bad rows inserted, and (reason, key) per bad row."""
    names = good.column("event_name").to_numpy(zero_copy_only=False)
    src_ok = np.flatnonzero(names != "order_completed")
    n = n_bad if src_ok.shape[0] >= n_bad * len(EVENT_REASONS) else 0
    if n == 0:
        return good, []
    picks = rng.choice(src_ok, size=n * len(EVENT_REASONS), replace=False)
    pieces: list[pa.Table] = []
    min_pos: list[np.ndarray] = []
    truth: list[tuple[str, str]] = []
    new_ids = _new_ids("evx_", seed, 11, n * len(EVENT_REASONS))
    for r, reason in enumerate(EVENT_REASONS):
        src = np.sort(picks[r * n : (r + 1) * n])
        t = good.take(pa.array(src))
        ids = new_ids.slice(r * n, n)
        if reason == "duplicate_key:event_id":
            keys = t.column("event_id").to_pylist()
            min_pos.append(src + 1)
        else:
            t = _set(t, "event_id", ids)
            min_pos.append(np.zeros(n, dtype=np.int64))
            keys = ids.to_pylist()
            if reason == "missing_required:event_id":
                t = _set(t, "event_id", [""] * n)
                keys = [""] * n
            elif reason == "unparseable:occurred_at":
                t = _set(t, "occurred_at", [BAD_TIMESTAMPS[i % 4] for i in range(n)])
            elif reason == "future_timestamp:occurred_at":
                fut = [
                    "2099-01-01T00:00:00Z" if i % 2 == 0 else _iso(as_of_ts + (30 + i) * 86_400)
                    for i in range(n)
                ]
                t = _set(t, "occurred_at", fut)
            elif reason == "no_identifier":
                empty = ["" if i % 2 == 0 else None for i in range(n)]
                for col in ("anonymous_id", "user_id", "email"):
                    t = _set(t, col, empty)
        pieces.append(t)
        truth += [(reason, k) for k in keys]
    bad = pa.concat_tables(pieces)
    return insert_rows(rng, good, bad, np.concatenate(min_pos)), truth


def plant_orders(
    rng: np.random.Generator, good: pa.Table, n_bad: int, seed: int
) -> tuple[pa.Table, list[tuple[str, str]]]:
    n = n_bad if good.num_rows >= n_bad * len(ORDER_REASONS) else 0
    if n == 0:
        return good, []
    picks = rng.choice(good.num_rows, size=n * len(ORDER_REASONS), replace=False)
    new_ids = _new_ids("ox_", seed, 12, n * len(ORDER_REASONS))
    pieces, min_pos, truth = [], [], []
    for r, reason in enumerate(ORDER_REASONS):
        src = np.sort(picks[r * n : (r + 1) * n])
        t = good.take(pa.array(src))
        ids = new_ids.slice(r * n, n)
        if reason == "duplicate_key:order_id":
            keys = t.column("order_id").to_pylist()
            min_pos.append(src + 1)
        else:
            t = _set(t, "order_id", ids)
            keys = ids.to_pylist()
            min_pos.append(np.zeros(n, dtype=np.int64))
            if reason == "missing_required:order_id":
                t = _set(t, "order_id", [""] * n)
                keys = [""] * n
            elif reason == "negative_amount":
                t = _set(t, "amount", pc.binary_join_element_wise("-", t.column("amount"), ""))
                t = _set(t, "status", ["completed"] * n)
            elif reason == "no_fx_rate":
                t = _set(t, "currency", ["XYZ"] * n)
            elif reason == "unparseable:amount":
                t = _set(t, "amount", [BAD_AMOUNTS[i % 4] for i in range(n)])
        pieces.append(t)
        truth += [(reason, k) for k in keys]
    bad = pa.concat_tables(pieces)
    return insert_rows(rng, good, bad, np.concatenate(min_pos)), truth


def plant_identifies(
    rng: np.random.Generator, good: pa.Table, n_bad: int
) -> tuple[pa.Table, list[tuple[str, str]]]:
    n = n_bad if good.num_rows >= n_bad else 0
    if n == 0:
        return good, []
    src = np.sort(rng.choice(good.num_rows, size=n, replace=False))
    t = good.take(pa.array(src))
    t = _set(t, "observed_at", ["" if i % 2 == 0 else None for i in range(n)])
    return insert_rows(rng, good, t, np.zeros(n, dtype=np.int64)), [(IDENTIFY_REASONS[0], "")] * n


def _iso(ts: int) -> str:
    from ._text import iso_timestamps

    return iso_timestamps(np.array([ts]))[0].as_py()
