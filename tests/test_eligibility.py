"""Eligibility and the clock, on a constructed human cohort: individuals past end stage before the first infusion are
counted as not eligible and left out of every effect statistic; a T50 before day 0 or the infusion is explained."""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim.dashboard.callbacks import scenario_text, sweep_notes
from sim.dashboard.sweeps import Sweep
from sim.eligibility import day_note, eligible, not_eligible_reason
from sim.experiments import compare
from sim.run import summary_table

CLOCK = "days since the reference individual's symptom onset"
# seed: (control end stage, paired T50 delay); infusion on day 90. Seeds 0 and 1 reached end stage before it.
COHORT = {0: (-800.0, 0.0), 1: (90.0, 0.0), 2: (400.0, 2.0), 3: (700.0, 4.0), 4: (1500.0, 6.0), 5: (None, 8.0)}


def human_runs(dose: float = 2e6, shift: float = 0.0) -> pd.DataFrame:
    rows = []
    for seed, (end, delay) in COHORT.items():
        rows.append({"dose_cells_per_kg": dose, "start_day": 90.0, "n_infusions": 1, "interval_days": 30.0,
                     "disease": "human_sporadic", "clock": CLOCK, "seed": seed, "run_id": f"{dose:g}/{seed}",
                     "treatment_enabled": True, "control_t50_days": -300.0 + 100 * seed,
                     "control_end_stage_days": np.nan if end is None else end, "auc_gain_days": delay / 2 + shift,
                     "t50_delay_days": delay + shift, "t50_delay_censored_at_least_days": np.nan,
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
