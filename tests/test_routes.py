"""Administration routes (`treatment.route`): IV (default, unchanged) and intrathecal (into the CSF).

Cells are conserved exactly at every step on both routes; an IV run never holds a CSF packet and keeps its
time-series columns; an intrathecal dose puts as many cells into the patch as `intrathecal_reach` says (and far
more than the same IV dose); CSF cells are not systemic exposure; a bad route word is refused with one line; the
command line runs the intrathecal preset end to end and its summary names the route.
"""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from sim import pk
from sim.agents.msc import CSF, LUNG, TISSUE
from sim.config import ConfigError, SimConfig, validate
from sim.model import ALSModel
from sim.pathways.homing import csf_entry_probability, intrathecal_reach, iv_reach
from sim.presets import compose_config
from sim.treatment import cells_per_infusion, dose_per_kg

COMPARTMENT_KEYS = ("blood", "lung", "tissue", "csf")


def small_cfg(route: str, seed: int = 0, cells: float = 1e5, **msc) -> SimConfig:
    """A 300 µm patch, days 80–85, one dose on day 81 (damage has built up by then, so cells can enter)."""
    cfg = SimConfig(seed=seed)
    cfg.domain.width_um = cfg.domain.height_um = 300.0
    cfg.domain.voxel_um = 30.0
    cfg.disease.start_day, cfg.disease.horizon_days = 80.0, 85.0
    cfg.treatment.route = route
    cfg.treatment.start_day, cfg.treatment.n_infusions = 81.0, 1
    cfg.treatment.cells_per_dose = cells
    for key, value in msc.items():
        setattr(cfg.msc, key, value)
    return validate(cfg)


def conserved(model: ALSModel) -> bool:
    c = model.msc_cells()
    return sum(c.get(k, 0) for k in COMPARTMENT_KEYS) + c["cleared"] == c["infused"]


# --------------------------------------------------------------------------- conservation
@pytest.mark.parametrize("route", ["iv", "intrathecal"])
def test_cells_are_conserved_exactly_at_every_step(route):
    # large entry and drain fractions and a cord no bigger than the patch, so every path (patch entry from the CSF
    # and from the blood, drainage, lung, clearance) carries cells
    cfg = small_cfg(route, seed=3, cells=2e4, csf_entry_fraction_to_cord=0.3, csf_drain_to_blood_fraction=0.5,
                    csf_half_life_h=6.0, homing_fraction_to_cord=1.0)
    cfg.disease.cord_volume_mm3 = 1e-3
    model = ALSModel(validate(cfg), "treated")
    seen = set()
    for _ in range(model.n_steps):
        model.step()
        assert conserved(model), model.msc_cells()
        seen.update(np.unique(model.msc_store["compartment"]).tolist())
    c = model.msc_cells()
    assert c["infused"] == 20_000 and c["cleared"] > 0
    if route == "iv":
        assert CSF not in seen and "csf" not in c  # no CSF packet ever, and the IV columns are unchanged
        assert {LUNG, TISSUE} <= seen
    else:
        assert {CSF, LUNG, TISSUE} <= seen  # drained cells reached the lung; some entered the patch
        assert model.msc_entered > 0


def test_an_iv_run_has_the_time_series_columns_it_always_had():
    model = ALSModel(small_cfg("iv"), "treated")
    model.step()
    assert [k for k in model.metrics() if k.startswith("msc_")] == ["msc_blood", "msc_lung", "msc_tissue", "msc_cleared", "msc_infused"]
    it = ALSModel(small_cfg("intrathecal"), "treated")
    it.step()
    assert [k for k in it.metrics() if k.startswith("msc_")] == ["msc_blood", "msc_lung", "msc_tissue", "msc_csf", "msc_cleared", "msc_infused"]


def test_an_intrathecal_dose_starts_in_the_csf_and_leaves_it_with_its_half_life():
    cfg = small_cfg("intrathecal", cells=1e6, csf_entry_fraction_to_cord=0.0, csf_drain_to_blood_fraction=0.0)
    cfg.msc.packets_per_infusion = 4000
    model = ALSModel(cfg, "treated")
    steps_to_dose = round((cfg.treatment.start_day - cfg.disease.start_day) * 24)
    for _ in range(steps_to_dose):
        model.step()
    assert model.msc_cells()["csf"] == 1_000_000
    for _ in range(48):
        model.step()
    left = model.msc_cells()["csf"] / 1e6
    expected = 0.5 ** (48 / cfg.msc.csf_half_life_h)
    assert abs(left - expected) < 4 * math.sqrt(expected * (1 - expected) / 4000)  # packets leave as wholes


# --------------------------------------------------------------------------- systemic exposure
def test_csf_cells_are_not_systemic_exposure():
    """Cells in the CSF are no lung/blood burden, and their clearance is not engulfment by peripheral phagocytes."""
    cfg = small_cfg("intrathecal", cells=1e6, csf_drain_to_blood_fraction=0.0)
    model = ALSModel(cfg, "treated")
    engulfed = []
    for _ in range(model.n_steps):
        model.step()
        engulfed.append(pk.step(model))  # one further bookkeeping step, to read what it returns
        assert model.burden_per_kg == 0.0
    assert model.msc_cells()["cleared"] > 0 and sum(engulfed) == 0


def test_drained_cells_are_systemic_exposure():
    cfg = small_cfg("intrathecal", cells=1e6, csf_drain_to_blood_fraction=0.5, csf_half_life_h=6.0)
    model = ALSModel(cfg, "treated")
    burden = []
    for _ in range(model.n_steps):
        model.step()
        burden.append(model.burden_per_kg)
    assert max(burden) > 0
    assert max(burden) * cfg.disease.body_weight_kg <= 0.5 * 1e6


# --------------------------------------------------------------------------- reach
def test_intrathecal_reach_is_the_sum_of_its_two_paths():
    cfg = SimConfig()
    v = 0.005  # the quick patch: 0.5 mm × 0.5 mm × 20 µm
    share = v / cfg.disease.cord_volume_mm3
    m = cfg.msc
    assert intrathecal_reach(cfg, v) == pytest.approx(m.csf_entry_fraction_to_cord * share + m.csf_drain_to_blood_fraction * iv_reach(cfg, v))
    assert intrathecal_reach(cfg, v) > 100 * iv_reach(cfg, v)
    assert csf_entry_probability(1e12, v, cfg) == pytest.approx(m.csf_entry_fraction_to_cord * share)
    assert csf_entry_probability(0.0, v, cfg) == 0.0  # no damage signal, no entry


def test_simulated_entry_matches_intrathecal_reach_and_far_exceeds_iv():
    """Mean cells entering the patch over seeds vs the analytic expectation, at saturating damage drive."""
    cells, seeds = 4e7, range(4)
    # a tenfold entry fraction (for counts worth comparing) and a damage drive saturated by any damage signal
    common = {"cells": cells, "csf_entry_fraction_to_cord": 0.1, "k_homing_damage_pm": 1e-9, "csf_half_life_h": 6.0}
    entered = {}
    for route in ("intrathecal", "iv"):
        entered[route] = []
        for seed in seeds:
            cfg = small_cfg(route, seed=seed, **common)
            model = ALSModel(cfg, "treated")
            for _ in range(model.n_steps):
                model.step()
                assert model.mean_damage > 0 or model.day < cfg.treatment.start_day
            if route == "intrathecal":
                assert model.msc_cells()["csf"] < 1e-3 * cells  # (nearly) every cell has left the CSF
            entered[route].append(model.msc_entered)
    cfg = small_cfg("intrathecal", **common)
    v = ALSModel(cfg, "treated").patch_volume_mm3
    expected = cells * intrathecal_reach(cfg, v)
    total = sum(entered["intrathecal"])
    assert expected > 50
    assert abs(total - len(seeds) * expected) < 4 * math.sqrt(len(seeds) * expected), (entered, expected)
    # the same dose IV: the analytic bound is a tiny fraction of one cell, and the simulation agrees
    assert cells * iv_reach(cfg, v) < 0.1
    assert sum(entered["iv"]) <= 2
    assert np.mean(entered["intrathecal"]) > 100 * max(cells * iv_reach(cfg, v), np.mean(entered["iv"]))


# --------------------------------------------------------------------------- dose and config
def test_a_dose_per_injection_replaces_the_dose_per_kg():
    cfg = SimConfig()
    assert cfg.treatment.route == "iv" and cfg.treatment.cells_per_dose == 0
    assert cells_per_infusion(cfg.treatment, cfg.disease) == round(4e7 * 0.025)
    cfg.treatment.cells_per_dose = 2.5e5
    assert cells_per_infusion(cfg.treatment, cfg.disease) == 250_000
    assert dose_per_kg(cfg.treatment, cfg.disease) == pytest.approx(1e7)


def test_the_intrathecal_preset():
    cfg = compose_config(["treatment=intrathecal_msc"])
    t = cfg.treatment
    assert t.route == "intrathecal" and t.cells_per_dose == 1e6 and cells_per_infusion(t, cfg.disease) == 1_000_000


@pytest.mark.parametrize("word", ["intravenous", "IV", "intraspinal", ""])
def test_a_bad_route_is_refused_with_one_line(word):
    cfg = SimConfig()
    cfg.treatment.route = word
    with pytest.raises(ConfigError) as e:
        validate(cfg)
    assert str(e.value) == f"treatment.route={word!r} is invalid: allowed values are iv, intrathecal"


def test_csf_fractions_cannot_exceed_one():
    cfg = SimConfig()
    cfg.msc.csf_entry_fraction_to_cord, cfg.msc.csf_drain_to_blood_fraction = 0.6, 0.5
    with pytest.raises(ConfigError, match=r"^msc\.csf_drain_to_blood_fraction=0\.5 is invalid: allowed range is \[0, 0\.4\]"):
        validate(cfg)


def test_help_lists_the_routes():
    from sim.help import CHOICES
    assert CHOICES["treatment.route"] == ("iv", "intrathecal")


# --------------------------------------------------------------------------- command line
def test_cli_bad_route_one_line(tmp_path):
    r = subprocess.run([sys.executable, "-m", "sim", "domain=quick", "treatment.route=oral"], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300, check=False)
    assert r.returncode == 2
    assert r.stderr.splitlines() == ["alsim: error: treatment.route='oral' is invalid: allowed values are iv, intrathecal"]


def test_cli_runs_the_intrathecal_preset_end_to_end(tmp_path):
    # days 80–100 around the injection on day 90 (the route's bookkeeping is checked, not the course before it)
    r = subprocess.run([sys.executable, "-m", "sim", "domain=quick", "treatment=intrathecal_msc", "disease.start_day=80",
                        "disease.horizon_days=100", f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=600, check=False)
    assert r.returncode == 0, r.stderr[-3000:]
    assert "treated arm: route intrathecal, 1e+06 cells per injection" in r.stdout
    summary = json.loads(Path(tmp_path / "run" / "summary.json").read_text())
    assert summary["treatment"]["route"] == "intrathecal"
    assert summary["treatment"]["dose_cells_per_individual"] == 1_000_000
    ts = pd.read_parquet(tmp_path / "run" / "timeseries.parquet")
    treated = ts[ts["arm"] == "treated"]
    total = treated[["msc_blood", "msc_lung", "msc_tissue", "msc_csf", "msc_cleared"]].sum(axis=1)
    assert (total == treated["msc_infused"]).all() and treated["msc_csf"].max() == 1_000_000
    assert (ts.loc[ts["arm"] == "control", "msc_infused"] == 0).all()
