"""Regulatory T cells: infiltrate from blood, wander, secrete IL-10/TGF-β, calm microglia they touch.

Infiltration (cells/h into the patch) = r_max · area · leak(t) · C̄/(C̄+K) · T_sys, where C̄ is the mean
damage/chemokine signal, leak(t) the blood–spinal-cord-barrier permeability and T_sys the systemic
Treg level (raised by MSCs in lung/blood). T cells are absent from SOD1 cord ≤ 80 d and present by
120 d (Alexianu et al. 2001 Neurology 57:1282); Tregs and CD4 T cells are protective in SOD1 mice
(Beers et al. 2008 PNAS 105:15558; 2011 Brain 134:1293). Cells walk randomly (Kawakami et al. 2005
J Exp Med 201:1805) and leave after an exponential residence time.
"""
from __future__ import annotations

import numpy as np

from sim.agents.base import ColumnAgent, column
from sim.agents.microglia import reflect
from sim.config import TregConfig

SCHEMA = {"x": float, "y": float}


def infiltration_rate_per_h(area_mm2: float, leak: float, mean_damage: float, systemic: float, p: TregConfig) -> float:
    recruit = mean_damage / (mean_damage + p.k_chemokine_pm)
    return p.max_infiltration_per_mm2_per_day / 24.0 * area_mm2 * leak * recruit * systemic


def leave_probability(dt_h: float, p: TregConfig) -> float:
    """Probability that a Treg leaves the patch during one step (exponential residence time)."""
    return -np.expm1(-dt_h / (p.residence_days * 24.0))


class Treg(ColumnAgent):
    store_name = "treg_store"
    x = column("x", "position (µm)")
    y = column("y", "position (µm)")


def draws(model, n: int) -> tuple[np.ndarray, np.ndarray]:
    """This step's draws for the n Tregs present: one uniform (leaving) and two normals (moving) each, in that order."""
    rng = model.rngs["tregs"]
    return rng.random(n), rng.standard_normal((2, n))


def stride_um(model) -> float:
    """Standard deviation of one step's displacement per axis (µm): √(2·D·Δt)."""
    return np.sqrt(2 * model.cfg.tregs.motility_um2_per_h * model.ctx.dt_h)


def wander(x, y, stride, normals, width: float, height: float):
    """A random-walk step reflected at the walls (`stride` per cell or one number)."""
    return reflect(x + stride * normals[0], width), reflect(y + stride * normals[1], height)


def remove(model, mask) -> None:
    """Take the Tregs of the mask out of the patch (those whose draw fell under `leave_probability`, after they moved)."""
    s = model.treg_store
    for agent in [s.owners[i] for i in np.flatnonzero(mask)]:
        agent.remove()


def arrive(model) -> None:
    """Poisson arrivals through the leaky barrier, placed uniformly in the patch."""
    p, rng, env = model.cfg.tregs, model.rngs["tregs"], model.env
    rate = infiltration_rate_per_h(model.area_mm2, env.leak, model.mean_damage, env.treg_level, p) * env.treg_infiltration
    arrivals = rng.poisson(rate * model.ctx.dt_h)
    if arrivals:
        for x, y in rng.uniform([0, 0], [model.width, model.height], size=(arrivals, 2)):
            Treg(model, x=x, y=y)
