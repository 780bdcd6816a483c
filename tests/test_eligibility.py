"""Eligibility and the clock, on a constructed human cohort: individuals past end stage before the first infusion, or
(with treatment.eligibility_max_days_from_onset) with their onset too long before it, are counted as not eligible and
left out of every effect statistic; a T50 before day 0 or the infusion is explained. The window is a trial-design
setting: a bad value is refused in one line, and a run with it writes the same simulation."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import SHORT_RUN

from sim.config import ConfigError, SimConfig, validate
from sim.dashboard.callbacks import scenario_text, sweep_notes
from sim.dashboard.runs import execute_run
from sim.dashboard.sweeps import Sweep
from sim.eligibility import (
    END_STAGE,
    PAST_WINDOW,
    day_note,
    eligible,
    not_eligible_kind,
    not_eligible_reason,
)
from sim.experiments import compare
from sim.presets import compose_config
from sim.run import config_hash, summary_table

CLOCK = "days since the reference individual's symptom onset"
# seed: (control end stage, paired T50 delay); infusion on day 90. Seeds 0 and 1 reached end stage before it.
COHORT = {0: (-800.0, 0.0), 1: (90.0, 0.0), 2: (400.0, 2.0), 3: (700.0, 4.0), 4: (1500.0, 6.0), 5: (None, 8.0)}
# seed: control onset day. Before the infusion on day 90: seed 0 by 990 days, 1 by 690, 2 by 790, 3 by 390 days;
# seed 4's onset comes after it, seed 5 has none in the simulated days.
ONSET = {0: -900.0, 1: -600.0, 2: -700.0, 3: -300.0, 4: 200.0, 5: None}


def human_runs(dose: float = 2e6, shift: float = 0.0, window: float | None = None) -> pd.DataFrame:
    rows = []
    for seed, (end, delay) in COHORT.items():
        rows.append({"dose_cells_per_kg": dose, "start_day": 90.0, "n_infusions": 1, "interval_days": 30.0,
                     "disease": "human_sporadic", "clock": CLOCK, "seed": seed, "run_id": f"{dose:g}/{seed}",
                     "treatment_enabled": True, "control_t50_days": -300.0 + 100 * seed,
                     "control_end_stage_days": np.nan if end is None else end, "auc_gain_days": delay / 2 + shift,
                     "t50_delay_days": delay + shift, "t50_delay_censored_at_least_days": np.nan,
                     "control_onset_days": np.nan if ONSET[seed] is None else ONSET[seed],
                     "eligibility_max_days_from_onset": np.nan if window is None else window,
                     "individual_drive_multiplier": 1.0 + seed})
    return pd.DataFrame(rows)


SCENARIO = ["dose_cells_per_kg", "start_day", "n_infusions", "interval_days"]


def test_end_stage_on_or_before_the_first_infusion_is_not_eligible():
    assert not_eligible_reason(-800.0, 90.0).startswith("not eligible")
    assert not_eligible_reason(90.0, 90.0) is not None
    assert not_eligible_reason(90.5, 90.0) is None
    assert not_eligible_reason(None, 90.0) is None  # never reached end stage: eligible
    assert list(eligible(human_runs())) == [False, False, True, True, True, True]


def test_compare_excludes_not_eligible_seeds_from_the_statistics_and_counts_them():
    runs = human_runs()
    paired = compare.per_seed_effects(runs, SCENARIO)
    row = compare.effects_table(paired, SCENARIO).iloc[0]
    assert row.n_seeds == 4 and row.n_not_eligible == 2
    assert row.t50_delay_mean_days == pytest.approx(np.mean([2.0, 4.0, 6.0, 8.0]))
    assert row.fraction_seeds_with_delay == 1.0  # the two 0.0 delays of untreatable seeds do not dilute it
    assert row.control_t50_mean_days == pytest.approx(np.mean([-100.0, 0.0, 100.0, 200.0]))
    table, _ = compare.display_table(compare.effects_table(paired, SCENARIO), SCENARIO)
    assert table["not eligible"].tolist() == ["2"]
    notes = " ".join(compare.notes(compare.effects_table(paired, SCENARIO), runs, 0))
    assert "not eligible: 2 seed(s)" in notes and CLOCK in notes


def test_a_scenario_without_eligible_seeds_says_so():
    runs = human_runs()
    runs["control_end_stage_days"] = 10.0
    row = compare.effects_table(compare.per_seed_effects(runs, SCENARIO), SCENARIO).iloc[0]
    assert row.n_seeds == 0 and row.n_not_eligible == 6 and math.isnan(row.t50_delay_mean_days)
    assert row.reading.startswith("no eligible seed")


def test_contrast_uses_eligible_seeds_only():
    runs = pd.concat([human_runs(2e6), human_runs(4e6, shift=1.0)], ignore_index=True)
    paired = compare.per_seed_effects(runs, SCENARIO)
    table = compare.contrasts_for(["dose_cells_per_kg=2e6:4e6"], paired, SCENARIO, 0)
    assert table.iloc[0].n_pairs == 4 and table.iloc[0].t50_delay_difference_mean_days == pytest.approx(1.0)


def test_dashboard_scenario_text_and_sweep_notes_count_not_eligible():
    runs = human_runs()
    effects = compare.effects_table(compare.per_seed_effects(runs, SCENARIO), SCENARIO)
    assert "2 not eligible" in scenario_text("2e6 cells/kg", effects.iloc[0])
    sweep = Sweep(Path("."), runs, pd.DataFrame(), effects, SCENARIO, "test")
    notes = sweep_notes(sweep)
    assert CLOCK in notes and "2 seed(s) not eligible" in notes


def _summary(control_end: float, t50: float) -> dict:
    arm = {"t50_days": t50, "mn_alive_final": 0.05, "functional_index_final": 0.07, "end_stage_days": control_end}
    return {"disease": "human_sporadic", "seed": 8, "days": [-1095, 3000], "clock": CLOCK, "calibration": "x",
            "arms": {"control": arm, "treated": {**arm, "end_stage_days": control_end + 15}}, "regions": 4,
            "treatment": {"dose_cells_per_kg": 2e6, "dose_cells_per_individual": 1.4e8, "infusion_days": [90.0]},
            "effect": {"t50_delay_days": 0.0, "t50_delay_censored_at_least_days": None, "end_stage_delay_days": 15.0}}


def test_summary_names_the_clock_and_explains_a_negative_t50():
    text = summary_table(_summary(1113.0, -172.0))
    assert CLOCK in text
    assert "T50 on day -172 is 172 days before day 0 of the clock" in text
    assert "comes before the first infusion (day 90)" in text
    assert "end-stage delay (treated − control): +15.0 days" in text
    assert day_note(12.0, CLOCK) is None


def test_summary_of_a_not_eligible_seed_gives_no_delay():
    text = summary_table(_summary(-800.0, -900.0))
    assert "none computed, not eligible" in text and "+0.0 days" not in text and "end-stage delay" not in text


# =========================================================================== the onset window (a trial-design setting)
WINDOW_KEY = "treatment.eligibility_max_days_from_onset"


def test_onset_longer_before_the_first_infusion_than_the_window_is_not_eligible():
    why = not_eligible_reason(400.0, 90.0, -700.0, 730.0)
    assert why.startswith("not eligible: the untreated individual's symptom onset on day -700 lies 790 days before the "
                          "first infusion on day 90") and f"{WINDOW_KEY}=730" in why
    assert not_eligible_reason(400.0, 90.0, -640.0, 730.0) is None  # exactly 730 days before: inside
    assert not_eligible_reason(400.0, 90.0, -700.0, None) is None  # no window
    assert not_eligible_reason(400.0, 90.0, None, 730.0) is None  # no onset in the simulated days
    assert not_eligible_reason(400.0, 90.0, 200.0, 0.0) is None  # onset after the infusion
    assert "reached end stage" in not_eligible_reason(-800.0, 90.0, -900.0, 730.0)  # end stage is the reason given first
    assert list(not_eligible_kind(human_runs(window=730.0))) == [END_STAGE, END_STAGE, PAST_WINDOW, None, None, None]
    assert list(eligible(human_runs(window=390.0))) == [False, False, False, True, True, True]  # seed 3: 390 days
    assert list(eligible(human_runs(window=389.0))) == [False, False, False, False, True, True]


def test_compare_leaves_out_exactly_the_seeds_past_the_window_and_counts_them():
    runs = human_runs(window=730.0)
    paired = compare.per_seed_effects(runs, SCENARIO)
    assert sorted(paired.loc[paired["eligible"], "seed"]) == [3, 4, 5]
    effects = compare.effects_table(paired, SCENARIO)
    row = effects.iloc[0]
    assert row.n_seeds == 3 and row.n_not_eligible == 3 and row.n_not_eligible_onset_window == 1
    assert row.t50_delay_mean_days == pytest.approx(np.mean([4.0, 6.0, 8.0]))
    table, _ = compare.display_table(effects, SCENARIO)
    assert table["not eligible"].tolist() == ["3"]
    notes = " ".join(compare.notes(effects, runs, 0))
    assert "not eligible: 2 seed(s) whose untreated arm reached end stage on or before the first infusion day" in notes
    assert (f"not eligible: 1 seed(s) whose untreated arm's symptom onset lay more than 730 days before the first "
            f"infusion day ({WINDOW_KEY}, a trial-design setting)") in notes
    tighter = compare.effects_table(compare.per_seed_effects(human_runs(window=300.0), SCENARIO), SCENARIO).iloc[0]
    assert tighter.n_seeds == 2 and tighter.n_not_eligible_onset_window == 2  # seed 3 (390 days) too
    without = compare.effects_table(compare.per_seed_effects(human_runs(), SCENARIO), SCENARIO).iloc[0]
    assert without.n_seeds == 4 and without.n_not_eligible_onset_window == 0
    assert WINDOW_KEY not in " ".join(compare.notes(without.to_frame().T, human_runs(), 0))
    both = pd.concat([human_runs(2e6, window=730.0), human_runs(4e6, shift=1.0, window=730.0)], ignore_index=True)
    contrast = compare.contrasts_for(["dose_cells_per_kg=2e6:4e6"], compare.per_seed_effects(both, SCENARIO), SCENARIO, 0)
    assert contrast.iloc[0].n_pairs == 3


def test_a_scenario_whose_seeds_are_all_past_the_window_says_so():
    runs = human_runs(window=100.0)
    runs["control_onset_days"], runs["control_end_stage_days"] = -500.0, np.nan
    row = compare.effects_table(compare.per_seed_effects(runs, SCENARIO), SCENARIO).iloc[0]
    assert row.n_seeds == 0 and row.n_not_eligible == row.n_not_eligible_onset_window == 6
    assert row.reading == ("no eligible seed (every individual's symptom onset lay past the eligibility window before "
                           "the first infusion)")


def test_dashboard_counts_each_reason():
    runs = human_runs(window=730.0)
    effects = compare.effects_table(compare.per_seed_effects(runs, SCENARIO), SCENARIO)
    assert ("3 not eligible (2 end stage before the first infusion, 1 onset past the eligibility window; left out)"
            in scenario_text("2e6 cells/kg", effects.iloc[0]))
    notes = sweep_notes(Sweep(Path("."), runs, pd.DataFrame(), effects, SCENARIO, "test"))
    assert "3 seed(s) not eligible (2 end stage before the first infusion, 1 onset past the eligibility window)" in notes


def test_summary_of_a_seed_past_the_window_gives_no_delay():
    s = _summary(1113.0, -172.0)
    s["arms"]["control"]["onset_days"] = -700.0
    s["treatment"]["eligibility_max_days_from_onset"] = 730.0
    text = summary_table(s)
    assert ("modeled paired T50 delay: none computed, not eligible: the untreated individual's symptom onset on day -700 "
            "lies 790 days before the first infusion on day 90") in text
    assert "end-stage delay" not in text and "comes before the first infusion" not in text
    s["treatment"]["eligibility_max_days_from_onset"] = 800.0
    assert "none computed" not in summary_table(s) and "end-stage delay (treated − control): +15.0 days" in summary_table(s)


@pytest.mark.parametrize("value, words", [
    ("-1", "=-1.0 is invalid: allowed range is a finite number in [0, 100000] or null (off)"),
    ("1e6", "=1000000.0 is invalid: allowed range is a finite number in [0, 100000] or null (off)"),
    ("nan", "=nan is invalid: allowed range is a finite number in [0, 100000] or null (off)"),
    ("abc", "=abc is invalid: expected a value of type Float"),
])
def test_a_bad_window_is_refused_in_one_line_naming_the_key(value, words):
    with pytest.raises(ConfigError) as info:
        compose_config([f"{WINDOW_KEY}={value}"])
    assert str(info.value) == f"{WINDOW_KEY}{words}"


def test_library_callers_may_leave_the_window_off_but_not_give_it_a_wrong_type():
    for ok in (None, 0, 730.0):
        cfg = SimConfig()
        cfg.treatment.eligibility_max_days_from_onset = ok
        assert validate(cfg) is cfg
    for bad in (True, "730", [730.0]):
        cfg = SimConfig()
        cfg.treatment.eligibility_max_days_from_onset = bad
        with pytest.raises(ConfigError, match=rf"^{WINDOW_KEY}=.* is invalid: expected a finite number in \[0, 100000\]"):
            validate(cfg)
    assert compose_config([f"{WINDOW_KEY}=null"]).treatment.eligibility_max_days_from_onset is None


def test_the_command_line_refuses_a_bad_window_with_exit_2_and_writes_nothing(tmp_path):
    r = subprocess.run([sys.executable, "-m", "sim", "domain=quick", f"{WINDOW_KEY}=-5"], cwd=tmp_path,
                       capture_output=True, text=True, encoding="utf-8", timeout=300, check=False)
    assert r.returncode == 2, r.stderr[-2000:]
    expected = f"alsim: error: {WINDOW_KEY}=-5.0 is invalid: allowed range is a finite number in [0, 100000] or null (off)"
    assert r.stderr.splitlines() == [expected]
    assert list(tmp_path.iterdir()) == []  # no outputs/, no run folder


def test_a_run_with_a_window_records_it_and_simulates_exactly_the_same(short_run, tmp_path):
    """The window is a judgement on the result: the run folder's simulated files are those of the same run without it,
    byte for byte; summary.json records it, alsim-compare reads it, and the config hash tells the two runs apart (so a
    sweep never reuses a run recorded with another window)."""
    overrides = [*SHORT_RUN, f"{WINDOW_KEY}=10"]
    execute_run(compose_config(overrides), overrides, str(tmp_path / "run"))
    for rel in ("timeseries.parquet", "snapshots/agents.parquet", "snapshots/fields.npz"):
        assert (tmp_path / "run" / rel).read_bytes() == (short_run / rel).read_bytes(), rel
    with_window = json.loads((tmp_path / "run" / "summary.json").read_text(encoding="utf-8"))
    without = json.loads((short_run / "summary.json").read_text(encoding="utf-8"))
    assert with_window["treatment"]["eligibility_max_days_from_onset"] == 10.0
    assert without["treatment"]["eligibility_max_days_from_onset"] is None
    assert with_window["arms"] == without["arms"] and with_window["effect"] == without["effect"]
    assert with_window["config_hash"] == config_hash(compose_config(overrides)) != without["config_hash"]
    compare.main([str(tmp_path / "run"), "--out", str(tmp_path / "cmp")])
    runs = pd.read_parquet(tmp_path / "cmp" / "dataset" / "runs.parquet")
    assert runs["eligibility_max_days_from_onset"].tolist() == [10.0] and "control_onset_days" in runs
