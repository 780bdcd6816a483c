"""Sweeps: resume keyed by config, failure isolation, progress, up-front checks, every launcher.

Jobs are tiny (quick domain, 10 simulated days) so a sweep costs about a second per job; the
subprocesses run the real `alsim -m` command in a temporary working directory.
"""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import sim
from sim.experiments import sweep

TINY = ["domain=quick", "disease.horizon_days=40", "treatment.start_day=35"]


def alsim(cwd: Path, *args: str, timeout: int = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


def sweep_dirs(cwd: Path) -> list[Path]:
    return sorted(p.parent for p in (cwd / "multirun").rglob("multirun.yaml"))


def job_with_seed(sweep_dir: Path, seed: int) -> Path:
    for job in sweep_dir.iterdir():
        if (job / ".hydra" / "overrides.yaml").is_file() and f"seed={seed}" in (job / ".hydra" / "overrides.yaml").read_text():
            return job
    raise AssertionError(f"no job with seed={seed} in {sweep_dir}")


@pytest.fixture(scope="module")
def resumed(tmp_path_factory):
    """A 3-seed sweep whose seed-1 job fails on purpose, then the same sweep again without the failure."""
    cwd = tmp_path_factory.mktemp("resume")
    first = alsim(cwd, "-m", "seed=0,1,2", "run.fail_on_seed=1", *TINY)
    second = alsim(cwd, "-m", "seed=0,1,2", *TINY)
    return cwd, first, second


def test_a_failing_job_does_not_stop_the_others(resumed):
    cwd, first, _ = resumed
    assert first.returncode == 1, first.stderr[-2000:]
    sweep_dir = sweep_dirs(cwd)[0]
    jobs = sweep.scan(sweep_dir)
    assert len(jobs["simulated"]) == 2 and len(jobs["failed"]) == 1
    failed = json.loads((jobs["failed"][0] / "failure.json").read_text())
    assert "seed=1" in failed["overrides"] and "injected failure" in failed["error"]
    assert not (jobs["failed"][0] / "summary.json").exists()
    # the other runs are complete and readable
    for job in jobs["simulated"]:
        assert set(pd.read_parquet(job / "timeseries.parquet")["arm"]) == {"control", "treated"}
    # the end-of-sweep report names the failed run with its override and error
    assert "1 failed" in first.stdout and "FAILED" in first.stdout and "seed=1" in first.stdout
    assert sim.NOTICE in first.stdout


def test_rerun_skips_finished_runs_and_retries_the_failed_one(resumed):
    cwd, _, second = resumed
    assert second.returncode == 0, second.stderr[-2000:]
    first_dir, second_dir = sweep_dirs(cwd)
    jobs = sweep.scan(second_dir)
    assert len(jobs["simulated"]) == 1 and len(jobs["reused"]) == 2 and not jobs["failed"]
    assert jobs["simulated"][0] == job_with_seed(second_dir, 1)
    assert "1 simulated, 2 reused" in second.stdout
    # reused results are the same bytes as the originals
    for seed in (0, 2):
        new, old = job_with_seed(second_dir, seed), job_with_seed(first_dir, seed)
        assert json.loads((new / "reused.json").read_text())["source"] == str(old.resolve())
        for name in sweep.RESULT_FILES:
            assert (new / name).read_bytes() == (old / name).read_bytes()


@pytest.mark.slow  # three sweeps; the quick loop keeps resume after a failure (the `resumed` tests)
def test_reuse_is_keyed_by_config_not_by_folder_number(tmp_path):
    # Same jobs in a different order: job numbers change, the results are still found.
    first = alsim(tmp_path, "-m", "seed=0,1", *TINY)
    second = alsim(tmp_path, "-m", "seed=1,0", *TINY)
    assert first.returncode == 0 and second.returncode == 0, second.stderr[-2000:]
    assert "0 simulated, 2 reused" in second.stdout
    # a changed model parameter is a different config: nothing is reused
    third = alsim(tmp_path, "-m", "seed=0,1", "neurons.w_ros=0.3", *TINY)
    assert third.returncode == 0 and "2 simulated, 0 reused" in third.stdout


def test_progress_shows_done_total_and_eta(resumed):
    _, first, _ = resumed
    lines = [ln for ln in first.stderr.splitlines() if ln.startswith("[sweep]")]
    assert lines and lines[-1].startswith("[sweep] 3/3 runs done") and "ETA" in lines[-1]


def test_a_bad_swept_value_is_refused_before_any_job(tmp_path):
    r = alsim(tmp_path, "-m", "seed=0,1", "treatment.dose_cells_per_kg=0,-5", *TINY)
    assert r.returncode == 2
    err = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert len(err) == 1 and "treatment.dose_cells_per_kg" in err[0] and "Traceback" not in r.stderr
    assert not (tmp_path / "multirun").exists()


def test_count_jobs_includes_preset_params():
    assert sweep.count_jobs(["seed=range(0,10)", "treatment.start_day=30,60,90", "domain=quick"]) == 30
    assert sweep.count_jobs(["+experiment=dose_timing"]) == 1


def test_experiment_preset_runs_with_command_line_precedence(tmp_path):
    r = alsim(tmp_path, "-m", "+experiment=dose_timing", "seed=0", "treatment.start_day=35",
              "treatment.dose_cells_per_kg=0,4e7", "disease.horizon_days=40")
    assert r.returncode == 0, r.stderr[-2000:]
    (sweep_dir,) = sweep_dirs(tmp_path)
    assert sweep_dir.parent.name == "dose_timing"
    summaries = [json.loads((j / "summary.json").read_text()) for j in sweep.scan(sweep_dir)["simulated"]]
    assert sorted(s["treatment"]["dose_cells_per_kg"] for s in summaries) == [0.0, 4e7]


@pytest.mark.slow  # two 4-job sweeps; test_cohort.py checks batched = alone in-process, quickly
def test_a_batched_sweep_writes_every_job_as_if_it_ran_alone(tmp_path):
    # 4 jobs in batches of 3: job 0 simulates jobs 0–2 in one cohort, job 3 runs alone in its own batch
    batched = alsim(tmp_path, "-m", "seed=0,1,2,3", "run.batch_size=3", "run.cache_dir=", "hydra.sweep.dir=batched", *TINY)
    alone = alsim(tmp_path, "-m", "seed=0,1,2,3", "run.cache_dir=", "hydra.sweep.dir=alone", *TINY)
    assert batched.returncode == 0 and alone.returncode == 0, batched.stderr[-2000:] + alone.stderr[-2000:]
    assert "4 simulated, 0 reused" in batched.stdout
    for job in range(4):
        for name in sweep.RESULT_FILES:
            assert (tmp_path / "batched" / str(job) / name).read_bytes() == (tmp_path / "alone" / str(job) / name).read_bytes()
    assert json.loads((tmp_path / "batched" / sweep.JOBS_FILE).read_text())["batch_size"] == 3


@pytest.mark.slow  # two 3-job sweeps; the quick loop keeps resume after a failure (the `resumed` tests) and a batched
# sweep (conftest's session sweep, run.batch_size=4); _finished_or_pending is the same check for a batch member
def test_a_batched_sweep_resumes_each_job_by_its_own_configuration(tmp_path):
    first = alsim(tmp_path, "-m", "seed=0,1,2", "run.batch_size=3", "run.fail_on_seed=1", "hydra.sweep.dir=first", *TINY)
    assert first.returncode == 1 and "1 failed" in first.stdout, first.stderr[-2000:]
    assert "injected failure" in (tmp_path / "first" / "1" / "failure.json").read_text()
    second = alsim(tmp_path, "-m", "seed=2,1,0", "run.batch_size=2", "hydra.sweep.dir=second", *TINY)
    assert second.returncode == 0 and "1 simulated, 2 reused" in second.stdout, second.stderr[-2000:]
    assert json.loads((tmp_path / "second" / "1" / "summary.json").read_text())["seed"] == 1  # the retried job
    assert (tmp_path / "second" / "0" / sweep.REUSED).is_file() and (tmp_path / "second" / "2" / sweep.REUSED).is_file()


def test_batch_leaders_and_members_follow_the_job_list(tmp_path):
    (tmp_path / sweep.JOBS_FILE).write_text(json.dumps({"batch_size": 4, "jobs": [[f"seed={s}"] for s in range(6)]}))
    assert sweep.batch_of(tmp_path, 0) == [(j, [f"seed={j}"]) for j in range(4)]
    assert sweep.batch_of(tmp_path, 3) == [] and sweep.batch_of(tmp_path, 4) == [(4, ["seed=4"]), (5, ["seed=5"])]
    assert sweep.batch_of(tmp_path / "nowhere", 0) is None


# The quick loop keeps a batched sweep on Hydra's basic launcher (conftest's session sweep, run.batch_size=4, read by
# test_compare.py); every other launcher, joblib's included, runs in the full suite only.
@pytest.mark.parametrize("launcher", [
    pytest.param("parallel", marks=pytest.mark.slow),  # joblib: its worker processes cost a sweep's own CPU again
    pytest.param("slurm_local", marks=[pytest.mark.submitit, pytest.mark.slow]),
    pytest.param("ray_local", marks=pytest.mark.ray),
])
def test_launchers_run_a_batched_sweep(tmp_path, launcher):
    extra = ["hydra.launcher.ray.init.num_cpus=2"] if launcher == "ray_local" else []
    # three jobs in batches of two: a launcher runs batch leaders and members alike
    r = alsim(tmp_path, "-m", "seed=0,1,2", "run.batch_size=2", f"hydra/launcher={launcher}", *extra, *TINY)
    assert r.returncode == 0, r.stderr[-3000:]
    (sweep_dir,) = sweep_dirs(tmp_path)
    jobs = sweep.scan(sweep_dir)
    assert len(jobs["simulated"]) == 3 and not jobs["failed"]
    seeds = sorted(json.loads((j / "summary.json").read_text())["seed"] for j in jobs["simulated"])
    assert seeds == [0, 1, 2]
