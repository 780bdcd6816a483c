"""No orphans: worker processes end when their parent dies, and signals clean up temporary files.

A worker (an arm of a run, a joblib/loky sweep job, a dashboard run) calls `watch_parent()` once.
A daemon thread then checks every POLL_SECONDS whether the worker has been re-parented (its parent
died, even by SIGKILL, which no handler can catch) and, if so, removes the temporary paths
registered with `remove_on_exit` and ends the process at once. Polling `os.getppid()` is used
instead of Linux's PR_SET_PDEATHSIG because that fires when the *thread* that started the worker
ends, and the dashboard starts workers from short-lived request threads.

`terminate_cleanly()` turns SIGTERM into an ordinary exception in the main thread, so the
`finally` blocks that remove spools and half-written files run (SIGINT already does this).
"""
from __future__ import annotations

import os
import shutil
import signal
import threading
import time
from pathlib import Path

POLL_SECONDS = 0.5
EXIT_ORPHANED = 70
LAUNCHER_ENV = "ALSIM_LAUNCHER_PID"  # the pid of the `alsim` process that launched a sweep's workers

_lock = threading.Lock()
_watching = 0  # pid of the process whose watcher runs (a forked child inherits this, but not the thread)
_cleanup: set[Path] = set()


class Terminated(SystemExit):
    """Raised in the main thread on SIGTERM, so cleanup code runs (exit status 143, as the signal would give)."""

    def __init__(self) -> None:
        super().__init__(128 + signal.SIGTERM)


def remove_on_exit(path: Path) -> None:
    """Remove `path` (file or folder) if this worker is ended because its parent died."""
    with _lock:
        _cleanup.add(Path(path))


def forget(path: Path) -> None:
    with _lock:
        _cleanup.discard(Path(path))


def _clean() -> None:
    with _lock:
        paths = list(_cleanup)
    for p in paths:
        if p.is_dir() and not p.is_symlink():
            shutil.rmtree(p, ignore_errors=True)
        else:
            try:
                p.unlink()
            except OSError:
                pass


def watch_parent(parent_pid: int | None = None) -> None:
    """In a worker process: end it (after cleanup) within POLL_SECONDS of its parent's death. Idempotent."""
    global _watching
    parent = parent_pid if parent_pid is not None else os.getppid()
    with _lock:
        if _watching == os.getpid():
            return
        _watching = os.getpid()

    def watch() -> None:
        while True:
            if os.getppid() != parent:  # re-parented to init or a subreaper: the parent is gone
                _clean()
                os._exit(EXIT_ORPHANED)
            time.sleep(POLL_SECONDS)

    threading.Thread(target=watch, name="alsim-lifeline", daemon=True).start()


def watch_launcher() -> None:
    """In a sweep job: watch the launching `alsim` process if this job runs in a worker it started (joblib/loky).

    A job run inside the launching process itself (basic launcher), or on another machine (SLURM), is left alone.
    """
    text = os.environ.get(LAUNCHER_ENV, "")
    if text.isdigit() and int(text) != os.getpid() and os.getppid() == int(text):
        watch_parent(int(text))


def mark_launcher() -> None:
    """In the `alsim` process: let the workers it starts know whom to watch."""
    os.environ[LAUNCHER_ENV] = str(os.getpid())


def terminate_cleanly() -> None:
    """Make SIGTERM raise `Terminated` in the main thread (only callable from the main thread)."""
    def handler(signum, frame) -> None:
        raise Terminated()

    signal.signal(signal.SIGTERM, handler)
