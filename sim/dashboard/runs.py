"""Background runs for the dashboard: a small process pool, owned per browser tab.

Every tab has its own session id; a job belongs to the session that started it, and a request
naming another session's job gets nothing, so tabs never see each other's runs. At most
`max_workers` runs simulate at once (each in its own process, arms one after the other, at a
lower CPU priority than the web server so the page stays responsive) and at most `max_pending`
wait or run in all; one tab runs one job at a time. Finished runs are kept per tab
(`keep_per_session`) and in all (`keep_total`), so the work dir stays bounded however many tabs
come and go. A worker that dies (killed, out of memory) fails its run with a message and the pool
is started afresh for the next one. A worker writes the run folder exactly as the CLI does
(`sim.run.run_to_folder`) plus `progress.json`, which the page polls.
"""
from __future__ import annotations

import json
import multiprocessing
import os
import re
import shutil
import threading
import time
import uuid
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from sim.config import SimConfig

PROGRESS = "progress.json"
ID_PATTERN = re.compile(r"^[0-9a-f]{32}$")
WORKER_NICENESS = 5  # the server keeps ~3/4 of a contended core
# spawn, not fork: the web server is multi-threaded, and forking threads is unsafe
SPAWN = multiprocessing.get_context("spawn")


class Busy(Exception):
    """The run cannot start now (one line, shown in the page)."""


def new_id() -> str:
    return uuid.uuid4().hex


def valid_id(value: object) -> bool:
    """Session and job ids are 32 hex digits (also safe as folder names)."""
    return isinstance(value, str) and bool(ID_PATTERN.match(value))


# --------------------------------------------------------------------------- worker side
def _write_json(path: Path, data: dict) -> None:
    from sim.recorder import write_text_atomic

    write_text_atomic(path, json.dumps(data))


def _write_hydra_files(folder: Path, cfg: SimConfig, overrides: list[str]) -> None:
    """What Hydra writes for a CLI run, so `alsim-compare` can collect dashboard runs too."""
    hydra = folder / ".hydra"
    hydra.mkdir(parents=True, exist_ok=True)
    (hydra / "config.yaml").write_text(OmegaConf.to_yaml(OmegaConf.structured(cfg)), encoding="utf-8")
    (hydra / "overrides.yaml").write_text("".join(f"- {o}\n" for o in overrides), encoding="utf-8")


def execute_run(cfg: SimConfig, overrides: list[str], folder: str) -> str:
    """Simulate both arms and write the run folder (runs in a worker process)."""
    from sim.run import arms_of, run_to_folder

    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    _write_hydra_files(out, cfg, overrides)
    arms = arms_of(cfg)
    last = [-1.0]

    def progress(arm: str, fraction: float) -> None:
        total = (arms.index(arm) + fraction) / len(arms)
        if total - last[0] >= 0.01:  # a file write per percent is plenty for a progress bar
            last[0] = total
            _write_json(out / PROGRESS, {"fraction": total, "arm": arm})

    _write_json(out / PROGRESS, {"fraction": 0.0, "arm": arms[0]})
    run_to_folder(cfg, out, progress, workers=1)  # snapshots stream to disk: memory stays flat
    _write_json(out / PROGRESS, {"fraction": 1.0, "arm": arms[-1]})
    return str(out)


def _worker_init() -> None:
    """In each new worker: yield the CPU to the web server, so the page stays responsive."""
    if hasattr(os, "nice"):
        os.nice(WORKER_NICENESS)
    from sim import lifeline

    lifeline.watch_parent()  # end with the server, even if it is killed (SIGKILL)


def _warm() -> None:
    """Import the model in a worker before the first run, so the first run is not slower."""
    import sim.run  # noqa: F401


# --------------------------------------------------------------------------- server side
@dataclass
class Job:
    id: str
    session: str
    folder: Path
    overrides: list[str]
    future: Future
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None

    @property
    def elapsed(self) -> float:
        """Seconds from submission to the end of the run (or to now, while it goes on)."""
        return (self.finished or time.monotonic()) - self.started


@dataclass
class Status:
    state: str           # queued, running, done, failed
    fraction: float
    message: str


class RunManager:
    """Starts runs in a bounded process pool and answers for them per session."""

    def __init__(self, workdir: Path, max_workers: int = 2, max_pending: int = 6, keep_per_session: int = 3,
                 keep_total: int = 60):
        self.workdir = Path(workdir)
        self.max_workers = max_workers
        self.max_pending = max_pending
        self.keep_per_session = keep_per_session
        self.keep_total = keep_total
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._workers: set[multiprocessing.process.BaseProcess] = set()
        self._pool = self._new_pool()

    def _new_pool(self) -> ProcessPoolExecutor:
        pool = ProcessPoolExecutor(max_workers=self.max_workers, mp_context=SPAWN, initializer=_worker_init)
        self._submit(pool, _warm)
        return pool

    def _submit(self, pool: ProcessPoolExecutor, fn, *args) -> Future:
        """pool.submit, noting the worker processes it starts (the pool starts them inside submit)."""
        before = set(multiprocessing.active_children())
        future = pool.submit(fn, *args)
        self._workers |= set(multiprocessing.active_children()) - before
        return future

    def worker_processes(self) -> list[multiprocessing.process.BaseProcess]:
        """The live worker processes of this manager's pools."""
        self._workers = {p for p in self._workers if p.is_alive()}
        return list(self._workers)

    def _pending(self) -> list[Job]:
        return [j for j in self._jobs.values() if not j.future.done()]

    def submit(self, session: str, cfg: SimConfig, overrides: list[str]) -> Job:
        """Queue a run for this session; raise Busy if the tab or the server has too much going on."""
        if not valid_id(session):
            raise Busy("this page has no valid session: reload it")
        with self._lock:
            pending = self._pending()
            if any(j.session == session for j in pending):
                raise Busy("a run is already going in this tab: wait for it to finish")
            if len(pending) >= self.max_pending:
                raise Busy(f"the server is busy ({len(pending)} runs queued or running, the most it takes): "
                           "try again in a minute")
            job_id = new_id()
            folder = self.workdir / "runs" / session / job_id
            try:
                future = self._submit(self._pool, execute_run, cfg, overrides, str(folder))
            except BrokenProcessPool:  # a worker died earlier: its runs have failed; start a fresh pool
                self._pool.shutdown(wait=False, cancel_futures=True)
                self._pool = self._new_pool()
                future = self._submit(self._pool, execute_run, cfg, overrides, str(folder))
            job = self._jobs[job_id] = Job(job_id, session, folder, overrides, future)
            future.add_done_callback(lambda _f, j=job: setattr(j, "finished", time.monotonic()))
            self._forget_old(session)
        return job

    def _forget_old(self, session: str) -> None:
        """Keep only the newest finished runs of a session and in all (the work dir must not grow without bound)."""
        done = sorted((j for j in self._jobs.values() if j.future.done()), key=lambda j: j.started)
        mine = [j for j in done if j.session == session]
        old = {j.id: j for j in mine[:max(0, len(mine) - self.keep_per_session + 1)]}
        old.update((j.id, j) for j in done[:max(0, len(done) - self.keep_total + 1)])
        for job in old.values():
            del self._jobs[job.id]
            shutil.rmtree(job.folder, ignore_errors=True)
            try:
                job.folder.parent.rmdir()  # the session's own folder, if it holds no other run
            except OSError:
                pass

    def get(self, session: str, job_id: str) -> Job | None:
        """The job if it exists and belongs to this session, else None."""
        if not (valid_id(session) and valid_id(job_id)):
            return None
        with self._lock:
            job = self._jobs.get(job_id)
        return job if job is not None and job.session == session else None

    def status(self, job: Job) -> Status:
        if job.future.cancelled():
            return Status("failed", 1.0, "the run was cancelled: the dashboard is stopping")
        if job.future.done():
            exc = job.future.exception()
            if isinstance(exc, BrokenProcessPool):
                return Status("failed", 1.0, "the run failed: its worker process stopped unexpectedly (killed, or "
                              "out of memory); press Run to try again")
            if exc is not None:
                return Status("failed", 1.0, f"the run failed: {type(exc).__name__}: {str(exc)[:200]}")
            return Status("done", 1.0, "done")
        try:
            info = json.loads((job.folder / PROGRESS).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return Status("queued", 0.0, "waiting for a free worker…")
        fraction = float(info.get("fraction", 0.0))
        return Status("running", fraction, f"simulating the {info.get('arm', '')} arm… {fraction:.0%}")

    def shutdown(self) -> None:
        """Cancel queued runs and stop running ones (a closed dashboard has nobody to show them to)."""
        with self._lock:
            workers = self.worker_processes()
        self._pool.shutdown(wait=False, cancel_futures=True)
        for process in workers:
            process.terminate()
