"""Shared fixtures: a short real run folder and a small real sweep, written once per test session.

The run is written by the dashboard's own worker (`sim.dashboard.runs.execute_run`, the same
`simulate` + `write_run_folder` path as the CLI, plus `.hydra/` files); the sweep is the real
`alsim -m` command. The dashboard, the report and `alsim-compare` read exactly what real runs write.
Tests never edit these folders: a test that changes run folders works on its own copy.

Under pytest-xdist the sweep starts with the session, in a background thread, when any selected test reads it: it
simulates while the workers run other tests, so no worker sits idle waiting for it later.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path
from typing import Callable, Iterator

import pytest

from sim.presets import compose_config
from sim.dashboard.runs import execute_run
from sim.experiments import compare

SHORT_RUN = ["domain=quick", "disease.horizon_days=50", "treatment.start_day=35", "seed=3"]
# 2 doses × 2 seeds at one start day; by day 135 every control arm has reached 50 % loss (at 125, seed 1 has not).
SWEEP_HORIZON = 135
SWEEP_BASE = ["domain=quick", f"disease.horizon_days={SWEEP_HORIZON}", "treatment.start_day=80"]
SWEEP_DOSES, SWEEP_SEEDS = (0.0, 4e7), (0, 1)
# run.batch_size=4: the four jobs advance in one cohort (each job's folder as if it ran alone; test_sweep.py checks that)
SWEEP = ["-m", "treatment.dose_cells_per_kg=0,4e7", "seed=0,1", *SWEEP_BASE, "run.batch_size=4"]
N_SWEEP_RUNS = len(SWEEP_DOSES) * len(SWEEP_SEEDS)


def _run(overrides: list[str], folder: Path) -> None:
    execute_run(compose_config(overrides), overrides, str(folder))


def _once(tmp_path_factory, name: str, make: Callable[[Path], Path]) -> Path:
    """`make(empty folder)` -> the path it wrote, once per test run. Under pytest-xdist the first worker to ask
    builds it in the temporary folder all workers share while the others wait, and they all read the same files."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return make(tmp_path_factory.mktemp(name))
    shared = tmp_path_factory.getbasetemp().parent  # pytest-N/, above each worker's popen-gwK/
    folder, done = shared / name, shared / f"{name}.done"
    with open(shared / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file is closed, also if make() fails
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)  # a worker's failed attempt
            folder.mkdir()
            done.write_text(str(make(folder)), encoding="utf-8")
    return Path(done.read_text(encoding="utf-8"))


def _short_run(base: Path) -> Path:
    _run(SHORT_RUN, base / "run")
    return base / "run"


_sweep_procs: list[subprocess.Popen] = []  # the sweep process(es) this worker started, stopped at the session's end


def _cli_sweep(base: Path) -> Path:
    proc = subprocess.Popen([sys.executable, "-m", "sim", *SWEEP], cwd=base, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8")
    _sweep_procs.append(proc)
    try:
        _, err = proc.communicate(timeout=600)
    except subprocess.TimeoutExpired:
        proc.kill()
        _, err = proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    runs = sorted(p.parent for p in (base / "multirun").rglob("summary.json"))
    assert len(runs) == N_SWEEP_RUNS, runs
    return Path(os.path.commonpath(runs))  # multirun/<date>/<time>, whatever the job folders are called


def _small_sweep(cli_sweep: Path) -> Callable[[Path], Path]:
    def make(root: Path) -> Path:
        for summary in sorted(cli_sweep.glob("*/summary.json")):
            shutil.copytree(summary.parent, root / "raw" / summary.parent.name)
        shutil.copytree(root / "raw", root / "compared")
        compare.main([str(root / "compared")])
        return root
    return make


@pytest.fixture(scope="session")
def short_run(tmp_path_factory) -> Path:
    """A finished paired run of 20 simulated days (dose on day 35)."""
    return _once(tmp_path_factory, "short", _short_run)


_SWEEP_READERS = {"cli_sweep", "small_sweep"}


@pytest.fixture(scope="session", autouse=True)
def _sweep_in_background(request, tmp_path_factory) -> Iterator[threading.Thread | None]:
    """Under pytest-xdist, begin `_once(..., "sweep", ...)` in a background thread at each worker's first test if any
    selected test reads the sweep (the worker that takes the lock first simulates it; the other's thread then finds it
    done). `cli_sweep` waits for the thread and raises what it raised (the sweep's stderr, if it failed)."""
    thread = None
    if "PYTEST_XDIST_WORKER" in os.environ and any(
            _SWEEP_READERS & set(getattr(item, "fixturenames", ())) for item in request.session.items):
        def build() -> None:
            try:
                _once(tmp_path_factory, "sweep", _cli_sweep)
            except BaseException as exc:  # noqa: BLE001 - raised again in the test that reads the sweep
                thread.error = exc
        thread = threading.Thread(target=build, name="session-sweep", daemon=True)
        thread.error = None
        thread.start()
    yield thread
    for proc in _sweep_procs:  # only if the session ends before the sweep (-x, Ctrl-C)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def cli_sweep(tmp_path_factory, _sweep_in_background) -> Path:
    """A real 4-run sweep (`alsim -m`, 2 doses × 2 seeds); returns the folder that holds its job folders.

    Simulated once per test run and read by test_compare.py, test_contrast.py, test_cli.py and `small_sweep`: copy it
    before changing anything.
    """
    if _sweep_in_background is not None:
        _sweep_in_background.join()
        if _sweep_in_background.error is not None:
            raise _sweep_in_background.error
    return _once(tmp_path_factory, "sweep", _cli_sweep)


@pytest.fixture(scope="session")
def small_sweep(tmp_path_factory, cli_sweep) -> Path:
    """A results root holding `compared/` (with alsim-compare's output) and `raw/` (run folders only): the job
    folders of `cli_sweep`, copied."""
    return _once(tmp_path_factory, "results", _small_sweep(cli_sweep))


@pytest.fixture(scope="module")
def dashboard_server() -> Iterator[Callable[..., str]]:
    """Start a real dashboard (`python -m sim.dashboard.app --workdir WORK ARGS…` on a free port of
    127.0.0.1); returns its URL once the page answers (`start.processes[url]` is its process). Every server
    started is stopped after the module."""
    started: list[tuple[subprocess.Popen, object]] = []

    def start(work: Path, *args: str) -> str:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        log = open(work / "server.log", "w")
        proc = subprocess.Popen([sys.executable, "-m", "sim.dashboard.app", "--port", str(port), "--workdir", str(work),
                                 *args], stdout=log, stderr=subprocess.STDOUT)
        started.append((proc, log))
        start.processes[f"http://127.0.0.1:{port}/"] = proc
        url, deadline = f"http://127.0.0.1:{port}/", time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url, timeout=2).read()
                return url
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"dashboard did not start: {(work / 'server.log').read_text()[-2000:]}")
                time.sleep(0.2)

    start.processes = {}
    yield start
    for proc, log in started:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def compare_cli(capsys) -> Callable[[list], tuple[int, str, str]]:
    """alsim-compare in this process: call it with its arguments, get (exit code, stdout, stderr)."""
    from sim.experiments import compare

    def run(args: list) -> tuple[int, str, str]:
        try:
            compare.main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 1
        out, err = capsys.readouterr()
        return code, out, err
    return run


def reseal(run: Path) -> None:
    """Rewrite a run folder's manifest after a test edited it on purpose (a deliberate, new result, not corruption)."""
    from sim import manifest

    text = (run / "summary.json").read_text(encoding="utf-8")
    (run / manifest.MANIFEST).write_text(manifest.manifest_text(run, text), encoding="utf-8")
