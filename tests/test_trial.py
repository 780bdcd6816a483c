"""The virtual phase 3 trial (sim/experiments/trial.py): enrolment, responder status and the analysis on a hand-made
cohort against a hand computation; end stage before the first infusion is never enrolled; randomization reproduces
from its seed; bad input is refused in one line; one tiny end-to-end run writes trial.json and trial.md."""
from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from sim.config import TrialOptions
from sim.experiments import trial
from sim.presets import compose_config

ROOT = Path(__file__).resolve().parents[1]
TR = TrialOptions()  # screening → randomization 84 d → first treatment 42 d → week 28 (196 d)
DAYS = {"screening": 0.0, "randomization": 84.0, "baseline": 126.0, "week28": 322.0}
PRE_MONTHS, POST_MONTHS = 126.0 / 30.4375, 196.0 / 30.4375


def cand(seed: int, s: float, r: float, b: float, e_control: float, e_treated: float | None, end: float | None = None) -> dict:
    """A hand-made candidate: its four control visit scores, its treated week-28 score (None: never treatable)."""
    return {"seed": seed, "days": dict(DAYS), "onset_to_treatment_months": 18.0,
            "control": {"screening": s, "randomization": r, "baseline": b, "week28": e_control},
            "treated": None if e_treated is None else {"screening": s, "randomization": r, "baseline": b, "week28": e_treated},
            "control_end_stage_day": end, "treated_end_stage_day": end, "reason": None}


# Hand computation (two-visit slopes, decline positive): pre = (S − B)/4.1396 mo, post = (B − E)/6.4394 mo.
#   A: pre 6/4.14 = 1.449; control post 6/6.44 = 0.932 (Δ 0.52: no); treated post 1/6.44 = 0.155 (Δ 1.29: responder)
#   B: pre 1.449; control post 10/6.44 = 1.553 (no); treated post 8/6.44 = 1.242 (Δ 0.21: no)
#   E: pre 7/4.14 = 1.691; post 0 in both arms (Δ 1.69: responder in both: a "placebo responder")
#   C fails screening (24 < 25), D fails the decline (2 < 3); F reached end stage before its first treatment.
POOL = [cand(1, 40, 36, 34, 28, 33), cand(2, 30, 26, 24, 14, 16), cand(3, 24, 20, 18, 10, 10),
        cand(4, 35, 33, 32, 28, 30), cand(5, 45, 40, 38, 38, 38), cand(6, 30, 27, 25, 20, None, end=100.0)]
RESPONDER = {(1, True): True, (1, False): False, (2, True): False, (2, False): False, (5, True): True, (5, False): True}


def test_screening_and_responder_status_match_the_hand_computation():
    assert trial.screen(40, 36, TR) is None and trial.screen(45, 40, TR) is None
    assert "ALSFRS-R 24 < 25" in trial.screen(24, 20, TR)
    assert "decline 2 < 3" in trial.screen(35, 33, TR)
    pre, post = trial.slopes({"screening": 40, "baseline": 34, "week28": 33}, DAYS)
    assert pre == pytest.approx(6 / PRE_MONTHS) and post == pytest.approx(1 / POST_MONTHS)
    for c in POOL[:2] + POOL[4:5]:
        for treated in (True, False):
            scores = {**c["control"], "week28": (c["treated"] if treated else c["control"])["week28"]}
            assert trial.is_responder(scores, DAYS, None, TR) is RESPONDER[(c["seed"], treated)], (c["seed"], treated)
    # end stage before week 28 is a non-responder whatever the slopes say
    assert not trial.is_responder({**POOL[4]["control"]}, DAYS, 300.0, TR)


def test_the_analysis_matches_the_hand_computation():
    treated = np.array([True] * 6 + [False] * 6)
    responder = np.array([True] * 5 + [False] + [True] + [False] * 5)  # 5/6 vs 1/6
    a = trial.analyse(treated, responder)
    assert (a["responders_msc_ntf"], a["responders_placebo"], a["n_msc_ntf"], a["n_placebo"]) == (5, 1, 6, 6)
    assert a["rate_msc_ntf"] == pytest.approx(5 / 6) and a["rate_placebo"] == pytest.approx(1 / 6)
    assert a["odds_ratio_crude"] == pytest.approx(25.0)
    # Fisher exact, two-sided, margins 6/6 and 6/6: P(k) = C(6,k)·C(6,6−k)/C(12,6); k = 0, 1, 5, 6 are as extreme
    fisher = sum(math.comb(6, k) * math.comb(6, 6 - k) for k in (0, 1, 5, 6)) / math.comb(12, 6)
    assert a["p_fisher"] == pytest.approx(fisher) == pytest.approx(74 / 924)
    # logistic regression on arm alone: OR = the crude OR, SE(log OR) = sqrt(1/5 + 1/1 + 1/1 + 1/5) (Woolf), Wald p
    se = math.sqrt(1 / 5 + 1 + 1 + 1 / 5)
    assert a["odds_ratio_adjusted"] == pytest.approx(25.0, rel=1e-6)
    assert a["p_logistic"] == pytest.approx(math.erfc(math.log(25) / se / math.sqrt(2)), rel=1e-6)
    assert a["p"] == a["p_logistic"] and a["met"]  # p ≈ 0.038 < 0.05, OR > 1
    # no responder in one arm: the logistic fit cannot converge, Fisher's test decides and the OR is Haldane's
    b = trial.analyse(treated, np.array([True] * 3 + [False] * 9))
    assert b["p_logistic"] is None and b["p"] == b["p_fisher"]
    assert b["odds_ratio"] == pytest.approx((3.5 * 6.5) / (3.5 * 0.5))


def test_a_replicate_enrols_only_the_screened_and_scores_each_participant_by_hand():
    tr = TrialOptions(n_analysed=40)
    rep = trial.replicate(POOL, tr, 0.0, np.random.default_rng(7))
    people = rep["participants"]
    assert rep["enrolled"] == len(people) == 40
    assert {seed for seed, _, _ in people} <= {1, 2, 5}  # C and D fail screening, F was never treatable
    assert rep["screened"] > 40  # C and D were drawn and failed (with 40 draws from 5, almost surely)
    for seed, treated, responder in people:
        assert responder is RESPONDER[(seed, treated)], (seed, treated)
    arm = np.array([t for _, t, _ in people])
    assert arm.sum() == 20  # 1:1
    a = rep["analysis"]
    assert a["responders_msc_ntf"] == sum(r for _, t, r in people if t)
    assert a["responders_placebo"] == sum(r for _, t, r in people if not t)
    assert a["rate_msc_ntf"] == pytest.approx(a["responders_msc_ntf"] / 20)


def _record(days: np.ndarray, function: np.ndarray):
    """A stand-in for an ArmRecord: rows with the columns the trial reads, one region."""
    rows = [{"day": float(d), "functional_index": float(f), "person_functional_index": float(f),
             "person_mn_alive_fraction": float(f)} for d, f in zip(days, function)]
    return SimpleNamespace(rows=rows, n_neurons=10, death_days=np.array([]), infusion_days=[],
                           individual={"drive_multiplier": 1.0, "treg_multiplier": 1.0})


def test_an_individual_past_end_stage_before_the_first_infusion_is_never_enrolled():
    cfg = compose_config(["+experiment=virtual_trial_nurown", "trial.pool_size=2"])
    days = np.arange(-1095.0, 1501.0)
    fast = np.clip(1.0 - np.maximum(days + 900, 0) / 100.0, 0, 1)  # onset ≈ day −890, end stage (< 0.4) ≈ day −840
    c = trial.candidate_from_control(cfg, 11, _record(days, fast))
    assert c["onset_day"] is not None and c["control_end_stage_day"] < c["days"]["baseline"]
    assert c["reason"].startswith("not eligible")
    assert not trial.could_enrol(c, cfg.trial, noise_max=3.0)
    assert trial.replicate([c], cfg.trial, 0.0, np.random.default_rng(0))["enrolled"] == 0
    # a slower one with the same onset is a candidate, with visit scores read off its own curve
    slow = np.clip(1.0 - np.maximum(days + 900, 0) / 2400.0, 0, 1)
    d = trial.candidate_from_control(cfg, 11, _record(days, slow))
    assert d["reason"] is None and trial.could_enrol(d, cfg.trial, noise_max=1.0)  # its 1.7-point decline needs noise
    onset = d["onset_day"]
    assert d["days"]["baseline"] == pytest.approx(onset + d["onset_to_treatment_months"] * trial.MONTH_DAYS)
    assert d["days"]["screening"] == pytest.approx(d["days"]["baseline"] - 126.0)
    expect = 48 * (1 - (d["days"]["screening"] + 900) / 2400)
    assert d["control"]["screening"] == pytest.approx(expect, abs=1e-6)
    assert 0 <= (d["days"]["screening"] - onset) / trial.MONTH_DAYS <= cfg.trial.max_onset_to_screening_months


def test_the_eligibility_window_keeps_a_candidate_whose_onset_is_too_early_out_of_the_trial():
    """sim.eligibility's window applies to the trial's first treatment too (one rule for runs and trial)."""
    cfg = compose_config(["+experiment=virtual_trial_nurown", "trial.pool_size=2",
                          "treatment.eligibility_max_days_from_onset=100"])
    days = np.arange(-1095.0, 1501.0)
    slow = np.clip(1.0 - np.maximum(days + 900, 0) / 2400.0, 0, 1)  # eligible without the window (test above)
    d = trial.candidate_from_control(cfg, 11, _record(days, slow))
    assert d["days"]["baseline"] - d["onset_day"] >= 126.0  # screening, randomization and treatment follow onset
    assert d["reason"].startswith("not eligible") and "eligibility window" in d["reason"]
    assert not trial.could_enrol(d, cfg.trial, noise_max=1.0)
    assert trial._reason_kind(d["reason"]) == "not eligible: symptom onset past the eligibility window before the first treatment"


def test_randomization_and_replicates_reproduce_from_their_seed():
    a = trial.randomize(189, np.random.default_rng(3))
    assert np.array_equal(a, trial.randomize(189, np.random.default_rng(3)))
    assert a.sum() == 95  # 95 MSC-NTF, 94 placebo, as analysed
    assert not np.array_equal(a, trial.randomize(189, np.random.default_rng(4)))
    tr = TrialOptions(n_analysed=30, seed=5)
    one, two = trial.replicates(POOL, tr, 1.5, 3), trial.replicates(POOL, tr, 1.5, 3)
    assert [r["participants"] for r in one] == [r["participants"] for r in two]
    other = trial.replicates(POOL, TrialOptions(n_analysed=30, seed=6), 1.5, 3)
    assert [r["participants"] for r in one] != [r["participants"] for r in other]
    assert trial.draw_onset_to_treatment(tr, 12) == trial.draw_onset_to_treatment(tr, 12)


def test_the_summary_and_report_put_the_modeled_trial_beside_the_published_one():
    tr = TrialOptions(n_analysed=40)
    reps = trial.replicates(POOL, tr, 0.0, 20)
    s = trial.summarize_replicates(reps)
    assert s["analysed_replicates"] == 20 and 0 <= s["fraction_met"] <= 1
    assert s["fraction_met_ci95"][0] <= s["fraction_met"] <= s["fraction_met_ci95"][1]
    result = {"summary": s, "design": {"trial": vars(tr) | {"noise_sensitivity": [0.0]}, "replicates_how": "resampled",
                                       "course": {"route": "iv", "dose_cells_per_kg": 1.786e6, "cells_per_treatment": 1.25e8,
                                                  "n_infusions": 3, "interval_days": 56.0}, "body_weight_kg": 70},
              "paired_effect": trial.paired_pool_effect(POOL, tr), "preset": "human_sporadic", "domain": "quick",
              "overrides": [], "sensitivity": [{"visit_noise_sd_points": 0.0, **s}],
              "pool": {"size": len(POOL), "counts": {"could be enrolled": 5}},
              "timing": {"control_seconds": 0, "treated_seconds": 0, "paired_check_max_points": 0.0}}
    result["conflicts"] = trial.conflicts(result)
    text = trial.report(result)
    assert trial.NON_CLINICAL in text and "32.6 %" in text and "27.7 %" in text and "intrathecal" in text
    assert "## Assumptions, and which matter" in text
    # a modeled course that moves no slope near the responder threshold: agreeing with the null is called what it is
    result["summary"] = dict(s, fraction_met=0.0)
    result["paired_effect"] = {"n": 3, "responder_rate_if_treated": 0.0, "responder_rate_if_placebo": 0.0,
                               "post_slope_improvement_points_per_month": {"median": 0.0, "lo": 0.0, "hi": 0.01},
                               "week28_alsfrs_difference_points": {"median": 0.0, "lo": 0.0, "hi": 0.05}}
    assert "This agreement says little about MSC-NTF" in trial.report(result)
    assert "caveat: This agreement says little" in trial.summary_text(result)  # what the command prints says it too
    result["paired_effect"]["post_slope_improvement_points_per_month"]["hi"] = 2.0  # a course that can make responders
    assert "This agreement says little" not in trial.report(result)
    assert "This agreement says little" not in trial.summary_text(result)


def _alsim(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], check=False, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


@pytest.mark.parametrize("override,key", [("trial.replicates=0", "trial.replicates=0 is invalid: allowed range is an integer in [1, 1000000]"),
                                          ("trial.pool_size=1", "trial.pool_size=1 is invalid: allowed range"),
                                          ("disease=sod1_g93a_mouse", "is invalid with trial.enabled=true")])
def test_bad_trial_input_is_refused_in_one_line(override, key, tmp_path):
    r = _alsim("+experiment=virtual_trial_nurown", override, f"hydra.run.dir={tmp_path / 'run'}", timeout=120)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alsim: error: ") and key in lines[0], r.stderr
    assert not (tmp_path / "run").exists()


@pytest.mark.slow
def test_a_tiny_virtual_trial_writes_trial_json_and_md(tmp_path):
    out = tmp_path / "trial"
    r = _alsim("+experiment=virtual_trial_nurown", "trial.pool_size=2", "trial.replicates=5", "trial.n_analysed=4",
               "disease.horizon_days=300", "trial.noise_sensitivity=[0,2]", "trial.workers=1", f"hydra.run.dir={out}")
    assert r.returncode == 0, r.stderr
    assert "NON-CLINICAL" in r.stdout and trial.NON_CLINICAL in r.stdout
    result = json.loads((out / "trial.json").read_text(encoding="utf-8"))
    assert result["non_clinical"] is True and result["statement"] == trial.NON_CLINICAL
    assert result["pool"]["size"] == 2 and len(result["pool"]["candidates"]) == 2
    assert result["published"]["results"]["responders_pct"] == trial.PUBLISHED["results"]["responders_pct"]
    assert len(result["replicates"]) == 5 and [x["visit_noise_sd_points"] for x in result["sensitivity"]] == [0.0, 2.0]
    text = (out / "trial.md").read_text(encoding="utf-8")
    assert trial.NON_CLINICAL in text and "Modeled, non-clinical" in text and "published" in text


def test_the_trial_preset_gives_the_cells_as_the_trial_did():
    """Three intrathecal injections of 125 × 10⁶ cells 8 weeks apart (NCT03280056), whatever the body weight."""
    from sim.treatment import cells_per_infusion
    cfg = compose_config(["+experiment=virtual_trial_nurown"])
    t = cfg.treatment
    assert (t.route, t.n_infusions, t.interval_days) == ("intrathecal", 3, 56)
    assert cells_per_infusion(t, cfg.disease) == 125_000_000
