"""Report pages stay small and draw in a browser; `--figures svg` writes each figure as a file that parses as SVG."""
from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.report import MAX_CURVE_POINTS, MAX_FRAMES, frame_indices, thin_rows

BIN = Path(sys.executable).parent
CHROMIUM = "/usr/bin/chromium"
MAX_REPORT_BYTES = 5 * 2**20


def test_frame_indices_keep_ends_and_infusions_within_the_budget():
    days = [30.0 + 7 * k for k in range(600)]
    keep = frame_indices(days, grid_values=800, keep=[1000.0])
    assert keep[0] == 0 and keep[-1] == 599 and len(keep) <= MAX_FRAMES + 1
    assert int(np.argmin(np.abs(np.asarray(days) - 1000.0))) in keep
    assert frame_indices(days[:10], grid_values=800) == list(range(10))  # short runs keep every snapshot
    big = frame_indices(days, grid_values=2 * 50 * 50)  # a 50×50 grid, two arms: fewer frames
    assert len(big) <= 30


def test_thin_rows_keeps_at_most_the_budget_per_arm_and_the_infusion_day():
    ts = pd.DataFrame({"arm": np.repeat(["control", "treated"], 4000), "day": np.tile(np.arange(4000.0) - 1095, 2),
                       "mn_alive_fraction": 1.0})
    thin = thin_rows(ts, [91.0])
    per_arm = thin.groupby("arm").size()
    assert (per_arm <= MAX_CURVE_POINTS + 1).all() and 91.0 in set(thin["day"])
    assert thin["day"].max() == ts["day"].max() and thin["day"].min() == ts["day"].min()
    assert thin_rows(ts.head(100)) is not None and len(thin_rows(ts.head(100))) == 100


@pytest.fixture(scope="module")
def run_folder(short_run) -> Path:
    """The session's short real run folder (conftest.short_run): read here, never changed."""
    return short_run


def _svg_ok(path: Path) -> None:
    root = ET.parse(path).getroot()
    assert root.tag == "{http://www.w3.org/2000/svg}svg", root.tag
    assert float(root.get("width")) > 100 and len(list(root.iter())) > 20


@pytest.fixture(scope="module")
def report_with_svgs(run_folder, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """`alsim-report RUN --figures svg`, once for this module: the export is checked below, and the page it wrote is
    the one the browser test draws."""
    out = tmp_path_factory.mktemp("report") / "r" / "report.html"
    r = subprocess.run([str(BIN / "alsim-report"), str(run_folder), "--out", str(out), "--figures", "svg"],
                       capture_output=True, text=True, timeout=300)
    return r, out


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="figure export drives the system Chromium")
def test_report_figures_svg_parse_as_svg(report_with_svgs):
    r, out = report_with_svgs
    assert r.returncode == 0, r.stderr
    svgs = sorted((out.parent / "figures").glob("*.svg"))
    assert [p.name[:3] for p in svgs] == ["01-", "02-", "03-", "04-", "05-", "06-"]
    assert "survival" in svgs[0].name and "tissue" in svgs[1].name
    for p in svgs:
        _svg_ok(p)
    assert out.stat().st_size < MAX_REPORT_BYTES


@pytest.mark.slow  # a second Chromium export; the quick loop keeps alsim-report's
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="figure export drives the system Chromium")
def test_compare_figures_svg_parse_as_svg(run_folder, tmp_path):
    r = subprocess.run([str(BIN / "alsim-compare"), str(run_folder), "--out", str(tmp_path / "c"), "--figures", "svg"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    svgs = sorted((tmp_path / "c" / "figures").glob("*.svg"))
    assert len(svgs) == 3 and "t50-delay" in svgs[0].name
    for p in svgs:
        _svg_ok(p)
    assert (tmp_path / "c" / "report.html").stat().st_size < MAX_REPORT_BYTES


def test_figures_refused_in_one_line_without_a_browser(run_folder, tmp_path):
    env = {"PATH": "/nonexistent", "BROWSER_PATH": str(tmp_path / "no-browser")}
    out = tmp_path / "r.html"
    r = subprocess.run([str(BIN / "alsim-report"), str(run_folder), "--out", str(out), "--figures", "pdf"],
                       capture_output=True, text=True, timeout=300, env=env)
    assert r.returncode == 2 and len(r.stderr.strip().splitlines()) == 1 and "Chromium" in r.stderr
    assert not out.exists()


@pytest.mark.browser
@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs /usr/bin/chromium")
def test_report_is_small_and_draws_every_figure_offline(report_with_svgs):
    sync_api = pytest.importorskip("playwright.sync_api")
    r, out = report_with_svgs
    assert r.returncode == 0, r.stderr
    text = out.read_text(encoding="utf-8")
    assert out.stat().st_size < MAX_REPORT_BYTES and text.count(sim.NOTICE) >= 2
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu",
                                    "--disable-background-networking", "--disable-component-update", "--no-first-run"])
        page = browser.new_page()
        page.route("http*://**", lambda route: route.abort())  # offline: nothing may be fetched
        page.goto(out.as_uri())
        page.wait_for_selector("body[data-figures=drawn]", timeout=60_000)
        assert page.locator(".js-plotly-plot").count() == 6
        assert page.evaluate("document.querySelectorAll('.js-plotly-plot .main-svg').length") >= 6
        browser.close()
