"""MSC pathway knock-outs: the presets compose, and each pathway's share of the modeled effect behaves.

In this model the MSC effect reaches the tissue by two routes: *local* (homing is the only way an MSC
enters the patch; local_paracrine and local_vesicles act only through such cells — after IV infusion almost
none) and *systemic* (barrier_repair, exosome, microglia_polarization, efferocytosis, systemic_treg). With
both routes off the treated arm must equal the control arm exactly. The local pathways' own mechanisms are
tested where cells really are in the patch (test_pathways.py), not locked to zero here.

The benefit is measured with a sensitive, continuous metric: the area under the mean motor-neuron
health curve (dead neurons count 0), treated − control, in health-days, over a 40-day window with a
1e8 cells/kg infusion on day 80, where every default pathway's effect is clearly non-zero.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from sim.presets import compose_config
from sim.config import MSCPathways, SimConfig
from sim.experiments import sweep
from sim.run import ArmJob, raise_first, run_arm, run_arms

CONFIGS = Path(__file__).resolve().parent.parent / "configs"
PATHWAYS = tuple(f.name for f in dataclasses.fields(MSCPathways))
LOCAL = ("homing", "local_paracrine", "local_vesicles")
SYSTEMIC = ("exosome", "systemic_treg", "microglia_polarization", "efferocytosis", "barrier_repair")
OFF = {**{p: (p,) for p in PATHWAYS}, "all": PATHWAYS, "local": LOCAL, "systemic": SYSTEMIC,
       "local_and_systemic": ("homing", *SYSTEMIC)}
WINDOW = ["domain=quick", "domain.width_um=400", "domain.height_um=400", "disease.start_day=75",
          "disease.horizon_days=115", "treatment.start_day=80", "treatment.dose_cells_per_kg=1e8"]
SEEDS = (0, 1)
TOLERANCE = 0.01  # of the all-on benefit: a pathway that carries less than this is not distinguishable here
MSC_COLUMNS = ("msc_blood", "msc_lung", "msc_tissue", "msc_cleared", "msc_infused")


def scenario_config(scenario: str, extra: tuple[str, ...] = ()) -> SimConfig:
    preset = [] if scenario == "none" else [f"+experiment=knockout_{scenario}"]
    return compose_config([*WINDOW, *preset, *extra])


def frame(record) -> pd.DataFrame:
    return pd.DataFrame(record.rows)


def health_days(record) -> float:
    """∫ mean health over all motor neurons (dead = 0) dt, in health-days."""
    df = frame(record)
    return float(np.trapezoid(df["mn_mean_health"] * df["mn_alive_fraction"], df["day"]))


@pytest.fixture(scope="module")
def arms() -> dict:
    """Control arms per seed and treated arms per (scenario, seed), simulated together in one cohort (`run_arms`:
    each record is the arm's run alone, bit for bit — test_cohort.py checks that — at a fraction of the cost)."""
    jobs = {}
    for scenario in ("none", *SYSTEMIC, "systemic", "all", "local_and_systemic"):
        cfg = scenario_config(scenario)
        for seed in SEEDS if scenario in ("none", *SYSTEMIC) else SEEDS[:1]:
            jobs[scenario, seed] = ArmJob(dataclasses.replace(cfg, seed=seed), "treated")
    for seed in SEEDS:
        jobs["control", seed] = ArmJob(dataclasses.replace(scenario_config("none"), seed=seed), "control")
    return dict(zip(jobs, raise_first(run_arms(list(jobs.values())))))


def benefit(arms: dict, scenario: str) -> float:
    return float(np.mean([health_days(arms[scenario, s]) - health_days(arms["control", s]) for s in SEEDS]))


def assert_equals_control(treated, control) -> None:
    """Every tissue outcome identical: all timeseries columns but the MSC bookkeeping, deaths, fields, agents."""
    t, c = frame(treated), frame(control)
    assert t["msc_infused"].iloc[-1] > 0 and (t["msc_tissue"] == 0).all()  # cells were infused, none reached the patch
    drop = ["arm", *MSC_COLUMNS]
    assert set(t.columns) - set(drop) > {"mn_alive", "functional_index", "mean_tnf", "tregs", "treg_systemic"}
    pd.testing.assert_frame_equal(t.drop(columns=drop), c.drop(columns=drop), check_exact=True)
    np.testing.assert_array_equal(treated.death_days, control.death_days)
    assert len(treated.field_frames) == len(control.field_frames) > 0
    for a, b in zip(treated.field_frames, control.field_frames):
        np.testing.assert_array_equal(a, b)
    # agent snapshots without MSCs and without agent ids (MSC agents shift the ids of later agents)
    strip = lambda r: [row[1:3] + row[4:] for row in r.agent_rows if row[2] != "msc"]  # noqa: E731
    assert strip(treated) == strip(control)


# =========================================================================== presets
@pytest.mark.parametrize("scenario", list(OFF))
def test_preset_switches_off_exactly_its_pathways(scenario):
    cfg = compose_config([f"+experiment=knockout_{scenario}", "domain=quick"])
    assert {p for p in PATHWAYS if not getattr(cfg.msc.pathways, p)} == set(OFF[scenario])
    default = compose_config(["domain=quick"])
    assert dataclasses.replace(cfg, msc=default.msc) == default  # nothing else changes
    assert dataclasses.replace(cfg.msc, pathways=default.msc.pathways) == default.msc


def test_barrier_harm_preset_switches_the_disease_mechanism_off_and_keeps_every_pathway():
    cfg = compose_config(["+experiment=knockout_barrier_harm", "domain=quick"])
    default = compose_config(["domain=quick"])
    assert cfg.neurons.w_blood == 0.0 < default.neurons.w_blood
    assert cfg.msc == default.msc
    assert dataclasses.replace(cfg, neurons=default.neurons) == default


def test_command_line_wins_over_a_knockout_preset():
    cfg = compose_config(["+experiment=knockout_all", "msc.pathways.homing=true"])
    assert cfg.msc.pathways.homing and not cfg.msc.pathways.exosome


def test_knockouts_sweep_preset_covers_every_scenario_and_passes_the_up_front_checks():
    preset = yaml.safe_load((CONFIGS / "experiment" / "knockouts.yaml").read_text(encoding="utf-8"))
    params = preset["hydra"]["sweeper"]["params"]
    scenarios = params["knockout"].split(",")
    assert sorted(scenarios) == sorted(p.stem for p in (CONFIGS / "knockout").glob("*.yaml")) == sorted(["none", "barrier_harm", *OFF])
    overrides = ["+experiment=knockouts", *(f"{k}={v}" for k, v in params.items())]
    sweep.check_values(overrides)  # what SweepCallback runs before any job starts: composes every scenario
    assert sweep.count_jobs(overrides) == len(scenarios) * 10
    for scenario in [s for s in scenarios if s != "barrier_harm"]:
        switches = yaml.safe_load((CONFIGS / "knockout" / f"{scenario}.yaml").read_text(encoding="utf-8"))
        assert sorted(switches) == sorted(PATHWAYS)
        assert {p for p, on in switches.items() if not on} == set(OFF.get(scenario, ()))
    cfg = compose_config(["+experiment=knockouts", "knockout=exosome"])
    assert cfg.domain.name == "quick" and cfg.disease.name == "sod1_g93a_mouse"
    assert [p for p in PATHWAYS if not getattr(cfg.msc.pathways, p)] == ["exosome"]


# =========================================================================== exact zeros
def test_all_pathways_off_treated_arm_equals_control(arms):
    assert_equals_control(arms["all", 0], arms["control", 0])


def test_homing_and_systemic_pathways_off_give_exactly_zero_effect(arms):
    cfg = scenario_config("local_and_systemic")
    assert cfg.msc.pathways.local_paracrine and cfg.msc.pathways.local_vesicles  # left on: nothing to act on without homing
    assert_equals_control(arms["local_and_systemic", 0], arms["control", 0])
    assert health_days(arms["local_and_systemic", 0]) == health_days(arms["control", 0])


def test_with_the_systemic_route_off_no_cell_reached_the_patch_so_nothing_changed(arms):
    """The local route is on here, but after IV infusion no MSC entered this patch: the arm is the control."""
    assert_equals_control(arms["systemic", 0], arms["control", 0])


def test_homing_off_leaves_the_local_pathways_nothing_to_act_on():
    """Where homing does bring MSCs into the patch, switching it off leaves local_paracrine nothing to act on."""
    forced = ("msc.homing_fraction_to_cord=0.001", "disease.cord_volume_mm3=0.001", "disease.horizon_days=85")
    on = run_arm(scenario_config("none", forced), "treated")
    assert frame(on)["msc_tissue"].max() > 0  # the set-up does home cells when homing is on
    off = run_arm(scenario_config("homing", forced), "treated")
    off_local_too = run_arm(scenario_config("homing", (*forced, "msc.pathways.local_paracrine=false")), "treated")
    assert (frame(off)["msc_tissue"] == 0).all()
    pd.testing.assert_frame_equal(frame(off), frame(off_local_too), check_exact=True)


# =========================================================================== shares of the effect
def test_every_systemic_pathway_carries_part_of_the_modeled_effect(arms):
    all_on = benefit(arms, "none")
    assert all(health_days(arms["none", s]) > health_days(arms["control", s]) for s in SEEDS)
    assert all_on > 0.1  # health-days: clearly non-zero at this dose and window
    assert all((frame(arms["none", s])["msc_tissue"] == 0).all() for s in SEEDS)  # the accounting: no MSC in the patch
    for pathway in SYSTEMIC:
        assert abs(benefit(arms, pathway) - all_on) > TOLERANCE * all_on, pathway
