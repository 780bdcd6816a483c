"""The tissue environment of one step: barrier leak, astroglial glutamate uptake, blood-derived products.

The untreated disease sets two slow curves on the region's own disease clock, with σ(x) = 1/(1 + e^(−x)):

* **Blood–spinal-cord-barrier leak** L(t) = L₀ + (1 − L₀)·σ((t − t_L)/w_L). Tight-junction proteins are
  lost by 2 months in SOD1-G93A mice (Zhong et al. 2008 Nat Neurosci 11:420, doi:10.1038/nn2073), which
  sets the midpoint; the shape is an assumption. L scales Treg entry, MSC homing and everything
  blood-borne that reaches the cord.
* **Astroglial glutamate uptake** E(t) = 1 − E_max·σ((t − t_E)/w_E) (EAAT2/GLT-1 loss; Rothstein et al.
  1995 Ann Neurol 38:73). E multiplies the glutamate clearance rate; it is the model's only astrocyte.

**Blood-derived products.** Where the barrier leaks, haemoglobin and its iron, fibrin(ogen), thrombin and
IgG enter the cord (microhaemorrhages with neurotoxic haemoglobin products before motor-neuron loss in
SOD1 mice: Zhong et al. 2008; perivascular haemoglobin 3.1× and haemosiderin 2.5× in ALS cords: Winkler
et al. 2013 Acta Neuropathol, doi:10.1007/s00401-012-1039-8). Their level b (0–1, 1 = a cord that
has leaked fully for long) follows the leak with the clearance time τ_b:

    db/dt = (L(t) − b)/τ_b,

and b amplifies motor-neuron damage with the weight `neurons.w_blood` (`sim.agents.motor_neuron`). How
strongly is not measured, and the evidence is mixed (leak and TDP-43 pathology do not co-localise in
human cords: Acta Neuropathol Commun 2021, doi:10.1186/s40478-021-01244-0), so the weight is an assumption whose
plausible range includes zero. Anything that closes the barrier (the MSC `barrier_repair` pathway, a
manipulation) lowers the leak first and the products later, with τ_b.

Everything else that changes the environment during a step — the MSC pathways (`sim.pathways`) and the
experimental manipulations (`sim.manipulation`) — writes into the same `Environment`, which the agents'
rules then read: one place where a module meets the tissue.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sim.config import DiseaseConfig

# Microglial outputs a manipulation can scale, in the order of Environment.microglia_release.
MICROGLIAL_TOXINS = ("tnf", "il1b", "ros", "glutamate")
_NO_SCALING = np.ones(len(MICROGLIAL_TOXINS))


def logistic(x: float) -> float:
    return float(1.0 / (1.0 + np.exp(-max(x, -700.0))))  # exp overflows past 709; the value is 0 either way


def barrier_leak(d: DiseaseConfig, day: float) -> float:
    """Untreated blood–spinal-cord-barrier permeability (0–1) on the region's disease clock."""
    return d.bscb_leak_baseline + (1 - d.bscb_leak_baseline) * logistic((day - d.bscb_leak_mid_day) / d.bscb_leak_width_days)


def eaat2_uptake(d: DiseaseConfig, day: float) -> float:
    """Astroglial glutamate uptake relative to healthy tissue (1 = intact)."""
    return 1.0 - d.eaat2_loss_max * logistic((day - d.eaat2_loss_mid_day) / d.eaat2_loss_width_days)


def relax(state: float, target: float, tau_days: float, dt_days: float) -> float:
    """Exact step of ds/dt = (target − s)/τ with the target constant over the step."""
    decay = np.exp(-dt_days / tau_days)
    return float(target + (state - target) * decay)


@dataclass
class Environment:
    """What the tissue meets during one step; modules change it, the agents' rules read it.

    Multipliers are 1 and pushes 0 in the untouched disease.
    """

    leak: float = 0.0                 # blood–spinal-cord-barrier permeability (0–1), after any repair
    leak_untreated: float = 0.0       # the disease's own leak before any module closed the barrier
    eaat2: float = 1.0                # astroglial glutamate uptake (1 = healthy)
    treg_level: float = 1.0           # systemic Treg level (1 = the preset's reference individual)
    treg_infiltration: float = 1.0    # multiplier on Treg entry into the patch
    microglia_push: float = 0.0       # systemic push toward the protective state, on every microglial cell
    glutamate_clearance: float = 1.0  # multiplier on glutamate clearance beyond EAAT2 (vesicles, manipulations)
    ros_scavenging: float = 1.0       # multiplier on ROS clearance
    microglia_activation: float = 1.0  # multiplier on leaving the surveillant state
    microglia_pro_inflammatory: float = 1.0  # multiplier on every transition into the pro-inflammatory state
    microglia_proliferation: float = 1.0
    blood_products: float = 0.0       # blood-derived products in the cord (0–1), see the module docstring

    def __post_init__(self) -> None:
        self.microglia_release = _NO_SCALING.copy()  # multipliers on TNF-α, IL-1β, ROS, glutamate release


def disease_environment(d: DiseaseConfig, day: float, treg_level: float) -> Environment:
    """The untreated environment of `day` (the region's own disease clock)."""
    leak = barrier_leak(d, day)
    return Environment(leak=leak, leak_untreated=leak, eaat2=eaat2_uptake(d, day), treg_level=treg_level)
