"""Barrier repair (systemic): MSCs restore the blood–spinal-cord barrier for a while.

A single IV infusion of MSCs into SOD1-G93A rats restored the blood–spinal-cord barrier, but transiently;
four weekly infusions kept the benefit longer (Magota et al. 2021 Mol Brain, doi:10.1186/s13041-021-00787-6;
their doses, times and barrier measures were not retrievable). The only dose–response found is for other
IV bone-marrow cells: human CD34⁺ cells given to symptomatic G93A mice cut lumbar microhaemorrhages 4 weeks
later by 44 %, 69 % and 82 % at 5×10⁴, 5×10⁵ and 10⁶ cells per mouse (Oncotarget 2018, PMC5828209,
Garbuzova-Davis, Sanberg and colleagues: 6.50 ± 0.92 per section with medium → 3.67, 2.00, 1.17).

The repair closes a fraction of the disease's excess leak, following a memory of the living burden B:

    dM/dt = (B − M)/τ_B,   r = r_max · M/(M + EC50_B),   L = L₀ + (L_disease − L₀)·(1 − r)

(`msc.barrier_repair_memory_days`, `msc.barrier_repair_max`, `msc.barrier_repair_ec50`). r_max = 0.8 follows
the 82 % at the top CD34⁺ dose (a proxy: not MSCs); τ_B = 7 d is an inference from "transient" and the better
weekly schedule, not a measurement. A lower leak lowers blood-borne harm (slowly, through the products'
clearance: `sim.environment`) and also Treg entry, vesicle entry and homing.
"""
from __future__ import annotations

from sim.environment import Environment, relax
from sim.pathways.base import Exposure, Pathway, register, saturating


@register
class BarrierRepair(Pathway):
    name = "barrier_repair"
    columns = ("barrier_repair",)
    stage = 0  # everything blood-borne reads the repaired leak
    reads = "living MSC burden in lung and blood"
    changes = "blood–spinal-cord-barrier leak (its excess over the healthy baseline)"
    memory = "relaxes toward the living burden with msc.barrier_repair_memory_days"
    sources = ("Magota et al. 2021 Mol Brain, doi:10.1186/s13041-021-00787-6",
               "Oncotarget 2018, PMC5828209 (IV human CD34+ cells in G93A mice: microhaemorrhages by dose)")
    params = ("msc.barrier_repair_max", "msc.barrier_repair_ec50", "msc.barrier_repair_memory_days")

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.memory_per_kg = 0.0
        self.repair = 0.0

    def advance(self, exposure: Exposure, dt_days: float) -> None:
        self.memory_per_kg = relax(self.memory_per_kg, exposure.burden_per_kg, self.p.barrier_repair_memory_days, dt_days)

    def act(self, env: Environment) -> None:
        self.repair = self.p.barrier_repair_max * saturating(self.memory_per_kg, self.p.barrier_repair_ec50)
        if self.repair > 0:  # no exposure changes nothing, bit for bit
            base = self.cfg.disease.bscb_leak_baseline
            env.leak = base + max(env.leak - base, 0.0) * (1.0 - self.repair)

    def state(self) -> dict[str, float]:
        return {"barrier_repair": self.repair}
