"""Structured configuration: one dataclass per part of the model, every parameter documented.

Hydra composes YAML presets (`sim/configs/`) on top of these dataclasses; `validate` checks
hard bounds and cross-field rules and raises `ConfigError` with one line naming the key and the
allowed range. `sim.docs` renders the same metadata as `docs/parameters.md`.

Sources are cited as papers (authors, year, journal, DOI). *assumption* marks a value chosen by
judgement where no measurement exists; such values belong in sensitivity analyses.
"""
from __future__ import annotations

import dataclasses
import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any

from sim.params import ASSUMPTION, param, setting, switch

INF = math.inf

# Frequently cited sources (papers, never files).
SYKOVA_2008 = "Syková & Nicholson 2008 Physiol Rev 88:1277, doi:10.1152/physrev.00027.2007"
STROH_2003 = "Stroh et al. 2003 Biophys J 85:581, doi:10.1016/S0006-3495(03)74502-0"
KELLER_2018 = "Keller, Erö & Markram 2018 Front Neuroanat 12:83, doi:10.3389/fnana.2018.00083"
HENDERSON_1993 = "Henderson et al. 1993 Nature 363:266, doi:10.1038/363266a0"
HENDERSON_1994 = "Henderson et al. 1994 Science 266:1062, doi:10.1126/science.7973664"
LEE_2009 = "Lee RH et al. 2009 Cell Stem Cell 5:54, doi:10.1016/j.stem.2009.05.003"
EGGENHOFER_2012 = "Eggenhofer et al. 2012 Front Immunol 3:297, doi:10.3389/fimmu.2012.00297"
TOMA_2009 = "Toma et al. 2009 Circ Res, doi:10.1161/CIRCRESAHA.108.186742"
UCCELLI_2012 = "Uccelli et al. 2012 Mol Med 18:794, doi:10.2119/molmed.2011.00498"
HENKEL_2013 = "Henkel et al. 2013 EMBO Mol Med 5:64, doi:10.1002/emmm.201201544"
ZHONG_2008 = "Zhong et al. 2008 Nat Neurosci 11:420, doi:10.1038/nn2073"
ALEXIANU_2001 = "Alexianu, Kozovska & Appel 2001 Neurology 57:1282, doi:10.1212/WNL.57.7.1282"
TKACH_2014 = "Tkach et al. 2014 eLife 3:e01944, doi:10.7554/eLife.01944"


class ConfigError(ValueError):
    """A configuration value outside its allowed range; the message is one line."""


# --------------------------------------------------------------------------- domain
@dataclass
class DomainConfig:
    """The simulated tissue patch: a 2-D slab of lumbar ventral-horn grey matter."""

    name: str = setting("standard", "Name of the domain preset.")
    width_um: float = setting(1000.0, "Patch width.", unit="µm", bounds=(40.0, 1e6))
    height_um: float = setting(1000.0, "Patch height.", unit="µm", bounds=(40.0, 1e6))
    voxel_um: float = setting(20.0, "Edge of a square field voxel.", unit="µm", bounds=(1.0, 500.0))
    slab_thickness_um: float = param(
        20.0, "µm", (20.0, 40.0),
        "Keller, Erö & Markram 2018 (density conversion n2D = n3D·t, section thickness of the calibration data)",
        "Thickness of the slab the 2-D patch stands for; converts secretion into concentration.",
        bounds=(1.0, 1000.0))
    ecs_fraction: float = param(
        0.2, "1", (0.12, 0.24), SYKOVA_2008,
        "Extracellular volume fraction α; secreted molecules dilute into α·voxel volume.",
        bounds=(0.01, 1.0))
    record_every_hours: float = setting(24.0, "Cadence of rows in timeseries.parquet.", unit="h",
                                        bounds=(1.0, 24.0 * 365))
    snapshot_every_days: float = setting(7.0, "Cadence of spatial snapshots.", unit="d",
                                         bounds=(0.25, 1e5))


# --------------------------------------------------------------------------- disease course
@dataclass
class DiseaseConfig:
    """Untreated disease course of one preset (species, clock, intrinsic drive, barrier, EAAT2)."""

    name: str = setting("sod1_g93a_mouse", "Name of the disease preset.")
    species: str = setting("mouse", "mouse or human.")
    clock: str = setting("age in days", "What the day axis means for this preset.")
    calibration: str = setting(
        "", "Calibration status of the untreated course, printed with every run (experiments/calibration/README.md); "
        "empty for a preset that was never calibrated.")
    body_weight_kg: float = param(
        0.025, "kg", (0.018, 100.0), "mouse ≈25 g: Uccelli et al. 2012 Mol Med 18:794, doi:10.2119/molmed.2011.00498; human 70 kg reference adult (assumption)",
        "Body weight; converts an IV dose in cells/kg into cells per animal.", bounds=(1e-3, 500.0))
    start_day: float = setting(30.0, "First simulated day on the preset's clock (negative: before the clock's day 0, e.g. a prodrome).", unit="d", bounds=(-1e5, 1e5))
    horizon_days: float = setting(160.0, "Last simulated day on the preset's clock.", unit="d", bounds=(1.0, 1e5))
    dt_hours: float = setting(1.0, "Agent time step (fields are exact for any step).", unit="h", bounds=(0.05, 24.0))
    # Intrinsic (cell-autonomous, mutant-protein) stress: a(t) = a_ref·((t + offset)/t_ref)^m.
    drive_per_day: float = param(
        0.0185, "1/d", (0.0005, 0.04), ASSUMPTION + " (fitted per preset to natural-history bands, e.g. a control T50 in 95–125 d: Hall, Oostveen & Gurney 1998 Glia 23:249)",
        "Intrinsic damage rate of a median-vulnerability motor neuron at the reference day.")
    drive_ref_day: float = param(100.0, "d", (60.0, 1000.0), ASSUMPTION, "Reference day t_ref of the intrinsic drive.",
                                 bounds=(1.0, 1e5))
    drive_exponent: float = param(
        3.0, "1", (0.3, 5.0), ASSUMPTION + " (accelerating, age-dependent toxicity; Kong & Xu 1998 J Neurosci 18:3241: most MNs die late; "
        "human sporadic ALS: a slowly growing drive, m < 1.5, is needed for a 2–3-year course after onset)",
        "Power m of the intrinsic drive's growth with time.", bounds=(0.0, 20.0))
    drive_offset_days: float = param(0.0, "d", (0.0, 2000.0), ASSUMPTION + " (mouse 0: the clock is age; human: years of "
                                     "cell-autonomous stress before onset, while motor-unit loss is detectable only months before "
                                     "weakness: Aggarwal & Nicholson 2002 JNNP 73:199; Ebersbach et al. 2023 Sci Rep 13:3981)",
                                     "Disease time already elapsed at day 0 of the clock (human: prodrome before onset).",
                                     bounds=(0.0, 1e5))
    vulnerability_sd_log: float = param(
        0.8, "1", (0.4, 1.2), ASSUMPTION + " (spread of MN death times 80→130 d; Alexianu et al. 2001 Neurology 57:1282)",
        "SD of log vulnerability across motor neurons (lognormal, median 1).", bounds=(0.0, 5.0))
    ff_fraction: float = param(0.4, "1", (0.3, 0.5), ASSUMPTION + " (motor-unit mix)",
                               "Fraction of α-MNs of fast-fatigable (FF) units.", bounds=(0.0, 1.0))
    fr_fraction: float = param(0.3, "1", (0.2, 0.4), ASSUMPTION + " (motor-unit mix)",
                               "Fraction of α-MNs of fast-resistant (FR) units; the rest are slow (S).", bounds=(0.0, 1.0))
    ff_vulnerability: float = param(
        1.3, "1", (1.0, 2.0), "Pun et al. 2006 Nat Neurosci 9:408, doi:10.1038/nn1653 (ordering FF > FR > S; magnitude assumption)",
        "Vulnerability multiplier of FF motor neurons.")
    fr_vulnerability: float = param(1.0, "1", (0.8, 1.5), "Pun et al. 2006 (ordering; magnitude assumption)",
                                    "Vulnerability multiplier of FR motor neurons.")
    s_vulnerability: float = param(0.7, "1", (0.4, 1.0), "Pun et al. 2006 (ordering; magnitude assumption)",
                                   "Vulnerability multiplier of slow (S) motor neurons.")
    eaat2_loss_max: float = param(
        0.6, "1", (0.3, 0.9), "Rothstein et al. 1995 Ann Neurol 38:73 (−71 % in motor cortex); Howland et al. 2002 PNAS 99:1604",
        "Maximal fractional loss of astroglial glutamate uptake (EAAT2/GLT-1).", bounds=(0.0, 0.99))
    eaat2_loss_mid_day: float = param(100.0, "d", (70.0, 1000.0),
                                      "Howland et al. 2002 PNAS 99:1604 (focal GLT-1 loss before onset; timing assumption)",
                                      "Day at which half of the maximal EAAT2 loss is reached.")
    eaat2_loss_width_days: float = param(12.0, "d", (5.0, 200.0), ASSUMPTION,
                                         "Width (logistic scale) of the EAAT2 decline.", bounds=(0.1, 1e4))
    bscb_leak_baseline: float = param(0.05, "1", (0.0, 0.2), ASSUMPTION,
                                      "Relative blood–spinal-cord-barrier permeability of healthy tissue.", bounds=(0.0, 1.0))
    bscb_leak_mid_day: float = param(
        75.0, "d", (50.0, 1000.0), ZHONG_2008 + " (tight-junction loss by 2 months in SOD1-G93A mice)",
        "Day at which the barrier leak reaches half its maximum.")
    bscb_leak_width_days: float = param(10.0, "d", (5.0, 200.0), ASSUMPTION, "Width (logistic scale) of barrier opening.",
                                        bounds=(0.1, 1e4))
    treg_systemic_baseline: float = param(
        1.0, "relative", (0.6, 1.2), HENKEL_2013 + " (rapid/slow progressor ratio ≈ 0.69)",
        "Systemic Treg level of this individual relative to the preset's reference (1 = reference).", bounds=(0.0, 10.0))
    cord_volume_mm3: float = param(
        70.0, "mm³", (40.0, 40000.0), ASSUMPTION + " (mouse spinal cord ≈ 4 cm × ≈ 2 mm², 40–120 mm³; human ≈ 45 cm × ≈ 0.5 cm²)",
        "Spinal-cord volume that homing MSCs would spread over; dilutes homing into one patch.", bounds=(1e-3, 1e7))
    # Virtual cohort: each seed is one individual, drawn around the preset's reference individual.
    individual_drive_sd_log: float = param(
        0.0, "1", (0.0, 3.0), ASSUMPTION + " (fitted to the spread of survival: mouse SD 7–13 d, Wooley et al. 2005 Muscle Nerve 32:43; "
        "human σ_log ≈ 1, Knibb et al. 2016 JNNP 87:1361, doi:10.1136/jnnp-2015-312908)",
        "Between-individual SD of log intrinsic drive (lognormal multiplier of drive_per_day, median 1): fast vs slow progressors.",
        bounds=(0.0, 5.0))
    individual_treg_sd_log: float = param(
        0.0, "1", (0.0, 0.5), HENKEL_2013 + " (blood Treg fraction 0.45–0.95 % across patients: SD of log ≈ 0.2)",
        "Between-individual SD of log systemic Treg level (lognormal multiplier of treg_systemic_baseline, median 1).",
        bounds=(0.0, 3.0))
    # Regional spread (sim/spread.py): the person as regions affected one after another.
    regions: int = param(
        1, "regions", (1, 4), "Cedarbaum et al. 1999 J Neurol Sci 169:13, doi:10.1016/S0022-510X(99)00210-5 (ALSFRS-R: four "
        "12-point domains); Ravits & La Spada 2009 Neurology 73:805, doi:10.1212/WNL.0b013e3181b6bbbd (focal onset, contiguous spread). "
        "Mouse presets 1: their end points are hind-limb (lumbar) ones",
        "Body regions of the individual, each one simulated patch; the person's indices are their means.", bounds=(1, 8))
    spread_delay_days: float = param(
        0.0, "d", (0.0, 720.0), ASSUMPTION + " (fitted; involvement of further regions at predictable proportions of the disease "
        "course: Roche et al. 2012 Brain 135:847, doi:10.1093/brain/awr351)",
        "Lag of each further region's disease clock behind the previous one, for the reference individual "
        "(scaled by the individual's time scale, drive multiplier^(−1/(m+1))).", bounds=(0.0, 1e5))
    # Outcome definitions on the functional index (read-outs only: they never change the dynamics).
    onset_functional_index: float = param(
        0.9, "1", (0.8, 0.95), ASSUMPTION + " (clinical signs once ~10 % of muscle drive is lost despite reinnervation)",
        "Clinical onset: first recorded day the functional index falls below this.", bounds=(0.0, 1.0))
    end_stage_functional_index: float = param(
        0.4, "1", (0.2, 0.6), ASSUMPTION + " (end stage with 25–60 % of lumbar MNs left; natural-history band, low confidence)",
        "End stage (mouse: loss of righting reflex; human: death or permanent ventilation): first recorded day the "
        "functional index falls below this.", bounds=(0.0, 1.0))


# --------------------------------------------------------------------------- tissue biology
@dataclass
class NeuronConfig:
    """α-motor neurons: placement, damage, protection, death, reinnervation."""

    density_per_mm2: float = param(
        60.0, "1/mm²", (30.0, 150.0), "Bjugn 1993 Brain Res 627:25 and typical L4–L5 counts (≈30–60/mm², higher in lamina IX pools)",
        "Areal density of α-motor neurons (γ-MNs are spared and not modelled).", bounds=(0.1, 5000.0))
    w_tnf: float = param(
        0.05, "1", (0.0, 0.2), "Gowing et al. 2006 J Neurosci 26:11397, doi:10.1523/JNEUROSCI.0602-06.2006 (TNF knock-out: no effect ⇒ weak)",
        "Largest relative amplification of the intrinsic damage rate by TNF-α.")
    k_tnf_pm: float = param(200.0, "pM", (20.0, 2000.0),
                            "in-vitro MN toxicity at 1–100 ng/mL (≈20–2000 pM trimer); Tortarolo et al. 2017 Mediators Inflamm, doi:10.1155/2017/2985051",
                            "TNF-α at half-maximal damage.", bounds=(1e-9, INF))
    w_il1b: float = param(0.1, "1", (0.0, 0.4), ASSUMPTION, "Largest relative amplification of the intrinsic damage rate by IL-1β.")
    k_il1b_pm: float = param(50.0, "pM", (5.0, 500.0), ASSUMPTION, "IL-1β at half-maximal damage.", bounds=(1e-9, INF))
    w_ros: float = param(0.25, "1", (0.0, 1.0), ASSUMPTION + " (NOX2-driven toxicity in the rapid phase: Beers et al. 2011 Brain 134:1293)",
                         "Largest relative amplification of the intrinsic damage rate by oxidative stress.")
    k_ros_nm: float = param(0.2, "nM", (0.02, 2.0), ASSUMPTION + " (free extracellular H2O2 level unknown)",
                            "ROS (H2O2-equivalent) at half-maximal damage.", bounds=(1e-12, INF))
    w_glutamate: float = param(
        0.3, "1", (0.0, 1.2), "Rothstein et al. 1993 PNAS 90:6591 (chronic uptake block kills MNs over weeks; magnitude assumption)",
        "Largest relative amplification of the intrinsic damage rate by excess extracellular glutamate.")
    k_glutamate_um: float = param(
        5.0, "µM", (1.0, 20.0), "Carriedo et al. 1996 J Neurosci 16:4069 (low-µM agonist or uptake block for a day injures MNs)",
        "Excess glutamate (above the healthy ambient level) at half-maximal damage.", bounds=(1e-9, INF))
    k_bdnf_pm: float = param(1.0, "pM", (0.3, 3.0), HENDERSON_1993 + " (EC50 ≈ 20–40 pg/mL)", "BDNF at half-maximal protection.",
                             bounds=(1e-12, INF))
    k_gdnf_pm: float = param(0.015, "pM", (0.005, 0.05), HENDERSON_1994 + " (75× more potent than neurotrophins)",
                             "GDNF at half-maximal protection.", bounds=(1e-12, INF))
    trophic_max_protection: float = param(0.5, "1", (0.2, 0.8), ASSUMPTION,
                                          "Largest fraction of damage accumulation trophic support can prevent.", bounds=(0.0, 1.0))
    trophic_uptake_per_h: float = param(
        0.5, "1/h", (0.0, 5.0), ASSUMPTION + " (receptor-mediated TrkB/RET internalisation)",
        "First-order uptake of BDNF and GDNF in a voxel holding one living motor neuron.")
    chemokine_release: float = param(
        0.1, "molecules/s/cell", (0.01, 1.0), ASSUMPTION + " (CCL2-like release by stressed MNs)",
        "Largest chemokine/damage-signal release of a living neuron under stress.")
    stress_half_damage: float = param(
        0.3, "1", (0.1, 0.6), ASSUMPTION + " (microgliosis only from ≈80 d: Alexianu et al. 2001 Neurology 57:1282)",
        "Accumulated damage (1 − health) at which a neuron's chemokine release is half its largest.", bounds=(1e-6, 1.0))
    stress_hill: float = param(3.0, "1", (1.0, 6.0), ASSUMPTION, "Steepness of chemokine release against accumulated damage.",
                               bounds=(0.1, 20.0))
    death_burst_molecules: float = param(1e6, "molecules", (1e5, 1e7), ASSUMPTION,
                                         "Damage signal (DAMPs) released when a motor neuron dies.")
    reinnervation_max: float = param(
        2.0, "1", (1.2, 5.0), "Hegedus, Putman & Gordon 2007 Neurobiol Dis 28:154 (little sprouting in FF units); classic MU enlargement up to ≈5×",
        "Largest motor-unit size a surviving neuron can reach by collateral reinnervation (relative to its own).", bounds=(1.0, 50.0))
    reinnervation_tau_days: float = param(14.0, "d", (7.0, 60.0), ASSUMPTION,
                                          "Time constant of collateral sprouting toward the orphaned fibres.", bounds=(0.01, 1e5))
    denervation_health: float = param(
        0.5, "1", (0.2, 0.8), "Fischer et al. 2004 Exp Neurol 185:232 (denervation precedes soma loss; threshold assumption)",
        "Health below which a neuron's axon starts to lose its muscle fibres (output falls linearly to 0 at death).",
        bounds=(1e-6, 1.0))


@dataclass
class MicrogliaConfig:
    """Microglia: surveillant → pro-inflammatory / protective, chemotaxis, proliferation, secretion."""

    density_per_mm2: float = param(170.0, "1/mm²", (120.0, 300.0), KELLER_2018 + " (8 500/mm³ × 20 µm slab)",
                                   "Initial areal density of microglia.", bounds=(0.0, 1e5))
    max_fold: float = param(4.0, "1", (2.0, 6.0), "Alexianu et al. 2001; Hall, Oostveen & Gurney 1998 Glia 23:249 (several-fold by end stage)",
                            "Carrying capacity as a multiple of the initial density.", bounds=(1.0, 100.0))
    activation_rate_per_h: float = param(0.02, "1/h", (0.005, 0.5), ASSUMPTION,
                                         "Maximal rate of leaving the surveillant state under damage signal.")
    k_damage_pm: float = param(20.0, "pM", (5.0, 80.0), ASSUMPTION, "Damage signal at half-maximal activation.", bounds=(1e-12, INF))
    damage_hill: float = param(2.0, "1", (1.0, 4.0), ASSUMPTION + " (no microgliosis at 30–60 d, clear by 80–100 d: Hall et al. 1998 Glia 23:249)",
                               "Hill coefficient of the microglial response to the damage signal.", bounds=(0.1, 10.0))
    switch_rate_per_h: float = param(0.05, "1/h", (0.005, 0.5), ASSUMPTION,
                                     "Maximal rate of switching between pro-inflammatory and protective states.")
    resolution_rate_per_h: float = param(0.02, "1/h", (0.002, 0.1), ASSUMPTION,
                                         "Rate of returning to surveillance when the damage signal is absent.")
    k_il10_pm: float = param(100.0, "pM", (10.0, 1000.0), ASSUMPTION + " (IL-10R affinity tens of pM)",
                             "IL-10 at half-maximal push toward the protective state.", bounds=(1e-12, INF))
    k_tgfb_pm: float = param(20.0, "pM", (2.0, 200.0), ASSUMPTION, "Active TGF-β at half-maximal push toward the protective state.",
                             bounds=(1e-12, INF))
    k_tnf_pm: float = param(50.0, "pM", (5.0, 500.0), ASSUMPTION, "TNF-α at half-maximal autocrine push toward the pro-inflammatory state.",
                            bounds=(1e-12, INF))
    treg_contact_weight: float = param(
        1.0, "1", (0.0, 3.0), "Beers et al. 2011 Brain 134:1293, doi:10.1093/brain/awr074 (Tregs maintain protective microglia; magnitude assumption)",
        "Push toward protection from one Treg within contact range (same scale as a saturating IL-10 signal).")
    contact_radius_um: float = param(30.0, "µm", (10.0, 60.0), ASSUMPTION, "Distance within which Tregs and MSCs touch microglia.",
                                     bounds=(0.0, 1e4))
    speed_um_per_h: float = param(5.0, "µm/h", (1.0, 40.0),
                                  "Amadio et al. 2013 BMC Neurosci 14:121 (40 µm/h in vitro, upper bound; in vivo a few µm/h)",
                                  "Chemotactic speed up a saturating damage gradient.")
    random_motility_um2_per_h: float = param(10.0, "µm²/h", (0.0, 100.0), ASSUMPTION, "Random-walk motility of microglial somata.")
    proliferation_rate_per_day: float = param(
        0.05, "1/d", (0.01, 0.1), "Gowing et al. 2008 J Neurosci 28:10234 (expansion by proliferation); rate assumption",
        "Maximal division rate of activated microglia under damage signal, before crowding.")
    apoptosis_rate_per_day: float = param(0.01, "1/d", (0.0, 0.05), "Askew et al. 2017 Cell Rep 18:391 (proliferation coupled to apoptosis)",
                                          "Death rate of activated microglia.")
    pro_tnf: float = param(0.5, "molecules/s/cell", (0.01, 10.0),
                           "Xue et al. 2015 Sci Signal 8:ra59 and LPS yields (1–100 molecules/s), 10–100× lower in disease (assumption)",
                           "TNF-α secretion of a pro-inflammatory microglial cell.")
    pro_il1b: float = param(0.2, "molecules/s/cell", (0.01, 5.0), ASSUMPTION + " (below TNF unless inflammasome active)",
                            "IL-1β secretion of a pro-inflammatory microglial cell.")
    pro_ros: float = param(1000.0, "molecules/s/cell", (100.0, 1e4), ASSUMPTION + " (NOX2 H2O2 release, chronic)",
                           "ROS (H2O2) release of a pro-inflammatory microglial cell.")
    pro_glutamate: float = param(1e5, "molecules/s/cell", (0.0, 1e6), ASSUMPTION + " (system xc⁻ release)",
                                 "Glutamate release of a pro-inflammatory microglial cell.")
    protective_il10: float = param(0.05, "molecules/s/cell", (0.005, 5.0), "IL-2 basal rate as proxy (" + TKACH_2014 + ")",
                                   "IL-10 secretion of a protective microglial cell.")
    protective_tgfb: float = param(0.2, "molecules/s/cell", (0.02, 2.0), ASSUMPTION, "Active TGF-β secretion of a protective microglial cell.")
    protective_bdnf: float = param(0.002, "molecules/s/cell", (2e-4, 0.02), ASSUMPTION + " (free tissue BDNF unknown; set near its EC50)",
                                   "BDNF secretion of a protective microglial cell.")
    protective_gdnf: float = param(2e-6, "molecules/s/cell", (1e-7, 1e-4), ASSUMPTION + " (free tissue GDNF unknown; set near its fM EC50)",
                                   "GDNF secretion of a protective microglial cell.")
    mixed_output: float = param(
        0.2, "1", (0.0, 0.5), "Chiu et al. 2013 Cell Rep 4:385, doi:10.1016/j.celrep.2013.06.018 (toxic and protective programmes at once)",
        "Fraction of the other state's secretion each activated state also makes.", bounds=(0.0, 1.0))


@dataclass
class TregConfig:
    """Regulatory T cells: infiltration from blood, random walk, IL-10/TGF-β, contact with microglia."""

    max_infiltration_per_mm2_per_day: float = param(
        10.0, "1/mm²/d", (1.0, 50.0), ALEXIANU_2001 + " (T cells absent ≤80 d, present by 120 d; a few to tens per section)",
        "Infiltration rate at full barrier leak, saturating chemokine and reference systemic Treg level.")
    k_chemokine_pm: float = param(10.0, "pM", (1.0, 100.0), ASSUMPTION, "Mean damage signal at half-maximal recruitment.",
                                  bounds=(1e-12, INF))
    residence_days: float = param(3.0, "d", (1.0, 10.0), ASSUMPTION, "Mean residence time of a Treg in the patch.",
                                  bounds=(0.01, 1e5))
    motility_um2_per_h: float = param(
        2e4, "µm²/h", (5e3, 1e5), "Kawakami et al. 2005 J Exp Med 201:1805 (5–10 µm/min, persistent walks)",
        "Random-walk motility of infiltrated T cells.")
    il10: float = param(5.0, "molecules/s/cell", (1.0, 50.0), TKACH_2014 + " (IL-2 basal 7.5 molecules/s as proxy)", "IL-10 secretion of a Treg.")
    tgfb: float = param(1.0, "molecules/s/cell", (0.1, 10.0), ASSUMPTION, "Active TGF-β secretion of a Treg.")


@dataclass
class FieldsConfig:
    """Diffusion coefficients, half-lives and baselines of the nine diffusing fields (tissue values)."""

    tnf_diffusion_um2_s: float = param(46.0, "µm²/s", (25.0, 50.0), "Stokes–Einstein for the 5.6 nm TNF trimer with tortuosity 1.6 (" + SYKOVA_2008 + ")",
                                       "Effective diffusion of TNF-α.")
    tnf_half_life_h: float = param(0.33, "h", (0.2, 2.0), "Ferraiolo et al. 1988 Drug Metab Dispos 16:270 (18.5–19.2 min)",
                                   "Half-life of TNF-α.", bounds=(1e-6, INF))
    il1b_diffusion_um2_s: float = param(40.0, "µm²/s", (25.0, 50.0), STROH_2003 + " (cytokine-size proteins 25–45 µm²/s)",
                                        "Effective diffusion of IL-1β.")
    il1b_half_life_h: float = param(0.33, "h", (0.05, 0.7), "Kudo et al. 1990 Cancer Res 50:5751 (terminal 19 min)",
                                    "Half-life of IL-1β.", bounds=(1e-6, INF))
    il10_diffusion_um2_s: float = param(40.0, "µm²/s", (25.0, 50.0), STROH_2003, "Effective diffusion of IL-10.")
    il10_half_life_h: float = param(3.0, "h", (0.5, 4.5), "Huhn et al. 1996 Blood 87:699 (2.3–3.7 h i.v.)", "Half-life of IL-10.",
                                    bounds=(1e-6, INF))
    tgfb_diffusion_um2_s: float = param(40.0, "µm²/s", (25.0, 50.0), STROH_2003, "Effective diffusion of active TGF-β.")
    tgfb_half_life_h: float = param(0.05, "h", (0.03, 1.6), "Coffey et al. 1987 J Clin Invest 80:750 (active TGF-β1 2–3 min)",
                                    "Half-life of active TGF-β.", bounds=(1e-6, INF))
    bdnf_diffusion_um2_s: float = param(27.5, "µm²/s", (20.0, 45.0), STROH_2003 + " (NGF 27.5 µm²/s)", "Effective diffusion of BDNF.")
    bdnf_half_life_h: float = param(1.0, "h", (0.1, 12.0), "Poduslo & Curran 1996 Mol Brain Res 36:280 (fast plasma washout); tissue value assumption",
                                    "Half-life of BDNF.", bounds=(1e-6, INF))
    gdnf_diffusion_um2_s: float = param(27.5, "µm²/s", (20.0, 45.0), STROH_2003, "Effective diffusion of GDNF.")
    gdnf_half_life_h: float = param(24.0, "h", (6.0, 72.0), "Neuropharmacology 2010 58:1114, doi:10.1016/j.neuropharm.2010.02.002 (tissue t½ ≈ 1–2 d)",
                                    "Half-life of GDNF.", bounds=(1e-6, INF))
    ros_diffusion_um2_s: float = param(2500.0, "µm²/s", (1400.0, 2500.0), "Redox Biol 2022 (PMC8804256): extracellular H2O2 D* 2 500 µm²/s",
                                       "Effective diffusion of ROS (H2O2).")
    ros_half_life_h: float = param(6.1e-4, "h", (3e-4, 3e-3), "Redox Biol 2022 (PMC8804256): t½ 2.2 s", "Half-life of ROS (H2O2).",
                                   bounds=(1e-9, INF))
    glutamate_diffusion_um2_s: float = param(320.0, "µm²/s", (200.0, 400.0), "Zheng, Scimemi & Rusakov 2008 Biophys J (0.32 µm²/ms)",
                                             "Effective diffusion of glutamate.")
    glutamate_half_life_h: float = param(2.8e-6, "h", (1e-6, 1e-5), "Diamond & Jahr 1997; Bergles & Jahr 1997 (≈10 ms transporter clearance)",
                                         "Uptake half-life of glutamate with intact transporters.", bounds=(1e-12, INF))
    glutamate_ambient_um: float = param(0.5, "µM", (0.025, 5.0),
                                        "Featherstone & Shippy 2008 Neuroscientist 14:171 (0.5–5 µM); Herman & Jahr 2007 (25 nM)",
                                        "Healthy ambient glutamate, maintained by uniform release against uptake.")
    damage_diffusion_um2_s: float = param(50.0, "µm²/s", (40.0, 70.0), "Stokes–Einstein for 8–9 kDa chemokines (r_h 1.8–2 nm, tortuosity 1.6)",
                                          "Effective diffusion of the damage/chemokine signal.")
    damage_half_life_h: float = param(6.0, "h", (1.0, 24.0), ASSUMPTION, "Half-life of the damage/chemokine signal.", bounds=(1e-6, INF))


# --------------------------------------------------------------------------- MSCs
@dataclass
class MSCPathways:
    """Switches for each route by which IV MSCs can act (knock-out experiments)."""

    homing: bool = switch(True, "Circulating MSCs can enter the tissue patch.")
    local_paracrine: bool = switch(True, "MSCs in the tissue secrete TGF-β, BDNF, GDNF and calm nearby microglia.")
    exosome: bool = switch(True, "MSC vesicles raise ROS scavenging and glutamate uptake: blood-borne ones behind a leaky barrier, "
                                 "and locally around MSCs in the tissue.")
    systemic_treg: bool = switch(True, "MSCs in lung/blood raise the systemic Treg level.")
    microglia_polarization: bool = switch(True, "MSC-licensed host myeloid signals (PGE2/TSG-6 → IL-10) push microglia to protection.")


@dataclass
class MSCConfig:
    """IV MSC pharmacokinetics, homing, in-tissue behaviour and systemic effects."""

    packets_per_infusion: int = setting(
        400, "Number of Mesa agents an infusion is split into while outside the tissue (each stands for dose/packets cells).",
        bounds=(1, 100000))
    first_pass_lung_fraction: float = param(
        0.95, "1", (0.8, 0.99), TOMA_2009 + " (92 ± 7 % first-pass arrest); Fischer et al. 2009 Stem Cells Dev, doi:10.1089/scd.2008.0253",
        "Fraction of an infusion arrested in the lung on first pass.", bounds=(0.0, 1.0))
    lung_half_life_h: float = param(24.0, "h", (12.0, 48.0), LEE_2009 + "; " + TOMA_2009 + " (derived t½ ≈ 25 h)",
                                    "Half-life of lung-trapped MSCs (death and phagocytosis).", bounds=(1e-3, INF))
    lung_release_fraction: float = param(0.05, "1", (0.0, 0.2), "Wang H et al. 2016 Sci Rep 6:22293 (arrest/release model; value assumption)",
                                         "Fraction of lung losses that re-enter the blood rather than being cleared.", bounds=(0.0, 1.0))
    blood_half_life_h: float = param(0.1, "h", (0.02, 0.5), "Shim et al. 2015 Stem Cells Dev 24:1124 (IV cells leave blood within the first pass)",
                                     "Half-life of free circulating MSCs.", bounds=(1e-4, INF))
    blood_exit_to_lung_fraction: float = param(0.8, "1", (0.5, 0.95), TOMA_2009 + " (re-arrest in precapillaries)",
                                               "Fraction of cells leaving the blood that re-lodge in the lung (the rest are cleared).",
                                               bounds=(0.0, 1.0))
    homing_fraction_to_cord: float = param(
        1e-4, "1", (0.0, 1e-3), LEE_2009 + " (≤ 0.05 % of a dose outside lung); " + UCCELLI_2012 + " (scant CNS homing)",
        "Fraction of blood-leaving cells that would home to the whole spinal cord at full barrier leak and damage.", bounds=(0.0, 1.0))
    k_homing_damage_pm: float = param(5.0, "pM", (0.5, 50.0), ASSUMPTION, "Mean damage signal at half-maximal homing drive.",
                                      bounds=(1e-12, INF))
    tissue_half_life_h: float = param(24.0, "h", (8.0, 72.0), EGGENHOFER_2012 + " (no viable MSCs at 72 h)", "Half-life of MSCs in tissue.",
                                      bounds=(1e-3, INF))
    speed_um_per_h: float = param(10.0, "µm/h", (0.0, 40.0), ASSUMPTION, "Chemotactic speed of MSCs in tissue up the damage gradient.")
    tgfb: float = param(0.03, "molecules/s/cell", (0.003, 0.3), "ng per 10⁶ cells per day, mostly latent (assumption: 10 % active); Siegel et al. 2013 BMC Med 11:146",
                        "Active TGF-β secretion of a tissue MSC.")
    bdnf: float = param(0.026, "molecules/s/cell", (0.005, 0.1), "Gu et al. 2012 Neurol Res, doi:10.1179/1743132811Y.0000000068 (≈100 pg/10⁶ cells/day)",
                        "BDNF secretion of a tissue MSC.")
    gdnf: float = param(0.02, "molecules/s/cell", (0.002, 0.1), "Gu et al. 2012 Neurol Res (GDNF 70 pg/mL conditioned medium)",
                        "GDNF secretion of a tissue MSC.")
    il10: float = param(0.0, "molecules/s/cell", (0.0, 0.5), "Melief et al. 2013 Haematologica 98:888, doi:10.3324/haematol.2012.078055 (MSCs make no IL-10)",
                        "Direct IL-10 secretion of a tissue MSC (host cells make IL-10; see the polarization pathway).")
    paracrine_weight: float = param(1.0, "1", (0.0, 3.0), "Németh et al. 2009 Nat Med 15:42, doi:10.1038/nm.1905 (PGE2 → macrophage IL-10; magnitude assumption)",
                                    "Push toward protection for microglia within contact range of a tissue MSC.")
    treg_boost_max: float = param(0.47, "relative", (0.0, 0.6), HENKEL_2013 + " (controls have ≈1.47× the Tregs of rapid progressors: upper bound)",
                                  "Largest relative rise of the systemic Treg level MSC exposure can cause.", bounds=(0.0, 10.0))
    treg_boost_ec50: float = param(1e7, "cells·d/kg", (1e6, 1e8), ASSUMPTION, "Remembered MSC exposure giving half the largest Treg rise.",
                                   bounds=(1e-9, INF))
    treg_memory_days: float = param(14.0, "d", (3.0, 60.0), ASSUMPTION + " (rise in ≈1 d, decay over days–weeks: Perico et al. 2011 CJASN)",
                                    "Decay time of the MSC-induced Treg rise.", bounds=(1e-3, INF))
    ev_ros_effect_max: float = param(1.0, "1", (0.0, 3.0), "Bonafede et al. 2016 Exp Cell Res 340:150 (vesicles protect NSC-34 from H2O2; magnitude assumption)",
                                     "Largest relative rise in ROS scavenging from MSC vesicles crossing a fully leaky barrier.")
    ev_glutamate_effect_max: float = param(0.5, "1", (0.0, 2.0), UCCELLI_2012 + " (IV MSCs reversed raised glutamate release; magnitude assumption)",
                                           "Largest relative rise in glutamate uptake from MSC vesicles crossing a fully leaky barrier.")
    ev_ec50: float = param(1e7, "cells/kg", (1e6, 1e8), ASSUMPTION, "Lung/blood MSC burden giving half the largest vesicle effect.",
                           bounds=(1e-9, INF))
    local_vesicle_effect: float = param(
        1.0, "1", (0.0, 5.0), "Bonafede et al. 2020 Int J Mol Sci 21:3651, doi:10.3390/ijms21103651 (vesicles home to lesions; magnitude assumption)",
        "Relative rise in ROS scavenging and glutamate uptake in a voxel holding one tissue MSC.")
    polarization_weight: float = param(1.0, "1", (0.0, 3.0), "Németh et al. 2009 Nat Med 15:42; de Witte et al. 2018 Stem Cells 36:602 (magnitude assumption)",
                                       "Push toward protection on all microglia from MSC-licensed host myeloid signals at full barrier leak.")
    polarization_ec50: float = param(1e7, "cells·d/kg", (1e6, 1e8), ASSUMPTION, "Remembered MSC exposure giving half the largest polarization push.",
                                     bounds=(1e-9, INF))
    polarization_memory_days: float = param(3.0, "d", (1.0, 14.0), ASSUMPTION + " (monocytes that engulfed MSCs leave the lung within a day)",
                                            "Decay time of the myeloid polarization signal.", bounds=(1e-3, INF))
    pathways: MSCPathways = field(default_factory=MSCPathways)


# --------------------------------------------------------------------------- treatment
@dataclass
class TreatmentConfig:
    """The IV MSC course: dose, first infusion day, number of infusions, interval."""

    name: str = setting("iv_msc", "Name of the treatment preset.")
    enabled: bool = switch(True, "Simulate a treated arm next to the control arm.")
    dose_cells_per_kg: float = param(
        4e7, "cells/kg", (1e6, 1e8), UCCELLI_2012 + " (10⁶ cells per ≈25 g SOD1 mouse); human IV trials use 1–3×10⁶/kg (Moll et al. 2012 Stem Cells 30:1565)",
        "Cells per kg of body weight per infusion.", bounds=(0.0, 1e10))
    start_day: float = param(90.0, "d", None, UCCELLI_2012 + " (symptomatic stage)", "Day of the first infusion on the preset's clock.",
                             bounds=(0.0, 1e5))
    n_infusions: int = param(1, "1", (1, 6), "ALSUMMIT protocol, Trials 2022 23:415 (2 doses 26 d apart, boosters)", "Number of infusions.",
                             bounds=(0, 1000))
    interval_days: float = param(30.0, "d", (7.0, 120.0), "ALSUMMIT protocol, Trials 2022 23:415", "Days between infusions.",
                                 bounds=(0.0, 1e5))


@dataclass
class RunOptions:
    """How a run is executed (not part of the model: excluded from the config hash)."""

    cache_dir: str = setting("multirun/.cache", "Index of finished sweep jobs, so re-running a sweep skips them ('' disables).")
    fail_on_seed: int = setting(-1, "Testing aid: a sweep job with this seed fails on purpose (-1: never).", bounds=(-1, 2**63 - 1))


@dataclass
class CalibrationOptions:
    """Fitting the untreated course to natural-history bands (not part of the model: excluded from the config hash)."""

    enabled: bool = switch(False, "Run a calibration trial (a cohort of control arms scored against the targets) instead of a paired run.")
    cohort_size: int = setting(12, "Virtual individuals (seeds) per calibration trial.", bounds=(2, 100_000))
    first_seed: int = setting(1000, "Seeds first_seed … first_seed + cohort_size − 1 form the fitting cohort.", bounds=(0, 2**62))
    individuals: str = setting(
        "random", "How the cohort's individual multipliers are chosen: random (each seed draws its own) or stratified (a "
        "Latin hypercube over the preset's lognormal spreads, one stratum per individual: the cohort's spread matches the "
        "population's, so a fit is not pulled toward a chance-fast or chance-slow sample).")
    targets_file: str = setting("experiments/calibration/targets.yaml", "Natural-history targets with bands and citations.")
    report_dir: str = setting("experiments/calibration", "Where the fit report of a calibration sweep is written.")
    workers: int = setting(0, "Processes per trial (0: all cores).", bounds=(0, 4096))


@dataclass
class SimConfig:
    """Root configuration of one paired simulation (control and, if enabled, treated arm)."""

    seed: int = setting(0, "Seed of every random stream; same seed + config ⇒ identical files.", bounds=(0, 2**63 - 1))
    engine: str = setting("vectorized", "Rule engine: 'vectorized' (NumPy arrays) or 'agents' (per-agent Mesa step()).")
    domain: DomainConfig = field(default_factory=DomainConfig)
    disease: DiseaseConfig = field(default_factory=DiseaseConfig)
    neurons: NeuronConfig = field(default_factory=NeuronConfig)
    microglia: MicrogliaConfig = field(default_factory=MicrogliaConfig)
    tregs: TregConfig = field(default_factory=TregConfig)
    fields: FieldsConfig = field(default_factory=FieldsConfig)
    msc: MSCConfig = field(default_factory=MSCConfig)
    treatment: TreatmentConfig = field(default_factory=TreatmentConfig)
    run: RunOptions = field(default_factory=RunOptions)
    calibration: CalibrationOptions = field(default_factory=CalibrationOptions)


# --------------------------------------------------------------------------- validation
ENGINES = ("vectorized", "agents")
SPECIES = ("mouse", "human")
COHORT_DRAWS = ("random", "stratified")
BYTES_PER_VOXEL = 8 * 9 * 8  # nine float64 fields and ~8 working copies (spectra, sources, factors)


def iter_params(obj: Any, prefix: str = ""):
    """Yield (dotted key, dataclass field, value) for every leaf of a config dataclass tree."""
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        key = f"{prefix}{f.name}"
        if dataclasses.is_dataclass(value):
            yield from iter_params(value, key + ".")
        else:
            yield key, f, value


def _fmt(x: float) -> str:
    return "inf" if x == INF else str(x) if isinstance(x, int) else f"{x:g}"


def _check_bounds(cfg: SimConfig) -> None:
    for key, f, value in iter_params(cfg):
        bounds = f.metadata.get("bounds")
        if bounds is None:
            continue
        lo, hi = bounds
        whole = isinstance(f.default, int) and not isinstance(f.default, bool)
        kind = "an integer" if whole else "a finite number"
        # library callers build configs in Python: a text, list or true/false here is refused, not compared
        if isinstance(value, bool) or not isinstance(value, numbers.Integral if whole else numbers.Real):
            raise ConfigError(f"{key}={value!r} is invalid: expected {kind} in [{_fmt(lo)}, {_fmt(hi)}]")
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ConfigError(f"{key}={value!r} is invalid: allowed range is {kind} in [{_fmt(lo)}, {_fmt(hi)}]")


def available_memory_bytes() -> int:
    """Physical memory of this machine (the most a run could ever use)."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError, AttributeError):  # pragma: no cover - non-POSIX
        return 8 * 2**30


def grid_shape(domain: DomainConfig) -> tuple[int, int]:
    """(ny, nx) voxels of the patch."""
    return max(2, round(domain.height_um / domain.voxel_um)), max(2, round(domain.width_um / domain.voxel_um))


def _check_choice(key: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ConfigError(f"{key}={value!r} is invalid: allowed values are {', '.join(allowed)}")


def validate(cfg: SimConfig) -> SimConfig:
    """Check hard bounds and cross-field rules; raise ConfigError (one line) on the first problem."""
    _check_bounds(cfg)
    d, t = cfg.disease, cfg.treatment
    _check_choice("engine", cfg.engine, ENGINES)
    _check_choice("calibration.individuals", cfg.calibration.individuals, COHORT_DRAWS)
    _check_choice("disease.species", d.species, SPECIES)
    if d.horizon_days <= d.start_day:
        raise ConfigError(f"disease.horizon_days={d.horizon_days:g} is invalid: allowed range is > disease.start_day ({d.start_day:g})")
    if d.ff_fraction + d.fr_fraction > 1.0:
        raise ConfigError(f"disease.fr_fraction={d.fr_fraction:g} is invalid: allowed range is [0, {1 - d.ff_fraction:g}] (ff + fr ≤ 1)")
    if d.end_stage_functional_index >= d.onset_functional_index:
        raise ConfigError(f"disease.end_stage_functional_index={d.end_stage_functional_index:g} is invalid: "
                          f"allowed range is < disease.onset_functional_index ({d.onset_functional_index:g})")
    ny, nx = grid_shape(cfg.domain)
    need = ny * nx * BYTES_PER_VOXEL
    limit = available_memory_bytes() // 4
    if need > limit:
        raise ConfigError(
            f"domain.width_um={cfg.domain.width_um:g} is invalid: the grid {ny}×{nx} voxels needs ~{need / 2**30:.1f} GiB; "
            f"allowed is at most {limit // BYTES_PER_VOXEL:.0f} voxels (a quarter of this machine's memory)")
    if t.enabled:
        if t.n_infusions == 0 and t.dose_cells_per_kg > 0:
            raise ConfigError(f"treatment.n_infusions=0 is invalid with treatment.dose_cells_per_kg={t.dose_cells_per_kg:g}: allowed range is ≥ 1 when a dose is given")
        if not d.start_day <= t.start_day < d.horizon_days:
            raise ConfigError(
                f"treatment.start_day={t.start_day:g} is invalid: allowed range is [{d.start_day:g}, {d.horizon_days:g}) (the simulated days of disease={d.name})")
        if t.n_infusions > 1 and t.interval_days <= 0:
            raise ConfigError(f"treatment.interval_days={t.interval_days:g} is invalid: allowed range is > 0 when treatment.n_infusions > 1")
        if t.n_infusions * d.body_weight_kg * t.dose_cells_per_kg > 1e12:
            raise ConfigError(f"treatment.dose_cells_per_kg={t.dose_cells_per_kg:g} is invalid: the course would exceed 1e12 cells in total")
    return cfg
