"""Benchmark bring-your-own-model scoring: a packaged model scored over 1 M customers.

    .venv/bin/python bench/bench_byom.py [--customers 1000000] [--batch-size 100000]
        [--model hgb|logistic] [--format pickle|skops]

Builds a synthetic `customer_features` table in an in-memory DuckDB (12 features shaped like
the real mart, with nulls and a DECIMAL column), packages a typical model (median imputer +
standard scaler + HistGradientBoostingClassifier with 100 trees, or a logistic regression)
trained on 20,000 rows, and scores every customer through the byom runner exactly as a run
does (digest check, load, column mapping with one expression, batches, JSON values). Prints
the figures and whether scoring met the 30 s target; exits 1 when it did not.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from pcdp.byom import package_model
from pcdp.instances import InstanceSpec
from pcdp.runtime import RunContext
from pcdp.types import byom, validation

TARGET_SECONDS = 30.0
FEATURES = [
    "recency_days",
    "frequency",
    "monetary",
    "tenure_days",
    "days_since_last_event",
    "events_30d",
    "events_90d",
    "active_days_30d",
    "active_days_90d",
    "mean_gap_days",
    "distinct_categories_90d",
    "page_events_30d",
]


def synthetic_features(con: duckdb.DuckDBPyConnection, customers: int) -> None:
    con.execute(
        f"""
        create table customer_features as
        select
            'cus_' || lpad(i::varchar, 16, '0') as customer_id,
            case when hash(i, 1) % 4 = 0 then null else hash(i, 2) % 400 end::bigint
                as recency_days,
            (hash(i, 3) % 8)::bigint as frequency,
            ((hash(i, 3) % 8) * ((hash(i, 4) % 9000) / 100.0))::decimal(38, 4) as monetary,
            (hash(i, 5) % 700)::bigint as tenure_days,
            (hash(i, 6) % 200)::bigint as days_since_last_event,
            (hash(i, 7) % 30)::bigint as events_30d,
            (hash(i, 7) % 30 + hash(i, 8) % 60)::bigint as events_90d,
            (hash(i, 9) % 15)::bigint as active_days_30d,
            (hash(i, 9) % 15 + hash(i, 10) % 30)::bigint as active_days_90d,
            case when hash(i, 11) % 3 = 0 then null else (hash(i, 12) % 6000) / 100.0 end
                as mean_gap_days,
            (hash(i, 13) % 6)::bigint as distinct_categories_90d,
            (hash(i, 14) % 40)::bigint as page_events_30d
        from range({int(customers)}) as t(i)
        """
    )


def train(con: duckdb.DuckDBPyConnection, kind: str):
    sample = "using sample 20000 rows (reservoir, 7)"
    frame = con.execute(f"select {', '.join(FEATURES)} from customer_features {sample}").df()
    frame = frame.astype(float)
    # A churn-like label: quiet lately and few orders.
    score = frame["days_since_last_event"].fillna(200) / 50 - frame["frequency"] / 2
    label = (score + np.random.default_rng(0).normal(0, 1, len(frame))) > 1
    preprocess = SimpleImputer(strategy="median").fit(frame)
    transforms = StandardScaler().fit(preprocess.transform(frame))
    x = transforms.transform(preprocess.transform(frame))
    if kind == "hgb":
        model = HistGradientBoostingClassifier(max_iter=100, random_state=0).fit(x, label)
    else:
        model = LogisticRegression(max_iter=1000).fit(x, label)
    return preprocess, transforms, model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--customers", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=100_000)
    parser.add_argument("--model", choices=("hgb", "logistic"), default="hgb")
    parser.add_argument("--format", choices=("pickle", "skops"), default="pickle")
    args = parser.parse_args()

    con = duckdb.connect()
    con.execute("set threads = 1")
    started = time.perf_counter()
    synthetic_features(con, args.customers)
    features_seconds = time.perf_counter() - started

    started = time.perf_counter()
    preprocess, transforms, model = train(con, args.model)
    train_seconds = time.perf_counter() - started
    with tempfile.TemporaryDirectory() as folder:
        info = package_model(
            Path(folder) / "model.zip",
            model=model,
            columns=FEATURES,
            preprocess=preprocess,
            transforms=transforms,
            output={"name": "churn_probability", "type": "number"},
            format=args.format,
        )
        params = validation.validate_byom(
            "churn",
            {
                "package": str(info.path),
                "sha256": info.sha256,
                "output": {"name": "churn_probability", "type": "number"},
                "columns": {"monetary": "ln(1 + monetary)"},
                "batch_size": args.batch_size,
                "trusted_types": ["numpy.dtype"],
            },
        )
        spec = InstanceSpec("churn", "byom", "ready", params)
        context = RunContext(con, None, {"customer_features": "customer_features"})
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        started = time.perf_counter()
        result = byom.run(spec, context)
        score_seconds = time.perf_counter() - started
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss

    rows = result.predictions.num_rows
    print(f"customers:            {args.customers:,} ({len(FEATURES)} features, DuckDB 1 thread)")
    print(f"model:                {args.model} ({args.format}), batch size {args.batch_size:,}")
    print(f"features table:       {features_seconds:6.1f} s")
    print(f"training (20k rows):  {train_seconds:6.1f} s")
    print(f"scoring:              {score_seconds:6.1f} s  ({rows / score_seconds:,.0f} rows/s)")
    print(f"predictions:          {rows:,} rows, {result.predictions.nbytes / 2**20:,.0f} MiB")
    print(
        f"peak RSS:             {rss_before / 1024:,.0f} MiB before, {rss_after / 1024:,.0f} after"
    )
    print(f"mean score:           {result.metrics['value_mean']:.4f}")
    met = score_seconds <= TARGET_SECONDS and rows == args.customers
    print(f"target <= {TARGET_SECONDS:.0f} s:        {'met' if met else 'MISSED'}")
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
