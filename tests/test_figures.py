"""Unit tests of the one-run figure functions in sim.figures (synthetic tables with known values)."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim import figures

DAYS = np.arange(30.0, 41.0)
FIELDS = ["tnf", "il10", "bdnf"]
UNITS = ["pM", "pM", "pM"]


def timeseries(treated_alive=None, msc=True) -> pd.DataFrame:
    """Two arms over 11 days; the treated arm's survival can be set, MSCs infused on day 33."""
    rows = []
    for arm in ("control", "treated"):
        for i, day in enumerate(DAYS):
            alive = 1 - 0.05 * i if arm == "control" or treated_alive is None else treated_alive[i]
            infused = 1000.0 if (arm == "treated" and msc and day >= 33) else 0.0
            lung = infused * 0.5 ** (day - 33) if infused else 0.0
            rows.append({"arm": arm, "day": day, "mn_alive_fraction": alive, "functional_index": alive * 0.9,
                         "microglia_surveillant": 40 - i, "microglia_pro_inflammatory": i, "microglia_protective": 2 * i,
                         "tregs": i % 3, "treg_systemic": 1.0 + (0.1 if infused else 0.0),
                         **{f"mean_{f}": float(i) for f in FIELDS},
                         "msc_infused": infused, "msc_lung": lung, "msc_blood": 0.0, "msc_tissue": 1.0 if infused else 0.0,
                         "msc_cleared": infused - lung - (1.0 if infused else 0.0)})
    return pd.DataFrame(rows)


def traces_named(fig, name: str) -> list:
    return [t for t in fig.data if t.name == name]


def vlines(fig) -> list[float]:
    return [s.x0 for s in fig.layout.shapes if s.x0 == s.x1]


def test_survival_and_function_draws_both_arms_with_their_data():
    treated = [1.0] * len(DAYS)
    fig = figures.survival_and_function(timeseries(treated), [33.0])
    names = [t.name for t in fig.data]
    assert names.count("treated arm") == 2 and names.count("control arm") == 2
    control, treated_trace = traces_named(fig, "control arm")[0], traces_named(fig, "treated arm")[0]
    assert list(treated_trace.y) == treated
    assert list(control.y) == pytest.approx(1 - 0.05 * np.arange(len(DAYS)))
    assert control.line.dash == "dash" and treated_trace.line.dash == "solid"
    assert fig.data[-1].name == "control arm"  # control drawn last: visible even when identical
    assert vlines(fig) == [33.0, 33.0]          # the infusion day on both panels


def test_identical_arms_are_both_drawn_as_they_are():
    fig = figures.survival_and_function(timeseries(), [])
    control, treated = traces_named(fig, "control arm")[0], traces_named(fig, "treated arm")[0]
    assert list(control.y) == list(treated.y)
    assert not vlines(fig)


def test_the_whole_person_is_drawn_only_when_the_run_had_further_regions():
    ts = timeseries()
    ts["person_functional_index"] = ts["functional_index"]  # one region: the person is the patch
    assert not [t for t in figures.survival_and_function(ts).data if "whole person" in t.name]
    ts["person_functional_index"] = (ts["functional_index"] + 1.0) / 2  # a second region, still intact
    fig = figures.survival_and_function(ts)
    person = traces_named(fig, "control arm, whole person (all regions)")
    assert len(person) == 1 and person[0].line.dash == "dot" and person[0].xaxis == "x2"
    assert list(person[0].y) == list(ts.loc[ts["arm"] == "control", "person_functional_index"])
    assert len(traces_named(fig, "treated arm, whole person (all regions)")) == 1


def test_microglia_tregs_and_field_means():
    ts = timeseries()
    mg = figures.microglia_curves(ts, [33.0])
    assert len(mg.data) == 6  # 3 states × 2 arms
    assert list(traces_named(mg, "pro-inflammatory, treated")[0].y) == list(range(len(DAYS)))
    tregs = figures.treg_curves(ts)
    assert {t.name for t in tregs.data} == {"treated arm", "control arm"}
    fm = figures.field_mean_curves(ts, FIELDS, UNITS, [33.0])
    assert len(fm.data) == 2 * len(FIELDS)
    assert [a.text for a in fm.layout.annotations if "pM" in a.text] == ["TNF-α (pM)", "IL-10 (pM)", "BDNF (pM)"]


def test_msc_journey_stacks_compartments_to_the_infused_total():
    fig = figures.msc_journey(timeseries(), [33.0])
    stacked = [t for t in fig.data if t.stackgroup == "msc"]
    assert [t.name for t in stacked] == ["blood", "lung", "cleared"]
    tissue = traces_named(fig, "tissue (patch)")[0]
    total = sum(np.asarray(t.y) for t in stacked) + np.asarray(tissue.y)
    assert total == pytest.approx(np.asarray(traces_named(fig, "infused so far")[0].y))


def test_msc_journey_says_so_when_nothing_was_infused():
    fig = figures.msc_journey(timeseries(msc=False))
    assert not fig.data and "no MSCs infused" in fig.layout.annotations[0].text


def snapshot_agents(day: float) -> pd.DataFrame:
    rows = [("control", day, "motor_neuron", 1, 10.0, 20.0, "alive", 1.0),
            ("control", day, "motor_neuron", 2, 30.0, 40.0, "dead", 0.0),
            ("control", day, "microglia", 3, 50.0, 60.0, "pro_inflammatory", 1.0),
            ("treated", day, "motor_neuron", 1, 10.0, 20.0, "alive", 1.0),
            ("treated", day, "motor_neuron", 2, 30.0, 40.0, "alive", 0.5),
            ("treated", day, "msc", 9, 70.0, 80.0, "tissue", 1.0),
            ("treated", day, "msc", 10, np.nan, np.nan, "lung", 2500.0)]
    return pd.DataFrame(rows, columns=["arm", "day", "type", "agent_id", "x", "y", "state", "value"])


def test_tissue_map_puts_agents_on_the_field_for_each_arm():
    field = {"control": np.arange(12.0).reshape(3, 4), "treated": np.zeros((3, 4))}
    fig = figures.tissue_map(field, snapshot_agents(44.0), 44.0, "tnf", "pM", voxel_um=25.0, zmax=20.0)
    per_arm = 1 + len(figures.AGENT_LAYERS)
    assert len(fig.data) == 2 * per_arm
    heat = [t for t in fig.data if t.type == "heatmap"]
    assert np.array_equal(heat[0].z, field["control"]) and list(heat[0].x) == [12.5, 37.5, 62.5, 87.5]
    assert fig.layout.coloraxis.cmax == 20.0
    by_arm = {"control": fig.data[:per_arm], "treated": fig.data[per_arm:]}
    alive = {arm: [t for t in ts if t.name == "motor neuron, alive"][0] for arm, ts in by_arm.items()}
    assert list(alive["control"].x) == [10.0] and list(alive["treated"].x) == [10.0, 30.0]
    msc = [t for t in by_arm["treated"] if t.name == "MSC in the tissue"][0]
    assert list(msc.x) == [70.0]  # packets outside the tissue have no position and are not drawn
    titles = [a.text for a in fig.layout.annotations]
    assert "1/2 motor neurons alive" in titles[0] and "2/2 motor neurons alive" in titles[1]
    assert "2.5e+03 in lung" in titles[1]
    assert "day 44" in fig.layout.title.text and "TNF-α" in fig.layout.title.text


def test_tissue_animation_has_one_frame_per_snapshot_with_matching_traces():
    days = np.array([30.0, 37.0, 44.0])
    fields = {a: np.stack([np.full((3, 4), k, float) for k in range(3)]) for a in ("control", "treated")}
    agents = pd.concat([snapshot_agents(d) for d in days], ignore_index=True)
    fig = figures.tissue_animation(fields, {a: days for a in fields}, agents, "bdnf", "pM", 25.0)
    assert [f.name for f in fig.frames] == ["30", "37", "44"]
    assert all(len(f.data) == len(fig.data) for f in fig.frames)
    assert fig.frames[2].data[0].z[0][0] == 2.0
    assert fig.layout.coloraxis.cmax == 2.0  # one colour scale over all days
    assert [s.label for s in fig.layout.sliders[0].steps] == ["30", "37", "44"]


def test_scenario_bands_show_mean_and_band_per_arm_with_infusions():
    ts = timeseries()
    ts = pd.concat([ts.assign(seed=s, mn_alive_fraction=ts["mn_alive_fraction"] * f) for s, f in ((0, 1.0), (1, 0.8))])
    ts = ts.assign(dose_cells_per_kg=4e7, start_day=33.0, n_infusions=2, interval_days=5.0)
    fig = figures.scenario_bands(ts, "a scenario")
    means = [t for t in fig.data if t.name and "mean of seeds" in t.name]
    assert {t.name for t in means} == {"treated: mean of seeds", "control: mean of seeds"}
    control = [t for t in means if t.name.startswith("control")][0]
    assert control.y[1] == pytest.approx(0.95 * 0.9)
    assert sorted(set(vlines(fig))) == [33.0, 38.0]
    assert fig.layout.title.text == "a scenario"


def test_scheduled_days_stop_at_the_horizon_and_skip_zero_dose():
    row = {"dose_cells_per_kg": 1e6, "start_day": 90.0, "n_infusions": 3, "interval_days": 30.0}
    assert figures.scheduled_days(row, 160.0) == [90.0, 120.0, 150.0]
    assert figures.scheduled_days(row, 130.0) == [90.0, 120.0]
    assert figures.scheduled_days({**row, "dose_cells_per_kg": 0.0}, 160.0) == []
    # an irregular course (treatment.offsets_days, as runs.parquet carries it) replaces the regular rule
    assert figures.scheduled_days({**row, "n_infusions": 2, "offsets_days": "0 26"}, 160.0) == [90.0, 116.0]
    assert figures.scheduled_days({**row, "offsets_days": pd.NA}, 160.0) == [90.0, 120.0, 150.0]


def test_empty_inputs_give_a_figure_that_says_why():
    empty = pd.DataFrame(columns=["arm", "day"])
    for fig in (figures.survival_and_function(empty), figures.microglia_curves(empty), figures.treg_curves(empty),
                figures.field_mean_curves(empty, FIELDS, UNITS), figures.scenario_bands(empty)):
        assert not fig.data and fig.layout.annotations[0].text
    assert figures.message_figure("refused").layout.annotations[0].text == "refused"
