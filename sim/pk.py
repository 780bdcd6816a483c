"""IV MSC pharmacokinetics and the systemic effects of MSCs outside the tissue.

Compartments: blood → (first-pass arrest) lung → death/phagocytosis (cleared) or release back to
blood; blood → re-arrest in lung, clearance elsewhere, or homing into the spinal cord.
Defaults: 92 ± 7 % first-pass arrest (Toma et al. 2009 Circ Res), lung t½ ≈ 24 h (Lee et al.
2009 Cell Stem Cell 5:54), minutes in free circulation (Shim et al. 2015 Stem Cells Dev 24:1124).

Systemic effects are driven by the MSC burden B(t) = (lung + blood cells) / body weight (cells/kg):
* Treg boost: lung-trapped MSCs are engulfed by monocytes and expand Tregs (de Witte et al. 2018
  Stem Cells 36:602; Perico et al. 2011 CJASN). A memory M_T with dM/dt = B − M/τ_T sets
  T_sys = T_base·(1 + E_max·M_T/(M_T + EC50)); E_max ≤ 0.47 (Henkel et al. 2013 EMBO Mol Med 5:64).
* Vesicles (exosomes): follow B (short blood half-life); inside a leaky barrier they raise ROS
  scavenging and glutamate uptake by factors 1 + e_max·B/(B+EC50)·leak (Bonafede et al. 2016;
  Uccelli et al. 2012 Mol Med 18:794).
* Myeloid polarization: MSC PGE2/TSG-6 make host macrophages produce IL-10 (Németh et al. 2009 Nat
  Med 15:42); a memory M_P (τ_P) pushes every microglial cell toward protection by
  w·M_P/(M_P+EC50)·leak.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.agents.msc import BLOOD, LUNG
from sim.config import MSCConfig

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


def homing_probability(leak: float, mean_damage: float, patch_volume_mm3: float, p: MSCConfig, cord_volume_mm3: float) -> float:
    """Chance that one cell leaving the blood enters this patch."""
    drive = mean_damage / (mean_damage + p.k_homing_damage_pm)
    share = min(1.0, patch_volume_mm3 / cord_volume_mm3)
    return float(min(1.0, p.homing_fraction_to_cord * leak * drive * share))


@dataclass
class SystemicState:
    """Slow systemic variables set by the MSC burden (cells/kg in lung + blood)."""

    burden_per_kg: float = 0.0
    treg_memory: float = 0.0  # cells·d/kg
    polarization_memory: float = 0.0  # cells·d/kg

    def advance(self, burden_per_kg: float, dt_days: float, p: MSCConfig) -> None:
        self.burden_per_kg = burden_per_kg
        self.treg_memory = _relax(self.treg_memory, burden_per_kg, p.treg_memory_days, dt_days)
        self.polarization_memory = _relax(self.polarization_memory, burden_per_kg, p.polarization_memory_days, dt_days)

    def treg_level(self, baseline: float, p: MSCConfig) -> float:
        if not p.pathways.systemic_treg:
            return baseline
        m = self.treg_memory
        return baseline * (1.0 + p.treg_boost_max * m / (m + p.treg_boost_ec50))

    def vesicle_effect(self, leak: float, p: MSCConfig) -> float:
        """Fraction (0–1) of the largest vesicle effect reaching the tissue."""
        if not p.pathways.exosome:
            return 0.0
        b = self.burden_per_kg
        return leak * b / (b + p.ev_ec50)

    def polarization_push(self, leak: float, p: MSCConfig) -> float:
        if not p.pathways.microglia_polarization:
            return 0.0
        m = self.polarization_memory
        return p.polarization_weight * leak * m / (m + p.polarization_ec50)


def _relax(memory: float, inflow: float, tau_days: float, dt_days: float) -> float:
    """Exact step of dM/dt = inflow − M/τ with inflow constant over the step."""
    decay = np.exp(-dt_days / tau_days)
    return float(memory * decay + inflow * tau_days * (1.0 - decay))
