"""Blood-borne vesicles (systemic): MSC vesicles crossing the leaky barrier raise ROS and glutamate clearance.

While MSCs live in lung and blood they shed extracellular vesicles; behind a leaky barrier these raise ROS
scavenging and glutamate uptake everywhere in the patch by factors 1 + e·V, with

    V = L · B/(B + EC50_ev),

B the living MSC burden (cells/kg) and L the barrier leak (`msc.ev_ros_effect_max`,
`msc.ev_glutamate_effect_max`, `msc.ev_ec50`). IV MSCs reversed the raised glutamate release of SOD1 cords
(Uccelli et al. 2012 Mol Med 18:794, doi:10.2119/molmed.2011.00498); that vesicles carry it, and the
magnitudes, are assumptions.

Memory: none. Intravenous vesicles go through a rapid distribution phase and are eliminated by liver and
kidney (Lai et al. 2014 ACS Nano 8:483); the model assumes they are made only by living MSCs, so the effect
lasts as long as those live (lung t½ ≈ 1 d) and ends with them.
"""
from __future__ import annotations

from sim.environment import Environment
from sim.pathways.base import Exposure, Pathway, register, saturating


@register
class Exosome(Pathway):
    name = "exosome"
    columns = ("vesicle_effect",)
    reads = "living MSC burden in lung and blood; barrier leak"
    changes = "ROS scavenging and glutamate clearance in the whole patch"
    memory = "none: follows the living MSCs (lung t½ ≈ 1 d)"
    sources = ("Uccelli et al. 2012 Mol Med 18:794, doi:10.2119/molmed.2011.00498",
               "Lai et al. 2014 ACS Nano 8:483")
    params = ("msc.ev_ros_effect_max", "msc.ev_glutamate_effect_max", "msc.ev_ec50")

    def __init__(self, cfg) -> None:
        super().__init__(cfg)
        self.burden = 0.0
        self.effect = 0.0

    def advance(self, exposure: Exposure, dt_days: float) -> None:
        self.burden = exposure.burden_per_kg

    def act(self, env: Environment) -> None:
        self.effect = env.leak * saturating(self.burden, self.p.ev_ec50)
        env.glutamate_clearance *= 1.0 + self.p.ev_glutamate_effect_max * self.effect
        env.ros_scavenging *= 1.0 + self.p.ev_ros_effect_max * self.effect

    def state(self) -> dict[str, float]:
        return {"vesicle_effect": self.effect}
