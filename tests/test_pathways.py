"""MSC pathways as modules (`sim.pathways`): one interface, one registry, sourced time courses.

Each durable pathway's memory is checked against its analytic solution; barrier repair must lower the leak
after an infusion; a single infusion's myeloid and Treg effects must outlast the cells; the local pathways
must act where MSCs really are in the patch (forced homing), and say how little reaches it after IV.
"""
from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd
import pytest

from sim import pathways
from sim.agents.msc import TISSUE
from sim.config import MSCConfig, MSCPathways, SimConfig, validate
from sim.environment import Environment
from sim.fields import FIELD_INDEX
from sim.model import ALSModel
from sim.pathways import Exposure
from sim.pathways.homing import iv_reach
from sim.run import run_arm

DT = 1.0 / 24  # one-hour steps, in days


def small_cfg(seed: int = 0, **msc) -> SimConfig:
    """A 300 µm patch, days 80–130, one default infusion on day 81."""
    cfg = SimConfig(seed=seed)
    cfg.domain.width_um = cfg.domain.height_um = 300.0
    cfg.domain.voxel_um = 30.0
    cfg.disease.start_day, cfg.disease.horizon_days = 80.0, 130.0
    cfg.treatment.start_day, cfg.treatment.n_infusions = 81.0, 1
    for key, value in msc.items():
        setattr(cfg.msc, key, value)
    return validate(cfg)


def pathway(name: str, cfg: SimConfig | None = None) -> pathways.Pathway:
    return pathways.REGISTRY[name](cfg or SimConfig())


# --------------------------------------------------------------------------- the interface
def test_every_switch_has_exactly_one_pathway_module_and_back():
    assert list(pathways.REGISTRY) and set(pathways.REGISTRY) == {f.name for f in dataclasses.fields(MSCPathways)}


@pytest.mark.parametrize("name", list(pathways.REGISTRY))
def test_every_pathway_declares_what_it_reads_changes_remembers_and_its_sources(name):
    cls = pathways.REGISTRY[name]
    assert cls.route in (pathways.LOCAL, pathways.SYSTEMIC)
    assert cls.reads and cls.changes and cls.memory and cls.sources
    assert all("doi" in s or "PMC" in s or "PMID" in s or any(ch.isdigit() for ch in s) for s in cls.sources)
    p = cls(SimConfig())
    assert set(p.state()) == set(cls.columns)  # the recorded columns are declared, so both arms share them


def test_switched_on_follows_the_switches_and_puts_the_barrier_first():
    cfg = SimConfig()
    names = [type(p).name for p in pathways.switched_on(cfg)]
    assert sorted(names) == sorted(pathways.REGISTRY) and names[0] == "barrier_repair"
    cfg.msc.pathways.efferocytosis = cfg.msc.pathways.homing = False
    assert {type(p).name for p in pathways.switched_on(cfg)} == set(pathways.REGISTRY) - {"efferocytosis", "homing"}


# --------------------------------------------------------------------------- time courses (analytic)
def run_memory(p: pathways.Pathway, inflow: Exposure, days_on: float, days_off: float) -> None:
    """Advance with `inflow` for days_on, then with nothing (callers read the pathway's state)."""
    for _ in range(int(round(days_on / DT))):
        p.advance(inflow, DT)
    for _ in range(int(round(days_off / DT))):
        p.advance(Exposure(), DT)


def test_efferocytosis_carries_engulfed_cells_with_its_sourced_time_constant():
    p = pathway("efferocytosis")
    tau = p.p.efferocytosis_memory_days
    e = 4e7  # cells/kg engulfed per day, for one hour
    p.advance(Exposure(engulfed_per_kg_day=e), DT)
    start = e * tau * -np.expm1(-DT / tau)  # exact: dE/dt = e − E/τ over one step
    assert p.engulfed_per_kg == pytest.approx(start, rel=1e-12)
    for days in (1.0, 7.0, 21.0):
        q = pathway("efferocytosis")
        q.advance(Exposure(engulfed_per_kg_day=e), DT)
        run_memory(q, Exposure(), 0.0, days)
        assert q.engulfed_per_kg == pytest.approx(start * np.exp(-days / tau), rel=1e-9)
    env = Environment(leak=0.5)
    q.act(env)
    expect = q.p.efferocytosis_weight * 0.5 * q.engulfed_per_kg / (q.engulfed_per_kg + q.p.efferocytosis_ec50)
    assert env.microglia_push == pytest.approx(expect, rel=1e-12) and env.microglia_push > 0


def test_treg_rise_peaks_after_the_phagocytes_and_decays_with_treg_turnover():
    p = pathway("systemic_treg")
    tau_e, tau_t = p.p.efferocytosis_memory_days, p.p.treg_memory_days
    assert tau_t == pytest.approx(1.0 / (np.log(2) / 8.0), rel=1e-3)  # derived from an 8-day Treg doubling time
    p.advance(Exposure(engulfed_per_kg_day=24 * 1e7), DT)  # 1e7 cells/kg engulfed within the first hour
    memory = []
    for _ in range(int(60 / DT)):
        p.advance(Exposure(), DT)
        memory.append(p.memory_per_kg)
    memory = np.array(memory)
    t = (np.arange(len(memory)) + 1) * DT
    # the two-stage relay dM/dt = (E − M)/τ_T with E = E₀e^{−t/τ_E}: M = E₀τ_E/(τ_E − τ_T)(e^{−t/τ_E} − e^{−t/τ_T})
    e0 = p.engulfed_per_kg / np.exp(-60 / tau_e)
    analytic = e0 * tau_e / (tau_e - tau_t) * (np.exp(-t / tau_e) - np.exp(-t / tau_t))
    peak = tau_e * tau_t / (tau_t - tau_e) * np.log(tau_t / tau_e)
    assert t[np.argmax(memory)] == pytest.approx(peak, abs=0.1) and 8.0 < peak < 10.0
    np.testing.assert_allclose(memory, analytic, rtol=0.02, atol=1e-3 * analytic.max())  # first-order splitting of the relay
    # two months on, the daily decay is the analytic one, set mostly by the Treg turnover
    late = memory[-1] / memory[-1 - 24]
    assert late == pytest.approx(analytic[-1] / analytic[-1 - 24], rel=1e-3)
    assert abs(np.log(late) + 1.0 / tau_t) < 0.1 * abs(np.log(late))


@pytest.mark.parametrize("name,tau_key", [("barrier_repair", "barrier_repair_memory_days"),
                                          ("microglia_polarization", "polarization_memory_days")])
def test_burden_memories_relax_and_fade_with_their_time_constant(name, tau_key):
    p = pathway(name)
    tau = getattr(p.p, tau_key)
    b = 3e7
    run_memory(p, Exposure(burden_per_kg=b), 2.0, 0.0)
    on = p.memory_per_kg
    assert on == pytest.approx(b * -np.expm1(-2.0 / tau), rel=1e-9)
    run_memory(p, Exposure(), 0.0, 5.0)
    assert p.memory_per_kg == pytest.approx(on * np.exp(-5.0 / tau), rel=1e-9)


def test_blood_borne_vesicles_have_no_memory():
    p = pathway("exosome")
    p.advance(Exposure(burden_per_kg=2e7), DT)
    env = Environment(leak=0.8)
    p.act(env)
    v = 0.8 * 2e7 / (2e7 + p.p.ev_ec50)
    assert env.ros_scavenging == pytest.approx(1 + p.p.ev_ros_effect_max * v, rel=1e-12)
    assert env.glutamate_clearance == pytest.approx(1 + p.p.ev_glutamate_effect_max * v, rel=1e-12)
    p.advance(Exposure(), DT)
    env = Environment(leak=0.8)
    p.act(env)
    assert env.ros_scavenging == 1.0 and env.glutamate_clearance == 1.0


def test_barrier_repair_closes_part_of_the_excess_leak_only():
    cfg = SimConfig()
    p = pathway("barrier_repair", cfg)
    env = Environment(leak=0.9)
    p.act(env)
    assert env.leak == 0.9  # no exposure: untouched, bit for bit
    p.memory_per_kg = p.p.barrier_repair_ec50
    env = Environment(leak=0.9)
    p.act(env)
    base = cfg.disease.bscb_leak_baseline
    assert env.leak == pytest.approx(base + (0.9 - base) * (1 - p.p.barrier_repair_max / 2), rel=1e-12)
    p.memory_per_kg = 1e30
    env = Environment(leak=base)
    p.act(env)
    assert env.leak == pytest.approx(base)  # never below the healthy barrier


# --------------------------------------------------------------------------- in the model
@pytest.fixture(scope="module")
def infused() -> dict[str, pd.DataFrame]:
    cfg = small_cfg(seed=3)
    return {arm: pd.DataFrame(run_arm(cfg, arm).rows) for arm in ("control", "treated")}


def test_barrier_repair_lowers_the_leak_after_an_infusion_and_then_the_blood_products(infused):
    c, t = infused["control"], infused["treated"]
    before = t["day"] <= 81
    assert (t.loc[before, "bscb_leak"] == c.loc[before, "bscb_leak"]).all()
    after = (t["day"] > 82) & (t["day"] <= 95)
    assert (t.loc[after, "bscb_leak"] < c.loc[after, "bscb_leak"]).all()
    assert (t.loc[after, "bscb_leak_untreated"] == c.loc[after, "bscb_leak"]).all()  # the disease's own leak is unchanged
    later = t["day"] >= 90
    assert (t.loc[later, "blood_products"] < c.loc[later, "blood_products"]).all()


def test_a_single_infusion_acts_through_phagocytes_and_tregs_long_after_the_cells_are_gone(infused):
    t = infused["treated"]
    gone = t.loc[(t["day"] > 81) & ((t["msc_lung"] + t["msc_blood"]) == 0), "day"].min()
    assert 81 < gone < 95  # lung t½ ≈ 1 d: no living MSC outside the tissue within two weeks
    week_later = t[t["day"] >= gone + 7].iloc[0]
    assert week_later["efferocytosis_push"] > 0 and week_later["treg_boost"] > 0
    assert week_later["polarization_push"] < 1e-3 * t["polarization_push"].max()  # the acute push is gone
    assert week_later["vesicle_effect"] == 0.0
    assert t["treg_boost"].idxmax() > t["efferocytosis_push"].idxmax()  # the Treg rise peaks after the phagocytes


def test_honest_accounting_almost_no_cell_reaches_the_patch_after_iv():
    cfg = SimConfig()
    model = ALSModel(cfg, "treated")
    assert iv_reach(cfg, model.patch_volume_mm3) <= 1e-8
    for name in ("homing", "local_paracrine", "local_vesicles"):
        assert pathways.REGISTRY[name].route == pathways.LOCAL


def forced_homing_cfg(**switches) -> SimConfig:
    cfg = small_cfg(seed=5, homing_fraction_to_cord=1.0)
    cfg.disease.cord_volume_mm3 = 1e-3
    cfg.disease.horizon_days = 84.0
    for k, v in switches.items():
        setattr(cfg.msc.pathways, k, v)
    return validate(cfg)


def step_until_cells_in_tissue(cfg: SimConfig) -> ALSModel:
    model = ALSModel(cfg, "treated")
    for _ in range(26):
        model.step()
    assert (model.msc_store["compartment"] == TISSUE).sum() > 0
    return model


def test_local_paracrine_secretes_and_calms_microglia_where_msc_are_in_the_patch():
    model = step_until_cells_in_tissue(forced_homing_cfg())
    s = model.msc_store
    inside = s["compartment"] == TISSUE
    with_msc = model._sources()
    local = next(p for p in model.pathways if type(p).name == "local_paracrine")
    model.pathways.remove(local)
    without = model._sources()
    count = np.bincount(model.voxel(s["x"][inside], s["y"][inside]), minlength=model.n_voxels).reshape(model.shape)
    m = model.cfg.msc
    for name in ("tgfb", "bdnf", "gdnf", "il10"):
        f = FIELD_INDEX[name]
        np.testing.assert_allclose(with_msc[f] - without[f], getattr(m, name) * model.per_molecule[f] * count,
                                   rtol=1e-9, atol=1e-12 * with_msc[f].max())
    push = local.microglia_push(model, model.microglia_store)
    mg = model.microglia_store
    x, y = model.tissue_msc_positions()
    near = ((mg["x"][:, None] - x[None, :]) ** 2 + (mg["y"][:, None] - y[None, :]) ** 2 <= model.cfg.microglia.contact_radius_um ** 2).sum(axis=1)
    np.testing.assert_array_equal(push, m.paracrine_weight * near)


def test_local_vesicles_divide_ros_and_glutamate_where_msc_are():
    model = step_until_cells_in_tissue(forced_homing_cfg())
    local = next(p for p in model.pathways if type(p).name == "local_vesicles")
    before = model.solver.values.copy()
    local.after_fields(model)
    x, y = model.tissue_msc_positions()
    count = np.bincount(model.voxel(x, y), minlength=model.n_voxels).reshape(model.shape)
    for name in ("ros", "glutamate"):
        f = FIELD_INDEX[name]
        np.testing.assert_allclose(model.solver.values[f], before[f] / (1 + model.cfg.msc.local_vesicle_effect * count), rtol=1e-12)
    others = [FIELD_INDEX[n] for n in ("tnf", "il10", "bdnf", "damage")]
    np.testing.assert_array_equal(model.solver.values[others], before[others])


def test_no_infusion_means_no_pathway_and_zero_pathway_columns():
    cfg = small_cfg()
    control = ALSModel(cfg, "control")
    assert control.pathways == []
    row = control.metrics()
    assert all(row[c] == 0.0 for cls in pathways.REGISTRY.values() for c in cls.columns)
    assert isinstance(MSCConfig().pathways, MSCPathways)
