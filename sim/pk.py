"""MSC pharmacokinetics: where the given cells are (blood, lung, CSF, cleared) and how they move.

Routes (`treatment.route`):

* **iv** (default): blood → (first-pass arrest) lung → death and phagocytosis (cleared) or release back to
  blood; blood → re-arrest in lung, clearance elsewhere, or entry into the spinal cord (the `homing`
  pathway, through the leaking barrier). Most of an IV dose lodges in the lung, where the cells disappear with
  a half-life of about a day (Lee et al. 2009 Cell Stem Cell 5:54, doi:10.1016/j.stem.2009.05.003); no viable
  cells are found after a few days (Eggenhofer et al. 2012 Front Immunol 3:297, doi:10.3389/fimmu.2012.00297).
* **intrathecal**: every packet starts in the cerebrospinal fluid (CSF) and leaves it with the half-life
  `msc.csf_half_life_h`. Of the cells leaving, a fraction `msc.csf_entry_fraction_to_cord` enters the cord
  parenchyma through the pia (not through the blood–spinal-cord barrier, so without the barrier-leak factor;
  with the same damage drive as homing) and the patch gets its volume share, Binomial(cells, p) per leaving
  packet (`sim.pathways.homing.csf_entry_probability`); a fraction `msc.csf_drain_to_blood_fraction` drains
  to the venous blood and then follows the IV rules from a first pass through the lung; the rest are cleared
  (they die or are engulfed in the CSF, or enter the cord outside the patch). No clearance time or entry
  fraction has been measured: all three are assumptions (docs/parameters.md).

Cells are conserved exactly at every step: infused = blood + lung + csf + tissue + cleared.

What the host meets — the living burden B(t) = (lung + blood cells)/body weight and the cells cleared from
lung and blood per day, which host phagocytes engulf — is the `Exposure` every systemic pathway reads
(`sim.pathways`). Cells in the CSF are not part of it, and their clearance is not counted as engulfed: the
systemic pathways stand for peripheral myeloid cells meeting lung-trapped and circulating MSCs, while CSF
cells stay behind the blood–CSF barrier; an intrathecal dose acts systemically only through the cells that
drain to the blood.
"""
from __future__ import annotations

import numpy as np

from sim.agents.microglia import chemotaxis_step
from sim.agents.msc import BLOOD, COMPARTMENTS, CSF, LUNG, MSC, TISSUE
from sim.config import MSCConfig
from sim.treatment import cells_per_infusion

INTRATHECAL = "intrathecal"

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
    k = np.where(compartment == CSF, LN2 / p.csf_half_life_h, k)
    return -np.expm1(-k * dt_h)


def csf_drain_probability(p: MSCConfig, p_entry: float = 0.0) -> float:
    """Chance that a packet leaving the CSF (after its entering cells left it) drains to the blood as a whole.

    Binomial(cells, p_entry) cells enter the patch first; draining the rest with f_drain/(1 − p_entry) makes the
    expected share of the leaving cells that drain exactly f_drain.
    """
    return min(1.0, p.csf_drain_to_blood_fraction / (1.0 - p_entry)) if p_entry < 1.0 else 0.0


def destination(compartment, u_route, p: MSCConfig, p_entry: float = 0.0):
    """Where a packet that leaves its compartment goes: blood, lung or cleared.

    A packet draining from the CSF reaches the venous blood and meets the lung first, as an IV infusion does:
    lung with probability `first_pass_lung_fraction`, else blood.
    """
    from_lung = np.where(u_route < p.lung_release_fraction, BLOOD, CLEARED)
    from_blood = np.where(u_route < p.blood_exit_to_lung_fraction, LUNG, CLEARED)
    out = np.where(compartment == LUNG, from_lung, from_blood).astype(np.int8)
    csf = compartment == CSF
    if csf.any():
        q = csf_drain_probability(p, p_entry)
        drained = np.where(u_route < q * p.first_pass_lung_fraction, LUNG, np.where(u_route < q, BLOOD, CLEARED))
        out = np.where(csf, drained, out).astype(np.int8)
    return out


# --------------------------------------------------------------------------- in the model
def infuse(model) -> None:
    """One dose split into packets: IV, most arrested in the lung on first pass; intrathecal, all in the CSF."""
    t, d, m, rng = model.cfg.treatment, model.cfg.disease, model.cfg.msc, model.rngs["msc"]
    cells = split_dose(cells_per_infusion(t, d), m.packets_per_infusion)
    if t.route == INTRATHECAL:
        compartments = np.full(len(cells), CSF, dtype=np.int8)
    else:
        compartments = first_pass(rng.random(len(cells)), m)
    for c, comp in zip(cells, compartments):
        MSC(model, compartment=comp, cells=c)
    model.msc_infused += int(cells.sum())
    _update_burden(model)


def step(model) -> int:
    """Move MSC packets and tissue MSCs; return the cells cleared from lung and blood this step (engulfed by host phagocytes)."""
    s = model.msc_store
    if len(s) == 0:
        return 0
    comp = s["compartment"].copy()
    before = model.msc_cleared
    gone, cleared_from_csf = _outside(model, np.flatnonzero(comp != TISSUE))
    engulfed = model.msc_cleared - before - cleared_from_csf
    gone += _in_tissue(model, np.flatnonzero(comp == TISSUE))
    for agent in gone:
        agent.remove()
    _update_burden(model)
    model.tissue_msc_count = int(np.count_nonzero(s["compartment"] == TISSUE))
    return engulfed


def cells_by_compartment(model) -> dict[str, int]:
    """Cells in blood, lung, tissue (and CSF, when the route is intrathecal), and all cleared and infused so far.

    Conserved exactly: infused = blood + lung + tissue + csf + cleared. The CSF is listed only for the intrathecal
    route, so an IV run's time series keeps its columns.
    """
    s = model.msc_store
    names = COMPARTMENTS if model.cfg.treatment.route == INTRATHECAL else COMPARTMENTS[:CSF]
    out = {name: int(s["cells"][s["compartment"] == code].sum()) for code, name in enumerate(names)}
    out["cleared"] = model.msc_cleared
    out["infused"] = model.msc_infused
    return out


def _update_burden(model) -> None:
    s = model.msc_store
    systemic = (s["compartment"] == LUNG) | (s["compartment"] == BLOOD)  # not tissue, not the CSF
    model.burden_per_kg = float(s["cells"][systemic].sum()) / model.cfg.disease.body_weight_kg


def _enter(model, i: int, p: float) -> None:
    """Binomial(cells, p) cells of packet i enter the patch as single tissue MSCs at uniform random positions."""
    s, rng = model.msc_store, model.rngs["msc"]
    entered = int(rng.binomial(s["cells"][i], p))
    s["cells"][i] -= entered
    model.msc_entered += entered
    for x, y in rng.uniform([0, 0], [model.width, model.height], size=(entered, 2)):
        MSC(model, compartment=TISSUE, cells=1, x=x, y=y)


def _outside(model, packets: np.ndarray) -> tuple[list, int]:
    """Packets leave blood/lung/CSF as wholes; cells leaving the blood (homing) or the CSF may enter the patch.

    Returns the agents to remove and the cells cleared from the CSF this step (not engulfed by peripheral phagocytes).
    """
    s, m, ctx, rng = model.msc_store, model.cfg.msc, model.ctx, model.rngs["msc"]
    if not len(packets):
        return [], 0
    comp = s["compartment"][packets]
    leave = rng.random(len(packets)) < leave_probability(comp, ctx.dt_h, m)
    p_csf = max((pathway.csf_entry_probability(model) for pathway in model.pathways), default=0.0) if (comp == CSF).any() else 0.0
    dest = destination(comp, rng.random(len(packets)), m, p_csf)
    p_home = max((pathway.entry_probability(model) for pathway in model.pathways), default=0.0)
    gone, cleared_from_csf = [], 0
    for i, source, to in zip(packets[leave], comp[leave], dest[leave]):
        if source == BLOOD and p_home > 0:
            _enter(model, i, p_home)
        elif source == CSF and p_csf > 0:
            _enter(model, i, p_csf)
        if to == CLEARED or s["cells"][i] == 0:
            model.msc_cleared += int(s["cells"][i])
            if source == CSF:
                cleared_from_csf += int(s["cells"][i])
            gone.append(s.owners[i])
        else:
            s["compartment"][i] = to
    return gone, cleared_from_csf


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
