"""Resource bounds and output checks happen before anything is written (one line, exit 2, no folder)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from sim import resources
from sim.config import ConfigError
from sim.presets import compose_config

OVERSIZE = ["domain.width_um=1e6", "domain.height_um=1e6", "domain.voxel_um=500"]  # 60 million neurons
LONG = ["disease.horizon_days=1e5", "disease.dt_hours=0.05"]  # 48 million steps


def alsim(cwd: Path, *args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("overrides, key, words", [
    (OVERSIZE, "domain.width_um=", "half of this machine's memory"),
    (LONG, "disease.dt_hours=0.05", "CPU-hours"),
], ids=["oversize_domain", "48_million_steps"])
def test_a_run_too_large_for_this_machine_is_refused_before_its_folder_exists(tmp_path, overrides, key, words):
    r = alsim(tmp_path, *overrides, "hydra.run.dir=out/run")
    assert r.returncode == 2, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith(f"alsim: error: {key}") and words in lines[0], r.stderr
    assert "run.allow_large=true" in lines[0]
    assert not (tmp_path / "out").exists() and not (tmp_path / "outputs").exists()


def test_allow_large_lets_the_configuration_through():
    cfg = compose_config([*LONG, "run.allow_large=true"])
    assert cfg.run.allow_large is True and resources.estimate(cfg).cpu_hours > resources.MAX_CPU_HOURS


def test_both_arms_and_agents_count_towards_memory(monkeypatch):
    cfg = compose_config(["domain=quick"])
    e = resources.estimate(cfg)
    assert e.arms == 2 and e.agents > 0
    one_arm = e.voxels * resources.BYTES_PER_VOXEL + e.agents * resources.BYTES_PER_AGENT + resources.PROCESS_BYTES
    assert e.peak_bytes == 2 * one_arm
    # a machine with memory for one arm but not two refuses the paired run
    monkeypatch.setattr(resources, "physical_memory_bytes", lambda: int(1.5 * one_arm) * 2)
    with pytest.raises(ConfigError, match="2 arm\\(s\\) at once"):
        compose_config(["domain=quick"])
    compose_config(["domain=quick", "treatment=none"])  # one arm fits


def test_every_preset_fits_the_run_length_budget_many_times_over():
    for disease in ("sod1_g93a_mouse", "human_sporadic"):
        assert resources.estimate(compose_config([f"disease={disease}"])).cpu_hours < resources.MAX_CPU_HOURS / 50


# --------------------------------------------------------------------------- outputs checked before work
UNWRITABLE = {"under_a_file": lambda tmp: tmp / "afile" / "out", "read_only_fs": lambda tmp: Path("/proc/alsim-out")}


@pytest.fixture
def afile(tmp_path) -> Path:
    (tmp_path / "afile").write_text("not a folder")
    return tmp_path


@pytest.mark.parametrize("where", list(UNWRITABLE))
def test_sensitivity_out_is_checked_before_any_simulation(afile, where, monkeypatch, capsys):
    # in this process, as report's and compare's below (test_sensitivity.py runs the console script itself)
    from sim.experiments import sensitivity

    monkeypatch.chdir(afile)
    with pytest.raises(SystemExit) as exc:
        sensitivity.main(["--n", "2", "--domain", "quick", "--out", str(UNWRITABLE[where](afile))])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2, err[-2000:]
    assert err.splitlines() == [err] and "--out=" in err and "[sensitivity]" not in err


@pytest.mark.parametrize("where", list(UNWRITABLE))
def test_report_out_is_checked_first(short_run, afile, where, capsys):
    from sim import report

    with pytest.raises(SystemExit) as exc:
        report.main([str(short_run), "--out", str(UNWRITABLE[where](afile) / "r.html")])
    err = capsys.readouterr().err.strip()
    assert exc.value.code == 2 and err.startswith("alsim-report: error: --out=") and "\n" not in err


@pytest.mark.parametrize("where", list(UNWRITABLE))
def test_compare_out_is_checked_first(short_run, afile, where, compare_cli):
    code, out, err = compare_cli([short_run, "--out", UNWRITABLE[where](afile)])
    assert code == 2 and err.startswith("alsim-compare: error: cannot write into") and len(err.strip().splitlines()) == 1


def test_infusions_past_the_horizon_are_a_warning_and_recorded(tmp_path):
    r = alsim(tmp_path, "domain=quick", "disease.horizon_days=50", "treatment.start_day=35", "treatment.n_infusions=3",
              "treatment.interval_days=10", "hydra.run.dir=run")
    assert r.returncode == 0, r.stderr[-2000:]
    expected = ("1 of treatment.n_infusions=3 infusion(s) (day(s) 55) fall on or after disease.horizon_days=50 "
                "and are not simulated")
    assert f"alsim: warning: {expected}" in r.stderr.splitlines()
    import json

    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert s["warnings"] == [expected] and s["treatment"]["infusions_past_horizon"] == [55.0]
    assert s["treatment"]["infusion_days"] == [35.0, 45.0]
