"""MSC-driven regulatory T-cell expansion (systemic, durable): phagocytes that engulfed MSCs expand Tregs,
which raise the systemic Treg level and so Treg entry into the cord.

Monocytes that phagocytosed MSCs modulate cells of the adaptive immune system (de Witte et al. 2018 Stem Cells
36:602, doi:10.1002/stem.2779). The model relays the engulfed cells (as in `efferocytosis`, with its own copy so
each pathway can be switched alone) into a Treg memory that decays with Treg turnover:

    dE/dt = e(t) − E/τ_E,   dM/dt = (E − M)/τ_T,   T_sys = T_base · (1 + E_max · M/(M + EC50_T)).

τ_T = 11.54 d is derived from the doubling time of human CD4⁺CD45RO⁺Foxp3⁺CD25ʰⁱ Tregs in vivo, 8 d
(Vukmanovic-Stejic et al. 2006 J Clin Invest, doi:10.1172/JCI28941): at steady state loss equals production,
k = ln 2/8 d, τ = 8/ln 2. The rise then peaks about 9 days after an infusion (τ_E = 7 d, τ_T = 11.54 d).
How large the rise is, E_max (`msc.treg_boost_max`), was never measured after IV MSCs (no human fold change
found; a randomised MS trial found no change in regulatory cells): an assumption.
"""
from __future__ import annotations

from sim.environment import Environment, relax
from sim.pathways.base import Exposure, Pathway, register, relay, saturating


@register
class SystemicTreg(Pathway):
    name = "systemic_treg"
    columns = ("treg_boost",)
    reads = "MSCs dying and cleared per day"
    changes = "systemic Treg level (Treg entry into the patch)"
    memory = "engulfed cells (msc.efferocytosis_memory_days) relayed into a Treg memory (msc.treg_memory_days)"
    sources = ("de Witte et al. 2018 Stem Cells 36:602, doi:10.1002/stem.2779",
               "Vukmanovic-Stejic et al. 2006 J Clin Invest, doi:10.1172/JCI28941")
    params = ("msc.treg_boost_max", "msc.treg_boost_ec50", "msc.treg_memory_days", "msc.efferocytosis_memory_days")

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.engulfed_per_kg = 0.0
        self.memory_per_kg = 0.0
        self.boost = 0.0

    def advance(self, exposure: Exposure, dt_days: float) -> None:
        self.memory_per_kg = relax(self.memory_per_kg, self.engulfed_per_kg, self.p.treg_memory_days, dt_days)
        self.engulfed_per_kg = relay(self.engulfed_per_kg, exposure.engulfed_per_kg_day, self.p.efferocytosis_memory_days, dt_days)

    def act(self, env: Environment) -> None:
        self.boost = self.p.treg_boost_max * saturating(self.memory_per_kg, self.p.treg_boost_ec50)
        env.treg_level *= 1.0 + self.boost

    def state(self) -> dict[str, float]:
        return {"treg_boost": self.boost}
