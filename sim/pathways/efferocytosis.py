"""Efferocytosis (systemic, durable): host phagocytes that engulf the dying MSCs turn immunomodulatory
and keep acting after the MSCs are gone.

IV MSCs die by apoptosis in the lung and are engulfed by alveolar macrophages, whose changed metabolic and
inflammatory programme carries the immunosuppression; preventing MSC death attenuates the benefit (Pang et al.
2021 Nat Commun 12:6495, doi:10.1038/s41467-021-26834-3). Recipient phagocytes take up apoptotic MSCs within
2 h and express IDO (Galleu et al. 2017 Sci Transl Med 9:eaam7828, doi:10.1126/scitranslmed.aam7828); monocytes
that phagocytosed MSCs leave the lung for other body sites and modulate adaptive immune cells (de Witte et al.
2018 Stem Cells 36:602, doi:10.1002/stem.2779).

The engulfed cells E (cells/kg) are carried with the phagocytes' persistence τ_E,

    dE/dt = e(t) − E/τ_E,   push = w_E · L · E/(E + EC50_E)   on every microglial cell,

with e(t) the MSCs cleared per kg per day (`msc.efferocytosis_memory_days`, `msc.efferocytosis_weight`,
`msc.efferocytosis_ec50`). No study measured how long the engulfing cells keep the changed phenotype, so τ_E
is bounded by how long they persist: human classical monocytes circulate ≈ 1 d (intermediate ≈ 4 d,
non-classical ≈ 7 d: Patel et al. 2017 J Exp Med 214:1913, doi:10.1084/jem.20170355) and free alveolar
macrophages stay ≈ 7 d in the mouse alveolus (Lab Invest 1980 42:511, PMID 7382427). A single infusion's
push therefore outlasts the cells (lung t½ ≈ 1 d) by about a week.
"""
from __future__ import annotations

from sim.environment import Environment
from sim.pathways.base import Exposure, Pathway, register, relay, saturating


@register
class Efferocytosis(Pathway):
    name = "efferocytosis"
    columns = ("efferocytosis_push", "engulfed_msc_per_kg")
    reads = "MSCs dying and cleared per day (lung and blood); barrier leak"
    changes = "protective push on every microglial cell"
    memory = "engulfed cells carried with msc.efferocytosis_memory_days (persistence of monocytes/alveolar macrophages)"
    sources = ("Pang et al. 2021 Nat Commun 12:6495, doi:10.1038/s41467-021-26834-3",
               "Galleu et al. 2017 Sci Transl Med 9:eaam7828, doi:10.1126/scitranslmed.aam7828",
               "de Witte et al. 2018 Stem Cells 36:602, doi:10.1002/stem.2779",
               "Patel et al. 2017 J Exp Med 214:1913, doi:10.1084/jem.20170355")
    params = ("msc.efferocytosis_weight", "msc.efferocytosis_ec50", "msc.efferocytosis_memory_days")

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.engulfed_per_kg = 0.0
        self.push = 0.0

    def advance(self, exposure: Exposure, dt_days: float) -> None:
        self.engulfed_per_kg = relay(self.engulfed_per_kg, exposure.engulfed_per_kg_day, self.p.efferocytosis_memory_days, dt_days)

    def act(self, env: Environment) -> None:
        self.push = self.p.efferocytosis_weight * env.leak * saturating(self.engulfed_per_kg, self.p.efferocytosis_ec50)
        env.microglia_push += self.push

    def state(self) -> dict[str, float]:
        return {"efferocytosis_push": self.push, "engulfed_msc_per_kg": self.engulfed_per_kg}
