"""A virtual ALSUMMIT trial (lenzumestrocel: autologous bone-marrow MSCs, intrathecal) in the human preset.

    alsim +experiment=virtual_trial_alsummit

The published design (every number used, with where it was read, is in `PUBLISHED`): multicentre, randomized,
double-blind, sham-procedure-controlled phase III; 115 randomized 1:2:2 to Group 1 (a single cycle: two intrathecal
injections 26 days apart), Group 2 (the cycle plus boosters at 4, 7 and 10 months) and control (sham); intermediate
progressors only (NCT04745299: ALSFRS-R progression 1.03 ± 50 %/month over the 17 weeks before the first
administration, ALSFRS-R 31–46 at screening, ≤ 2 years from diagnosis); primary endpoint CAFS (Berry et al. 2013) at
6 months (Group 1 vs control) and 12 months (Group 2 vs control) after the first administration. The sponsor's topline
report: the primary endpoint was not met.

How the virtual trial runs (the pool and replicate machinery of sim/experiments/trial.py, shared with NurOwn's):

1. **Pool.** `trial.pool_size` candidates are simulated untreated. Each candidate's onset is read from its control
   arm; diagnosis is onset + `trial.alsummit.onset_to_diagnosis_months`; its time from diagnosis to screening is drawn
   once, uniform in [0, `max_months_from_diagnosis`] (an assumption: no baseline table is published), which fixes its
   screening, first injection (screening + the 17-week lead-in) and endpoint days.
2. **Treated arms.** Candidates who could be enrolled are simulated twice more, with Group 1's course (the first
   `group1_injections` offsets of `treatment.offsets_days`) and Group 2's (all of them), from their own first-injection
   day. All three arms share the seed, so they are one trajectory before the first injection (checked:
   `paired_check_max_points`). End stage on or before the first injection is never enrolled (sim/eligibility.py).
3. **Replicates.** Each replicate screens candidates drawn with replacement until `trial.n_analysed` (115) pass
   (ALSFRS-R 31–46 at screening, lead-in decline 0.515–1.545 points/month, screening ≤ 24 months after diagnosis, on
   visit scores: 48 × functional index plus visit noise, rounded), randomizes them 1:2:2 (a balanced, seeded
   permutation), and computes CAFS at each endpoint among the arm and control, compared with a Mann–Whitney U test.

NON-CLINICAL: a consequence of the model's assumptions, not a prediction for patients, and not a dose recommendation.
"""
from __future__ import annotations

import dataclasses
import math
import time
from pathlib import Path
from typing import Any

import numpy as np
from scipy.stats import mannwhitneyu, rankdata

import sim
from sim.config import AlsummitOptions, SimConfig, TrialOptions
from sim.experiments.calibrate import MONTH_DAYS
from sim.experiments.trial import (
    NON_CLINICAL,
    _at,
    enrol_margin,
    _interval,
    _num,
    _pct,
    _trajectory,
    fraction_with_ci,
    measured,
    new_candidate,
    place_visits,
    result_header,
    run_replicates,
    simulate_controls,
    simulate_courses,
    trial_options,
)
from sim.recorder import write_json_atomic, write_text_atomic
from sim.run import arm_outcomes
from sim.treatment import cells_per_infusion

TRIAL_FILE = "trial.json"
REPORT_FILE = "trial.md"
VISITS = ("screening", "baseline", "endpoint1", "endpoint2")
ARMS = ("group1", "group2", "control")
COURSES = ("group1", "group2")  # the treated arms; each is compared with control at its own endpoint
ENDPOINT = {"group1": "endpoint1", "group2": "endpoint2"}

PROTOCOL = "Nam JY et al. 2022 Trials 23:415, doi:10.1186/s13063-022-06327-4"
REGISTRY = "ClinicalTrials.gov NCT04745299 (eligibility, via the clinicaltrialexchange.com and trial.medpath.com copies)"
CAFS_PAPER = "Berry JD et al. 2013 Amyotroph Lateral Scler Frontotemporal Degener 14:162, doi:10.3109/21678421.2012.762930"
# Every published number the trial uses or is compared with, and where it was read (checked 2026-12-08).
PUBLISHED: dict[str, Any] = {
    "source": PROTOCOL,
    "design": {
        "product": {"value": "lenzumestrocel (Neuronata-R): autologous bone-marrow MSCs, intrathecal; control: sham procedure",
                    "where": "protocol abstract (" + PROTOCOL + ")"},
        "randomized": {"value": 115, "where": "protocol abstract (115 subjects randomized 1:2:2)"},
        "allocation": {"value": "1:2:2 to Group 1, Group 2 and control",
                       "where": "protocol abstract; read in the order the groups are listed (the arm sizes in the "
                                "protocol's text were not read)"},
        "group1": {"value": "single cycle: two intrathecal injections 26 days apart", "where": "protocol abstract"},
        "group2": {"value": "single cycle + three booster injections at 4, 7 and 10 months", "where": "protocol abstract"},
        "dose_per_injection": {"value": None, "where": "not found in any source we could open: the modeled dose "
                                                        "(treatment.cells_per_dose) is an assumption"},
        "inclusion": {"value": "ALSFRS-R progression rate 1.03 ± 50 %/month over the 17 weeks before the administration; "
                               "ALSFRS-R 31–46 at screening; disease duration ≤ 2 years from the first diagnosis; "
                               "intermediate progressors",
                      "where": REGISTRY + "; protocol abstract (intermediate progressors)"},
        "exclusion": {"value": "tracheostomy or ventilation, gastrostomy at screening; FVC ≤ 40 % of predicted",
                      "where": REGISTRY + " (FVC is not modeled)"},
        "primary_endpoint": {"value": "CAFS (joint rank score) at 6 months (Group 1 vs control) and 12 months (Group 2 vs "
                                      "control) after the first administration",
                             "where": "protocol abstract"},
        "cafs": {"value": "each participant's outcome compared with every other's on survival time and ALSFRS-R change; "
                          "the summed scores ranked; a higher mean score is a better group outcome",
                 "where": CAFS_PAPER + " (abstract)"},
        "analysis": {"value": None, "where": "not read: the protocol's statistical model for CAFS; the rank test used "
                                             "here is an assumption"},
    },
    "results": {
        "primary_endpoint": {"value": "not met (sponsor, topline)",
                             "where": "CorestemChemon topline, December 2024, as reported in its press release of "
                                      "2025-05-29 (PR Newswire via finanznachrichten.de): not met in the overall "
                                      "population; not peer reviewed"},
        "secondary_endpoints": {"value": "not met (sponsor)",
                                "where": "CorestemChemon release, PACTALS 2025 (biopharmaapac.com, 2025-09-22)"},
        "slow_progressor_subgroup_press_only": {
            "group1_vs_control": [20.95, 13.66], "group2_vs_control": [24.78, 17.92],
            "where": "press releases only, not peer reviewed (trial.medpath.com; clival.com, 2025-06-04: CAFS LS means at "
                     "month 6). The releases disagree: biopharmaapac.com (2025-09-22) gives them at 12 months with 17.92 as "
                     "the placebo value for both groups; finanznachrichten.de (2025-05-29) calls the analysis post hoc, "
                     "clival.com a pre-defined subgroup"},
        "met": False,
    },
}


# --------------------------------------------------------------------------- design in days
def visit_days(onset_day: float, diagnosis_to_screening_months: float, al: AlsummitOptions) -> dict[str, float]:
    """Diagnosis, screening, first injection (baseline, the end of the lead-in) and the two endpoint days of one
    candidate on the preset's clock."""
    diagnosis = onset_day + al.onset_to_diagnosis_months * MONTH_DAYS
    screening = diagnosis + diagnosis_to_screening_months * MONTH_DAYS
    baseline = screening + al.lead_in_weeks * 7.0
    return {"diagnosis": diagnosis, "screening": screening, "baseline": baseline,
            "endpoint1": baseline + al.endpoint_months_group1 * MONTH_DAYS,
            "endpoint2": baseline + al.endpoint_months_group2 * MONTH_DAYS}


def draw_diagnosis_to_screening(tr: TrialOptions, seed: int) -> float:
    """Months from diagnosis to screening for candidate `seed`: uniform over the inclusion window (assumption)."""
    rng = np.random.default_rng([tr.seed, seed, 23])
    return float(rng.uniform(0.0, tr.alsummit.max_months_from_diagnosis))


def courses(cfg: SimConfig, baseline_day: float) -> dict[str, Any]:
    """Group 1's and Group 2's courses from a candidate's first-injection day (Group 2: treatment.offsets_days; Group 1:
    its first trial.alsummit.group1_injections)."""
    t, k = cfg.treatment, cfg.trial.alsummit.group1_injections
    return {"group1": dataclasses.replace(t, start_day=baseline_day, offsets_days=list(t.offsets_days[:k])),
            "group2": dataclasses.replace(t, start_day=baseline_day, offsets_days=list(t.offsets_days))}


# --------------------------------------------------------------------------- enrolment
def lead_in_slope(screening_score: float, baseline_score: float, al: AlsummitOptions) -> float:
    """ALSFRS-R decline over the lead-in (screening → first injection), points per month (positive = falling)."""
    return (screening_score - baseline_score) / (al.lead_in_weeks * 7.0 / MONTH_DAYS)


def screen(scores: dict[str, float], days: dict[str, float], al: AlsummitOptions) -> str | None:
    """Why a candidate fails the inclusion criteria on its visit scores and days, or None if it passes."""
    s = scores["screening"]
    if not al.min_alsfrs_screening <= s <= al.max_alsfrs_screening:
        return f"ALSFRS-R {s:g} at screening outside {al.min_alsfrs_screening:g}–{al.max_alsfrs_screening:g}"
    slope = lead_in_slope(s, scores["baseline"], al)
    if not al.min_slope_points_per_month - 1e-12 <= slope <= al.max_slope_points_per_month + 1e-12:
        return (f"lead-in decline {slope:.3f} points/month outside {al.min_slope_points_per_month:g}–"
                f"{al.max_slope_points_per_month:g}")
    since = (days["screening"] - days["diagnosis"]) / MONTH_DAYS
    if not 0.0 <= since <= al.max_months_from_diagnosis + 1e-9:
        return f"screening {since:.1f} months after diagnosis, outside 0–{al.max_months_from_diagnosis:g}"
    return None


def allocate(n: int, ratio: list[int], rng: np.random.Generator) -> np.ndarray:
    """Arm of each of n participants (0 = Group 1, 1 = Group 2, 2 = control) in the given ratio, in a seeded random
    order: each arm gets floor(n·r/Σr), the rest go to the largest remainders (the earlier arm on a tie)."""
    ratio = np.asarray(ratio, float)
    exact = n * ratio / ratio.sum()
    counts = np.floor(exact).astype(int)
    for i in sorted(range(len(ratio)), key=lambda i: (-(exact[i] - counts[i]), i))[: n - counts.sum()]:
        counts[i] += 1
    return rng.permutation(np.repeat(np.arange(len(ratio)), counts))


# --------------------------------------------------------------------------- CAFS
def cafs_scores(decline: np.ndarray, death_time: np.ndarray) -> np.ndarray:
    """Each participant's summed CAFS comparison score against every other participant of the analysis.

    `decline`: ALSFRS-R at baseline minus at the endpoint (points); `death_time`: days from the first administration to
    death or its equivalent (the model's end stage) up to the endpoint, NaN if alive at the endpoint. In each pair:
    both died → the one who lived longer is better; one died → the survivor is better; neither → the smaller decline is
    better. The better gets +1 and the worse −1 (assumption: the per-pair values were not in the abstract we could
    read); equal outcomes score 0 for both."""
    decline, death = np.asarray(decline, float), np.asarray(death_time, float)
    dead = ~np.isnan(death)
    n = len(decline)
    score = np.zeros(n)
    for i in range(n):
        for j in range(i + 1, n):
            if dead[i] and dead[j]:
                c = np.sign(death[i] - death[j])
            elif dead[i] != dead[j]:
                c = -1.0 if dead[i] else 1.0
            else:
                c = np.sign(decline[j] - decline[i])
            score[i] += c
            score[j] -= c
    return score


def analyse_cafs(msc: np.ndarray, decline: np.ndarray, death_time: np.ndarray) -> dict[str, Any]:
    """CAFS of one comparison (an MSC arm and control): scores, ranks (average ranks on ties), mean score and mean rank
    per arm, and a two-sided Mann–Whitney U test (scipy.stats) of the scores. The protocol's own model was not read:
    the test is an assumption. Met: p < 0.05 with the MSC arm's mean rank above control's."""
    msc, decline, death_time = np.asarray(msc, bool), np.asarray(decline, float), np.asarray(death_time, float)
    score = cafs_scores(decline, death_time)
    rank = rankdata(score)
    alive = np.isnan(death_time)

    def mean_decline(arm: np.ndarray) -> float:  # among those alive at the endpoint
        return float(decline[arm & alive].mean()) if np.any(arm & alive) else math.nan

    out: dict[str, Any] = {"n_msc": int(msc.sum()), "n_control": int((~msc).sum()),
                           "mean_cafs_msc": float(score[msc].mean()), "mean_cafs_control": float(score[~msc].mean()),
                           "mean_rank_msc": float(rank[msc].mean()), "mean_rank_control": float(rank[~msc].mean()),
                           "deaths_msc": int(np.sum(msc & ~alive)), "deaths_control": int(np.sum(~msc & ~alive)),
                           "mean_decline_msc": mean_decline(msc), "mean_decline_control": mean_decline(~msc),
                           "test": "Mann–Whitney U, two-sided (assumption)"}
    if np.all(score == score[0]):  # every outcome equal: no evidence either way
        out["p"] = 1.0
    else:
        out["p"] = float(mannwhitneyu(score[msc], score[~msc], alternative="two-sided").pvalue)
    out["met"] = bool(out["p"] < 0.05 and out["mean_rank_msc"] > out["mean_rank_control"])
    return out


# --------------------------------------------------------------------------- one replicate
def _scores(cand: dict, arm: str, noise: np.ndarray) -> dict[str, float]:
    """A candidate's visit scores in one arm (screening and first injection are the same in every arm)."""
    true = [cand["control"][v] if v in ("screening", "baseline") else cand[arm][v] for v in VISITS]
    return dict(zip(VISITS, measured(np.array(true) + noise, 0.0, None).tolist()))


def _death(cand: dict, arm: str, endpoint: str) -> float:
    """Days from the first injection to end stage if it comes on or before the endpoint, else NaN (alive)."""
    end, days = cand[f"{arm}_end_stage_day"], cand["days"]
    return end - days["baseline"] if end is not None and end <= days[endpoint] else math.nan


def replicate(pool: list[dict], tr: TrialOptions, noise_sd: float, rng: np.random.Generator,
              max_screens: int | None = None) -> dict[str, Any]:
    """One virtual ALSUMMIT from the pool's enrollable candidates: screen, enrol, randomize 1:2:2, CAFS per endpoint."""
    al = tr.alsummit
    eligible = [c for c in pool if c.get("group2") is not None]
    zero = np.zeros(len(VISITS))
    if noise_sd == 0 and not any(screen(_scores(c, "control", zero), c["days"], al) is None for c in eligible):
        eligible = []  # screening is then fixed per candidate: nobody passes, at once
    if not eligible:
        return {"enrolled": 0, "screened": 0, "participants": [], "analysis": None}
    max_screens = max_screens or 50 * tr.n_analysed
    people, screened = [], 0
    while len(people) < tr.n_analysed and screened < max_screens:
        if screened >= 10 * tr.n_analysed and not people:
            break
        cand = eligible[int(rng.integers(len(eligible)))]
        screened += 1
        noise = rng.normal(0.0, noise_sd, size=len(VISITS)) if noise_sd > 0 else zero
        if screen(_scores(cand, "control", noise), cand["days"], al) is None:
            people.append((cand, noise))
    arms = allocate(len(people), al.allocation, rng)
    if len(people) < len(ARMS) or len(set(arms.tolist())) < len(ARMS):
        return {"enrolled": len(people), "screened": screened, "participants": [], "analysis": None}
    analysis, who = {}, [(c["seed"], ARMS[a]) for (c, _), a in zip(people, arms)]
    for k, course in enumerate(COURSES):
        endpoint = ENDPOINT[course]
        keep = [(c, noise, ARMS[a]) for (c, noise), a in zip(people, arms) if ARMS[a] in (course, "control")]
        decline, death = [], []
        for c, noise, arm in keep:
            s = _scores(c, arm, noise)
            decline.append(s["baseline"] - s[endpoint])
            death.append(_death(c, arm, endpoint))
        analysis[course] = analyse_cafs(np.array([arm == course for _, _, arm in keep]), np.array(decline), np.array(death))
    base = np.array([_scores(c, "control", noise)["baseline"] for c, noise in people])
    slope = np.array([lead_in_slope(*[_scores(c, "control", noise)[v] for v in ("screening", "baseline")], al)
                      for c, noise in people])
    return {"enrolled": len(people), "screened": screened, "participants": who, "analysis": analysis,
            "arm_sizes": {a: int(np.sum(arms == i)) for i, a in enumerate(ARMS)},
            "baseline_alsfrs_mean": float(base.mean()), "lead_in_slope_mean": float(slope.mean()),
            "months_from_diagnosis_mean": float(np.mean([(c["days"]["screening"] - c["days"]["diagnosis"]) / MONTH_DAYS
                                                         for c, _ in people]))}


def replicates(pool: list[dict], tr: TrialOptions, noise_sd: float, n: int, seed_key: int = 0) -> list[dict]:
    """`n` replicates, replicate k on its own stream (trial.seed, seed_key, k)."""
    return run_replicates(lambda rng: replicate(pool, tr, noise_sd, rng), tr.seed, n, seed_key)


# --------------------------------------------------------------------------- summaries
def summarize_replicates(reps: list[dict]) -> dict[str, Any]:
    """Across replicates, per endpoint: the fraction meeting it (Clopper–Pearson 95 % CI) and the 2.5–97.5 percentile
    range of the p-value, mean CAFS score and mean rank per arm, deaths and ALSFRS-R decline."""
    done = [r for r in reps if r["analysis"] is not None]
    n = len(done)
    out: dict[str, Any] = {"replicates": len(reps), "analysed_replicates": n}
    for course in COURSES:
        a = [r["analysis"][course] for r in done]
        fraction, ci = fraction_with_ci(sum(x["met"] for x in a), n)
        out[course] = {"fraction_met": fraction, "fraction_met_ci95": ci,
                       **{k: _interval([x[k] for x in a]) for k in (
                           "p", "mean_cafs_msc", "mean_cafs_control", "mean_rank_msc", "mean_rank_control",
                           "deaths_msc", "deaths_control", "mean_decline_msc", "mean_decline_control")}}
    any_met = sum(any(r["analysis"][c]["met"] for c in COURSES) for r in done)
    out["fraction_met_any"], out["fraction_met_any_ci95"] = fraction_with_ci(any_met, n)
    out.update(enrolled=_interval([r["enrolled"] for r in done]),
               screen_failure_fraction=_interval([1 - r["enrolled"] / r["screened"] for r in done]),
               baseline_alsfrs_mean=_interval([r["baseline_alsfrs_mean"] for r in done]),
               lead_in_slope_mean=_interval([r["lead_in_slope_mean"] for r in done]),
               months_from_diagnosis_mean=_interval([r["months_from_diagnosis_mean"] for r in done]))
    return out


def paired_pool_effect(pool: list[dict], al: AlsummitOptions) -> dict[str, Any]:
    """Without noise or sampling: among candidates who pass screening on their model scores, each both treated and sham.
    Per course: the endpoint ALSFRS-R difference (treated − sham, model score), deaths by the endpoint in each, and the
    CAFS win probability (a treated outcome beating a sham outcome over every pair of candidates, ties counting half,
    on the noise-free visit scores the replicates use: rounded to a whole point, so a course that moves no score by
    half a point wins exactly 0.5)."""
    zero = np.zeros(len(VISITS))
    passers = [c for c in pool if c.get("group2") is not None and screen(_scores(c, "control", zero), c["days"], al) is None]
    if not passers:
        return {"n": 0}
    out: dict[str, Any] = {"n": len(passers)}
    for course in COURSES:
        endpoint = ENDPOINT[course]
        diff = [c[course][endpoint] - c["control"][endpoint] for c in passers]
        dt = np.array([_death(c, course, endpoint) for c in passers])
        dc = np.array([_death(c, "control", endpoint) for c in passers])
        visit = {arm: [_scores(c, arm, zero) for c in passers] for arm in (course, "control")}
        decline_t = np.array([v["baseline"] - v[endpoint] for v in visit[course]])
        decline_c = np.array([v["baseline"] - v[endpoint] for v in visit["control"]])
        m = len(passers)
        score = cafs_scores(np.concatenate([decline_t, decline_c]), np.concatenate([dt, dc]))
        # a treated outcome's summed score over the sham outcomes only: wins − losses against each sham candidate
        wins = 0.0
        for i in range(m):
            for j in range(m):
                s = cafs_scores(np.array([decline_t[i], decline_c[j]]), np.array([dt[i], dc[j]]))[0]
                wins += 1.0 if s > 0 else 0.5 if s == 0 else 0.0
        out[course] = {"endpoint_alsfrs_difference_points": _interval(diff),
                       "max_abs_endpoint_difference_points": float(np.max(np.abs(diff))),
                       "deaths_if_treated": int(np.sum(~np.isnan(dt))), "deaths_if_sham": int(np.sum(~np.isnan(dc))),
                       "cafs_win_probability": wins / (m * m),
                       "mean_cafs_if_treated": float(score[:m].mean()), "mean_cafs_if_sham": float(score[m:].mean())}
    return out


# --------------------------------------------------------------------------- the pool (simulation)
def candidate_from_control(cfg: SimConfig, seed: int, record) -> dict[str, Any]:
    """A candidate's timing and control-arm visit scores, and why it can never be enrolled (or None)."""
    al = cfg.trial.alsummit
    cand, o, days, score = new_candidate(cfg, seed, record, ("group1", "group2"))
    if cand["reason"] is not None:
        return cand
    cand["diagnosis_to_screening_months"] = draw_diagnosis_to_screening(cfg.trial, seed)
    cand["days"] = visit_days(o["onset_days"], cand["diagnosis_to_screening_months"], al)
    return place_visits(cfg, cand, o, days, score, "endpoint2",
                        f"follow-up: the {al.endpoint_months_group2:g}-month visit", VISITS)


def could_enrol(cand: dict, al: AlsummitOptions, noise_max: float) -> bool:
    """Whether any replicate could enrol the candidate: its model scores pass the score criteria within
    `trial.enrol_margin` (the lead-in slope's margin is that many points over the lead-in)."""
    margin = enrol_margin(cand, noise_max)
    if margin is None:
        return False
    s = cand["control"]["screening"]
    slope = lead_in_slope(s, cand["control"]["baseline"], al)
    per_month = margin / (al.lead_in_weeks * 7.0 / MONTH_DAYS)
    return (al.min_alsfrs_screening - margin <= s <= al.max_alsfrs_screening + margin
            and al.min_slope_points_per_month - per_month <= slope <= al.max_slope_points_per_month + per_month)


def simulate_pool(cfg: SimConfig, log=print) -> tuple[list[dict], dict[str, Any]]:
    """Every candidate's control arm, then Group 1's and Group 2's courses for those who could be enrolled."""
    tr = cfg.trial
    t0 = time.monotonic()
    seeds, people, jobs, records = simulate_controls(cfg, log, "virtual ALSUMMIT")
    pool = [candidate_from_control(job.cfg, s, rec) for job, s, rec in zip(jobs, seeds, records)]
    t1 = time.monotonic()
    noise_max = max([tr.visit_noise_sd_points, *tr.noise_sensitivity])
    todo = [i for i, c in enumerate(pool) if could_enrol(c, tr.alsummit, noise_max)]
    for i, c in enumerate(pool):
        if c["reason"] is None and i not in todo:
            c["reason"] = "scores fail screening by more than any visit noise could make up"
    log(f"virtual ALSUMMIT: simulating {2 * len(todo)} treated arms (Group 1 and Group 2 courses of {len(todo)} "
        "candidates; the others cannot be enrolled)")
    last = max((pool[i]["days"]["endpoint2"] for i in todo), default=cfg.disease.horizon_days)
    plan = [(i, course) for i in todo for course in COURSES]
    trecords, treated_horizon = simulate_courses(
        cfg, [(seeds[i], people[i], courses(cfg, pool[i]["days"]["baseline"])[course]) for i, course in plan], last)
    check = 0.0
    for (i, course), rec in zip(plan, trecords):
        c = pool[i]
        days, score = _trajectory(rec)
        c[course] = {v: _at(days, score, c["days"][v]) for v in VISITS}
        c[f"{course}_end_stage_day"] = arm_outcomes(rec, cfg.disease)["end_stage_days"]
        c[f"{course}_infusion_days"] = rec.infusion_days
        check = max(check, abs(c[course]["screening"] - c["control"]["screening"]))
    if check > 1e-9:
        raise RuntimeError(f"the treated and control arms differ by {check:g} points before the first injection: "
                           "the paired design does not hold, so the trial cannot be analysed")
    timing = {"control_arms": len(jobs), "treated_arms": len(plan), "treated_horizon_days": treated_horizon,
              "control_seconds": round(t1 - t0, 1), "treated_seconds": round(time.monotonic() - t1, 1),
              "paired_check_max_points": check}
    return pool, timing


def _reason_kind(reason: str | None) -> str:
    if reason is None:
        return "could be enrolled (all three arms simulated)"
    if reason.startswith("not eligible"):
        return ("not eligible: symptom onset past the eligibility window before the first injection" if "window" in reason
                else "not eligible: end stage on or before the first injection")
    if reason.startswith("follow-up"):
        return "follow-up past the simulated days"
    return reason


# --------------------------------------------------------------------------- the run
def run_trial(cfg: SimConfig, out_dir: Path, overrides: list[str], log=print) -> dict[str, Any]:
    """Simulate the pool, run the replicates at the configured visit noise and at each sensitivity level, write
    trial.json and trial.md to out_dir, and return the result."""
    tr, t = cfg.trial, cfg.treatment
    t0 = time.monotonic()
    pool, timing = simulate_pool(cfg, log)
    t1 = time.monotonic()
    primary = replicates(pool, tr, tr.visit_noise_sd_points, tr.replicates, seed_key=0)
    sens_n = min(tr.replicates, 200)
    sensitivity = [{"visit_noise_sd_points": float(level),
                    **summarize_replicates(replicates(pool, tr, float(level), sens_n, seed_key=k + 1))}
                   for k, level in enumerate(tr.noise_sensitivity)]
    timing.update(analysis_seconds=round(time.monotonic() - t1, 1), total_seconds=round(time.monotonic() - t0, 1))
    counts: dict[str, int] = {}
    for c in pool:
        key = _reason_kind(c["reason"]) if c["group2"] is None else _reason_kind(None)
        counts[key] = counts.get(key, 0) + 1
    k = tr.alsummit.group1_injections
    result = {
        **result_header(cfg, overrides),
        "design_name": "alsummit",
        "published": PUBLISHED,
        "design": {"trial": trial_options(tr, "alsummit"),
                   "course": {"route": t.route, "cells_per_dose": t.cells_per_dose,
                              "cells_per_injection": cells_per_infusion(t, cfg.disease),
                              "dose_source": "assumption: no ALSUMMIT dose was found in any source we could open; "
                                             "treatment.cells_per_dose stands in for it",
                              "group1_offsets_days": [float(x) for x in t.offsets_days[:k]],
                              "group2_offsets_days": [float(x) for x in t.offsets_days],
                              "first_injection": "each candidate's own first-injection day (end of the lead-in)"},
                   "horizon_days": cfg.disease.horizon_days, "start_day": cfg.disease.start_day,
                   "cafs": "pairwise: both died → longer survival from the first injection better; one died → the "
                           "survivor better; neither → smaller ALSFRS-R decline (first injection → endpoint) better; "
                           "+1 / −1 per pair, 0 on a tie (assumption), summed, ranked (average ranks)",
                   "test": "Mann–Whitney U, two-sided, on the CAFS scores of the MSC arm and control (assumption: the "
                           "protocol's model was not read); met = p < 0.05 with the MSC arm's mean rank higher",
                   "replicates_how": "each replicate screens candidates drawn with replacement from the pool's enrollable "
                                     "candidates until n_analysed pass, draws their visit noise, randomizes 1:2:2 "
                                     "(balanced seeded permutation) and analyses both endpoints; independent given the pool"},
        "pool": {"size": len(pool), "counts": counts, "candidates": pool},
        "timing": timing,
        "paired_effect": paired_pool_effect(pool, tr.alsummit),
        "summary": summarize_replicates(primary),
        "sensitivity": sensitivity,
        "replicates": [_slim(r) for r in primary],
    }
    result["conflicts"] = conflicts(result)
    out_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out_dir / TRIAL_FILE, result)
    write_text_atomic(out_dir / REPORT_FILE, report(result))
    return result


def _slim(r: dict) -> dict:
    if r["analysis"] is None:
        return {"enrolled": r["enrolled"], "screened": r["screened"]}
    keep = ("mean_rank_msc", "mean_rank_control", "mean_cafs_msc", "mean_cafs_control", "p", "met")
    return {"enrolled": r["enrolled"], "screened": r["screened"], "arm_sizes": r["arm_sizes"],
            **{c: {k: r["analysis"][c][k] for k in keep} for c in COURSES}}


def headline(result: dict) -> float | None:
    """What a sweep over the trial records: the fraction of replicates meeting either primary endpoint."""
    return result["summary"]["fraction_met_any"]


# --------------------------------------------------------------------------- the report
LABEL = {"group1": "Group 1 (single cycle) vs control", "group2": "Group 2 (cycle + 3 boosters) vs control"}


def conflicts(result: dict) -> list[str]:
    """Where the modeled trial disagrees with the published one or is weak, each with the assumption behind it."""
    s = result["summary"]
    if s["analysed_replicates"] == 0:
        return [("no replicate could enrol participants: the pool holds no enrollable candidate (pool too small, or the "
                 "criteria exclude every simulated course)")]
    out = []
    for course in COURSES:
        f = s[course]["fraction_met"]
        if f is not None and f > 0.5:
            out.append(f"most modeled replicates meet the {LABEL[course]} endpoint ({f:.0%}) while the sponsor reports it "
                       "not met: the modeled course's effect (the MSC pathway strengths and the CSF route's entry and "
                       "residence, which are assumptions, and the dose per injection, which is an assumption standing in "
                       "for an unread number) is larger than the trial allows")
    passers = result.get("paired_effect", {}).get("n")
    if passers is not None and passers < 20:
        out.append(f"only {passers} pool candidates pass screening on their noise-free scores: every replicate enrols "
                   "copies of few courses, so the replicates' spread understates the uncertainty (a larger trial.pool_size "
                   "narrows this)")
    return out


def null_caveat(result: dict) -> tuple[str, str] | None:
    """(headline, reason) when the modeled courses move no candidate's endpoint score by half a point (a visit score's
    rounding step) and no end stage across an endpoint, so agreeing with the published null says little; else None."""
    pe = result.get("paired_effect") or {}
    if not pe.get("n"):
        return None
    biggest = max(pe[c]["max_abs_endpoint_difference_points"] for c in COURSES)
    same_deaths = all(pe[c]["deaths_if_treated"] == pe[c]["deaths_if_sham"] for c in COURSES)
    if biggest >= 0.5 or not same_deaths:
        return None
    return ("This agreement says little about lenzumestrocel.",
            (f"The modeled courses change no candidate's endpoint ALSFRS-R equivalent by more than {biggest:.3f} points and "
            "move no end stage across an endpoint, so CAFS can differ between arms only by chance: the null follows from "
            "MSC strengths and CSF-route parameters that are assumptions, not fitted to any treatment study, and from a "
            "dose per injection that is an assumption (docs/model.md). A limitation of the model, not a finding."))


def _fraction(f: float | None, ci: list[float] | None) -> str:
    return "—" if f is None else f"{100 * f:.1f} % (95 % CI {100 * ci[0]:.1f}–{100 * ci[1]:.1f} %)"


def report(result: dict) -> str:
    """trial.md: the modeled ALSUMMIT beside the published outcome, its assumptions, and which of them matter."""
    s, d, pub = result["summary"], result["design"], PUBLISHED["results"]
    tr, course = d["trial"], d["course"]
    al = tr["alsummit"]
    sub = pub["slow_progressor_subgroup_press_only"]
    lines = [
        "# Virtual ALSUMMIT (lenzumestrocel, intrathecal autologous MSCs) in the human preset", "",
        f"> **{NON_CLINICAL}** {sim.NOTICE} Nothing here is a dose recommendation.", "",
        (f"Published design: {PROTOCOL}; eligibility {REGISTRY}; CAFS: {CAFS_PAPER}. Preset `{result['preset']}`, domain "
         f"`{result['domain']}`; overrides: `{' '.join(result['overrides']) or '(none)'}`."), "",
        (f"**Dose: an assumption.** No ALSUMMIT dose per injection was found in any source we could open; the model gives "
         f"{course['cells_per_injection']:.3g} cells per injection (`treatment.cells_per_dose`), the mean dose of Karussis "
         "et al. 2010 Arch Neurol 67:1187, standing in for the unread number."), "",
        "## Outcome: modeled beside published", "",
        (f"{s['analysed_replicates']} virtual replicates of {tr['n_analysed']} participants each, randomized "
         f"{':'.join(str(x) for x in al['allocation'])} (Group 1 : Group 2 : control); modeled values are medians with the "
         "2.5–97.5 percentile range over replicates."), "",
        "| | published | modeled |", "|---|---|---|"]
    for c in COURSES:
        x = s[c]
        months = al["endpoint_months_group1"] if c == "group1" else al["endpoint_months_group2"]
        lines += [
            (f"| **{LABEL[c]}, CAFS at {months:g} months: endpoint met** | {pub['primary_endpoint']['value']} | "
             f"in {_fraction(x['fraction_met'], x['fraction_met_ci95'])} of replicates (p < 0.05, MSC ranked higher) |"),
            (f"| {LABEL[c]}: mean CAFS rank, MSC / control | — (overall: not published) | "
             f"{_num(x['mean_rank_msc'], '.1f')} / {_num(x['mean_rank_control'], '.1f')} |"),
            (f"| {LABEL[c]}: mean CAFS score, MSC / control | — | {_num(x['mean_cafs_msc'], '.1f')} / "
             f"{_num(x['mean_cafs_control'], '.1f')} |"),
            f"| {LABEL[c]}: p (Mann–Whitney) | — | {_num(x['p'], '.3f')} |",
            (f"| {LABEL[c]}: deaths (end stage) by the endpoint, MSC / control | — | {_num(x['deaths_msc'], '.0f')} / "
             f"{_num(x['deaths_control'], '.0f')} |")]
    lines += [
        (f"| slow-progressor subgroup, CAFS LS mean MSC vs placebo (post hoc) | press only, not peer reviewed: "
         f"G1 {sub['group1_vs_control'][0]:g} vs {sub['group1_vs_control'][1]:g}; G2 {sub['group2_vs_control'][0]:g} vs "
         f"{sub['group2_vs_control'][1]:g} | not modeled (no published definition of slow progressor) |"),
        f"| either endpoint met | not met | in {_fraction(s['fraction_met_any'], s['fraction_met_any_ci95'])} of replicates |",
        f"| screen failures | — | {_pct(s['screen_failure_fraction'])} |",
        f"| baseline (first injection) ALSFRS-R, mean | — | {_num(s['baseline_alsfrs_mean'], '.1f')} |",
        f"| lead-in decline, points/month, mean | 1.03 ± 50 % (inclusion) | {_num(s['lead_in_slope_mean'], '.2f')} |", "",
        ("Published side: the sponsor's topline (December 2024) reports the primary endpoint not met; its later releases "
         "report a post hoc slow-progressor subgroup (press only, not peer reviewed; the releases disagree on whether the "
         "subgroup figures are at month 6 or 12). CAFS LS means are not on the scale of the mean ranks here, which depend "
         "on the number compared."), ""]
    pe = result["paired_effect"]
    if pe.get("n"):
        lines += [(f"Without noise or sampling (each of the {pe['n']} candidates who pass screening on their model scores "
                   "is both treated and sham):"), ""]
        for c in COURSES:
            x = pe[c]
            lines.append(f"- {LABEL[c]}: endpoint ALSFRS-R difference (treated − sham) "
                         f"{_num(x['endpoint_alsfrs_difference_points'], '.3f')} points (median [2.5–97.5 % over "
                         f"candidates]); end stage by the endpoint {x['deaths_if_treated']} treated vs {x['deaths_if_sham']} "
                         f"sham; probability that a treated outcome beats a sham one on CAFS {x['cafs_win_probability']:.3f} "
                         "(0.5: no difference).")
        lines.append("")
    lines += ["## Agreement with the published null", ""]
    conf = result["conflicts"]
    f1, f2 = s["group1"]["fraction_met"], s["group2"]["fraction_met"]
    if f1 is not None and f1 <= 0.5 and f2 is not None and f2 <= 0.5:
        lines += [(f"On both primary endpoints the modeled trial agrees with the published null: met in "
                   f"{_fraction(f1, s['group1']['fraction_met_ci95'])} (Group 1) and "
                   f"{_fraction(f2, s['group2']['fraction_met_ci95'])} (Group 2) of replicates."), ""]
        if caveat := null_caveat(result):
            lines += [f"**{caveat[0]}** {caveat[1]}", ""]
    if conf:
        lines += ["Where the modeled trial disagrees with the published one or is weak, and the assumption behind it:", ""]
        lines += [f"- {c}" for c in conf]
    else:
        lines += ["The modeled trial does not contradict the published outcome on either primary endpoint."]
    lines += ["", "## Visit noise (sensitivity, same trajectories)", "",
              "| visit noise SD, points | replicates | Group 1 endpoint met | Group 2 endpoint met |", "|---|---|---|---|"]
    for row in result["sensitivity"]:
        g = [("—" if row[c]["fraction_met"] is None else f"{row[c]['fraction_met']:.1%}") for c in COURSES]
        lines.append(f"| {row['visit_noise_sd_points']:g} | {row['analysed_replicates']} | {g[0]} | {g[1]} |")
    counts = result["pool"]["counts"]
    lines += ["", "## Design", "",
              f"- Pool: {result['pool']['size']} virtual candidates (seeds {tr['first_seed']}…, individuals {tr['individuals']}); "
              + "; ".join(f"{v} {k}" for k, v in counts.items()) + ".",
              (f"- Courses, route **{course['route']}**, {course['cells_per_injection']:.3g} cells per injection "
               f"(assumption): Group 1 on days {', '.join(f'{x:g}' for x in course['group1_offsets_days'])} and Group 2 on "
               f"days {', '.join(f'{x:g}' for x in course['group2_offsets_days'])} after each candidate's first injection "
               "(`treatment.offsets_days`; months × 30.4375 d); control: no cells (the sham procedure has no counterpart)."),
              (f"- Visits: diagnosis = onset + {al['onset_to_diagnosis_months']:g} months; screening drawn uniform 0–"
               f"{al['max_months_from_diagnosis']:g} months after diagnosis (assumption); first injection {al['lead_in_weeks']:g} "
               f"weeks after screening; endpoints {al['endpoint_months_group1']:g} and {al['endpoint_months_group2']:g} months "
               "after the first injection."),
              (f"- Enrolment: ALSFRS-R equivalent {al['min_alsfrs_screening']:g}–{al['max_alsfrs_screening']:g} at screening; "
               f"lead-in decline (screening → first injection, two visits) {al['min_slope_points_per_month']:g}–"
               f"{al['max_slope_points_per_month']:g} points/month; screening ≤ {al['max_months_from_diagnosis']:g} months after "
               "diagnosis; no end stage on or before the first injection (sim/eligibility.py: the tracheostomy/ventilation "
               "exclusion). FVC > 40 % and gastrostomy are not modeled."),
              f"- CAFS: {d['cafs']}. Test: {d['test']}.",
              (f"- Replicates: {d['replicates_how']}. Simulation {result['timing']['control_seconds']:g} s (control arms) + "
               f"{result['timing']['treated_seconds']:g} s (treated arms); paired check (treated − control at screening): "
               f"{result['timing']['paired_check_max_points']:.2g} points."),
              "", "## Assumptions, and which matter", "",
              ("1. **The MSC effect**: the CSF route's strengths (msc.csf_*) and the MSC pathway strengths are assumptions, "
               "not fitted to any treatment study. They set the size of the modeled difference between arms and so decide "
               "whether the model could contradict the null. *Matters most.*"),
              ("2. **The dose per injection** is an assumption (no ALSUMMIT dose found): "
               f"{course['cells_per_injection']:.3g} cells, Karussis et al. 2010's mean. *Matters with 1.*"),
              ("3. **ALSFRS-R = 48 × the person's functional index**: a smooth curve; real visit-to-visit error is "
               "represented only by the visit noise of the sensitivity table (no measured test–retest SD is used). "
               "*Matters for who passes the slope window and for the power of the rank test.*"),
              ("4. **Timing**: screening uniform over the 24 months after diagnosis, diagnosis 11 months after onset, and "
               "the 17-week lead-in taken as screening → first injection. *Matters for who is enrolled.*"),
              ("5. **CAFS details and the test**: ±1 per pair and a Mann–Whitney U test stand in for the protocol's "
               "unread analysis (which may adjust for covariates). *Matters little for whether a large effect is found.*"),
              ("6. **Allocation order**: 1:2:2 is read as Group 1 : Group 2 : control, in the order the abstract lists "
               "the groups. *Matters for the power of each comparison.*"),
              ("7. **The human preset is not calibrated in full**, and the pool's size limits how well it represents the "
               f"population ({result['pool']['size']} candidates; replicates resample them)."), ""]
    return "\n".join(lines)


def summary_text(result: dict) -> str:
    """What `alsim +experiment=virtual_trial_alsummit` prints."""
    s = result["summary"]
    lines = [sim.NOTICE, NON_CLINICAL, "",
             (f"virtual ALSUMMIT: {s['analysed_replicates']} replicates of {result['design']['trial']['n_analysed']} "
              f"participants from a pool of {result['pool']['size']} candidates (dose per injection: an assumption)")]
    for c in COURSES:
        x = s[c]
        lines.append(f"  {LABEL[c]}: CAFS endpoint met in {_fraction(x['fraction_met'], x['fraction_met_ci95'])} of "
                     f"replicates; mean rank MSC {_num(x['mean_rank_msc'], '.1f')} vs control "
                     f"{_num(x['mean_rank_control'], '.1f')} (published: not met, sponsor topline)")
    lines += [f"  conflict: {c}" for c in result["conflicts"]]
    f1, f2 = s["group1"]["fraction_met"], s["group2"]["fraction_met"]
    if f1 is not None and f2 is not None and max(f1, f2) <= 0.5 and (caveat := null_caveat(result)):
        lines.append(f"  caveat: {caveat[0]} {caveat[1]}")
    return "\n".join(lines)
