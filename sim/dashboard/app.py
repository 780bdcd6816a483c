"""`alsim-dashboard`: the educators' dashboard (Plotly Dash), served on 127.0.0.1:8050 by default.

    alsim-dashboard                          # run and watch scenarios
    alsim-dashboard --results multirun/      # also explore the finished sweeps under that folder
    alsim-dashboard --host 0.0.0.0 --port 8080 --workdir /tmp/alsim-dash
    alsim-dashboard --override disease.horizon_days=100   # shorter runs for a class

Bounds: a request body over 1 MiB is refused (HTTP 413); at most --max-runs runs simulate at once
and --max-queued wait or run in all (one per tab), beyond which the page says the server is busy.

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
from sim.config import ConfigError
from sim.dashboard import callbacks, layout, sweeps
from sim.dashboard.runs import RunManager

ASSETS = Path(__file__).parent / "assets"
PROG = "alsim-dashboard"
# The page's callback requests are a few kB (its inputs, a heatmap click); nothing legitimate comes near this.
MAX_REQUEST_BYTES = 1024 * 1024


def create_app(workdir: Path, results: Path | None = None, max_workers: int = 2, max_pending: int = 6,
               run_overrides: list[str] = ()) -> Dash:
    """The Dash app: runs go into workdir; sweeps are read only from under results (if given);
    run_overrides (e.g. a shorter horizon) are added to every run and checked here (ConfigError)."""
    results = Path(results).resolve() if results is not None else None
    run_overrides = callbacks.check_run_overrides(list(run_overrides))
    manager = RunManager(Path(workdir), max_workers=max_workers, max_pending=max_pending)
    app = Dash(__name__, title="alsim dashboard (non-clinical teaching model)", assets_folder=str(ASSETS),
               suppress_callback_exceptions=True)
    app.server.config["MAX_CONTENT_LENGTH"] = MAX_REQUEST_BYTES  # a bigger body gets 413, unread
    # a function, so each page load (each browser tab) gets its own session id and a fresh sweep list
    app.layout = lambda: layout.page(sweeps.list_sweeps(results) if results is not None else None)
    callbacks.register(app, manager, results, run_overrides)
    app.run_manager = manager  # type: ignore[attr-defined]  # for tests and shutdown
    return app


def _count(lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not lo <= value <= hi:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number from {lo} to {hi}")
        return value
    return parse


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog=PROG, description="Educators' dashboard: run, watch and explain alsim scenarios, "
                                "and explore finished sweeps. " + sim.NOTICE)
    p.add_argument("--results", type=Path, help="a folder of finished sweeps (e.g. multirun/); only files under it are read")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1: this machine only)")
    p.add_argument("--port", type=int, default=8050, help="port (default 8050)")
    p.add_argument("--workdir", type=Path, help="where runs started in the page are written (default: a temporary "
                   "folder removed on exit)")
    p.add_argument("--max-runs", type=_count(1, 8), default=2, metavar="N",
                   help="runs simulated at the same time, 1–8 (default 2)")
    p.add_argument("--max-queued", type=_count(1, 64), default=6, metavar="N",
                   help="runs waiting or running in all, one per tab, 1–64 (default 6); beyond it the page says "
                   "the server is busy")
    p.add_argument("--override", action="append", default=[], metavar="KEY=VALUE",
                   help="a config override added to every run started in the page (repeatable), e.g. "
                   "disease.horizon_days=100 for shorter runs; the page's own inputs cannot be set this way")
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
    try:
        app = create_app(workdir, args.results, max_workers=args.max_runs, max_pending=args.max_queued,
                         run_overrides=args.override)
    except ConfigError as exc:
        print(f"{PROG}: error: --override {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    # a plain `kill` should also stop the runs and remove the temporary work dir (atexit runs on SystemExit)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print(sim.NOTICE, file=sys.stderr)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"{PROG}: warning: listening on {args.host}: anyone who can reach this machine can start runs",
              file=sys.stderr)
    print(f"{PROG}: serving on http://{args.host}:{args.port}  (runs in {workdir})", file=sys.stderr, flush=True)
    try:
        app.run(host=args.host, port=args.port, debug=False)
    finally:  # before interpreter exit, which would otherwise wait for the running simulations to end
        app.run_manager.shutdown()


if __name__ == "__main__":
    main()
