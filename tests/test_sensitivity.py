"""alsim-sensitivity: end to end on tiny designs, a parameter that cannot matter, and bad input."""
from __future__ import annotations

import io
import subprocess
import sys
from pathlib import Path

import pandas as pd
import numpy as np
import pytest

import sim
from sim.experiments import sensitivity

# A tiny design: small patch, coarse step (T50 is still defined), two parameters, two trajectories.
FAST = ["--domain", "quick", "disease.dt_hours=24", "domain.width_um=300", "domain.height_um=300"]
PARAMS = "disease.drive_per_day,msc.tissue_half_life_h"
OUTPUT_FILES = ("design.parquet", "indices.csv", "indices.md", "sensitivity.html")


def read_indices(out: Path) -> pd.DataFrame:
    lines = (out / "indices.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0] == f"# {sim.NOTICE}"
    return pd.read_csv(io.StringIO("\n".join(lines[1:])))


@pytest.fixture(scope="module")
def morris_run(tmp_path_factory) -> tuple[Path, str]:
    out = tmp_path_factory.mktemp("sens") / "morris"
    buf = io.StringIO()
    stdout, sys.stdout = sys.stdout, buf
    try:
        sensitivity.main([*FAST, "--params", PARAMS, "--n", "2", "--workers", "2", "--out", str(out)])
    finally:
        sys.stdout = stdout
    return out, buf.getvalue()


def test_morris_pipeline_writes_every_output(morris_run):
    out, printed = morris_run
    assert printed.startswith(sim.NOTICE)
    assert all((out / name).is_file() for name in OUTPUT_FILES)
    idx = read_indices(out)
    assert {"output", "parameter", "mu_star", "mu_star_conf", "sigma", "rank", "scale", "note"} <= set(idx.columns)
    assert sorted(idx.groupby("output").size().items()) == [("control_t50_days", 2), ("t50_delay_days", 2)]
    assert set(idx["parameter"]) == set(PARAMS.split(","))
    design = pd.read_parquet(out / "design.parquet")
    assert len(design) == 2 * (2 + 1)  # Morris: n trajectories × (k + 1) points
    assert {"disease.drive_per_day", "msc.tissue_half_life_h", "control_t50_days", "treated_t50_days",
            "t50_delay_days", "control_censored", "treated_censored", "first_infusion_day"} <= set(design.columns)
    lo, hi = 0.0003, 0.04  # drive_per_day's documented plausible range (> 2 decades: log10 scale), on Morris's 4-level grid
    levels = (np.log10(design["disease.drive_per_day"]) - np.log10(lo)) / (np.log10(hi) - np.log10(lo)) * 3
    assert levels.between(0, 3).all() and (levels - levels.round()).abs().max() < 1e-9
    md = (out / "indices.md").read_text(encoding="utf-8")
    assert sim.NOTICE in md and "12 simulations" in md and "never reached 50 % loss in" in md
    early = int((design["control_t50_days"] <= 90).sum())  # first infusion on day 90
    assert (f"In {early} of 6 (design point, individual) pairs the control arm reached 50 % loss on or before the first "
            "infusion") in md
    assert (design.loc[design["control_t50_days"] <= 90, "t50_delay_days"] == 0).all()
    page = (out / "sensitivity.html").read_text(encoding="utf-8")
    assert sim.NOTICE in page and "plotly" in page.lower()


def test_a_cohort_runs_every_point_for_each_individual_and_analyses_the_means(morris_run, tmp_path):
    out = tmp_path / "cohort"
    buf = io.StringIO()
    stdout, sys.stdout = sys.stdout, buf
    try:
        sensitivity.main([*FAST, "--params", PARAMS, "--n", "2", "--workers", "2", "--seeds", "0-1", "--out", str(out)])
    finally:
        sys.stdout = stdout
    design = pd.read_parquet(out / "design.parquet")
    single = pd.read_parquet(morris_run[0] / "design.parquet")  # the same design for seed 0 alone
    assert (design["individuals"] == 2).all()
    seed1 = 2 * design["control_t50_days"] - single["control_t50_days"]  # the cohort mean holds seed 0 and seed 1
    assert not (seed1 == single["control_t50_days"]).all()
    assert (design["control_t50_after_infusion"] <= 2).all()
    assert "24 simulations" in (out / "indices.md").read_text(encoding="utf-8")


def test_censored_t50_enters_as_horizon_and_is_counted(morris_run):
    out, _ = morris_run
    design = pd.read_parquet(out / "design.parquet")
    cens = design["control_censored"]
    assert (design.loc[cens, "control_t50_days"] == 160.0).all()
    assert (design.loc[~cens, "control_t50_days"] < 160.0).all()
    md = (out / "indices.md").read_text(encoding="utf-8")
    assert f"control arm never reached 50 % loss in {int(cens.sum())} of {len(design)} design points" in md


def test_msc_parameter_cannot_move_the_control_arm(morris_run):
    """Control arms never see MSCs and share the seed, so control T50 depends on drive_per_day only."""
    out, _ = morris_run
    design = pd.read_parquet(out / "design.parquet")
    assert (design.groupby("disease.drive_per_day")["control_t50_days"].nunique() == 1).all()
    idx = read_indices(out).set_index(["output", "parameter"])
    assert idx.loc[("control_t50_days", "msc.tissue_half_life_h"), "mu_star"] == 0.0
    assert idx.loc[("control_t50_days", "msc.tissue_half_life_h"), "sigma"] == 0.0
    assert idx.loc[("control_t50_days", "disease.drive_per_day"), "mu_star"] > 1.0  # days
    assert idx.loc[("control_t50_days", "disease.drive_per_day"), "rank"] == 1


def test_console_script_sobol_control_only(tmp_path):
    """Installed `alsim-sensitivity`, Sobol, treatment=none: one output; the MSC parameter's indices are exactly 0."""
    exe = Path(sys.executable).with_name("alsim-sensitivity")
    out = tmp_path / "sobol"
    proc = subprocess.run([str(exe), *FAST, "treatment=none", "--method", "sobol", "--n", "2", "--workers", "1",
                           "--params", "msc.bdnf,disease.drive_per_day", "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith(sim.NOTICE)
    idx = read_indices(out)
    assert {"S1", "S1_conf", "ST", "ST_conf"} <= set(idx.columns)
    assert list(idx["output"].unique()) == ["control_t50_days"]
    msc = idx[idx["parameter"] == "msc.bdnf"].iloc[0]
    assert msc["S1"] == 0.0 and msc["ST"] == 0.0
    assert idx[idx["parameter"] == "disease.drive_per_day"]["ST"].iloc[0] > 0.5
    assert len(pd.read_parquet(out / "design.parquet")) == 2 * (2 + 2)  # Saltelli: N × (k + 2)


def test_constant_output_is_reported_not_indexed(tmp_path, capsys):
    """Only MSC parameters varied and no treated arm: control T50 never changes, so no indices are claimed."""
    out = tmp_path / "const"
    sensitivity.main([*FAST, "treatment=none", "--params", "msc.bdnf,msc.gdnf", "--n", "2", "--workers", "1",
                      "--out", str(out)])
    idx = read_indices(out)
    assert idx["mu_star"].isna().all() and (idx["note"] == "output constant across the design: indices undefined").all()
    assert "did not change across the design" in (out / "indices.md").read_text(encoding="utf-8")
    assert "constant across the design" in capsys.readouterr().out


BAD = [
    (["--params", "msc.nope"], "--params: msc.nope is not a known parameter"),
    (["--params", "disease.horizon_days"], "--params: disease.horizon_days has no plausible range"),
    (["--params", "msc.pathways.homing"], "--params: msc.pathways.homing has no plausible range"),
    (["--params", "msc.bdnf,msc.bdnf"], "--params: msc.bdnf is given twice"),
    (["--n", "1"], "--n=1 is invalid: allowed is an integer ≥ 2"),
    (["--n", "x"], "argument --n: invalid int value"),
    (["--method", "fast"], "--method=fast is invalid: allowed values are morris, sobol"),
    (["--method", "sobol", "--n", "3"], "--n=3 is invalid for sobol: allowed is a power of 2"),
    (["--preset", "rat"], "--preset=rat is invalid: allowed values are"),
    (["--domain", "huge"], "--domain=huge is invalid: allowed values are quick, standard"),
    (["--workers", "0"], "--workers=0 is invalid"),
    (["neurons.w_tnf=abc"], "neurons.w_tnf=abc is invalid"),
    (["nope.key=1"], "nope is not a known parameter"),
    # Up to 1000 infusions of 1e10 cells/kg pass for a 25 g mouse but exceed the course limit in heavier points.
    (["treatment.dose_cells_per_kg=1e10", "treatment.n_infusions=1000", "--params", "disease.body_weight_kg"],
     "--params: design point"),
]


@pytest.mark.parametrize("argv, message", BAD, ids=[" ".join(a) for a, _ in BAD])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(argv, message, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as exc:
        sensitivity.main([*argv, "--out", str(tmp_path / "out")])
    assert exc.value.code == 2
    captured = capsys.readouterr()
    lines = captured.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alsim-sensitivity: error: ") and message in lines[0], captured.err
    assert captured.out == ""
    assert list(tmp_path.iterdir()) == []
