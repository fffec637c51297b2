"""A self-contained HTML report of a built warehouse (`pcdp report`).

One page, ``index.html``, with no network references: model instance statuses and run history,
each instance's latest metrics, precision / segment size curves of action prediction instances,
predicted vs actual value per decile of pcLTV instances, RFM segment sizes, top interest labels,
identity statistics and quarantine counts. Charts are inline SVG; every text is escaped.
A missing table or curve gives a sentence instead of its chart.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Any

import duckdb

from pcdp import warehouse

WIDTH, HEIGHT = 680, 380
MARGIN_LEFT, MARGIN_RIGHT, MARGIN_TOP, MARGIN_BOTTOM = 80, 130, 40, 120
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b")
TOP_LABELS = 10

CSS = """
body { font-family: system-ui, sans-serif; margin: 2em; color: #222; max-width: 1100px; }
h1 { border-bottom: 2px solid #444; }
h2 { margin-top: 2em; border-bottom: 1px solid #aaa; }
table { border-collapse: collapse; margin: 0.5em 0 1em; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 3px 8px; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
.status-Complete { color: #2a7a2a; } .status-Failed { color: #b00020; }
svg { display: block; margin: 0.5em 0 1.5em; background: #fff; }
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


def _ticks(low: float, high: float, count: int = 5) -> list[float]:
    if high <= low:
        return [low]
    return [low + (high - low) * i / (count - 1) for i in range(count)]


def _tick_label(value: float) -> str:
    if value != 0 and abs(value) >= 1e4:
        return f"{value:,.0f}"
    return f"{value:.3g}"


# ---------------------------------------------------------------------------------- charts
def _frame(title: str, x_label: str, y_label: str, y_low: float, y_high: float) -> list[str]:
    """SVG opening, title, axes, y ticks and axis labels of a chart."""
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    bottom = MARGIN_TOP + plot_h
    parts = [
        f'<svg width="{WIDTH}" height="{HEIGHT}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-label="{escape(title)}"'
        ' font-family="sans-serif" font-size="11">',
        f"<title>{escape(title)}</title>",
        f'<text x="{WIDTH / 2:.1f}" y="20" text-anchor="middle" font-size="14"'
        f' font-weight="bold">{escape(title)}</text>',
        f'<line x1="{MARGIN_LEFT}" y1="{MARGIN_TOP}" x2="{MARGIN_LEFT}" y2="{bottom}"'
        ' stroke="#333"/>',
        f'<line x1="{MARGIN_LEFT}" y1="{bottom}" x2="{MARGIN_LEFT + plot_w}" y2="{bottom}"'
        ' stroke="#333"/>',
        f'<text x="{MARGIN_LEFT + plot_w / 2:.1f}" y="{HEIGHT - 8}" text-anchor="middle">'
        f"{escape(x_label)}</text>",
        f'<text x="16" y="{MARGIN_TOP + plot_h / 2:.1f}" text-anchor="middle"'
        f' transform="rotate(-90 16 {MARGIN_TOP + plot_h / 2:.1f})">{escape(y_label)}</text>',
    ]
    for tick in _ticks(y_low, y_high):
        y = bottom - (tick - y_low) / ((y_high - y_low) or 1) * plot_h
        parts.append(
            f'<line x1="{MARGIN_LEFT - 4}" y1="{y:.1f}" x2="{MARGIN_LEFT + plot_w}" y2="{y:.1f}"'
            ' stroke="#eee"/>'
            f'<text x="{MARGIN_LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">'
            f"{escape(_tick_label(tick))}</text>"
        )
    return parts


def _legend(names: Sequence[str]) -> list[str]:
    x = WIDTH - MARGIN_RIGHT + 12
    parts = []
    for i, name in enumerate(names):
        y = MARGIN_TOP + 6 + i * 18
        parts.append(
            f'<rect x="{x}" y="{y - 9}" width="12" height="10" fill="{COLORS[i % len(COLORS)]}"/>'
            f'<text x="{x + 17}" y="{y}">{escape(name)}</text>'
        )
    return parts


def line_chart(
    title: str,
    x_label: str,
    y_label: str,
    series: Sequence[tuple[str, Sequence[tuple[float, float]]]],
) -> str:
    """An SVG line chart of named series of (x, y) points."""
    points = [(x, y) for _, pts in series for x, y in pts if _finite(x) and _finite(y)]
    if not points:
        return _missing(f"{title}: no data points.")
    x_low, x_high = min(p[0] for p in points), max(p[0] for p in points)
    y_low, y_high = min(0.0, min(p[1] for p in points)), max(p[1] for p in points)
    if y_high <= y_low:
        y_high = y_low + 1
    if x_high <= x_low:
        x_high = x_low + 1
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    bottom = MARGIN_TOP + plot_h

    def sx(x: float) -> float:
        return MARGIN_LEFT + (x - x_low) / (x_high - x_low) * plot_w

    def sy(y: float) -> float:
        return bottom - (y - y_low) / (y_high - y_low) * plot_h

    parts = _frame(title, x_label, y_label, y_low, y_high)
    for tick in _ticks(x_low, x_high):
        parts.append(
            f'<text x="{sx(tick):.1f}" y="{bottom + 16}" text-anchor="middle">'
            f"{escape(_tick_label(tick))}</text>"
        )
    for i, (_, pts) in enumerate(series):
        clean = sorted((x, y) for x, y in pts if _finite(x) and _finite(y))
        if not clean:
            continue
        path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in clean)
        parts.append(
            f'<polyline fill="none" stroke="{COLORS[i % len(COLORS)]}" stroke-width="2"'
            f' points="{path}"/>'
        )
    parts += _legend([name for name, _ in series])
    parts.append("</svg>")
    return "".join(parts)


def bar_chart(
    title: str,
    x_label: str,
    y_label: str,
    categories: Sequence[str],
    series: Sequence[tuple[str, Sequence[float | None]]],
) -> str:
    """An SVG grouped bar chart: one group per category, one bar per named series."""
    values = [v for _, vals in series for v in vals if _finite(v)]
    if not categories or not values:
        return _missing(f"{title}: no data.")
    y_low = min(0.0, min(values))
    y_high = max(0.0, max(values))
    if y_high <= y_low:
        y_high = y_low + 1
    plot_w = WIDTH - MARGIN_LEFT - MARGIN_RIGHT
    plot_h = HEIGHT - MARGIN_TOP - MARGIN_BOTTOM
    bottom = MARGIN_TOP + plot_h
    group_w = plot_w / len(categories)
    bar_w = group_w * 0.8 / max(len(series), 1)

    def sy(y: float) -> float:
        return bottom - (y - y_low) / (y_high - y_low) * plot_h

    parts = _frame(title, x_label, y_label, y_low, y_high)
    rotate = len(categories) > 6 or max(len(c) for c in categories) > 10
    for c, category in enumerate(categories):
        center = MARGIN_LEFT + group_w * (c + 0.5)
        label = category if len(category) <= 20 else category[:19] + "…"
        if rotate:
            parts.append(
                f'<text x="{center:.1f}" y="{bottom + 12}" text-anchor="end"'
                f' transform="rotate(-60 {center:.1f} {bottom + 12})">{escape(label)}</text>'
            )
        else:
            parts.append(
                f'<text x="{center:.1f}" y="{bottom + 16}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
        for s, (name, vals) in enumerate(series):
            value = vals[c] if c < len(vals) else None
            if not _finite(value):
                continue
            x = MARGIN_LEFT + group_w * c + group_w * 0.1 + s * bar_w
            top, base = sy(max(value, 0.0)), sy(min(value, 0.0))
            parts.append(
                f'<rect x="{x:.1f}" y="{top:.1f}" width="{bar_w:.1f}"'
                f' height="{max(base - top, 0.5):.1f}" fill="{COLORS[s % len(COLORS)]}">'
                f"<title>{escape(f'{category} / {name}: {_fmt(value)}')}</title></rect>"
            )
    if len(series) > 1:
        parts += _legend([name for name, _ in series])
    parts.append("</svg>")
    return "".join(parts)


# ------------------------------------------------------------------------------- warehouse
def _has(con: duckdb.DuckDBPyConnection, table: str) -> bool:
    found = con.execute(
        "select count(*) from information_schema.tables"
        " where table_name = ? and table_schema = current_schema()",
        [table],
    ).fetchone()
    return bool(found and found[0])


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
    if not _has(con, "model_curves"):
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


# -------------------------------------------------------------------------------- sections
def _instances_section(con: duckdb.DuckDBPyConnection) -> tuple[str, list[tuple[str, str]]]:
    html = ["<h2>Model instances</h2>"]
    instances: list[tuple[str, str]] = []
    if not _has(con, "model_instances"):
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
    html.append("<h3>Run history</h3>")
    if not _has(con, "model_runs"):
        html.append(_missing("The warehouse has no model_runs table."))
    else:
        runs = con.execute(
            "select run_id, instance_id, as_of, started_at, finished_at, status, rows_scored,"
            " error from model_runs order by started_at desc nulls last, instance_id"
        ).fetchall()
        headers = ["run", "instance", "as of", "started", "finished", "status", "rows", "error"]
        html.append(_table(headers, runs) if runs else _missing("No runs recorded."))
    return "".join(html), instances


def _metrics(con: duckdb.DuckDBPyConnection, instance_id: str) -> str:
    if not _has(con, "model_metrics"):
        return _missing("The warehouse has no model_metrics table.")
    rows = con.execute(
        "with latest as (select run_id, as_of from model_metrics where instance_id = ?"
        " order by as_of desc, run_id desc limit 1)"
        " select metric, coalesce(cast(value as varchar), value_text), value, value_text"
        " from model_metrics where instance_id = ? and run_id in (select run_id from latest)"
        " order by metric",
        [instance_id, instance_id],
    ).fetchall()
    if not rows:
        return _missing(f"No metrics recorded for {instance_id}.")
    run = con.execute(
        "select run_id, as_of from model_metrics where instance_id = ?"
        " order by as_of desc, run_id desc limit 1",
        [instance_id],
    ).fetchone()
    table = _table(["metric", "value"], [(m, v if v is not None else t) for m, _, v, t in rows])
    caption = f"<p>Latest metrics (run {escape(str(run[0]))}, as of {escape(str(run[1]))}):</p>"
    return caption + table


def _action_charts(con: duckdb.DuckDBPyConnection, instance_id: str) -> str:
    points = _latest_curves(con, instance_id).get("precision_curve")
    if not points:
        return _missing(f"No precision curve recorded for {instance_id}.")

    def pairs(key: str) -> list[tuple[float, float]]:
        return [(p.get("threshold"), p.get(key)) for p in points if key in p]

    quality = line_chart(
        f"{instance_id}: precision and recall by threshold",
        "score threshold",
        "rate",
        [("precision", pairs("precision")), ("recall", pairs("recall"))],
    )
    size_key = "segment_count" if any("segment_count" in p for p in points) else "segment_share"
    size = line_chart(
        f"{instance_id}: segment size by threshold",
        "score threshold",
        "customers in segment" if size_key == "segment_count" else "share of customers",
        [(size_key.replace("_", " "), pairs(size_key))],
    )
    return quality + size


def _pcltv_charts(con: duckdb.DuckDBPyConnection, instance_id: str) -> str:
    curves = _latest_curves(con, instance_id)
    names = sorted(
        (c for c in curves if c.startswith("decile_calibration")),
        key=lambda c: (len(c), c),
    )
    if not names:
        return _missing(f"No decile calibration curves recorded for {instance_id}.")
    html = []
    for name in names:
        points = sorted(curves[name], key=lambda p: p.get("decile") or 0)
        keys = set().union(*(p.keys() for p in points))
        predicted = next(
            (k for k in ("predicted_mean", "predicted", "predicted_total") if k in keys), None
        )
        actual = next((k for k in ("actual_mean", "actual", "actual_total") if k in keys), None)
        if predicted is None or actual is None:
            html.append(_missing(f"{name}: no predicted and actual values in the curve."))
            continue
        horizon = name.removeprefix("decile_calibration").strip("_") or "all"
        unit = "mean value per customer" if predicted.endswith("mean") else "value"
        html.append(
            bar_chart(
                f"{instance_id}: predicted vs actual by decile ({horizon})",
                "decile of predicted value",
                unit,
                [str(p.get("decile", i + 1)) for i, p in enumerate(points)],
                [
                    ("predicted", [p.get(predicted) for p in points]),
                    ("actual", [p.get(actual) for p in points]),
                ],
            )
        )
    return "".join(html)


def _rfm_chart(con: duckdb.DuckDBPyConnection, instance_id: str, profile: dict[str, str]) -> str:
    column = f"{instance_id}_cluster" if f"{instance_id}_cluster" in profile else "rfm_cluster"
    if column not in profile:
        return _missing(f"customer_profile has no RFM segment column for {instance_id}.")
    rows = con.execute(
        f"select coalesce({_quote(column)}, '(no segment)'), count(*) from customer_profile"
        " group by 1 order by 2 desc, 1"
    ).fetchall()
    html = [
        bar_chart(
            f"{instance_id}: customers per RFM segment",
            "RFM segment",
            "customers",
            [r[0] for r in rows],
            [("customers", [r[1] for r in rows])],
        )
    ]
    if _has(con, "rfm_segment_transitions"):
        moves = con.execute(
            "select coalesce(previous_segment, '(new)'), segment, count(*)"
            " from rfm_segment_transitions where instance_id = ?"
            " and as_of = (select max(as_of) from rfm_segment_transitions where instance_id = ?)"
            " group by 1, 2 order by 3 desc, 1, 2 limit 15",
            [instance_id, instance_id],
        ).fetchall()
        if moves:
            html.append("<h4>Segment transitions (latest run)</h4>")
            html.append(_table(["previous segment", "segment", "customers"], moves))
    return "".join(html)


def _interest_chart(
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
        "interest label",
        "customers",
        [str(r[0]) for r in rows],
        [("customers", [r[1] for r in rows])],
    )
    return chart + _table(["first label", "customers"], rows)


def _identity_section(con: duckdb.DuckDBPyConnection) -> str:
    html = ["<h2>Identity</h2>"]
    if _has(con, "customers"):
        columns = _columns(con, "customers")
        known = "count(*) filter (where is_known)" if "is_known" in columns else "null"
        total, known_count = con.execute(f"select count(*), {known} from customers").fetchone()
        html.append(_table(["customers", "known customers"], [(total, known_count)]))
    else:
        html.append(_missing("The warehouse has no customers table."))
    if _has(con, "customer_identifiers"):
        rows = con.execute(
            "select identifier_type, count(*), count(distinct customer_id)"
            " from customer_identifiers group by 1 order by 1"
        ).fetchall()
        html.append("<h3>Identifiers by type</h3>")
        html.append(_table(["identifier type", "identifiers", "customers"], rows))
    else:
        html.append(_missing("The warehouse has no customer_identifiers table."))
    html.append("<h3>Guarded identifiers</h3>")
    if _has(con, "identity_guarded_identifiers"):
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
            html.append("<p>Most connected guarded identifiers:</p>")
            html.append(_table(["type", "value", "degree", "guard rule"], top))
        else:
            html.append(_missing("No identifier was guarded."))
    else:
        html.append(_missing("The warehouse has no identity_guarded_identifiers table."))
    return "".join(html)


def _quarantine_section(con: duckdb.DuckDBPyConnection) -> str:
    html = ["<h2>Quarantine</h2>"]
    if not _has(con, "quarantine"):
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
            "reason",
            "rows",
            [r[0] for r in by_reason],
            [("rows", [r[1] for r in by_reason])],
        )
    )
    html.append(_table(["dataset", "reason", "rows"], rows))
    return "".join(html)


def render(con: duckdb.DuckDBPyConnection, title: str = "pcdp report") -> str:
    """The HTML text of the report of the warehouse behind ``con``."""
    instances_html, instances = _instances_section(con)
    profile = _columns(con, "customer_profile") if _has(con, "customer_profile") else {}
    body = [f"<h1>{escape(title)}</h1>", instances_html]
    for instance_id, kind in instances:
        body.append(f'<h2 id="{escape(instance_id)}">{escape(instance_id)} ({escape(kind)})</h2>')
        body.append(_metrics(con, instance_id))
        if kind == "action_prediction":
            body.append(_action_charts(con, instance_id))
        elif kind == "pcltv":
            body.append(_pcltv_charts(con, instance_id))
        elif kind == "rfm":
            body.append(_rfm_chart(con, instance_id, profile))
        elif kind.startswith("interest"):
            body.append(_interest_chart(con, instance_id, profile))
    body.append(_identity_section(con))
    body.append(_quarantine_section(con))
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{CSS}</style></head><body>"
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
