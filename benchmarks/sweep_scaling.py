"""Scaling of a local sweep: the same 24-run sweep with 1 and with 2 joblib workers.

    python benchmarks/sweep_scaling.py            # quick domain, full SOD1 course per run
    python benchmarks/sweep_scaling.py --horizon 90 --runs 12

Each sweep runs in a fresh temporary folder with the result cache off, so every job simulates.
Prints the wall times and their ratio (the speed-up) and writes benchmarks/sweep_scaling.json.
Not a test: timings depend on the machine; compare ratios measured in the same invocation.
`python benchmarks/run.py` measures the same thing in its `sweep` section (this script is kept for a
sweep-only measurement with other sizes).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from run import sweep_seconds  # noqa: E402 - the sweep is measured by the benchmark suite's own function


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=24)
    ap.add_argument("--horizon", type=float, default=160.0, help="disease.horizon_days of each run")
    ap.add_argument("--start-day", type=float, default=None,
                    help="treatment.start_day (default 90, or the middle of the course when the horizon is ≤ 90)")
    args = ap.parse_args()
    start = args.start_day if args.start_day is not None else 90.0 if args.horizon > 90 else (30.0 + args.horizon) / 2
    one = sweep_seconds(1, args.runs, args.horizon, start)
    two = sweep_seconds(2, args.runs, args.horizon, start)
    result = {"runs": args.runs, "horizon_days": args.horizon, "seconds_1_worker": round(one, 2),
              "seconds_2_workers": round(two, 2), "speedup_2_workers": round(one / two, 3),
              "machine": {"cores": os.cpu_count(), "python": platform.python_version(), "processor": platform.processor()}}
    print(f"{args.runs}-run sweep (domain=quick, {args.horizon:g} days): 1 worker {one:.1f} s, 2 workers {two:.1f} s, "
          f"speed-up {one / two:.2f}×")
    (HERE / "sweep_scaling.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
