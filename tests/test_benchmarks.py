"""The benchmark suite still runs: `benchmarks/run.py --smoke` (seconds) writes every key with the right type.

No timing assertions: the numbers of a smoke run mean nothing, only that every section works. The quick loop runs
the two in-process sections (`--only engines,fields`); the whole smoke run (it times real `alsim` runs and sweeps
in subprocesses) is marked slow.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NUMBERS = ("engine_speedup_10k", "field_speedup_vs_explicit", "field_time_vs_dct_floor", "agents_scaling_exponent",
           "voxels_scaling_exponent", "sweep_speedup_2_workers", "cohort_speedup", "quick_run_seconds", "default_run_seconds",
           "default_run_peak_mb")
IN_PROCESS = {"engines": ("engine_speedup_10k",), "fields": ("field_speedup_vs_explicit", "field_time_vs_dct_floor")}


def smoke(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, dict, Path]:
    out = tmp_path / "bench" / "results.json"
    done = subprocess.run([sys.executable, str(REPO / "benchmarks" / "run.py"), "--smoke", "--out", str(out), *args],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done, json.loads(out.read_text(encoding="utf-8")), out


def assert_number(res: dict, key: str) -> None:
    assert isinstance(res[key], (int, float)) and not isinstance(res[key], bool) and res[key] == res[key], key
    assert res[key] != float("inf"), key


def assert_engines_and_fields(res: dict) -> None:
    assert res["engines_agree"] is True
    assert all(r["identical"] for r in res["sections"]["engines"]["rows"])
    for row in res["sections"]["fields"]["rows"]:  # both methods reached the accuracy they are compared at
        assert row["max_dct_rel_l2_error"] <= 1e-3 and row["max_euler_rel_l2_error"] <= 1e-3


def assert_machine(res: dict) -> None:
    m = res["machine"]
    assert isinstance(m["cores"], int) and m["cores"] >= 1
    assert all(isinstance(m[k], str) and m[k] for k in ("cpu_model", "python", "numpy"))
    assert res["mode"] == "smoke"


def test_benchmark_smoke_of_the_in_process_sections_writes_their_keys(tmp_path):
    done, res, _ = smoke(tmp_path, "--only", ",".join(IN_PROCESS))
    assert set(res["sections"]) == set(IN_PROCESS)
    ours = {key for keys in IN_PROCESS.values() for key in keys}
    for key in ours:
        assert_number(res, key)
    assert all(res[key] is None for key in NUMBERS if key not in ours)  # the sections not run leave theirs null
    assert_engines_and_fields(res)
    assert_machine(res)
    assert "engines" in done.stdout and "fields" in done.stdout and "wrote" in done.stdout
    assert not list(tmp_path.glob("outputs")) and not list(tmp_path.glob("multirun"))


@pytest.mark.slow  # every section, with real alsim runs and sweeps in subprocesses: about half a minute
def test_benchmark_smoke_run_writes_every_key(tmp_path):
    done, res, out = smoke(tmp_path)
    for key in NUMBERS:
        assert_number(res, key)
    assert res["batched_matches_single"] is True  # every file of a batched run folder equals its single run's
    assert res["cohort_1000_seconds"] is None and res["sections"]["cohort"]["large_cohort_failed"] == 0  # smoke: 4, not 1,000
    c = res["sections"]["cohort"]  # the transforms were timed inside the batched run: a part of it, never more
    assert 0 < c["transform_seconds_in_batched"] < c["batched_seconds_transforms_timed"] and c["transform_floor_large_seconds"] > 0
    assert_machine(res)
    assert set(res["sections"]) == {"engines", "fields", "runs", "scaling", "sweep", "cohort"}
    assert_engines_and_fields(res)
    profile = out.with_name("results.profile.txt").read_text(encoding="utf-8")
    assert "top 10 by tottime" in profile and "ncalls" in profile
    assert "engines" in done.stdout and "wrote" in done.stdout
    assert not list(tmp_path.glob("outputs")) and not list(tmp_path.glob("multirun"))  # scratch work stays in temp dirs
