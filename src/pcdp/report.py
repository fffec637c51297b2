"""A self-contained HTML report of a built warehouse (`pcdp report`).

One page, ``index.html``, with no network references: model instance statuses and run history;
per action prediction instance its metrics, ROC and precision-recall curves, calibration plot,
cumulative gains and lift, the precision-level trade-off (precision, recall and segment size
against the threshold) and top features; per pcLTV instance predicted vs actual value by decile
and the backtest over time; RFM segment sizes and transition matrix; top interest labels;
identity-graph statistics (identifiers per customer, guarded identifiers); quarantine by reason.

Charts are PNG images drawn with matplotlib (Agg, no display) and embedded as ``data:`` URIs,
each with a title, axis labels and an ``alt`` text; every text is escaped. A missing table or
curve gives a sentence instead of its chart. The same warehouse gives the same bytes.
"""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
import re
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import duckdb

from pcdp import warehouse

COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
TOP_LABELS = 10
RUN_HISTORY_ROWS = 50
CHART_SIZE = (6.4, 4.2)  # inches at CHART_DPI
CHART_DPI = 90

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1250px; }
h1 { border-bottom: 2px solid #444; }
h2 { margin-top: 2em; border-bottom: 1px solid #aaa; }
nav ul { columns: 3; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.charts { display: flex; flex-wrap: wrap; gap: 12px; align-items: flex-start; }
figure.chart { margin: 0.5em 0; }
figure.chart img { display: block; max-width: 100%; border: 1px solid #eee; }
p.missing { color: #777; font-style: italic; }
"""


# ------------------------------------------------------------------------------ formatting
def _fmt(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if not math.isfinite(value):
            return str(value)
        if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-3):
            return f"{value:.4g}"
        return f"{value:,.4f}".rstrip("0").rstrip(".")
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ", timespec="seconds")
    return str(value)


def _table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{escape(str(h))}</th>" for h in headers)
    body = []
    for row in rows:
        cells = []
        for value in row:
            numeric = isinstance(value, int | float) and not isinstance(value, bool)
            cls = ' class="num"' if numeric else ""
            cells.append(f"<td{cls}>{escape(_fmt(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _missing(sentence: str) -> str:
    return f'<p class="missing">{escape(sentence)}</p>'


def _finite(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _short(label: str, width: int = 28) -> str:
    return label if len(label) <= width else label[: width - 1] + "…"


# ---------------------------------------------------------------------------------- charts
def _axes(title: str, x_label: str, y_label: str, size: tuple[float, float] = CHART_SIZE):
    """A new figure with one titled, labelled axes (matplotlib's object API: no pyplot state,
    no display backend)."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=size, dpi=CHART_DPI, layout="constrained")
    axes = figure.add_subplot()
    axes.set_title(title, fontsize=11, fontweight="bold")
    axes.set_xlabel(x_label)
    axes.set_ylabel(y_label)
    axes.grid(True, color="#e6e6e6", linewidth=0.8)
    axes.set_axisbelow(True)
    return figure, axes


def _image(figure: Any, title: str) -> str:
    """The figure as an embedded PNG (no metadata, so the same chart gives the same bytes)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", metadata={"Software": None})
    data = base64.b64encode(buffer.getvalue()).decode("ascii")
    return (
        f'<figure class="chart"><img alt="{escape(title)}" title="{escape(title)}"'
        f' src="data:image/png;base64,{data}"></figure>'
    )


def line_chart(
    title: str,
    x_label: str,
    y_label: str,
    series: Sequence[tuple[str, Sequence[tuple[Any, float]]]],
    *,
    reference: tuple[str, Sequence[tuple[float, float]]] | None = None,
    horizontal: tuple[str, Any] | None = None,
    vertical: tuple[str, Any] | None = None,
    markers: bool = False,
    unit_square: bool = False,
) -> str:
    """A line chart of named series of (x, y) points; ``reference`` is a dashed grey line
    (a diagonal), ``horizontal`` and ``vertical`` labelled lines at a y or x value."""
    clean = [
        (name, sorted((x, y) for x, y in points if x is not None and _finite(y)))
        for name, points in series
    ]
    if not any(points for _, points in clean):
        return _missing(f"{title}: no data points.")
    figure, axes = _axes(title, x_label, y_label)
    for i, (name, points) in enumerate(clean):
        if points:
            axes.plot(
                [x for x, _ in points],
                [y for _, y in points],
                label=name,
                color=COLORS[i % len(COLORS)],
                linewidth=2,
                marker="o" if markers or len(points) == 1 else None,
                markersize=4,
            )
    if reference is not None:
        name, points = reference
        axes.plot([x for x, _ in points], [y for _, y in points], "--", color="#888", label=name)
    if horizontal is not None and _finite(horizontal[1]):
        axes.axhline(horizontal[1], color="#888", linestyle="--", label=horizontal[0])
    if vertical is not None and _finite(vertical[1]):
        axes.axvline(vertical[1], color="#444", linestyle=":", label=vertical[0])
    if unit_square:
        axes.set_xlim(0, 1)
        axes.set_ylim(0, 1.02)
    xs = {x for _, points in clean for x, _ in points}
    if all(isinstance(x, dt.date) for x in xs):
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        locator = AutoDateLocator(maxticks=8)
        axes.xaxis.set_major_locator(locator)
        axes.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        if len(xs) == 1:  # one run: a week either side, not matplotlib's default of years
            (only,) = xs
            axes.set_xlim(only - dt.timedelta(days=7), only + dt.timedelta(days=7))
    if len(clean) > 1 or any(line is not None for line in (reference, horizontal, vertical)):
        axes.legend(fontsize=8)
    return _image(figure, title)


def bar_chart(
    title: str,
    x_label: str,
    y_label: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
    *,
    horizontal: bool = False,
    log_scale: bool = False,
) -> str:
    """A grouped bar chart: one group per category, one bar per named series (horizontal bars
    list the categories top to bottom in the order given)."""
    values = [v for _, vals in series for v in vals if _finite(v)]
    if not categories or not values:
        return _missing(f"{title}: no data.")
    height = max(CHART_SIZE[1], 1.2 + 0.28 * len(categories)) if horizontal else CHART_SIZE[1]
    figure, axes = _axes(title, x_label, y_label, (CHART_SIZE[0], height))
    positions = range(len(categories))
    width = 0.8 / max(len(series), 1)
    for s, (name, vals) in enumerate(series):
        offsets = [p - 0.4 + width * (s + 0.5) for p in positions]
        heights = [float(v) if _finite(v) else 0.0 for v in vals]
        draw = axes.barh if horizontal else axes.bar
        draw(offsets, heights, width, label=name, color=COLORS[s % len(COLORS)])
    labels = [_short(str(c)) for c in categories]
    if horizontal:
        axes.set_yticks(list(positions), labels, fontsize=8)
        axes.invert_yaxis()
        if log_scale:
            axes.set_xscale("log")
    else:
        rotate = len(categories) * max(len(c) for c in labels) > 60
        axes.set_xticks(
            list(positions),
            labels,
            rotation=45 if rotate else 0,
            ha="right" if rotate else "center",
        )
        if log_scale:
            axes.set_yscale("log")
    if len(series) > 1:
        axes.legend(fontsize=8)
    return _image(figure, title)


def heatmap(
    title: str,
    x_label: str,
    y_label: str,
    rows: Sequence[str],
    columns: Sequence[str],
    counts: dict[tuple[str, str], int],
) -> str:
    """A count matrix (rows x columns) as a heat map with the count written in each cell."""
    if not rows or not columns or not counts:
        return _missing(f"{title}: no data.")
    size = (max(CHART_SIZE[0], 2.5 + 0.6 * len(columns)), max(CHART_SIZE[1], 2 + 0.4 * len(rows)))
    figure, axes = _axes(title, x_label, y_label, size)
    axes.grid(False)
    matrix = [[counts.get((r, c), 0) for c in columns] for r in rows]
    image = axes.imshow(matrix, cmap="Blues", aspect="auto")
    figure.colorbar(image, ax=axes, label="customers")
    axes.set_xticks(range(len(columns)), [_short(c, 18) for c in columns], rotation=45, ha="right")
    axes.set_yticks(range(len(rows)), [_short(r, 18) for r in rows])
    peak = max(max(line) for line in matrix) or 1
    for i, line in enumerate(matrix):
        for j, count in enumerate(line):
            if count:
                color = "white" if count > peak / 2 else "black"
                axes.text(j, i, f"{count:,}", ha="center", va="center", fontsize=7, color=color)
    return _image(figure, title)


def _charts(*items: str) -> str:
    return '<div class="charts">' + "".join(items) + "</div>"


# ------------------------------------------------------------------------------- warehouse
def _columns(con: duckdb.DuckDBPyConnection, table: str) -> dict[str, str]:
    return dict(
        con.execute(
            "select column_name, data_type from information_schema.columns"
            " where table_name = ? and table_schema = current_schema()",
            [table],
        ).fetchall()
    )


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _latest_curves(con: duckdb.DuckDBPyConnection, instance_id: str) -> dict[str, list[dict]]:
    """The curves of the instance's latest run that has curves: name -> points in order."""
    if not warehouse.has_relation(con, "model_curves"):
        return {}
    rows = con.execute(
        "with latest as (select run_id from model_curves where instance_id = ?"
        " order by as_of desc, run_id desc limit 1)"
        " select curve, point, value from model_curves"
        " where instance_id = ? and run_id in (select run_id from latest)"
        " order by curve, point",
        [instance_id, instance_id],
    ).fetchall()
    curves: dict[str, list[dict]] = {}
    for curve, _, value in rows:
        try:
            parsed = json.loads(value) if isinstance(value, str) else value
        except json.JSONDecodeError:
            continue
        if isinstance(parsed, dict):
            curves.setdefault(curve, []).append(parsed)
    return curves


def _latest_metrics(
    con: duckdb.DuckDBPyConnection, instance_id: str
) -> tuple[tuple[Any, Any] | None, list[tuple[str, Any]]]:
    """((run_id, as_of), [(metric, number or text)]) of the instance's latest run with metrics."""
    if not warehouse.has_relation(con, "model_metrics"):
        return None, []
    run = con.execute(
        "select run_id, as_of from model_metrics where instance_id = ?"
        " order by as_of desc, run_id desc limit 1",
        [instance_id],
    ).fetchone()
    if run is None:
        return None, []
    rows = con.execute(
        "select metric, value, value_text from model_metrics"
        " where instance_id = ? and run_id = ? order by metric",
        [instance_id, run[0]],
    ).fetchall()
    return run, [(metric, value if value is not None else text) for metric, value, text in rows]


# -------------------------------------------------------------------------------- sections
def _instances_section(con: duckdb.DuckDBPyConnection) -> tuple[str, list[tuple[str, str]]]:
    html = ['<h2 id="instances">Model instances</h2>']
    instances: list[tuple[str, str]] = []
    if not warehouse.has_relation(con, "model_instances"):
        html.append(_missing("The warehouse has no model_instances table."))
    else:
        rows = con.execute(
            "select instance_id, type, status, last_run_at, last_error"
            " from model_instances order by instance_id"
        ).fetchall()
        instances = [(r[0], r[1]) for r in rows]
        html.append(
            _table(["instance", "type", "status", "last run at", "last error"], rows)
            if rows
            else _missing("No model instances are configured.")
        )
    html.append(f"<h3>Run history (latest {RUN_HISTORY_ROWS} instance runs)</h3>")
    if not warehouse.has_relation(con, "model_runs"):
        html.append(_missing("The warehouse has no model_runs table."))
    else:
        runs = con.execute(
            "select run_id, instance_id, as_of, started_at, finished_at, status, rows_scored,"
            " error from model_runs order by started_at desc nulls last, instance_id"
            f" limit {RUN_HISTORY_ROWS}"
        ).fetchall()
        headers = ["run", "instance", "as of", "started", "finished", "status", "rows", "error"]
        html.append(_table(headers, runs) if runs else _missing("No runs recorded."))
    return "".join(html), instances


def _metrics_table(run: tuple[Any, Any] | None, metrics: list[tuple[str, Any]]) -> str:
    if run is None:
        return _missing("No metrics recorded.")
    return (
        f"<details><summary>All {len(metrics)} metrics of the latest run"
        f" ({escape(str(run[0]))}, as of {escape(str(run[1]))})</summary>"
        + _table(["metric", "value"], metrics)
        + "</details>"
    )


def _action_charts(
    con: duckdb.DuckDBPyConnection, instance_id: str, metrics: dict[str, Any]
) -> str:
    curves = _latest_curves(con, instance_id)
    points = curves.get("precision_curve")
    if not points:
        return _missing(f"No precision curve recorded for {instance_id}.")

    def pairs(x_key: str, y_key: str, start: tuple[float, float] | None = None) -> list:
        found = [(p[x_key], p[y_key]) for p in points if x_key in p and y_key in p]
        return ([start] if start and found else []) + found

    diagonal = ("random", [(0.0, 0.0), (1.0, 1.0)])
    auc = metrics.get("roc_auc")
    charts = [
        line_chart(
            f"{instance_id}: ROC curve" + (f" (AUC {auc:.3f})" if _finite(auc) else ""),
            "false positive rate",
            "true positive rate (recall)",
            [("model", pairs("false_positive_rate", "recall", (0.0, 0.0)))],
            reference=diagonal,
            unit_square=True,
        ),
    ]
    base = metrics.get("base_rate")
    pr_auc = metrics.get("pr_auc")
    charts.append(
        line_chart(
            f"{instance_id}: precision-recall curve"
            + (f" (AP {pr_auc:.3f})" if _finite(pr_auc) else ""),
            "recall",
            "precision",
            [("model", pairs("recall", "precision"))],
            horizontal=("base rate", base),
            unit_square=True,
        )
    )
    calibration = curves.get("calibration_curve") or []
    charts.append(
        line_chart(
            f"{instance_id}: calibration (10 equal-size score bins)",
            "mean predicted probability",
            "observed rate",
            [("model", [(p.get("predicted_mean"), p.get("observed_rate")) for p in calibration])],
            reference=("perfectly calibrated", [(0.0, 0.0), (1.0, 1.0)]),
            markers=True,
            unit_square=True,
        )
        if calibration
        else _missing(f"No calibration curve recorded for {instance_id}.")
    )
    charts.append(
        line_chart(
            f"{instance_id}: cumulative gains",
            "share of customers targeted (highest scores first)",
            "share of positives captured",
            [("model", pairs("segment_share", "recall", (0.0, 0.0)))],
            reference=diagonal,
            unit_square=True,
        )
    )
    charts.append(
        line_chart(
            f"{instance_id}: lift",
            "share of customers targeted (highest scores first)",
            "lift over the base rate",
            [("model", pairs("segment_share", "lift"))],
            horizontal=("no lift", 1.0),
        )
    )
    charts.append(
        line_chart(
            f"{instance_id}: precision-level trade-off",
            "score threshold",
            "rate / share of customers",
            [
                ("precision", pairs("threshold", "precision")),
                ("recall", pairs("threshold", "recall")),
                ("segment size (share)", pairs("threshold", "segment_share")),
            ],
            horizontal=("precision target", metrics.get("precision_target")),
            vertical=("chosen threshold", metrics.get("threshold")),
        )
    )
    features = sorted(
        (
            (name.removeprefix("feature_importance."), value)
            for name, value in metrics.items()
            if name.startswith("feature_importance.") and _finite(value)
        ),
        key=lambda item: (-item[1], item[0]),
    )
    charts.append(
        bar_chart(
            f"{instance_id}: top features",
            "permutation importance (drop in average precision)",
            "feature",
            [name for name, _ in features],
            [("importance", [value for _, value in features])],
            horizontal=True,
        )
        if features
        else _missing(f"No feature importances recorded for {instance_id}.")
    )
    return _charts(*charts)


HORIZON = re.compile(
    r"^(?:backtest_(?P<backtest>\d+m)_aggregate_ratio"
    r"|matured_revenue_ratio(?:_(?P<matured>\d+m))?)$"
)


def _horizon_order(label: str) -> tuple[str, int]:
    """'backtest 3m' before 'backtest 12m'; 'matured elapsed' last among the matured."""
    kind, _, horizon = label.partition(" ")
    return kind, int(horizon[:-1]) if horizon[:-1].isdigit() else 10**6


def _pcltv_charts(con: duckdb.DuckDBPyConnection, instance_id: str) -> str:
    curves = _latest_curves(con, instance_id)
    names = sorted(
        (c for c in curves if c.startswith("decile_calibration")),
        key=lambda c: (len(c), c),
    )
    charts = []
    for name in names:
        points = sorted(curves[name], key=lambda p: p.get("decile") or 0)
        horizon = name.removeprefix("decile_calibration").strip("_") or "all"
        charts.append(
            bar_chart(
                f"{instance_id}: predicted vs actual by decile ({horizon})",
                "decile of predicted value (1 = lowest)",
                "mean value per customer",
                [str(p.get("decile", i + 1)) for i, p in enumerate(points)],
                [
                    ("predicted", [p.get("predicted_mean") for p in points]),
                    ("actual", [p.get("actual_mean") for p in points]),
                ],
            )
        )
    if not charts:
        charts.append(_missing(f"No decile calibration curves recorded for {instance_id}."))
    over_time: dict[str, list[tuple[Any, float]]] = {}
    if warehouse.has_relation(con, "model_metrics"):
        rows = con.execute(
            "select as_of, metric, value from model_metrics where instance_id = ?"
            " and value is not null and (metric like 'backtest%' or metric like 'matured%')"
            " order by as_of, metric",
            [instance_id],
        ).fetchall()
        for as_of, metric, value in rows:
            match = HORIZON.match(metric)
            if match and match["backtest"]:
                over_time.setdefault(f"backtest {match['backtest']}", []).append((as_of, value))
            elif match:
                label = f"matured {match['matured'] or 'elapsed'}"
                over_time.setdefault(label, []).append((as_of, value))
    charts.append(
        line_chart(
            f"{instance_id}: backtest over time (predicted / actual revenue)",
            "as-of date of the run",
            "predicted / actual",
            sorted(over_time.items(), key=lambda item: _horizon_order(item[0])),
            horizontal=("exact", 1.0),
            markers=True,
        )
    )
    return _charts(*charts)


def _rfm_charts(con: duckdb.DuckDBPyConnection, instance_id: str, profile: dict[str, str]) -> str:
    column = f"{instance_id}_cluster" if f"{instance_id}_cluster" in profile else "rfm_cluster"
    if column not in profile:
        return _missing(f"customer_profile has no RFM segment column for {instance_id}.")
    rows = con.execute(
        f"select coalesce({_quote(column)}, '(no segment)'), count(*) from customer_profile"
        " group by 1 order by 2 desc, 1"
    ).fetchall()
    charts = [
        bar_chart(
            f"{instance_id}: customers per RFM segment",
            "customers",
            "RFM segment",
            [r[0] for r in rows],
            [("customers", [r[1] for r in rows])],
            horizontal=True,
        )
    ]
    if warehouse.has_relation(con, "rfm_segment_transitions"):
        moves = con.execute(
            "select coalesce(previous_segment, '(none)'), coalesce(segment, '(none)'), count(*)"
            " from rfm_segment_transitions where instance_id = ?"
            " and as_of = (select max(as_of) from rfm_segment_transitions where instance_id = ?)"
            " group by 1, 2",
            [instance_id, instance_id],
        ).fetchall()
        order = [r[0] for r in rows if r[0] != "(no segment)"] + ["(none)"]
        known = {m[0] for m in moves} | {m[1] for m in moves}
        labels = [s for s in order if s in known] + sorted(known - set(order))
        charts.append(
            heatmap(
                f"{instance_id}: segment transitions (previous run to latest run)",
                "segment in the latest run",
                "segment in the previous run",
                [s for s in labels if any(m[0] == s for m in moves)],
                [s for s in labels if any(m[1] == s for m in moves)],
                {(m[0], m[1]): m[2] for m in moves},
            )
        )
    return _charts(*charts)


def _interest_charts(
    con: duckdb.DuckDBPyConnection, instance_id: str, profile: dict[str, str]
) -> str:
    if not profile.get(instance_id, "").endswith("[]"):
        return _missing(f"customer_profile has no interest label column for {instance_id}.")
    col = _quote(instance_id)
    rows = con.execute(
        f"select {col}[1] as label, count(*) from customer_profile"
        f" where len({col}) > 0 group by 1 order by 2 desc, 1 limit {TOP_LABELS}"
    ).fetchall()
    if not rows:
        return _missing(f"No customer has a label from {instance_id}.")
    chart = bar_chart(
        f"{instance_id}: top first labels",
        "customers whose strongest label it is",
        "interest label",
        [str(r[0]) for r in rows],
        [("customers", [r[1] for r in rows])],
        horizontal=True,
    )
    return _charts(chart, _table(["first label", "customers"], rows))


def _identity_section(con: duckdb.DuckDBPyConnection) -> str:
    html = ['<h2 id="identity">Identity</h2>']
    if warehouse.has_relation(con, "customers"):
        columns = _columns(con, "customers")
        known = "count(*) filter (where is_known)" if "is_known" in columns else "null"
        total, known_count = con.execute(f"select count(*), {known} from customers").fetchone()
        html.append(_table(["customers", "known customers"], [(total, known_count)]))
    else:
        html.append(_missing("The warehouse has no customers table."))
    charts = []
    if warehouse.has_relation(con, "customer_identifiers"):
        rows = con.execute(
            "select identifier_type, count(*), count(distinct customer_id)"
            " from customer_identifiers group by 1 order by 1"
        ).fetchall()
        html.append("<h3>Identifiers by type</h3>")
        html.append(_table(["identifier type", "identifiers", "customers"], rows))
        sizes = con.execute(
            "with per_customer as (select customer_id, count(*) as size"
            " from customer_identifiers group by 1)"
            " select least(size, 20), count(*) from per_customer group by 1 order by 1"
        ).fetchall()
        charts.append(
            bar_chart(
                "Identity graph: identifiers per customer (component size)",
                "identifiers in the customer's component (20 = 20 or more)",
                "customers (log scale)",
                [str(size) for size, _ in sizes],
                [("customers", [count for _, count in sizes])],
                log_scale=True,
            )
        )
    else:
        html.append(_missing("The warehouse has no customer_identifiers table."))
    html.append("<h3>Guarded identifiers</h3>")
    if warehouse.has_relation(con, "identity_guarded_identifiers"):
        counts = con.execute(
            "select identifier_type, guard_rule, count(*) from identity_guarded_identifiers"
            " group by 1, 2 order by 1, 2"
        ).fetchall()
        if counts:
            html.append(_table(["identifier type", "guard rule", "identifiers"], counts))
            top = con.execute(
                "select identifier_type, identifier_value, degree, guard_rule"
                " from identity_guarded_identifiers order by degree desc, identifier_value"
                " limit 10"
            ).fetchall()
            charts.append(
                bar_chart(
                    "Most connected guarded identifiers",
                    "degree (distinct people linked)",
                    "identifier",
                    [f"{r[0]}: {r[1]}" for r in top],
                    [("degree", [r[2] for r in top])],
                    horizontal=True,
                )
            )
            html.append(_table(["type", "value", "degree", "guard rule"], top))
        else:
            html.append(_missing("No identifier was guarded."))
    else:
        html.append(_missing("The warehouse has no identity_guarded_identifiers table."))
    return "".join(html) + _charts(*charts)


def _quarantine_section(con: duckdb.DuckDBPyConnection) -> str:
    html = ['<h2 id="quarantine">Quarantine</h2>']
    if not warehouse.has_relation(con, "quarantine"):
        return "".join(html) + _missing("The warehouse has no quarantine table.")
    rows = con.execute(
        "select dataset, reason, count(*) from quarantine group by 1, 2 order by 1, 2"
    ).fetchall()
    if not rows:
        return "".join(html) + _missing("No rows were quarantined.")
    by_reason = con.execute(
        "select reason, count(*) from quarantine group by 1 order by 2 desc, 1"
    ).fetchall()
    html.append(
        bar_chart(
            "Quarantined rows by reason",
            "rows",
            "reason",
            [r[0] for r in by_reason],
            [("rows", [r[1] for r in by_reason])],
            horizontal=True,
        )
    )
    html.append(_table(["dataset", "reason", "rows"], rows))
    return "".join(html)


def render(con: duckdb.DuckDBPyConnection, title: str = "pcdp report") -> str:
    """The HTML text of the report of the warehouse behind ``con``."""
    instances_html, instances = _instances_section(con)
    profile = (
        _columns(con, "customer_profile") if warehouse.has_relation(con, "customer_profile") else {}
    )
    body = [instances_html]
    for instance_id, kind in instances:
        anchor = escape(f"instance-{instance_id}")
        body.append(f'<h2 id="{anchor}">{escape(instance_id)} ({escape(kind)})</h2>')
        run, metric_rows = _latest_metrics(con, instance_id)
        body.append(_metrics_table(run, metric_rows))
        if kind == "action_prediction":
            body.append(_action_charts(con, instance_id, dict(metric_rows)))
        elif kind == "pcltv":
            body.append(_pcltv_charts(con, instance_id))
        elif kind == "rfm":
            body.append(_rfm_charts(con, instance_id, profile))
        elif kind.startswith("interest"):
            body.append(_interest_charts(con, instance_id, profile))
    body.append(_identity_section(con))
    body.append(_quarantine_section(con))
    links = [("instances", "Model instances")]
    links += [(f"instance-{i}", f"{i} ({kind})") for i, kind in instances]
    links += [("identity", "Identity"), ("quarantine", "Quarantine")]
    contents = "".join(f'<li><a href="#{escape(a)}">{escape(t)}</a></li>' for a, t in links)
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
        f"<h1>{escape(title)}</h1><nav><ul>{contents}</ul></nav>"
        + "\n".join(body)
        + "</body></html>\n"
    )


def write_report(db: Path, out: Path) -> Path:
    """Write ``out/index.html``, the report of warehouse ``db``; returns its path."""
    with warehouse.connect(Path(db)) as con:
        html = render(con, title=f"pcdp report: {Path(db).name}")
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    index = out / "index.html"
    index.write_text(html, encoding="utf-8")
    return index
