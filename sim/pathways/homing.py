"""Homing (local, entry): circulating MSCs entering the tissue patch, the only way an MSC reaches it.

When an MSC packet leaves the blood, Binomial(cells, p) of its cells enter the patch at random positions,

    p = h_cord · L · D̄/(D̄ + K_h) · min(1, V_patch/V_cord),

with L the barrier leak, D̄ the patch-mean damage signal and V the volumes (`msc.homing_fraction_to_cord`,
`msc.k_homing_damage_pm`, `disease.cord_volume_mm3`). After IV infusion most cells lodge in the lung and
fewer than 1 000 of 2×10⁶ reach six other organs together (Lee et al. 2009 Cell Stem Cell 5:54,
doi:10.1016/j.stem.2009.05.003); homing to the CNS of SOD1-G93A mice is scant (Uccelli et al. 2012 Mol
Med 18:794, doi:10.2119/molmed.2011.00498). On the default patches p is of order 10⁻⁹–10⁻⁸ per cell:
**after IV infusion essentially no MSC reaches the patch**, so the local pathways (`local_paracrine`,
`local_vesicles`) have almost nothing to act through (`iv_reach` says how little).
"""
from __future__ import annotations

from sim.config import SimConfig
from sim.pathways.base import LOCAL, Pathway, register


def homing_probability(leak: float, mean_damage: float, patch_volume_mm3: float, cfg: SimConfig) -> float:
    """Chance that one cell leaving the blood enters this patch."""
    p = cfg.msc
    drive = mean_damage / (mean_damage + p.k_homing_damage_pm)
    share = min(1.0, patch_volume_mm3 / cfg.disease.cord_volume_mm3)
    return float(min(1.0, p.homing_fraction_to_cord * leak * drive * share))


def iv_reach(cfg: SimConfig, patch_volume_mm3: float) -> float:
    """Expected cells entering the patch per infused cell, at full leak and saturating damage (an upper bound).

    A cell starts in the blood (1 − f) or the lung (f, first-pass arrest); leaving the lung it returns to the blood
    with probability r_L, leaving the blood it re-lodges with probability r_B, and each exit from the blood is one
    chance to home: expected exits ((1 − f) + f·r_L)/(1 − r_B·r_L), each with the largest homing probability.
    """
    m = cfg.msc
    exits = ((1 - m.first_pass_lung_fraction) + m.first_pass_lung_fraction * m.lung_release_fraction) / (
        1 - m.blood_exit_to_lung_fraction * m.lung_release_fraction)
    return float(exits * min(1.0, m.homing_fraction_to_cord * min(1.0, patch_volume_mm3 / cfg.disease.cord_volume_mm3)))


@register
class Homing(Pathway):
    name = "homing"
    route = LOCAL
    reads = "MSC packets leaving the blood; barrier leak; patch-mean damage signal"
    changes = "creates single tissue MSCs at random positions in the patch"
    memory = "none (an entered cell lives with msc.tissue_half_life_h)"
    sources = ("Lee et al. 2009 Cell Stem Cell 5:54, doi:10.1016/j.stem.2009.05.003",
               "Uccelli et al. 2012 Mol Med 18:794, doi:10.2119/molmed.2011.00498")
    params = ("msc.homing_fraction_to_cord", "msc.k_homing_damage_pm", "disease.cord_volume_mm3", "msc.tissue_half_life_h", "msc.speed_um_per_h")

    def entry_probability(self, model) -> float:
        return homing_probability(model.env.leak, model.mean_damage, model.patch_volume_mm3, self.cfg)
