"""Microglia: surveillant → pro-inflammatory / protective, chemotaxis, proliferation, secretion.

States are discrete but outputs are mixed (each activated state also makes a fraction of the
other's products), because SOD1 microglia run toxic and protective programmes at once (Chiu et al.
2013 Cell Rep 4:385). Transition rates (per hour), with d = Dⁿ/(Dⁿ+K_Dⁿ) the damage drive,
pro = d + TNF/(TNF+K_T) and anti = w_10·[IL-10/(IL-10+K_10) + push] + TGF-β/(TGF-β+K_β), and
f = pro/(pro+anti). IL-10, mostly from Tregs, stands for the T-cell-derived signals (IL-4, IL-10); the
push from Tregs in contact and from the MSC pathways (host macrophage IL-10) is counted in the same unit, a
saturating IL-10 signal, so one calibrated weight w_10 scales all of them:

    surveillant → pro-inflammatory   k_act·d·f          surveillant → protective  k_act·d·(1−f)
    pro-inflammatory → protective    k_sw·(1−f)         protective → pro-inflammatory  k_sw·f
    activated → surveillant          k_rest·(1−d)

so at equilibrium the pro-inflammatory share of activated cells is f. Activated cells divide
under damage toward a carrying capacity (expansion by proliferation: Gowing et al. 2008
J Neurosci 28:10234) and die at a small rate; they move up the damage gradient.
"""
from __future__ import annotations

import numpy as np

from sim.agents.base import ColumnAgent, column
from sim.config import MicrogliaConfig

SURVEILLANT, PRO_INFLAMMATORY, PROTECTIVE = 0, 1, 2
STATE_NAMES = ("surveillant", "pro_inflammatory", "protective")
SCHEMA = {"x": float, "y": float, "state": np.int8}


def damage_drive(damage, p: MicrogliaConfig):
    """Saturating (Hill) response of microglia to the damage/chemokine signal, 0–1."""
    x = (np.maximum(damage, 0.0) / p.k_damage_pm) ** p.damage_hill
    return x / (1.0 + x)


def transition_rates(state, damage, tnf, il10, tgfb, push, p: MicrogliaConfig, activation: float = 1.0, pro_inflammatory: float = 1.0):
    """Rates (per hour) from each agent's state to each of the three states, shape (n, 3).

    `activation` and `pro_inflammatory` multiply leaving surveillance and every move into the pro-inflammatory
    state (1 in the untouched disease; experimental manipulations change them, `sim.manipulation`).
    """
    d = damage_drive(damage, p)
    pro = d + tnf / (tnf + p.k_tnf_pm)
    anti = p.il10_weight * (il10 / (il10 + p.k_il10_pm) + push) + tgfb / (tgfb + p.k_tgfb_pm)
    f = np.where(pro + anti > 0, pro / np.maximum(pro + anti, 1e-300), 0.5)
    rest = p.resolution_rate_per_h * (1.0 - d)
    surv = state == SURVEILLANT
    rates = np.zeros((np.size(state), 3))
    rates[:, SURVEILLANT] = np.where(surv, 0.0, rest)
    k_act = p.activation_rate_per_h * activation
    rates[:, PRO_INFLAMMATORY] = pro_inflammatory * np.where(surv, k_act * d * f, np.where(state == PROTECTIVE, p.switch_rate_per_h * f, 0.0))
    rates[:, PROTECTIVE] = np.where(surv, k_act * d * (1 - f), np.where(state == PRO_INFLAMMATORY, p.switch_rate_per_h * (1 - f), 0.0))
    return rates


def next_state(state, rates, u, dt_h: float):
    """Competing exponential transitions with one uniform draw per agent."""
    total = rates.sum(axis=1)
    p_any = -np.expm1(-total * dt_h)
    with np.errstate(invalid="ignore", divide="ignore"):
        cum = np.cumsum(rates, axis=1) * np.where(total > 0, p_any / total, 0.0)[:, None]
    jumped = u < p_any
    target = (u[:, None] >= cum).sum(axis=1).clip(0, 2)
    return np.where(jumped, target, state).astype(np.int8)


def chemotaxis_step(x, y, grad_y, grad_x, normals, speed, motility, grad_scale, dt_h, width, height):
    """Move up a saturating gradient plus a random walk; reflect at the walls."""
    norm = np.hypot(grad_x, grad_y) + grad_scale
    x = x + speed * dt_h * grad_x / norm + np.sqrt(2 * motility * dt_h) * normals[0]
    y = y + speed * dt_h * grad_y / norm + np.sqrt(2 * motility * dt_h) * normals[1]
    return reflect(x, width), reflect(y, height)


def reflect(v, length):
    """Mirror positions back into [0, length] (any number of wall crossings)."""
    v = np.mod(v, 2 * length)
    return np.where(v > length, 2 * length - v, v)


class Microglia(ColumnAgent):
    """One microglial cell."""

    store_name = "microglia_store"
    x = column("x", "position (µm)")
    y = column("y", "position (µm)")

    @property
    def state(self) -> str:
        return STATE_NAMES[self.store["state"][self.slot]]

    def step(self) -> None:
        """Readable specification: the same transition rule as the vectorized engine, on one cell."""
        ctx, i, s = self.model.ctx, self.slot, slice(self.slot, self.slot + 1)
        st = self.store["state"][s]
        env = self.model.env
        rates = transition_rates(st, *(ctx.microglia_inputs[:, s]), self.model.cfg.microglia, env.microglia_activation,
                                 env.microglia_pro_inflammatory)
        self.store["state"][i] = next_state(st, rates, ctx.microglia_u[s], ctx.dt_h)[0]


def birth_and_death_masks(state, damage, u_birth, u_death, rate, room, p: MicrogliaConfig, dt_days: float):
    """Activated cells divide under damage toward the carrying capacity and die at a small rate (one draw each).

    `rate` (proliferation per day) and `room` (1 − cells/capacity, ≥ 0) are per cell or one number.
    """
    active = state != SURVEILLANT
    born = active & (u_birth < -np.expm1(-rate * damage_drive(damage, p) * room * dt_days))
    dies = active & ~born & (u_death < -np.expm1(-p.apoptosis_rate_per_day * dt_days))
    return born, dies


def apply_births_and_deaths(model, born, dies) -> None:
    """Daughters appear next to their parents (5 µm jitter, one draw each) in the parent's state; the dying go."""
    s = model.microglia_store
    doomed = [s.owners[i] for i in np.flatnonzero(dies)]
    parents = np.flatnonzero(born)
    if len(parents):
        jitter = model.rngs["microglia"].normal(0.0, 5.0, size=(2, len(parents)))
        xs = reflect(s["x"][parents] + jitter[0], model.width)
        ys = reflect(s["y"][parents] + jitter[1], model.height)
        for x, y, st in zip(xs, ys, s["state"][parents].copy()):
            Microglia(model, x=x, y=y, state=st)
    for agent in doomed:
        agent.remove()
