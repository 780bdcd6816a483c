"""Motor neurons: intrinsic disease drive, inflammatory and excitotoxic damage, trophic protection.

Health h ∈ [0, 1] falls at a rate (per day)

    dh/dt = −v · (1 − P) · a(t) · [1 + w_TNF·f(TNF) + w_IL1β·f(IL-1β) + w_ROS·f(ROS) + w_glu·f(glu − glu₀)]

with f(c) = c/(c + K), vulnerability v (lognormal × motor-unit type: FF > FR > S, Pun et al. 2006
Nat Neurosci 9:408) and trophic protection P = P_max·½·[BDNF/(BDNF+K_B) + GDNF/(GDNF+K_G)]
(potencies: Henderson et al. 1993 Nature 363:266; 1994 Science 266:1062). The cell-autonomous
drive a(t) sets when neurons fail; the glial environment amplifies it (mutant SOD1 in motor neurons
sets onset, in microglia progression: Boillée et al. 2006 Science 312:1389,
doi:10.1126/science.1123511), so the same weights serve a 4-month mouse and a 3-year human course.
A neuron dies when h reaches 0; TNF's weight is small because TNF knock-out did not change MN
loss in SOD1 mice (Gowing et al. 2006 J Neurosci 26:11397).

Function is not survival: each neuron drives `unit_size · min(1, h/h_den)` muscle fibres (axons
fail before the soma, Fischer et al. 2004 Exp Neurol 185:232), and neurons with intact axons adopt
orphaned fibres by collateral sprouting toward min(u_max, N₀/Σ output) with time constant τ.
Sick neurons release a chemokine/damage signal that rises steeply with their accumulated damage,
and a burst of damage signal when they die.
"""
from __future__ import annotations

import numpy as np

from sim.agents.base import ColumnAgent, column
from sim.config import NeuronConfig

SCHEMA = {"x": float, "y": float, "health": float, "vulnerability": float, "unit_size": float,
          "alive": bool, "unit_type": np.int8, "death_day": float}
UNIT_TYPES = ("FF", "FR", "S")


def intrinsic_drive(day: float, ref_rate: float, ref_day: float, exponent: float, offset_days: float) -> float:
    """a(t) = a_ref·((t + offset)/t_ref)^m: cell-autonomous mutant-protein stress (per day)."""
    return ref_rate * (max(day + offset_days, 0.0) / ref_day) ** exponent


def damage_rate(drive, vulnerability, tnf, il1b, ros, glutamate_excess, bdnf, gdnf, blood_products, p: NeuronConfig):
    """Health loss per day of each neuron (arrays or scalars alike)."""
    sat = lambda c, k: c / (c + k)  # noqa: E731 - a one-line saturating response
    glial = (p.w_tnf * sat(tnf, p.k_tnf_pm) + p.w_il1b * sat(il1b, p.k_il1b_pm)
             + p.w_ros * sat(ros, p.k_ros_nm) + p.w_glutamate * sat(glutamate_excess, p.k_glutamate_um))
    protection = p.trophic_max_protection * 0.5 * (sat(bdnf, p.k_bdnf_pm) + sat(gdnf, p.k_gdnf_pm))
    return vulnerability * (1.0 - protection) * drive * (1.0 + p.glial_gain * glial + p.w_blood * blood_products)


def update_health(health, alive, rate_per_day, dt_days):
    """New health and a mask of neurons that died this step."""
    new = np.where(alive, np.maximum(health - rate_per_day * dt_days, 0.0), health)
    died = alive & (new <= 0.0)
    return new, died


def axon_output(health, alive, p: NeuronConfig):
    """Share of its own fibres a neuron still drives: 1 until health falls below the denervation threshold."""
    return np.where(alive, np.clip(health / p.denervation_health, 0.0, 1.0), 0.0)


def chemokine_release(health, alive, p: NeuronConfig):
    """Damage-signal release (molecules/s) of each neuron: a Hill function of its accumulated damage."""
    x = ((1.0 - health) / p.stress_half_damage) ** p.stress_hill
    return np.where(alive, p.chemokine_release * x / (1.0 + x), 0.0)


def update_unit_size(unit_size, health, alive, n_total: int, p: NeuronConfig, dt_days: float):
    """Collateral reinnervation: healthy-enough survivors grow toward min(u_max, N0/Σoutput) (Σ over the last axis)."""
    output = axon_output(health, alive, p)
    # one target per individual: rows of a batch (`sim.cohort`) are individuals
    target = np.minimum(p.reinnervation_max, n_total / np.maximum(output.sum(axis=-1, keepdims=True), 1e-9))
    relax = -np.expm1(-output * dt_days / p.reinnervation_tau_days)
    return np.where(alive, unit_size + (target - unit_size) * relax, unit_size)


def functional_index(unit_size, health, alive, n_total: int, p: NeuronConfig) -> float:
    """Muscle fibres still driven, relative to the healthy innervation (1 = intact)."""
    return float(min(1.0, (unit_size * axon_output(health, alive, p)).sum() / max(n_total, 1)))


def motor_unit_number_index(unit_size, health, alive, n_total: int, p: NeuronConfig) -> float:
    """Effective number of functioning motor units, relative to the healthy count: (Σs)² / Σs² / N0.

    s = fibres a unit drives (its size × axon output). MUNIX divides the compound muscle action potential
    by a unit size estimated from the surface interference pattern, which larger units dominate; the
    effective (size-weighted) number is the model's equivalent (assumption). Equal intact units give the
    count of living neurons; shrinking, denervating units count less, enlarged reinnervating ones do not
    count more. Target: MUNIX decline, Neuwirth et al. 2015 JNNP 86:1172, doi:10.1136/jnnp-2015-310509.
    """
    size = unit_size * axon_output(health, alive, p)
    total = size.sum()
    return float(total * total / max((size * size).sum(), 1e-300) / max(n_total, 1)) if total > 0 else 0.0


class MotorNeuron(ColumnAgent):
    """An α-motor neuron at a fixed position; dead neurons stay as agents (alive=False)."""

    store_name = "neuron_store"
    x = column("x", "position (µm)")
    y = column("y", "position (µm)")
    health = column("health", "1 = healthy, 0 = dead")
    vulnerability = column("vulnerability", "damage-rate multiplier")
    unit_size = column("unit_size", "muscle fibres driven, relative to its own initial unit")
    alive = column("alive")
    death_day = column("death_day", "day of death (NaN while alive)")

    @property
    def unit_type(self) -> str:
        return UNIT_TYPES[self.store["unit_type"][self.slot]]

    def step(self) -> None:
        """Readable specification: the same rule as the vectorized engine, on one neuron."""
        ctx, i, s = self.model.ctx, self.slot, slice(self.slot, self.slot + 1)
        rate = damage_rate(ctx.drive, self.store["vulnerability"][s], *(ctx.neuron_inputs[:, s]), ctx.blood_products,
                           self.model.cfg.neurons)
        new, died = update_health(self.store["health"][s], self.store["alive"][s], rate, ctx.dt_days)
        ctx.neuron_rate[i] = rate[0]
        self.store["health"][i] = new[0]
        ctx.neuron_died[i] = died[0]
