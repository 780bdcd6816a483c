"""Inference of the MSC strengths (sim.experiments.inference) and the cap diagnosis (sim.experiments.ceiling)."""
from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from sim import NOTICE
from sim.experiments import ceiling, inference, validation
from sim.presets import compose_config

BASE = ["domain=quick"]


# --------------------------------------------------------------------------- the split
def test_fit_refuses_a_held_out_row():
    rows = pd.concat([validation.training_rows(), validation.held_out_rows().iloc[:1]])
    with pytest.raises(inference.InferenceError, match="held-out row"):
        inference.fit_arms(rows)


def test_fitted_arms_are_the_simulable_training_rows():
    arms, skipped = inference.fit_arms(validation.training_rows())
    keys = {a["key"] for a in arms}
    assert keys == {"uccelli2012/1e6_iv_single", "kimh2010/1e4_it", "kimh2010/2e5_it", "kimh2010/1e6_it"}
    held = {f"{r.study_id}/{r.arm}" for r in validation.held_out_rows().itertuples()}
    assert not keys & held and not {s["key"] for s in skipped} & held
    # every training row is either fitted or skipped with a reason
    assert len(arms) + len(skipped) == len(validation.training_rows())
    uccelli = next(a for a in arms if a["key"].startswith("uccelli"))
    assert uccelli["observed"] == 1.0 and "treatment.route=iv" in uccelli["overrides"]
    assert "treatment.cells_per_dose=1e+06" in uccelli["overrides"]
    assert [a["observed"] for a in arms if a["key"].startswith("kimh")] == [0.0, 0.0, 1.0]


def test_held_out_rows_are_reported_with_why_they_are_not_simulated():
    draws = pd.DataFrame({"draw": [0], "msc.polarization_weight": [1.0]})
    out = inference.predictive(BASE, draws, validation.held_out_rows(), seeds=[0], workers=1)
    assert [p["split"] for p in out] == ["held_out"] * len(validation.held_out_rows())
    reasons = {p["key"]: p["reason"] for p in out}
    assert reasons["magota2021/iv_weekly_x4"].startswith("species rat")
    assert reasons["sironi2017/icv_repeated"].startswith("route intracerebroventricular")


# --------------------------------------------------------------------------- the distance
@pytest.mark.parametrize(("effect", "observed", "expected"), [
    (0.0, 1.0, 1.0), (2.5, 1.0, 0.5), (5.0, 1.0, 0.0), (9.0, 1.0, 0.0),
    (0.0, 0.0, 0.0), (4.9, 0.0, 0.0), (7.5, 0.0, 0.5), (math.nan, 1.0, 1.0), (math.nan, 0.0, 1.0)])
def test_shortfall_in_units_of_the_detectable_change(effect, observed, expected):
    assert inference.shortfall(effect, observed) == pytest.approx(expected)


def test_distance_sums_the_rows():
    assert inference.distance({"a": 2.5, "b": 7.5}, {"a": 1.0, "b": 0.0}) == pytest.approx(1.0)


def test_identified_compares_the_posterior_interval_with_the_prior():
    f = inference.factors(BASE, ["msc.polarization_weight"])[0]
    rng = np.random.default_rng(0)
    wide = inference.identified(f, rng.uniform(f.low, f.high, 20_000))
    narrow = inference.identified(f, rng.uniform(f.low, f.low + 0.1 * (f.high - f.low), 20_000))
    assert wide["width_vs_prior"] == pytest.approx(1.0, abs=0.02) and not wide["identified"]
    assert narrow["width_vs_prior"] == pytest.approx(0.1, abs=0.01) and narrow["identified"]


def test_effective_sample_size_of_weights():
    assert inference.effective_sample_size(np.ones(8)) == pytest.approx(8.0)
    assert inference.effective_sample_size(np.array([0.0, 3.0, 0.0])) == pytest.approx(1.0)
    assert inference.effective_sample_size(np.array([1.0, 1.0, 2.0])) == pytest.approx(16 / 6)


def test_draws_resample_by_weight_and_reproduce_from_their_seed():
    particles = pd.DataFrame({"msc.polarization_weight": [0.5, 2.0]})
    weights = np.array([0.0, 1.0])
    d = inference.draw(particles, weights, 5, seed=3)
    assert list(d["draw"]) == list(range(5)) and set(d["msc.polarization_weight"]) == {2.0}
    even = np.array([0.5, 0.5])
    pd.testing.assert_frame_equal(inference.draw(particles, even, 50, 7), inference.draw(particles, even, 50, 7))


def test_load_draws_refuses_a_missing_or_foreign_file(tmp_path):
    with pytest.raises(inference.InferenceError, match="does not exist"):
        inference.load_draws(tmp_path / "nope.csv")
    bad = tmp_path / "bad.csv"
    bad.write_text("draw,seed\n0,1\n")
    with pytest.raises(inference.InferenceError, match="not a posterior draws table"):
        inference.load_draws(bad)
    good = tmp_path / "good.csv"
    good.write_text(f"# {NOTICE}\ndraw,msc.polarization_weight\n0,1.5\n1,2.5\n")
    assert list(inference.load_draws(good)["msc.polarization_weight"]) == [1.5, 2.5]


@pytest.mark.parametrize("arg", ["--population=1", "--generations=0", "--draws=0", "--fit-seeds=0"])
def test_cli_refuses_bad_sizes_without_writing(arg, tmp_path, capsys):
    out = tmp_path / "out"
    assert inference.main([arg, "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and arg.split("=")[0] in err[0] and "allowed range" in err[0]
    assert not out.exists()


# --------------------------------------------------------------------------- a tiny fit, end to end
def _tiny_fit(seed: int, monkeypatch) -> dict:
    def forbidden(*a, **k):
        raise AssertionError("the fit read the held-out rows")
    monkeypatch.setattr(validation, "held_out_rows", forbidden)
    rows = validation.training_rows()
    rows = rows[rows["study_id"] == "uccelli2012"]
    return inference.fit(BASE, population=2, generations=1, fit_seeds=1, seed=seed, workers=1,
                         keys=["msc.efferocytosis_weight", "msc.csf_entry_fraction_to_cord"], rows=rows, log=lambda s: None)


@pytest.mark.slow
def test_tiny_abc_end_to_end_reproduces_from_its_seed(monkeypatch):
    a, b = _tiny_fit(5, monkeypatch), _tiny_fit(5, monkeypatch)
    pd.testing.assert_frame_equal(a["particles"], b["particles"])
    np.testing.assert_array_equal(a["weights"], b["weights"])
    assert len(a["particles"]) == 2 and a["weights"].sum() == pytest.approx(1.0)
    f = a["particles"]["msc.csf_entry_fraction_to_cord"]
    assert ((f >= 1e-4) & (f <= 0.3)).all()  # the log-uniform prior's range, back on the parameter's scale
    assert (a["distances"] >= 0).all() and (a["distances"] <= 1).all()  # one row: shortfall within [0, 1]
    assert a["meta"]["split_sha256"] == validation.split_digest()
    assert len(a["meta"]["ess"]) == 1 and 1.0 <= a["meta"]["ess"][0] <= 2.0 and a["meta"]["tried"][0] >= 2
    assert [x["key"] for x in a["meta"]["arms"]] == ["uccelli2012/1e6_iv_single"]
    pd.testing.assert_frame_equal(inference.draw(a["particles"], a["weights"], 8, 1),
                                  inference.draw(b["particles"], b["weights"], 8, 1))


# --------------------------------------------------------------------------- the cap diagnosis
def test_scaled_strengths_are_the_plausible_tops_clipped_to_the_hard_bounds():
    cfg = compose_config(BASE)
    top = dict(o.split("=") for o in ceiling.scaled(cfg, 1.0))
    x100 = dict(o.split("=") for o in ceiling.scaled(cfg, 100.0))
    alone = dict(o.split("=") for o in ceiling.scaled(cfg, 100.0, only="msc.efferocytosis_weight".split(".")[1]))
    assert float(top["msc.polarization_weight"]) == 3.0 and float(x100["msc.polarization_weight"]) == 300.0
    assert float(x100["msc.barrier_repair_max"]) == 1.0  # hard bound: cannot close more than all the excess leak
    assert float(x100["msc.treg_boost_max"]) == 10.0
    assert float(alone["msc.efferocytosis_weight"]) == 300.0
    assert all(float(v) == 0.0 for k, v in alone.items() if k != "msc.efferocytosis_weight")
    default = dict(o.split("=") for o in ceiling.scaled(cfg, None))
    assert float(default["msc.polarization_weight"]) == cfg.msc.polarization_weight


def test_delays_pair_by_seed_and_bound_survivors_by_the_horizon():
    control = np.array([80.0, 120.0, 130.0, np.nan])
    treated = np.array([85.0, 124.0, np.nan, 150.0])
    r = ceiling.delays(control, treated, first_day=90.0, horizon=160.0)
    # seed 0 was past end stage at the dose, seed 3's control never ended: both left out; seed 2 survives → 160
    assert r["n"] == 2 and r["censored"] == 1
    assert r["mean_days"] == pytest.approx((4.0 + 30.0) / 2)
    assert r["mean_pct"] == pytest.approx((100 * 4 / 120 + 100 * 30 / 130) / 2)


def test_course_keeps_what_the_user_set():
    assert ceiling.course(["treatment.start_day=70"]) == [
        "treatment.dose_cells_per_kg=4e7", "treatment.n_infusions=1", "treatment.start_day=70"]


@pytest.mark.slow
def test_ceiling_diagnosis_end_to_end(tmp_path):
    assert ceiling.main(["domain=quick", "--seeds", "3", "--workers", "1", "--quick", "--out", str(tmp_path)]) == 0
    text = (tmp_path / "ceiling.md").read_text()
    assert NOTICE in text and "environment ceiling" in text and "×100 the tops" in text
    import json
    r = json.loads((tmp_path / "ceiling.json").read_text())
    assert set(r["scenarios"]) == {"default strengths", "top of plausible ranges", "×100 the tops"}
    assert r["environment_ceiling"]["n"] == 1


# --------------------------------------------------------------------------- the intrathecal map
def test_map_grid_spans_the_plausible_range_log_evenly_for_a_log_factor():
    f_entry, f_half = inference.factors(BASE, inference.MAP_KEYS)
    g = inference.grid(f_half, 3)
    assert f_half.log and g[0] == pytest.approx(f_half.low) and g[-1] == pytest.approx(f_half.high)
    assert g[1] == pytest.approx(math.sqrt(f_half.low * f_half.high))
    assert inference.grid(f_entry, 2) == pytest.approx([f_entry.low, f_entry.high])


def test_map_refuses_a_held_out_row_and_a_one_point_grid(tmp_path, capsys):
    rows = pd.concat([validation.training_rows(), validation.held_out_rows().iloc[:1]])
    with pytest.raises(inference.InferenceError, match="held-out row"):
        inference.intrathecal_map(BASE, 2, [0], rows=rows)
    out = tmp_path / "out"
    assert inference.main(["--it-map", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--it-map=1" in err[0] and "allowed range" in err[0] and not out.exists()


def test_map_scores_each_point_from_the_simulated_effects(monkeypatch):
    class Fake:  # effect = 100 × entry fraction × (half-life / 1 680 h): reproduces 10⁶ only in the far corner
        def __init__(self, base, arms, seeds, workers=2):
            self.arms, self.control = arms, np.array([100.0])

        def effects_many(self, points):
            return [{a["key"]: 100 * p["msc.csf_entry_fraction_to_cord"] * p["msc.tissue_half_life_h"] / 1680
                     for a in self.arms} for p in points]
    monkeypatch.setattr(inference, "Simulator", Fake)
    m = inference.intrathecal_map(BASE, 2, [2000], workers=1)
    assert [a["key"] for a in m["arms"]] == ["kimh2010/1e4_it", "kimh2010/2e5_it", "kimh2010/1e6_it"]
    assert len(m["points"]) == 4
    far = [p for p in m["points"] if p["distance"] == 0.0]
    # the far corner: 30 % for every arm, so the two "none" arms fail there; nowhere reproduces all three
    assert not far and min(p["distance"] for p in m["points"]) > 0
    corner = max(m["points"], key=lambda p: p["msc.csf_entry_fraction_to_cord"] * p["msc.tissue_half_life_h"])
    assert corner["reproduced"] == ["kimh2010/1e6_it"]
    assert corner["distance"] == pytest.approx(2 * inference.shortfall(30.0, 0.0))
    text = inference.map_report(m)
    assert NOTICE in text and "0 of 4 grid points" in text and "+30.0*" in text


@pytest.mark.slow  # simulates; the quick sibling above checks the scoring on a stand-in simulator
def test_map_of_one_arm_matches_the_simulator_and_scores_each_point():
    rows = validation.training_rows()
    rows = rows[(rows["study_id"] == "kimh2010") & (rows["arm"] == "1e6_it")]
    m = inference.intrathecal_map(BASE, 2, [2000], workers=1, rows=rows)
    assert len(m["points"]) == 4 and [a["key"] for a in m["arms"]] == ["kimh2010/1e6_it"]
    # the corner with the most cells in the cord for the longest: the same number as the simulator gives there
    far = max(m["points"], key=lambda p: (p["msc.csf_entry_fraction_to_cord"], p["msc.tissue_half_life_h"]))
    again = inference.Simulator(BASE, m["arms"], [2000], workers=1).effects(
        {k: far[k] for k in inference.MAP_KEYS})
    assert far["effects_pct"] == pytest.approx(again)
    for p in m["points"]:
        assert p["distance"] == pytest.approx(inference.shortfall(p["effects_pct"]["kimh2010/1e6_it"], 1.0))
        assert (p["distance"] == 0) == (p["reproduced"] == ["kimh2010/1e6_it"])
    text = inference.map_report(m)
    assert NOTICE in text and "kimh2010/1e6_it" in text and "--it-map 2 --fit-seeds 1" in text


def test_benign_environment_changes_only_the_named_parts_from_the_dose_day():
    cfg = ceiling.benign(["domain=quick"], 90.0, ["barrier_leak=0"])
    assert not cfg.treatment.enabled and cfg.manipulation.start_day == 90.0
    assert cfg.manipulation.barrier_leak == 0.0 and cfg.manipulation.microglia_ros == 1.0
    full = ceiling.benign(["domain=quick"], 90.0, ceiling.BENIGN)
    assert full.manipulation.microglia_ros == 0.0 and full.manipulation.treg_systemic == 10.0
