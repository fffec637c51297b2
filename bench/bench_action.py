"""Benchmark of the action-prediction core (pcdp.action) at 1 M customers x ~40 features.

Simulates a training frame of N customers at several monthly cutoffs (the label depends on a
few features plus noise), trains on the bounded sample (``max_training_rows``), then scores N
rows of features at the latest as-of, streamed as RecordBatches generated on the fly. Prints
wall times, quality figures and the peak RSS of the process.

    .venv/bin/python bench/bench_action.py [--customers 1000000] [--cutoffs 3] [--threads N]

Targets: train <= 60 s, score 1 M rows <= 20 s, peak RSS <= 3 GB.

``--path sql`` times instead the warehouse path of a nightly run (pcdp.types.action_prediction)
on a synthetic warehouse built in DuckDB: ``customer_feature_snapshots`` (6 cutoffs 30 days
apart x N customers x 40 numeric features driven by a latent engagement), ``customer_features``
(N rows), ``customer_events`` (order_completed / page_view events over 10 months, the order rate
driven by the same engagement) and ``customer_orders``. Stages: the event-name and window
checks, the training frame in SQL (eligibility, labels, bounded class-balanced sample) loaded
into Arrow, training, scoring every customer streamed as record batches, and the long
predictions table. The warehouse is a DuckDB file built once by a child process (reused by
later runs, ``--db``), so the peak RSS printed is the action path's own, DuckDB included
(``--memory-limit`` [2GB], 2 threads).

    .venv/bin/python bench/bench_action.py --path sql [--customers 1000000]
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pyarrow as pa

from pcdp.action import parse_action_config, score_batches, train_action_model

N_SIGNAL = 8
N_NOISE = 28
START = dt.datetime(2025, 1, 1)


def feature_names() -> list[str]:
    return (
        ["recency_days", "frequency", "monetary", "events_30d"]
        + [f"signal_{j}" for j in range(N_SIGNAL)]
        + [f"noise_{j}" for j in range(N_NOISE)]
    )


def simulate_block(
    ids: pa.Array, engagement: np.ndarray, affinity: np.ndarray, seed: int
) -> tuple[dict[str, pa.Array], np.ndarray]:
    """Feature columns (float32, some nulls) and labels for one block of customers."""
    rng = np.random.default_rng(seed)
    n = len(engagement)
    cols: dict[str, np.ndarray] = {}
    frequency = rng.poisson(np.exp(0.3 + 0.6 * engagement)).astype(np.float32)
    recency = rng.exponential(40 * np.exp(-0.5 * engagement)).astype(np.float32).round()
    cols["recency_days"] = recency
    cols["frequency"] = frequency
    cols["monetary"] = frequency * rng.lognormal(3.0, 0.6, n).astype(np.float32)
    cols["events_30d"] = rng.poisson(np.exp(1.0 + 0.4 * engagement)).astype(np.float32)
    logit = -2.6 + 0.35 * np.log1p(frequency) - 0.006 * recency
    for j in range(N_SIGNAL):
        v = (affinity[:, j % affinity.shape[1]] + rng.normal(size=n)).astype(np.float32)
        cols[f"signal_{j}"] = v
        logit += (0.5 / (1 + j)) * v
    logit += 0.6 * cols["signal_1"] * (cols["signal_2"] > 0)
    for j in range(N_NOISE):
        cols[f"noise_{j}"] = rng.standard_normal(n, dtype=np.float32)
    label = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(np.int8)
    arrays = {"customer_id": ids}
    for name, v in cols.items():
        mask = rng.random(n) < 0.05 if name.startswith(("monetary", "signal_0")) else None
        arrays[name] = pa.array(v, mask=mask)
    return arrays, label


def population(n: int, seed: int) -> tuple[pa.Array, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ids = pa.array(np.char.mod("c%07d", np.arange(n)).astype(object), pa.string())
    return ids, rng.normal(size=n), rng.normal(size=(n, 4))


def training_frame(n: int, cutoffs: int, seed: int) -> pa.Table:
    ids, engagement, affinity = population(n, seed)
    parts = []
    for k in range(cutoffs):
        arrays, label = simulate_block(ids, engagement, affinity, seed + 1 + k)
        cutoff = pa.array(np.full(n, np.datetime64(START + dt.timedelta(days=30 * k), "us")))
        arrays = {
            "customer_id": arrays.pop("customer_id"),
            "cutoff_at": cutoff,
            "label": pa.array(label),
            **arrays,
        }
        parts.append(pa.table(arrays))
    return pa.concat_tables(parts)


def scoring_batches(n: int, seed: int, batch_rows: int, clock: list[float]) -> Iterator:
    """Latest-as-of feature batches, generated lazily; generation time is added to clock[0]."""
    ids, engagement, affinity = population(n, seed)
    for start in range(0, n, batch_rows):
        t = time.perf_counter()
        stop = min(n, start + batch_rows)
        arrays, _ = simulate_block(
            ids.slice(start, stop - start),
            engagement[start:stop],
            affinity[start:stop],
            seed + 1000 + start,
        )
        batch = pa.RecordBatch.from_pydict(arrays)
        clock[0] += time.perf_counter() - t
        yield batch


def peak_rss_gb() -> float:
    kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # kilobytes on Linux
    return kb / 1024**2 if sys.platform != "darwin" else kb / 1024**3


SQL_FEATURES = 40
AS_OF = dt.date(2025, 12, 31)


def build_sql_warehouse(con, n: int, seed: int) -> None:
    """Synthetic warehouse relations of the nightly run (see the module docstring)."""
    cut = "timestamp '2026-01-01'"
    # uniform(0, 1) and normal draws from a seeded hash: deterministic at any thread count
    con.execute(
        "create or replace macro u(a, b, c) as"
        f" ((hash(a, b, c, {seed}) % 1000003) + 0.5) / 1000003.0"
    )
    con.execute(
        "create or replace macro z(a, b, c) as"
        " sqrt(-2 * ln(u(a, b, c))) * cos(2 * pi() * u(a, b, c + 7777))"
    )
    con.execute(
        f"""create or replace table people as
        select i, 'c' || lpad(i::varchar, 7, '0') as customer_id, i + 1 as customer_key,
            z(i, 0, 0) as e,
            {cut} - to_days(400) + to_seconds((u(i, 0, 1) * 150 * 86400)::bigint) as first_seen_at
        from range({n}) as r (i)"""
    )
    # 10 months of activity before the as-of cutoff: an order with a probability driven by the
    # engagement, and a few page views; event times uniform within each month
    con.execute(
        f"""create or replace table customer_events as
        with months as (
            select p.i, p.customer_id, p.customer_key, p.e, m.m,
                {cut} - to_days(30 * (m.m + 1)) as month_start
            from people as p cross join range(10) as m (m)
        ),
        orders as (
            select i, customer_id, customer_key, m, month_start, 'order_completed' as event_name,
                0 as j
            from months
            where u(i, m, 2) < 1 / (1 + exp(-(-2.6 + 0.9 * e + 0.3 * z(i, m, 3))))
        ),
        views as (
            select i, customer_id, customer_key, m, month_start, 'page_view' as event_name, j
            from months, range((4 * u(i, m, 4) * exp(0.5 * e))::int) as v (j)
        ),
        all_events as (select * from orders union all select * from views)
        select customer_id, customer_key,
            'ev_' || i || '_' || m || '_' || event_name || j as event_id,
            event_name,
            month_start + to_seconds((u(i, m, 5 + j) * 30 * 86400)::bigint) as occurred_at,
            null::varchar as product_id, null::varchar as product_category,
            null::varchar as page_url, null::decimal(18, 2) as revenue,
            null::varchar as properties
        from all_events"""
    )
    con.execute(
        """create or replace table customer_orders as
        select customer_id, customer_key, event_id as order_id, occurred_at as ordered_at,
            'completed' as status, true as is_completed, 25.0::decimal(18, 2) as amount,
            25.0::decimal(18, 2) as amount_reporting
        from customer_events where event_name = 'order_completed'"""
    )
    cols = [
        "(1 + 40 * u(p.i, k.k, 10) * exp(-0.5 * p.e))::bigint as recency_days",
        "(u(p.i, k.k, 11) * 3 * exp(0.6 * p.e))::bigint as frequency",
        "(u(p.i, k.k, 12) * 200 * exp(0.6 * p.e))::decimal(38, 4) as monetary",
        "(u(p.i, k.k, 13) * 8 * exp(0.4 * p.e))::bigint as events_30d",
    ]
    cols += [f"p.e + z(p.i, k.k, {20 + j}) as signal_{j}" for j in range(8)]
    cols += [f"z(p.i, k.k, {40 + j}) as noise_{j}" for j in range(SQL_FEATURES - 12)]
    select = ", ".join(cols)
    con.execute(
        f"""create or replace table customer_feature_snapshots as
        select p.customer_id, {cut} - to_days(30 * k.k) as cutoff_at, {select}
        from people as p cross join range(1, 7) as k (k)
        where p.first_seen_at < {cut} - to_days(30 * k.k)"""
    )
    con.execute(
        f"""create or replace table customer_features as
        select p.customer_id, {select}
        from people as p cross join (select 0 as k) as k"""
    )
    con.execute("create or replace table customers as select customer_id, customer_key from people")


def main_sql(args) -> None:
    import duckdb

    from pcdp.types import action_prediction as ap_type

    db = Path(
        args.db or f"{tempfile.gettempdir()}/pcdp_bench_action_{args.customers}_{args.seed}.duckdb"
    )
    if args.build_only:
        db.unlink(missing_ok=True)
        con = duckdb.connect(str(db))
        con.execute("set memory_limit = '2GB'")
        con.execute("set threads = 2")
        build_sql_warehouse(con, args.customers, args.seed)
        con.close()
        return
    if not db.exists():
        # built by a child process, so that this process's peak RSS is the action path's own
        t0 = time.perf_counter()
        argv = [sys.executable, __file__, "--path", "sql", "--build-only", "--db", str(db)]
        argv += ["--customers", str(args.customers), "--seed", str(args.seed)]
        subprocess.run(argv, check=True)  # noqa: S603 - this script, our own arguments
        print(f"built {db} in {time.perf_counter() - t0:.1f} s (kept for the next run)")
    con = duckdb.connect(str(db), read_only=True)
    con.execute(f"set memory_limit = '{args.memory_limit}'")
    con.execute("set threads = 2")
    n_events, n_snap = con.execute(
        "select (select count(*) from customer_events),"
        " (select count(*) from customer_feature_snapshots)"
    ).fetchall()[0]
    print(
        f"synthetic warehouse: {args.customers:,} customers, {n_snap:,} snapshot rows, "
        f"{n_events:,} events"
    )
    config = parse_action_config(
        {
            "id": "bench",
            "positive": "order_completed",
            "max_training_rows": args.max_training_rows,
        }
    )
    clock = {}
    t0 = time.perf_counter()
    ap_type.check_event_names(config, con, "customer_events")
    cutoffs = ap_type.usable_cutoffs(
        config, con, "customer_feature_snapshots", "customer_events", "customer_orders", AS_OF
    )
    features = ap_type.feature_columns(con, "customer_feature_snapshots", "customer_features")
    clock["checks"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    frame, counts = ap_type.training_frame(
        config,
        con,
        snapshots="customer_feature_snapshots",
        events="customer_events",
        orders="customer_orders",
        customers="customers",
        cutoffs=cutoffs,
        features=features,
        rows_table="bench_rows",
    )
    clock["training frame (SQL -> Arrow)"] = time.perf_counter() - t0
    print(
        f"training frame: {frame.num_rows:,} rows loaded of "
        f"{int(counts['training_rows_available'] + counts['validation_rows_available']):,} "
        f"labelled ({frame.nbytes / 1e6:.0f} MB); RSS {peak_rss_gb():.2f} GB"
    )
    extra = ap_type.outcome_feature_columns(config)
    t0 = time.perf_counter()
    result = train_action_model(
        frame, (*extra, *features), config, label_is_did=True, n_threads=args.threads or 1
    )
    clock["train"] = time.perf_counter() - t0
    del frame
    t0 = time.perf_counter()
    scores = ap_type.score_customers(
        config,
        result,
        con,
        features_relation="customer_features",
        events="customer_events",
        orders="customer_orders",
        customers="customers",
        as_of=AS_OF,
    )
    clock["score (SQL stream + model)"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    predictions, (scored, segment, _) = ap_type.predictions_table(con, "bench", scores)
    clock["predictions table"] = time.perf_counter() - t0
    for stage, seconds in clock.items():
        print(f"  {stage:32s} {seconds:7.1f} s")
    m = result.metrics
    print(
        f"model {result.chosen_model}, roc_auc {m['roc_auc']:.3f}, ece "
        f"{m['expected_calibration_error']:.4f}, base rate {m['base_rate']:.3f}; scored "
        f"{scored:,}, segment {segment:,}; {predictions.num_rows:,} prediction rows"
    )
    rss = peak_rss_gb()
    print(f"peak RSS: {rss:.2f} GB")
    t_train = clock["training frame (SQL -> Arrow)"] + clock["train"]
    t_score = clock["score (SQL stream + model)"] + clock["predictions table"]
    ok = t_train <= 60 and t_score <= 20 and rss <= 3
    print(
        f"frame + train {t_train:.1f} s, score + publish {t_score:.1f} s; targets "
        "(train <= 60 s, score <= 20 s, RSS <= 3 GB):",
        "met" if ok else "NOT met",
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--path", choices=("core", "sql"), default="core")
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--cutoffs", type=int, default=3)
    ap.add_argument("--batch-rows", type=int, default=100_000)
    ap.add_argument("--max-training-rows", type=int, default=100_000)  # the instance default
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--db", default=None, help="--path sql: the synthetic warehouse file")
    ap.add_argument("--memory-limit", default="2GB", help="--path sql: DuckDB memory_limit")
    ap.add_argument("--build-only", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.path == "sql":
        main_sql(args)
        return

    t0 = time.perf_counter()
    frame = training_frame(args.customers, args.cutoffs, args.seed)
    t_sim = time.perf_counter() - t0
    print(
        f"simulated training frame: {frame.num_rows:,} rows x {len(feature_names())} "
        f"features in {t_sim:.1f} s ({frame.nbytes / 1e9:.2f} GB); RSS {peak_rss_gb():.2f} GB"
    )

    config = parse_action_config(
        {
            "id": "bench",
            "type": "action_prediction",
            "positive": "order_completed",
            "max_training_rows": args.max_training_rows,
            "seed": 42,
        }
    )
    t0 = time.perf_counter()
    result = train_action_model(frame, feature_names(), config, n_threads=args.threads)
    t_train = time.perf_counter() - t0
    del frame
    m = result.metrics
    print(
        f"train: {t_train:.1f} s  (model {result.chosen_model}, "
        f"calibration {result.calibration_method}, {int(m['training_rows']):,} training rows "
        f"of {int(m['training_rows_available']):,}, {int(m['validation_rows']):,} validation)"
    )
    for key in (
        "roc_auc",
        "pr_auc",
        "log_loss",
        "brier",
        "expected_calibration_error",
        "base_rate",
        "lift_top_decile",
        "precision_target",
        "precision_at_threshold",
        "recall_at_threshold",
        "segment_share_at_threshold",
        "threshold",
        "pr_auc_hist_gradient_boosting",
        "pr_auc_logistic_regression",
    ):
        print(f"  {key:32s} {m[key]:.4f}")
    print("  top features:", ", ".join(f"{k} {v:.3f}" for k, v in result.top_features[:5]))

    clock = [0.0]
    t0 = time.perf_counter()
    rows = segment = 0
    for out in score_batches(
        result,
        scoring_batches(args.customers, args.seed, args.batch_rows, clock),
        n_threads=args.threads,
    ):
        rows += out.num_rows
        segment += int(np.count_nonzero(out.column("segment").to_numpy(zero_copy_only=False)))
    t_score = time.perf_counter() - t0 - clock[0]
    print(
        f"score: {t_score:.1f} s for {rows:,} rows (+{clock[0]:.1f} s generating them); "
        f"segment {segment:,} ({segment / max(rows, 1):.1%})"
    )
    rss = peak_rss_gb()
    print(f"peak RSS: {rss:.2f} GB")
    ok = t_train <= 60 and t_score <= 20 and rss <= 3
    print("targets (train <= 60 s, score <= 20 s, RSS <= 3 GB):", "met" if ok else "NOT met")


if __name__ == "__main__":
    main()
