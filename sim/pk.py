"""IV MSC pharmacokinetics: where the infused cells are (blood, lung, cleared) and how they move.

Compartments: blood → (first-pass arrest) lung → death and phagocytosis (cleared) or release back to
blood; blood → re-arrest in lung, clearance elsewhere, or entry into the spinal cord (the `homing`
pathway). Most of an IV dose lodges in the lung, where the cells disappear with a half-life of about a day
(Lee et al. 2009 Cell Stem Cell 5:54, doi:10.1016/j.stem.2009.05.003); no viable cells are found after a few
days (Eggenhofer et al. 2012 Front Immunol 3:297, doi:10.3389/fimmu.2012.00297). Cells are conserved exactly.

What the host meets — the living burden B(t) = (lung + blood cells)/body weight and the cells cleared
per day, which host phagocytes engulf — is the `Exposure` every systemic pathway reads (`sim.pathways`).
"""
from __future__ import annotations

import numpy as np

from sim.agents.microglia import chemotaxis_step
from sim.agents.msc import BLOOD, COMPARTMENTS, LUNG, MSC, TISSUE
from sim.config import MSCConfig
from sim.treatment import cells_per_infusion

CLEARED = -1
LN2 = np.log(2.0)


def split_dose(total_cells: int, packets: int) -> np.ndarray:
    """Integer cells per packet summing exactly to total_cells."""
    packets = max(1, min(packets, total_cells)) if total_cells > 0 else 0
    base, extra = divmod(total_cells, packets) if packets else (0, 0)
    cells = np.full(packets, base, dtype=np.int64)
    cells[:extra] += 1
    return cells


def first_pass(u, p: MSCConfig):
    """Compartment of each newly infused packet: lung if arrested on first pass, else blood."""
    return np.where(u < p.first_pass_lung_fraction, LUNG, BLOOD).astype(np.int8)


def leave_probability(compartment, dt_h: float, p: MSCConfig):
    k = np.where(compartment == LUNG, LN2 / p.lung_half_life_h, LN2 / p.blood_half_life_h)
    return -np.expm1(-k * dt_h)


def destination(compartment, u_route, p: MSCConfig):
    """Where a packet that leaves its compartment goes: blood, lung or cleared."""
    from_lung = np.where(u_route < p.lung_release_fraction, BLOOD, CLEARED)
    from_blood = np.where(u_route < p.blood_exit_to_lung_fraction, LUNG, CLEARED)
    return np.where(compartment == LUNG, from_lung, from_blood).astype(np.int8)


# --------------------------------------------------------------------------- in the model
def infuse(model) -> None:
    """One IV infusion: the dose split into packets, most arrested in the lung on first pass."""
    t, d, m, rng = model.cfg.treatment, model.cfg.disease, model.cfg.msc, model.rngs["msc"]
    cells = split_dose(cells_per_infusion(t, d), m.packets_per_infusion)
    for c, comp in zip(cells, first_pass(rng.random(len(cells)), m)):
        MSC(model, compartment=comp, cells=c)
    model.msc_infused += int(cells.sum())
    _update_burden(model)


def step(model) -> int:
    """Move MSC packets and tissue MSCs; return the cells cleared outside the tissue this step (engulfed by host phagocytes)."""
    s = model.msc_store
    if len(s) == 0:
        return 0
    comp = s["compartment"].copy()
    before = model.msc_cleared
    gone = _outside(model, np.flatnonzero(comp != TISSUE))
    engulfed = model.msc_cleared - before
    gone += _in_tissue(model, np.flatnonzero(comp == TISSUE))
    for agent in gone:
        agent.remove()
    _update_burden(model)
    model.tissue_msc_count = int(np.count_nonzero(s["compartment"] == TISSUE))
    return engulfed


def cells_by_compartment(model) -> dict[str, int]:
    """Cells in blood, lung and tissue, and all cleared and infused so far (conserved exactly)."""
    s = model.msc_store
    out = {name: int(s["cells"][s["compartment"] == code].sum()) for code, name in enumerate(COMPARTMENTS)}
    out["cleared"] = model.msc_cleared
    out["infused"] = model.msc_infused
    return out


def _update_burden(model) -> None:
    s = model.msc_store
    outside = s["compartment"] != TISSUE
    model.burden_per_kg = float(s["cells"][outside].sum()) / model.cfg.disease.body_weight_kg


def _outside(model, packets: np.ndarray) -> list:
    """Packets leave blood/lung as wholes; cells leaving the blood may enter the patch (the homing pathway's draw)."""
    s, m, ctx, rng = model.msc_store, model.cfg.msc, model.ctx, model.rngs["msc"]
    if not len(packets):
        return []
    comp = s["compartment"][packets]
    leave = rng.random(len(packets)) < leave_probability(comp, ctx.dt_h, m)
    dest = destination(comp, rng.random(len(packets)), m)
    p_home = max((pathway.entry_probability(model) for pathway in model.pathways), default=0.0)
    gone = []
    for i, from_blood, to in zip(packets[leave], comp[leave] == BLOOD, dest[leave]):
        if from_blood and p_home > 0:
            homed = int(rng.binomial(s["cells"][i], p_home))
            s["cells"][i] -= homed
            for x, y in rng.uniform([0, 0], [model.width, model.height], size=(homed, 2)):
                MSC(model, compartment=TISSUE, cells=1, x=x, y=y)
        if to == CLEARED or s["cells"][i] == 0:
            model.msc_cleared += int(s["cells"][i])
            gone.append(s.owners[i])
        else:
            s["compartment"][i] = to
    return gone


def _in_tissue(model, cells: np.ndarray) -> list:
    """Tissue MSCs die with their half-life and move up the damage gradient."""
    s, m, ctx, rng = model.msc_store, model.cfg.msc, model.ctx, model.rngs["msc"]
    if not len(cells):
        return []
    dies = rng.random(len(cells)) < -np.expm1(-LN2 * ctx.dt_h / m.tissue_half_life_h)
    idx = model.voxel(s["x"][cells], s["y"][cells])
    gy, gx = model.damage_gradient
    normals = rng.standard_normal((2, len(cells)))
    s["x"][cells], s["y"][cells] = chemotaxis_step(
        s["x"][cells], s["y"][cells], gy.ravel()[idx], gx.ravel()[idx], normals, m.speed_um_per_h, 0.0,
        model.cfg.microglia.k_damage_pm / 100.0, ctx.dt_h, model.width, model.height)
    model.msc_cleared += int(s["cells"][cells[dies]].sum())
    return [s.owners[i] for i in cells[dies]]
