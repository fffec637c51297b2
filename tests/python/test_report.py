"""`pcdp report`: a self-contained HTML report of a built warehouse, opened in headless
Chromium (Debian's `chromium` and `chromium-driver`, which `make test` installs)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import duckdb
import pytest

from pcdp.cli import main
from pcdp.report import render

ACTION_CHARTS = (
    "ROC curve",
    "precision-recall curve",
    "calibration",
    "cumulative gains",
    "lift",
    "precision-level trade-off",
    "top features",
)


@pytest.fixture(scope="module")
def report(warehouse: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("report")
    assert main(["report", "--db", str(warehouse), "--out", str(out)]) == 0
    return out / "index.html"


@pytest.fixture(scope="module")
def instances(warehouse: Path) -> list[tuple[str, str]]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return con.execute("select instance_id, type from model_instances order by 1").fetchall()


def _expected_titles(instances: list[tuple[str, str]]) -> list[str]:
    """Start of the title of every chart the report must draw for the example instances."""
    titles = []
    for instance_id, kind in instances:
        if kind == "action_prediction":
            titles += [f"{instance_id}: {chart}" for chart in ACTION_CHARTS]
        elif kind == "pcltv":
            titles += [
                f"{instance_id}: predicted vs actual by decile",
                f"{instance_id}: backtest over time",
            ]
        elif kind == "rfm":
            titles += [
                f"{instance_id}: customers per RFM segment",
                f"{instance_id}: segment transitions",
            ]
        else:
            titles.append(f"{instance_id}: top first labels")
    return titles + [
        "Identity graph: identifiers per customer",
        "Most connected guarded identifiers",
        "Quarantined rows by reason",
    ]


def test_report_has_a_chart_for_every_section(report: Path, instances) -> None:
    html = report.read_text(encoding="utf-8")
    assert {kind for _, kind in instances} >= {"action_prediction", "pcltv", "rfm"}
    alts = re.findall(r'<img alt="([^"]*)"', html)
    for title in _expected_titles(instances):
        assert any(alt.startswith(title) for alt in alts), title
    for instance_id, _ in instances:
        assert f'id="instance-{instance_id}"' in html
    assert 'class="missing"' not in html, re.findall(r'class="missing">([^<]*)', html)
    # every image is embedded; nothing is fetched over the network when the report is viewed
    assert len(re.findall(r'src="data:image/png;base64,', html)) == len(alts)
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:)?//""", html, flags=re.I)
    assert "http://" not in html and "https://" not in html


def test_report_is_deterministic(report: Path, warehouse: Path, tmp_path: Path) -> None:
    assert main(["report", "--db", str(warehouse), "--out", str(tmp_path)]) == 0
    assert (tmp_path / "index.html").read_bytes() == report.read_bytes()


def test_every_chart_renders_in_headless_chromium(report: Path, instances) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    assert chromium and driver, "needs Debian's chromium and chromium-driver (make test installs)"
    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1300,900"):
        options.add_argument(argument)
    browser = webdriver.Chrome(service=Service(executable_path=driver), options=options)
    try:
        browser.get(report.as_uri())
        assert browser.title.startswith("pcdp report")
        images = browser.execute_script(
            "return Array.from(document.images).map(i => ({alt: i.alt, complete: i.complete,"
            " width: i.naturalWidth, height: i.naturalHeight,"
            " shown: i.getBoundingClientRect().width}))"
        )
        headings = browser.execute_script(
            "return Array.from(document.querySelectorAll('h2')).map(h => h.textContent)"
        )
    finally:
        browser.quit()
    assert len(images) == len(re.findall(r"<img\b", report.read_text(encoding="utf-8")))
    for image in images:
        assert image["complete"], image["alt"]
        # decoded PNGs of chart size (not a broken-image icon), laid out on the page
        assert image["width"] >= 400 and image["height"] >= 250, image
        assert image["shown"] > 0, image["alt"]
    alts = [image["alt"] for image in images]
    for title in _expected_titles(instances):
        assert any(alt.startswith(title) for alt in alts), title
    assert "Identity" in headings and "Quarantine" in headings


def test_report_missing_warehouse_exits_2(tmp_path: Path) -> None:
    missing = tmp_path / "missing.duckdb"
    assert main(["report", "--db", str(missing), "--out", str(tmp_path / "out")]) == 2
    assert not (tmp_path / "out" / "index.html").exists()


def test_report_of_an_empty_warehouse_says_what_is_missing() -> None:
    with duckdb.connect() as con:
        html = render(con)
    assert "no model_instances table" in html
    assert "no quarantine table" in html
    assert "<img" not in html


def test_report_escapes_warehouse_text() -> None:
    with duckdb.connect() as con:
        con.execute(
            "create table quarantine as select 'events' as dataset,"
            " '<script>alert(1)</script>' as reason"
        )
        html = render(con)
    assert "<script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
