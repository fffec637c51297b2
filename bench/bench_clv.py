"""Benchmark pcdp.clv: SQL summary + BG/NBD + Gamma-Gamma fit + predictions on simulated data.

    .venv/bin/python bench/bench_clv.py [--customers 1000000] [--seed 0] [--no-lifetimes]
    .venv/bin/python bench/bench_clv.py --instance [--customers 1000000] [--model auto]

Simulates a CDNOW-like transaction log (weekly BG/NBD r=0.243, alpha=4.414, a=0.793, b=2.426;
Gamma-Gamma p=6.25, q=3.74, gamma=15.44; first purchases over 12 weeks, 39 weeks observed),
summarises it in DuckDB, fits both models and scores every customer. Then, if the `lifetimes`
package can be installed into a throwaway venv (``python3.11 -m venv /tmp/lt && /tmp/lt/bin/pip
install lifetimes``), fits lifetimes' BetaGeoFitter / GammaGammaFitter on the same summary and
compares times and parameters (3 decimals). Prints figures only; asserts nothing about time.

``--instance`` times a whole pcltv instance run instead (``pcdp.types.pcltv.run``: SQL
summaries at the as-of and the three backtest cutoffs, every candidate's fits, the ML candidate
with ``--model auto``, backtest metrics and the long predictions table) on a simulated two-year
warehouse: first purchases over the first year (weekly BG/NBD r=0.5, alpha=6, a=0.7, b=3;
Gamma-Gamma p=5, q=4, gamma=40), 5 % refunded orders and 20 % prospects without an order.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb
import numpy as np

from pcdp.clv import (
    BetaGeoModel,
    GammaGammaModel,
    customer_lifetime_value,
    rfm_summary,
    simulate_transactions,
)

# subprocess only runs the interpreter of the throwaway lifetimes venv with fixed arguments
# ruff: noqa: S603

TRUE_BG = {"r": 0.243, "alpha": 4.414, "a": 0.793, "b": 2.426}
TRUE_GG = {"p": 6.25, "q": 3.74, "gamma": 15.44}

LIFETIMES_SCRIPT = r"""
import json, sys, time, warnings
import numpy as np
warnings.filterwarnings("ignore")
from lifetimes import BetaGeoFitter, GammaGammaFitter
d = np.load(sys.argv[1])
f, r, t, m = d["frequency"], d["recency"], d["T"], d["monetary_value"]
t0 = time.perf_counter()
bgf = BetaGeoFitter(penalizer_coef=0.0).fit(f, r, t)
t1 = time.perf_counter()
pos = f > 0
ggf = GammaGammaFitter(penalizer_coef=0.0).fit(f[pos], m[pos])
t2 = time.perf_counter()
print(json.dumps({
    "bg": {k: float(v) for k, v in bgf.params_.items()},
    "gg": {k: float(v) for k, v in ggf.params_.items()},
    "bg_seconds": t1 - t0, "gg_seconds": t2 - t1,
}))
"""


def _timed(label: str, fn, timings: dict):
    t0 = time.perf_counter()
    out = fn()
    timings[label] = time.perf_counter() - t0
    print(f"  {label:<38s} {timings[label]:8.2f} s", flush=True)
    return out


def _lifetimes_python(venv: Path) -> tuple[Path | None, str]:
    py = venv / "bin" / "python"
    if not py.exists():
        base = shutil.which("python3.11") or sys.executable
        r = subprocess.run([base, "-m", "venv", str(venv)], capture_output=True, text=True)
        if r.returncode != 0:
            return None, f"could not create venv {venv}: {r.stderr.strip()[-300:]}"
    probe = subprocess.run([str(py), "-c", "import lifetimes"], capture_output=True, text=True)
    if probe.returncode != 0:
        inst = subprocess.run(
            [str(py), "-m", "pip", "install", "-q", "lifetimes"], capture_output=True, text=True
        )
        if inst.returncode != 0:
            return None, f"pip install lifetimes failed: {inst.stderr.strip()[-500:]}"
        probe = subprocess.run([str(py), "-c", "import lifetimes"], capture_output=True, text=True)
        if probe.returncode != 0:
            return None, f"lifetimes installed but does not import: {probe.stderr.strip()[-500:]}"
    return py, "ok"


def bench_instance(n: int, model: str, seed: int) -> int:
    """Time one pcltv instance run on a simulated warehouse of ``n`` buyers (+ 20 % prospects)."""
    import datetime as dt

    from pcdp.instances import InstanceSpec
    from pcdp.runtime import RunContext
    from pcdp.types import pcltv, validation

    start, as_of = dt.date(2024, 1, 1), dt.date(2025, 12, 31)
    timings: dict[str, float] = {}
    print(f"pcltv instance benchmark: {n:,} buyers, model {model} (cpu count {os.cpu_count()})")
    tx = _timed(
        "simulate transactions",
        lambda: simulate_transactions(
            n, 0.5, 6.0, 0.7, 3.0, 5.0, 4.0, 40.0, start=start, acquisition_days=365,
            observation_days=(as_of - start).days + 1, seed=seed,
        ),
        timings,
    )  # fmt: skip
    print(f"  {'transactions':<38s} {tx.num_rows:,}")
    con = duckdb.connect()
    con.execute("set threads = 2")
    con.register("sim", tx)
    con.execute(
        """
        create table customer_orders as
        select 'c' || cast(customer_id as varchar) as customer_id,
            'o' || cast(row_number() over () as varchar) as order_id, occurred_at as ordered_at,
            if(hash(customer_id, occurred_at) % 20 = 0, 'refunded', 'completed') as status,
            status = 'completed' as is_completed,
            cast(round(amount, 2) as decimal(18, 4)) as amount_reporting
        from sim
        """
    )
    con.execute(
        f"""
        create table customer_features as
        select customer_id, date_diff('day', min(ordered_at), date '{as_of}' + 1) as tenure_days
        from customer_orders group by customer_id
        union all
        select 'p' || cast(i as varchar), 1 + i % 700 from range({n // 5}) t(i)
        """
    )
    con.execute("create view customer_feature_snapshots as select * from customer_features")
    names = ("customer_orders", "customer_features", "customer_feature_snapshots")
    context = RunContext(con, as_of, {name: name for name in names})
    spec = InstanceSpec(
        "pcltv", "pcltv", "ready", validation.validate_pcltv("pcltv", {"model": model})
    )
    result = _timed(
        "pcltv instance run (3, 6, 12 months)", lambda: pcltv.run(spec, context), timings
    )
    m = result.metrics
    print(f"  {'predictions':<38s} {result.predictions.num_rows:,}")
    print(f"  model choice: {m['model_choice']} ({m['model_choice_reason']})")
    for h in (3, 6, 12):
        keys = ("gini", "baseline_gini", "aggregate_ratio", "mae")
        print(
            f"  backtest {h:>2d}m: "
            + ", ".join(f"{k}={m.get(f'backtest_{h}m_{k}', float('nan')):.4f}" for k in keys)
        )
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--customers", type=int, default=1_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-lifetimes", action="store_true", help="skip the lifetimes comparison")
    ap.add_argument("--lifetimes-venv", default="/tmp/lt")  # noqa: S108 - the throwaway venv of the brief
    ap.add_argument("--lifetimes-timeout", type=float, default=1800.0)
    ap.add_argument("--instance", action="store_true", help="time a whole pcltv instance run")
    ap.add_argument("--model", default="auto", choices=("auto", "btyd", "ml"))
    args = ap.parse_args(argv)
    if args.instance:
        return bench_instance(args.customers, args.model, args.seed)

    n = args.customers
    timings: dict[str, float] = {}
    print(f"pcdp.clv benchmark: {n:,} customers (cpu count {os.cpu_count()})")
    tx = _timed(
        "simulate transactions",
        lambda: simulate_transactions(n, **TRUE_BG, **TRUE_GG, seed=args.seed),
        timings,
    )
    print(f"  {'transactions':<38s} {tx.num_rows:,}")

    con = duckdb.connect()
    con.register("bench_tx", tx)
    summary = _timed(
        "SQL summary (DuckDB, days -> weeks)",
        lambda: rfm_summary(
            con,
            "bench_tx",
            "customer_id",
            "occurred_at",
            "amount",
            observation_end="2024-09-30",
            time_unit="D",
            freq_unit_days=7,
        ),
        timings,
    )
    f, r, t, m = (summary[c].to_numpy() for c in ("frequency", "recency", "T", "monetary_value"))

    bg = _timed("BG/NBD fit", lambda: BetaGeoModel().fit(f, r, t), timings)
    gg = _timed("Gamma-Gamma fit", lambda: GammaGammaModel().fit(f, m), timings)

    def predict():
        out = {}
        for weeks in (13.04, 26.09, 52.18):  # 3, 6, 12 months
            out[weeks] = customer_lifetime_value(bg, gg, f, r, t, m, weeks)
        out["p_alive"] = bg.probability_alive(f, r, t)
        return out

    preds = _timed("predictions (3 CLV horizons + P(alive))", predict, timings)
    fit_total = timings["BG/NBD fit"] + timings["Gamma-Gamma fit"]
    print(f"  {'BG/NBD + Gamma-Gamma fit (target <= 15 s)':<38s} {fit_total:8.2f} s")
    end_to_end = sum(v for k, v in timings.items() if k != "simulate transactions")
    print(f"  {'summary + fits + predictions':<38s} {end_to_end:8.2f} s")
    print(
        "  BG/NBD params:      "
        + ", ".join(f"{k}={v:.4f}" for k, v in bg.params_.items())
        + f"  (simulated with {TRUE_BG}; n_iter={bg.n_iter_})"
    )
    print(
        "  Gamma-Gamma params: "
        + ", ".join(f"{k}={v:.4f}" for k, v in gg.params_.items())
        + f"  (simulated with {TRUE_GG}; n_iter={gg.n_iter_})"
    )
    print(
        f"  mean 12-month CLV: {float(np.mean(preds[52.18])):.2f}; "
        f"mean P(alive): {float(np.mean(preds['p_alive'])):.3f}"
    )

    if args.no_lifetimes:
        print("lifetimes comparison: skipped (--no-lifetimes)")
        return 0
    py, why = _lifetimes_python(Path(args.lifetimes_venv))
    if py is None:
        print(f"lifetimes comparison: not possible: {why}")
        return 0
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "summary.npz"
        np.savez(data, frequency=f, recency=r, T=t, monetary_value=m)
        script = Path(tmp) / "fit_lifetimes.py"
        script.write_text(LIFETIMES_SCRIPT)
        print(f"lifetimes comparison ({py}):", flush=True)
        try:
            run = subprocess.run(
                [str(py), str(script), str(data)],
                capture_output=True,
                text=True,
                timeout=args.lifetimes_timeout,
            )
        except subprocess.TimeoutExpired:
            print(f"  lifetimes did not finish within {args.lifetimes_timeout:.0f} s")
            return 0
    if run.returncode != 0:
        print(f"  lifetimes failed: {run.stderr.strip()[-800:]}")
        return 0
    res = json.loads(run.stdout.strip().splitlines()[-1])
    print(f"  {'lifetimes BetaGeoFitter fit':<38s} {res['bg_seconds']:8.2f} s")
    print(f"  {'lifetimes GammaGammaFitter fit':<38s} {res['gg_seconds']:8.2f} s")
    print(f"  speed-up (fits): {(res['bg_seconds'] + res['gg_seconds']) / fit_total:.1f}x")
    lt_gg = {"p": res["gg"]["p"], "q": res["gg"]["q"], "gamma": res["gg"]["v"]}
    for name, ours, theirs in (
        ("BG/NBD", bg.params_, res["bg"]),
        ("Gamma-Gamma", gg.params_, lt_gg),
    ):
        for k, v in ours.items():
            same = round(v, 3) == round(theirs[k], 3)
            print(
                f"  {name:<12s} {k:<6s} pcdp={v:.5f} lifetimes={theirs[k]:.5f} "
                f"{'equal to 3 decimals' if same else 'DIFFERENT at 3 decimals'}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
