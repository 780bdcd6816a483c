"""Calibrate a disease preset's UNTREATED course to natural-history bands.

A calibration trial runs a virtual cohort of control arms (one seed = one individual, drawn with
the preset's between-individual variability), computes cohort statistics (median end stage, SD of
end stage, onset, T50 of motor-neuron loss, …) and scores them against the bands in
`experiments/calibration/targets.yaml`. Hydra's Optuna sweeper proposes disease-course values and
minimises the score:

    alsim -m +experiment=calibrate_sod1_g93a_mouse

Only the control arm is ever simulated, so the treatment's effect cannot be tuned in: it stays an
output of the mechanisms. Without `-m` the same preset scores the current values (a check).

NON-CLINICAL: a fitted preset reproduces published natural-history summaries; it predicts nothing
about patients.
"""
from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
from pathlib import Path
from typing import Any, Callable

import numpy as np
import yaml
from scipy.stats import CensoredData, ecdf, lognorm, norm, qmc, ttest_rel

import sim
from sim.config import ConfigError, DiseaseConfig, SimConfig, iter_params
from sim.model import Individual, individual_at
from sim.presets import manipulation_preset
from sim.recorder import ArmRecord, write_json_atomic, write_text_atomic
from sim.run import ArmJob, arm_outcomes, first_day, raise_first, run_arm, run_arms_parallel

MONTH_DAYS = 30.4375
ALSFRS_MAX = 48.0  # functional index × 48 as an ALSFRS-R equivalent (assumption; docs/model.md)
MICROGLIA_RISE = 0.25  # activated (non-surveillant) microglia ≥ 25 % of the initial count: "clearly increased" (assumption)
# Post-diagnosis follow-up, the window in which the human decline targets were measured (human read-outs).
DIAGNOSTIC_DELAY_MONTHS = 11.0  # median onset → diagnosis: Paganoni et al. 2014 ALS FTD 15:453 (11.5 mo); Falcão de Campos et al. 2023 Front Neurol 13:1064619 (11 mo)
SLOPE_FOLLOW_UP_MONTHS = 24.0  # ALSFRS-R slope over up to 24 months of follow-up: van Eijk et al. 2025 ALS FTD 26(sup1):30
MUNIX_FOLLOW_UP_MONTHS = 12.0  # MUNIX decline over 12 months: Neuwirth et al. 2015 JNNP 86:1172
MIN_FOLLOW_UP_MONTHS = 3.0  # two visits a quarter apart at least, or the individual is not in such a cohort (assumption)
WEIGHTS = {"H": 1.0, "M": 0.5, "L": 0.25, "consistency": 1.0}
NON_FINITE_PENALTY = 100.0
FAILED_TRIAL_LOSS = 1e9  # what the sweeper sees for a trial that could not run
TRIAL_FILE = "calibration_trial.json"


# --------------------------------------------------------------------------- one individual
def _slope_per_month(days: np.ndarray, values: np.ndarray) -> float:
    """Least-squares decline (positive = falling) per month, or NaN with fewer than two points."""
    if len(days) < 2:
        return math.nan
    return float(-np.polyfit(days / MONTH_DAYS, values, 1)[0])


def relative_loss_per_month(days: np.ndarray, values: np.ndarray, window: np.ndarray) -> float:
    """Decline in % of the window's first value per month (positive = falling), or NaN for an empty window."""
    if not window.any():
        return math.nan
    return _slope_per_month(days[window], 100.0 * values[window] / max(values[window][0], 1e-9))


def _follow_up(days: np.ndarray, onset: float | None, end: float | None, horizon: float, months: float) -> np.ndarray:
    """Recorded days of a post-diagnosis follow-up: diagnosis (onset + delay) to end stage or `months` later.

    Empty when the individual reaches end stage (or the horizon) less than MIN_FOLLOW_UP_MONTHS after diagnosis:
    like the patients who die before they could join a cohort, such an individual has no measured slope.
    """
    if onset is None:
        return np.zeros(len(days), bool)
    diagnosis = onset + DIAGNOSTIC_DELAY_MONTHS * MONTH_DAYS
    stop = min(end if end is not None else horizon, diagnosis + months * MONTH_DAYS)
    if stop - diagnosis < MIN_FOLLOW_UP_MONTHS * MONTH_DAYS:
        return np.zeros(len(days), bool)
    return (days >= diagnosis) & (days <= stop)


def control_job(cfg: SimConfig, seed: int, individual: Individual | None = None) -> ArmJob:
    """The untreated arm of individual `seed` (the seed's own draw, or `individual`), time series only."""
    cfg = dataclasses.replace(cfg, seed=seed, treatment=dataclasses.replace(cfg.treatment, enabled=False))
    return ArmJob(cfg, "control", individual, snapshots=False)


def individual_outcomes(cfg: SimConfig, seed: int, individual: Individual | None = None) -> dict[str, Any]:
    """Run one individual's control arm (the seed's own draw, or `individual`) and return its natural-history read-outs."""
    job = control_job(cfg, seed, individual)
    return outcomes_of(job.cfg, run_arm(job.cfg, "control", individual=individual))


def outcomes_of(cfg: SimConfig, record: ArmRecord) -> dict[str, Any]:
    """The natural-history read-outs of one individual's control-arm record (`cfg`: that individual's config)."""
    seed = cfg.seed
    o = arm_outcomes(record, cfg.disease)
    rows = record.rows
    days = np.array([r["day"] for r in rows])
    # the person's indices: means over the body regions (sim/spread.py); one region = the patch
    alive = np.array([r["person_mn_alive_fraction"] for r in rows])
    units = np.array([r["person_motor_unit_index"] for r in rows])
    function = np.array([r["person_functional_index"] for r in rows])
    activated = np.array([r["microglia_total"] - r["microglia_surveillant"] for r in rows]) / max(rows[0]["microglia_total"], 1)
    onset, end = o["onset_days"], o["end_stage_days"]
    horizon = cfg.disease.horizon_days
    ill = (days >= onset) & (days <= (end if end is not None else horizon)) if onset is not None else np.zeros(len(days), bool)
    slope_window = _follow_up(days, onset, end, horizon, SLOPE_FOLLOW_UP_MONTHS)
    munix_window = _follow_up(days, onset, end, horizon, MUNIX_FOLLOW_UP_MONTHS)
    return {
        "seed": seed, **record.individual,
        "onset_days": onset, "end_stage_days": end, "t50_days": o["t50_days"], "horizon_days": horizon,
        "onset_left_censored": onset is not None and onset <= days[0],
        "mn_fraction_at_60d": float(np.interp(60.0, days, alive)) if days[0] <= 60.0 <= days[-1] else None,
        "mn_fraction_at_end_stage": o["mn_alive_at_end_stage"],
        "microglia_rise_days": first_day(days, activated >= MICROGLIA_RISE),
        "functional_slope_pts_per_month": _slope_per_month(days[slope_window], ALSFRS_MAX * function[slope_window]),
        "mn_loss_pct_per_month": relative_loss_per_month(days, alive, munix_window),
        "motor_unit_loss_pct_per_month": relative_loss_per_month(days, units, munix_window),
        "activated_microglia_mean": float(np.mean(activated[ill])) if ill.any() else None,
    }


def stratified_individuals(d: DiseaseConfig, n: int, seed: int) -> list[Individual]:
    """n individuals on a centred Latin hypercube of the preset's (drive, Treg) spreads: one quantile stratum each.

    A random cohort of a few dozen can be a chance-fast or chance-slow sample of a population with a wide spread;
    stratifying keeps every cohort's spread equal to the population's (variance reduction, not a different model).
    """
    z = norm.ppf(qmc.LatinHypercube(d=2, scramble=False, rng=seed).random(n))
    return [individual_at(d, a, b) for a, b in z]


def run_cohort(cfg: SimConfig, seeds: list[int], workers: int = 0,
               individuals: list[Individual] | None = None) -> list[dict[str, Any]]:
    """Control-arm read-outs of every individual, in seed order (cohorts on parallel processes, identical results)."""
    people = individuals or [None] * len(seeds)
    jobs = [control_job(cfg, s, p) for s, p in zip(seeds, people)]
    records = raise_first(run_arms_parallel(jobs, workers))
    return [outcomes_of(job.cfg, record) for job, record in zip(jobs, records)]


def calibration_cohort(cfg: SimConfig, seeds: list[int], workers: int = 0) -> list[dict[str, Any]]:
    """The calibration cohort on `seeds`, its individuals drawn as `calibration.individuals` says."""
    people = (stratified_individuals(cfg.disease, len(seeds), seeds[0])
              if cfg.calibration.individuals == "stratified" else None)
    return run_cohort(cfg, seeds, workers, people)


def manipulated_cohort(cfg: SimConfig, manipulation: str, seeds: list[int], workers: int = 0) -> list[dict[str, Any]]:
    """The same individuals as `calibration_cohort(cfg, seeds)`, with the manipulation preset applied (both are untreated)."""
    return calibration_cohort(dataclasses.replace(cfg, manipulation=manipulation_preset(manipulation)), seeds, workers)


# --------------------------------------------------------------------------- what a manipulation did (paired by seed)
CHANGE_NOT_DETECTED_PCT = 5.0  # convention: a change under 5 % of the control value counts as "no change" (survival
# studies of 10-15 mice per group cannot detect less; Scott et al. 2008 Amyotroph Lateral Scler 9:4 on power)


def _pairs(control: list[dict], manipulated: list[dict], key: str) -> tuple[np.ndarray, np.ndarray, bool]:
    """Control and manipulated values of `key` for the individuals in both cohorts (by seed); an event not reached
    is set to the horizon (a lower bound), and the flag says whether any was."""
    by_seed = {ind["seed"]: ind for ind in control}
    c, m, censored = [], [], False
    for ind in manipulated:
        base = by_seed.get(ind["seed"])
        if base is None:
            continue
        values = []
        for one in (base, ind):
            v = one.get(key)
            if v is None and key in ("end_stage_days", "onset_days", "t50_days"):
                v, censored = one["horizon_days"], True
            values.append(math.nan if v is None else float(v))
        c.append(values[0])
        m.append(values[1])
    c, m = np.array(c), np.array(m)
    keep = np.isfinite(c) & np.isfinite(m)
    return c[keep], m[keep], censored


def paired_change(control: list[dict], manipulated: list[dict], outcome: str) -> dict[str, Any]:
    """What a manipulation did to the same individuals: mean paired change of one outcome, its test and units.

    survival: end stage (loss of righting reflex), change in % of the control mean; onset: days; progression:
    onset → end stage, %; t50 and mn_loss (motor-neuron degeneration): day of 50 % motor-neuron loss, %;
    reactive_microglia: activated microglia between onset and end stage, %.
    """
    key, relative = {"survival": ("end_stage_days", True), "onset": ("onset_days", False), "t50": ("t50_days", True),
                     "mn_loss": ("t50_days", True), "reactive_microglia": ("activated_microglia_mean", True),
                     "progression": (None, True)}[outcome]  # progression: onset → end stage, computed below
    if outcome == "progression":
        cs, ms, cens1 = _pairs(control, manipulated, "end_stage_days")
        co, mo, cens2 = _pairs(control, manipulated, "onset_days")
        n = min(len(cs), len(co))
        c, m, censored = (cs[:n] - co[:n]), (ms[:n] - mo[:n]), cens1 or cens2
    else:
        c, m, censored = _pairs(control, manipulated, key)
    if len(c) < 2:
        return {"outcome": outcome, "n": len(c), "change": math.nan, "p": math.nan, "censored": censored, "unit": ""}
    diff = m - c
    scale = 100.0 / abs(float(np.mean(c))) if relative and np.mean(c) else 1.0
    mean, sd = float(np.mean(diff)) * scale, float(np.std(diff, ddof=1)) * scale
    p = 1.0 if sd == 0 and mean == 0 else (0.0 if sd == 0 else float(ttest_rel(m, c).pvalue))
    return {"outcome": outcome, "n": int(len(c)), "change": mean, "sd": sd, "p": p, "censored": censored,
            "unit": "%" if relative else "d", "control_mean": float(np.mean(c))}


def direction_matches(change: dict[str, Any], direction: str, alpha: float = 0.05) -> bool:
    """Whether a paired change goes the way a study reports: up or down with p < alpha, or none (< 5 % of control)."""
    x, p = change["change"], change["p"]
    if not math.isfinite(x):
        return False
    if direction in ("longer", "later", "more"):
        return x > 0 and p < alpha
    if direction in ("shorter", "earlier", "fewer"):
        return x < 0 and p < alpha
    if direction == "none":
        limit = CHANGE_NOT_DETECTED_PCT if change["unit"] == "%" else CHANGE_NOT_DETECTED_PCT / 100 * abs(change["control_mean"])
        return abs(x) < limit
    raise ValueError(f"unknown direction {direction!r}")


# --------------------------------------------------------------------------- cohort statistics
def _col(cohort: list[dict], key: str, censor_at_horizon: bool = False) -> np.ndarray:
    """One read-out across the cohort; an event not reached is set to the horizon (right-censored) if asked."""
    out = []
    for ind in cohort:
        v = ind.get(key)
        out.append(ind["horizon_days"] if v is None and censor_at_horizon else (math.nan if v is None else v))
    return np.array(out, dtype=float)


def _survival_from_onset(cohort: list[dict]) -> tuple[np.ndarray, np.ndarray]:
    """Onset → end stage of each individual and whether it was observed (False: right-censored).

    An end stage not reached by the horizon is censored at horizon − onset: the individual survived at
    least that long. An individual without onset in the simulated days is censored at +inf: every virtual
    individual develops the disease (the drive only grows), but the slowest progressors' whole course can
    outrun the horizon, and they are slower than everyone with an observed course. Dropping either kind
    would leave a cohort of the faster progressors only, its survival biased short and its spread narrow.
    """
    end, onset = _col(cohort, "end_stage_days"), _col(cohort, "onset_days")
    horizon = _col(cohort, "horizon_days")
    observed = ~np.isnan(onset) & ~np.isnan(end)
    time = np.where(np.isnan(onset), math.inf, np.where(observed, end - onset, horizon - onset))
    return time, observed


def _censored_data(time: np.ndarray, observed: np.ndarray) -> CensoredData:
    """Survival times for scipy; +inf (no onset) is censored just beyond every observed time."""
    beyond = float(time[np.isfinite(time)].max()) + 1.0  # a lower bound above every event: at risk through all
    censored = np.where(np.isfinite(time[~observed]), time[~observed], beyond)
    return CensoredData(uncensored=time[observed], right=censored)


def _km_quantile(time: np.ndarray, observed: np.ndarray, p: float) -> float:
    """The p-quantile of survival by Kaplan–Meier (inf if the curve never falls to 1 − p).

    Kaplan–Meier (Kaplan & Meier 1958 JASA 53:457, doi:10.1080/01621459.1958.10501452) is how the
    register cohorts behind the survival targets estimate median survival under censoring (reviewed by
    Chiò et al. 2009); an individual censored early counts only while it is known to be alive, so a short
    censored follow-up does not count as a short survival. Where the curve sits exactly at 1 − p
    over an interval, the quantile is the interval's midpoint (the usual convention; without censoring the
    median is then the sample median).
    """
    if not observed.any():
        return math.inf if len(time) else math.nan
    curve = ecdf(_censored_data(time, observed)).sf
    times, sf = curve.quantiles, curve.probabilities
    below = np.nonzero(sf <= 1.0 - p + 1e-9)[0]
    if not len(below):
        return math.inf
    k = below[0]
    if abs(sf[k] - (1.0 - p)) < 1e-9:  # flat exactly at 1 − p: midpoint to the next event
        later = times[k + 1:][sf[k + 1:] < sf[k]]
        return float((times[k] + later[0]) / 2) if len(later) else math.inf
    return float(times[k])


def _median_survival(cohort: list[dict]) -> float:
    return _km_quantile(*_survival_from_onset(cohort), 0.5)


def _log_survival_sd(cohort: list[dict]) -> float:
    """σ of log survival: the maximum-likelihood lognormal fitted to the censored survival times.

    The target defines the spread as the σ of a normal log survival (Knibb et al. 2016), so the estimator
    fits exactly that, censoring included. It replaced the distance of the Kaplan–Meier median and lower
    quartile (until stage 8), whose sampling SD on a cohort of 32 is about 0.3 against a band of ±0.2: a
    model with σ = 1, the band's centre, fell outside the band in about half of its cohorts; the
    likelihood fit's SD is about 0.13 (experiments/calibration/README.md, read-outs). Individuals without
    onset are censored just beyond every observed survival (only a lower bound is known); a same-day
    onset and end stage counts as 1 day, the recording interval.
    """
    time, observed = _survival_from_onset(cohort)
    if len(time) < 4 or observed.sum() < 2:
        return math.nan
    sigma, _loc, _scale = lognorm.fit(_censored_data(np.maximum(time, 1.0), observed), floc=0)
    return float(sigma)


def _nan(fn: Callable[[np.ndarray], float]) -> Callable[[np.ndarray], float]:
    def safe(x: np.ndarray) -> float:
        x = x[np.isfinite(x)]
        return float(fn(x)) if len(x) >= (2 if fn is _sd else 1) else math.nan
    return safe


def _sd(x: np.ndarray) -> float:
    return float(np.std(x, ddof=1))


STATISTICS: dict[str, Callable[[list[dict]], float]] = {
    "median_end_stage_days": lambda c: _nan(np.median)(_col(c, "end_stage_days", True)),
    "sd_end_stage_days": lambda c: _nan(_sd)(_col(c, "end_stage_days", True)),
    "mean_onset_days": lambda c: _nan(np.mean)(_col(c, "onset_days", True)),
    "median_onset_days": lambda c: _nan(np.median)(_col(c, "onset_days", True)),
    "sd_onset_days": lambda c: _nan(_sd)(_col(c, "onset_days", True)),
    "median_onset_to_end_stage_days": _median_survival,
    "mean_mn_fraction_at_60d": lambda c: _nan(np.mean)(_col(c, "mn_fraction_at_60d")),
    "median_t50_days": lambda c: _nan(np.median)(_col(c, "t50_days", True)),
    "median_mn_fraction_at_end_stage": lambda c: _nan(np.median)(_col(c, "mn_fraction_at_end_stage")),
    "median_microglia_rise_days": lambda c: _nan(np.median)(_col(c, "microglia_rise_days", True)),
    "median_survival_from_onset_months": lambda c: _median_survival(c) / MONTH_DAYS,
    "log_survival_sd": _log_survival_sd,
    "mean_functional_slope_pts_per_month": lambda c: _nan(np.mean)(_col(c, "functional_slope_pts_per_month")),
    "sd_functional_slope_pts_per_month": lambda c: _nan(_sd)(_col(c, "functional_slope_pts_per_month")),
    "mean_mn_loss_pct_per_month": lambda c: _nan(np.mean)(_col(c, "mn_loss_pct_per_month")),
    "mean_motor_unit_loss_pct_per_month": lambda c: _nan(np.mean)(_col(c, "motor_unit_loss_pct_per_month")),
}


# --------------------------------------------------------------------------- targets and score
def load_targets(path: Path | str, preset: str) -> list[dict[str, Any]]:
    """The preset's targets from targets.yaml; raises ConfigError (one line) when missing or malformed."""
    path = Path(path)
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigError(f"calibration.targets_file={str(path)!r} is invalid: cannot read it ({type(exc).__name__})") from None
    if not isinstance(doc, dict) or preset not in doc:
        known = ", ".join(doc) if isinstance(doc, dict) else "none"
        raise ConfigError(f"disease.name={preset!r} has no calibration targets in {path}: allowed presets are {known}")
    targets = doc[preset]["targets"]
    for t in targets:
        known = MANIPULATION_OUTCOMES if t.get("manipulation") else STATISTICS
        if t["statistic"] not in known or t["confidence"] not in WEIGHTS:
            raise ConfigError(f"{path}: target {t.get('id')!r} is invalid: statistic must be one of {', '.join(known)} "
                              f"and confidence one of {', '.join(WEIGHTS)}")
    return targets


MANIPULATION_OUTCOMES = {"survival_change_pct": "survival", "onset_change_days": "onset",
                         "progression_change_pct": "progression", "t50_change_pct": "t50"}


def target_loss(value: float, band: tuple[float, float], confidence: str) -> float:
    """Weighted penalty: steep outside the band, a gentle pull toward its centre inside (0 at the centre)."""
    if not math.isfinite(value):
        return WEIGHTS[confidence] * NON_FINITE_PENALTY
    lo, hi = band
    z = (value - (lo + hi) / 2) / ((hi - lo) / 2)
    return WEIGHTS[confidence] * (10.0 * max(0.0, abs(z) - 1.0) ** 2 + 0.1 * z * z)


def score(cohort: list[dict], targets: list[dict], manipulated: dict[str, list[dict]] | None = None) -> tuple[float, list[dict]]:
    """Total loss over the fitted targets, and one row per target (fitted or reported only).

    A target with `manipulation: <name>` is a paired change between `manipulated[name]` and the same individuals
    in `cohort` (a training row of experiments/calibration/manipulations.csv).
    """
    rows, total = [], 0.0
    for t in targets:
        if t.get("manipulation"):
            value = paired_change(cohort, (manipulated or {})[t["manipulation"]], MANIPULATION_OUTCOMES[t["statistic"]])["change"]
        else:
            value = STATISTICS[t["statistic"]](cohort)
        lo, hi = t["band"]
        loss = target_loss(value, (lo, hi), t["confidence"])
        total += loss if t["fit"] else 0.0
        rows.append({"id": t["id"], "statistic": t["statistic"] + (f" ({t['manipulation']})" if t.get("manipulation") else ""),
                     "band": [lo, hi], "model": value,
                     "inside": bool(math.isfinite(value) and lo <= value <= hi), "confidence": t["confidence"],
                     "fit": bool(t["fit"]), "loss": loss, "source": t["source"]})
    return total, rows


def manipulations_of(targets: list[dict]) -> list[str]:
    """The manipulations the targets need, in order of first appearance."""
    return list(dict.fromkeys(t["manipulation"] for t in targets if t.get("manipulation")))


# --------------------------------------------------------------------------- one trial (a Hydra job)
def cohort_seeds(cfg: SimConfig) -> list[int]:
    c = cfg.calibration
    return list(range(c.first_seed, c.first_seed + c.cohort_size))


FITTABLE_SECTIONS = ("disease", "neurons", "microglia", "tregs")


def model_values(cfg: SimConfig) -> dict[str, Any]:
    """Every value a calibration may fit: the disease course and the tissue biology (dotted keys)."""
    return {key: value for key, _, value in iter_params(cfg) if key.split(".")[0] in FITTABLE_SECTIONS}


def trial(cfg: SimConfig, out_dir: Path, overrides: list[str]) -> dict[str, Any]:
    """Score the preset's current disease-course values on the fitting cohort; write calibration_trial.json."""
    targets = load_targets(cfg.calibration.targets_file, cfg.disease.name)
    people = calibration_cohort(cfg, cohort_seeds(cfg), cfg.calibration.workers)
    paired_seeds = cohort_seeds(cfg)[:cfg.calibration.manipulation_cohort_size]
    manipulated = {name: manipulated_cohort(cfg, name, paired_seeds, cfg.calibration.workers) for name in manipulations_of(targets)}
    loss, rows = score(people, targets, manipulated)
    result = {"non_clinical": True, "notice": sim.NOTICE, "preset": cfg.disease.name, "domain": cfg.domain.name,
              "loss": loss, "overrides": overrides, "values": model_values(cfg), "seeds": cohort_seeds(cfg),
              "individuals": cfg.calibration.individuals, "targets": rows, "cohort": people, "manipulated": manipulated,
              "version": sim.__version__}
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / TRIAL_FILE, result)
    return result


def _fmt(x: Any) -> str:
    if isinstance(x, float):
        return "—" if not math.isfinite(x) else f"{x:.3g}"
    return str(x)


def targets_table(rows: list[dict]) -> str:
    """Markdown table: target, band, model value, inside?, confidence, fitted or checked."""
    out = ["| id | statistic | band | model | inside band | confidence | role |", "|---|---|---|---|---|---|---|"]
    for r in rows:
        out.append(f"| {r['id']} | {r['statistic']} | {r['band'][0]:g}–{r['band'][1]:g} | {_fmt(r['model'])} | "
                   f"{'yes' if r['inside'] else '**no**'} | {r['confidence']} | {'fitted' if r['fit'] else 'check only'} |")
    return "\n".join(out)


def trial_summary(result: dict) -> str:
    """What a single (non-sweep) calibration check prints."""
    n_in = sum(r["inside"] for r in result["targets"])
    return "\n".join([sim.NOTICE, "", f"untreated cohort of {len(result['seeds'])} virtual individuals, preset "
                      f"{result['preset']}, domain {result['domain']}: {n_in} of {len(result['targets'])} targets inside "
                      f"their bands (loss {result['loss']:.3g})", "", targets_table(result["targets"])])


# --------------------------------------------------------------------------- the fit report (end of a sweep)
def read_trials(sweep_dir: Path) -> list[dict]:
    trials = []
    for path in sorted(Path(sweep_dir).glob(f"*/{TRIAL_FILE}")):
        try:
            trials.append({"job": path.parent.name, **json.loads(path.read_text(encoding="utf-8"))})
        except (OSError, json.JSONDecodeError):
            continue  # an unfinished or damaged trial is not a result
    return trials


def fit_report(trials: list[dict], fitted_keys: list[str], start_values: dict[str, Any], command: str) -> tuple[str, dict]:
    """Markdown report and machine-readable fit (chosen values, targets vs model) from a sweep's trials."""
    best = min(trials, key=lambda t: t["loss"])
    chosen = {k: best["values"][k] for k in fitted_keys}
    fit = {"non_clinical": True, "notice": sim.NOTICE, "preset": best["preset"], "domain": best["domain"],
           "command": command, "n_trials": len(trials), "best_job": best["job"], "loss": best["loss"],
           "chosen": chosen, "start": {k: start_values.get(k) for k in fitted_keys}, "seeds": best["seeds"],
           "individuals": best.get("individuals", "random"),
           "targets": best["targets"], "version": best["version"]}
    lines = [f"# Calibration of `{best['preset']}` (untreated course)", "", f"> {sim.NOTICE}", "",
             f"Reproduce: `{command}`", "",
             f"{len(trials)} trials, each a cohort of {len(best['seeds'])} virtual individuals (seeds {best['seeds'][0]}–"
             f"{best['seeds'][-1]}, individuals {fit['individuals']}) on the `{best['domain']}` domain; best trial {best['job']} (loss {best['loss']:.3g}). "
             "Only control arms were simulated: the treatment's effect is not part of the fit.", "",
             "## Chosen values", "", "| parameter | start | chosen |", "|---|---|---|"]
    lines += [f"| `{k}` | {_fmt(fit['start'][k])} | {_fmt(v)} |" for k, v in chosen.items()]
    lines += ["", "## Targets vs model (best trial)", "", targets_table(best["targets"]), "",
              "## Sources", ""] + [f"- {r['id']}: {r['source']}" for r in best["targets"]]
    lines += ["", "## All trials", "", "| job | loss | " + " | ".join(f"`{k}`" for k in fitted_keys) + " |",
              "|---|---|" + "---|" * len(fitted_keys)]
    for t in sorted(trials, key=lambda t: t["loss"]):
        lines.append(f"| {t['job']} | {t['loss']:.3g} | " + " | ".join(_fmt(t["values"][k]) for k in fitted_keys) + " |")
    return "\n".join(lines) + "\n", fit


def write_report(sweep_dir: Path, report_dir: Path, fitted_keys: list[str], start_values: dict[str, Any], command: str) -> Path:
    """Write fit_report.md, fit.json and trials.csv for the sweep's best trial under report_dir/<preset>/."""
    trials = read_trials(sweep_dir)
    if not trials:
        raise ConfigError(f"no finished calibration trials in {sweep_dir}")
    text, fit = fit_report(trials, fitted_keys, start_values, command)
    folder = Path(report_dir) / fit["preset"]
    folder.mkdir(parents=True, exist_ok=True)
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["job", "loss", *fitted_keys])
    for t in trials:
        writer.writerow([t["job"], t["loss"], *(t["values"][k] for k in fitted_keys)])
    write_text_atomic(folder / "trials.csv", f"# {sim.NOTICE}\n" + buf.getvalue())
    write_json_atomic(folder / "fit.json", fit)
    write_text_atomic(folder / "fit_report.md", text)
    return folder
