"""Homing (local, entry): MSCs entering the tissue patch, the only way an MSC reaches it — from the blood or, after an
intrathecal dose, from the cerebrospinal fluid (CSF).

From the blood (routes iv and intrathecal: cells drained from the CSF circulate too): when an MSC packet leaves the
blood, Binomial(cells, p) of its cells enter the patch at random positions,

    p = h_cord · L · D̄/(D̄ + K_h) · min(1, V_patch/V_cord),

with L the barrier leak, D̄ the patch-mean damage signal and V the volumes (`msc.homing_fraction_to_cord`,
`msc.k_homing_damage_pm`, `disease.cord_volume_mm3`). After IV infusion most cells lodge in the lung and
fewer than 1 000 of 2×10⁶ reach six other organs together (Lee et al. 2009 Cell Stem Cell 5:54,
doi:10.1016/j.stem.2009.05.003); homing to the CNS of SOD1-G93A mice is scant (Uccelli et al. 2012 Mol
Med 18:794, doi:10.2119/molmed.2011.00498). On the default patches p is of order 10⁻⁹–10⁻⁸ per cell:
**after IV infusion essentially no MSC reaches the patch**, so the local pathways (`local_paracrine`,
`local_vesicles`) have almost nothing to act through (`iv_reach` says how little).

From the CSF (route intrathecal): when a packet leaves the CSF, Binomial(cells, p_csf) of its cells enter the patch,

    p_csf = f_csf · D̄/(D̄ + K_h) · min(1, V_patch/V_cord),

with f_csf = `msc.csf_entry_fraction_to_cord`. CSF cells reach the cord surface directly and cross the pia, not
the blood–spinal-cord barrier, so there is no leak factor; the same damage drive as homing is assumed (cells given
into the CSF entered a fresh cord lesion but not older ones: Nakano et al. 2013 PLoS One 8:e73494; they migrated
into the degenerating ventral grey matter of SOD1-G93A rats: Boucherie et al. 2009 J Neurosci Res 87:2034). The
patch is grey matter with no pial surface of its own, and where the entering cells settle was not measured, so they
are placed uniformly, as homing cells are, and then move up the damage gradient. `intrathecal_reach` gives the
expected cells per injected cell: orders of magnitude more than `iv_reach`, but f_csf is an assumption.
"""
from __future__ import annotations

from sim.config import SimConfig
from sim.pathways.base import LOCAL, Pathway, register


def patch_share(cfg: SimConfig, patch_volume_mm3: float) -> float:
    """The patch's share of the whole cord (cells entering the cord land in it in proportion to its volume)."""
    return min(1.0, patch_volume_mm3 / cfg.disease.cord_volume_mm3)


def _entry_probability(cord_fraction: float, mean_damage: float, patch_volume_mm3: float, cfg: SimConfig) -> float:
    """Chance that one leaving cell enters this patch: fraction to the whole cord × damage drive × the patch's share."""
    drive = mean_damage / (mean_damage + cfg.msc.k_homing_damage_pm)
    return float(min(1.0, cord_fraction * drive * patch_share(cfg, patch_volume_mm3)))


def homing_probability(leak: float, mean_damage: float, patch_volume_mm3: float, cfg: SimConfig) -> float:
    """Chance that one cell leaving the blood enters this patch (through the leaky barrier)."""
    return _entry_probability(cfg.msc.homing_fraction_to_cord * leak, mean_damage, patch_volume_mm3, cfg)


def iv_reach(cfg: SimConfig, patch_volume_mm3: float) -> float:
    """Expected cells entering the patch per infused cell, at full leak and saturating damage (an upper bound).

    A cell starts in the blood (1 − f) or the lung (f, first-pass arrest); leaving the lung it returns to the blood
    with probability r_L, leaving the blood it re-lodges with probability r_B, and each exit from the blood is one
    chance to home: expected exits ((1 − f) + f·r_L)/(1 − r_B·r_L), each with the largest homing probability.
    """
    m = cfg.msc
    exits = ((1 - m.first_pass_lung_fraction) + m.first_pass_lung_fraction * m.lung_release_fraction) / (
        1 - m.blood_exit_to_lung_fraction * m.lung_release_fraction)
    return float(exits * min(1.0, m.homing_fraction_to_cord * patch_share(cfg, patch_volume_mm3)))


def csf_entry_probability(mean_damage: float, patch_volume_mm3: float, cfg: SimConfig) -> float:
    """Chance that one cell leaving the CSF enters this patch (no barrier-leak factor: entry through the pia)."""
    return _entry_probability(cfg.msc.csf_entry_fraction_to_cord, mean_damage, patch_volume_mm3, cfg)


def intrathecal_reach(cfg: SimConfig, patch_volume_mm3: float) -> float:
    """Expected cells entering the patch per intrathecally injected cell, at saturating damage (and, for the few cells
    that drain to the blood, full leak): an upper bound.

    Every injected cell leaves the CSF once: it enters the cord with probability f_csf (the patch gets its volume
    share), or drains to the blood with probability f_drain and then goes on exactly as an IV-infused cell
    (`iv_reach`), or is cleared.
    """
    m = cfg.msc
    share = patch_share(cfg, patch_volume_mm3)
    return float(min(1.0, m.csf_entry_fraction_to_cord * share) + m.csf_drain_to_blood_fraction * iv_reach(cfg, patch_volume_mm3))


@register
class Homing(Pathway):
    name = "homing"
    route = LOCAL
    reads = "MSC packets leaving the blood (and the CSF, after an intrathecal dose); barrier leak (blood only); patch-mean damage signal"
    changes = "creates single tissue MSCs at random positions in the patch"
    memory = "none (an entered cell lives with msc.tissue_half_life_h)"
    sources = ("Lee et al. 2009 Cell Stem Cell 5:54, doi:10.1016/j.stem.2009.05.003",
               "Uccelli et al. 2012 Mol Med 18:794, doi:10.2119/molmed.2011.00498",
               "Boucherie et al. 2009 J Neurosci Res 87:2034, doi:10.1002/jnr.22038",
               "Nakano et al. 2013 PLoS One 8:e73494, doi:10.1371/journal.pone.0073494")
    params = ("msc.homing_fraction_to_cord", "msc.k_homing_damage_pm", "disease.cord_volume_mm3", "msc.tissue_half_life_h", "msc.speed_um_per_h",
              "msc.csf_entry_fraction_to_cord")

    def entry_probability(self, model) -> float:
        return homing_probability(model.env.leak, model.mean_damage, model.patch_volume_mm3, self.cfg)

    def csf_entry_probability(self, model) -> float:
        return csf_entry_probability(model.mean_damage, model.patch_volume_mm3, self.cfg)
