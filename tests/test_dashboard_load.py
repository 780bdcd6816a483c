"""The dashboard under load and at its bounds, over real HTTP to a real server (`python -m sim.dashboard.app`).

Eight sessions start runs at once on one server: six through Dash's callback endpoint (as the page
sends them) and two in real Chromium tabs. Each must get its own result, equal to the same config run
directly with `sim.run`, and none may see another's; the page must keep answering while the runs
wait. Then the bounds: every numeric input checked on the server, an oversized or malformed request
refused, too many runs for a tab or for the server refused with one line, a dead worker reported and
replaced, and the finished runs kept bounded. Timings are printed (`pytest -s`), never asserted.
"""
from __future__ import annotations

import json
import math
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd
import pytest
from playwright import sync_api

from sim.presets import compose_config
from sim.dashboard import app as dashboard_app
from sim.dashboard.layout import INPUTS
from sim.dashboard.runs import RunManager, new_id
from sim.run import run_to_folder, summary_table

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--no-first-run"]
HORIZON = "disease.horizon_days=42"  # 12 simulated days: about a second per run
START_DAY = 35
# (seed, dose) of each session; the first and fourth are the same config, the fifth a sham dose
HTTP_SESSIONS = [(0, 4e7), (1, 4e7), (2, 4e7), (0, 4e7), (0, 0.0), (3, 1e8)]
BROWSER_SESSIONS = [(4, 4e7), (5, 0.0)]
RESULT_TIMEOUT = 180.0
HTTP_TIMEOUT = 30.0  # generous: a page request must never wait for the runs


def overrides(seed: int, dose: float) -> list[str]:
    """What the server composes for these page inputs (`callbacks.overrides_from_inputs` + --override)."""
    return ["domain=quick", "disease=sod1_g93a_mouse", "treatment=iv_msc", f"treatment.dose_cells_per_kg={dose!r}",
            f"treatment.start_day={float(START_DAY)!r}", "treatment.n_infusions=1", "treatment.interval_days=30.0",
            f"seed={seed}", HORIZON]


# --------------------------------------------------------------------------- talking to the server as the page does
class Client:
    """Posts callbacks to /_dash-update-component with the ids and properties the layout declares."""

    def __init__(self, url: str):
        self.url = url
        with urllib.request.urlopen(url + "_dash-dependencies", timeout=HTTP_TIMEOUT) as r:
            self.deps = json.load(r)

    def raw(self, body: bytes, content_type: str = "application/json") -> tuple[int, bytes]:
        req = urllib.request.Request(self.url + "_dash-update-component", data=body, method="POST",
                                     headers={"Content-Type": content_type})
        try:
            with urllib.request.urlopen(req, timeout=HTTP_TIMEOUT) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def call(self, output_contains: str, inputs: dict, state: dict | None = None) -> dict:
        """One callback; returns {component id: {property: value}} ({} for no update)."""
        # the callback whose first output this is (others may also write it, with allow_duplicate)
        dep = next((d for d in self.deps if d["output"].lstrip(".").startswith(output_contains)), None) \
            or next(d for d in self.deps if output_contains in d["output"])
        out = dep["output"]
        specs = [o.rsplit(".", 1) for o in out[2:-2].split("...")] if out.startswith("..") else [out.rsplit(".", 1)]
        outputs = [{"id": i, "property": p} for i, p in specs]

        def values(deps, given):
            return [{"id": s["id"], "property": s["property"], "value": given.get(f"{s['id']}.{s['property']}")}
                    for s in deps]

        body = {"output": out, "outputs": outputs if len(outputs) > 1 else outputs[0],
                "inputs": values(dep["inputs"], inputs), "state": values(dep["state"], state or {}),
                "changedPropIds": list(inputs)}
        status, data = self.raw(json.dumps(body).encode())
        assert status in (200, 204), data[:500]
        return json.loads(data)["response"] if status == 200 else {}


class Session:
    """One tab driven over HTTP: its own session id and inputs."""

    def __init__(self, client: Client, seed: int, dose: float, start_day: float = START_DAY):
        self.client, self.seed, self.dose, self.id = client, seed, dose, new_id()
        self.state = {"session.data": self.id, "disease.value": "sod1_g93a_mouse", "dose.value": dose,
                      "start-day.value": start_day, "n-infusions.value": 1, "interval.value": 30, "seed.value": seed}
        self.job: str | None = None
        self.summary = ""

    def press_run(self, **changed) -> str:
        """Press Run (with some inputs changed); returns the message line ('' when the run started)."""
        resp = self.client.call("job.data", {"run-button.n_clicks": 1},
                                {**self.state, **{f"{k.replace('_', '-')}.value": v for k, v in changed.items()}})
        if "job" in resp:
            self.job = resp["job"]["data"]["job"]
        return resp["run-message"]["children"]

    def poll(self, job: str | None = None, session: str | None = None) -> dict:
        return self.client.call("progress.value", {"poll.n_intervals": 1},
                                {"job.data": {"job": job or self.job}, "session.data": session or self.id})

    def show(self, job: str | None = None) -> str:
        resp = self.client.call("summary.children", {"shown.data": {"job": job or self.job}}, {"session.data": self.id})
        return resp["summary"]["children"]

    def wait_result(self) -> str:
        end = time.monotonic() + RESULT_TIMEOUT
        while time.monotonic() < end:
            resp = self.poll()
            if resp["run-status"]["children"].startswith("done"):
                self.summary = self.show(resp["shown"]["data"]["job"])
                return self.summary
            assert resp["run-status"]["children"] != "failed", resp
            time.sleep(0.3)
        raise AssertionError(f"session seed={self.seed} got no result")


def get_page(url: str) -> float:
    """Seconds to GET the page (the layout with a fresh session id) and its layout JSON."""
    t = time.monotonic()
    for path in ("", "_dash-layout"):
        with urllib.request.urlopen(url + path, timeout=HTTP_TIMEOUT) as r:
            assert r.status == 200 and r.read()
    return time.monotonic() - t


def timeseries(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / "timeseries.parquet")


def run_folder_of(work: Path, session: str) -> Path:
    (folder,) = (work / "runs" / session).iterdir()
    return folder


# --------------------------------------------------------------------------- browser tabs
def open_tab(browser, url: str, seed: int, dose: float):
    context = browser.new_context(viewport={"width": 1200, "height": 900})
    tab = context.new_page()
    tab.set_default_timeout(60_000)
    tab.goto(url)
    tab.wait_for_selector("#run-button")
    for input_id, value in (("dose", f"{dose:g}"), ("seed", str(seed)), ("start-day", str(START_DAY))):
        tab.fill(f"#{input_id}", value)
        tab.press(f"#{input_id}", "Tab")  # inputs are debounced: leaving the field commits the value
    return context, tab


def wait_tab_result(tab, seed: int) -> str:
    tab.wait_for_function(
        """s => { const t = document.querySelector('#summary')?.innerText || '';
             const g = document.querySelector('#graph-survival .js-plotly-plot');
             return t.includes(s) && g && g._fullData && g._fullData.length === 4; }""",
        arg=f"seed={seed} ", timeout=RESULT_TIMEOUT * 1000)
    return tab.inner_text("#summary")


# =========================================================================== fixtures
@pytest.fixture(scope="module")
def load_server(dashboard_server, tmp_path_factory) -> tuple[str, Path]:
    work = tmp_path_factory.mktemp("load-work")
    url = dashboard_server(work, "--max-runs", "2", "--max-queued", "8", "--override", HORIZON)
    return url, work


# =========================================================================== bounds on every input and request
def test_every_numeric_input_is_checked_on_the_server_with_its_range(load_server):
    url, work = load_server
    client = Client(url)
    session = Session(client, seed=0, dose=4e7)
    for input_id, (label, _unit, _note, lo, hi, _step, _default) in INPUTS.items():
        key = input_id.replace("-", "_")
        bad = [lo - 1, hi + 1, hi * 10 + 1, None, "1", True, [1], {"v": 1}, 10**400, math.nan, math.inf, -math.inf]
        if input_id in ("n-infusions", "seed"):
            bad.append(1.5)
        for value in bad:
            message = session.press_run(**{key: value})
            assert message.startswith(f"Not run: {label}: ") and f"from {lo:g} to {hi:g}" in message, (value, message)
            assert "\n" not in message and len(message) < 200
    for disease in ("../../etc", None, 3, "human_sporadic "):
        message = session.press_run(disease=disease)
        assert message.startswith("Not run: disease preset: ") and "sod1_g93a_mouse" in message
    # inside the page's bounds, outside the model's: the model's one-line message (with the server's horizon)
    assert "allowed range is [30, 42)" in session.press_run(start_day=90)
    assert session.job is None and not (work / "runs").exists()  # nothing was started


def test_oversized_and_malformed_requests_are_refused_and_the_server_carries_on(load_server):
    url, _ = load_server
    client = Client(url)
    status, _ = client.raw(b"[" + b"0," * (600 * 1024) + b"0]")  # 1.2 MB: over the 1 MiB cap
    assert status == 413
    assert client.raw(b"{not json")[0] == 400
    assert client.raw(json.dumps({"output": "no-such.output", "inputs": []}).encode())[0] in (400, 500)
    assert client.raw(b"[" * 100_000)[0] in (400, 500)  # nesting deeper than the JSON parser takes
    message = Session(client, seed=0, dose=4e7).press_run(dose=1e12)  # and a normal request still works
    assert message.startswith("Not run: dose per infusion")
    get_page(url)


def test_an_override_of_a_page_input_or_a_bad_one_stops_the_dashboard_at_start(tmp_path, capsys):
    for bad, words in ((["--override", "seed=3"], "seed is set in the page"),
                       (["--override", "disease.horizon_days=-5"], "disease.horizon_days=-5"),
                       (["--override", "nope=1"], "nope is not a known parameter")):
        with pytest.raises(SystemExit) as info:
            dashboard_app.main(["--workdir", str(tmp_path), *bad])
        assert info.value.code == 2 and words in capsys.readouterr().err
    for bad in (["--max-queued", "0"], ["--max-queued", "1000"], ["--max-runs", "64"]):
        with pytest.raises(SystemExit):
            dashboard_app.parse_args(bad)


# =========================================================================== eight sessions at once
@pytest.mark.browser
@pytest.mark.slow  # eight real runs queued on two workers; the quick loop keeps the busy-server and bad-input checks
def test_eight_sessions_at_once_each_get_their_own_result_and_the_page_stays_responsive(load_server, tmp_path):
    url, work = load_server
    client = Client(url)
    http = [Session(client, seed, dose) for seed, dose in HTTP_SESSIONS]
    with sync_api.sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        tabs = [open_tab(browser, url, seed, dose) for seed, dose in BROWSER_SESSIONS]

        t0 = time.monotonic()
        with ThreadPoolExecutor(len(http)) as pool:
            assert list(pool.map(Session.press_run, http)) == [""] * len(http)
        for _context, tab in tabs:
            tab.click("#run-button")
        submitted = time.monotonic() - t0

        # a tab with a run going cannot start another (the last one submitted waits behind seven others)
        assert http[-1].press_run() == "Not run: a run is already going in this tab: wait for it to finish"
        # the page answers while the runs wait: a fresh page load and a light callback
        statuses = [s.poll()["run-status"]["children"] for s in http]
        pending = sum(not s.startswith("done") for s in statuses)
        page_latency = [get_page(url) for _ in range(3)]
        t = time.monotonic()
        http[0].poll()
        poll_latency = time.monotonic() - t
        assert pending >= 1, statuses  # the latencies above were measured with runs waiting

        with ThreadPoolExecutor(len(http)) as pool:
            summaries = list(pool.map(Session.wait_result, http))
        tab_summaries = [wait_tab_result(tab, seed) for (_c, tab), (seed, _d) in zip(tabs, BROWSER_SESSIONS)]
        all_in = time.monotonic() - t0
        for (_context, tab), (seed, _dose) in zip(tabs, BROWSER_SESSIONS):
            assert tab.locator("#notice").is_visible()
            tab.screenshot(path=str(tmp_path / f"tab-seed{seed}.png"))
        browser.close()
    print(f"\n8 sessions: submitted in {submitted:.2f} s, all results in {all_in:.1f} s; page GET while "
          f"{pending} of 6 HTTP sessions pending: {', '.join(f'{x * 1000:.0f}' for x in page_latency)} ms; "
          f"poll callback {poll_latency * 1000:.0f} ms")

    # every session shows its own seed and dose, in the page and in its run folder
    for s, text in zip(http, summaries):
        assert f"seed={s.seed} " in text and f"{s.dose:.3g} cells/kg" in text and "Run started in this tab." in text
    for (seed, dose), text in zip(BROWSER_SESSIONS, tab_summaries):
        assert f"seed={seed} " in text and f"{dose:.3g} cells/kg" in text
    folders = {s.id: run_folder_of(work, s.id) for s in http}
    tab_sessions = sorted({p.name for p in (work / "runs").iterdir()} - set(folders))
    assert len(tab_sessions) == len(BROWSER_SESSIONS)  # one folder per browser tab, no more
    for session in tab_sessions:
        folder = run_folder_of(work, session)
        folders[session] = folder
    by_config: dict[tuple[int, float], list[Path]] = {}
    for folder in folders.values():
        summary = json.loads((folder / "summary.json").read_text())
        by_config.setdefault((summary["seed"], summary["treatment"]["dose_cells_per_kg"]), []).append(folder)
    assert sorted((k, len(v)) for k, v in by_config.items()) == sorted(
        [(c, [*HTTP_SESSIONS, *BROWSER_SESSIONS].count(c)) for c in set(HTTP_SESSIONS) | set(BROWSER_SESSIONS)])

    # no cross-talk: a session can neither poll nor show another's run
    a, b = http[0], http[1]
    assert a.poll(job=b.job)["run-status"]["children"] == "no run"
    assert "not available in this tab" in a.show(job=b.job)

    # same config → identical results; another seed → different results; a sham dose → treated = control
    same = by_config[(0, 4e7)]
    pd.testing.assert_frame_equal(timeseries(same[0]), timeseries(same[1]))
    assert not timeseries(by_config[(1, 4e7)][0]).equals(timeseries(by_config[(2, 4e7)][0]))
    sham = timeseries(by_config[(0, 0.0)][0])
    control, treated = (sham[sham["arm"] == arm].drop(columns="arm").reset_index(drop=True)
                        for arm in ("control", "treated"))
    pd.testing.assert_frame_equal(control, treated)

    # and each equals the same config run directly with sim.run (a session from HTTP, a sham, a browser tab)
    for seed, dose in ((0, 4e7), (0, 0.0), BROWSER_SESSIONS[0]):
        direct = tmp_path / f"direct-{seed}-{dose:g}"
        summary = run_to_folder(compose_config(overrides(seed, dose)), direct)
        served = by_config[(seed, dose)][0]
        pd.testing.assert_frame_equal(timeseries(served), timeseries(direct))
        served_summary = json.loads((served / "summary.json").read_text())
        assert served_summary["arms"] == json.loads(json.dumps(summary["arms"]))
        assert served_summary["config_hash"] == summary["config_hash"]
        shown = tab_summaries[0] if (seed, dose) == BROWSER_SESSIONS[0] else summaries[HTTP_SESSIONS.index((seed, dose))]
        assert all(line in shown for line in summary_table(summary).splitlines() if line)


# =========================================================================== the run manager's own bounds
SHORT = ["domain=quick", "disease.horizon_days=40", "treatment.start_day=35"]


def wait_state(manager: RunManager, job, states: tuple[str, ...], timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status = manager.status(job)
        if status.state in states:
            return status
        time.sleep(0.05)
    raise AssertionError(f"run never reached {states}: {manager.status(job)}")


def test_a_dead_worker_fails_its_run_with_a_message_and_the_next_run_works(tmp_path):
    manager = RunManager(tmp_path, max_workers=1, keep_total=2)
    try:
        a, b, c = new_id(), new_id(), new_id()
        long_job = manager.submit(a, compose_config(["domain=quick"]), ["domain=quick"])
        wait_state(manager, long_job, ("running",))
        (worker,) = manager.worker_processes()
        worker.kill()  # as the OOM killer would
        status = wait_state(manager, long_job, ("failed",))
        assert "worker process stopped unexpectedly" in status.message and "\n" not in status.message
        job_b = manager.submit(b, compose_config([*SHORT, "seed=1"]), SHORT)  # on a fresh pool
        assert wait_state(manager, job_b, ("done", "failed")).state == "done"
        assert (job_b.folder / "summary.json").is_file() and process_ends(worker.pid, timeout=10.0)
        # at most keep_total finished runs are kept in all: the oldest one (a's) is forgotten, folder and all
        job_c = manager.submit(c, compose_config([*SHORT, "seed=2"]), SHORT)
        assert manager.get(a, long_job.id) is None and not (tmp_path / "runs" / a).exists()
        assert manager.get(b, job_b.id) is job_b and job_b.folder.is_dir()
        wait_state(manager, job_c, ("running", "done"))
        workers = manager.worker_processes()
    finally:
        manager.shutdown()
    for process in workers:  # shutdown stops the workers it started (without the pool's private attributes)
        assert process_ends(process.pid, timeout=10.0)


def process_ends(pid: int, timeout: float) -> bool:
    """True once the process has exited (gone, or a zombie awaiting its reaper), asked of the OS.

    Not Process.is_alive(): the pool's own management thread may reap the worker first, and then
    is_alive() in this thread keeps answering True for a process that no longer exists.
    """
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except (FileNotFoundError, ProcessLookupError):
            return True
        if stat.rsplit(")", 1)[1].split()[0] in ("Z", "X"):
            return True
        time.sleep(0.05)
    return False


def test_too_many_runs_for_a_tab_or_for_the_server_get_one_line(dashboard_server, tmp_path):
    # full-length runs (about 15 s each) on one worker, two in all: the third tab is refused
    url = dashboard_server(tmp_path, "--max-runs", "1", "--max-queued", "2")
    client = Client(url)
    a, b, c = (Session(client, seed, 4e7, start_day=90) for seed in (0, 1, 2))
    assert a.press_run() == "" and b.press_run() == ""
    assert c.press_run() == ("Not run: the server is busy (2 runs queued or running, the most it takes): "
                             "try again in a minute")
    assert a.press_run() == "Not run: a run is already going in this tab: wait for it to finish"
    assert c.job is None and b.poll()["run-status"]["children"].startswith(("waiting", "simulating"))
    get_page(url)  # the page still loads for a new tab
    # `kill` with a run going: the server stops at once and takes its worker processes with it
    server = dashboard_server.processes[url]
    workers = children_of(server.pid)
    assert workers  # the worker simulating a's run
    server.terminate()
    assert server.wait(timeout=10) == 0
    end = time.monotonic() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.monotonic() < end:
        time.sleep(0.1)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def children_of(pid: int) -> list[int]:
    """Process ids whose parent is pid (from /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found
