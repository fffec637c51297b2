"""``generate``: write a synthetic raw directory plus the ground truth it planted."""

from __future__ import annotations

import datetime as dt
import json
import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from . import bad_rows
from ._text import iso_dates, join
from .activity import build_static, simulate_chunk
from .catalog import COMPANY_A, COMPANY_B, build_catalog
from .identity import SHARED_EMAIL, SHARED_USER, build_chunk_ids, kiosk_anonymous_id
from .population import DAY, NEVER, PARAMS, Window, draw_population

EVENTS_PER_PERSON_2Y = 50
RAW_FILES = (
    "identifies.parquet",
    "orders.csv",
    "products.csv",
    "content.csv",
    "accounts.csv",
    "fx_rates.csv",
)


def _epoch_day(d: dt.date) -> int:
    return (d - dt.date(1970, 1, 1)).days


def write_parquet(table: pa.Table, path: Path) -> None:
    # store_schema=False: dictionary-encoded columns read back as plain strings.
    # Only low-cardinality columns are dictionary-encoded in the file.
    dict_cols = [f.name for f in table.schema if pa.types.is_dictionary(f.type)]
    pq.write_table(
        table,
        path,
        store_schema=False,
        compression="snappy",
        use_dictionary=dict_cols or False,
        write_statistics=False,
    )


def write_csv(table: pa.Table, path: Path) -> None:
    pacsv.write_csv(table, path, write_options=pacsv.WriteOptions(quoting_style="needed"))


def _fx_rates(rng: np.random.Generator, n_days: int) -> np.ndarray:
    """(3, n_days) USD per unit of USD, EUR, GBP; a log random walk, rounded as published."""
    steps = rng.normal(0.0, 0.004, size=(2, n_days))
    walk = np.cumsum(steps, axis=1)
    walk -= walk.mean(axis=1, keepdims=True)
    rates = np.ones((3, n_days))
    rates[1] = np.round(1.08 * np.exp(walk[0]), 6)
    rates[2] = np.round(1.27 * np.exp(walk[1]), 6)
    return rates


def generate(
    out: Path,
    customers: int,
    days: int = 730,
    seed: int = 42,
    as_of: dt.date = dt.date(2025, 12, 31),
    future_days: int = 365,
    progress: Callable[[str], None] | None = None,
    *,
    rows_per_part: int = 2_000_000,
) -> dict:
    """Write a synthetic raw directory to ``out`` and its ground truth to ``out/_truth``.

    The history is [as_of - days, as_of] (whole days, UTC); the truth's future is
    (as_of, as_of + future_days]. Same arguments give byte-identical files.
    """
    if customers < 1:
        raise ValueError("customers must be at least 1")
    if days < 1 or future_days < 1:
        raise ValueError("days and future_days must be at least 1")
    say = progress or (lambda _msg: None)
    out = Path(out)
    truth_dir = out / "_truth"
    events_dir = out / "events"
    for d in (truth_dir, events_dir):
        if d.exists():
            shutil.rmtree(d)
    for name in RAW_FILES:
        (out / name).unlink(missing_ok=True)
    events_dir.mkdir(parents=True)
    truth_dir.mkdir(parents=True)

    start_day = _epoch_day(as_of) - days
    cut_day = _epoch_day(as_of) + 1
    win = Window(
        start=start_day * DAY,
        t_cut=cut_day * DAY,
        h_end=(cut_day + future_days) * DAY,
        start_day=start_day,
    )
    rng = np.random.default_rng([seed, 0])
    cat = build_catalog(np.random.default_rng([seed, 1]))
    st = build_static(cat)
    fx = _fx_rates(np.random.default_rng([seed, 2]), days + future_days + 3)
    say(f"drawing {customers} people")
    pop = draw_population(rng, customers, win, cat)

    per_person = max(1.0, EVENTS_PER_PERSON_2Y * days / 730)
    chunk_size = max(1000, int(rows_per_part / per_person))
    n_chunks = -(-customers // chunk_size)
    n_bad = bad_rows.bad_count(customers)
    bad_truth: list[tuple[str, str, str]] = []
    counts: dict[str, int] = {}

    identifies, identifies_t, orders, orders_t = [], [], [], []
    truth_ids, future_orders = [], []
    past_orders = np.zeros(customers, dtype=np.int64)
    past_orders_all = np.zeros(customers, dtype=np.int64)
    past_revenue = np.zeros(customers)
    user_used = np.zeros(customers, dtype=bool)
    fe_writer: pq.ParquetWriter | None = None
    n_future_events = 0
    n_events = 0
    for c in range(n_chunks):
        lo, hi = c * chunk_size, min(customers, (c + 1) * chunk_size)
        ids = build_chunk_ids(pop, lo, hi, seed)
        res = simulate_chunk(
            pop, cat, st, ids, win, fx, np.random.default_rng([seed, 7, c]), c, seed
        )
        events = res.events
        if c == n_chunks - 1:
            # the last rows move to one more, small part, with the bad rows mixed in
            n_tail = min(events.num_rows, 5000)
            tail = events.slice(events.num_rows - n_tail)
            events = events.slice(0, events.num_rows - n_tail)
            plain = tail.cast(pa.schema([(f.name, _plain(f.type)) for f in tail.schema]))
            tail, planted = bad_rows.plant_events(
                np.random.default_rng([seed, 8]), plain, n_bad, seed, win.t_cut
            )
            bad_truth += [("events", r, k) for r, k in planted]
        write_parquet(events, events_dir / f"part-{c:05d}.parquet")
        n_events += events.num_rows
        if c == n_chunks - 1:
            write_parquet(tail, events_dir / f"part-{c + 1:05d}.parquet")
            n_events += tail.num_rows
        if fe_writer is None:
            fe_writer = pq.ParquetWriter(
                truth_dir / "future_events.parquet", res.future_events.schema, store_schema=False
            )
        fe_writer.write_table(res.future_events)
        n_future_events += res.future_events.num_rows
        identifies.append(res.identifies)
        identifies_t.append(res.identifies_t)
        orders.append(res.orders)
        orders_t.append(res.orders_t)
        truth_ids.append(res.truth_identifiers)
        future_orders.append(res.future_orders)
        past_orders[lo:hi] = res.past_orders
        past_orders_all[lo:hi] = res.past_orders_all
        past_revenue[lo:hi] = res.past_revenue
        user_used[lo:hi] = res.user_used
        say(f"events part {c + 1}/{n_chunks}: {events.num_rows} rows")
    assert fe_writer is not None
    fe_writer.close()
    counts["events"] = n_events

    say("writing identifies, orders and reference data")
    ident = pa.concat_tables(identifies)
    ident = ident.take(pa.array(np.argsort(np.concatenate(identifies_t), kind="stable")))
    ident, planted = bad_rows.plant_identifies(np.random.default_rng([seed, 9]), ident, n_bad)
    bad_truth += [("identifies", r, k) for r, k in planted]
    write_parquet(ident, out / "identifies.parquet")
    counts["identifies"] = ident.num_rows

    ords = pa.concat_tables(orders)
    ords = ords.take(pa.array(np.argsort(np.concatenate(orders_t), kind="stable")))
    ords, planted = bad_rows.plant_orders(np.random.default_rng([seed, 10]), ords, n_bad, seed)
    bad_truth += [("orders", r, k) for r, k in planted]
    write_csv(ords, out / "orders.csv")
    counts["orders"] = ords.num_rows

    products = pa.table(
        {
            "product_id": cat.product_ids,
            "product_name": cat.product_names,
            "category": [cat.subcats[s] for s in cat.product_sub],
        }
    )
    write_csv(products, out / "products.csv")
    counts["products"] = products.num_rows
    content = pa.table(
        {
            "page_url": cat.page_urls,
            "title": cat.page_titles,
            "description": cat.page_descriptions,
            "keywords": cat.page_keywords,
        }
    )
    write_csv(content, out / "content.csv")
    counts["content"] = content.num_rows

    accounts = _accounts(np.random.default_rng([seed, 3]), pop, user_used)
    write_csv(accounts, out / "accounts.csv")
    counts["accounts"] = accounts.num_rows

    fx_days = np.arange(start_day, cut_day)
    fx_tab = pa.concat_tables(
        [
            pa.table(
                {
                    "currency": pa.array([code] * fx_days.shape[0]),
                    "rate_date": iso_dates(fx_days),
                    "rate_to_reporting": pa.array(fx[k, fx_days - start_day + 1]),
                }
            )
            for k, code in ((1, "EUR"), (2, "GBP"))
        ]
    )
    write_csv(fx_tab, out / "fx_rates.csv")
    counts["fx_rates"] = fx_tab.num_rows

    # ---- truth --------------------------------------------------------------------------------
    say("writing ground truth")
    tids = pa.concat_tables(truth_ids)
    write_parquet(tids, truth_dir / "identifiers.parquet")
    shared = _shared(pop, seed)
    write_parquet(shared, truth_dir / "shared_identifiers.parquet")
    bad_tab = pa.table(
        {
            "dataset": [b[0] for b in bad_truth],
            "reason": [b[1] for b in bad_truth],
            "key": [b[2] for b in bad_truth],
        },
        schema=pa.schema([("dataset", pa.string()), ("reason", pa.string()), ("key", pa.string())]),
    )
    write_csv(bad_tab, truth_dir / "bad_rows.csv")
    write_parquet(
        _people(pop, cat, win, past_orders, past_orders_all, past_revenue),
        truth_dir / "people.parquet",
    )
    fo = pa.concat_tables(future_orders)
    write_parquet(fo, truth_dir / "future_orders.parquet")

    bad_counts: dict[str, dict[str, int]] = {}
    for ds, reason, _ in bad_truth:
        bad_counts.setdefault(ds, {}).setdefault(reason, 0)
        bad_counts[ds][reason] += 1
    manifest = {
        "as_of": as_of.isoformat(),
        "seed": seed,
        "customers": customers,
        "days": days,
        "future_days": future_days,
        "history_start": dt.date.fromordinal(
            dt.date(1970, 1, 1).toordinal() + start_day
        ).isoformat(),
        "reporting_currency": "USD",
        "row_counts": counts,
        "bad_rows": bad_counts,
        "bad_rows_total": len(bad_truth),
        "truth_counts": {
            "identifiers": tids.num_rows,
            "shared_identifiers": shared.num_rows,
            "future_orders": fo.num_rows,
            "future_events": n_future_events,
            "people": customers,
        },
        "parameters": dict(PARAMS),
        "event_parts": n_chunks + 1,
    }
    (truth_dir / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    say("done")
    return manifest


def _plain(t: pa.DataType) -> pa.DataType:
    return t.value_type if pa.types.is_dictionary(t) else t


def _accounts(rng: np.random.Generator, pop, user_used: np.ndarray) -> pa.Table:
    users = np.flatnonzero(pop.registered & user_used)
    members = np.sort(users[rng.random(users.shape[0]) < 0.2])
    n_acc = int(np.clip(round(members.shape[0] / 25), 1, 300)) if members.shape[0] else 0
    names = []
    for i in range(n_acc):
        a = COMPANY_A[i % len(COMPANY_A)]
        b = COMPANY_B[(i // len(COMPANY_A) + i) % len(COMPANY_B)]
        names.append(f"{a} {b}" + ("" if i < len(COMPANY_A) * len(COMPANY_B) else f" {i}"))
    names = [names[i] for i in rng.permutation(n_acc)] if n_acc else []
    size = rng.gamma(1.2, 1.0, n_acc) if n_acc else np.zeros(0)
    acc = rng.choice(n_acc, size=members.shape[0], p=size / size.sum()) if n_acc else members
    from ._text import int_strings

    user = join("u_", int_strings(pop.user_num[members]))
    user = (
        pa.array(
            np.where(
                rng.random(members.shape[0]) < 0.03,
                join(" ", user, " ").to_numpy(zero_copy_only=False),
                user.to_numpy(zero_copy_only=False),
            )
        )
        if members.shape[0]
        else pa.array([], pa.string())
    )
    acc_ids = [f"acc_{1001 + i}" for i in range(n_acc)]
    return pa.table(
        {
            "user_id": user,
            "account_id": pa.array([acc_ids[i] for i in acc], pa.string()),
            "account_name": pa.array([names[i] for i in acc], pa.string()),
        }
    )


def _shared(pop, seed: int) -> pa.Table:
    rows = []
    if pop.kiosk_people.shape[0]:
        rows.append(("anonymous_id", kiosk_anonymous_id(seed), pop.kiosk_people.shape[0]))
    if pop.null_email_people.shape[0]:
        rows.append(("email", SHARED_EMAIL, pop.null_email_people.shape[0]))
    if pop.qa_people.shape[0]:
        rows.append(("user_id", SHARED_USER, pop.qa_people.shape[0]))
    return pa.table(
        {
            "identifier_type": pa.array([r[0] for r in rows], pa.string()),
            "identifier_value": pa.array([r[1] for r in rows], pa.string()),
            "people": pa.array([r[2] for r in rows], pa.int64()),
        }
    )


def _people(pop, cat, win: Window, past_orders, past_orders_all, past_revenue) -> pa.Table:
    ts = pa.timestamp("s", tz="UTC")
    alive = pop.death_t >= win.t_cut
    return pa.table(
        {
            "person_id": pa.array(np.arange(pop.n, dtype=np.int64)),
            "acquired_at": pa.array(pop.acq, type=ts),
            "is_registered": pa.array(pop.registered),
            "favourite_category": pa.array(cat.subcats).take(pa.array(pop.fav_sub)),
            "favourite_top_category": pa.array(cat.tops).take(pa.array(pop.fav_top)),
            "favourite_topic": pa.array(cat.topics).take(pa.array(pop.fav_topic)),
            "alive_at_as_of": pa.array(alive),
            "dropped_out_at": pa.array(pop.death_t, type=ts, mask=pop.death_t >= NEVER),
            "lambda": pa.array(pop.lam),
            "p": pa.array(pop.p),
            "mean_spend": pa.array(pop.spend_mean),
            "engagement": pa.array(pop.engagement),
            "app_engaged": pa.array(pop.app_engaged),
            "plan_upgraded_at": pa.array(pop.upg_t, type=ts, mask=pop.upg_t >= NEVER),
            "country": pa.array(["US", "EU", "UK"]).take(pa.array(pop.country.astype(np.int64))),
            "n_devices": pa.array(pop.n_dev.astype(np.int64)),
            "past_orders": pa.array(past_orders),
            "past_orders_all": pa.array(past_orders_all),
            "past_revenue_usd": pa.array(np.round(past_revenue, 6)),
        }
    )
