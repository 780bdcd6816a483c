"""Microglial polarization by licensed host myeloid cells (systemic, acute): living MSCs in the lung make
host macrophages produce IL-10, which pushes microglia toward the protective state behind a leaky barrier.

MSCs activated in vivo release PGE2, which makes host macrophages produce IL-10; the benefit is lost when
macrophages are depleted or IL-10 is blocked (Németh et al. 2009 Nat Med 15:42, doi:10.1038/nm.1905); lung-
lodged MSCs up-regulate TSG-6 most of all (Lee et al. 2009 Cell Stem Cell 5:54). A memory of the living
burden B (cells/kg),

    dM/dt = (B − M)/τ_P,   push = w_P · L · M/(M + EC50_P)   on every microglial cell,

(`msc.polarization_memory_days`, `msc.polarization_weight`, `msc.polarization_ec50`). Only living MSCs
signal, so the push lasts about a day beyond the cells (τ_P: assumption). The lasting effect of the dying
cells is the separate `efferocytosis` pathway.
"""
from __future__ import annotations

from sim.environment import Environment, relax
from sim.pathways.base import Exposure, Pathway, register, saturating


@register
class MicrogliaPolarization(Pathway):
    name = "microglia_polarization"
    columns = ("polarization_push",)
    reads = "living MSC burden in lung and blood; barrier leak"
    changes = "protective push on every microglial cell"
    memory = "relaxes toward the living burden with msc.polarization_memory_days"
    sources = ("Németh et al. 2009 Nat Med 15:42, doi:10.1038/nm.1905",
               "Lee et al. 2009 Cell Stem Cell 5:54, doi:10.1016/j.stem.2009.05.003")
    params = ("msc.polarization_weight", "msc.polarization_ec50", "msc.polarization_memory_days")

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.memory_per_kg = 0.0
        self.push = 0.0

    def advance(self, exposure: Exposure, dt_days: float) -> None:
        self.memory_per_kg = relax(self.memory_per_kg, exposure.burden_per_kg, self.p.polarization_memory_days, dt_days)

    def act(self, env: Environment) -> None:
        self.push = self.p.polarization_weight * env.leak * saturating(self.memory_per_kg, self.p.polarization_ec50)
        env.microglia_push += self.push

    def state(self) -> dict[str, float]:
        return {"polarization_push": self.push}
