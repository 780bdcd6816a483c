"""Inference of the MSC pathway strengths from the preclinical training rows (ABC-SMC, pyABC).

    python -m sim.experiments.inference                          # fit, draw the posterior, write experiments/validation/posterior*
    python -m sim.experiments.inference --population 24 --generations 4 --fit-seeds 4 --draws 32 --seed 1
    python -m sim.experiments.inference --predictive-only       # re-run the posterior predictive from the saved draws

What is fitted: only uncertain treatment parameters (`FITTED`: the eight pathway strengths, the intrathecal entry
fraction and the tissue half-life of MSCs that reached the cord, each over its plausible range from the parameter metadata; log-uniform where the range spans ≥ 100×).
Never the disease course: every run is the calibrated mouse preset.

What it is fitted to: the training rows of experiments/validation/msc_preclinical.csv that the model can simulate
(`simulable`: a mouse, an IV or intrathecal course of a known cell number, a stated survival outcome). The table
holds no survival day that could be checked, only what each paper states: survival `longer` (a significant gain) or
`none`. So each row's datum is that statement, and the model's is the paired mean change of end stage over the
fit's virtual individuals; a row is reproduced when a `longer` row's change reaches DETECTABLE_PCT (5 %, the
change a survival study of 10–15 mice per group can detect: `calibrate.CHANGE_NOT_DETECTED_PCT`) and a `none` row's
stays below it. The distance is Σ over rows of the shortfall, in units of that threshold (0: every row reproduced).
This is ABC with a qualitative likelihood: the posterior is the prior restricted to where the rows are reproduced, as
far as ABC-SMC gets toward distance 0 (the reached ε is reported: above 0 means no particle reproduced every row).

Held-out rows are never read here while fitting (`fit` reads only `validation.training_rows`); `posterior_predictive`
reads them after the draws are saved. Simulations run through the batched engine (`sim.run.run_arms_parallel` with
cohorts), and the particles are drawn by pyABC's single-core sampler so that a seed reproduces them exactly.
NON-CLINICAL: a posterior of model parameters, not of any effect in people.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim import NOTICE
from sim.config import ConfigError
from sim.experiments import validation
from sim.experiments.calibrate import CHANGE_NOT_DETECTED_PCT
from sim.experiments.sensitivity import Factor, make_factor, with_values
from sim.presets import compose_config
from sim.recorder import write_text_atomic
from sim.run import ArmJob, eligible_delays, end_stage_days

OUT = Path(__file__).resolve().parents[2] / "experiments" / "validation"
DRAWS_FILE = "posterior.csv"
FITTED = ("msc.paracrine_weight", "msc.local_vesicle_effect", "msc.polarization_weight", "msc.efferocytosis_weight",
          "msc.ev_ros_effect_max", "msc.ev_glutamate_effect_max", "msc.treg_boost_max", "msc.barrier_repair_max",
          "msc.csf_entry_fraction_to_cord", "msc.tissue_half_life_h")
DETECTABLE_PCT = CHANGE_NOT_DETECTED_PCT
ROUTES = ("iv", "intrathecal")
# First dose day on the mouse clock (age, d) for a stage the paper names but whose age it does not give (assumption:
# the preset's default course day, set from Uccelli et al. 2012's "symptomatic stage"; pre-onset: day 60, before the
# preset's onset band). A row without age or stage gets the symptomatic day, and the report says so.
STAGE_DAY = {"symptomatic": 90.0, "onset": 90.0, "pre-onset": 60.0, "": 90.0}
FIT_FIRST_SEED = 2000  # the fit's individuals; the posterior predictive uses seeds from 0 (never the fit's)


class InferenceError(ValueError):
    """Bad inference input: one line naming the option and the allowed values."""


# --------------------------------------------------------------------------- the data
def simulable(row: pd.Series) -> str | None:
    """Why the model cannot simulate this arm, or None if it can."""
    if row["species"] != "mouse":
        return f"species {row['species'] or 'not seen'}: the model has a mouse preset only"
    if row["route"] not in ROUTES:
        return f"route {row['route']}: not modelled (routes are {', '.join(ROUTES)})"
    if not row["cells_per_dose"]:
        return "cells per dose not seen in the paper"
    if not row["survival_outcome"]:
        return "no survival outcome stated"
    return None


def arm_design(row: pd.Series) -> dict[str, Any]:
    """The course of one arm as config overrides, and what of it is assumed."""
    doses = int(float(row["doses"] or 1))
    day = float(row["age_first_dose_days"]) if row["age_first_dose_days"] else STAGE_DAY[row["stage_first_dose"]]
    overrides = [f"treatment.route={row['route']}", f"treatment.cells_per_dose={float(row['cells_per_dose']):g}",
                 f"treatment.start_day={day:g}", f"treatment.n_infusions={doses}"]
    if doses > 1:
        overrides.append(f"treatment.interval_days={float(row['interval_days']):g}")
    assumed = [] if row["age_first_dose_days"] else [
        f"first dose on day {day:g} ({'stage ' + row['stage_first_dose'] if row['stage_first_dose'] else 'age and stage not seen'})"]
    return {"key": f"{row['study_id']}/{row['arm']}", "overrides": overrides, "first_day": day,
            "observed": 1.0 if row["survival_outcome"] == "longer" else 0.0, "assumed": assumed}


def fit_arms(rows: pd.DataFrame) -> tuple[list[dict[str, Any]], list[dict[str, str]]]:
    """The simulable arms of `rows` (designs) and the others with the reason."""
    if (rows["split"] != "training").any():
        raise InferenceError("rows: a held-out row was passed to the fit; allowed are training rows only")
    arms, skipped = [], []
    for _, row in rows.iterrows():
        reason = simulable(row)
        if reason:
            skipped.append({"key": f"{row['study_id']}/{row['arm']}", "reason": reason})
        else:
            arms.append(arm_design(row))
    return arms, skipped


# --------------------------------------------------------------------------- the model's side
class Simulator:
    """Paired survival change of each arm for a parameter vector, on fixed individuals (controls simulated once)."""

    def __init__(self, base: list[str], arms: list[dict[str, Any]], seeds: list[int], workers: int = 2):
        self.base, self.arms, self.seeds, self.workers = base, arms, seeds, workers
        self.configs = {a["key"]: compose_config(base + a["overrides"]) for a in arms}
        cfg = compose_config(base)
        self.horizon = cfg.disease.horizon_days
        self.control = end_stage_days([ArmJob(dataclasses.replace(cfg, seed=s), "control", None, snapshots=False)
                                       for s in seeds], workers)

    def effects(self, values: dict[str, float]) -> dict[str, float]:
        """Mean % change of end stage per arm over individuals treatable at the first dose (NaN: none treatable)."""
        return self.effects_many([values])[0]

    def effects_many(self, draws: list[dict[str, float]]) -> list[dict[str, float]]:
        """`effects` of several parameter vectors, simulated as one batch."""
        jobs = [ArmJob(dataclasses.replace(with_values(self.configs[a["key"]], values), seed=s), "treated", None,
                       snapshots=False) for values in draws for a in self.arms for s in self.seeds]
        treated = end_stage_days(jobs, self.workers).reshape(len(draws), len(self.arms), len(self.seeds))
        out = []
        for per_arm in treated:
            effects = {}
            for a, row in zip(self.arms, per_arm):
                d, control, _ = eligible_delays(self.control, row, self.horizon, a["first_day"])
                effects[a["key"]] = float(np.mean(100.0 * d / control)) if len(d) else math.nan
            out.append(effects)
        return out


def shortfall(effect: float, observed: float) -> float:
    """How far one arm's modeled change is from reproducing the paper's statement, in units of DETECTABLE_PCT."""
    if not math.isfinite(effect):
        return 1.0
    if observed >= 0.5:
        return max(0.0, DETECTABLE_PCT - effect) / DETECTABLE_PCT
    return max(0.0, effect - DETECTABLE_PCT) / DETECTABLE_PCT


def distance(modeled: dict[str, float], observed: dict[str, float]) -> float:
    return float(sum(shortfall(modeled[k], observed[k]) for k in observed))


# --------------------------------------------------------------------------- the fit
def factors(base: list[str], keys: tuple[str, ...] | list[str] = FITTED) -> list[Factor]:
    cfg = compose_config(base)
    return [make_factor(cfg, k) for k in keys]


def _name(key: str) -> str:
    return key.replace(".", "__")


def _prior(fs: list[Factor]):
    import pyabc  # imported here: a 4 s import that no other command needs

    rvs = {}
    for f in fs:
        lo, hi = (math.log10(f.low), math.log10(f.high)) if f.log else (f.low, f.high)
        rvs[_name(f.key)] = pyabc.RV("uniform", lo, hi - lo)
    return pyabc.Distribution(**rvs)


def _values(fs: list[Factor], particle: dict[str, float]) -> dict[str, float]:
    return {f.key: float(10 ** particle[_name(f.key)] if f.log else particle[_name(f.key)]) for f in fs}


def fit(base: list[str], population: int, generations: int, fit_seeds: int, seed: int, workers: int = 2,
        keys: tuple[str, ...] | list[str] = FITTED, rows: pd.DataFrame | None = None,
        db_dir: Path | None = None, log: Callable[[str], None] = print) -> dict[str, Any]:
    """ABC-SMC on the training rows; the last population (values and weights) and the run's record."""
    import pyabc

    rows = validation.training_rows() if rows is None else rows
    arms, skipped = fit_arms(rows)
    if not arms:
        raise InferenceError("rows: no training row can be simulated; allowed are mouse IV/intrathecal arms with a cell "
                             "number and a survival outcome")
    fs = factors(base, keys)
    seeds = list(range(FIT_FIRST_SEED, FIT_FIRST_SEED + fit_seeds))
    started = time.time()
    sim_ = Simulator(base, arms, seeds, workers)
    observed = {a["key"]: a["observed"] for a in arms}
    log(f"fit: {len(arms)} arms × {len(seeds)} individuals per particle; controls' end stage {sim_.control.tolist()}")

    def model(particle: dict[str, float]) -> dict[str, float]:
        return sim_.effects(_values(fs, particle))

    np.random.seed(seed)  # pyABC draws from NumPy's global generator; the single-core sampler makes the draws reproducible
    abc = pyabc.ABCSMC(model, _prior(fs), lambda x, x0: distance(x, x0), population_size=population,
                       sampler=pyabc.sampler.SingleCoreSampler(), eps=pyabc.epsilon.QuantileEpsilon(alpha=0.5))
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(db_dir or tmp) / "abc.db"
        abc.new(f"sqlite:///{db}", observed)
        history = abc.run(minimum_epsilon=0.0, max_nr_populations=generations)
        frame, weights = history.get_distribution()
        pops = history.get_all_populations()
        stats = history.get_weighted_distances()
        n_sims = int(history.total_nr_simulations)
        n_generations = int(history.max_t) + 1
        ess = [effective_sample_size(history.get_distribution(t=t)[1]) for t in range(n_generations)]
        tried = [int(n) for n in pops["samples"] if n > 0][-n_generations:]
    particles = pd.DataFrame([_values(fs, dict(r)) for _, r in frame.iterrows()])
    return {"particles": particles, "weights": np.asarray(weights, dtype=float),
            "distances": stats["distance"].to_numpy(dtype=float),
            "epsilons": [float(e) for e in pops["epsilon"] if math.isfinite(e)],
            "meta": {"base": base, "population": population, "generations": n_generations, "fit_seeds": seeds,
                     "seed": seed, "simulations": n_sims,
                     "ess": ess, "tried": tried, "seconds": round(time.time() - started, 1),
                     "arms": arms, "skipped": skipped, "factors": [dataclasses.asdict(f) for f in fs],
                     "control_end_stage_days": sim_.control.tolist(), "split_sha256": validation.split_digest(),
                     "detectable_pct": DETECTABLE_PCT}}


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of normalized importance weights, 1/Σw²."""
    w = np.asarray(weights, dtype=float)
    w = w / w.sum()
    return float(1.0 / np.sum(w * w))


def draw(particles: pd.DataFrame, weights: np.ndarray, n: int, seed: int) -> pd.DataFrame:
    """n posterior draws, resampled from the weighted last population with their own generator."""
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(particles), size=n, replace=True, p=weights / weights.sum())
    out = particles.iloc[idx].reset_index(drop=True)
    out.insert(0, "draw", range(n))
    return out


def load_draws(path: str | Path | None = None) -> pd.DataFrame:
    """The saved posterior draws (`draw` plus one column per fitted dotted key); InferenceError if absent or malformed."""
    path = Path(path) if path else OUT / DRAWS_FILE
    if not path.is_file():
        raise InferenceError(f"uncertainty.file: {path} does not exist; allowed is a posterior.csv written by "
                             "python -m sim.experiments.inference")
    df = pd.read_csv(path, comment="#")
    keys = [c for c in df.columns if c != "draw"]
    if "draw" not in df.columns or not keys or not all(k.startswith("msc.") for k in keys) or df[keys].isna().any().any():
        raise InferenceError(f"uncertainty.file: {path} is not a posterior draws table; allowed is a CSV with a draw column "
                             "and one numeric msc.* column per fitted parameter")
    return df


# --------------------------------------------------------------------------- after the fit
def _per_draw(base: list[str], arms: list[dict[str, Any]], draws: pd.DataFrame, seeds: list[int],
              workers: int) -> dict[str, np.ndarray]:
    """Each arm's change of end stage under every draw (mean over `seeds`; NaN: none treatable): one control cohort,
    one batch of treated arms."""
    if not arms:
        return {}
    keys = [c for c in draws.columns if c != "draw"]
    effects = Simulator(base, arms, seeds, workers).effects_many([{k: float(d[k]) for k in keys} for _, d in draws.iterrows()])
    return {a["key"]: np.array([e[a["key"]] for e in effects]) for a in arms}


def _interval(per_draw: np.ndarray) -> tuple[np.ndarray, dict[str, Any]]:
    ok = per_draw[np.isfinite(per_draw)]
    if not len(ok):
        return ok, {"median_pct": None, "low_pct": None, "high_pct": None, "draws": 0}
    return ok, {"median_pct": float(np.median(ok)), "low_pct": float(np.percentile(ok, 2.5)),
                "high_pct": float(np.percentile(ok, 97.5)), "draws": len(ok)}


def predictive(base: list[str], draws: pd.DataFrame, rows: pd.DataFrame, seeds: list[int], workers: int) -> list[dict[str, Any]]:
    """Each row's modeled change under every draw, on fresh individuals; rows the model cannot simulate get the reason."""
    designs = {f"{r['study_id']}/{r['arm']}": arm_design(r) for _, r in rows.iterrows() if not simulable(r)}
    per_draw = _per_draw(base, list(designs.values()), draws, seeds, workers)
    out = []
    for _, row in rows.iterrows():
        key = f"{row['study_id']}/{row['arm']}"
        if key not in designs:
            out.append({"key": key, "split": row["split"], "reason": simulable(row), "statement": row["survival_outcome"]})
            continue
        arm = designs[key]
        ok, interval = _interval(per_draw[key])
        hits = (ok >= DETECTABLE_PCT) if arm["observed"] >= 0.5 else (ok < DETECTABLE_PCT)
        out.append({"key": key, "split": row["split"], "statement": row["survival_outcome"], "assumed": arm["assumed"],
                    **interval, "reproduced_share": float(hits.mean()) if len(ok) else None})
    return out


ROUTE_COURSE = {"cells": 1e6, "day": 90.0}  # Uccelli's and Kim H's 10⁶ cells per mouse, one dose on the symptomatic day


def route_comparison(base: list[str], draws: pd.DataFrame, seeds: list[int], workers: int) -> list[dict[str, Any]]:
    """The same cells given IV and intrathecally, under every draw: median and 2.5–97.5 % over draws of each draw's
    mean change of end stage over `seeds`."""
    arms = [{"key": route, "first_day": ROUTE_COURSE["day"], "overrides": [
        f"treatment.route={route}", f"treatment.cells_per_dose={ROUTE_COURSE['cells']:g}",
        f"treatment.start_day={ROUTE_COURSE['day']:g}", "treatment.n_infusions=1"]} for route in ROUTES]
    per_draw = _per_draw(base, arms, draws, seeds, workers)
    out = []
    for route in ROUTES:
        ok, interval = _interval(per_draw[route])
        out.append({"route": route, **interval, "detectable_share": float((ok >= DETECTABLE_PCT).mean()) if len(ok) else None})
    return out


def identified(f: Factor, values: np.ndarray) -> dict[str, Any]:
    """Posterior 5–95 % interval against the prior's, on the prior's scale; identified if under half the prior's width."""
    tr = (lambda v: np.log10(v)) if f.log else (lambda v: v)
    lo, hi = tr(np.array([f.low, f.high]))
    q05, q50, q95 = np.percentile(values, [5, 50, 95])
    width = (tr(q95) - tr(q05)) / (hi - lo)
    prior_width = 0.9  # a uniform prior's 5–95 % interval covers 90 % of its range
    return {"key": f.key, "unit": f.unit, "prior": [f.low, f.high], "log": f.log, "median": float(q50),
            "q05": float(q05), "q95": float(q95), "width_vs_prior": float(width / prior_width),
            "identified": bool(width / prior_width < 0.5)}


def report(meta: dict[str, Any], draws: pd.DataFrame, idents: list[dict[str, Any]], pred: list[dict[str, Any]],
           routes: list[dict[str, Any]]) -> str:
    def f(x: float | None, p: str = ".2g") -> str:
        return "—" if x is None else format(x, p)
    eps = meta["epsilons"]
    lines = ["# Posterior of the MSC pathway strengths (ABC-SMC on the preclinical training rows)", "", f"> {NOTICE}", "",
             (f"Made by `python -m sim.experiments.inference` (seed {meta['seed']}, population {meta['population']}, "
             f"{meta['generations']} generations, {meta['simulations']} particles simulated, {meta['seconds']:.0f} s; "
             f"fit individuals seeds {meta['fit_seeds'][0]}–{meta['fit_seeds'][-1]}; base `{' '.join(meta['base'])}`; split "
             f"SHA-256 {meta['split_sha256'][:12]}…). A row is reproduced when a `longer` row's modeled mean change of end "
             f"stage reaches {meta['detectable_pct']:g} % and a `none` row's stays below it; the distance is the summed "
             "shortfall in units of that threshold."), "",
             f"**ε by generation:** {', '.join(format(e, '.3g') for e in eps)}; effective sample size of each "
             f"generation's weighted particles: {', '.join(format(e, '.1f') for e in meta.get('ess', []))} of "
             f"{meta['population']}. "
             + ("Every training row was reproduced by the final population (ε = 0)." if eps and eps[-1] == 0 else
                f"**No particle reproduced every training row**: the final ε is {eps[-1]:.3g} (0 would be a full match). "
                "Where the model cannot reach a row, the posterior says which strengths come closest, not that they fit."
                if eps else ""), "",
             "## Fitted arms", "", "| arm | statement | course (assumed parts) |", "|---|---|---|"]
    for a in meta["arms"]:
        lines.append(f"| {a['key']} | {'longer' if a['observed'] >= 0.5 else 'none'} | `{' '.join(a['overrides'])}`"
                     f"{' — ' + '; '.join(a['assumed']) if a['assumed'] else ''} |")
    lines += ["", "Training rows not fitted: " + "; ".join(f"{s['key']} ({s['reason']})" for s in meta["skipped"]) + ".", "",
              "## Parameters: prior and posterior", "",
              "| parameter | prior (plausible range) | posterior median | 5–95 % | width vs prior | identified |",
              "|---|---|---|---|---|---|"]
    for i in idents:
        lines.append(f"| `{i['key']}` ({i['unit']}) | {f(i['prior'][0])}–{f(i['prior'][1])}{' (log)' if i['log'] else ''} | "
                     f"{f(i['median'])} | {f(i['q05'])}–{f(i['q95'])} | {i['width_vs_prior']:.2f} | "
                     f"{'yes' if i['identified'] else 'no: left free'} |")
    lines += ["", (f"## Posterior predictive ({len(draws)} draws × seeds {meta['predictive_seeds'][0]}–"
              f"{meta['predictive_seeds'][-1]}, individuals the fit never used)"), "",
              "| arm | split | paper | modeled change of end stage, median [2.5–97.5 %] over draws | draws reproducing the paper |",
              "|---|---|---|---|---|"]
    for p in pred:
        if "reason" in p:
            lines.append(f"| {p['key']} | {p['split']} | {p['statement'] or 'not stated'} | not simulated: {p['reason']} | — |")
        else:
            lines.append(f"| {p['key']} | {p['split']} | {p['statement']} | {f(p['median_pct'], '+.2f')} % "
                         f"[{f(p['low_pct'], '+.2f')}, {f(p['high_pct'], '+.2f')}] | "
                         f"{f(None if p['reproduced_share'] is None else 100 * p['reproduced_share'], '.0f')} % |")
    lines += ["", f"## Route comparison: {ROUTE_COURSE['cells']:g} cells per mouse, one dose on day {ROUTE_COURSE['day']:g}", "",
              ("Each draw's mean change of end stage over the predictive individuals; median and 2.5–97.5 % over draws "
              "(parameter uncertainty, with the between-individual noise of that many individuals inside each draw's mean)."), "",
              f"| route | modeled change of end stage | draws with a change ≥ {meta['detectable_pct']:g} % |", "|---|---|---|"]
    for r in routes:
        lines.append(f"| {r['route']} | {f(r['median_pct'], '+.2f')} % [{f(r['low_pct'], '+.2f')}, {f(r['high_pct'], '+.2f')}] | "
                     f"{f(None if r['detectable_share'] is None else 100 * r['detectable_share'], '.0f')} % |")
    return "\n".join(lines) + "\n"


MAP_KEYS = ("msc.csf_entry_fraction_to_cord", "msc.tissue_half_life_h")


def grid(f: Factor, n: int) -> list[float]:
    """n values spanning a factor's plausible range, evenly (log-evenly for a log factor), ends included."""
    if f.log:
        return [float(v) for v in np.logspace(math.log10(f.low), math.log10(f.high), n)]
    return [float(v) for v in np.linspace(f.low, f.high, n)]


def intrathecal_map(base: list[str], n: int, seeds: list[int], workers: int = 2,
                    rows: pd.DataFrame | None = None) -> dict[str, Any]:
    """Where in (entry fraction to the cord × tissue half-life) the intrathecal training arms are reproduced, every
    other parameter at its default: an n × n grid over both plausible ranges, each point's modeled change per arm on
    the fit's individuals, and its distance (0: every intrathecal arm reproduced). Training rows only."""
    rows = validation.training_rows() if rows is None else rows
    arms, _ = fit_arms(rows)
    arms = [a for a in arms if "treatment.route=intrathecal" in a["overrides"]]
    if not arms:
        raise InferenceError("rows: no intrathecal training arm can be simulated")
    fs = factors(base, MAP_KEYS)
    points = [{fs[0].key: x, fs[1].key: y} for x in grid(fs[0], n) for y in grid(fs[1], n)]
    started = time.time()
    sim_ = Simulator(base, arms, seeds, workers)
    effects = sim_.effects_many(points)
    observed = {a["key"]: a["observed"] for a in arms}
    cells = [{**p, "effects_pct": e, "distance": distance(e, observed),
              "reproduced": [k for k in observed if shortfall(e[k], observed[k]) == 0.0]} for p, e in zip(points, effects)]
    return {"base": base, "n": n, "seeds": seeds, "keys": list(MAP_KEYS), "arms": arms, "observed": observed, "points": cells,
            "detectable_pct": DETECTABLE_PCT, "control_end_stage_days": sim_.control.tolist(),
            "seconds": round(time.time() - started, 1)}


def map_report(m: dict[str, Any]) -> str:
    """The map as Markdown: one table per arm (rows: entry fraction; columns: half-life) and the reproduced region."""
    xs = sorted({p[m["keys"][0]] for p in m["points"]})
    ys = sorted({p[m["keys"][1]] for p in m["points"]})
    at = {(p[m["keys"][0]], p[m["keys"][1]]): p for p in m["points"]}
    lines = ["# Where the intrathecal training rows are reproduced", "", f"> {NOTICE}", "",
             (f"Mouse preset (`{' '.join(m['base'])}`), every MSC parameter at its default except the two on the axes, each "
              f"over its plausible range; the paired mean change of end stage over seeds {m['seeds'][0]}–{m['seeds'][-1]} "
              f"(the fit's individuals). An arm is reproduced when a `longer` arm reaches {m['detectable_pct']:g} % and a "
              f"`none` arm stays below it. Made by `python -m sim.experiments.inference --it-map {m['n']} --fit-seeds "
              f"{len(m['seeds'])}` in {m['seconds']:g} s. "
              "Training rows only."), ""]
    for a in m["arms"]:
        lines += [f"**{a['key']}** (paper: {'longer' if a['observed'] else 'no change'}; assumed: "
                  f"{'; '.join(a['assumed']) or 'nothing'}) — modeled change, %:", "",
                  "| entry fraction \\ half-life (h) | " + " | ".join(f"{y:.0f}" for y in ys) + " |",
                  "|---|" + "---|" * len(ys)]
        for x in xs:
            lines.append(f"| {x:.3g} | " + " | ".join(
                f"{at[(x, y)]['effects_pct'][a['key']]:+.1f}" + ("*" if a["key"] in at[(x, y)]["reproduced"] else "")
                for y in ys) + " |")
        lines.append("")
    best = min(m["points"], key=lambda p: p["distance"])
    every = [p for p in m["points"] if p["distance"] == 0.0]
    lines += ["\\* reproduced.", "",
              (f"{len(every)} of {len(m['points'])} grid points reproduce every intrathecal arm. Smallest distance "
               f"{best['distance']:.2f} at entry fraction {best[m['keys'][0]]:.3g} and half-life "
               f"{best[m['keys'][1]]:.0f} h.") + ("" if not every else " Reproduced at (entry fraction, half-life): " + ", ".join(
                  f"({p[m['keys'][0]]:.3g}, {p[m['keys'][1]]:.0f} h)" for p in every) + "."), ""]
    return "\n".join(lines)


def predictive_seeds(n: int) -> list[int]:
    return list(range(n))


def _keys(text: str | None) -> list[str]:
    return list(FITTED) if not text else [k.strip() for k in text.split(",") if k.strip()]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m sim.experiments.inference", description=__doc__.split("\n")[0])
    ap.add_argument("overrides", nargs="*", help="base config overrides (default: domain=quick)")
    ap.add_argument("--population", type=int, default=24, help="particles per generation (≥ 2)")
    ap.add_argument("--generations", type=int, default=4, help="ABC-SMC generations (≥ 1)")
    ap.add_argument("--fit-seeds", type=int, default=4, help="virtual individuals per particle (≥ 1)")
    ap.add_argument("--draws", type=int, default=32, help="posterior draws saved (≥ 1)")
    ap.add_argument("--predictive-seeds", type=int, default=4, help="individuals per draw in the posterior predictive (≥ 1)")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--params", default=None, help="comma-separated dotted keys to fit (default: the eight strengths, "
                                                    "msc.csf_entry_fraction_to_cord and msc.tissue_half_life_h)")
    ap.add_argument("--out", type=Path, default=OUT)
    ap.add_argument("--it-map", type=int, default=0, metavar="N",
                    help="instead of a fit: an N × N map of the intrathecal training arms over the entry fraction and the "
                         "tissue half-life (writes it_map.md/json to --out)")
    ap.add_argument("--predictive-only", action="store_true",
                    help="skip the fit: re-run the posterior predictive and the route comparison from --out's saved draws")
    a = ap.parse_args(argv)
    for name, low in (("population", 2), ("generations", 1), ("fit_seeds", 1), ("draws", 1), ("predictive_seeds", 1),
                      ("workers", 1)):
        if getattr(a, name) < low:
            print(f"error: --{name.replace('_', '-')}={getattr(a, name)} is invalid: allowed range is ≥ {low}", file=sys.stderr)
            return 2
    base = a.overrides or ["domain=quick"]
    if a.it_map:
        return _write_map(a, base)
    try:
        if a.predictive_only:
            meta = json.loads((a.out / "posterior.json").read_text()) if (a.out / "posterior.json").is_file() else None
            if meta is None:
                raise InferenceError(f"--predictive-only: {a.out / 'posterior.json'} does not exist; allowed is an --out "
                                     "folder written by a fit")
            draws, base = load_draws(a.out / DRAWS_FILE), meta["base"]
            meta["predictive_seeds"] = predictive_seeds(a.predictive_seeds)
        else:
            result = fit(base, a.population, a.generations, a.fit_seeds, a.seed, a.workers, _keys(a.params))
            draws = draw(result["particles"], result["weights"], a.draws, a.seed)
            meta = {**result["meta"], "epsilons": result["epsilons"], "final_distances": result["distances"].tolist(),
                    "predictive_seeds": predictive_seeds(a.predictive_seeds)}
        fs = [Factor(**d) for d in meta["factors"]]
        idents = [identified(f, draws[f.key].to_numpy()) for f in fs]
        # the held-out rows are read only now, after the draws exist
        pred = predictive(base, draws, validation.load_studies(), meta["predictive_seeds"], a.workers)
        routes = route_comparison(base, draws, meta["predictive_seeds"], a.workers)
    except (ConfigError, InferenceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    if not a.predictive_only:
        write_text_atomic(a.out / DRAWS_FILE, f"# {NOTICE}\n# posterior draws of python -m sim.experiments.inference, seed "
                          f"{a.seed}; see posterior.md\n" + draws.to_csv(index=False))
    meta = {k: v for k, v in meta.items() if k not in ("identified", "predictive", "routes")}
    write_text_atomic(a.out / "posterior.json", json.dumps({**meta, "identified": idents, "predictive": pred,
                                                            "routes": routes}, indent=1))
    text = report(meta, draws, idents, pred, routes)
    write_text_atomic(a.out / "posterior.md", text)
    print(text)
    return 0


def _write_map(a: argparse.Namespace, base: list[str]) -> int:
    if a.it_map < 2:
        print(f"error: --it-map={a.it_map} is invalid: allowed range is ≥ 2", file=sys.stderr)
        return 2
    try:
        m = intrathecal_map(base, a.it_map, list(range(FIT_FIRST_SEED, FIT_FIRST_SEED + a.fit_seeds)), a.workers)
    except (ConfigError, InferenceError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    a.out.mkdir(parents=True, exist_ok=True)
    write_text_atomic(a.out / "it_map.json", json.dumps(m, indent=1))
    text = map_report(m)
    write_text_atomic(a.out / "it_map.md", text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
