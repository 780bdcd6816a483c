"""`alsim-dashboard`: the educators' dashboard (Plotly Dash), served on 127.0.0.1:8050 by default.

    alsim-dashboard                          # run and watch scenarios
    alsim-dashboard --results multirun/      # also explore the finished sweeps under that folder
    alsim-dashboard --host 0.0.0.0 --port 8080 --workdir /tmp/alsim-dash

NON-CLINICAL: a teaching and research model, not medical advice.
"""
from __future__ import annotations

import argparse
import atexit
import shutil
import signal
import sys
import tempfile
from pathlib import Path

from dash import Dash

import sim
from sim.dashboard import callbacks, layout, sweeps
from sim.dashboard.runs import RunManager

ASSETS = Path(__file__).parent / "assets"
PROG = "alsim-dashboard"


def create_app(workdir: Path, results: Path | None = None, max_workers: int = 2, max_pending: int = 6) -> Dash:
    """The Dash app: runs go into workdir; sweeps are read only from under results (if given)."""
    results = Path(results).resolve() if results is not None else None
    manager = RunManager(Path(workdir), max_workers=max_workers, max_pending=max_pending)
    app = Dash(__name__, title="alsim dashboard (non-clinical teaching model)", assets_folder=str(ASSETS),
               suppress_callback_exceptions=True)
    # a function, so each page load (each browser tab) gets its own session id and a fresh sweep list
    app.layout = lambda: layout.page(sweeps.list_sweeps(results) if results is not None else None)
    callbacks.register(app, manager, results)
    app.run_manager = manager  # type: ignore[attr-defined]  # for tests and shutdown
    return app


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description="Educators' dashboard: run, watch and explain alsim scenarios, "
                                "and explore finished sweeps. " + sim.NOTICE)
    p.add_argument("--results", type=Path, help="a folder of finished sweeps (e.g. multirun/); only files under it are read")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    p.add_argument("--workdir", type=Path, help="where runs started in the page are written (default: a temporary "
                   "folder removed on exit)")
    p.add_argument("--max-runs", type=int, default=2, choices=range(1, 9), metavar="N",
                   help="runs simulated at the same time (default 2)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if args.results is not None and not args.results.is_dir():
        print(f"{PROG}: error: --results {args.results} is not a folder", file=sys.stderr)
        raise SystemExit(2)
    workdir = args.workdir
    if workdir is None:
        workdir = Path(tempfile.mkdtemp(prefix="alsim-dashboard-"))
        atexit.register(shutil.rmtree, workdir, ignore_errors=True)
    workdir.mkdir(parents=True, exist_ok=True)
    app = create_app(workdir, args.results, max_workers=args.max_runs)
    atexit.register(app.run_manager.shutdown)
    # a plain `kill` should also stop the runs and remove the temporary work dir (atexit runs on SystemExit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(sim.NOTICE, file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"{PROG}: warning: listening on {args.host}: anyone who can reach this machine can start runs",
              file=sys.stderr)
    print(f"{PROG}: serving on http://{args.host}:{args.port}  (runs in {workdir})", file=sys.stderr, flush=True)
    app.run(host=args.host, port=args.port, debug=False)


if __name__ == "__main__":
    main()
