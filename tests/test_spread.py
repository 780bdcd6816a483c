"""Regional spread (sim/spread.py): an individual as body regions affected one after another."""
from __future__ import annotations


import numpy as np
import pandas as pd
import pytest

from sim import spread
from sim.config import ConfigError, SimConfig, validate
from sim.experiments import calibrate, feasibility
from sim.model import ALSModel
from sim.run import arm_outcomes, run_arm

from tests.test_mechanisms import assert_same_outcome, frame, small_config

PATCH = ("functional_index", "motor_unit_index", "mn_alive_fraction")


def regional(regions: int, delay: float = 0.0, seed: int = 0, dose: float | None = None, horizon: float = 160.0) -> SimConfig:
    cfg = small_config(seed=seed, start=80.0, horizon=horizon)
    cfg.disease.regions, cfg.disease.spread_delay_days = regions, delay
    if dose is not None:
        cfg.treatment.dose_cells_per_kg = dose
    return validate(cfg)


@pytest.fixture(scope="module")
def one_region():
    return run_arm(regional(1), "control")


@pytest.fixture(scope="module")
def second_region_never_starts():
    """Two regions, the second one's lag longer than the simulated days."""
    return run_arm(regional(2, delay=1e4), "control")


def test_the_lag_is_zero_for_the_onset_region_and_grows_with_the_region_on_the_individuals_clock():
    d = SimConfig().disease
    d.spread_delay_days, d.drive_exponent = 100.0, 1.0
    assert spread.region_lag_days(d, 1.0, 0) == 0.0
    assert spread.region_lag_days(d, 1.0, 3) == pytest.approx(300.0)
    # four times the drive with m = 1: time scale 4^(−1/2) = ½, so the spread is twice as fast
    assert spread.region_lag_days(d, 4.0, 2) == pytest.approx(100.0)


def test_with_one_region_the_person_is_the_patch_exactly(one_region):
    df = frame(one_region)
    for column, person in spread.PERSON_COLUMNS.items():
        np.testing.assert_array_equal(df[column].to_numpy(), df[person].to_numpy())


def test_further_regions_leave_the_onset_regions_patch_untouched(one_region):
    """Regions are separate tissue: adding them changes only the person's columns, never region 0's record."""
    three = run_arm(regional(3, delay=10.0), "control")
    assert_same_outcome(one_region, three, ignore_columns=("arm", *spread.PERSON_COLUMNS.values()))


def test_person_columns_are_the_means_of_the_regions_own_patches():
    cfg = regional(2, delay=10.0, horizon=120.0)  # 40 days, four times the second region's lag
    person = frame(run_arm(cfg, "control"))
    onset = ALSModel(cfg, "control")
    other = ALSModel(cfg, "control", onset.individual, region=1)
    assert other.lag_days == pytest.approx(10.0 * onset.individual.drive_multiplier ** (-1 / (cfg.disease.drive_exponent + 1)))
    rows = []
    for k in range(1, other.n_steps + 1):
        other.step()
        if k % 24 == 0 or k == other.n_steps:
            rows.append(other.metrics())
    region1 = pd.DataFrame(rows)
    for column, col_person in spread.PERSON_COLUMNS.items():
        expected = (person[column].to_numpy()[1:] + region1[column].to_numpy()) / 2
        np.testing.assert_allclose(person[col_person].to_numpy()[1:], expected, rtol=0, atol=1e-15)


def test_a_further_region_has_its_own_tissue_but_is_the_same_individual():
    cfg = regional(2)
    a, b = ALSModel(cfg, "control"), ALSModel(cfg, "control", region=1)
    assert a.individual == b.individual  # the seed's own draw, in every region
    assert not np.array_equal(a.neuron_store["x"], b.neuron_store["x"])
    assert len(a.neuron_store) == len(b.neuron_store)  # same density, same patch


def test_a_region_whose_disease_has_not_started_stays_intact_and_holds_the_person_up(one_region, second_region_never_starts):
    """A lag longer than the simulated days: the region's drive is 0 throughout, so it keeps every neuron and
    the person's index is (onset region + 1)/2 exactly."""
    two = frame(second_region_never_starts)
    patch = frame(one_region)
    assert patch["functional_index"].iloc[-1] < 0.5  # the onset region is far gone
    np.testing.assert_allclose(two["person_functional_index"], (patch["functional_index"] + 1.0) / 2, rtol=0, atol=1e-15)
    np.testing.assert_allclose(two["person_mn_alive_fraction"], (patch["mn_alive_fraction"] + 1.0) / 2, rtol=0, atol=1e-15)


def test_onset_is_the_onset_regions_and_end_stage_the_persons(one_region, second_region_never_starts):
    d = regional(2, delay=1e4).disease
    two = arm_outcomes(second_region_never_starts, d)
    one = arm_outcomes(one_region, d)
    assert two["onset_days"] == one["onset_days"] is not None
    assert one["end_stage_days"] is not None
    # the intact second region holds the person's index at ≥ 0.5 > end-stage threshold: no end stage
    assert two["end_stage_days"] is None


def test_zero_dose_treated_arm_equals_control_in_every_region():
    cfg = regional(2, delay=20.0, dose=0.0, horizon=120.0)  # 40 days, twice the lag, over the sham infusion on day 90
    control, treated = run_arm(cfg, "control"), run_arm(cfg, "treated")
    assert_same_outcome(control, treated)


def test_regions_must_be_a_whole_number_in_range():
    for bad in (0, 9, 2.5):
        cfg = SimConfig()
        cfg.disease.regions = bad
        with pytest.raises(ConfigError, match=r"disease\.regions=.* is invalid: .*\[1, 8\]"):
            validate(cfg)


# --------------------------------------------------------------------------- the continuum limit
def test_continuum_regions_without_delay_are_one_region():
    one = feasibility.cohort(0.8, 0.6, 1095.0, 0.9, 2.0, onset_index=0.9, end_index=0.4, n=9)
    four = feasibility.cohort(0.8, 0.6, 1095.0, 0.9, 2.0, onset_index=0.9, end_index=0.4, n=9, regions=4)
    assert one == four


def test_continuum_spread_keeps_the_onset_and_lengthens_survival():
    base = dict(vulnerability_sd_log=0.8, drive_exponent=0.6, drive_offset_days=1095.0, individual_spread_per_unit_time=0.9,
                reinnervation_max=2.0, onset_index=0.9, end_index=0.4, n=21, regions=4)
    survival, onsets = [], []
    for delay in (0.0, 150.0, 300.0):
        people = feasibility.cohort(**base, spread_delay_days=delay)
        survival.append(calibrate.STATISTICS["median_survival_from_onset_months"](people))
        onsets.append([p["onset_days"] for p in people])
    assert onsets[0] == onsets[1] == onsets[2]  # clinical onset is the onset region's
    assert survival[0] < survival[1] < survival[2]
