"""`alsim-compare --contrast KEY=A:B` on a tiny real sweep, checked against a hand computation from runs.parquet;
the unpaired form and the refusals on constructed tables."""
from __future__ import annotations

import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim.experiments import contrast
from sim.experiments.collect import CompareError
from sim.experiments.compare import bootstrap_mean_ci

CONTRAST = "treatment.dose_cells_per_kg=0:4e7"


@pytest.fixture(scope="module")
def compared(cli_sweep, tmp_path_factory) -> tuple[Path, subprocess.CompletedProcess]:
    """alsim-compare --contrast on a copy of the session's real 2 doses × 2 seeds sweep (conftest.SWEEP)."""
    folder = tmp_path_factory.mktemp("contrast") / "sweep"
    shutil.copytree(cli_sweep, folder)
    out = subprocess.run([sys.executable, "-m", "sim.experiments.compare", str(folder), "--contrast", CONTRAST],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return folder, out


def _value(row: pd.Series) -> float:
    """The paired T50 delay of one run as compare defines it: the censored lower bound where the treated arm never got there."""
    return row.t50_delay_days if not pd.isna(row.t50_delay_days) else row.t50_delay_censored_at_least_days


def test_contrast_matches_a_hand_computation(compared):
    folder, _ = compared
    runs = pd.read_parquet(folder / "dataset" / "runs.parquet")
    a, b = ({int(r.seed): _value(r) for r in runs[runs.dose_cells_per_kg == d].itertuples()} for d in (0.0, 4e7))
    assert sorted(a) == sorted(b) == [0, 1]
    diffs = np.array([b[s] - a[s] for s in (0, 1)])
    auc = runs.set_index(["dose_cells_per_kg", "seed"])["auc_gain_days"]
    auc_diffs = np.array([auc[(4e7, s)] - auc[(0.0, s)] for s in (0, 1)])
    table = pd.read_csv(folder / "effects.csv", skiprows=1)
    row = table[table["contrast"].notna()]
    assert len(row) == 1
    row = row.iloc[0]
    assert row.pairing == "paired by seed" and row.n_pairs == 2
    assert math.isclose(row.t50_delay_difference_mean_days, diffs.mean(), abs_tol=1e-9)
    assert math.isclose(row.auc_gain_difference_mean_days, auc_diffs.mean(), abs_tol=1e-9)
    ci = bootstrap_mean_ci(diffs, 0)
    if math.isnan(ci.low):
        assert math.isnan(row.t50_delay_difference_ci_low_days)
    else:
        assert math.isclose(row.t50_delay_difference_ci_low_days, ci.low, abs_tol=1e-9)
        assert math.isclose(row.t50_delay_difference_ci_high_days, ci.high, abs_tol=1e-9)
        assert diffs.min() <= ci.low <= diffs.mean() <= ci.high <= diffs.max()
    scenario_rows = table[table["contrast"].isna()]
    assert len(scenario_rows) == 2 and set(scenario_rows["dose_cells_per_kg"]) == {0.0, 4e7}


def test_contrast_is_printed_and_in_the_report(compared):
    folder, out = compared
    assert out.stdout.startswith(sim.NOTICE)
    assert "Contrasts (B − A):" in out.stdout and "dose_cells_per_kg: 4e+07 − 0" in out.stdout
    assert "paired by seed (2 pairs)" in out.stdout
    report = (folder / "report.html").read_text(encoding="utf-8")
    assert "Contrasts between scenarios (B − A)" in report and "paired by seed (2 pairs)" in report


@pytest.mark.parametrize("arg, message", [
    ("dose_cell_per_kg=0:4e7", "did you mean dose_cells_per_kg?"),
    ("dose_cells_per_kg=0:1e6", "no treated run has dose_cells_per_kg=1e6"),
    ("dose_cells_per_kg=0", "expected KEY=A:B"),
])
def test_contrast_refusals_are_one_line_and_write_nothing(compared, arg, message, tmp_path, compare_cli):
    folder, _ = compared
    code, _, err = compare_cli([folder, "--out", tmp_path / "o", "--contrast", arg])  # in this process: no start-up cost
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and message in err, err
    assert not (tmp_path / "o").exists()


def _per_seed(dose: float, seeds: list[int], delays: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"dose_cells_per_kg": dose, "start_day": 90.0, "seed": seeds,
                         "t50_delay_value_days": delays, "auc_gain_days": [d / 2 for d in delays], "eligible": True})


def test_unpaired_contrast_when_no_seed_matches():
    a = _per_seed(1e6, [0, 1, 2, 3], [0.0, 1.0, 2.0, 1.0])
    b = _per_seed(4e7, [10, 11, 12], [3.0, 5.0, 4.0])
    paired = pd.concat([a, b], ignore_index=True)
    c = contrast.resolve("dose_cells_per_kg=1e6:4e7", paired, ["dose_cells_per_kg", "start_day"])
    row = contrast.contrast_table(paired, ["dose_cells_per_kg", "start_day"], c).iloc[0]
    assert row.pairing == "unpaired" and row.n_pairs == 0 and (row.n_a, row.n_b) == (4, 3)
    assert math.isclose(row.t50_delay_difference_mean_days, 4.0 - 1.0)
    assert math.isclose(row.auc_gain_difference_mean_days, (4.0 - 1.0) / 2)
    # every resample of B is within [3, 5] and of A within [0, 2]: the interval lies within [1, 5]
    assert 1.0 <= row.t50_delay_difference_ci_low_days < 3.0 < row.t50_delay_difference_ci_high_days <= 5.0
    assert row.contrast_reading == "longer modeled delay in B"


def test_contrast_is_taken_within_each_stratum_of_the_other_swept_keys():
    rows = []
    for start in (60.0, 90.0):
        for dose, shift in ((1e6, 0.0), (4e7, 2.0 if start == 60 else -1.0)):
            part = _per_seed(dose, [0, 1, 2], [1.0 + shift, 2.0 + shift, 4.0 + shift])
            part["start_day"] = start
            rows.append(part)
    paired = pd.concat(rows, ignore_index=True)
    cols = ["dose_cells_per_kg", "start_day"]
    table = contrast.contrast_table(paired, cols, contrast.resolve("dose_cells_per_kg=1e6:4e7", paired, cols))
    got = dict(zip(table["start_day"], table["t50_delay_difference_mean_days"]))
    assert got == {60.0: 2.0, 90.0: -1.0}
    assert set(table["pairing"]) == {"paired by seed"}
    # equal differences in every seed: the interval is that value exactly
    assert list(table["t50_delay_difference_ci_low_days"]) == [2.0, -1.0]


def test_resolve_refuses_a_key_that_was_not_swept():
    paired = _per_seed(1e6, [0], [1.0])
    with pytest.raises(CompareError, match="not a parameter that differs"):
        contrast.resolve("seed=0:1", paired, ["dose_cells_per_kg"])
