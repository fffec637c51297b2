"""`pcdp report`: a self-contained HTML report of a built warehouse."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from pcdp.cli import main


def test_report_writes_self_contained_html(warehouse: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    assert main(["report", "--db", str(warehouse), "--out", str(out)]) == 0
    index = out / "index.html"
    assert index.is_file()
    html = index.read_text(encoding="utf-8")

    with duckdb.connect(str(warehouse), read_only=True) as con:
        instances = con.execute("select instance_id, type from model_instances").fetchall()
    assert instances
    for instance_id, _ in instances:
        assert instance_id in html
    actions = [i for i, kind in instances if kind == "action_prediction"]
    assert actions
    svgs = re.findall(r"<svg\b.*?</svg>", html, flags=re.S)
    for instance_id in actions:
        title = f"{instance_id}: precision and recall by threshold"
        assert any(f"<title>{title}</title>" in svg for svg in svgs), instance_id
    assert any("predicted vs actual by decile" in svg for svg in svgs)
    assert "customers per RFM segment" in html
    assert "Quarantine" in html and "Guarded identifiers" in html
    # nothing is fetched over the network when the report is viewed
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, flags=re.I)
    assert "http://" not in html and "https://" not in html


def test_report_missing_warehouse_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.duckdb"
    assert main(["report", "--db", str(missing), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out" / "index.html").exists()


def test_report_of_an_empty_warehouse_says_what_is_missing() -> None:
    from pcdp.report import render

    with duckdb.connect() as con:
        html = render(con)
    assert "no model_instances table" in html
    assert "no quarantine table" in html
    assert "<svg" not in html
