"""A virtual phase 3 trial of NurOwn (MSC-NTF) in the human preset: enrolment, randomization, analysis, replicates.

    alsim +experiment=virtual_trial_nurown

The published trial (Cudkowicz et al. 2022 Muscle Nerve 65:291, doi:10.1002/mus.27472, PMC9305113; NCT03280056
results): autologous MSC-NTF or placebo intrathecally, three treatments 8 weeks apart; 263 screened, 196 randomized
1:1, 95 MSC-NTF and 94 placebo analysed; inclusion ALSFRS-R ≥ 25 at screening, ≥ 3 points decline before
randomization, onset ≤ 24 months before screening; primary endpoint: responder = post-treatment ALSFRS-R slope
improved by ≥ 1.25 points/month over the pre-treatment slope, at 28 weeks; 32.6 % vs 27.7 % (OR 1.33, P = .45),
not met. Every number used here, with where it was read, is in `PUBLISHED`.

How the virtual trial runs (sim/run.py's batched engine, snapshots off):

1. **Pool.** `trial.pool_size` candidates (seeds `trial.first_seed` …, individuals drawn as `trial.individuals`)
   are simulated untreated over the preset's days. Each candidate's symptom onset is read from its own control
   arm; its time from onset to first treatment is drawn once (normal, the published baseline mean and SD, cut to
   the inclusion window), which fixes its screening, randomization, baseline (first treatment) and week-28 days.
2. **Treated arms.** Candidates who could be enrolled are simulated again, treated, with the trial's course
   starting on their own baseline day. Both arms share the seed, so before the first treatment they are the same
   trajectory (checked: `paired_check_max_points` in trial.json) and afterwards their difference is the course's
   modeled effect. Candidates who can never be enrolled (no onset in the simulated days, visits past the horizon,
   or end stage on or before the first treatment, or, if treatment.eligibility_max_days_from_onset is set, onset
   longer than that before it: sim/eligibility.py; the drawn timing already keeps screening within
   trial.max_onset_to_screening_months of onset) are not treated and never enrolled.
3. **Replicates.** Each replicate screens candidates drawn at random (with replacement) from the pool until
   `trial.n_analysed` are enrolled (ALSFRS-R ≥ 25 at screening, decline ≥ 3 from screening to randomization, on
   the visit scores: 48 × functional index plus visit noise, rounded), randomizes them 1:1 (a balanced, seeded
   permutation), takes the treated trajectory of those randomized to MSC-NTF and the control trajectory of those
   randomized to placebo, and runs the pre-specified analysis (`analyse`). Replicates differ in which candidates
   are drawn, their visit noise and their randomization; they share the pool, so they are independent given the
   pool, and the pool's own sampling error (its size) is not in their spread: the report says so.

NON-CLINICAL: a consequence of the model's assumptions, not a prediction for patients.
"""
from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import binomtest, fisher_exact, norm

import sim
from sim.config import SimConfig, TreatmentConfig, TrialOptions
from sim.eligibility import not_eligible_reason
from sim.experiments.calibrate import ALSFRS_MAX, MONTH_DAYS, stratified_individuals
from sim.recorder import write_json_atomic, write_text_atomic
from sim.run import ArmJob, arm_outcomes, raise_first, run_arms_parallel
from sim.treatment import cells_per_infusion

TRIAL_FILE = "trial.json"
REPORT_FILE = "trial.md"
NON_CLINICAL = "Modeled, non-clinical: a consequence of the model's assumptions, not a prediction for patients."
VISITS = ("screening", "randomization", "baseline", "week28")

# Every published number the trial uses or is compared with, and where it was read (checked 2026-12-07).
PAPER = "Cudkowicz et al. 2022 Muscle Nerve 65(3):291-302, doi:10.1002/mus.27472"
PUBLISHED: dict[str, Any] = {
    "source": PAPER,
    "design": {
        "product": {"value": "autologous bone-marrow MSC-NTF (MSCs induced to secrete neurotrophic factors) or placebo, "
                             "intrathecal", "where": "abstract (" + PAPER + ", via openaccess.library.uitm.edu.my record); "
                                                                             "NCT03280056 record"},
        "course": {"value": "three intrathecal injections of 100-125 × 10^6 cells every 8 weeks",
                   "where": "ClinicalTrials.gov NCT03280056 results, participant flow (arm description)"},
        "screened": {"value": 263, "where": "NCT03280056 results, recruitment details"},
        "randomized": {"value": 196, "where": "NCT03280056 results, recruitment details (1:1)"},
        "analysed": {"value": {"msc_ntf": 95, "placebo": 94}, "where": "PMC9305113 Table 1 (N = 95, N = 94)"},
        "inclusion": {"value": "revised El Escorial; ALSFRS-R ≥ 25 at screening; ≥ 3 ALSFRS-R points decline prior to "
                               "randomization; symptom onset within 24 months at the screening visit; upright SVC ≥ 65 %",
                      "where": "abstract (ALSFRS-R ≥ 25, ≥ 3 points); NCT03280056 eligibility (24 months, SVC)"},
        "pre_randomization_period": {"value": None, "where": "not verified: the run-in length over which the ≥ 3-point "
                                                             "decline was required was not found in the text we could read"},
        "onset_to_first_treatment_months": {"value": {"msc_ntf": [19.6, 5.17], "placebo": [19.1, 4.90]},
                                            "where": "PMC9305113 Table 1, mean (SD)"},
        "baseline_alsfrs": {"value": {"msc_ntf": [30.3, 6.5], "placebo": [31.4, 6.1]},
                            "where": "PMC9305113 Table 1, mean (SD)"},
        "baseline_alsfrs_le25_pct": {"value": {"msc_ntf": 24.2, "placebo": 22.3}, "where": "PMC9305113 Table 1"},
        "primary_endpoint": {"value": "responder: post-treatment ALSFRS-R slope improved by ≥ 1.25 points/month over the "
                                      "pre-treatment slope, at 28 weeks after the first treatment",
                             "where": "abstract; NCT03280056 results (time frame: 28 weeks following the first "
                                      "intrathecal injection)"},
        "analysis": {"value": "logistic regression adjusted for baseline ALSFRS-R, onset-to-first-treatment duration, site of "
                              "onset, riluzole use and pre-treatment slope (OR of 1 tested)",
                     "where": "PMC9305113 Table 4 note"},
    },
    "results": {
        "responders_pct": {"msc_ntf": 32.6, "placebo": 27.7,
                           "where": "abstract (33 % vs 28 %); 32.6 % vs 27.7 %, p = 0.453: sponsor's annual report"},
        "odds_ratio": 1.33, "p": 0.45, "where": "abstract",
        "subgroup_baseline_ge_35": {"n": 58, "msc_ntf_pct": 35.0, "placebo_pct": 16.0, "odds_ratio": 2.6, "p": 0.29,
                                    "where": "abstract (pre-specified; 34.6 % vs 15.6 %, p = 0.305 after the 2022 "
                                             "correction, per the sponsor's annual report)"},
        "met": False,
    },
}


# --------------------------------------------------------------------------- design in days
def visit_days(onset_day: float, onset_to_treatment_months: float, tr: TrialOptions) -> dict[str, float]:
    """Screening, randomization, baseline (first treatment) and week-28 days of one candidate on the preset's clock."""
    baseline = onset_day + onset_to_treatment_months * MONTH_DAYS
    randomization = baseline - tr.randomization_to_treatment_days
    screening = randomization - tr.screening_to_randomization_days
    return {"screening": screening, "randomization": randomization, "baseline": baseline,
            "week28": baseline + tr.follow_up_weeks * 7.0}


def draw_onset_to_treatment(tr: TrialOptions, seed: int) -> float:
    """Months from onset to first treatment for candidate `seed`: normal (the published mean and SD), redrawn until
    screening falls in the inclusion window (after onset, at most `max_onset_to_screening_months` after it)."""
    rng = np.random.default_rng([tr.seed, seed, 17])
    pre = (tr.screening_to_randomization_days + tr.randomization_to_treatment_days) / MONTH_DAYS
    lo, hi = pre, pre + tr.max_onset_to_screening_months
    for _ in range(10_000):
        x = float(rng.normal(tr.onset_to_treatment_mean_months, tr.onset_to_treatment_sd_months))
        if lo <= x <= hi:
            return x
    return float(min(max(tr.onset_to_treatment_mean_months, lo), hi))


# --------------------------------------------------------------------------- one candidate's measures
def measured(true_points: np.ndarray, noise_sd: float, rng: np.random.Generator | None) -> np.ndarray:
    """Visit scores: the model's ALSFRS-R equivalent plus normal measurement noise, rounded to a whole point, in [0, 48]."""
    x = np.asarray(true_points, dtype=float)
    if noise_sd > 0 and rng is not None:
        x = x + rng.normal(0.0, noise_sd, size=x.shape)
    return np.clip(np.round(x), 0.0, ALSFRS_MAX)


def screen(screening_score: float, randomization_score: float, tr: TrialOptions) -> str | None:
    """Why a candidate fails the score criteria at screening and randomization, or None if it passes."""
    if screening_score < tr.min_alsfrs_screening:
        return f"ALSFRS-R {screening_score:g} < {tr.min_alsfrs_screening:g} at screening"
    if screening_score - randomization_score < tr.min_decline_points:
        return f"decline {screening_score - randomization_score:g} < {tr.min_decline_points:g} points before randomization"
    return None


def slopes(scores: dict[str, float], days: dict[str, float]) -> tuple[float, float]:
    """Pre-treatment (screening → baseline) and post-treatment (baseline → week 28) decline in points per month
    (positive = falling), each from its two visits."""
    pre = (scores["screening"] - scores["baseline"]) / ((days["baseline"] - days["screening"]) / MONTH_DAYS)
    post = (scores["baseline"] - scores["week28"]) / ((days["week28"] - days["baseline"]) / MONTH_DAYS)
    return pre, post


def is_responder(scores: dict[str, float], days: dict[str, float], end_stage_day: float | None, tr: TrialOptions) -> bool:
    """Post-treatment slope better than the pre-treatment slope by ≥ the threshold; end stage before week 28 is a
    non-responder (death or its equivalent before the endpoint)."""
    if end_stage_day is not None and end_stage_day <= days["week28"]:
        return False
    pre, post = slopes(scores, days)
    return pre - post >= tr.responder_points_per_month - 1e-12


# --------------------------------------------------------------------------- analysis
def logistic_regression(X: np.ndarray, y: np.ndarray, max_iter: int = 50) -> tuple[np.ndarray, np.ndarray] | None:
    """Maximum-likelihood logistic regression (Newton–Raphson / IRLS): coefficients and their standard errors, or
    None when the fit does not converge (separation: a cell of responders with none in one arm, and the like)."""
    beta = np.zeros(X.shape[1])
    for _ in range(max_iter):
        p = 1.0 / (1.0 + np.exp(-np.clip(X @ beta, -30, 30)))
        w = p * (1 - p)
        H = X.T @ (X * w[:, None])
        try:
            step = np.linalg.solve(H, X.T @ (y - p))
        except np.linalg.LinAlgError:
            return None
        beta = beta + step
        if np.max(np.abs(step)) < 1e-10:
            break
    else:
        return None
    if np.max(np.abs(beta)) > 15:  # a coefficient running off to infinity: quasi-separation
        return None
    p = 1.0 / (1.0 + np.exp(-(X @ beta)))
    H = X.T @ (X * (p * (1 - p))[:, None])
    try:
        cov = np.linalg.inv(H)
    except np.linalg.LinAlgError:
        return None
    if not np.all(np.isfinite(cov)) or np.any(np.diag(cov) <= 0):
        return None
    return beta, np.sqrt(np.diag(cov))


def analyse(treated: np.ndarray, responder: np.ndarray, covariates: np.ndarray | None = None) -> dict[str, Any]:
    """The pre-specified analysis of one trial: responder rates per arm, odds ratio, and the test of OR = 1.

    The published test is a logistic regression of responder status on arm adjusted for baseline covariates
    (PMC9305113 Table 4 note). `covariates` (one row per participant) are added to the model; the adjusted OR and
    its Wald p-value are the primary result when the fit converges. Fisher's exact test (scipy.stats) on the 2 × 2
    table is reported next to it and replaces it when the logistic fit cannot converge (e.g. no responder in an arm).
    The crude OR uses the 2 × 2 table, with 0.5 added to every cell when one is empty (Haldane).
    """
    treated, responder = np.asarray(treated, bool), np.asarray(responder, bool)
    a = int(np.sum(treated & responder))
    b = int(np.sum(treated & ~responder))
    c = int(np.sum(~treated & responder))
    d = int(np.sum(~treated & ~responder))
    n_t, n_p = a + b, c + d
    crude = ((a + .5) * (d + .5)) / ((b + .5) * (c + .5)) if min(a, b, c, d) == 0 else (a * d) / (b * c)
    fisher_p = float(fisher_exact([[a, b], [c, d]]).pvalue)
    X = [np.ones(len(treated)), treated.astype(float)]
    if covariates is not None and len(covariates):
        cov = np.asarray(covariates, float).reshape(len(treated), -1)
        sd = cov.std(axis=0)
        keep = sd > 1e-12  # a constant covariate carries nothing and makes the model singular
        X += list(((cov[:, keep] - cov[:, keep].mean(axis=0)) / sd[keep]).T)
    fit = logistic_regression(np.column_stack(X), responder.astype(float))
    out: dict[str, Any] = {"n_msc_ntf": n_t, "n_placebo": n_p, "responders_msc_ntf": a, "responders_placebo": c,
                           "rate_msc_ntf": a / n_t if n_t else math.nan, "rate_placebo": c / n_p if n_p else math.nan,
                           "odds_ratio_crude": float(crude), "p_fisher": fisher_p,
                           "odds_ratio_adjusted": None, "p_logistic": None, "test": "fisher exact (logistic fit did not converge)"}
    out["rate_difference"] = out["rate_msc_ntf"] - out["rate_placebo"]
    if fit is not None:
        beta, se = fit
        z = beta[1] / se[1]
        out.update(odds_ratio_adjusted=float(math.exp(beta[1])), p_logistic=float(2 * norm.sf(abs(z))),
                   test="logistic regression, Wald" + (" (adjusted)" if len(X) > 2 else ""))
    out["odds_ratio"] = out["odds_ratio_adjusted"] if fit is not None else out["odds_ratio_crude"]
    out["p"] = out["p_logistic"] if fit is not None else fisher_p
    out["met"] = bool(out["p"] < 0.05 and out["odds_ratio"] > 1.0)
    return out


def randomize(n: int, rng: np.random.Generator) -> np.ndarray:
    """1:1 allocation of n participants (ceil(n/2) to MSC-NTF) in a seeded random order: True = MSC-NTF."""
    labels = np.zeros(n, bool)
    labels[: (n + 1) // 2] = True
    return rng.permutation(labels)


# --------------------------------------------------------------------------- one replicate
def _scores(cand: dict, arm: str, noise: np.ndarray) -> dict[str, float]:
    """A candidate's four visit scores in one arm (visits before the first treatment are the same in both arms)."""
    true = [cand["control"][v] if v != "week28" else cand[arm]["week28"] for v in VISITS]
    return dict(zip(VISITS, measured(np.array(true) + noise, 0.0, None).tolist()))


def replicate(pool: list[dict], tr: TrialOptions, noise_sd: float, rng: np.random.Generator,
              max_screens: int | None = None) -> dict[str, Any]:
    """One virtual trial from the pool's enrollable candidates (those with both arms): screen, enrol, randomize, analyse."""
    eligible = [c for c in pool if c.get("treated") is not None]
    if noise_sd == 0:  # screening is then fixed per candidate: a pool in which nobody passes enrols nobody, at once
        zero = np.zeros(len(VISITS))
        if not any(screen(*[_scores(c, "control", zero)[v] for v in ("screening", "randomization")], tr) is None
                   for c in eligible):
            eligible = []
    if not eligible:
        return {"enrolled": 0, "screened": 0, "participants": [], "analysis": None}
    max_screens = max_screens or 50 * tr.n_analysed
    people, screened = [], 0
    while len(people) < tr.n_analysed and screened < max_screens:
        if screened >= 10 * tr.n_analysed and not people:
            break  # nobody passes in ten times the trial's size: the pool cannot fill this trial
        cand = eligible[int(rng.integers(len(eligible)))]
        screened += 1
        noise = rng.normal(0.0, noise_sd, size=len(VISITS)) if noise_sd > 0 else np.zeros(len(VISITS))
        control = _scores(cand, "control", noise)
        if screen(control["screening"], control["randomization"], tr) is None:
            people.append((cand, noise))
    if len(people) < 2:
        return {"enrolled": len(people), "screened": screened, "participants": [], "analysis": None}
    arm = randomize(len(people), rng)
    resp, cov, base, who = [], [], [], []
    for (cand, noise), t in zip(people, arm):
        name = "treated" if t else "control"
        scores = _scores(cand, name, noise)
        end = cand["treated_end_stage_day"] if t else cand["control_end_stage_day"]
        resp.append(is_responder(scores, cand["days"], end, tr))
        pre, _ = slopes(scores, cand["days"])
        cov.append([scores["baseline"], cand["onset_to_treatment_months"], pre])
        base.append(scores["baseline"])
        who.append((cand["seed"], bool(t), bool(resp[-1])))
    resp, cov, base = np.array(resp), np.array(cov), np.array(base)
    sub = base >= tr.subgroup_min_baseline
    result = {"enrolled": len(people), "screened": screened, "participants": who, "analysis": analyse(arm, resp, cov),
              "baseline_alsfrs_mean": float(base.mean()), "baseline_alsfrs_sd": float(base.std(ddof=1)),
              "onset_to_treatment_mean_months": float(cov[:, 1].mean()), "pre_slope_mean": float(cov[:, 2].mean()),
              "subgroup_n": int(sub.sum()),
              "subgroup": analyse(arm[sub], resp[sub], None) if sub.sum() >= 2 and 0 < arm[sub].sum() < sub.sum() else None}
    return result


def replicates(pool: list[dict], tr: TrialOptions, noise_sd: float, n: int, seed_key: int = 0) -> list[dict]:
    """`n` replicates; replicate k draws from its own stream (trial.seed, noise level, k): reproducible one by one."""
    return run_replicates(lambda rng: replicate(pool, tr, noise_sd, rng), tr.seed, n, seed_key)


def run_replicates(one: Callable[[np.random.Generator], dict], trial_seed: int, n: int, seed_key: int = 0) -> list[dict]:
    """`n` replicates of a design (shared by every virtual trial): replicate k is `one(rng)` with its own stream
    (trial.seed, seed_key, k), so each reproduces on its own."""
    return [one(np.random.default_rng([trial_seed, seed_key, k])) for k in range(n)]


def fraction_with_ci(met: int, n: int) -> tuple[float | None, list[float] | None]:
    """Fraction of n replicates meeting an endpoint and its exact (Clopper–Pearson) 95 % CI; (None, None) for n = 0."""
    if not n:
        return None, None
    ci = binomtest(met, n).proportion_ci()
    return met / n, [float(ci.low), float(ci.high)]


# --------------------------------------------------------------------------- summaries
def _interval(x: list[float]) -> dict[str, float | None]:
    a = np.array([v for v in x if v is not None and np.isfinite(v)], float)
    if not len(a):
        return {"median": None, "lo": None, "hi": None}
    lo, med, hi = np.percentile(a, [2.5, 50, 97.5])
    return {"median": float(med), "lo": float(lo), "hi": float(hi)}


def summarize_replicates(reps: list[dict]) -> dict[str, Any]:
    """Across replicates: fraction meeting the endpoint (with a Clopper–Pearson 95 % CI) and the 2.5–97.5 percentile
    range of each arm's responder rate, their difference, the OR and the p-value."""
    done = [r for r in reps if r["analysis"] is not None]
    n = len(done)
    fraction, ci = fraction_with_ci(sum(r["analysis"]["met"] for r in done), n)
    sub = [r["subgroup"] for r in done if r.get("subgroup")]
    return {
        "replicates": len(reps), "analysed_replicates": n,
        "fraction_met": fraction,
        "fraction_met_ci95": ci,
        "rate_msc_ntf": _interval([r["analysis"]["rate_msc_ntf"] for r in done]),
        "rate_placebo": _interval([r["analysis"]["rate_placebo"] for r in done]),
        "rate_difference": _interval([r["analysis"]["rate_difference"] for r in done]),
        "odds_ratio": _interval([r["analysis"]["odds_ratio"] for r in done]),
        "p": _interval([r["analysis"]["p"] for r in done]),
        "logistic_converged_fraction": (sum(r["analysis"]["p_logistic"] is not None for r in done) / n) if n else None,
        "enrolled": _interval([r["enrolled"] for r in done]),
        "screen_failure_fraction": _interval([1 - r["enrolled"] / r["screened"] for r in done]),
        "baseline_alsfrs_mean": _interval([r["baseline_alsfrs_mean"] for r in done]),
        "onset_to_treatment_mean_months": _interval([r["onset_to_treatment_mean_months"] for r in done]),
        "subgroup": {"n": _interval([r["subgroup_n"] for r in done]),
                     "rate_msc_ntf": _interval([s["rate_msc_ntf"] for s in sub]),
                     "rate_placebo": _interval([s["rate_placebo"] for s in sub]),
                     "fraction_met": (sum(s["met"] for s in sub) / len(sub)) if sub else None},
    }


def paired_pool_effect(pool: list[dict], tr: TrialOptions) -> dict[str, Any]:
    """Without noise or sampling: among candidates who pass screening on their model scores, the responder rate if all
    were treated and if none were (each is both), and the mean slope change the course makes."""
    rows = []
    for c in pool:
        if c.get("treated") is None:
            continue
        zero = np.zeros(len(VISITS))
        ctl, trt = _scores(c, "control", zero), _scores(c, "treated", zero)
        if screen(ctl["screening"], ctl["randomization"], tr) is not None:
            continue
        true_ctl = {v: c["control"][v] for v in VISITS}
        true_trt = {**true_ctl, "week28": c["treated"]["week28"]}
        rows.append((is_responder(trt, c["days"], c["treated_end_stage_day"], tr),
                     is_responder(ctl, c["days"], c["control_end_stage_day"], tr),
                     slopes(true_ctl, c["days"])[1] - slopes(true_trt, c["days"])[1],
                     c["treated"]["week28"] - c["control"]["week28"]))
    if not rows:
        return {"n": 0}
    a = np.array(rows, float)
    return {"n": len(rows), "responder_rate_if_treated": float(a[:, 0].mean()), "responder_rate_if_placebo": float(a[:, 1].mean()),
            "post_slope_improvement_points_per_month": _interval(list(a[:, 2])),
            "week28_alsfrs_difference_points": _interval(list(a[:, 3])),
            "mean_post_slope_improvement_points_per_month": float(a[:, 2].mean())}


# --------------------------------------------------------------------------- the pool (simulation)
def _at(days: np.ndarray, values: np.ndarray, day: float) -> float:
    return float(np.interp(day, days, values))


def _trajectory(record) -> tuple[np.ndarray, np.ndarray]:
    days = np.array([r["day"] for r in record.rows])
    return days, ALSFRS_MAX * np.array([r["person_functional_index"] for r in record.rows])


def new_candidate(cfg: SimConfig, seed: int, record, arms: tuple[str, ...]):
    """A candidate read from its control arm (before any visit is placed), its outcomes, and its score trajectory; the
    treated `arms` of the design start empty. Its reason is set if it has no onset in the simulated days."""
    o = arm_outcomes(record, cfg.disease)
    days, score = _trajectory(record)
    cand: dict[str, Any] = {"seed": seed, **record.individual, "onset_day": o["onset_days"],
                            "control_end_stage_day": o["end_stage_days"], **{a: None for a in arms},
                            **{f"{a}_end_stage_day": None for a in arms}, "reason": None}
    if o["onset_days"] is None:
        cand["reason"] = "no symptom onset in the simulated days"
    return cand, o, days, score


def place_visits(cfg: SimConfig, cand: dict[str, Any], o: dict[str, Any], days: np.ndarray, score: np.ndarray,
                 last: str, last_label: str, visits: tuple[str, ...]) -> dict[str, Any]:
    """With `cand["days"]` set: why the candidate can never be enrolled (its `last` visit past the simulated days, its
    screening before them, or end stage before its first treatment: sim/eligibility.py) or else its control-arm scores
    at `visits`."""
    if cand["days"][last] > days[-1]:
        cand["reason"] = f"{last_label} (day {cand['days'][last]:.0f}) is past the simulated days (horizon {days[-1]:g})"
        return cand
    if cand["days"]["screening"] < days[0]:
        cand["reason"] = "screening before the first simulated day"
        return cand
    cand["control"] = {v: _at(days, score, cand["days"][v]) for v in visits}
    why = not_eligible_reason(o["end_stage_days"], cand["days"]["baseline"], o["onset_days"],
                              cfg.treatment.eligibility_max_days_from_onset)
    if why:
        cand["reason"] = why
    return cand


def enrol_margin(cand: dict, noise_max: float) -> float | None:
    """How far (points) a candidate's model scores may miss a criterion and still pass in some replicate: four noise SDs
    of a two-visit difference and one point of rounding (beyond it, p < 1e-4 per screen); None if never enrollable."""
    return None if cand["reason"] is not None else 1.0 + 4.0 * noise_max * math.sqrt(2.0)


def candidate_from_control(cfg: SimConfig, seed: int, record) -> dict[str, Any]:
    """A candidate's timing and control-arm visit scores, and why it can never be enrolled (or None)."""
    cand, o, days, score = new_candidate(cfg, seed, record, ("treated",))
    if cand["reason"] is not None:
        return cand
    cand["onset_to_treatment_months"] = draw_onset_to_treatment(cfg.trial, seed)
    cand["days"] = visit_days(o["onset_days"], cand["onset_to_treatment_months"], cfg.trial)
    return place_visits(cfg, cand, o, days, score, "week28", "week 28", VISITS)


def could_enrol(cand: dict, tr: TrialOptions, noise_max: float) -> bool:
    """Whether any replicate could enrol the candidate: its model scores pass screening within `enrol_margin`."""
    margin = enrol_margin(cand, noise_max)
    if margin is None:
        return False
    s, r = cand["control"]["screening"], cand["control"]["randomization"]
    return s >= tr.min_alsfrs_screening - margin and s - r >= tr.min_decline_points - margin


def _people(cfg: SimConfig, seeds: list[int]):
    if cfg.trial.individuals == "stratified":
        return stratified_individuals(cfg.disease, len(seeds), seeds[0])
    return [None] * len(seeds)


def simulate_controls(cfg: SimConfig, log=print, what: str = "virtual trial") -> tuple[list[int], list, list[ArmJob], list]:
    """Every pool candidate's untreated arm (shared by every virtual trial): seeds, individuals, jobs and records."""
    tr = cfg.trial
    seeds = list(range(tr.first_seed, tr.first_seed + tr.pool_size))
    people = _people(cfg, seeds)
    untreated = dataclasses.replace(cfg.treatment, enabled=False)
    jobs = [ArmJob(dataclasses.replace(cfg, seed=s, treatment=untreated), "control", p, snapshots=False)
            for s, p in zip(seeds, people)]
    log(f"{what}: simulating {len(jobs)} candidates' control arms (days {cfg.disease.start_day:g} to "
        f"{cfg.disease.horizon_days:g})")
    return seeds, people, jobs, raise_first(run_arms_parallel(jobs, tr.workers))


def simulate_courses(cfg: SimConfig, courses: list[tuple[int, Any, TreatmentConfig]], last_day: float) -> tuple[list, float]:
    """Treated arms (shared by every virtual trial): one per (seed, individual, course), all stopping a day after
    `last_day` (one horizon for all: one batch). Returns the records and that horizon; the callers' paired checks
    confirm that the shorter horizon leaves the days before it unchanged."""
    short = dataclasses.replace(cfg.disease, horizon_days=min(cfg.disease.horizon_days, math.ceil(last_day) + 1.0))
    jobs = [ArmJob(dataclasses.replace(cfg, seed=seed, disease=short, treatment=course), "treated", person, snapshots=False)
            for seed, person, course in courses]
    return (raise_first(run_arms_parallel(jobs, cfg.trial.workers)) if jobs else []), short.horizon_days


def simulate_pool(cfg: SimConfig, log=print) -> tuple[list[dict], dict[str, Any]]:
    """Simulate every candidate's control arm, then the treated arm of those who could be enrolled."""
    tr = cfg.trial
    t0 = time.monotonic()
    seeds, people, jobs, records = simulate_controls(cfg, log)
    pool = [candidate_from_control(job.cfg, s, rec) for job, s, rec in zip(jobs, seeds, records)]
    t1 = time.monotonic()
    noise_max = max([tr.visit_noise_sd_points, *tr.noise_sensitivity])
    todo = [i for i, c in enumerate(pool) if could_enrol(c, tr, noise_max)]
    for i, c in enumerate(pool):
        if c["reason"] is None and i not in todo:
            c["reason"] = "scores fail screening by more than any visit noise could make up"
    log(f"virtual trial: simulating {len(todo)} treated arms (the others cannot be enrolled)")
    # the treated arms stop a day after the last week-28 visit
    last = max((pool[i]["days"]["week28"] for i in todo), default=cfg.disease.horizon_days)
    trecords, treated_horizon = simulate_courses(cfg, [(seeds[i], people[i], dataclasses.replace(
        cfg.treatment, start_day=pool[i]["days"]["baseline"])) for i in todo], last)
    check = 0.0
    for i, rec in zip(todo, trecords):
        c = pool[i]
        days, score = _trajectory(rec)
        c["treated"] = {v: _at(days, score, c["days"][v]) for v in VISITS}
        c["treated_end_stage_day"] = arm_outcomes(rec, cfg.disease)["end_stage_days"]
        c["infusion_days"] = rec.infusion_days
        check = max(check, max(abs(c["treated"][v] - c["control"][v]) for v in ("screening", "randomization")))
    if check > 1e-9:
        raise RuntimeError(f"the treated and control arms differ by {check:g} points before the first treatment: "
                           "the paired design does not hold, so the trial cannot be analysed")
    timing = {"control_arms": len(jobs), "treated_arms": len(todo), "treated_horizon_days": treated_horizon, "control_seconds": round(t1 - t0, 1),
              "treated_seconds": round(time.monotonic() - t1, 1), "paired_check_max_points": check}
    return pool, timing


# --------------------------------------------------------------------------- the run
def run_trial(cfg: SimConfig, out_dir: Path, overrides: list[str], log=print) -> dict[str, Any]:
    """Simulate the pool, run the replicates at the configured visit noise and at each sensitivity level, write
    trial.json and trial.md to out_dir, and return the result."""
    tr = cfg.trial
    t0 = time.monotonic()
    pool, timing = simulate_pool(cfg, log)
    t1 = time.monotonic()
    primary = replicates(pool, tr, tr.visit_noise_sd_points, tr.replicates, seed_key=0)
    sens_n = min(tr.replicates, 200)
    sensitivity = []
    for k, level in enumerate(tr.noise_sensitivity):
        reps = replicates(pool, tr, float(level), sens_n, seed_key=k + 1)
        sensitivity.append({"visit_noise_sd_points": float(level), **summarize_replicates(reps)})
    timing.update(analysis_seconds=round(time.monotonic() - t1, 1), total_seconds=round(time.monotonic() - t0, 1))
    counts: dict[str, int] = {}
    for c in pool:
        key = "could be enrolled (both arms simulated)" if c["treated"] is not None else _reason_kind(c["reason"])
        counts[key] = counts.get(key, 0) + 1
    t = cfg.treatment
    result = {
        **result_header(cfg, overrides),
        "published": PUBLISHED,
        "design": {"trial": trial_options(tr),
                   "course": {"route": t.route, "dose_cells_per_kg": t.dose_cells_per_kg, "cells_per_dose": t.cells_per_dose,
                              "cells_per_treatment": cells_per_infusion(t, cfg.disease),
                              "n_infusions": t.n_infusions, "interval_days": t.interval_days,
                              "first_treatment": "each candidate's own baseline day"},
                   "horizon_days": cfg.disease.horizon_days, "body_weight_kg": cfg.disease.body_weight_kg, "start_day": cfg.disease.start_day,
                   "replicates_how": "each replicate screens candidates drawn with replacement from the pool's enrollable "
                                     "candidates until n_analysed pass, draws their visit noise, randomizes 1:1 (balanced "
                                     "seeded permutation) and analyses; independent given the pool"},
        "pool": {"size": len(pool), "counts": counts, "candidates": pool},
        "timing": timing,
        "paired_effect": paired_pool_effect(pool, tr),
        "summary": summarize_replicates(primary),
        "sensitivity": sensitivity,
        "replicates": [_slim(r) for r in primary],
    }
    result["conflicts"] = conflicts(result)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / TRIAL_FILE, result)
    write_text_atomic(out_dir / REPORT_FILE, report(result))
    return result


def result_header(cfg: SimConfig, overrides: list[str]) -> dict[str, Any]:
    """The first keys of every virtual trial's trial.json: the non-clinical statement, version, overrides, preset."""
    return {"non_clinical": True, "notice": sim.NOTICE, "statement": NON_CLINICAL, "version": sim.__version__,
            "overrides": overrides, "preset": cfg.disease.name, "domain": cfg.domain.name}


# trial options every design uses; the rest of TrialOptions' top level is NurOwn's own design
SHARED_OPTIONS = ("enabled", "pool_size", "first_seed", "individuals", "seed", "replicates", "n_analysed",
                  "visit_noise_sd_points", "noise_sensitivity", "workers")


def trial_options(tr: TrialOptions, design: str = "nurown") -> dict[str, Any]:
    """The trial options a design uses, for trial.json: NurOwn's are the top-level ones (as before the design switch
    existed); another design has the shared ones and its own block."""
    every = dataclasses.asdict(tr)
    if design == "nurown":
        return {k: v for k, v in every.items() if k not in ("design", "alsummit")}
    return {"design": design, **{k: every[k] for k in SHARED_OPTIONS}, design: every[design]}


def _reason_kind(reason: str | None) -> str:
    if reason is None:
        return "could be enrolled (both arms simulated)"
    if reason.startswith("not eligible"):
        return ("not eligible: symptom onset past the eligibility window before the first treatment" if "window" in reason
                else "not eligible: end stage on or before the first treatment")
    if reason.startswith("week 28"):
        return "follow-up past the simulated days"
    return reason


def _slim(r: dict) -> dict:
    a = r["analysis"]
    if a is None:
        return {"enrolled": r["enrolled"], "screened": r["screened"]}
    keep = ("n_msc_ntf", "n_placebo", "responders_msc_ntf", "responders_placebo", "odds_ratio", "p", "p_fisher", "test", "met")
    return {"enrolled": r["enrolled"], "screened": r["screened"], **{k: a[k] for k in keep},
            "subgroup_n": r["subgroup_n"], "subgroup_met": (r["subgroup"] or {}).get("met")}


# --------------------------------------------------------------------------- the report
def conflicts(result: dict) -> list[str]:
    """Where the modeled trial disagrees with the published one, each with the assumption that produces it."""
    s, pub = result["summary"], PUBLISHED["results"]
    out = []
    if s["fraction_met"] is None:
        return [("no replicate could enrol participants: the pool holds no enrollable candidate (pool too small, or "
                "the criteria exclude every simulated course)")]
    if s["fraction_met"] > 0.5:
        out.append(f"most modeled replicates meet the endpoint ({s['fraction_met']:.0%}) while the published trial did "
                   "not: the modeled course's effect on the ALSFRS-R slope (the MSC pathway strengths, which are assumptions) "
                   "is larger than the trial allows")
    pl = s["rate_placebo"]
    if pl["hi"] is not None and pl["hi"] < pub["responders_pct"]["placebo"] / 100:
        out.append(f"the modeled placebo responder rate ({pl['median']:.0%}, 95 % range {pl['lo']:.0%}–{pl['hi']:.0%}) is "
                   f"far below the published {pub['responders_pct']['placebo']:g} %: the model's ALSFRS-R equivalent is a smooth, "
                   "noise-free curve (visit noise SD "
                   f"{result['design']['trial']['visit_noise_sd_points']:g}), while placebo 'responders' in a real trial come from "
                   "visit-to-visit measurement error, non-linear decline and regression to the mean after selection on a decline")
    if pl["lo"] is not None and pl["lo"] > pub["responders_pct"]["placebo"] / 100:
        out.append(f"the modeled placebo responder rate ({pl['median']:.0%}) is above the published one: the visit noise "
                   "assumed is larger than the trial's")
    base = s["baseline_alsfrs_mean"]
    if base["hi"] is not None and base["hi"] < 30.3:
        out.append(f"the enrolled start lower (baseline ALSFRS-R mean {base['median']:.1f} against the published 30.3 and 31.4): "
                   "the model's individuals decline slowly in the first years after onset, so the ≥ "
                   f"{result['design']['trial']['min_decline_points']:g}-point run-in decline enrols mostly its fast progressors, "
                   f"late in their course (the run-in length, {result['design']['trial']['screening_to_randomization_days']:g} "
                   "days here, is an assumption)")
    passers = result.get("paired_effect", {}).get("n")
    if passers is not None and passers < 20:
        out.append(f"only {passers} pool candidates pass screening on their noise-free scores: every replicate enrols copies "
                   "of few courses, so the replicates' spread understates the uncertainty (a larger trial.pool_size narrows this)")
    return out


def null_caveat(result: dict) -> tuple[str, str] | None:
    """(headline, reason) when the modeled course cannot move any candidate's slope near the responder threshold, so
    that agreeing with the published null says little; None otherwise."""
    pe, tr = result.get("paired_effect") or {}, result["design"]["trial"]
    hi = (pe.get("post_slope_improvement_points_per_month") or {}).get("hi") if pe.get("n") else None
    if hi is None or hi >= 0.1 * tr["responder_points_per_month"]:
        return None
    return ("This agreement says little about MSC-NTF.",
            f"The modeled course changes no candidate's slope by more than {hi:.3f} points/month (a responder needs "
            f"{tr['responder_points_per_month']:g}), so no trial of any size could meet the endpoint in this model: its null "
            "follows from MSC strengths and route parameters that are assumptions, not fitted to any treatment study, and "
            "the model gives almost no benefit in SOD1 mouse settings where MSCs were reported to help (docs/model.md). "
            "A limitation of the model, not a finding.")


def _pct(x: dict | None) -> str:
    if not x or x.get("median") is None:
        return "—"
    return f"{100 * x['median']:.1f} % [{100 * x['lo']:.1f}, {100 * x['hi']:.1f}]"


def _num(x: dict | None, fmt: str = ".2f") -> str:
    if not x or x.get("median") is None:
        return "—"
    return f"{x['median']:{fmt}} [{x['lo']:{fmt}}, {x['hi']:{fmt}}]"


def report(result: dict) -> str:
    """trial.md: the modeled trial next to the published one, its assumptions, and which of them matter."""
    s, pub, d = result["summary"], PUBLISHED["results"], result["design"]
    tr, course = d["trial"], d["course"]
    fm = "—" if s["fraction_met"] is None else (f"{100 * s['fraction_met']:.1f} % (95 % CI {100 * s['fraction_met_ci95'][0]:.1f}–"
                                                f"{100 * s['fraction_met_ci95'][1]:.1f} %)")
    sub = s["subgroup"]
    pe = result["paired_effect"]
    lines = [
        "# Virtual phase 3 trial of NurOwn (MSC-NTF) in the human preset", "",
        f"> **{NON_CLINICAL}** {sim.NOTICE}", "",
        (f"Published trial: {PAPER} (PMC9305113; ClinicalTrials.gov NCT03280056). Preset `{result['preset']}`, domain "
        f"`{result['domain']}`; overrides: `{' '.join(result['overrides']) or '(none)'}`."), "",
        "## Outcome: modeled beside published", "",
        (f"{s['analysed_replicates']} virtual replicates of the trial, {tr['n_analysed']} participants each (1:1); modeled values "
        "are medians with the 2.5–97.5 percentile range over replicates."), "",
        "| | published | modeled |", "|---|---|---|",
        f"| responders, MSC-NTF | {pub['responders_pct']['msc_ntf']:g} % | {_pct(s['rate_msc_ntf'])} |",
        f"| responders, placebo | {pub['responders_pct']['placebo']:g} % | {_pct(s['rate_placebo'])} |",
        (f"| difference (MSC-NTF − placebo) | {pub['responders_pct']['msc_ntf'] - pub['responders_pct']['placebo']:.1f} points | "
        f"{_pct(s['rate_difference'])} |"),
        f"| odds ratio | {pub['odds_ratio']:g} | {_num(s['odds_ratio'])} |",
        f"| p (pre-specified test) | {pub['p']:g} | {_num(s['p'], '.3f')} |",
        f"| primary endpoint met | no | in {fm} of replicates (p < 0.05, OR > 1) |",
        f"| subgroup baseline ALSFRS-R ≥ {tr['subgroup_min_baseline']:g}: n | {pub['subgroup_baseline_ge_35']['n']} | {_num(sub['n'], '.0f')} |",
        (f"| subgroup: responders MSC-NTF / placebo | {pub['subgroup_baseline_ge_35']['msc_ntf_pct']:g} % / "
        f"{pub['subgroup_baseline_ge_35']['placebo_pct']:g} % (OR {pub['subgroup_baseline_ge_35']['odds_ratio']:g}, "
        f"p = {pub['subgroup_baseline_ge_35']['p']:g}) | {_pct(sub['rate_msc_ntf'])} / {_pct(sub['rate_placebo'])} |"),
        f"| screen failures | {100 * (1 - 196 / 263):.0f} % (263 screened, 196 randomized) | {_pct(s['screen_failure_fraction'])} |",
        f"| baseline ALSFRS-R, mean | 30.3 / 31.4 | {_num(s['baseline_alsfrs_mean'], '.1f')} |",
        f"| onset to first treatment, months, mean | 19.6 / 19.1 | {_num(s['onset_to_treatment_mean_months'], '.1f')} |", "",
        (f"Test: {'logistic regression of responder status on arm, adjusted for baseline ALSFRS-R, onset-to-first-treatment time and pre-treatment slope (Wald); Fisher exact where the fit cannot converge' }"
        f" (logistic fit converged in {0 if s['logistic_converged_fraction'] is None else 100 * s['logistic_converged_fraction']:.0f} % of replicates). "
        "Site of onset and riluzole, in the published model, have no counterpart in this one."), "",
    ]
    if pe.get("n"):
        lines += [("Without noise or sampling (each enrollable candidate is both treated and untreated): "
                  f"{pe['n']} candidates pass screening on their model scores; responder rate {100 * pe['responder_rate_if_treated']:.1f} % "
                  f"treated vs {100 * pe['responder_rate_if_placebo']:.1f} % untreated; the course improves the post-treatment slope by "
                  f"{_num(pe['post_slope_improvement_points_per_month'], '.3f')} points/month and the week-28 score by "
                  f"{_num(pe['week28_alsfrs_difference_points'], '.2f')} points (median [2.5–97.5 % over candidates])."), ""]
    conf = result["conflicts"]
    lines += ["## Agreement with the published null", ""]
    if s["fraction_met"] is not None and s["fraction_met"] <= 0.5:
        lines += [(f"On the primary endpoint the modeled trial agrees with the published null: it meets the endpoint in {fm} "
                   "of replicates."), ""]
        if caveat := null_caveat(result):
            lines += [f"**{caveat[0]}** {caveat[1]}", ""]
    if conf:
        lines += ["Where the modeled trial disagrees with the published one or is weak, and the assumption behind it:", ""]
        lines += [f"- {c}" for c in conf]
    else:
        lines += ["The modeled trial does not contradict the published outcome on the primary endpoint or the placebo rate."]
    lines += ["", "## Visit noise (sensitivity, same trajectories)", "",
              "| visit noise SD, points | replicates | responders MSC-NTF | responders placebo | OR | endpoint met |",
              "|---|---|---|---|---|---|"]
    for row in result["sensitivity"]:
        f = "—" if row["fraction_met"] is None else f"{row['fraction_met']:.1%}"
        lines.append(f"| {row['visit_noise_sd_points']:g} | {row['analysed_replicates']} | {_pct(row['rate_msc_ntf'])} | "
                     f"{_pct(row['rate_placebo'])} | {_num(row['odds_ratio'])} | {f} |")
    counts = result["pool"]["counts"]
    lines += ["", "## Design", "",
              f"- Pool: {result['pool']['size']} virtual candidates (seeds {tr['first_seed']}…, individuals {tr['individuals']}); "
              + "; ".join(f"{v} {k}" for k, v in counts.items()) + ".",
              f"- Course in the model: {course['n_infusions']} × {course['cells_per_treatment']:.3g} cells "
              + ("per injection" if course.get("cells_per_dose") else
                 f"({course['dose_cells_per_kg']:.4g} cells/kg at {result['design'].get('body_weight_kg', 70)} kg)")
              + f", {course['interval_days']:g} days apart from each candidate's baseline day, route **{course['route']}**"
              + (" (the trial gave the cells intrathecally)" if course["route"] != "intrathecal" else "") + ".",
              (f"- Visits: screening → randomization {tr['screening_to_randomization_days']:g} d → first treatment "
              f"{tr['randomization_to_treatment_days']:g} d → week {tr['follow_up_weeks']:g}; onset to first treatment drawn "
              f"N({tr['onset_to_treatment_mean_months']:g}, {tr['onset_to_treatment_sd_months']:g}) months, screening at most "
              f"{tr['max_onset_to_screening_months']:g} months after onset."),
              (f"- Enrolment: ALSFRS-R equivalent ≥ {tr['min_alsfrs_screening']:g} at screening, decline ≥ {tr['min_decline_points']:g} "
              "points from screening to randomization, no end stage on or before the first treatment (sim/eligibility.py)."),
              (f"- Responder: pre-treatment slope (screening → baseline) minus post-treatment slope (baseline → week "
              f"{tr['follow_up_weeks']:g}) ≥ {tr['responder_points_per_month']:g} points/month, each from its two visits; end stage "
              "before week 28 counts as a non-responder."),
              (f"- Replicates: {d['replicates_how']}. Simulation {result['timing']['control_seconds']:g} s (control arms) + "
              f"{result['timing']['treated_seconds']:g} s (treated arms); paired check (treated − control before the first "
              f"treatment): {result['timing']['paired_check_max_points']:.2g} points."),
              "", "## Assumptions, and which matter", "",
              (("1. **The modeled course is intrathecal, as given, but the CSF route's strengths are assumptions**: how fast "
               "cells leave the CSF and what fraction enters the cord (msc.csf_*) were not found measured, the model has no "
               "pathway for factors secreted into the CSF, the MSC pathway strengths are not fitted to any treatment study, "
               "and MSC-NTF's induced " if course["route"] == "intrathecal" else
               "1. **The modeled course is an IV-route MSC course standing in for intrathecal MSC-NTF**: the MSC pathway "
               "strengths are not fitted to any treatment study, and MSC-NTF's induced ")
              + 
              "neurotrophic secretion is not represented beyond the model's MSC BDNF/GDNF. This sets the size of the modeled "
              "slope change, and so decides whether the model could contradict the null. *Matters most.*"),
              ("2. **ALSFRS-R = 48 × the person's functional index** (docs/model.md): a smooth, noise-free curve. With no visit "
              "noise the placebo arm has almost no 'responders'; the published 27.7 % placebo rate needs measurement noise, "
              "non-linear decline or both (see the sensitivity table). *Matters for the placebo rate and for the power to "
              "detect any effect.*"),
              ("3. **Run-in length and the 6-week gap to the first treatment** (not verified): they set how strict the "
              "≥ 3-point decline criterion is, and so which progressors are enrolled. *Matters for who is enrolled.*"),
              ("4. **Onset to first treatment drawn from the published baseline mean and SD** (a distribution of the enrolled, "
              "used before selection). *Matters little for the responder rates; it shifts baseline scores.*"),
              "5. **Two-visit slopes**: the paper's slope estimator was not verified. *Matters with visit noise.*",
              ("6. **The human preset is not calibrated in full** (its own calibration note), and the pool's size limits how "
              f"well it represents the population ({result['pool']['size']} candidates; replicates resample them, so their "
              "spread holds the trial's sampling and noise, not the pool's own sampling error)."), ""]
    return "\n".join(lines)


def summary_text(result: dict) -> str:
    """What `alsim +experiment=virtual_trial_nurown` prints."""
    s, pub = result["summary"], PUBLISHED["results"]
    lines = [sim.NOTICE, NON_CLINICAL, "",
             (f"virtual trial: {s['analysed_replicates']} replicates of {result['design']['trial']['n_analysed']} participants "
             f"from a pool of {result['pool']['size']} candidates"),
             f"  responders MSC-NTF {_pct(s['rate_msc_ntf'])} (published {pub['responders_pct']['msc_ntf']:g} %)",
             f"  responders placebo {_pct(s['rate_placebo'])} (published {pub['responders_pct']['placebo']:g} %)",
             f"  odds ratio {_num(s['odds_ratio'])} (published {pub['odds_ratio']:g}, p = {pub['p']:g})",
             f"  endpoint met in {_frac(s['fraction_met'])} of replicates (published: not met)"]
    lines += [f"  conflict: {c}" for c in result["conflicts"]]
    if (s["fraction_met"] is not None and s["fraction_met"] <= 0.5) and (caveat := null_caveat(result)):
        lines.append(f"  caveat: {caveat[0]} {caveat[1]}")
    return "\n".join(lines)


def headline(result: dict) -> float | None:
    """What a sweep over the trial minimises or records: the fraction of replicates meeting the primary endpoint."""
    return result["summary"]["fraction_met"]


def _frac(x: float | None) -> str:
    return "—" if x is None else f"{x:.1%}"
