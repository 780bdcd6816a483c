"""Calibration to natural history and the virtual cohort (issue 5).

The band tests run the calibrated presets' untreated course on a fixed set of 32 seeds that the fit
never saw (seeds 0–31; the fit used 1000+), on the quick domain.
"""
from __future__ import annotations

import dataclasses
import functools
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from scipy import stats

import sim
from sim.presets import compose_config
from sim.config import ConfigError
from sim.experiments import calibrate
from sim.model import ALSModel, draw_individual
from sim.run import simulate, summarize

ROOT = Path(__file__).resolve().parents[1]
TARGETS = ROOT / "experiments" / "calibration" / "targets.yaml"
PRESETS = ("sod1_g93a_mouse", "human_sporadic")
TEST_SEEDS = list(range(32))
# Fitted targets a calibrated preset is known to miss on the held-out cohort; each is explained in
# experiments/calibration/README.md ("Known misses"). The test also fails when one starts to pass, so
# the README's account stays true.
KNOWN_MISSES: dict[str, set[str]] = {
    "sod1_g93a_mouse": {"M-S1"},
    "human_sporadic": {"H-C1"},
}
# A target is checked on the held-out cohort when the fit used it and its evidence is at least moderate.
CHECKED = ("H", "M", "consistency")


def fitted(preset: str) -> dict:
    return json.loads((ROOT / "experiments" / "calibration" / preset / "fit.json").read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=None)
def held_out_cohort(preset: str) -> tuple[dict, ...]:
    """The held-out individuals, chosen the way the fit chose its own (random draws or a stratified cohort)."""
    cfg = compose_config([f"disease={preset}", "treatment=none", "domain=quick",
                          f"calibration.individuals={fitted(preset).get('individuals', 'random')}"])
    return tuple(calibrate.calibration_cohort(cfg, TEST_SEEDS, workers=2))


# --------------------------------------------------------------------------- the targets file
def test_every_target_has_a_band_a_source_and_a_known_statistic():
    doc = yaml.safe_load(TARGETS.read_text(encoding="utf-8"))
    assert set(PRESETS) <= set(doc)
    for preset in PRESETS:
        targets = calibrate.load_targets(TARGETS, preset)
        assert any(t["fit"] for t in targets)
        for t in targets:
            lo, hi = t["band"]
            known = calibrate.MANIPULATION_OUTCOMES if t.get("manipulation") else calibrate.STATISTICS
            assert lo < hi and t["source"].strip() and t["statistic"] in known


def test_unknown_preset_or_missing_file_is_a_one_line_error(tmp_path):
    with pytest.raises(ConfigError) as err:
        calibrate.load_targets(TARGETS, "zebrafish")
    assert "\n" not in str(err.value) and "sod1_g93a_mouse" in str(err.value)
    with pytest.raises(ConfigError, match="calibration.targets_file"):
        calibrate.load_targets(tmp_path / "missing.yaml", "sod1_g93a_mouse")


def test_loss_is_zero_at_the_band_centre_gentle_inside_and_steep_outside():
    band = (100.0, 120.0)
    assert calibrate.target_loss(110.0, band, "H") == 0.0
    inside_edge = calibrate.target_loss(120.0, band, "H")
    assert 0 < inside_edge <= 0.1 + 1e-12
    assert calibrate.target_loss(130.0, band, "H") > 100 * inside_edge  # one half-width outside
    assert calibrate.target_loss(130.0, band, "L") == pytest.approx(calibrate.target_loss(130.0, band, "H") * 0.25)
    assert calibrate.target_loss(math.nan, band, "M") == calibrate.WEIGHTS["M"] * calibrate.NON_FINITE_PENALTY


def test_decline_is_measured_in_the_post_diagnosis_follow_up_like_the_sources():
    """Diagnosis = onset + 11 months; slope over ≤ 24 months or to end stage; < 3 months of follow-up = no slope."""
    month = calibrate.MONTH_DAYS
    days = np.arange(0.0, 3000.0, 1.0)
    window = calibrate._follow_up(days, onset=100.0, end=None, horizon=3000.0, months=24)
    assert days[window][0] == pytest.approx(100 + 11 * month, abs=1) and days[window][-1] == pytest.approx(100 + 35 * month, abs=1)
    short = calibrate._follow_up(days, onset=100.0, end=100 + 13 * month, horizon=3000.0, months=24)
    assert not short.any()  # end stage 2 months after diagnosis: never in a follow-up cohort
    assert not calibrate._follow_up(days, onset=None, end=None, horizon=3000.0, months=24).any()
    line = 48 - 0.9 * days / month  # an ALSFRS-R-equivalent falling 0.9 points a month
    assert calibrate._slope_per_month(days[window], line[window]) == pytest.approx(0.9)


def _person(onset, end):
    return {"onset_days": onset, "end_stage_days": end, "horizon_days": 3000.0}


def test_an_individual_without_onset_in_the_simulated_days_counts_as_the_longest_survivor():
    """The slowest progressors' course outruns the horizon: they stay in the survival statistics as censored at +inf."""
    cohort = [_person(0.0, 300.0), _person(0.0, 600.0), _person(100.0, 1000.0), _person(None, None)]
    time, observed = calibrate._survival_from_onset(cohort)
    assert list(time) == [300.0, 600.0, 900.0, math.inf] and list(observed) == [True, True, True, False]
    median = calibrate.STATISTICS["median_survival_from_onset_months"](cohort) * calibrate.MONTH_DAYS
    assert median == pytest.approx(750.0)  # not 600, the median of the three observed
    spread = calibrate.STATISTICS["log_survival_sd"]
    assert spread(cohort * 2) > spread(cohort[:3] * 2)  # the censored slowest widen the spread, not vanish
    # an end stage not reached by the horizon is censored there
    time, observed = calibrate._survival_from_onset([_person(2500.0, None)])
    assert time[0] == 500.0 and not observed[0]


def test_an_end_stage_censored_by_the_horizon_is_not_counted_as_a_short_survival():
    """Late onset leaves a short follow-up: Kaplan–Meier counts that individual only while it is known alive."""
    observed = [_person(0.0, t) for t in (100.0, 200.0, 300.0, 400.0)]
    late = _person(2750.0, None)  # onset 250 d before the horizon, end stage not reached: survival > 250 d
    median = calibrate.STATISTICS["median_onset_to_end_stage_days"]
    assert median(observed + [late]) == pytest.approx(300.0)  # by hand: S = .8, .6, (250 censored), .3, 0
    assert median(observed + [_person(2990.0, None)]) == pytest.approx(250.0)  # censored at 10 d: as if absent
    assert median(observed) == pytest.approx(250.0)
    # counted as an observed 250-d survival (the old read-out) it would pull the median down to 250
    assert median(observed + [_person(0.0, 250.0)]) == pytest.approx(250.0)
    assert math.isinf(median([_person(None, None)] * 3 + observed[:2]))  # more than half never reach end stage


@pytest.mark.parametrize("n", [7, 8, 31, 32])
def test_without_censoring_the_kaplan_meier_median_is_the_sample_median(n):
    times = np.random.default_rng(n).lognormal(6.5, 1.0, n)
    median = calibrate._km_quantile(times, np.ones(n, bool), 0.5)
    assert median == pytest.approx(float(np.median(times)))
    lower = calibrate._km_quantile(times, np.ones(n, bool), 0.25)
    assert (times <= lower).mean() >= 0.25 and (times < lower).mean() <= 0.25  # a lower quartile of the sample


@pytest.mark.parametrize("censored_share", [0.0, 0.3])
def test_the_survival_spread_recovers_a_lognormal_sigma_under_independent_censoring(censored_share):
    """σ of log survival by maximum likelihood: exact in distribution, censoring handled, not dropped."""
    rng = np.random.default_rng(1)
    n, sigma, median = 2000, 0.9, 900.0
    survival = median * np.exp(sigma * rng.standard_normal(n))
    follow_up = np.where(rng.random(n) < censored_share * 2, rng.uniform(0, 3 * median, n), np.inf)
    cohort = [_person(0.0, t if t <= f else None) | {"horizon_days": min(f, 1e7)} for t, f in zip(survival, follow_up)]
    time, observed = calibrate._survival_from_onset(cohort)
    assert (~observed).mean() == pytest.approx(censored_share, abs=0.1)
    assert calibrate.STATISTICS["log_survival_sd"](cohort) == pytest.approx(sigma, abs=0.05)
    assert calibrate.STATISTICS["median_onset_to_end_stage_days"](cohort) == pytest.approx(median, rel=0.06)


def test_on_a_cohort_of_32_the_likelihood_spread_is_far_less_noisy_than_the_quartile_spread():
    """Why H-S5 uses the likelihood σ: the band is ±0.2 wide and the quartile estimator's sampling SD ≈ 0.3."""
    rng = np.random.default_rng(2)
    quartile, likelihood = [], []
    for _ in range(200):
        cohort = [_person(0.0, t) for t in 900.0 * np.exp(rng.standard_normal(32))]
        time, observed = calibrate._survival_from_onset(cohort)
        median, lower = (calibrate._km_quantile(time, observed, p) for p in (0.5, 0.25))
        quartile.append(math.log(median / lower) / stats.norm.ppf(0.75))  # a lognormal's σ from its quartiles
        likelihood.append(calibrate.STATISTICS["log_survival_sd"](cohort))
    assert abs(np.mean(likelihood) - 1.0) < 0.05 and abs(np.mean(quartile) - 1.0) < 0.1  # both centred near σ = 1
    assert np.std(likelihood) < 0.16 < 0.24 < np.std(quartile)


def test_the_munix_equivalent_counts_functioning_units_not_somata():
    """Effective number (Σs)²/Σs²: equal units count fully, denervating ones less, enlarged ones not more."""
    from sim.agents.motor_neuron import motor_unit_number_index
    p = compose_config([]).neurons
    alive, healthy = np.array([True] * 4 + [False] * 6), np.ones(10)
    assert motor_unit_number_index(np.ones(10), healthy, alive, 10, p) == pytest.approx(0.4)  # = living fraction
    assert motor_unit_number_index(np.full(10, 1.8), healthy, alive, 10, p) == pytest.approx(0.4)  # enlargement
    weak = np.array([1.0, 1.0, 1.0, 0.1 * p.denervation_health] + [0.0] * 6)  # one unit keeps 10 % of its fibres
    assert motor_unit_number_index(np.ones(10), weak, alive, 10, p) == pytest.approx((3.1 ** 2 / 3.01) / 10)
    assert motor_unit_number_index(np.ones(10), healthy, np.zeros(10, bool), 10, p) == 0.0


# --------------------------------------------------------------------------- calibrated presets
@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_held_out_control_cohort_is_inside_the_natural_history_bands(preset):
    """A fixed seed set the fit never saw: every fitted H/M target lies inside its band.

    The manipulation targets (the training rows of manipulations.csv) need the same individuals simulated again
    under each manipulation; test_manipulations.py checks them on its own held-out cohort.
    """
    cohort = list(held_out_cohort(preset))
    targets = [t for t in calibrate.load_targets(TARGETS, preset) if not t.get("manipulation")]
    _, rows = calibrate.score(cohort, targets)
    outside = {r["id"]: f"{r['id']} {r['statistic']}={r['model']:.3g} not in {r['band']}" for r in rows
               if r["fit"] and r["confidence"] in CHECKED and not r["inside"]}
    unexpected = [text for key, text in outside.items() if key not in KNOWN_MISSES[preset]]
    assert not unexpected, "; ".join(unexpected)
    assert KNOWN_MISSES[preset] <= set(outside), "a known miss now passes: update KNOWN_MISSES and the README"


@pytest.mark.slow
@pytest.mark.parametrize("preset", PRESETS)
def test_fast_progressors_reach_end_stage_earlier(preset):
    """The virtual cohort's drive multiplier orders the individuals' end stage (Spearman ρ < 0)."""
    cohort = held_out_cohort(preset)
    drive = [c["drive_multiplier"] for c in cohort]
    assert np.std(np.log(drive)) > 0.05, "the calibrated preset has between-individual variability"
    end = [c["end_stage_days"] if c["end_stage_days"] is not None else c["horizon_days"] for c in cohort]
    assert stats.spearmanr(drive, end).statistic < -0.5


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_values_are_the_fitted_ones(preset):
    fit = fitted(preset)
    cfg = compose_config([f"disease={preset}"])
    assert fit["preset"] == preset and fit["chosen"]
    for key, value in fit["chosen"].items():
        section, name = key.split(".")
        assert getattr(getattr(cfg, section), name) == pytest.approx(value, rel=1e-3), key
    report = (ROOT / "experiments" / "calibration" / preset / "fit_report.md").read_text(encoding="utf-8")
    assert sim.NOTICE in report and fit["command"] in report


@pytest.mark.parametrize("preset", PRESETS)
def test_the_calibration_status_every_run_prints_matches_the_held_out_check(preset):
    """A preset with known misses must say it is not calibrated; one without must not say so."""
    status = compose_config([f"disease={preset}"]).disease.calibration
    if KNOWN_MISSES[preset]:
        assert status.startswith("NOT calibrated") and f"misses {len(KNOWN_MISSES[preset])} of" in status
    else:
        assert status.startswith("fitted: inside every fitted") and f"{len(TEST_SEEDS)} held-out" in status
    assert "experiments/calibration/README.md" in status


def _numbers(obj, prefix=""):
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if dataclasses.is_dataclass(value):
            yield from _numbers(value, f"{prefix}{f.name}.")
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            yield f"{prefix}{f.name}", value, f.metadata.get("plausible")


@pytest.mark.parametrize("preset", PRESETS)
def test_every_preset_value_lies_in_its_documented_plausible_range(preset):
    """Fitted or set by hand, no preset leaves the range docs/parameters.md gives for a parameter."""
    cfg = compose_config([f"disease={preset}"])
    checked = [(k, v, p) for k, v, p in _numbers(cfg) if p is not None]
    assert len(checked) > 50
    outside = [f"{k}={v} not in {p}" for k, v, p in checked if not p[0] <= v <= p[1]]
    assert not outside, "; ".join(outside)


# --------------------------------------------------------------------------- the virtual cohort
def test_individual_multipliers_are_lognormal_with_the_configured_spread():
    d = compose_config(["disease.individual_drive_sd_log=0.5", "disease.individual_treg_sd_log=0.2"]).disease
    people = [draw_individual(d, np.random.default_rng(s)) for s in range(4000)]
    log_drive = np.log([p.drive_multiplier for p in people])
    log_treg = np.log([p.treg_multiplier for p in people])
    assert np.std(log_drive) == pytest.approx(0.5, rel=0.05) and abs(np.median(log_drive)) < 0.05
    assert np.std(log_treg) == pytest.approx(0.2, rel=0.05)
    assert abs(np.corrcoef(log_drive, log_treg)[0, 1]) < 0.06  # drawn independently


def test_a_stratified_cohort_takes_every_quantile_stratum_once():
    """Latin hypercube: with n individuals, each of the n equal-probability strata of each spread holds exactly one."""
    d = compose_config(["disease.individual_drive_sd_log=0.7", "disease.individual_treg_sd_log=0.2"]).disease
    people = calibrate.stratified_individuals(d, 40, seed=3)
    for spread, values in ((0.7, [p.drive_multiplier for p in people]), (0.2, [p.treg_multiplier for p in people])):
        u = stats.norm.cdf(np.log(values) / spread)
        assert sorted(np.floor(u * 40).astype(int)) == list(range(40))
        assert abs(np.median(np.log(values))) < 1e-9  # the median individual is the reference one
    assert people == calibrate.stratified_individuals(d, 40, seed=3)  # deterministic
    assert people != calibrate.stratified_individuals(d, 40, seed=4)  # another seed pairs the strata differently


def test_a_given_individual_replaces_the_seed_draw_and_is_recorded():
    cfg = compose_config(["domain=quick", "disease.horizon_days=40", "treatment=none", "disease.individual_drive_sd_log=0.5"])
    person = calibrate.Individual(drive_multiplier=1.7, treg_multiplier=0.8)
    out = calibrate.individual_outcomes(cfg, 2, person)
    assert (out["drive_multiplier"], out["treg_multiplier"]) == (1.7, 0.8)
    assert calibrate.individual_outcomes(cfg, 2)["drive_multiplier"] != 1.7


def test_a_bad_cohort_draw_is_a_one_line_error():
    with pytest.raises(ConfigError, match=r"calibration.individuals='lhs' is invalid: allowed values are random, stratified"):
        compose_config(["calibration.individuals=lhs"])


def test_no_spread_means_the_reference_individual():
    d = compose_config(["disease.individual_drive_sd_log=0", "disease.individual_treg_sd_log=0"]).disease
    p = draw_individual(d, np.random.default_rng(7))
    assert (p.drive_multiplier, p.treg_multiplier) == (1.0, 1.0)


def test_both_arms_are_the_same_individual_and_the_summary_records_it():
    cfg = compose_config(["domain=quick", "disease.horizon_days=45", "treatment.start_day=35", "disease.individual_drive_sd_log=0.4",
                          "disease.individual_treg_sd_log=0.3", "seed=5"])
    summary = summarize(cfg, simulate(cfg))
    ind = summary["individual"]
    assert ind["drive_multiplier"] != 1.0 and ind["treg_multiplier"] != 1.0
    assert summary["arms"]["control"]["individual"] == summary["arms"]["treated"]["individual"] == ind
    model = ALSModel(cfg, "control")
    assert model.treg_level == pytest.approx(cfg.disease.treg_systemic_baseline * ind["treg_multiplier"])


def test_calibration_never_simulates_the_treatment():
    """The cohort is control arms only: a treatment setting cannot change the calibration's read-outs."""
    base = ["domain=quick", "disease.horizon_days=70"]
    treated = compose_config(base + ["treatment=iv_msc", "treatment.start_day=40", "treatment.dose_cells_per_kg=1e9"])
    untreated = compose_config(base + ["treatment=none"])
    assert calibrate.individual_outcomes(treated, 3) == calibrate.individual_outcomes(untreated, 3)


# --------------------------------------------------------------------------- the command line
def _alsim(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], cwd=cwd, capture_output=True, text=True, timeout=600)


@pytest.mark.slow  # three optimisation trials of a cohort; the quick loop keeps the single calibration check below
def test_calibration_sweep_writes_a_fit_report(tmp_path):
    report = tmp_path / "report"
    out = _alsim("-m", "+experiment=calibrate_sod1_g93a_mouse", "hydra.sweeper.n_trials=3",
                 "hydra.sweeper.sampler.n_startup_trials=2", "calibration.cohort_size=2", "calibration.workers=1",
                 "disease.horizon_days=80", f"calibration.targets_file={TARGETS}", f"calibration.report_dir={report}",
                 f"hydra.sweep.dir={tmp_path / 'sweep'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    fit = json.loads((report / "sod1_g93a_mouse" / "fit.json").read_text(encoding="utf-8"))
    trials = calibrate.read_trials(tmp_path / "sweep")
    assert fit["n_trials"] == len(trials) == 3
    assert fit["loss"] == min(t["loss"] for t in trials)
    assert set(fit["chosen"]) == {"disease.drive_per_day", "disease.drive_exponent", "neurons.glial_gain",
                                  "microglia.il10_weight", "microglia.protective_il10"}
    assert 0.011 <= fit["chosen"]["disease.drive_per_day"] <= 0.020 and 3.0 <= fit["chosen"]["neurons.glial_gain"] <= 14.0
    assert all(t["cohort"] and len(t["seeds"]) == 2 for t in trials)
    # the training manipulations were simulated on the same individuals and scored
    assert all(sorted(t["manipulated"]) == ["rag2_ko", "wt_microglia"] for t in trials)
    assert all([p["seed"] for p in t["manipulated"]["rag2_ko"]] == t["seeds"] for t in trials)
    assert {r["id"] for r in fit["targets"]} >= {"M-X1", "M-X2"}
    assert sim.NOTICE in (report / "sod1_g93a_mouse" / "fit_report.md").read_text(encoding="utf-8")


def test_calibration_check_without_sweep_prints_targets_vs_model(tmp_path):
    # ten simulated days: the table, not the fit, is checked (every target gets a row whether it is reached or not)
    out = _alsim("+experiment=calibrate_sod1_g93a_mouse", "calibration.cohort_size=2", "disease.horizon_days=40",
                 f"calibration.targets_file={TARGETS}", f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert out.returncode == 0, out.stderr[-2000:]
    assert sim.NOTICE in out.stdout and "M-MN2" in out.stdout and "targets inside their bands" in out.stdout
    trial = json.loads((tmp_path / "run" / calibrate.TRIAL_FILE).read_text(encoding="utf-8"))
    assert trial["seeds"] == [1000, 1001] and len(trial["cohort"]) == 2


def test_calibration_with_a_missing_targets_file_fails_in_one_line(tmp_path):
    out = _alsim("+experiment=calibrate_sod1_g93a_mouse", f"calibration.targets_file={tmp_path / 'nope.yaml'}",
                 f"hydra.run.dir={tmp_path / 'run'}", cwd=tmp_path)
    assert out.returncode != 0
    lines = [line for line in out.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "calibration.targets_file" in lines[0] and "Traceback" not in out.stderr
    assert not (tmp_path / "run" / calibrate.TRIAL_FILE).exists()
