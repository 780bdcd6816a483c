"""The virtual ALSUMMIT trial (sim/experiments/trial_alsummit.py) and the irregular schedule it needs
(treatment.offsets_days): CAFS on a hand-made cohort against a hand computation (deaths, ties); enrolment on a tiny
constructed pool against a hand computation (slope window, diagnosis window, ALSFRS-R 31–46, end stage before the first
injection); 1:2:2 randomization counts; offset days give those infusion days in a model run, bad schedules are refused
in one line, and the config hash of every run without offsets is unchanged; one tiny end-to-end run."""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from sim.config import AlsummitOptions, ConfigError, TrialOptions
from sim.experiments import trial_alsummit as ta
from sim.presets import compose_config
from sim.run import ArmJob, config_hash, run_arm, run_arms, summarize, summary_table

ROOT = Path(__file__).resolve().parents[1]
AL = AlsummitOptions()
LEAD_IN_MONTHS = 17 * 7 / 30.4375  # 119 d = 3.9097 months
GROUP2 = [0, 26, 121.75, 213.0625, 304.375]  # days 0, 26 and months 4, 7, 10 (× 30.4375 d)


# --------------------------------------------------------------------------- CAFS
def test_cafs_scores_and_ranks_match_the_hand_computation():
    """Five participants: A, C alive with a 2-point decline, B alive with 5, D dead on day 100, E dead on day 150.
    Pairs (+1 better / −1 worse / 0 tie): A ties C and beats B, D, E → 3; C likewise → 3; B loses to A and C and beats
    the dead → 0; D loses to everyone (E lived longer) → −4; E beats only D → −2."""
    decline = np.array([2.0, 5.0, 2.0, 40.0, 30.0])  # the dead's declines must not matter
    death = np.array([np.nan, np.nan, np.nan, 100.0, 150.0])
    assert ta.cafs_scores(decline, death).tolist() == [3.0, 0.0, 3.0, -4.0, -2.0]
    # both died on the same day: a tie, whatever their declines
    assert ta.cafs_scores(np.array([1.0, 9.0]), np.array([80.0, 80.0])).tolist() == [0.0, 0.0]
    # MSC = A, C, E; control = B, D. Average ranks of [3, 0, 3, −4, −2]: −4 → 1, −2 → 2, 0 → 3, 3 and 3 → 4.5
    a = ta.analyse_cafs(np.array([True, False, True, False, True]), decline, death)
    assert a["mean_rank_msc"] == pytest.approx((4.5 + 4.5 + 2) / 3) and a["mean_rank_control"] == pytest.approx(2.0)
    assert a["mean_cafs_msc"] == pytest.approx(4 / 3) and a["mean_cafs_control"] == pytest.approx(-2.0)
    assert (a["deaths_msc"], a["deaths_control"]) == (1, 1)
    assert a["mean_decline_msc"] == pytest.approx(2.0) and a["mean_decline_control"] == pytest.approx(5.0)
    # Mann–Whitney: U(MSC) = 5 of 6 pairs; one tie group of 2 → σ² = n1·n2/12·((n+1) − Σ(t³−t)/(n(n−1))) = 0.5·(6 − 0.3)
    # = 2.85; with the continuity correction z = (5 − 3 − 0.5)/√2.85, two-sided p = erfc(z/√2)
    z = 1.5 / math.sqrt(2.85)
    assert a["p"] == pytest.approx(math.erfc(z / math.sqrt(2)), rel=1e-9)
    assert not a["met"]  # p ≈ 0.37
    # every outcome the same: no evidence either way
    same = ta.analyse_cafs(np.array([True, False, True]), np.array([3.0, 3.0, 3.0]), np.full(3, np.nan))
    assert same["p"] == 1.0 and not same["met"]


# --------------------------------------------------------------------------- enrolment
def cand(seed: int, s: float, b: float, months_from_diagnosis: float = 10.0, arms: dict | None = None,
         end: dict | None = None) -> dict:
    """A hand-made candidate: diagnosis on day 0, its screening and first-injection scores, and per arm its scores at the
    two endpoints (None: never treatable)."""
    screening = months_from_diagnosis * ta.MONTH_DAYS
    days = {"diagnosis": 0.0, "screening": screening, "baseline": screening + 119.0,
            "endpoint1": screening + 119.0 + 6 * ta.MONTH_DAYS, "endpoint2": screening + 119.0 + 12 * ta.MONTH_DAYS}
    arms = arms or {"control": (b - 3, b - 6), "group1": (b - 3, b - 6), "group2": (b - 3, b - 6)}
    c = {"seed": seed, "days": days, "reason": None,
         **{f"{a}_end_stage_day": (end or {}).get(a) for a in ta.ARMS}}
    for a, (e1, e2) in arms.items():
        c[a] = {"screening": s, "baseline": b, "endpoint1": e1, "endpoint2": e2}
    return c


def test_screening_matches_the_hand_computation():
    """Lead-in slope = (screening − first injection)/3.9097 months: 4 points → 1.023 and 6 → 1.535 pass the 0.515–1.545
    window; 2 → 0.512 and 7 → 1.790 fail. ALSFRS-R 31 and 46 pass, 30 and 47 fail. 24 months after diagnosis passes,
    25 fails."""
    def why(s, b, months=10.0):
        c = cand(0, s, b, months)
        return ta.screen({v: c["control"][v] for v in ta.VISITS}, c["days"], AL)

    assert ta.lead_in_slope(40, 36, AL) == pytest.approx(4 / LEAD_IN_MONTHS) == pytest.approx(1.0231, abs=1e-4)
    assert why(40, 36) is None and why(40, 34) is None
    assert "lead-in decline 0.512" in why(40, 38) and "lead-in decline 1.790" in why(40, 33)
    assert why(31, 27) is None and why(46, 42) is None
    assert "ALSFRS-R 30 at screening outside 31–46" in why(30, 26)
    assert "ALSFRS-R 47 at screening outside 31–46" in why(47, 43)
    assert why(40, 36, 24.0) is None
    assert "25.0 months after diagnosis, outside 0–24" in why(40, 36, 25.0)


POOL = [cand(1, 40, 36), cand(2, 40, 38), cand(3, 47, 43), cand(4, 40, 36, 25.0), cand(5, 35, 30),
        {**cand(6, 40, 36), "group2": None, "group1": None, "reason": "not eligible: end stage"}]


def test_a_replicate_enrols_only_those_who_pass_and_randomizes_1_2_2():
    tr = TrialOptions(n_analysed=20, seed=3)
    rep = ta.replicate(POOL, tr, 0.0, np.random.default_rng(1))
    seeds = [s for s, _ in rep["participants"]]
    assert rep["enrolled"] == 20 and set(seeds) <= {1, 5}  # 2: slope 0.51; 3: ALSFRS-R 47; 4: 25 months; 6: never treatable
    assert rep["screened"] > 20  # the failing ones were drawn too (almost surely, in 20+ draws from 5)
    assert rep["arm_sizes"] == {"group1": 4, "group2": 8, "control": 8}
    assert (rep["analysis"]["group1"]["n_msc"], rep["analysis"]["group1"]["n_control"]) == (4, 8)
    assert (rep["analysis"]["group2"]["n_msc"], rep["analysis"]["group2"]["n_control"]) == (8, 8)
    # every arm the same course here: every comparison ties, no evidence either way
    assert rep["analysis"]["group1"]["p"] == 1.0 and not rep["analysis"]["group2"]["met"]
    # a pool in which nobody passes enrols nobody
    assert ta.replicate(POOL[1:4], tr, 0.0, np.random.default_rng(1))["enrolled"] == 0


def test_allocation_counts_and_reproducibility():
    a = ta.allocate(115, [1, 2, 2], np.random.default_rng(3))
    assert np.bincount(a).tolist() == [23, 46, 46]  # 115 randomized 1:2:2
    assert np.array_equal(a, ta.allocate(115, [1, 2, 2], np.random.default_rng(3)))
    assert not np.array_equal(a, ta.allocate(115, [1, 2, 2], np.random.default_rng(4)))
    # 7 × (1, 2, 2)/5 = 1.4, 2.8, 2.8: floors 1, 2, 2 and the two spare places to the largest remainders
    assert np.bincount(ta.allocate(7, [1, 2, 2], np.random.default_rng(0))).tolist() == [1, 3, 3]


def test_a_course_that_keeps_function_meets_its_endpoint_and_one_that_does_not_fails():
    """Group 2's course holds the score (no decline by 12 months), Group 1's does nothing: with 40 participants every
    Group 2 outcome beats every control outcome (U = 16·16, p ≪ 0.05), Group 1 ties control throughout (p = 1)."""
    pool = [cand(k, 40, 36, arms={"control": (33, 30), "group1": (33, 30), "group2": (36, 36)}) for k in range(3)]
    rep = ta.replicate(pool, TrialOptions(n_analysed=40), 0.0, np.random.default_rng(0))
    g1, g2 = rep["analysis"]["group1"], rep["analysis"]["group2"]
    assert g2["met"] and g2["p"] < 1e-5 and g2["mean_cafs_msc"] == pytest.approx(16.0)  # beats all 16 controls
    assert g1["p"] == 1.0 and not g1["met"]
    # a death before the endpoint is worse than any decline: control dying on day 30 after the first injection
    dying = [cand(k, 40, 36, end={"control": 10 * ta.MONTH_DAYS + 119 + 30}) for k in range(2)]
    d = ta.replicate(dying, TrialOptions(n_analysed=10), 0.0, np.random.default_rng(0))["analysis"]["group1"]
    assert d["deaths_control"] == 4 and d["deaths_msc"] == 0 and d["met"] is False  # 2 vs 4 are too few for p < 0.05
    assert d["mean_rank_msc"] > d["mean_rank_control"]
    effect = ta.paired_pool_effect(pool, AL)
    assert effect["n"] == 3 and effect["group2"]["endpoint_alsfrs_difference_points"]["median"] == pytest.approx(6.0)
    assert effect["group2"]["cafs_win_probability"] == 1.0 and effect["group1"]["cafs_win_probability"] == 0.5
    # a course that moves the model score by a thousandth of a point changes no visit score: no CAFS advantage
    tiny = [cand(k, 40, 36, arms={"control": (33, 30), "group1": (33.001, 30), "group2": (33, 30.001)}) for k in range(3)]
    tiny_effect = ta.paired_pool_effect(tiny, AL)
    assert tiny_effect["group1"]["max_abs_endpoint_difference_points"] == pytest.approx(0.001)
    assert tiny_effect["group1"]["cafs_win_probability"] == tiny_effect["group2"]["cafs_win_probability"] == 0.5


def _record(days: np.ndarray, function: np.ndarray):
    rows = [{"day": float(d), "functional_index": float(f), "person_functional_index": float(f),
             "person_mn_alive_fraction": float(f)} for d, f in zip(days, function)]
    return SimpleNamespace(rows=rows, n_neurons=10, death_days=np.array([]), infusion_days=[],
                           individual={"drive_multiplier": 1.0, "treg_multiplier": 1.0})


def test_end_stage_before_the_first_injection_is_never_enrolled():
    cfg = compose_config(["+experiment=virtual_trial_alsummit", "trial.pool_size=2"])
    days = np.arange(-1095.0, 2201.0)
    fast = np.clip(1.0 - np.maximum(days + 900, 0) / 300.0, 0, 1)  # onset ≈ day −890, end stage about 200 d later
    c = ta.candidate_from_control(cfg, 11, _record(days, fast))
    assert c["control_end_stage_day"] < c["days"]["baseline"] and c["reason"].startswith("not eligible")
    assert not ta.could_enrol(c, cfg.trial.alsummit, noise_max=3.0)
    assert ta._reason_kind(c["reason"]) == "not eligible: end stage on or before the first injection"
    # a slower one: visit days follow the design (diagnosis = onset + 11 months, lead-in 17 weeks, endpoints 6 and 12
    # months) and its scores are read off its own curve
    slow = np.clip(1.0 - np.maximum(days + 900, 0) / 3000.0, 0, 1)
    d = ta.candidate_from_control(cfg, 11, _record(days, slow))
    v, onset = d["days"], d["onset_day"]
    assert d["reason"] is None
    assert v["diagnosis"] == pytest.approx(onset + 11 * ta.MONTH_DAYS)
    assert 0 <= (v["screening"] - v["diagnosis"]) / ta.MONTH_DAYS <= 24
    assert v["baseline"] - v["screening"] == pytest.approx(119.0)
    assert v["endpoint2"] - v["baseline"] == pytest.approx(12 * ta.MONTH_DAYS)
    assert d["control"]["screening"] == pytest.approx(48 * (1 - (v["screening"] + 900) / 3000), abs=1e-6)
    assert ta.draw_diagnosis_to_screening(cfg.trial, 11) == d["diagnosis_to_screening_months"]


def test_the_groups_courses_are_the_offsets_from_each_first_injection():
    cfg = compose_config(["+experiment=virtual_trial_alsummit"])
    c = ta.courses(cfg, 250.0)
    from sim.treatment import infusion_days
    assert infusion_days(c["group2"], cfg.disease) == [250.0 + x for x in GROUP2]
    assert infusion_days(c["group1"], cfg.disease) == [250.0, 276.0]
    assert c["group1"].cells_per_dose == 6.32e7 and c["group1"].route == "intrathecal"


def test_the_report_puts_the_modeled_trial_beside_the_published_null():
    pool = [cand(k, 40, 36) for k in range(3)]
    tr = dataclasses.replace(TrialOptions(n_analysed=20), noise_sensitivity=[0.0])
    reps = ta.replicates(pool, tr, 0.0, 4)
    s = ta.summarize_replicates(reps)
    assert s["analysed_replicates"] == 4 and s["group1"]["fraction_met"] == 0.0 and s["fraction_met_any"] == 0.0
    assert s["group2"]["fraction_met_ci95"][0] == 0.0 < s["group2"]["fraction_met_ci95"][1]
    result = {"summary": s, "preset": "human_sporadic", "domain": "quick", "overrides": [],
              "design": {"trial": ta.trial_options(tr, "alsummit"), "cafs": "pairwise", "test": "Mann–Whitney",
                         "replicates_how": "resampled",
                         "course": {"route": "intrathecal", "cells_per_injection": 63_200_000,
                                    "group1_offsets_days": GROUP2[:2], "group2_offsets_days": GROUP2}},
              "paired_effect": ta.paired_pool_effect(pool, AL), "sensitivity": [{"visit_noise_sd_points": 0.0, **s}],
              "pool": {"size": 3, "counts": {"could be enrolled": 3}},
              "timing": {"control_seconds": 0, "treated_seconds": 0, "paired_check_max_points": 0.0}}
    result["conflicts"] = ta.conflicts(result)
    text = ta.report(result)
    assert ta.NON_CLINICAL in text and "Nothing here is a dose recommendation" in text
    assert "not met (sponsor, topline)" in text and "press only" in text and "20.95" in text
    assert "**Dose: an assumption.**" in text and "6.32e+07" in text
    assert "This agreement says little about lenzumestrocel" in text  # identical arms: the null says nothing
    assert "caveat: This agreement says little" in ta.summary_text(result)
    assert any("only 3 pool candidates" in c for c in result["conflicts"])
    # a course whose effect makes most replicates meet an endpoint is named as the conflict it is
    result["summary"] = {**s, "group2": {**s["group2"], "fraction_met": 0.9}}
    assert any("sponsor reports it not met" in c for c in ta.conflicts(result))


# --------------------------------------------------------------------------- treatment.offsets_days
SHORT = ["domain=quick", "disease.horizon_days=50", "treatment.start_day=35", "seed=3"]


def test_offset_days_give_those_infusion_days_in_a_model_run():
    cfg = compose_config([*SHORT, "treatment.offsets_days=[0,3,7.5]"])
    control, treated = run_arms([ArmJob(cfg, "control"), ArmJob(cfg, "treated")])
    assert treated.infusion_days == [35.0, 38.0, 42.5] and control.infusion_days == []
    s = summarize(cfg, [control, treated])
    assert s["treatment"]["offsets_days"] == [0.0, 3.0, 7.5] and s["treatment"]["n_infusions"] == 3
    assert s["treatment"]["infusion_days"] == [35.0, 38.0, 42.5]
    assert "on day(s) 35, 38, 42.5" in summary_table(s) and "treatment.offsets_days [0, 3, 7.5]" in summary_table(s)
    # a sweep's runs table carries the course, so sweep figures mark these days, not the regular rule's
    from sim.experiments.collect import summary_outcomes
    from sim.figures import scheduled_days
    row = summary_outcomes(json.loads(json.dumps(s)))
    assert row["offsets_days"] == "0 3 7.5" and scheduled_days(row, 60.0) == [35.0, 38.0, 42.5]
    assert "offsets_days" not in summary_outcomes(json.loads(json.dumps(summarize(compose_config(SHORT), [control]))))
    # past the horizon: named in the warning, not simulated
    late = compose_config([*SHORT, "treatment.offsets_days=[0,3,20]"])
    assert run_arm(late, "treated").infusion_days == [35.0, 38.0]
    from sim.treatment import course_warning
    assert "1 of treatment.offsets_days (a course of 3) infusion(s) (day(s) 55)" in course_warning(late.treatment, late.disease)


@pytest.mark.parametrize("value,message", [
    ("[5,30]", "treatment.offsets_days=[5.0, 30.0] is invalid: the first offset must be 0"),
    ("[0,30,20]", "treatment.offsets_days=[0.0, 30.0, 20.0] is invalid: allowed is increasing days"),
    ("[0,0]", "treatment.offsets_days=[0.0, 0.0] is invalid: allowed is increasing days"),
    ("[0,-3]", "treatment.offsets_days=[0.0, -3.0] is invalid: allowed is increasing days (each offset > the one before, all ≥ 0)"),
])
def test_bad_schedules_are_refused_in_one_line(value, message):
    with pytest.raises(ConfigError) as err:
        compose_config([*SHORT, f"treatment.offsets_days={value}"])
    assert str(err.value).startswith(message) and "\n" not in str(err.value)


def test_the_alsummit_design_refuses_a_course_it_cannot_split():
    with pytest.raises(ConfigError, match=r"^treatment.offsets_days=\[\] is invalid with trial.design=alsummit"):
        compose_config(["+experiment=virtual_trial_alsummit", "treatment.offsets_days=[]"])
    with pytest.raises(ConfigError, match=r"^trial.alsummit.group1_injections=6 is invalid: allowed range is \[1, 5\]"):
        compose_config(["+experiment=virtual_trial_alsummit", "trial.alsummit.group1_injections=6"])
    with pytest.raises(ConfigError, match=r"^trial.design='x' is invalid: allowed values are nurown, alsummit"):
        compose_config(["+experiment=virtual_trial_alsummit", "trial.design=x"])


def _hash_without_offsets(cfg) -> str:
    """config_hash as it was before treatment.offsets_days existed (sim/run.py at 9225684), for a config without them."""
    model = {k: v for k, v in dataclasses.asdict(cfg).items() if k not in ("run", "calibration", "trial", "uncertainty")}
    del model["treatment"]["offsets_days"]
    if model["treatment"]["eligibility_max_days_from_onset"] is None:
        del model["treatment"]["eligibility_max_days_from_onset"]
    return hashlib.sha256(json.dumps(model, sort_keys=True, default=str).encode()).hexdigest()[:16]


@pytest.mark.parametrize("overrides", [[], ["+experiment=virtual_trial_nurown"], ["disease=human_sporadic", "treatment=intrathecal_msc"],
                                       ["treatment.n_infusions=3", "treatment.interval_days=26"]])
def test_the_config_hash_is_unchanged_without_offsets(overrides):
    cfg = compose_config(overrides)
    assert config_hash(cfg) == _hash_without_offsets(cfg)
    # the same course written as offsets is a different config (its own hash: a sweep never reuses the other's run)
    assert config_hash(compose_config([*overrides, "treatment.offsets_days=[0,26]"])) != config_hash(cfg)
    # the trial's own options never enter the hash
    assert config_hash(compose_config([*overrides, "trial.alsummit.lead_in_weeks=20", "trial.seed=9"])) == config_hash(cfg)


# --------------------------------------------------------------------------- end to end
def _alsim(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], check=False, cwd=ROOT, capture_output=True, text=True,
                          timeout=timeout)


def test_a_bad_schedule_is_refused_by_the_command_in_one_line(tmp_path):
    r = _alsim("+experiment=virtual_trial_alsummit", "treatment.offsets_days=[0,26,20]", f"hydra.run.dir={tmp_path / 'run'}",
               timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alsim: error: treatment.offsets_days=[0.0, 26.0, 20.0] is invalid")
    assert not (tmp_path / "run").exists()


def test_a_tiny_virtual_alsummit_writes_trial_json_and_md(tmp_path):
    out = tmp_path / "trial"
    r = _alsim("+experiment=virtual_trial_alsummit", "trial.pool_size=2", "trial.replicates=5", "trial.n_analysed=5",
               "disease.horizon_days=300", "trial.noise_sensitivity=[0,2]", "trial.workers=1", f"hydra.run.dir={out}")
    assert r.returncode == 0, r.stderr
    assert "NON-CLINICAL" in r.stdout and ta.NON_CLINICAL in r.stdout and "virtual ALSUMMIT" in r.stdout
    result = json.loads((out / "trial.json").read_text(encoding="utf-8"))
    assert result["non_clinical"] is True and result["statement"] == ta.NON_CLINICAL
    assert result["design_name"] == "alsummit" and result["design"]["trial"]["alsummit"]["allocation"] == [1, 2, 2]
    assert result["design"]["course"]["group2_offsets_days"] == GROUP2
    assert result["pool"]["size"] == 2 and len(result["replicates"]) == 5
    assert [x["visit_noise_sd_points"] for x in result["sensitivity"]] == [0.0, 2.0]
    assert result["published"]["results"]["met"] is False
    text = (out / "trial.md").read_text(encoding="utf-8")
    assert ta.NON_CLINICAL in text and "not met (sponsor, topline)" in text and "Dose: an assumption" in text
