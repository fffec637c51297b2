"""Benchmark of the action-prediction core (pcdp.action) at 1 M customers x ~40 features.

Simulates a training frame of N customers at several monthly cutoffs (the label depends on a
few features plus noise), trains on the bounded sample (``max_training_rows``), then scores N
rows of features at the latest as-of, streamed as RecordBatches generated on the fly. Prints
wall times, quality figures and the peak RSS of the process.

    .venv/bin/python bench/bench_action.py [--customers 1000000] [--cutoffs 3] [--threads N]

Targets: train <= 60 s, score 1 M rows <= 20 s, peak RSS <= 3 GB.
"""

from __future__ import annotations

import argparse
import datetime as dt
import resource
import sys
import time
from collections.abc import Iterator

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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--cutoffs", type=int, default=3)
    ap.add_argument("--batch-rows", type=int, default=100_000)
    ap.add_argument("--max-training-rows", type=int, default=200_000)
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

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
