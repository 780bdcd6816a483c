"""Structured configuration: one dataclass per part of the model, every parameter documented.

Hydra composes YAML presets (`configs/`) on top of these dataclasses; `validate` checks
hard bounds and cross-field rules and raises `ConfigError` with one line naming the key and the
allowed range. `sim.docs` renders the same metadata as `docs/parameters.md`.

Sources are cited as papers (authors, year, journal, DOI). *assumption* marks a value chosen by
judgement where no measurement exists; such values belong in sensitivity analyses.
"""
from __future__ import annotations

import dataclasses
import itertools
import math
import numbers
from dataclasses import dataclass, field
from typing import Any

from sim import resources
from sim.params import ASSUMPTION, param, setting, switch

INF = math.inf


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
        'assumption (2-D density conversion n2D = n3D·t with t = 20 µm, a typical section thickness of calibration counts; Keller et al. 2018 give 3-D densities only, not the conversion)',
        "Thickness of the slab the 2-D patch stands for; converts secretion into concentration.",
        bounds=(1.0, 1000.0))
    ecs_fraction: float = param(
        0.2, "1", (0.12, 0.24), 'Syková & Nicholson 2008 Physiol Rev 88:1277, doi:10.1152/physrev.00027.2007: ECS volume fraction ≈ 0.20 in normal brain (TMA+ real-time iontophoresis); range 0.12–0.24 from osmotic/slice data',
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
        0.025, "kg", (0.018, 100.0), "assumption (adult SOD1-G93A mouse ≈25 g; used to convert Uccelli's 10⁶ cells/mouse to cells/kg; human 70 kg reference adult)",
        "Body weight; converts an IV dose in cells/kg into cells per animal.", bounds=(1e-3, 500.0))
    start_day: float = setting(30.0, "First simulated day on the preset's clock (negative: before the clock's day 0, e.g. a prodrome).", unit="d", bounds=(-1e5, 1e5))
    horizon_days: float = setting(160.0, "Last simulated day on the preset's clock.", unit="d", bounds=(1.0, 1e5))
    dt_hours: float = setting(1.0, "Agent time step (fields are exact for any step).", unit="h", bounds=(0.05, 24.0))
    # Intrinsic (cell-autonomous, mutant-protein) stress: a(t) = a_ref·((t + offset)/t_ref)^m.
    drive_per_day: float = param(
        0.0185, "1/d", (0.0003, 0.04), 'assumption (fitted per preset to natural-history bands, e.g. a control T50 in 95–125 d: Hall, Oostveen & Gurney 1998 Glia 23:249; the lower end widened from 0.0005 when the human fit, with the calibrated immune share, went below it)',
        "Intrinsic damage rate of a median-vulnerability motor neuron at the reference day.")
    drive_ref_day: float = param(100.0, "d", (60.0, 1000.0), 'assumption (reference day of the intrinsic-drive power law; a scale choice)', "Reference day t_ref of the intrinsic drive.",
                                 bounds=(1.0, 1e5))
    drive_exponent: float = param(
        3.0, "1", (0.3, 5.0), 'assumption (accelerating, age-dependent toxicity; Kong & Xu 1998 J Neurosci 18:3241: most MNs die late; human sporadic ALS: a slowly growing drive, m < 1.5, is needed for a 2–3-year course after onset)',
        "Power m of the intrinsic drive's growth with time.", bounds=(0.0, 20.0))
    drive_offset_days: float = param(0.0, "d", (0.0, 2000.0), 'assumption (mouse 0: the clock is age; human: years of cell-autonomous stress before onset, while motor-unit loss is detectable only months before weakness: Aggarwal & Nicholson 2002 JNNP 73:199; Ebersbach et al. 2023 Sci Rep 13:3981)',
                                     "Disease time already elapsed at day 0 of the clock (human: prodrome before onset).",
                                     bounds=(0.0, 1e5))
    vulnerability_sd_log: float = param(
        0.8, "1", (0.4, 1.2), 'assumption (spread of MN death times; Alexianu et al. 2001 Neurology 57:1282, doi:10.1212/WNL.57.7.1282: MN loss none at 40 d, minimal at 80 d, severe at 120 d)',
        "SD of log vulnerability across motor neurons (lognormal, median 1).", bounds=(0.0, 5.0))
    ff_fraction: float = param(0.4, "1", (0.3, 0.5), 'assumption (motor-unit type mix of hind-limb pools)',
                               "Fraction of α-MNs of fast-fatigable (FF) units.", bounds=(0.0, 1.0))
    fr_fraction: float = param(0.3, "1", (0.2, 0.4), 'assumption (motor-unit type mix of hind-limb pools)',
                               "Fraction of α-MNs of fast-resistant (FR) units; the rest are slow (S).", bounds=(0.0, 1.0))
    ff_vulnerability: float = param(
        1.3, "1", (1.0, 2.0), 'assumption for magnitude; ordering FF > FR > S from Pun et al. 2006 Nat Neurosci 9:408, doi:10.1038/nn1653 (FF axons affected long before symptoms, FR at onset, S resistant)',
        "Vulnerability multiplier of FF motor neurons.")
    fr_vulnerability: float = param(1.0, "1", (0.8, 1.5), 'assumption for magnitude; ordering FF > FR > S from Pun et al. 2006 Nat Neurosci 9:408, doi:10.1038/nn1653 (FF axons affected long before symptoms, FR at onset, S resistant)',
                                    "Vulnerability multiplier of FR motor neurons.")
    s_vulnerability: float = param(0.7, "1", (0.4, 1.0), 'assumption for magnitude; ordering FF > FR > S from Pun et al. 2006 Nat Neurosci 9:408, doi:10.1038/nn1653 (FF axons affected long before symptoms, FR at onset, S resistant)',
                                   "Vulnerability multiplier of slow (S) motor neurons.")
    eaat2_loss_max: float = param(
        0.6, "1", (0.3, 0.9), 'assumption (mouse value 0.6) anchored by Rothstein et al. 1995 Ann Neurol 38:73: GLT-1 protein −71 % in ALS motor cortex (−90 % in ~¼ of cases), also severe in spinal cord (human post-mortem)',
        "Maximal fractional loss of astroglial glutamate uptake (EAAT2/GLT-1).", bounds=(0.0, 0.99))
    eaat2_loss_mid_day: float = param(100.0, "d", (70.0, 1000.0),
                                      'assumption (timing, 100 d); Howland et al. 2002 PNAS 99:1604: focal EAAT2/GLT-1 loss in ventral horn before onset in SOD1-G93A rats (not verified here)',
                                      "Day at which half of the maximal EAAT2 loss is reached.")
    eaat2_loss_width_days: float = param(12.0, "d", (5.0, 200.0), 'assumption',
                                         "Width (logistic scale) of the EAAT2 decline.", bounds=(0.1, 1e4))
    bscb_leak_baseline: float = param(0.05, "1", (0.0, 0.2), 'assumption',
                                      "Relative blood–spinal-cord-barrier permeability of healthy tissue.", bounds=(0.0, 1.0))
    bscb_leak_mid_day: float = param(
        75.0, "d", (50.0, 1000.0), 'assumption (midpoint); Zhong et al. 2008 Nat Neurosci 11:420, doi:10.1038/nn2073: ZO-1, occludin, claudin-5 reduced in spinal microvessels of 2-month SOD1-G93A mice; blood flow reduced at 8 weeks',
        "Day at which the barrier leak reaches half its maximum.")
    bscb_leak_width_days: float = param(10.0, "d", (5.0, 200.0), 'assumption', "Width (logistic scale) of barrier opening.",
                                        bounds=(0.1, 1e4))
    blood_product_clearance_days: float = param(
        14.0, "d", (2.0, 90.0), ASSUMPTION + " (extravasated IgG and fibrin are cleared over days, haemosiderin persists for months; "
        "no clearance time of blood products from the SOD1 cord was found)",
        "Time constant with which blood-derived products in the cord follow the barrier leak (sim/environment.py).",
        bounds=(1e-3, 1e5))
    treg_systemic_baseline: float = param(
        1.0, "relative", (0.6, 1.2), 'derived: 1 = reference individual; range 0.6–1.2 from Henkel et al. 2013 EMBO Mol Med 5:64, doi:10.1002/emmm.201201544: blood CD4+CD25high Treg 0.573 % (rapid) / 0.825 % (slow) = 0.69',
        "Systemic Treg level of this individual relative to the preset's reference (1 = reference).", bounds=(0.0, 10.0))
    cord_volume_mm3: float = param(
        70.0, "mm³", (40.0, 40000.0), 'assumption (mouse spinal cord ≈ 4 cm × ≈ 2 mm², 40–120 mm³; human ≈ 45 cm × ≈ 0.5 cm²)',
        "Spinal-cord volume that homing MSCs would spread over; dilutes homing into one patch.", bounds=(1e-3, 1e7))
    # Virtual cohort: each seed is one individual, drawn around the preset's reference individual.
    individual_drive_sd_log: float = param(
        0.0, "1", (0.0, 3.0), 'assumption (fitted to the spread of survival: mouse SD 7–13 d, Wooley et al. 2005 Muscle Nerve 32:43; human σ_log ≈ 1, Knibb et al. 2016 JNNP 87:1361, doi:10.1136/jnnp-2015-312908)',
        "Between-individual SD of log intrinsic drive (lognormal multiplier of drive_per_day, median 1): fast vs slow progressors.",
        bounds=(0.0, 5.0))
    individual_treg_sd_log: float = param(
        0.0, "1", (0.0, 0.5), 'assumption (between-patient spread; Henkel et al. 2013 EMBO Mol Med 5:64 report group means 0.57–0.85 % Tregs of leukocytes but the figure text gives no individual range)',
        "Between-individual SD of log systemic Treg level (lognormal multiplier of treg_systemic_baseline, median 1).",
        bounds=(0.0, 3.0))
    # Regional spread (sim/spread.py): the person as regions affected one after another.
    regions: int = param(
        1, "regions", (1, 4), 'assumption (model structure): Cedarbaum et al. 1999 J Neurol Sci 169:13 (ALSFRS-R four 12-point domains); Ravits & La Spada 2009 Neurology 73:805, doi:10.1212/WNL.0b013e3181b6bbbd (focal onset, contiguous spread); mouse 1',
        "Body regions of the individual, each one simulated patch; the person's indices are their means.", bounds=(1, 8))
    spread_delay_days: float = param(
        0.0, "d", (0.0, 720.0), 'assumption (fitted; involvement of further regions at predictable proportions of the disease course: Roche et al. 2012 Brain 135:847, doi:10.1093/brain/awr351)',
        "Lag of each further region's disease clock behind the previous one, for the reference individual "
        "(scaled by the individual's time scale, drive multiplier^(−1/(m+1))).", bounds=(0.0, 1e5))
    # Outcome definitions on the functional index (read-outs only: they never change the dynamics).
    onset_functional_index: float = param(
        0.9, "1", (0.8, 0.95), 'assumption (clinical signs once ~10 % of muscle drive is lost despite reinnervation)',
        "Clinical onset: first recorded day the functional index falls below this.", bounds=(0.0, 1.0))
    end_stage_functional_index: float = param(
        0.4, "1", (0.2, 0.6), 'assumption (end stage with 25–60 % of lumbar MNs left; natural-history band, low confidence)',
        "End stage (mouse: loss of righting reflex; human: death or permanent ventilation): first recorded day the "
        "functional index falls below this.", bounds=(0.0, 1.0))


# --------------------------------------------------------------------------- tissue biology
@dataclass
class NeuronConfig:
    """α-motor neurons: placement, damage, protection, death, reinnervation."""

    density_per_mm2: float = param(
        60.0, "1/mm²", (30.0, 150.0), 'assumption (≈30–60 large ventral-horn MNs per mm² from typical L4–L5 counts of 10–25 per hemisection; Bjugn 1993 Brain Res 627:25 gives whole-cord neuron totals, not MN areal density)',
        "Areal density of α-motor neurons (γ-MNs are spared and not modelled).", bounds=(0.1, 5000.0))
    w_tnf: float = param(
        0.05, "1", (0.0, 0.2), 'assumption (weak); direction from Gowing et al. 2006 J Neurosci 26:11397, doi:10.1523/JNEUROSCI.0602-06.2006: TNF-α knock-out did not change lifespan or MN loss in SOD1-G37R/G93A mice',
        "Largest relative amplification of the intrinsic damage rate by TNF-α.")
    k_tnf_pm: float = param(200.0, "pM", (20.0, 2000.0),
                            'assumption (≈10 ng/mL TNF trimer ≈ 200 pM, mid of the 1–100 ng/mL used in MN culture studies); Tortarolo et al. 2017 Mediators Inflamm 2017:2985051 (review: TNFR2 mediates TNF toxicity to MNs) gives no EC50',
                            "TNF-α at half-maximal damage.", bounds=(1e-9, INF))
    w_il1b: float = param(0.1, "1", (0.0, 0.4), 'assumption', "Largest relative amplification of the intrinsic damage rate by IL-1β.")
    k_il1b_pm: float = param(50.0, "pM", (5.0, 500.0), 'assumption', "IL-1β at half-maximal damage.", bounds=(1e-9, INF))
    w_ros: float = param(0.25, "1", (0.0, 1.0), 'assumption (NOX2-driven toxicity in the rapid phase: Beers et al. 2011 Brain 134:1293)',
                         "Largest relative amplification of the intrinsic damage rate by oxidative stress.")
    k_ros_nm: float = param(0.2, "nM", (0.02, 2.0), 'assumption (free extracellular H2O2 level unknown)',
                            "ROS (H2O2-equivalent) at half-maximal damage.", bounds=(1e-12, INF))
    w_glutamate: float = param(
        0.3, "1", (0.0, 1.2), 'assumption (magnitude); Rothstein et al. 1993 PNAS 90:6591, doi:10.1073/pnas.90.14.6591: chronic glutamate-uptake block kills MNs in organotypic spinal slices over weeks',
        "Largest relative amplification of the intrinsic damage rate by excess extracellular glutamate.")
    k_glutamate_um: float = param(
        5.0, "µM", (1.0, 20.0), 'assumption (5 µM excess glutamate); Carriedo et al. 1996 J Neurosci 16:4069: 24 h of 10 µM kainate or 100 µM PDC (uptake blocker) selectively injures MNs — agonist/inhibitor doses, not a glutamate EC50',
        "Excess glutamate (above the healthy ambient level) at half-maximal damage.", bounds=(1e-9, INF))
    glial_gain: float = param(
        8.123, "1", (0.5, 20.0), "derived: fitted jointly with the natural-history bands to the training manipulations "
        "(experiments/calibration/manipulations.csv: wild-type microglia, Beers et al. 2006 PNAS via Beers et al. 2008 PNAS "
        "105:15558 Fig 1; no T cells, Beers et al. 2008)",
        "Overall strength of glial toxicity: multiplies the inflammatory and excitotoxic amplification of the intrinsic damage rate.",
        bounds=(0.0, 1e3))
    w_blood: float = param(
        0.2, "1", (0.0, 1.0), ASSUMPTION + " (haemoglobin-derived products are neurotoxic: Zhong et al. 2008 Nat Neurosci 11:420; "
        "how much they add is not measured, and barrier leak and TDP-43 pathology do not co-localise in human cords)",
        "Largest relative amplification of the intrinsic damage rate by blood-derived products in a fully leaky cord.")
    k_bdnf_pm: float = param(1.0, "pM", (0.3, 3.0), 'Henderson et al. 1993 Nature 363:266, doi:10.1038/363266a0: picomolar BDNF prevents death of cultured embryonic rat spinal MNs; 1 pM ≈ 27 pg/mL dimer (EC50 20–40 pg/mL not verifiable from abstract)', "BDNF at half-maximal protection.",
                             bounds=(1e-12, INF))
    k_gdnf_pm: float = param(0.015, "pM", (0.005, 0.05), 'derived: k_bdnf 1 pM ÷ 75 = 0.013 pM (≈0.015); Henderson et al. 1994 Science 266:1062, doi:10.1126/science.7973664: GDNF 75-fold more potent than neurotrophins on purified embryonic rat MNs',
                             "GDNF at half-maximal protection.", bounds=(1e-12, INF))
    trophic_max_protection: float = param(0.5, "1", (0.2, 0.8), 'assumption',
                                          "Largest fraction of damage accumulation trophic support can prevent.", bounds=(0.0, 1.0))
    trophic_uptake_per_h: float = param(
        0.5, "1/h", (0.0, 5.0), 'assumption (receptor-mediated TrkB/RET internalisation)',
        "First-order uptake of BDNF and GDNF in a voxel holding one living motor neuron.")
    chemokine_release: float = param(
        0.1, "molecules/s/cell", (0.01, 1.0), 'assumption (CCL2-like release by stressed MNs)',
        "Largest chemokine/damage-signal release of a living neuron under stress.")
    stress_half_damage: float = param(
        0.3, "1", (0.1, 0.6), 'assumption (microgliosis only from ≈80 d: Alexianu et al. 2001 Neurology 57:1282)',
        "Accumulated damage (1 − health) at which a neuron's chemokine release is half its largest.", bounds=(1e-6, 1.0))
    stress_hill: float = param(3.0, "1", (1.0, 6.0), 'assumption', "Steepness of chemokine release against accumulated damage.",
                               bounds=(0.1, 20.0))
    death_burst_molecules: float = param(1e6, "molecules", (1e5, 1e7), 'assumption',
                                         "Damage signal (DAMPs) released when a motor neuron dies.")
    reinnervation_max: float = param(
        2.0, "1", (1.2, 5.0), 'assumption (×2); direction from Hegedus, Putman & Gordon 2007 Neurobiol Dis 28:154, doi:10.1016/j.nbd.2007.07.003: fast-twitch MU loss from 40 d with force falling in parallel (little compensatory sprouting)',
        "Largest motor-unit size a surviving neuron can reach by collateral reinnervation (relative to its own).", bounds=(1.0, 50.0))
    reinnervation_tau_days: float = param(14.0, "d", (7.0, 60.0), 'assumption',
                                          "Time constant of collateral sprouting toward the orphaned fibres.", bounds=(0.01, 1e5))
    denervation_health: float = param(
        0.5, "1", (0.2, 0.8), 'assumption (threshold 0.5); Fischer et al. 2004 Exp Neurol 185:232: NMJ denervation precedes ventral-root axon and MN soma loss in SOD1-G93A mice (not verified here)',
        "Health below which a neuron's axon starts to lose its muscle fibres (output falls linearly to 0 at death).",
        bounds=(1e-6, 1.0))


@dataclass
class MicrogliaConfig:
    """Microglia: surveillant → pro-inflammatory / protective, chemotaxis, proliferation, secretion."""

    density_per_mm2: float = param(170.0, "1/mm²", (120.0, 300.0), 'derived: 8 500 microglia/mm³ (mouse-brain average, Keller, Erö & Markram 2018 Front Neuroanat 12:83, doi:10.3389/fnana.2018.00083) × 0.02 mm slab = 170 /mm²',
                                   "Initial areal density of microglia.", bounds=(0.0, 1e5))
    max_fold: float = param(4.0, "1", (2.0, 6.0), "assumption (×4 within 'several-fold'); Hall, Oostveen & Gurney 1998 Glia 23:249: microglia several-fold ↑ at 100–120 d; Alexianu et al. 2001: microglia strongly increased at 120 d (qualitative)",
                            "Carrying capacity as a multiple of the initial density.", bounds=(1.0, 100.0))
    activation_rate_per_h: float = param(0.02, "1/h", (0.005, 0.5), 'assumption',
                                         "Maximal rate of leaving the surveillant state under damage signal.")
    k_damage_pm: float = param(20.0, "pM", (5.0, 80.0), 'assumption', "Damage signal at half-maximal activation.", bounds=(1e-12, INF))
    damage_hill: float = param(2.0, "1", (1.0, 4.0), 'assumption (no microgliosis at 30–60 d, clear by 80–100 d: Hall et al. 1998 Glia 23:249)',
                               "Hill coefficient of the microglial response to the damage signal.", bounds=(0.1, 10.0))
    switch_rate_per_h: float = param(0.05, "1/h", (0.005, 0.5), 'assumption',
                                     "Maximal rate of switching between pro-inflammatory and protective states.")
    resolution_rate_per_h: float = param(0.02, "1/h", (0.002, 0.1), 'assumption',
                                         "Rate of returning to surveillance when the damage signal is absent.")
    k_il10_pm: float = param(100.0, "pM", (10.0, 1000.0), 'assumption (IL-10R affinity tens of pM)',
                             "IL-10 at half-maximal push toward the protective state.", bounds=(1e-12, INF))
    k_tgfb_pm: float = param(20.0, "pM", (2.0, 200.0), 'assumption', "Active TGF-β at half-maximal push toward the protective state.",
                             bounds=(1e-12, INF))
    k_tnf_pm: float = param(50.0, "pM", (5.0, 500.0), 'assumption', "TNF-α at half-maximal autocrine push toward the pro-inflammatory state.",
                            bounds=(1e-12, INF))
    il10_weight: float = param(
        9.184, "1", (0.5, 20.0), "derived: fitted jointly with the natural-history bands to the training manipulations (no T cells: "
        "RAG2−/− survival −16 d, Beers et al. 2008 PNAS 105:15558: CD4 T cells set the trophic/cytotoxic balance of glia; Tregs "
        "sustain protective microglia through IL-4 and IL-10, Beers et al. 2011 Brain 134:1293)",
        "Weight of a saturating IL-10 signal (standing for the T-cell-derived signals) against the damage signal in the microglial "
        "balance; the pushes from Tregs in contact and from MSC pathways are counted in the same unit.",
        bounds=(0.0, 1e3))
    treg_contact_weight: float = param(
        1.0, "1", (0.0, 3.0), 'assumption (magnitude); Beers et al. 2011 Brain 134:1293, doi:10.1093/brain/awr074: Tregs rise in the slow phase, augmenting IL-4 and protective M2 microglia',
        "Push toward protection from one Treg within contact range, in units of a saturating IL-10 signal.")
    contact_radius_um: float = param(30.0, "µm", (10.0, 60.0), 'assumption', "Distance within which Tregs and MSCs touch microglia.",
                                     bounds=(0.0, 1e4))
    speed_um_per_h: float = param(5.0, "µm/h", (1.0, 40.0),
                                  'assumption (in-vivo soma speed a few µm/h, unmeasured here); upper bound Amadio et al. 2013 BMC Neurosci 14:121, doi:10.1186/1471-2202-14-121: 0.66 µm/min ≈ 40 µm/h in microchannels in vitro',
                                  "Chemotactic speed up a saturating damage gradient.")
    random_motility_um2_per_h: float = param(10.0, "µm²/h", (0.0, 100.0), 'assumption', "Random-walk motility of microglial somata.")
    proliferation_rate_per_day: float = param(
        0.05, "1/d", (0.01, 0.1), 'assumption (rate); Gowing et al. 2008 J Neurosci 28:10234: microglial expansion in SOD1-G93A cord is by proliferation; halving it did not change MN loss',
        "Maximal division rate of activated microglia under damage signal, before crowding.")
    apoptosis_rate_per_day: float = param(0.01, "1/d", (0.0, 0.05), 'assumption (0.01/d); Askew et al. 2017 Cell Rep 18:391, doi:10.1016/j.celrep.2016.12.041: homeostatic proliferation coupled to apoptosis, population renewed several times per lifetime (≈0.004–0.01/d)',
                                          "Death rate of activated microglia.")
    pro_tnf: float = param(0.5, "molecules/s/cell", (0.01, 10.0),
                           'assumption (0.5 molecules/s: LPS-culture order 1–100 molecules/s, lowered 10–100× for chronic disease); Xue et al. 2015 Sci Signal 8:ra59, doi:10.1126/scisignal.aaa2155: few high secretors make most TNF',
                           "TNF-α secretion of a pro-inflammatory microglial cell.")
    pro_il1b: float = param(0.2, "molecules/s/cell", (0.01, 5.0), 'assumption (below TNF unless inflammasome active)',
                            "IL-1β secretion of a pro-inflammatory microglial cell.")
    pro_ros: float = param(1000.0, "molecules/s/cell", (100.0, 1e4), 'assumption (NOX2 H2O2 release, chronic)',
                           "ROS (H2O2) release of a pro-inflammatory microglial cell.")
    pro_glutamate: float = param(1e5, "molecules/s/cell", (0.0, 1e6), 'assumption (system xc⁻ release)',
                                 "Glutamate release of a pro-inflammatory microglial cell.")
    protective_il10: float = param(
        0.00752, "molecules/s/cell", (0.0005, 0.05),
        "derived: fitted jointly with the glial gain and the IL-10 weight to the training manipulations (without T cells the "
        "microglia must lose their protective state: Beers et al. 2008 PNAS 105:15558); no per-cell IL-10 secretion rate of "
        "microglia was found (Tkach et al. 2014 eLife 3:e01944 measured IL-2, not IL-10)",
        "IL-10 secretion of a protective microglial cell.")
    protective_tgfb: float = param(0.2, "molecules/s/cell", (0.02, 2.0), 'assumption', "Active TGF-β secretion of a protective microglial cell.")
    protective_bdnf: float = param(0.002, "molecules/s/cell", (2e-4, 0.02), 'assumption (free tissue BDNF unknown; set near its EC50)',
                                   "BDNF secretion of a protective microglial cell.")
    protective_gdnf: float = param(2e-6, "molecules/s/cell", (1e-7, 1e-4), 'assumption (free tissue GDNF unknown; set near its fM EC50)',
                                   "GDNF secretion of a protective microglial cell.")
    mixed_output: float = param(
        0.2, "1", (0.0, 0.5), 'assumption (0.2); Chiu et al. 2013 Cell Rep 4:385, doi:10.1016/j.celrep.2013.06.018: SOD1-G93A microglia up-regulate neuroprotective and toxic factors concurrently (neither M1 nor M2)',
        "Fraction of the other state's secretion each activated state also makes.", bounds=(0.0, 1.0))


@dataclass
class TregConfig:
    """Regulatory T cells: infiltration from blood, random walk, IL-10/TGF-β, contact with microglia."""

    max_infiltration_per_mm2_per_day: float = param(
        10.0, "1/mm²/d", (1.0, 50.0), 'assumption (rate); Alexianu et al. 2001 Neurology 57:1282, doi:10.1212/WNL.57.7.1282: CD3+ T cells absent at 40 and 80 d, increased at 120 d in SOD1-G93A lumbar cord (qualitative)',
        "Infiltration rate at full barrier leak, saturating chemokine and reference systemic Treg level.")
    k_chemokine_pm: float = param(10.0, "pM", (1.0, 100.0), 'assumption', "Mean damage signal at half-maximal recruitment.",
                                  bounds=(1e-12, INF))
    residence_days: float = param(3.0, "d", (1.0, 10.0), 'assumption', "Mean residence time of a Treg in the patch.",
                                  bounds=(0.01, 1e5))
    motility_um2_per_h: float = param(
        2e4, "µm²/h", (5e3, 1e5), 'assumption (D = v²P/2 with v ≈ 5–10 µm/min and assumed persistence); Kawakami et al. 2005 J Exp Med 201:1805: 65 % of effector T cells move fast (max 25 µm/min), 35 % tethered (rat EAE CNS)',
        "Random-walk motility of infiltrated T cells.")
    il10: float = param(5.0, "molecules/s/cell", (1.0, 50.0), 'assumption (Treg IL-10 per-cell rate unmeasured; set near a T-cell IL-2 basal rate of a few molecules/s — Tkach et al. 2014 eLife 3:e01944 is an IL-2 study, not IL-10)', "IL-10 secretion of a Treg.")
    tgfb: float = param(1.0, "molecules/s/cell", (0.1, 10.0), 'assumption', "Active TGF-β secretion of a Treg.")


@dataclass
class FieldsConfig:
    """Diffusion coefficients, half-lives and baselines of the nine diffusing fields (tissue values)."""

    tnf_diffusion_um2_s: float = param(46.0, "µm²/s", (25.0, 50.0), 'derived: Stokes–Einstein, r = 2.8 nm (TNF trimer 5.6 nm, Daub et al. 2020 Sci Rep 10:9265, doi:10.1038/s41598-020-66123-5), 37 °C water ⇒ D 117 µm²/s ÷ λ² (1.6², Syková & Nicholson 2008) = 46',
                                       "Effective diffusion of TNF-α.")
    tnf_half_life_h: float = param(0.33, "h", (0.2, 2.0), 'Ferraiolo et al. 1988 Drug Metab Dispos 16:270: serum t½ 18.5–19.2 min of i.v. rHuTNF-α in BDF1 mice (ELISA); serum clearance used as tissue proxy',
                                   "Half-life of TNF-α.", bounds=(1e-6, INF))
    il1b_diffusion_um2_s: float = param(40.0, "µm²/s", (25.0, 50.0), 'derived: Stokes–Einstein for 17 kDa IL-1β (r_h ≈ 2.0 nm ⇒ D_free ≈ 160 µm²/s) ÷ λ² 2.56–4.58 = 35–64 µm²/s; anchored by NGF D* 27.5 µm²/s (Stroh et al. 2003 Biophys J 85:581)',
                                        "Effective diffusion of IL-1β.")
    il1b_half_life_h: float = param(0.33, "h", (0.05, 0.7), 'Kudo et al. 1990 Cancer Res 50:5751: i.v. rhIL-1β in rats eliminated biphasically, terminal t½ 19.0 min (bioassay); kidney main site; serum value used as tissue proxy',
                                    "Half-life of IL-1β.", bounds=(1e-6, INF))
    il10_diffusion_um2_s: float = param(40.0, "µm²/s", (25.0, 50.0), 'derived: Stokes–Einstein for IL-10 homodimer (~37 kDa, r_h ≈ 2.7 nm ⇒ D_free ≈ 120 µm²/s) ÷ λ² 2.56–4.58 = 27–48 µm²/s; NGF (Stroh 2003) 27.5 as lower anchor', "Effective diffusion of IL-10.")
    il10_half_life_h: float = param(3.0, "h", (0.5, 4.5), 'Huhn et al. 1996 Blood 87:699: terminal t½ 2.3–3.7 h after i.v. rhIL-10 in healthy volunteers (serum); used as tissue proxy', "Half-life of IL-10.",
                                    bounds=(1e-6, INF))
    tgfb_diffusion_um2_s: float = param(40.0, "µm²/s", (25.0, 50.0), 'derived: Stokes–Einstein for active TGF-β1 dimer (25 kDa, r_h ≈ 2.3 nm ⇒ D_free ≈ 140 µm²/s) ÷ λ² 2.56–4.58 = 31–56 µm²/s; NGF (Stroh 2003) 27.5 as lower anchor', "Effective diffusion of active TGF-β.")
    tgfb_half_life_h: float = param(0.05, "h", (0.03, 1.6), 'assumption (tissue t½ of active TGF-β unknown); nearest number: plasma initial t½ 2.2 min of i.v. 125I-TGF-β in rat, set by hepatic uptake (Coffey et al. 1987 J Clin Invest 80:750, doi:10.1172/JCI113130)',
                                    "Half-life of active TGF-β.", bounds=(1e-6, INF))
    bdnf_diffusion_um2_s: float = param(27.5, "µm²/s", (20.0, 45.0), 'Stroh et al. 2003 Biophys J 85:581, doi:10.1016/S0006-3495(03)74502-0: NGF D* 2.75×10⁻⁷ cm²/s = 27.5 µm²/s in rat striatal slices (34 °C); NGF used as proxy for the same-size neurotrophin BDNF', "Effective diffusion of BDNF.")
    bdnf_half_life_h: float = param(1.0, "h", (0.1, 12.0), 'assumption (tissue value); Poduslo & Curran 1996 Mol Brain Res 36:280, doi:10.1016/0169-328x(95)00250-v: BDNF has the fastest plasma washout of BDNF < NT-3 < CNTF < NGF (ranking, no t½ in abstract)',
                                    "Half-life of BDNF.", bounds=(1e-6, INF))
    gdnf_diffusion_um2_s: float = param(27.5, "µm²/s", (20.0, 45.0), 'Stroh et al. 2003 Biophys J 85:581: NGF D* 27.5 µm²/s in rat striatal slices, used as proxy for GDNF (similar-size dimer; GDNF heparin binding may slow it further)', "Effective diffusion of GDNF.")
    gdnf_half_life_h: float = param(24.0, "h", (6.0, 72.0), 'assumption (t½ ≈ 1 d); Hadaczek et al. 2010 Neuropharmacology 58:1114, doi:10.1016/j.neuropharm.2010.02.002: after CED of 3–15 µg GDNF into rat striatum, levels fell rapidly between day 3 and day 7',
                                    "Half-life of GDNF.", bounds=(1e-6, INF))
    ros_diffusion_um2_s: float = param(2500.0, "µm²/s", (1400.0, 2500.0), 'Ledo et al. 2022 Redox Biol 50:102250 (PMC8804256): in-vivo extracellular H2O2 effective diffusion D* = 2.5×10⁻⁵ cm²/s = 2 500 µm²/s (rat brain, microsensor)',
                                       "Effective diffusion of ROS (H2O2).")
    ros_half_life_h: float = param(6.1e-4, "h", (3e-4, 3e-3), 'Ledo et al. 2022 Redox Biol 50:102250 (PMC8804256): exogenous H2O2 removed from brain ECS with t½ = 2.2 s in vivo; 2.2 s = 6.1×10⁻⁴ h', "Half-life of ROS (H2O2).",
                                   bounds=(1e-9, INF))
    glutamate_diffusion_um2_s: float = param(320.0, "µm²/s", (200.0, 400.0), 'Zheng, Scimemi & Rusakov 2008 Biophys J 95:4584 (PMC2576387): apparent extracellular D of glutamate ≈ 0.32 µm²/ms = 320 µm²/s (two-photon, rat CA1)',
                                             "Effective diffusion of glutamate.")
    glutamate_half_life_h: float = param(2.8e-6, "h", (1e-6, 1e-5), 'assumption (bulk uptake t½ ≈ 10 ms = 2.8×10⁻⁶ h); ms scale supported by Bergles & Jahr 1998 J Neurosci 18:7709, doi:10.1523/JNEUROSCI.18-19-07709.1998: astrocyte transporter cycle recovery τ 11.6 ms at 36 °C',
                                         "Uptake half-life of glutamate with intact transporters.", bounds=(1e-12, INF))
    glutamate_ambient_um: float = param(0.5, "µM", (0.025, 5.0),
                                        'Featherstone & Shippy 2008 Neuroscientist 14:171, doi:10.1177/1073858407308518: ambient extracellular glutamate in intact brain ~0.5–5 µM (review of microdialysis); lower bound 25 nM from Herman & Jahr 2007',
                                        "Healthy ambient glutamate, maintained by uniform release against uptake.")
    damage_diffusion_um2_s: float = param(50.0, "µm²/s", (40.0, 70.0), 'derived: Stokes–Einstein for 8–9 kDa chemokines (r_h 1.8–2.0 nm ⇒ D_free 164–182 µm²/s) ÷ λ² 2.56–4.58 (Syková & Nicholson 2008; Stroh 2003) = 40–71 µm²/s',
                                          "Effective diffusion of the damage/chemokine signal.")
    damage_half_life_h: float = param(6.0, "h", (1.0, 24.0), 'assumption', "Half-life of the damage/chemokine signal.", bounds=(1e-6, INF))


# --------------------------------------------------------------------------- MSCs
@dataclass
class MSCPathways:
    """Switches for each way infused MSCs can act (knock-out experiments); each is a module in sim/pathways/."""

    homing: bool = switch(True, "Local entry: circulating MSCs can enter the tissue patch (after IV infusion almost none do).")
    local_paracrine: bool = switch(True, "Local: MSCs in the patch secrete TGF-β, BDNF, GDNF and calm microglia they touch.")
    local_vesicles: bool = switch(True, "Local: vesicles of MSCs in the patch clear ROS and glutamate in their voxel.")
    exosome: bool = switch(True, "Systemic: vesicles of MSCs in lung and blood cross the leaky barrier and raise ROS scavenging "
                                 "and glutamate uptake in the whole patch.")
    systemic_treg: bool = switch(True, "Systemic, durable: phagocytes that engulfed MSCs expand Tregs (systemic Treg level).")
    microglia_polarization: bool = switch(True, "Systemic, acute: living MSCs license host macrophages (PGE2 → IL-10), "
                                                "pushing microglia to protection.")
    efferocytosis: bool = switch(True, "Systemic, durable: phagocytes that engulfed dying MSCs turn immunomodulatory and push "
                                       "microglia to protection while they persist.")
    barrier_repair: bool = switch(True, "Systemic: MSCs close part of the blood–spinal-cord-barrier leak for a while.")


@dataclass
class MSCConfig:
    """MSC pharmacokinetics (IV and intrathecal), homing, in-tissue behaviour and systemic effects."""

    packets_per_infusion: int = setting(
        400, "Number of Mesa agents an infusion is split into while outside the tissue (each stands for dose/packets cells).",
        bounds=(1, 100000))
    first_pass_lung_fraction: float = param(
        0.95, "1", (0.7, 0.99), 'assumption (0.95); IV data: rat tail-vein 99mTc-MSC ≈70 % of activity in lungs at 5 min (Assis et al. 2010 Cell Transplant 19:219); Fischer et al. 2009 Stem Cells Dev 18:683: majority trapped',
        "Fraction of an infusion arrested in the lung on first pass.", bounds=(0.0, 1.0))
    lung_half_life_h: float = param(24.0, "h", (12.0, 48.0), 'Lee RH et al. 2009 Cell Stem Cell 5:54, doi:10.1016/j.stem.2009.05.003: 2×10⁶ hMSCs i.v. in mice, lung-trapped cells disappeared with t½ ≈ 24 h (human Alu qPCR)',
                                    "Half-life of lung-trapped MSCs (death and phagocytosis).", bounds=(1e-3, INF))
    lung_release_fraction: float = param(0.05, "1", (0.0, 0.2), 'assumption (value); Wang H et al. 2016 Sci Rep 6:22293, doi:10.1038/srep22293: PBK model with lung arrest, depletion and release compartments',
                                         "Fraction of lung losses that re-enter the blood rather than being cleared.", bounds=(0.0, 1.0))
    blood_half_life_h: float = param(0.1, "h", (0.02, 0.5), 'assumption (t½ ~6 min, ≤ one lung transit); Shim et al. 2015 Stem Cells Dev 24:1124, doi:10.1089/scd.2014.0240: i.v. hMSC mean blood residence time 95-fold shorter than after intra-articular injection (no t½ given)',
                                     "Half-life of free circulating MSCs.", bounds=(1e-4, INF))
    blood_exit_to_lung_fraction: float = param(0.8, "1", (0.5, 0.95), 'assumption (0.8 of cells leaving blood re-lodge in lung; no measurement found — Toma et al. 2009 Circ Res 104:398 studied intra-arterial arrest in cremaster, not lung re-arrest)',
                                               "Fraction of cells leaving the blood that re-lodge in the lung (the rest are cleared).",
                                               bounds=(0.0, 1.0))
    homing_fraction_to_cord: float = param(
        1e-4, "1", (0.0, 1e-3), 'assumption (10⁻⁴); upper bound derived from Lee RH et al. 2009 Cell Stem Cell 5:54: <1000 of 2×10⁶ i.v. hMSCs in six non-lung tissues (≤5×10⁻⁴); Uccelli et al. 2012 Mol Med 18:794: scant CNS homing',
        "Fraction of blood-leaving cells that would home to the whole spinal cord at full barrier leak and damage.", bounds=(0.0, 1.0))
    k_homing_damage_pm: float = param(5.0, "pM", (0.5, 50.0), 'assumption', "Mean damage signal at half-maximal homing drive.",
                                      bounds=(1e-12, INF))
    tissue_half_life_h: float = param(
        24.0, "h", (8.0, 1680.0), "assumption (default 24 h, the lung proxy: viable i.v. MSCs recovered from lungs up to 24 h, "
        "none at 72 h or in other organs, Eggenhofer et al. 2012 Front Immunol 3:297, doi:10.3389/fimmu.2012.00297). Range "
        "for cells inside the cord: BMSCs given into rat CSF were in a cord lesion at 2 d and none at 7 d (Nakano et al. 2013 "
        "PLoS One 8:e73494, doi:10.1371/journal.pone.0073494), while hMSCs transplanted into the lumbar cord of SOD1-G93A mice "
        "were found there 10 weeks later (Vercelli et al. 2008 Neurobiol Dis, abstract; the surviving fraction is not "
        "given, so any half-life up to about 10 weeks = 1680 h is consistent with it)", "Half-life of MSCs in tissue.",
                                      bounds=(1e-3, INF))
    speed_um_per_h: float = param(10.0, "µm/h", (0.0, 40.0), 'assumption', "Chemotactic speed of MSCs in tissue up the damage gradient.")
    # Intrathecal route (treatment.route=intrathecal): cells injected into the cerebrospinal fluid (sim/pk.py).
    csf_half_life_h: float = param(
        48.0, "h", (12.0, 720.0), ASSUMPTION + " (no clearance time of MSCs from the CSF was found measured. Bounds: human "
        "IT ferumoxide-labelled MSCs coat the pia, dorsal and ventral root entry zones on MRI (Karussis et al. 2010 Arch "
        "Neurol 67:1187, doi:10.1001/archneurol.2010.248); hBM-MSCs IT in NOD-SCID mice are found in 4/6 spinal cords at "
        "24 h (Tissue Eng Regen Med 2019, doi:10.1007/s13770-019-00202-1); BMSCs given into the CSF of rats with a "
        "1-week-old cord injury are found in the lesion at 2 d but none at 7 d (Nakano et al. 2013 PLoS One 8:e73494, "
        "doi:10.1371/journal.pone.0073494); a rabbit IT safety study says MSCs may reside in the CSF for months "
        "(PMC4428970), hence the upper end of 30 d)",
        "Half-life of MSCs in the cerebrospinal fluid: each leaves it (into the cord, to the blood or cleared) at rate ln 2/t½.",
        bounds=(1e-3, INF))
    csf_entry_fraction_to_cord: float = param(
        0.01, "1", (1e-4, 0.3), ASSUMPTION + " (no fraction measured; direction: IT MSCs infiltrate the parenchyma and migrate "
        "into the ventral grey matter of symptomatic SOD1-G93A rats, Boucherie et al. 2009 J Neurosci Res 87:2034, "
        "doi:10.1002/jnr.22038; against: IT hMSCs did not survive in the lesion of compressed rat cords, Urdzíková et al. "
        "2014 Int J Mol Sci 15:11275, doi:10.3390/ijms150711275, and cells given into the CSF entered only a fresh cord "
        "lesion, Nakano et al. 2013 PLoS One 8:e73494)",
        "Fraction of the cells leaving the CSF that enter the whole spinal cord's parenchyma at saturating damage "
        "(through the pia, not the blood–spinal-cord barrier: no barrier-leak factor); the patch gets its volume share.",
        bounds=(0.0, 1.0))
    csf_drain_to_blood_fraction: float = param(
        0.02, "1", (0.0, 0.2), ASSUMPTION + " (CSF drains to venous blood and lymph; after IT hBM-MSCs in NOD-SCID mice human "
        "DNA was reported at 24 h only in spinal cord (4/6) and heart (1/6) of the nine organs sampled (Tissue Eng Regen Med "
        "2019, doi:10.1007/s13770-019-00202-1), so little of a dose reaches the blood)",
        "Fraction of the cells leaving the CSF that drain to the venous blood (then lung arrest as after IV infusion); "
        "the rest of the cells leaving the CSF, neither entering the cord nor draining, are cleared.",
        bounds=(0.0, 1.0))
    tgfb: float = param(0.03, "molecules/s/cell", (0.003, 0.3), 'assumption (0.03 molecules/s ≈ 0.11 ng active TGF-β1 per 10⁶ cells/day = 10 % of ~1 ng total); Siegel et al. 2013 BMC Med 11:146 abstract lists VEGF-A, HGF, LIF… secretion, no TGF-β number found',
                        "Active TGF-β secretion of a tissue MSC.")
    bdnf: float = param(0.026, "molecules/s/cell", (0.005, 0.1), 'assumption (0.026 molecules/s ≈ 100 pg/10⁶ cells/day); Gu et al. 2012 Neurol Res 34:172, doi:10.1179/1743132811Y.0000000068 report 132 ± 12 pg/mL BDNF in BMSC-conditioned medium only',
                        "BDNF secretion of a tissue MSC.")
    gdnf: float = param(0.02, "molecules/s/cell", (0.002, 0.1), 'assumption (0.02 molecules/s ≈ 86 pg/10⁶ cells/day for a ~30 kDa dimer); Gu et al. 2012 Neurol Res 34:172 report 70 ± 6 pg/mL GDNF in BMSC-conditioned medium (rat), no cell number/volume/time',
                        "GDNF secretion of a tissue MSC.")
    il10: float = param(0.0, "molecules/s/cell", (0.0, 0.5), 'Melief et al. 2013 Haematologica 98:888, doi:10.3324/haematol.2012.078055: IL-10 was not produced by human BM-MSCs, only by monocytes exposed to MSC-derived IL-6 (qualitative zero)',
                        "Direct IL-10 secretion of a tissue MSC (host cells make IL-10; see the polarization pathway).")
    paracrine_weight: float = param(1.0, "1", (0.0, 3.0), 'assumption (magnitude); Németh et al. 2009 Nat Med 15:42, doi:10.1038/nm.1905: BMSCs reprogram macrophages via PGE2 (EP2/EP4) to raise IL-10; benefit lost with IL-10 blockade',
                                    "Push toward protection for microglia within contact range of a tissue MSC, in units of a saturating IL-10 signal.")
    treg_boost_max: float = param(0.47, "relative", (0.0, 0.6), 'assumption (+47 % cap = restoring a rapid progressor to control level: Henkel et al. 2013 EMBO Mol Med 5:64, controls 0.845 % vs rapid 0.573 % Tregs); no measured MSC-induced Treg fold change found',
                                  "Largest relative rise of the systemic Treg level MSC exposure can cause.", bounds=(0.0, 10.0))
    treg_boost_ec50: float = param(1e7, "cells/kg", (1e6, 1e8), 'assumption', "Treg memory of engulfed MSCs giving half the largest Treg rise.",
                                   bounds=(1e-9, INF))
    treg_memory_days: float = param(
        11.54, "d", (5.0, 20.0), "derived: Treg turnover; human CD4⁺CD45RO⁺Foxp3⁺CD25ʰⁱ Tregs double in 8 d in vivo "
        "(Vukmanovic-Stejic et al. 2006 J Clin Invest, doi:10.1172/JCI28941); loss = production at steady state, "
        "k = ln 2/8 d = 0.0866 /d, τ = 1/k = 8/ln 2 = 11.54 d",
        "Time constant of the MSC-induced Treg rise (behind the engulfed-MSC memory).", bounds=(1e-3, INF))
    ev_ros_effect_max: float = param(1.0, "1", (0.0, 3.0), 'assumption (magnitude); Bonafede et al. 2016 Exp Cell Res 340:150: adipose-stromal-cell exosomes raised viability of SOD1-G93A NSC-34 cells exposed to H2O2',
                                     "Largest relative rise in ROS scavenging from MSC vesicles crossing a fully leaky barrier.")
    ev_glutamate_effect_max: float = param(0.5, "1", (0.0, 2.0), 'assumption (magnitude, and attribution to vesicles); Uccelli et al. 2012 Mol Med 18:794: IV MSCs reverted the raised [3H]D-aspartate (glutamate) release of SOD1-G93A spinal cord',
                                           "Largest relative rise in glutamate uptake from MSC vesicles crossing a fully leaky barrier.")
    ev_ec50: float = param(1e7, "cells/kg", (1e6, 1e8), 'assumption', "Lung/blood MSC burden giving half the largest vesicle effect.",
                           bounds=(1e-9, INF))
    local_vesicle_effect: float = param(
        1.0, "1", (0.0, 5.0), 'assumption (magnitude); Bonafede et al. 2020 Int J Mol Sci 21:3651, doi:10.3390/ijms21103651: repeated IV/intranasal ASC-exosomes improved SOD1-G93A mice; vesicles homed to lesioned regions',
        "Relative rise in ROS scavenging and glutamate uptake in a voxel holding one tissue MSC.")
    polarization_weight: float = param(1.0, "1", (0.0, 3.0), 'assumption (magnitude); Németh et al. 2009 Nat Med 15:42; de Witte et al. 2018 Stem Cells 36:602',
                                       "Push toward protection on all microglia from MSC-licensed host myeloid signals at full barrier leak, in units of a "
                                       "saturating IL-10 signal (host macrophage IL-10).")
    polarization_ec50: float = param(1e7, "cells/kg", (1e6, 1e8), 'assumption', "Remembered living MSC burden giving half the largest polarization push.",
                                     bounds=(1e-9, INF))
    polarization_memory_days: float = param(1.0, "d", (0.25, 3.0), ASSUMPTION + " (only living MSCs signal; the licensed "
                                            "macrophage IL-10 response is taken to fade within about a day)",
                                            "Time constant of the acute myeloid polarization signal behind the living MSC burden.",
                                            bounds=(1e-3, INF))
    efferocytosis_weight: float = param(1.0, "1", (0.0, 3.0), ASSUMPTION + " (direction: Pang et al. 2021 Nat Commun 12:6495, "
                                        "doi:10.1038/s41467-021-26834-3; magnitude not measured)",
                                        "Push toward protection on all microglia from phagocytes that engulfed MSCs, at full barrier leak, in units of a "
                                        "saturating IL-10 signal.")
    efferocytosis_ec50: float = param(1e7, "cells/kg", (1e6, 1e8), ASSUMPTION,
                                      "Engulfed MSCs still carried by host phagocytes giving half the largest push.", bounds=(1e-9, INF))
    efferocytosis_memory_days: float = param(
        7.0, "d", (1.0, 12.0), "derived (a bound, not a measurement of the phenotype): persistence of the engulfing cells: human "
        "classical monocytes circulate ≈1 d, non-classical ≈7 d (Patel et al. 2017 J Exp Med 214:1913, doi:10.1084/jem.20170355); "
        "free alveolar macrophages, which engulf IV MSCs (Pang et al. 2021), stay ≈7 d in the mouse alveolus (Lab Invest 1980 "
        "42:511, PMID 7382427)",
        "How long host phagocytes carry engulfed MSCs and their changed phenotype (time constant).", bounds=(1e-3, INF))
    barrier_repair_max: float = param(
        0.8, "1", (0.0, 0.9), ASSUMPTION + " (proxy: IV human CD34⁺ cells cut lumbar microhaemorrhages of G93A mice by 82 % at "
        "10⁶ cells, Oncotarget 2018 PMC5828209; MSCs restored the barrier transiently: Magota et al. 2021 Mol Brain, "
        "doi:10.1186/s13041-021-00787-6)",
        "Largest fraction of the disease's excess barrier leak that MSC exposure can close.", bounds=(0.0, 1.0))
    barrier_repair_ec50: float = param(1e7, "cells/kg", (1e6, 1e8), ASSUMPTION,
                                       "Remembered living MSC burden giving half the largest barrier repair.", bounds=(1e-9, INF))
    barrier_repair_memory_days: float = param(
        7.0, "d", (3.0, 28.0), ASSUMPTION + " (a single infusion's repair is transient and weekly ×4 infusions did better: "
        "Magota et al. 2021; no time course was retrievable)",
        "Time constant with which barrier repair follows the living MSC burden (and fades after it).", bounds=(1e-3, INF))
    pathways: MSCPathways = field(default_factory=MSCPathways)


# --------------------------------------------------------------------------- treatment
@dataclass
class TreatmentConfig:
    """The MSC course: route, dose, first infusion day, number of infusions, interval."""

    name: str = setting("iv_msc", "Name of the treatment preset.")
    enabled: bool = switch(True, "Simulate a treated arm next to the control arm.")
    route: str = setting("iv", "Where the cells are given: iv (into a vein: most lodge in the lung) or intrathecal (into the "
                               "cerebrospinal fluid: msc.csf_*). See docs/model.md, Routes.")
    dose_cells_per_kg: float = param(
        4e7, "cells/kg", (1e6, 1e8), 'derived: 1×10⁶ MSCs i.v. per SOD1-G93A mouse (Uccelli et al. 2012 Mol Med 18:794) ÷ 0.025 kg = 4×10⁷/kg; human IV dose 1.0–3.0×10⁶/kg (Moll et al. 2012 Stem Cells 30:1565, doi:10.1002/stem.1111)',
        "Cells per kg of body weight per infusion (used when treatment.cells_per_dose is 0).", bounds=(0.0, 1e10))
    cells_per_dose: float = param(
        0.0, "cells", (0.0, 2e8), 'assumption/design: default 0 = dose by body weight instead; '
        'above 0, range from reported intrathecal doses, given per injection: 1×10⁴–1×10⁶ hMSCs into the cisterna magna of SOD1-G93A mice (Kim H et al. 2010 Neurosci Lett '
        '468:190, doi:10.1016/j.neulet.2009.10.074), mean 63.2×10⁶ autologous MSCs IT in MS/ALS patients (Karussis et al. '
        '2010 Arch Neurol 67:1187)',
        "Cells per infusion or injection whatever the body weight; when > 0 it replaces the dose per kg.",
        bounds=(0.0, 1e12))
    start_day: float = param(90.0, "d", None, 'assumption (90 d); Uccelli et al. 2012 Mol Med 18:794: single IV injection during the symptomatic stage (age not given in abstract)', "Day of the first infusion on the preset's clock.",
                             bounds=(0.0, 1e5))
    n_infusions: int = param(1, "1", (1, 6), 'assumption/design: default 1 = single IV injection (Uccelli et al. 2012 Mol Med 18:794); range up to 5 from ALSUMMIT protocol, Trials 2022 23:415, doi:10.1186/s13063-022-06327-4 (2 IT + 3 boosters)', "Number of infusions.",
                             bounds=(0, 1000))
    interval_days: float = param(30.0, "d", (7.0, 120.0), 'assumption (30 d); ALSUMMIT protocol, Trials 2022 23:415, doi:10.1186/s13063-022-06327-4: 2 intrathecal injections 26 days apart, boosters at 4, 7 and 10 months (~90 d apart)', "Days between infusions.",
                                 bounds=(0.0, 1e5))
    offsets_days: list[float] = field(default_factory=list, metadata={
        "unit": "d", "plausible": None, "source": "setting", "bounds": None,
        "doc": "An irregular schedule: the days of the injections after the first (start_day + each offset; first 0, "
               "increasing), e.g. [0, 26, 121.75, 213.0625, 304.375] for ALSUMMIT's Group 2 (two injections 26 days apart, "
               "boosters at 4, 7 and 10 months: Nam et al. 2022 Trials 23:415, doi:10.1186/s13063-022-06327-4). Empty: "
               "n_infusions injections every interval_days. When given it replaces n_infusions and interval_days."})
    eligibility_max_days_from_onset: float | None = setting(
        None, "Trial design, not biology: an individual whose untreated arm's symptom onset lies more than this many days "
        "before the first infusion is not eligible, and alsim-compare leaves it out of its statistics (e.g. 730: a trial "
        "that enrols within 24 months of onset). null: no window. The simulation itself is unchanged.",
        unit="d", bounds=(0.0, 1e5))


# --------------------------------------------------------------------------- experimental manipulations
def _factor(doc: str) -> Any:
    return setting(1.0, doc, bounds=(0.0, 100.0))


@dataclass
class ManipulationConfig:
    """An in-silico equivalent of a published experiment that changes the glial or immune environment.

    Multipliers on the untouched model (1 = unchanged), acting on both arms from `start_day` on. Each preset in
    configs/manipulation/ stands for a row of experiments/calibration/manipulations.csv and says in its
    comments which parts of the mapping are measured and which are assumptions. Never an MSC effect.
    """

    name: str = setting("none", "Name of the manipulation preset (none: the untouched disease).")
    start_day: float = setting(-1e5, "First day, on the preset's clock, on which the manipulation acts (a drug started at an age; "
                                     "the default acts from the start).", unit="d", bounds=(-1e5, 1e5))
    microglia_tnf: float = _factor("Multiplier on microglial TNF-α release (0: TNF-α knock-out).")
    microglia_il1b: float = _factor("Multiplier on microglial IL-1β release (0: IL-1β or caspase-1 knock-out).")
    microglia_ros: float = _factor("Multiplier on microglial ROS release (0: NOX2 knock-out).")
    microglia_glutamate: float = _factor("Multiplier on microglial glutamate release.")
    microglia_pro_inflammatory: float = _factor("Multiplier on every transition into the pro-inflammatory state (0: the "
                                                "pro-inflammatory programme cannot start, e.g. microglial NF-κB deleted).")
    microglia_activation: float = _factor("Multiplier on microglia leaving the surveillant state (an activation inhibitor).")
    microglia_proliferation: float = _factor("Multiplier on the division of activated microglia (0: proliferating microglia ablated).")
    treg_infiltration: float = _factor("Multiplier on Treg entry into the cord (0: no T cells, RAG2−/−).")
    treg_systemic: float = _factor("Multiplier on the systemic Treg level (> 1: Treg transfer or expansion).")
    glutamate_uptake: float = _factor("Multiplier on astroglial glutamate uptake (2: EAAT2 overexpressed two-fold).")
    barrier_leak: float = _factor("Multiplier on the disease's excess barrier leak (< 1: a barrier-restoring treatment).")


@dataclass
class RunOptions:
    """How a run is executed (not part of the model: excluded from the config hash)."""

    cache_dir: str = setting("multirun/.cache", "Index of finished sweep jobs, so re-running a sweep skips them ('' disables).")
    fail_on_seed: int = setting(-1, "Testing aid: a sweep job with this seed fails on purpose (-1: never).", bounds=(-1, 2**63 - 1))
    batch_size: int = setting(1, "Sweep jobs simulated together by the batched engine: job k·n simulates jobs k·n … k·n+n−1 "
                                 "in one cohort and writes each one's own folder (1: every job alone). Results are identical.",
                              bounds=(1, 100_000))
    allow_large: bool = switch(False, "Run even if the estimated peak memory exceeds half of this machine's memory or the "
                                      "estimated length exceeds 6 CPU-hours (see sim/resources.py); otherwise such a run is refused.")


@dataclass
class CalibrationOptions:
    """Fitting the untreated course to natural-history bands (not part of the model: excluded from the config hash)."""

    enabled: bool = switch(False, "Run a calibration trial (a cohort of control arms scored against the targets) instead of a paired run.")
    cohort_size: int = setting(12, "Virtual individuals (seeds) per calibration trial.", bounds=(2, 100_000))
    first_seed: int = setting(1000, "Seeds first_seed … first_seed + cohort_size − 1 form the fitting cohort.", bounds=(0, 2**62))
    manipulation_cohort_size: int = setting(
        32, "Individuals (the first seeds of the cohort) simulated again under each manipulation a target names; paired with "
        "their untouched selves.", bounds=(2, 100_000))
    individuals: str = setting(
        "random", "How the cohort's individual multipliers are chosen: random (each seed draws its own) or stratified (a "
        "Latin hypercube over the preset's lognormal spreads, one stratum per individual: the cohort's spread matches the "
        "population's, so a fit is not pulled toward a chance-fast or chance-slow sample).")
    targets_file: str = setting("experiments/calibration/targets.yaml", "Natural-history targets with bands and citations.")
    report_dir: str = setting("experiments/calibration", "Where the fit report of a calibration sweep is written.")
    workers: int = setting(0, "Processes per trial (0: all cores).", bounds=(0, 4096))


@dataclass
class AlsummitOptions:
    """The ALSUMMIT design (trial.design=alsummit; sim/experiments/trial_alsummit.py): lenzumestrocel (autologous bone-marrow
    MSCs, intrathecal) in three arms. Protocol: Nam et al. 2022 Trials 23:415, doi:10.1186/s13063-022-06327-4;
    eligibility: ClinicalTrials.gov NCT04745299 (registry copies). Group 2's course is treatment.offsets_days."""

    allocation: list[int] = field(default_factory=lambda: [1, 2, 2], metadata={
        "unit": "", "plausible": None, "source": "setting", "bounds": None,
        "doc": "Randomization ratio Group 1 : Group 2 : control (Nam et al. 2022 abstract: 1:2:2, read in the order the "
               "abstract lists the groups; the protocol's text giving the arm sizes was not read)."})
    group1_injections: int = setting(
        2, "Group 1's course: the first this many injections of treatment.offsets_days (a single cycle: two injections 26 "
        "days apart, Nam et al. 2022).", bounds=(1, 1000))
    lead_in_weeks: float = setting(
        17.0, "Lead-in from screening to the first injection, over which the ALSFRS-R progression rate is measured "
        "(NCT04745299: 17-week period prior to the administration; screening at its start is an assumption).",
        unit="wk", bounds=(1.0, 520.0))
    min_slope_points_per_month: float = setting(
        0.515, "Inclusion: lead-in ALSFRS-R decline ≥ this (derived: NCT04745299, progression rate 1.03 ± 50 %/month → "
        "0.515).", unit="points/mo", bounds=(0.0, 48.0))
    max_slope_points_per_month: float = setting(
        1.545, "Inclusion: lead-in ALSFRS-R decline ≤ this (derived: 1.03 + 50 % = 1.545).", unit="points/mo",
        bounds=(0.0, 48.0))
    min_alsfrs_screening: float = setting(31.0, "Inclusion: ALSFRS-R equivalent at screening ≥ this (NCT04745299: 31–46).",
                                          unit="points", bounds=(0.0, 48.0))
    max_alsfrs_screening: float = setting(46.0, "Inclusion: ALSFRS-R equivalent at screening ≤ this (NCT04745299: 31–46).",
                                          unit="points", bounds=(0.0, 48.0))
    onset_to_diagnosis_months: float = setting(
        11.0, "Symptom onset to diagnosis (median 11.5 months: Paganoni et al. 2014 ALS FTD 15:453; 11 months: Falcão de "
        "Campos et al. 2023; as sim.experiments.calibrate.DIAGNOSTIC_DELAY_MONTHS).", unit="mo", bounds=(0.0, 600.0))
    max_months_from_diagnosis: float = setting(
        24.0, "Inclusion: screening at most this long after diagnosis (NCT04745299: disease duration ≤ 2 years from the "
        "first diagnosis). A candidate's time from diagnosis to screening is drawn uniform in [0, this] (assumption: no "
        "baseline table is published).", unit="mo", bounds=(0.0, 600.0))
    endpoint_months_group1: float = setting(
        6.0, "Primary endpoint, Group 1 vs control: CAFS this long after the first administration (Nam et al. 2022).",
        unit="mo", bounds=(0.1, 120.0))
    endpoint_months_group2: float = setting(
        12.0, "Primary endpoint, Group 2 vs control: CAFS this long after the first administration (Nam et al. 2022).",
        unit="mo", bounds=(0.1, 120.0))


TRIAL_DESIGNS = ("nurown", "alsummit")


@dataclass
class TrialOptions:
    """A virtual phase 3 trial in the human preset (sim/experiments/trial.py; not part of the model: excluded from the
    config hash). Published design: Cudkowicz et al. 2022 Muscle Nerve 65:291, doi:10.1002/mus.27472 (NCT03280056);
    with design=alsummit, ALSUMMIT's (trial.alsummit; sim/experiments/trial_alsummit.py)."""

    enabled: bool = switch(False, "Run the virtual trial (a pool of virtual individuals, enrolment, randomization, analysis, "
                                  "replicates) instead of a paired run.")
    design: str = setting("nurown", "Which published design: nurown (the top-level options below) or alsummit (trial.alsummit; "
                                    "the shared options pool_size … workers apply to both).")
    pool_size: int = setting(48, "Virtual candidates simulated (each one's control arm; the treated arm for those who can be "
                                 "enrolled).", bounds=(2, 100_000))
    first_seed: int = setting(5000, "Seeds first_seed … first_seed + pool_size − 1 are the candidates.", bounds=(0, 2**62))
    individuals: str = setting("stratified", "How the candidates' multipliers are drawn: random (each seed's own draw) or "
                                             "stratified (a Latin hypercube over the preset's spreads, as calibration.individuals).")
    seed: int = setting(0, "Seed of the trial's own draws: visit timing, visit noise, resampling and randomization.",
                        bounds=(0, 2**63 - 1))
    replicates: int = setting(1000, "Virtual replicates of the trial (each resamples enrolment and randomizes anew).",
                              bounds=(1, 1_000_000))
    n_analysed: int = setting(189, "Participants analysed per replicate, randomized 1:1 (published: 95 MSC-NTF + 94 placebo); "
                                   "with trial.design=alsummit, randomized by trial.alsummit.allocation (ALSUMMIT: 115).",
                              bounds=(2, 1_000_000))
    onset_to_treatment_mean_months: float = setting(
        19.35, "Mean time from symptom onset to first treatment drawn for a candidate (published Table 1: 19.6 and 19.1 months).",
        unit="mo", bounds=(0.0, 600.0))
    onset_to_treatment_sd_months: float = setting(
        5.04, "SD of that time (published Table 1: 5.17 and 4.90 months).", unit="mo", bounds=(0.0, 600.0))
    max_onset_to_screening_months: float = setting(24.0, "Symptom onset at most this long before screening (inclusion).",
                                                   unit="mo", bounds=(0.0, 600.0))
    screening_to_randomization_days: float = setting(
        84.0, "Run-in from screening to randomization, over which the pre-randomization decline is measured (assumption: "
        "12 weeks; the paper's run-in length was not verified).", unit="d", bounds=(1.0, 3650.0))
    randomization_to_treatment_days: float = setting(
        42.0, "Randomization (bone-marrow aspiration) to first treatment (assumption: 6 weeks for cell manufacture; not verified).",
        unit="d", bounds=(0.0, 3650.0))
    follow_up_weeks: float = setting(28.0, "Primary endpoint: weeks after the first treatment.", unit="wk", bounds=(1.0, 520.0))
    min_alsfrs_screening: float = setting(25.0, "Inclusion: ALSFRS-R equivalent (48 × functional index) at screening ≥ this.",
                                          unit="points", bounds=(0.0, 48.0))
    min_decline_points: float = setting(3.0, "Inclusion: ALSFRS-R decline from screening to randomization ≥ this.",
                                        unit="points", bounds=(0.0, 48.0))
    responder_points_per_month: float = setting(
        1.25, "Responder: post-treatment slope at least this much better than the pre-treatment slope.",
        unit="points/mo", bounds=(0.0, 48.0))
    subgroup_min_baseline: float = setting(35.0, "Pre-specified subgroup: baseline ALSFRS-R ≥ this.", unit="points",
                                           bounds=(0.0, 48.0))
    visit_noise_sd_points: float = setting(
        0.0, "SD of a visit's ALSFRS-R measurement error (normal, then rounded to a whole point); 0: the model's own score "
        "(assumption either way: no measured test-retest SD is used).", unit="points", bounds=(0.0, 20.0))
    noise_sensitivity: list[float] = field(default_factory=lambda: [0.0, 1.0, 2.0, 3.0], metadata={
        "unit": "points", "plausible": None, "source": "setting", "bounds": None,
        "doc": "Visit noise SDs at which the analysis is repeated on the same trajectories (a sensitivity table in trial.md)."})
    workers: int = setting(0, "Processes for the simulations (0: all cores).", bounds=(0, 4096))
    alsummit: AlsummitOptions = field(default_factory=AlsummitOptions)


@dataclass
class UncertaintyOptions:
    """Uncertainty over posterior draws (sim/uncertainty.py): besides the paired run at the configured values, the
    treated arm of `individuals` virtual individuals under each of `draws` posterior draws of the MSC strengths, and each
    individual's control arm once. In the config hash only when mode is posterior (then the results depend on it)."""

    mode: str = setting("none", "none (a plain paired run) or posterior (also the draws × individuals factorial: the modeled "
                                "end-stage delay as a median with a 2.5–97.5 % interval, and which source of spread dominates).")
    draws: int = setting(32, "Posterior draws used (the first rows of the draws file); at most the rows it holds.",
                         bounds=(1, 100_000))
    individuals: int = setting(4, "Virtual individuals per draw: seeds seed … seed + individuals − 1.", bounds=(1, 100_000))
    file: str = setting("", "Posterior draws table ('': the shipped experiments/validation/posterior.csv, written by "
                            "python -m sim.experiments.inference).")


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
    manipulation: ManipulationConfig = field(default_factory=ManipulationConfig)
    run: RunOptions = field(default_factory=RunOptions)
    calibration: CalibrationOptions = field(default_factory=CalibrationOptions)
    trial: TrialOptions = field(default_factory=TrialOptions)
    uncertainty: UncertaintyOptions = field(default_factory=UncertaintyOptions)


# --------------------------------------------------------------------------- validation
ENGINES = ("vectorized", "agents")
SPECIES = ("mouse", "human")
COHORT_DRAWS = ("random", "stratified")
ROUTES = ("iv", "intrathecal")
UNCERTAINTY_MODES = ("none", "posterior")
BYTES_PER_VOXEL = resources.BYTES_PER_VOXEL


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
        optional = f.default is None  # a setting that is off (null) by default
        if optional and value is None:
            continue
        lo, hi = bounds
        whole = isinstance(f.default, int) and not isinstance(f.default, bool)
        kind = "an integer" if whole else "a finite number"
        off = " or null (off)" if optional else ""
        # library callers build configs in Python: a text, list or true/false here is refused, not compared
        if isinstance(value, bool) or not isinstance(value, numbers.Integral if whole else numbers.Real):
            raise ConfigError(f"{key}={value!r} is invalid: expected {kind} in [{_fmt(lo)}, {_fmt(hi)}]{off}")
        if not (math.isfinite(value) and lo <= value <= hi):
            raise ConfigError(f"{key}={value!r} is invalid: allowed range is {kind} in [{_fmt(lo)}, {_fmt(hi)}]{off}")


available_memory_bytes = resources.physical_memory_bytes  # (kept for callers of the old name)


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
    _check_choice("trial.individuals", cfg.trial.individuals, COHORT_DRAWS)
    _check_choice("disease.species", d.species, SPECIES)
    _check_choice("treatment.route", t.route, ROUTES)
    _check_choice("uncertainty.mode", cfg.uncertainty.mode, UNCERTAINTY_MODES)
    if cfg.trial.enabled:
        _check_trial(cfg)
    if d.horizon_days <= d.start_day:
        raise ConfigError(f"disease.horizon_days={d.horizon_days:g} is invalid: allowed range is > disease.start_day ({d.start_day:g})")
    if d.ff_fraction + d.fr_fraction > 1.0:
        raise ConfigError(f"disease.fr_fraction={d.fr_fraction:g} is invalid: allowed range is [0, {1 - d.ff_fraction:g}] (ff + fr ≤ 1)")
    if d.end_stage_functional_index >= d.onset_functional_index:
        raise ConfigError(f"disease.end_stage_functional_index={d.end_stage_functional_index:g} is invalid: "
                          f"allowed range is < disease.onset_functional_index ({d.onset_functional_index:g})")
    m = cfg.msc
    if m.csf_entry_fraction_to_cord + m.csf_drain_to_blood_fraction > 1.0:
        raise ConfigError(f"msc.csf_drain_to_blood_fraction={m.csf_drain_to_blood_fraction:g} is invalid: allowed range is "
                          f"[0, {1 - m.csf_entry_fraction_to_cord:g}] (csf_entry_fraction_to_cord + csf_drain_to_blood_fraction ≤ 1)")
    _check_offsets(t.offsets_days)
    if t.enabled:
        # the dose key in use: cells per injection, when given, replaces the dose per kg
        dose_key, dose = ("cells_per_dose", t.cells_per_dose) if t.cells_per_dose > 0 else ("dose_cells_per_kg", t.dose_cells_per_kg)
        n_doses = len(t.offsets_days) if t.offsets_days else t.n_infusions
        if t.n_infusions == 0 and dose > 0 and not t.offsets_days:
            raise ConfigError(f"treatment.n_infusions=0 is invalid with treatment.{dose_key}={dose:g}: allowed range is ≥ 1 when a dose is given")
        if not d.start_day <= t.start_day < d.horizon_days:
            raise ConfigError(
                f"treatment.start_day={t.start_day:g} is invalid: allowed range is [{d.start_day:g}, {d.horizon_days:g}) (the simulated days of disease={d.name})")
        if t.n_infusions > 1 and t.interval_days <= 0 and not t.offsets_days:
            raise ConfigError(f"treatment.interval_days={t.interval_days:g} is invalid: allowed range is > 0 when treatment.n_infusions > 1")
        if n_doses * (dose if t.cells_per_dose > 0 else d.body_weight_kg * dose) > 1e12:
            raise ConfigError(f"treatment.{dose_key}={dose:g} is invalid: the course would exceed 1e12 cells in total")
    if not isinstance(cfg.run.allow_large, bool):
        raise ConfigError(f"run.allow_large={cfg.run.allow_large!r} is invalid: allowed values are true, false")
    resources.check(cfg)  # peak memory and run length, before anything is written
    if cfg.uncertainty.mode == "posterior":
        from sim import uncertainty  # reads the draws file: only a posterior run needs it

        uncertainty.check(cfg)
    return cfg


MAX_OFFSETS = 1000  # as treatment.n_infusions' hard bound


def _check_offsets(offsets: object) -> None:
    """treatment.offsets_days: empty, or numbers that start at 0 and increase (days after the first injection)."""
    key = "treatment.offsets_days"
    if not isinstance(offsets, (list, tuple)):
        raise ConfigError(f"{key}={offsets!r} is invalid: allowed is a list of days, first 0, increasing (e.g. [0, 26, 121.75])")
    if not offsets:
        return
    if not all(isinstance(x, numbers.Real) and not isinstance(x, bool) and math.isfinite(x) for x in offsets):
        raise ConfigError(f"{key}={list(offsets)!r} is invalid: allowed is a list of finite numbers of days, first 0, increasing")
    if len(offsets) > MAX_OFFSETS:
        raise ConfigError(f"{key} has {len(offsets)} entries: allowed is at most {MAX_OFFSETS}")
    if offsets[0] != 0:
        raise ConfigError(f"{key}={list(offsets)!r} is invalid: the first offset must be 0 (the first injection, on treatment.start_day)")
    if any(b <= a for a, b in itertools.pairwise(offsets)):
        raise ConfigError(f"{key}={list(offsets)!r} is invalid: allowed is increasing days (each offset > the one before, all ≥ 0)")


def _check_trial(cfg: SimConfig) -> None:
    """The virtual trial needs the human preset, a treatment course, and noise levels that are numbers in range."""
    tr, d = cfg.trial, cfg.disease
    if d.species != "human":
        raise ConfigError(f"disease={d.name} is invalid with trial.enabled=true: allowed values are the human presets "
                          "(disease=human_sporadic)")
    if not cfg.treatment.enabled or cfg.treatment.n_infusions < 1:
        raise ConfigError("treatment.enabled=false is invalid with trial.enabled=true: allowed is a treatment course "
                          "(treatment.enabled=true, treatment.n_infusions ≥ 1)")
    levels = tr.noise_sensitivity
    if not isinstance(levels, (list, tuple)) or not all(
            isinstance(x, numbers.Real) and not isinstance(x, bool) and 0.0 <= x <= 20.0 for x in levels):
        raise ConfigError(f"trial.noise_sensitivity={levels!r} is invalid: allowed is a list of numbers in [0, 20]")
    _check_choice("trial.design", tr.design, TRIAL_DESIGNS)
    if tr.design == "alsummit":
        _check_alsummit(cfg)


def _check_alsummit(cfg: SimConfig) -> None:
    """ALSUMMIT needs Group 2's irregular course, a Group 1 that is a part of it, three positive ratios, ordered windows."""
    al, offsets = cfg.trial.alsummit, cfg.treatment.offsets_days
    if not offsets:
        raise ConfigError("treatment.offsets_days=[] is invalid with trial.design=alsummit: allowed is Group 2's course "
                          "(e.g. [0, 26, 121.75, 213.0625, 304.375]), of which Group 1 gets the first trial.alsummit.group1_injections")
    if al.group1_injections > len(offsets):
        raise ConfigError(f"trial.alsummit.group1_injections={al.group1_injections} is invalid: allowed range is [1, "
                          f"{len(offsets)}] (the injections in treatment.offsets_days)")
    ratio = al.allocation
    if not (isinstance(ratio, (list, tuple)) and len(ratio) == 3 and all(
            isinstance(x, numbers.Integral) and not isinstance(x, bool) and 1 <= x <= 1000 for x in ratio)):
        raise ConfigError(f"trial.alsummit.allocation={ratio!r} is invalid: allowed is three whole numbers in [1, 1000] "
                          "(Group 1 : Group 2 : control)")
    if al.min_slope_points_per_month > al.max_slope_points_per_month:
        raise ConfigError(f"trial.alsummit.min_slope_points_per_month={al.min_slope_points_per_month:g} is invalid: allowed "
                          f"range is [0, {al.max_slope_points_per_month:g}] (≤ trial.alsummit.max_slope_points_per_month)")
    if al.min_alsfrs_screening > al.max_alsfrs_screening:
        raise ConfigError(f"trial.alsummit.min_alsfrs_screening={al.min_alsfrs_screening:g} is invalid: allowed range is "
                          f"[0, {al.max_alsfrs_screening:g}] (≤ trial.alsummit.max_alsfrs_screening)")
    if cfg.trial.n_analysed < 3:
        raise ConfigError(f"trial.n_analysed={cfg.trial.n_analysed} is invalid with trial.design=alsummit: allowed range is "
                          "an integer in [3, 1000000] (three arms)")
