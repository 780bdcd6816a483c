"""Experimental manipulations of the glial and immune environment, applied to a step's `Environment`.

Each published experiment in experiments/calibration/manipulations.csv (a knock-out, a bone-marrow
transplant, a drug, a cell transfer) has an in-silico equivalent: multipliers on the untouched model from a
start day on (`ManipulationConfig`, presets in configs/manipulation/). A manipulation acts on both arms
of a run, like a genotype or a co-treatment; it is how the calibration asks the model what the study
measured (`sim.experiments.manipulations`). The untouched disease has every multiplier at 1.
"""
from __future__ import annotations

import dataclasses

from sim.config import ManipulationConfig
from sim.environment import MICROGLIAL_TOXINS, Environment

NONE = ManipulationConfig()


def changes_anything(m: ManipulationConfig) -> bool:
    """Whether `m` differs from the untouched disease in any multiplier."""
    return dataclasses.replace(m, name=NONE.name, start_day=NONE.start_day) != NONE


def apply(m: ManipulationConfig, env: Environment, day: float, leak_baseline: float) -> None:
    """Change `env` as the manipulation does on `day` (nothing before its start day)."""
    if day < m.start_day:
        return
    for i, name in enumerate(MICROGLIAL_TOXINS):
        env.microglia_release[i] *= getattr(m, f"microglia_{name}")
    env.microglia_pro_inflammatory *= m.microglia_pro_inflammatory
    env.microglia_activation *= m.microglia_activation
    env.microglia_proliferation *= m.microglia_proliferation
    env.treg_infiltration *= m.treg_infiltration
    env.treg_level *= m.treg_systemic
    env.eaat2 *= m.glutamate_uptake
    if m.barrier_leak != 1.0:
        env.leak = env.leak_untreated = leak_baseline + max(env.leak - leak_baseline, 0.0) * m.barrier_leak
