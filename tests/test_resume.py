"""Sweeps: resume in place, never reuse a corrupt job, and refuse bad combinations before any job runs.

Each sweep is the real `alsim -m` command in a temporary folder, with tiny jobs (quick domain,
10 simulated days).
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
import tracemalloc
from pathlib import Path

import pytest

from sim.experiments import sweep

TINY = ["domain=quick", "disease.horizon_days=40", "treatment.start_day=35"]


def alsim(cwd: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def job(sweep_dir: Path, seed: int) -> Path:
    for folder in sweep_dir.iterdir():
        if (folder / ".hydra" / "overrides.yaml").is_file() and f"seed={seed}\n" in (folder / ".hydra" / "overrides.yaml").read_text():
            return folder
    raise AssertionError(f"no job with seed={seed}")


def stamps(folder: Path) -> dict[str, int]:
    return {p.name: p.stat().st_mtime_ns for p in folder.iterdir() if p.is_file() and p.suffix in (".parquet", ".json")
            and p.name not in ("reused.json",)}


@pytest.mark.slow  # three sweeps; the quick loop keeps resume after a failure in test_sweep.py (`resumed`)
def test_rerun_into_the_same_sweep_folder_simulates_only_what_is_missing_or_bad(tmp_path):
    fixed = tmp_path / "sweep"
    args = ["-m", "seed=0,1,2,3", f"hydra.sweep.dir={fixed}", "run.cache_dir=", "run.fail_on_seed=3", *TINY]
    first = alsim(tmp_path, *args)
    assert first.returncode == 1 and "3 simulated, 0 reused" in first.stdout and "1 failed" in first.stdout, first.stderr[-2000:]
    kept, bad = job(fixed, 0), job(fixed, 1)
    before = stamps(kept)
    data = (bad / "timeseries.parquet").read_bytes()
    (bad / "timeseries.parquet").write_bytes(data[: len(data) // 2])  # a corrupt job: must be simulated again
    time.sleep(0.01)
    second = alsim(tmp_path, *args[:-4], *TINY)  # the same sweep without the injected failure
    assert second.returncode == 0, second.stderr[-2000:]
    assert "2 simulated, 2 reused" in second.stdout, second.stdout  # seeds 1 (corrupt) and 3 (failed) again
    assert stamps(kept) == before  # kept where it was, not rewritten
    assert json.loads((kept / "reused.json").read_text())["kept_in_place"] is True
    for seed in (1, 3):
        folder = job(fixed, seed)
        assert not (folder / "failure.json").exists() and not (folder / "reused.json").exists()
        assert sweep.is_finished(folder, json.loads((folder / "summary.json").read_text())["config_hash"])
    third = alsim(tmp_path, *args[:-4], *TINY)
    assert third.returncode == 0 and "0 simulated, 4 reused" in third.stdout


@pytest.mark.slow  # two sweeps; the quick loop keeps the in-place resume, which also re-simulates a corrupt job
def test_a_corrupt_resume_source_is_simulated_again_not_linked(tmp_path):
    first = alsim(tmp_path, "-m", "seed=0,1,2", *TINY)
    assert first.returncode == 0, first.stderr[-2000:]
    (source,) = [p.parent for p in (tmp_path / "multirun").rglob("multirun.yaml")]
    truncated, edited = job(source, 0), job(source, 1)
    data = (truncated / "timeseries.parquet").read_bytes()
    (truncated / "timeseries.parquet").write_bytes(data[:-64])
    text = (edited / "summary.json").read_text()
    s = json.loads(text)
    s["arms"]["control"]["mn_alive_final"] = 0.5
    (edited / "summary.json").write_text(json.dumps(s, indent=2, sort_keys=True) + "\n")
    time.sleep(1.1)  # a new sweep folder (named by the second)
    second = alsim(tmp_path, "-m", "seed=0,1,2", *TINY)
    assert second.returncode == 0, second.stderr[-2000:]
    assert "2 simulated, 1 reused" in second.stdout, second.stdout
    (new,) = [p.parent for p in (tmp_path / "multirun").rglob("multirun.yaml") if p.parent != source]
    for seed in (0, 1):
        assert not (job(new, seed) / "reused.json").exists()
        assert (job(new, seed) / "timeseries.parquet").stat().st_ino != (job(source, seed) / "timeseries.parquet").stat().st_ino


def test_a_bad_combination_is_refused_before_any_job(tmp_path):
    r = alsim(tmp_path, "-m", "treatment.n_infusions=1,3", "treatment.interval_days=30,0", *TINY)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "treatment.interval_days=0 is invalid" in lines[0] and "n_infusions > 1" in lines[0]
    assert not (tmp_path / "multirun").exists()


def test_a_huge_range_is_checked_without_listing_it(tmp_path):
    # listing 10^8 jobs would take far longer than the timeout (a hang guard, not a speed target)
    r = alsim(tmp_path, "-m", "seed=range(0,100000000)", "treatment.dose_cells_per_kg=-5", *TINY, timeout=120)
    assert r.returncode == 2 and "treatment.dose_cells_per_kg" in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "multirun").exists()


def test_count_and_check_do_not_list_a_range():
    # a list of 10^8 seeds would allocate gigabytes; counting and checking must stay within a few MB
    tracemalloc.start()
    try:
        assert sweep.count_jobs(["seed=range(0,100000000)", "treatment.start_day=30,60"]) == 200_000_000
        sweep.check_values(["seed=range(0,100000000)", "treatment.start_day=30,60", "domain=quick"])
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 64 * 2**20, f"{peak / 2**20:.0f} MiB allocated"
    assert sweep.expand(["seed=range(0,10,3)"]) == [("seed", ["0", "9"])]


def test_a_bad_launcher_is_one_line(tmp_path):
    r = alsim(tmp_path, "-m", "seed=0,1", "hydra/launcher=nope", *TINY)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert lines == [lines[0]] and lines[0].startswith("alsim: error: hydra/launcher=nope is invalid: allowed values are ")
    assert "parallel" in lines[0] and not (tmp_path / "multirun").exists()


def test_a_bad_fixed_value_in_a_sweep_is_one_line(tmp_path):
    r = alsim(tmp_path, "-m", "seed=0,1", "run.allow_large=maybe", *TINY)
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == ["alsim: error: run.allow_large=maybe is invalid: expected a value of type bool"]
    assert not (tmp_path / "multirun").exists()
