"""IV MSC pharmacokinetics (`sim.pk`) and its wiring into `ALSModel`: dose splitting, exact cell
bookkeeping across blood/lung/tissue/cleared, first-pass arrest, lung half-life and the pathway switches
(the pathways' own rules are tested in test_pathways.py). Small patches and short horizons keep the file fast."""
from __future__ import annotations

import numpy as np
import pytest

from sim import pk
from sim.agents.msc import TISSUE
from sim.config import MSCConfig, SimConfig, validate
from sim.model import ALSModel


def small_cfg(seed: int = 0, **msc) -> SimConfig:
    """Dataclass defaults on a 300 µm × 300 µm patch (10 × 10 voxels), days 80–110, two infusions."""
    cfg = SimConfig(seed=seed)
    cfg.domain.width_um = cfg.domain.height_um = 300.0
    cfg.domain.voxel_um = 30.0
    cfg.disease.start_day, cfg.disease.horizon_days = 80.0, 110.0
    cfg.treatment.start_day, cfg.treatment.n_infusions, cfg.treatment.interval_days = 85.0, 2, 10.0
    for key, value in msc.items():
        setattr(cfg.msc, key, value)
    return validate(cfg)


def infusion_cfg(seed: int = 0, **msc) -> SimConfig:
    """One infusion one day in (model time 24 steps), horizon 5 days later."""
    cfg = small_cfg(seed, **msc)
    cfg.disease.horizon_days = 85.0
    cfg.treatment.start_day, cfg.treatment.n_infusions = 81.0, 1
    return validate(cfg)


def assert_balanced(model: ALSModel) -> dict[str, int]:
    c = model.msc_cells()
    assert all(v >= 0 for v in c.values()), c
    assert c["infused"] == c["blood"] + c["lung"] + c["tissue"] + c["cleared"], c
    s = model.msc_store
    assert (s["cells"] >= 0).all() and (s["cells"][s["compartment"] == TISSUE] == 1).all()
    assert (s["cells"][s["compartment"] != TISSUE] >= 1).all()  # empty packets are removed
    # the systemic burden is the cells outside the tissue per kg of body weight
    bw = model.cfg.disease.body_weight_kg
    assert model.burden_per_kg == pytest.approx((c["blood"] + c["lung"]) / bw, rel=1e-12, abs=0)
    return c


# --------------------------------------------------------------------------- dose splitting
@pytest.mark.parametrize("total,packets", [(0, 400), (0, 1), (1, 400), (399, 400), (400, 400), (401, 400),
                                           (1_000_000, 400), (1_000_003, 7), (5, 1), (5, 0), (2_800_000_000, 400),
                                           (123_457, 100_000)])
def test_split_dose_sums_exactly(total, packets):
    cells = pk.split_dose(total, packets)
    assert np.issubdtype(cells.dtype, np.integer)
    assert int(cells.sum()) == total
    if total == 0:
        assert len(cells) == 0
    else:
        assert len(cells) == min(max(packets, 1), total)
        assert cells.min() >= 1 and cells.max() - cells.min() <= 1  # equal packets up to one cell


# --------------------------------------------------------------------------- mass balance
def test_mass_balance_every_step_in_a_treated_model():
    model = ALSModel(small_cfg(), "treated")
    seen_infused = set()
    for _ in range(model.n_steps):
        model.step()
        c = assert_balanced(model)
        seen_infused.add(c["infused"])
    per_infusion = round(4e7 * 0.025)
    assert seen_infused == {0, per_infusion, 2 * per_infusion}
    assert model.infusions_given == [85.0, 95.0]
    assert c["cleared"] > 0.99 * c["infused"]  # 15 lung half-lives after the last infusion


def test_mass_balance_holds_with_cells_homing_into_the_tissue():
    # the whole cord is no bigger than this patch (0.0018 mm³) and every blood-leaving cell would home
    # at full leak and damage: homing is then common, with one tissue agent per cell
    cfg = small_cfg(seed=1, homing_fraction_to_cord=1.0)
    cfg.disease.cord_volume_mm3 = 1e-3
    model = ALSModel(validate(cfg), "treated")
    max_tissue = 0
    for _ in range(model.n_steps):
        model.step()
        c = assert_balanced(model)
        max_tissue = max(max_tissue, c["tissue"])
        assert c["tissue"] == int((model.msc_store["compartment"] == TISSUE).sum())
    assert max_tissue > 0
    assert c["cleared"] > 0.99 * c["infused"]


# --------------------------------------------------------------------------- first pass, lung half-life
@pytest.mark.parametrize("fraction", [0.95, 0.8])
def test_first_pass_lung_fraction(fraction):
    n = 20_000
    model = ALSModel(infusion_cfg(seed=2, packets_per_infusion=n, first_pass_lung_fraction=fraction), "treated")
    for _ in range(23):
        model.step()
    assert model.msc_cells()["infused"] == 0
    model.step()  # the infusion event fires at t = 24 steps, after that step's rules
    c = model.msc_cells()
    assert c["infused"] == 1_000_000 and c["cleared"] == 0 and c["blood"] + c["lung"] == c["infused"]
    assert model.infusions_given == [81.0]
    assert len(model.msc_store) == n
    # 50 cells per packet, so the lung share of cells is the share of packets: Binomial(n, f)/n with
    # sd √(f(1−f)/n) ≤ 0.0028; 4 sd.
    sd = np.sqrt(fraction * (1 - fraction) / n)
    assert abs(c["lung"] / c["infused"] - fraction) < 4 * sd


def effective_lung_decay_per_step(m: MSCConfig, dt_h: float) -> float:
    """Dominant eigenvalue of the expected one-step map of (lung, blood) packets.

    Lung packets leave with p = 1 − 2^{−dt/t½,lung}; a fraction r of them re-enter the blood, whose
    packets leave with q and re-lodge in the lung with f. With r = 0 this is exactly 2^{−dt/t½}.
    """
    p = -np.expm1(-np.log(2) / m.lung_half_life_h * dt_h)
    q = -np.expm1(-np.log(2) / m.blood_half_life_h * dt_h)
    r, f = m.lung_release_fraction, m.blood_exit_to_lung_fraction
    return float(max(np.linalg.eigvals(np.array([[1 - p, q * f], [p * r, 1 - q]])).real))


@pytest.mark.parametrize("release", [0.0, 0.05])
def test_lung_population_decays_with_the_configured_half_life(release):
    model = ALSModel(infusion_cfg(seed=3, packets_per_infusion=50_000, lung_release_fraction=release), "treated")
    for _ in range(24):
        model.step()
    lung = []
    for _ in range(72):
        model.step()
        lung.append(model.msc_cells()["lung"])
    hours = np.arange(1, 73)
    keep = hours >= 2  # skip the first hour, in which the 5 % that passed the lung re-lodge
    slope = np.polyfit(hours[keep], np.log(lung)[keep], 1)[0]
    fitted = -np.log(2) / slope
    expected = -np.log(2) * model.dt_h / np.log(effective_lung_decay_per_step(model.cfg.msc, model.dt_h))
    if release == 0.0:
        assert expected == pytest.approx(model.cfg.msc.lung_half_life_h, rel=1e-12)
    else:  # recirculation lengthens it to 24/(1 − r·f) ≈ 25.0 h
        assert expected == pytest.approx(24.0 / (1 - 0.05 * 0.8), rel=2e-3)
    # Packets leave as wholes, so the count is a death process of 50 000 packets. Over 20 seeds the
    # least-squares fit of log(lung) over 3 days scattered with sd 1.0 % at 20 000 packets, 0.6 % at
    # 50 000 (∝ 1/√packets). 2.5 % ≈ 4 sd, and still rejects 24 h vs 25 h (4 %) confusion.
    assert fitted == pytest.approx(expected, rel=0.025)


# --------------------------------------------------------------------------- pathway switches in the model
SYSTEMIC = {"systemic_treg": "treg_boost", "exosome": "vesicle_effect", "microglia_polarization": "polarization_push",
            "efferocytosis": "efferocytosis_push", "barrier_repair": "barrier_repair"}


@pytest.mark.parametrize("switch", [None, *SYSTEMIC])
def test_pathway_switch_in_the_model(switch):
    cfg = infusion_cfg(seed=4)
    if switch:
        setattr(cfg.msc.pathways, switch, False)
    model = ALSModel(cfg, "treated")
    for _ in range(30):  # infusion after step 24; memories build up over the following steps
        model.step()
    assert model.msc_cells()["lung"] > 0
    row = model.metrics()
    for name, column in SYSTEMIC.items():
        if name == switch:
            assert row[column] == 0.0, column
        else:
            assert row[column] > 0.0, column


def homing_cfg(homing: bool) -> SimConfig:
    cfg = infusion_cfg(seed=5, homing_fraction_to_cord=1.0)
    cfg.disease.cord_volume_mm3 = 1e-3
    cfg.msc.pathways.homing = homing
    return validate(cfg)


def test_homing_switch():
    tissue = {}
    for homing in (True, False):
        model = ALSModel(homing_cfg(homing), "treated")
        tissue[homing] = 0
        for _ in range(24 * 3):
            model.step()
            tissue[homing] = max(tissue[homing], assert_balanced(model)["tissue"])
    assert tissue[True] > 0 and tissue[False] == 0


# --------------------------------------------------------------------------- zero dose
@pytest.mark.parametrize("dose", [0.0, 10.0])  # 10 cells/kg × 25 g rounds to 0 cells per infusion
def test_zero_dose_creates_no_msc_and_reproduces_control(dose):
    cfg = infusion_cfg(seed=6)
    cfg.treatment.dose_cells_per_kg = dose
    validate(cfg)
    treated, control = ALSModel(cfg, "treated"), ALSModel(cfg, "control")
    for _ in range(48):
        treated.step()
        control.step()
        assert len(treated.msc_store) == 0
        assert all(v == 0 for v in treated.msc_cells().values())
    assert "MSC" not in {type(a).__name__ for a in treated.agents}
    a, b = treated.metrics(), control.metrics()
    a.pop("arm"), b.pop("arm")
    assert a == b
    np.testing.assert_array_equal(treated.solver.values, control.solver.values)
