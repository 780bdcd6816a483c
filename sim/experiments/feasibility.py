"""Can a preset's natural-history bands be met together at all? The model's neuron-death rule in its continuum limit.

A calibration that keeps missing bands may be stuck in a poor region, or the bands may be out of reach
for the model's structure. This check answers the second question cheaply, without simulating tissue:
with the intrinsic drive a(t) = a_ref·((t + offset)/t_ref)^m and lognormal neuron vulnerabilities (SD of
log σ_v), a neuron of vulnerability v dies once ∫a dt reaches a fixed damage, so death times are lognormal
with SD of log s = σ_v/(m + 1), and every individual's drive multiplier (SD of log σ_i) scales its time
axis by exp(−σ_i·z/(m + 1)). With infinitely many neurons, collateral reinnervation up to
u (`neurons.reinnervation_max`, a grid axis) and no inflammatory feedback, an individual's functional index is
min(1, u·surviving fraction). With regional spread (`regions`, `spread_delay_days`: sim/spread.py) region k
runs k·delay·exp(−σ_i·z/(m + 1)) days behind the onset region, the person's indices are the means over
regions and onset is the onset region's. The clock is set so that the median individual's onset is day 0
(the consistency target holds by construction). Each grid point is scored with the calibration's own
read-outs and targets (`sim.experiments.calibrate`).

What it leaves out (so it is a bound on the structure, not a replacement for the fit): denervation before
soma death, the inflammatory amplification, trophic protection, and the step-like decline of a small patch.

    python -m sim.experiments.feasibility            # human_sporadic grid, best points first

NON-CLINICAL: a statement about the model's structure, not about patients.
"""
from __future__ import annotations

import itertools
import sys
from pathlib import Path
from typing import Any

import numpy as np
from scipy.special import ndtr
from scipy.stats import norm

import sim
from sim.experiments import calibrate

STEP_DAYS = 10.0
HORIZON_DAYS = 20_000.0  # long enough that every grid individual reaches end stage (no censoring)
GRID = {
    "vulnerability_sd_log": (0.4, 0.6, 0.8, 1.0, 1.2),
    "drive_exponent": (0.3, 0.6, 1.0, 1.5),
    "drive_offset_days": (1095.0, 2000.0, 3000.0),
    "individual_spread_per_unit_time": (0.7, 0.8, 0.9, 1.0),  # σ_i/(m + 1): the spread of log time scales
    "reinnervation_max": (1.2, 2.0, 3.0),  # the preset's neurons use 2; its plausible range is 1.2–5
    "regions": (1, 4),  # one patch, or the four ALSFRS-R regions (sim/spread.py)
    "spread_delay_days": (0.0, 150.0, 300.0, 450.0),  # only with more than one region
}


def individual(log_t50: float, s: float, u: float, onset_index: float, end_index: float,
               lags: tuple[float, ...] = (0.0,)) -> dict[str, Any]:
    """Read-outs of one continuum individual whose neuron death times are lognormal(log_t50, s) after drive start.

    With several regions (`lags`: each region's delay behind the onset region, days), the person's indices are
    the means over regions and clinical onset is the onset region's, as in the simulation (sim/spread.py).
    """
    t = np.arange(0.0, HORIZON_DAYS, STEP_DAYS)
    local = np.maximum(t[None, :] - np.asarray(lags)[:, None], 1e-9)
    alive_by_region = ndtr((log_t50 - np.log(local)) / s)  # lognormal survival function, fast form
    function_by_region = np.minimum(1.0, u * alive_by_region)
    alive, function = alive_by_region.mean(axis=0), function_by_region.mean(axis=0)
    onset = float(t[np.argmax(function_by_region[0] < onset_index)])
    end = float(t[np.argmax(function < end_index)])
    slope_w = calibrate._follow_up(t, onset, end, HORIZON_DAYS, calibrate.SLOPE_FOLLOW_UP_MONTHS)
    munix_w = calibrate._follow_up(t, onset, end, HORIZON_DAYS, calibrate.MUNIX_FOLLOW_UP_MONTHS)
    slope = calibrate._slope_per_month(t[slope_w], calibrate.ALSFRS_MAX * function[slope_w])
    loss = calibrate.relative_loss_per_month(t, alive, munix_w)
    return {"onset_days": onset, "end_stage_days": end, "horizon_days": HORIZON_DAYS, "functional_slope_pts_per_month": slope,
            "mn_loss_pct_per_month": loss, "motor_unit_loss_pct_per_month": loss}


def cohort(vulnerability_sd_log: float, drive_exponent: float, drive_offset_days: float, individual_spread_per_unit_time: float,
           reinnervation_max: float, onset_index: float, end_index: float, n: int = 100,
           regions: int = 1, spread_delay_days: float = 0.0) -> list[dict[str, Any]]:
    """A stratified continuum cohort; days are shifted so the median individual's onset is day 0.

    Region k lags k·spread_delay_days·(time scale of the individual), the simulation's rule (sim/spread.py).
    """
    s, u = vulnerability_sd_log / (drive_exponent + 1.0), reinnervation_max
    # the median individual's onset (surviving fraction onset_index/u) happens drive_offset_days after drive start
    log_t50 = np.log(drive_offset_days) - s * norm.isf(onset_index / u)
    z = norm.ppf((np.arange(n) + 0.5) / n)
    people = []
    for zi in z:
        scale = np.exp(-individual_spread_per_unit_time * zi)  # = drive multiplier^(−1/(m+1))
        lags = tuple(k * spread_delay_days * scale for k in range(regions))
        people.append(individual(log_t50 + np.log(scale), s, u, onset_index, end_index, lags))
    for p in people:
        p["onset_days"] -= drive_offset_days
        p["end_stage_days"] -= drive_offset_days
    return people


def scan(preset: str = "human_sporadic", targets_file: Path | str = "experiments/calibration/targets.yaml") -> list[dict[str, Any]]:
    """Every grid point with its loss and target values (fitted targets only), best first."""
    from sim.presets import compose_config

    cfg = compose_config([f"disease={preset}"])
    targets = [t for t in calibrate.load_targets(targets_file, preset) if t["fit"]]
    rows = []
    for values in itertools.product(*GRID.values()):
        point = dict(zip(GRID, values))
        if point["regions"] == 1 and point["spread_delay_days"] > 0:
            continue  # one region has no spread
        people = cohort(**point, onset_index=cfg.disease.onset_functional_index,
                        end_index=cfg.disease.end_stage_functional_index)
        loss, scored = calibrate.score(people, targets)
        rows.append({"loss": loss, **point, **{r["id"]: r["model"] for r in scored},
                     "inside": sum(r["inside"] for r in scored), "of": len(scored)})
    return sorted(rows, key=lambda r: r["loss"])


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    preset = args[0] if args else "human_sporadic"
    rows = scan(preset)
    print(sim.NOTICE)
    print(f"\n{len(rows)} grid points of the continuum limit for {preset}; "
          f"{sum(r['inside'] == r['of'] for r in rows)} meet every fitted band. Best 10:")
    keys = [k for k in rows[0] if k not in ("inside", "of")]
    print(" | ".join(keys) + " | inside")
    for r in rows[:10]:
        print(" | ".join(f"{r[k]:.3g}" for k in keys) + f" | {r['inside']}/{r['of']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
