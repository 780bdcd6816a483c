"""The dashboard in a real headless Chromium (Debian's /usr/bin/chromium driven by Playwright).

One real server (`python -m sim.dashboard.app`) on a free port of 127.0.0.1 with a small real
sweep under `--results`; the tests follow an educator: load the page, read the notice, change
dose and start day, run, check both arms' curves (the figures' data, not pixels), run a sham dose,
move the time slider and play the animation, type an out-of-range value, use two tabs at once,
explore the sweep (the sham dose and the two tabs are in the full suite only: the quick loop runs
one simulation here). Screenshots go under each test's tmp_path.
"""
from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

import sim

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
RUN_TIMEOUT_MS = 90_000
# The server's runs stop on day 120 (`--override`, as a class might shorten them), not the mouse preset's 160: the
# control arm of seed 0 is past 50 % loss by day 92, and the run costs 90 simulated days instead of 130.
HORIZON = 120

pytestmark = pytest.mark.browser
if not Path(CHROMIUM).exists():
    if os.environ.get("CI"):
        raise RuntimeError(f"{CHROMIUM} is missing: .ci/run installs Debian's chromium before the tests")
    pytest.skip(f"{CHROMIUM} not installed (apt-get install chromium)", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")

# The data of a Plotly graph as the browser holds it (_fullData has typed arrays decoded).
GRAPH_DATA = """sel => { const g = document.querySelector(sel + ' .js-plotly-plot');
  if (!g || !g._fullData) return null;
  return g._fullData.map(t => ({name: t.name, type: t.type, x: t.x ? Array.from(t.x) : [], y: t.y ? Array.from(t.y) : [],
                                fill: t.fill || null})); }"""
GRAPH_LAYOUT = """sel => { const g = document.querySelector(sel + ' .js-plotly-plot');
  if (!g || !g._fullLayout) return null;
  return {title: g._fullLayout.title.text, annotations: (g._fullLayout.annotations || []).map(a => a.text),
          vlines: (g._fullLayout.shapes || []).filter(s => s.x0 === s.x1).map(s => s.x0)}; }"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(small_sweep, tmp_path_factory):
    port = free_port()
    work = tmp_path_factory.mktemp("dashboard-work")
    log = open(work / "server.log", "w")
    proc = subprocess.Popen([sys.executable, "-m", "sim.dashboard.app", "--port", str(port), "--workdir", str(work),
                             "--results", str(small_sweep), "--override", f"disease.horizon_days={HORIZON}"],
                            stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dashboard did not start: {(work / 'server.log').read_text()[-2000:]}")
                time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture(scope="module")
def page(browser, server):
    """One tab that the educator's steps below share, in order."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    tab = context.new_page()
    tab.set_default_timeout(30_000)
    open_page(tab, server)
    yield tab
    context.close()


def open_page(tab, url: str) -> None:
    """Load the page and wait until Dash has rendered it (the layout arrives after the load event)."""
    tab.goto(url)
    tab.wait_for_selector("#notice")
    tab.wait_for_selector("#run-button")


def graph(page, gid: str) -> list[dict]:
    return page.evaluate(GRAPH_DATA, f"#{gid}") or []


def layout(page, gid: str) -> dict:
    return page.evaluate(GRAPH_LAYOUT, f"#{gid}") or {}


def set_number(page, input_id: str, value: str) -> None:
    page.fill(f"#{input_id}", value)
    page.press(f"#{input_id}", "Tab")  # inputs are debounced: leaving the field commits the value


def run_and_wait(page, summary_has: list[str]) -> None:
    """Press Run and wait until the summary names this run and the survival graph holds both arms."""
    page.click("#run-button")
    page.wait_for_function(
        """([words]) => { const s = document.querySelector('#summary')?.innerText || '';
             const g = document.querySelector('#graph-survival .js-plotly-plot');
             return words.every(w => s.includes(w)) && g && g._fullData && g._fullData.length === 4; }""",
        arg=[summary_has], timeout=RUN_TIMEOUT_MS)


def by_name(traces: list[dict], name: str) -> list[dict]:
    return [t for t in traces if t["name"] == name]


# =========================================================================== the educator's steps
def test_page_shows_the_notice_and_units(page, tmp_path):
    notice = page.locator("#notice")
    assert notice.is_visible() and sim.NOTICE in notice.inner_text()
    for hint in ("(cells per kg body weight, 0 – 1e+09)", "(days, 1 – 365)", "day on the preset's clock"):
        assert page.get_by_text(hint, exact=False).first.is_visible()
    page.evaluate("window.scrollTo(0, document.body.scrollHeight)")
    box = notice.bounding_box()
    assert notice.is_visible() and box is not None and box["y"] <= 1  # sticky: still at the top of the window
    page.evaluate("window.scrollTo(0, 0)")
    page.screenshot(path=str(tmp_path / "loaded.png"))


def test_run_shows_both_arms_and_follows_new_inputs(page, tmp_path):
    set_number(page, "dose", "1e8")
    set_number(page, "start-day", "80")
    page.click("#run-button")
    page.wait_for_function("() => /simulating|waiting|done/.test(document.querySelector('#run-status')?.innerText || '')")
    page.wait_for_function(
        """() => { const s = document.querySelector('#summary')?.innerText || '';
             const g = document.querySelector('#graph-survival .js-plotly-plot');
             return s.includes('1e+08 cells/kg') && g && g._fullData && g._fullData.length === 4; }""",
        timeout=RUN_TIMEOUT_MS)
    assert page.inner_text("#run-status").startswith("done in")
    assert "on day(s) 80" in page.inner_text("#summary")
    survival = graph(page, "graph-survival")
    treated, control = by_name(survival, "treated arm")[0], by_name(survival, "control arm")[0]
    assert len(treated["y"]) == len(control["y"]) == HORIZON - 30 + 1
    assert treated["x"][0] == 30 and treated["x"][-1] == HORIZON
    assert treated["y"][0] == control["y"][0] == 1.0 and control["y"][-1] < 0.5
    assert 80 in layout(page, "graph-survival")["vlines"]
    msc = graph(page, "graph-msc")
    assert max(by_name(msc, "infused so far")[0]["y"]) == pytest.approx(1e8 * 0.025)  # cells/kg × 25 g
    page.screenshot(path=str(tmp_path / "run-1e8.png"), full_page=True)


@pytest.mark.slow  # a second real run; the quick loop keeps a dose of 0 giving a treated arm equal to the control (every
# row and field: test_cli.py, test_valid_edge_values_run) and the MSC figure's note for it (test_figures.py)
def test_a_sham_dose_shows_the_treated_arm_equal_to_the_control(page):
    # a sham dose of 0: the treated arm must equal the control arm, shown as plainly as any effect
    set_number(page, "dose", "0")
    run_and_wait(page, ["0 cells/kg"])
    survival = graph(page, "graph-survival")
    assert by_name(survival, "treated arm")[0]["y"] == by_name(survival, "control arm")[0]["y"]
    assert "+0.0 days" in page.inner_text("#summary")
    assert any("no MSCs infused" in a for a in layout(page, "graph-msc")["annotations"])


def test_time_slider_and_animation_move_the_tissue_map(page, tmp_path):
    page.wait_for_function("() => (document.querySelector('#graph-tissue .js-plotly-plot')?._fullLayout?.title?.text || '').includes('day 30')")
    tissue = graph(page, "graph-tissue")
    assert [t["type"] for t in tissue].count("heatmap") == 2
    assert len(by_name(tissue, "motor neuron, alive")) == 2
    handle = page.locator("#day-slider [role=slider]")
    handle.focus()
    for _ in range(3):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("() => (document.querySelector('#graph-tissue .js-plotly-plot')?._fullLayout?.title?.text || '').includes('day 51')")
    page.click("#field")
    page.get_by_role("listbox").get_by_text("IL-10 (pM)", exact=True).click()
    page.wait_for_function("() => (document.querySelector('#graph-tissue .js-plotly-plot')?._fullLayout?.title?.text || '').includes('IL-10')")
    assert "day 51" in layout(page, "graph-tissue")["title"]
    page.locator("#graph-tissue").screenshot(path=str(tmp_path / "tissue-day51.png"))
    page.click("#play")
    page.wait_for_function("() => (document.querySelector('#play')?.innerText || '').includes('Pause')")
    page.wait_for_function("() => (document.querySelector('#graph-tissue .js-plotly-plot')?._fullLayout?.title?.text || '').includes('day 65')",
                           timeout=20_000)
    page.click("#play")
    page.wait_for_function("() => (document.querySelector('#play')?.innerText || '').includes('Play')")


def test_out_of_range_inputs_give_a_message_not_a_crash(page, tmp_path):
    # the earlier steps left a finished run on screen; a rejected input must not leave it there as if it were its result
    assert "cells/kg" in page.inner_text("#summary") and page.inner_text("#run-status").startswith("done in")
    set_number(page, "dose", "1e12")
    page.click("#run-button")
    page.wait_for_function("() => (document.querySelector('#run-message')?.innerText || '').includes('dose per infusion')")
    assert "from 0 to 1e+09" in page.inner_text("#run-message")
    page.wait_for_function("() => (document.querySelector('#summary')?.innerText || '').includes('nothing to show yet')")
    assert "cells/kg" not in page.inner_text("#summary")
    assert page.inner_text("#run-status") == "no result for these inputs"
    page.wait_for_function("() => !(document.querySelector('#graph-survival .js-plotly-plot')?._fullData || [])"
                           ".some(t => t.name === 'treated arm')")
    page.screenshot(path=str(tmp_path / "out-of-range-dose.png"))
    set_number(page, "dose", "4e7")
    set_number(page, "start-day", "500")  # inside the page's bounds, outside the mouse preset's days
    page.click("#run-button")
    page.wait_for_function("() => (document.querySelector('#run-message')?.innerText || '').includes('start_day=500')")
    assert f"allowed range is [30, {HORIZON})" in page.inner_text("#run-message")
    assert page.locator("#run-button").is_enabled() and page.locator("#notice").is_visible()


@pytest.mark.slow  # two more real runs; test_dashboard.py keeps tabs apart quickly, over HTTP without a browser
def test_two_tabs_at_once_keep_their_own_runs(browser, server, tmp_path):
    context = browser.new_context(viewport={"width": 1400, "height": 1000})
    try:
        a, b = context.new_page(), context.new_page()
        for tab, dose, seed in ((a, "4e7", "5"), (b, "0", "6")):
            open_page(tab, server)
            set_number(tab, "dose", dose)
            set_number(tab, "seed", seed)
        a.click("#run-button")
        b.click("#run-button")
        for tab, seed in ((a, "seed=5"), (b, "seed=6")):
            tab.wait_for_function("s => (document.querySelector('#summary')?.innerText || '').includes(s)", arg=seed,
                                  timeout=RUN_TIMEOUT_MS)
        assert "seed=6" not in a.inner_text("#summary") and "seed=5" not in b.inner_text("#summary")
        a.wait_for_function("() => document.querySelector('#graph-msc .js-plotly-plot')?._fullData?.length > 0")
        assert max(by_name(graph(a, "graph-msc"), "infused so far")[0]["y"]) == pytest.approx(1e6)
        assert any("no MSCs infused" in t for t in layout(b, "graph-msc")["annotations"])
        b.screenshot(path=str(tmp_path / "tab-b.png"))
    finally:
        context.close()


def test_sweep_heatmap_cell_click_shows_that_scenario(page, tmp_path):
    page.get_by_text("Explore a sweep", exact=True).click()
    page.wait_for_function("() => document.querySelector('#graph-heatmap .js-plotly-plot')?._fullData?.[0]?.type === 'heatmap'")
    heat = graph(page, "graph-heatmap")[0]
    assert heat["y"] == ["0", "4e+07"] and heat["x"] == ["80"]
    point = page.evaluate("""() => { const g = document.querySelector('#graph-heatmap .js-plotly-plot');
        const xa = g._fullLayout.xaxis, ya = g._fullLayout.yaxis, r = g.getBoundingClientRect();
        return [r.left + xa._offset + xa.l2p(0), r.top + ya._offset + ya.l2p(1)]; }""")
    page.mouse.click(*point)
    page.wait_for_function("() => (document.querySelector('#scenario-text')?.innerText || '').includes('4e+07 cells/kg')")
    scenario = graph(page, "graph-scenario")
    names = {t["name"] for t in scenario}
    assert {"treated: mean of seeds", "control: mean of seeds"} <= names
    assert any(t["fill"] == "tonexty" for t in scenario)  # the bands across seeds
    assert "95 % CI" in page.inner_text("#scenario-text")
    page.screenshot(path=str(tmp_path / "sweep.png"), full_page=True)
    page.click("#open-run")
    page.wait_for_function("() => (document.querySelector('#summary')?.innerText || '').includes('of the sweep compared')")
    assert "seed=0" in page.inner_text("#summary")


def test_the_run_tab_has_a_guide_for_teachers(page):
    guide = page.locator("#guide")
    assert guide.is_visible()
    text = guide.inner_text()
    for where in ("Regulatory T cells", "Microglia by state", "Where the infused MSCs go"):
        assert where in text
    assert "**" not in text  # Markdown rendered, not shown


def test_explain_panel_lists_mechanisms_and_sources(page, tmp_path):
    page.get_by_text("Explain the model", exact=True).click()
    panel = page.locator("#explain")
    panel.get_by_text("Motor neurons", exact=True).click()
    details = panel.locator("details[open] .explain-details")
    assert details.count() >= 1 and details.first.locator("code").count() > 0  # `code` of the docstrings rendered
    assert "`" not in details.first.inner_text() and "**" not in details.first.inner_text()
    assert panel.get_by_text("treatment.dose_cells_per_kg").count() == 1
    assert panel.get_by_text("Henderson et al. 1993", exact=False).first.is_visible()
    assert page.locator("#notice").is_visible()
    page.screenshot(path=str(tmp_path / "explain.png"))
