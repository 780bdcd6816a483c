"""No orphans: killing the parent of a cohort pool or a joblib sweep ends its workers within seconds; SIGTERM
removes the snapshot spool and temporary files.

Each test starts a long real command (a 2000-day quick run: minutes of work), waits until its worker
processes exist and are simulating, sends the signal to the parent only, and watches /proc.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim import lifeline

LONG = ["domain=quick", "disease.horizon_days=2000"]
GRACE_S = 5.0  # workers poll every 0.5 s; measured: all gone ~0.5 s after the parent's SIGKILL

pytestmark = pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads the process table from /proc (Linux)")


def _stat(pid: int) -> list[str] | None:
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def children(pid: int) -> list[int]:
    """Live (not zombie) processes whose parent is pid."""
    out = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit() and (st := _stat(int(p.name))) and int(st[1]) == pid and st[0] != "Z":
            out.append(int(p.name))
    return out


def alive(pid: int) -> bool:
    st = _stat(pid)
    return st is not None and st[0] != "Z"


def _default_sigint() -> None:
    """In the child before exec: SIGINT as a terminal's Ctrl-C finds it. A shell starts background jobs (and so a
    test run started with `&`) with SIGINT ignored, and an ignored signal stays ignored across exec."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def start(cwd: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "sim", *args], cwd=cwd, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, preexec_fn=_default_sigint)


def wait_for(condition, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.1)


def seconds_until_gone(pids: list[int], limit: float = 60.0) -> float:
    started = time.monotonic()
    while any(alive(p) for p in pids) and time.monotonic() - started < limit:
        time.sleep(0.05)
    return time.monotonic() - started


def kill_parent_and_check_workers(proc: subprocess.Popen, spools) -> None:
    """SIGKILL the parent only; its workers must be gone within the grace time and have removed their spools."""
    workers = children(proc.pid)
    proc.kill()
    proc.wait()
    took = seconds_until_gone(workers)
    assert not [p for p in workers if alive(p)], "workers outlived their parent"
    assert took < GRACE_S, took
    wait_for(lambda: not spools(), timeout=5)  # the orphans cleaned up


def test_sigkill_of_a_runs_parent_ends_both_arm_workers(tmp_path):
    run = tmp_path / "run"
    proc = start(tmp_path, *LONG, f"hydra.run.dir={run}")
    try:
        wait_for(lambda: len(children(proc.pid)) >= 2 and any((run / "snapshots").glob(".spool.tmp-*/*.f32")))
        kill_parent_and_check_workers(proc, lambda: list((run / "snapshots").glob(".spool.tmp-*")))
    finally:
        proc.kill()


POOL = """
import sys
from pathlib import Path
from sim.presets import compose_config
from sim.run import ArmJob, run_arms_parallel
out = Path(sys.argv[1])
cfg = compose_config(["domain=quick", "disease.horizon_days=2000"])
jobs = [ArmJob(cfg, arm, None, out / f"{arm}" / ".spool.tmp-x") for arm in ("control", "treated")]
run_arms_parallel(jobs, workers=2)
"""


def test_sigkill_of_a_cohort_pools_parent_ends_its_workers(tmp_path):
    # the pool calibration and sensitivity cohorts run on (`sim.run.run_arms_parallel`), one cohort per worker
    proc = subprocess.Popen([sys.executable, "-c", POOL, str(tmp_path)], cwd=tmp_path, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: len(children(proc.pid)) >= 2 and len(list(tmp_path.glob("*/.spool.tmp-x/*.f32"))) >= 2)
        kill_parent_and_check_workers(proc, lambda: list(tmp_path.glob("*/.spool.tmp-*")))
    finally:
        proc.kill()


@pytest.mark.parametrize("sig", [signal.SIGTERM, pytest.param(signal.SIGINT, marks=pytest.mark.slow)])  # one path quick
def test_sigterm_and_sigint_remove_the_spool_and_write_no_result(tmp_path, sig):
    run = tmp_path / "run"
    proc = start(tmp_path, *LONG, f"hydra.run.dir={run}")
    try:
        wait_for(lambda: any((run / "snapshots").glob(".spool.tmp-*/*.f32")))
        workers = children(proc.pid)
        proc.send_signal(sig)
        assert proc.wait(timeout=30) != 0
        assert seconds_until_gone(workers) < GRACE_S
        left = sorted(p.relative_to(run).as_posix() for p in run.rglob("*") if ".tmp" in p.name or p.suffix in (".parquet", ".npz"))
        assert left == [] and not (run / "summary.json").exists()
    finally:
        proc.kill()


@pytest.mark.slow  # a 4-job joblib sweep must have both workers simulating first; the quick loop kills a run's and a pool's
def test_sigkill_of_a_joblib_sweep_ends_its_workers(tmp_path):
    proc = start(tmp_path, "-m", "seed=0,1,2,3", "hydra/launcher=parallel", *LONG, f"hydra.sweep.dir={tmp_path / 'sweep'}")
    try:
        # both workers simulating a job (a job's two arms spool side by side, so count job folders)
        wait_for(lambda: len({p.parents[2] for p in (tmp_path / "sweep").glob("*/snapshots/.spool.tmp-*/*.f32")}) >= 2)
        workers = children(proc.pid)  # loky workers and the resource trackers
        assert len(workers) >= 2
        proc.kill()
        proc.wait()
        took = seconds_until_gone(workers)
        assert not [p for p in workers if alive(p)] and took < GRACE_S, took
        wait_for(lambda: not list((tmp_path / "sweep").glob("*/snapshots/.spool.tmp-*")), timeout=5)
    finally:
        proc.kill()


def test_watch_launcher_only_watches_from_a_worker_the_launcher_started(monkeypatch):
    monkeypatch.setenv(lifeline.LAUNCHER_ENV, str(os.getpid()))
    monkeypatch.setattr(lifeline, "watch_parent", lambda pid=None: pytest.fail("the launcher must not watch itself"))
    lifeline.watch_launcher()


DASHBOARD_PARENT = """
import sys, time
from pathlib import Path
from sim.dashboard.runs import RunManager, new_id
from sim.presets import compose_config
if __name__ == "__main__":
    manager = RunManager(Path(sys.argv[1]))
    overrides = ["domain=quick", "disease.horizon_days=2000"]
    for _ in range(2):
        manager.submit(new_id(), compose_config(overrides), overrides)
    time.sleep(600)
"""


def test_sigkill_of_the_dashboard_ends_its_run_workers(tmp_path):
    script = tmp_path / "server.py"
    script.write_text(DASHBOARD_PARENT)
    work = tmp_path / "work"
    proc = subprocess.Popen([sys.executable, str(script), str(work)])  # the dashboard's own RunManager, no web server
    try:
        wait_for(lambda: len(list(work.rglob(".spool.tmp-*/*.f32"))) >= 2)
        workers = children(proc.pid)  # two run workers and the resource tracker
        assert len(workers) >= 2
        proc.kill()
        proc.wait()
        took = seconds_until_gone(workers)
        assert not [p for p in workers if alive(p)] and took < GRACE_S, took
        wait_for(lambda: not list(work.rglob(".spool.tmp-*")), timeout=5)
    finally:
        proc.kill()
