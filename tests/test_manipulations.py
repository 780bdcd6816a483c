"""Experimental manipulations of the glial and immune environment: the table, its in-silico equivalents, and
whether the calibrated model moves survival, onset and progression the way each study reports.

The table (experiments/calibration/manipulations.csv) marks each row training or held-out before any fit; the
calibration reads only the training rows (through targets.yaml). The direction test runs every preset on a
small cohort of individuals the fit never saw and compares with every modelled row.
"""
from __future__ import annotations

import dataclasses
import functools
from pathlib import Path

import numpy as np
import pytest
import yaml

from sim import manipulation
from sim.config import ManipulationConfig, SimConfig, validate
from sim.environment import Environment
from sim.experiments import calibrate, sweep
from sim.experiments import manipulations as mx
from sim.fields import FIELD_INDEX
from sim.model import ALSModel
from sim.presets import compose_config, group_options, manipulation_preset

ROOT = Path(__file__).resolve().parents[1]
CONFIGS = ROOT / "configs"
TARGETS = ROOT / "experiments" / "calibration" / "targets.yaml"
ROWS = mx.load_table()
SEEDS = list(range(8))  # individuals the fit never used (it used seeds 1000+)
# Modelled rows the calibrated model does not reproduce, each explained in experiments/calibration/README.md.
# Pairs of studies that contradict each other put one row of each pair here by necessity. The test fails when a
# row not listed mismatches, and also when a listed row starts to match, so the README's account stays true.
KNOWN_MISMATCHES: set[tuple[str, str]] = {
    ("rag2_ko_beers", "survival"),  # training row: -6.2 % on these 8 (-6.3 % on 32), band -13.4 to -6.5 %
    ("rag2_ko_tada", "survival"), ("rag2_ko_tada", "onset"),  # contradicts Beers 2008 on the same knock-out
    ("nox2_ko_replication", "survival"),  # contradicts Marden 2007 (+74 %)
    # Treg expansion lengthens survival by 0.3-0.4 %: significant on 32 individuals (p 0.0004), not on these 8
    ("treg_expansion_sheean", "survival"), ("treg_transfer_banerjee", "survival"), ("treg_transfer_banerjee", "onset"),
}


# --------------------------------------------------------------------------- the table
def test_every_row_is_complete_and_its_role_was_fixed():
    assert ROWS and set(ROWS[0]) >= {"id", "study", "preset", "outcome", "direction", "role", "url", "quote"}
    for r in ROWS:
        assert r["role"] in ("training", "held-out", "not modelled"), r["id"]
        assert r["study"] and r["note"] is not None
        if r["role"] != "not modelled":
            assert r["preset"] in group_options("manipulation") and r["preset"] != "none", r["id"]
            assert r["direction"] in ("longer", "shorter", "later", "earlier", "none", "fewer", "more"), r["id"]
            assert r["outcome"] in ("survival", "onset", "progression", "t50", "reactive_microglia", "mn_loss"), r["id"]
            assert r["url"] and r["quote"], r["id"]  # every modelled row says where it was seen and what it says
        if r["effect_pct"]:
            assert r["quote"] or r["note"], r["id"]


def test_training_rows_are_exactly_the_calibration_targets_and_held_out_rows_are_never_fitted():
    training = [r for r in ROWS if r["role"] == "training"]
    assert training and all(r["band_low_pct"] and r["band_high_pct"] and r["outcome"] == "survival" for r in training)
    targets = [t for t in calibrate.load_targets(TARGETS, "sod1_g93a_mouse") if t.get("manipulation")]
    assert sorted((t["manipulation"], *t["band"]) for t in targets) == sorted(
        (r["preset"], float(r["band_low_pct"]), float(r["band_high_pct"])) for r in training)
    held_out_only = {r["preset"] for r in ROWS if r["role"] == "held-out"} - {r["preset"] for r in training}
    assert held_out_only and not held_out_only & {t["manipulation"] for t in targets}
    for preset in ("sod1_g93a_mouse", "human_sporadic"):
        for t in calibrate.load_targets(TARGETS, preset):
            assert t.get("manipulation") in (None, *{r["preset"] for r in training})


def test_training_bands_follow_from_the_studys_numbers():
    for r in (r for r in ROWS if r["role"] == "training"):
        (c, sc), (m, sm) = (tuple(float(x) for x in text.split(" d")[0].split(" ± ")) for text in (r["control"], r["manipulated"]))
        se = np.hypot(sc, sm)
        assert float(r["effect_pct"]) == pytest.approx(100 * (m - c) / c, abs=0.05)
        assert float(r["band_low_pct"]) == pytest.approx(100 * (m - c - 1.96 * se) / c, abs=0.05)
        assert float(r["band_high_pct"]) == pytest.approx(100 * (m - c + 1.96 * se) / c, abs=0.05)


# --------------------------------------------------------------------------- presets
@pytest.mark.parametrize("name", [n for n in group_options("manipulation") if n != "none"])
def test_each_preset_changes_only_the_manipulation_and_its_experiment_runs_untreated(name):
    cfg = compose_config([f"manipulation={name}", "domain=quick"])
    default = compose_config(["domain=quick"])
    assert dataclasses.replace(cfg, manipulation=default.manipulation) == default
    assert manipulation.changes_anything(cfg.manipulation) and cfg.manipulation == manipulation_preset(name)
    one = compose_config([f"+experiment=manipulation_{name}"])
    assert one.manipulation.name == name and not one.treatment.enabled


def test_the_sweep_preset_runs_every_manipulation_and_the_untouched_course():
    preset = yaml.safe_load((CONFIGS / "experiment" / "manipulations.yaml").read_text(encoding="utf-8"))
    params = preset["hydra"]["sweeper"]["params"]
    assert sorted(params["manipulation"].split(",")) == group_options("manipulation")
    overrides = ["+experiment=manipulations", *(f"{k}={v}" for k, v in params.items())]
    sweep.check_values(overrides)
    assert sweep.count_jobs(overrides) == len(group_options("manipulation")) * 10


def test_a_manipulation_acts_from_its_start_day_and_changes_exactly_its_multipliers():
    m = ManipulationConfig(name="x", start_day=100.0, treg_infiltration=0.0, microglia_ros=0.5, glutamate_uptake=2.0)
    before, after = Environment(leak=0.5, eaat2=0.8), Environment(leak=0.5, eaat2=0.8)
    manipulation.apply(m, before, 99.0, 0.05)
    manipulation.apply(m, after, 100.0, 0.05)
    assert before == Environment(leak=0.5, eaat2=0.8) and list(before.microglia_release) == [1, 1, 1, 1]
    assert after.treg_infiltration == 0.0 and after.eaat2 == pytest.approx(1.6) and list(after.microglia_release) == [1, 1, 0.5, 1]
    assert after.leak == 0.5 and after.treg_level == 1.0  # untouched multipliers stay exactly as they were


def small(preset: str, **changes) -> SimConfig:
    cfg = SimConfig(seed=2)
    cfg.domain.width_um = cfg.domain.height_um = 300.0
    cfg.domain.voxel_um = 30.0
    cfg.disease.start_day, cfg.disease.horizon_days = 85.0, 100.0
    cfg.treatment.enabled = False
    return validate(dataclasses.replace(cfg, manipulation=manipulation_preset(preset) if preset else ManipulationConfig(**changes)))


def run(cfg: SimConfig) -> ALSModel:
    model = ALSModel(cfg, "control")
    for _ in range(model.n_steps):
        model.step()
    return model


def test_in_the_model_rag2_has_no_tregs_and_wild_type_microglia_release_no_toxins():
    untouched, rag2, wt = run(small("none")), run(small("rag2_ko")), run(small("wt_microglia"))
    assert len(untouched.treg_store) > 0 and len(rag2.treg_store) == 0
    for name in ("tnf", "il1b", "ros"):
        assert untouched.solver.values[FIELD_INDEX[name]].max() > 0 and wt.solver.values[FIELD_INDEX[name]].max() == 0


def test_a_manipulation_that_changes_nothing_is_the_untouched_course_bit_for_bit():
    a, b = run(small("none")), run(small("", name="renamed", start_day=90.0))
    np.testing.assert_array_equal(a.solver.values, b.solver.values)
    assert a.metrics() == b.metrics()


# --------------------------------------------------------------------------- model vs study (calibrated preset)
@functools.lru_cache(maxsize=None)
def results() -> tuple[dict, ...]:
    cohorts = mx.simulate_cohorts(ROWS, SEEDS, [], workers=2)
    return tuple(mx.compare(ROWS, cohorts))


@pytest.mark.slow
def test_each_manipulation_moves_the_course_the_way_its_study_reports():
    out = results()
    assert {r["id"] for r in out} == {r["id"] for r in mx.modelled(ROWS)}
    mismatched = {(r["id"], r["outcome"]) for r in out if not r["matches"]}
    assert mismatched == KNOWN_MISMATCHES, "\n".join(
        f"{r['id']} {r['outcome']}: study {r['direction']}, model {r['model']['change']:+.2f}{r['model']['unit']} "
        f"(p {r['model']['p']:.2g})" for r in out if (r["id"], r["outcome"]) in mismatched ^ KNOWN_MISMATCHES)

