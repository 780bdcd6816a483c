"""Scaling of a local sweep: the same 24-run sweep with 1 and with 2 joblib workers.

    python benchmarks/sweep_scaling.py            # quick domain, full SOD1 course per run
    python benchmarks/sweep_scaling.py --horizon 90 --runs 12

Each sweep runs in a fresh temporary folder with the result cache off, so every job simulates.
Prints the wall times and their ratio (the speed-up) and writes benchmarks/sweep_scaling.json.
Not a test: timings depend on the machine; compare ratios measured in the same invocation.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def sweep_seconds(workers: int, runs: int, horizon: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "sim", "-m", f"seed=range(0,{runs})", "domain=quick", f"disease.horizon_days={horizon:g}",
               "treatment.start_day=90", "run.cache_dir=", "hydra/launcher=parallel", f"hydra.launcher.n_jobs={workers}"]
        start = time.perf_counter()
        done = subprocess.run(cmd, cwd=tmp, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        if done.returncode != 0:
            raise SystemExit(f"sweep with {workers} worker(s) failed:\n{done.stderr[-2000:]}")
        finished = len(list(Path(tmp, "multirun").rglob("summary.json")))
        if finished != runs:
            raise SystemExit(f"sweep with {workers} worker(s) finished {finished} of {runs} runs")
    return elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=24)
    ap.add_argument("--horizon", type=float, default=160.0, help="disease.horizon_days of each run")
    args = ap.parse_args()
    one = sweep_seconds(1, args.runs, args.horizon)
    two = sweep_seconds(2, args.runs, args.horizon)
    result = {"runs": args.runs, "horizon_days": args.horizon, "seconds_1_worker": round(one, 2),
              "seconds_2_workers": round(two, 2), "speedup_2_workers": round(one / two, 3),
              "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "processor": platform.processor()}}
    print(f"{args.runs}-run sweep (domain=quick, {args.horizon:g} days): 1 worker {one:.1f} s, 2 workers {two:.1f} s, "
          f"speed-up {one / two:.2f}×")
    (HERE / "sweep_scaling.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
