"""Uncertainty over posterior draws: a modeled effect as a median with an interval, and which spread dominates.

    alsim +uncertainty=posterior uncertainty.draws=32 uncertainty.individuals=4

Besides the paired run at the configured values (the run folder's usual files, unchanged), a posterior run simulates
a full factorial: the treated arm of each of m individuals (seeds seed … seed + m − 1) under each of the first d
posterior draws of the MSC strengths (`python -m sim.experiments.inference`, experiments/validation/posterior.csv,
read with `sim.experiments.inference.load_draws`), and each individual's control arm once: the control arm holds no
MSCs, so no drawn value reaches it (the first individual's control is the paired run's own). Every arm goes through
the batched engine (`sim.run.run_arms_parallel`). Cost: d × m treated arms and m − 1 control arms beyond the paired
run.

Outcome of a cell (draw i, individual j): the end-stage delay y_ij = treated − control end-stage day. A treated arm
that never reaches end stage enters with the horizon (a lower bound, `censored`); an individual whose control arm never
reaches end stage has no delay; one whose control arm reached end stage by the first infusion is not eligible
(`sim.eligibility`). Both are left out of every statistic.

Statistics over the N eligible cells with a delay (n_i of them under draw i, weight w_i = n_i / N):

    median and 2.5–97.5 % interval: percentiles of all y_ij, draws and individuals pooled (both spreads at once);
    parameter uncertainty      V_p = Σ_i w_i (ȳ_i − ȳ)²    between-draw variance of the per-draw mean ȳ_i;
    between-individual noise   V_n = Σ_i w_i s_i²          mean within-draw variance, s_i² = mean_j (y_ij − ȳ_i)².

V_p + V_n is the variance of all y_ij (law of total variance, exact; population variances, no n − 1). The same
individuals appear under every draw (common seeds), so V_p holds the draws' main effect and no individual-sampling
noise; the draw × individual interaction is counted in V_n. `dominant` names the larger share.

NON-CLINICAL: an interval of a modeled effect over draws of model parameters, not of any effect in people.
"""
from __future__ import annotations

import dataclasses
import hashlib
import math
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.config import ConfigError, SimConfig, iter_params

MODES = ("none", "posterior")
PARAMETER, NOISE, NEITHER = "parameter uncertainty", "between-individual noise", "neither (no spread)"
CELLS_FILE = "uncertainty.parquet"
DRAWS_FILE = "posterior.csv"  # = sim.experiments.inference.DRAWS_FILE (not imported: that module loads the simulator)
OUTCOME = "end_stage_delay_days"
INTERVAL = (2.5, 97.5)
MAX_SEED = 2**63 - 1


# --------------------------------------------------------------------------- the draws
def draws_path(cfg: SimConfig) -> Path:
    """`uncertainty.file`, or the shipped posterior (found as `sim.experiments.validation` finds its table)."""
    from sim.experiments.validation import find_shipped

    return Path(cfg.uncertainty.file) if cfg.uncertainty.file else find_shipped(DRAWS_FILE)


def _load(path: Path) -> pd.DataFrame:
    from sim.experiments.inference import InferenceError, load_draws

    try:
        return load_draws(path)
    except InferenceError as exc:
        raise ConfigError(str(exc)) from None
    except (ValueError, OSError) as exc:  # unreadable CSV text (pandas' parser errors are ValueErrors)
        raise ConfigError(f"uncertainty.file: {path} is not a posterior draws table ({type(exc).__name__}); allowed is a "
                          "CSV with a draw column and one numeric msc.* column per fitted parameter") from None


def selected_draws(cfg: SimConfig) -> pd.DataFrame:
    """The first `uncertainty.draws` rows of the draws file; ConfigError (one line) if absent, malformed or too short."""
    path = draws_path(cfg)
    table = _load(path)
    keys = [c for c in table.columns if c != "draw"]
    if bad := [k for k in keys if not pd.api.types.is_numeric_dtype(table[k]) or pd.api.types.is_bool_dtype(table[k])]:
        raise ConfigError(f"uncertainty.file: {path} column {bad[0]} is not numeric; allowed are numbers only")
    n = cfg.uncertainty.draws
    if n > len(table):
        raise ConfigError(f"uncertainty.draws={n} is invalid: allowed range is an integer in [1, {len(table)}] "
                          f"(the draws in {path})")
    return table.head(n).reset_index(drop=True)


def draw_keys(draws: pd.DataFrame) -> list[str]:
    return [c for c in draws.columns if c != "draw"]


def drawn_values(cfg: SimConfig, draws: pd.DataFrame) -> list[dict[str, Any]]:
    """Each draw as {dotted key: value}, typed like the parameter (a whole number for an integer parameter; a fraction
    stays a float, which validation then refuses naming the key)."""
    defaults = {key: value for key, _, value in iter_params(cfg)}

    def typed(key: str, v: Any) -> int | float:
        return int(v) if isinstance(defaults.get(key), int) and float(v).is_integer() else float(v)
    return [{k: typed(k, row[k]) for k in draw_keys(draws)} for row in draws.to_dict("records")]


def drawn_config(cfg: SimConfig, values: dict[str, Any]) -> SimConfig:
    """cfg with one draw's values, as a plain paired configuration (mode none)."""
    from sim.experiments.sensitivity import with_values

    plain = dataclasses.replace(cfg, uncertainty=dataclasses.replace(cfg.uncertainty, mode="none"))
    return with_values(plain, values)


def individual_seeds(cfg: SimConfig) -> list[int]:
    return list(range(cfg.seed, cfg.seed + cfg.uncertainty.individuals))


# --------------------------------------------------------------------------- validation
def _check_combination(cfg: SimConfig) -> None:
    u = cfg.uncertainty
    if not cfg.treatment.enabled:
        raise ConfigError("uncertainty.mode=posterior is invalid with treatment.enabled=false: allowed is a treatment "
                          "course (the draws act on the treated arm)")
    for section in ("calibration", "trial"):
        if getattr(cfg, section).enabled:
            raise ConfigError(f"uncertainty.mode=posterior is invalid with {section}.enabled=true: allowed is a plain "
                              "paired run")
    if cfg.run.batch_size > 1:
        raise ConfigError(f"run.batch_size={cfg.run.batch_size} is invalid with uncertainty.mode=posterior: allowed is 1 "
                          "(a posterior run batches its own draws × individuals)")
    if cfg.seed + u.individuals - 1 > MAX_SEED:
        raise ConfigError(f"uncertainty.individuals={u.individuals} is invalid with seed={cfg.seed}: allowed range is "
                          f"[1, {MAX_SEED - cfg.seed + 1}] (seeds seed … seed + individuals − 1)")


def check(cfg: SimConfig) -> None:
    """A posterior run's own rules (called by `sim.config.validate`): ConfigError in one line naming the key."""
    from sim.config import validate

    _check_combination(cfg)
    draws = selected_draws(cfg)
    numeric = {key for key, _, value in iter_params(cfg) if isinstance(value, (int, float)) and not isinstance(value, bool)}
    if unknown := [k for k in draw_keys(draws) if k not in numeric]:
        raise ConfigError(f"uncertainty.file: column {unknown[0]} is not a known parameter; allowed are the numeric dotted "
                          "keys of docs/parameters.md")
    for i, values in enumerate(drawn_values(cfg, draws)):
        try:
            validate(drawn_config(cfg, values))
        except ConfigError as exc:
            raise ConfigError(f"uncertainty.file: draw {i} is not a valid configuration: {exc}") from None


def hash_part(cfg: SimConfig) -> dict[str, Any]:
    """What of a posterior run enters the config hash: the factorial's size and the draws file's content."""
    u = cfg.uncertainty
    digest = hashlib.sha256(draws_path(cfg).read_bytes()).hexdigest()
    return {"mode": u.mode, "draws": u.draws, "individuals": u.individuals, "file_sha256": digest}


# --------------------------------------------------------------------------- the factorial
@dataclass
class Plan:
    """The arms of a posterior run, by index into `jobs`."""

    jobs: list  # list[sim.run.ArmJob]
    paired: tuple[int, int]       # the paired run's control and treated arm (configured values, seed)
    controls: list[int]           # each individual's control arm
    treated: list[list[int]]      # [draw][individual] treated arm


def plan(cfg: SimConfig, values: list[dict[str, Any]], spool: Path | None = None) -> Plan:
    """Every arm to simulate: the paired run (with snapshots), m − 1 further controls, d × m treated arms."""
    from sim.run import ArmJob

    seeds = individual_seeds(cfg)
    jobs = [ArmJob(cfg, "control", None, spool), ArmJob(cfg, "treated", None, spool)]
    controls = [0]
    for s in seeds[1:]:
        controls.append(len(jobs))
        jobs.append(ArmJob(dataclasses.replace(cfg, seed=s), "control", None, snapshots=False))
    treated = []
    for v in values:
        drawn = drawn_config(cfg, v)
        treated.append(list(range(len(jobs), len(jobs) + len(seeds))))
        jobs += [ArmJob(dataclasses.replace(drawn, seed=s), "treated", None, snapshots=False) for s in seeds]
    return Plan(jobs, (0, 1), controls, treated)


def first_infusion_day(cfg: SimConfig) -> float:
    from sim.treatment import infusion_days

    days = infusion_days(cfg.treatment, cfg.disease)
    return days[0] if days else cfg.treatment.start_day


def _cell(control: float | None, treated: float | None, horizon: float, first_day: float) -> dict[str, Any]:
    from sim.run import end_stage_delay

    e = end_stage_delay(control, treated, horizon, first_day)
    return {"control_end_stage_days": math.nan if control is None else float(control),
            "treated_end_stage_days": math.nan if treated is None else float(treated),
            OUTCOME: e["delay"], "censored": e["censored"], "eligible": e["eligible"]}


def cell_table(cfg: SimConfig, draws: pd.DataFrame, p: Plan, records: list) -> pd.DataFrame:
    """One row per draw × individual: the draw, the seed, the drawn values, both end stages, the delay, flags."""
    from sim.run import arm_outcomes

    d = cfg.disease
    end = [arm_outcomes(r, d)["end_stage_days"] for r in records]
    seeds, first = individual_seeds(cfg), first_infusion_day(cfg)
    rows = []
    for draw, arms in zip(draws.to_dict("records"), p.treated):
        for j, k in enumerate(arms):
            rows.append({"draw": int(draw["draw"]), "seed": seeds[j], **{key: float(draw[key]) for key in draw_keys(draws)},
                         **_cell(end[p.controls[j]], end[k], d.horizon_days, first)})
    return pd.DataFrame(rows)


def simulate(cfg: SimConfig, spool: Path | None, workers: int = 1,
             progress: Callable[[str, float], None] | None = None) -> tuple[list, pd.DataFrame]:
    """The paired run's two records and the cells table, every arm through the batched engine."""
    from sim.run import raise_first, run_arms_parallel

    draws = selected_draws(cfg)
    p = plan(cfg, drawn_values(cfg, draws), spool)
    done = (lambda k, n: progress("draws", k / n)) if progress else None
    size = max(1, math.ceil(len(p.jobs) / max(1, workers)))
    records = raise_first(run_arms_parallel(p.jobs, workers, batch_size=size, done=done))
    return [records[i] for i in p.paired], cell_table(cfg, draws, p, records)


def run_to_folder(cfg: SimConfig, out_dir: Path, progress: Callable[[str, float], None] | None = None,
                  workers: int = 1) -> dict:
    """`sim.run.run_to_folder` for a posterior run: the usual files, uncertainty.parquet, and summary.json with an
    `uncertainty` block. The snapshot spool is always removed."""
    from sim.recorder import write_run_folder
    from sim.run import summarize

    out_dir = Path(out_dir)
    spool = out_dir / "snapshots" / f".spool.tmp-{os.getpid()}"
    try:
        records, cells = simulate(cfg, spool, workers, progress)
        summary = summarize(cfg, records)
        summary["uncertainty"] = block(cfg, cells)
        write_run_folder(out_dir, records, summary, cfg.domain.voxel_um, extra={CELLS_FILE: cells})
    finally:
        shutil.rmtree(spool, ignore_errors=True)
    return summary


# --------------------------------------------------------------------------- statistics
def usable(cells: pd.DataFrame) -> pd.DataFrame:
    """The cells that enter the statistics: eligible, with a delay."""
    return cells[cells["eligible"].astype(bool) & np.isfinite(cells[OUTCOME].to_numpy(dtype=float))]


def _shifted_var(x: np.ndarray, w: np.ndarray) -> float:
    """Weighted population variance, computed about x[0]: exactly 0 when every value equals x[0]."""
    dev = x - x[0]
    return max(0.0, float(np.sum(w * dev**2) - np.sum(w * dev) ** 2))


def variance_split(cells: pd.DataFrame, draw_cols: list[str]) -> tuple[float, float]:
    """(V_p, V_n) of the module docstring over usable cells grouped by `draw_cols` (the draw's identity)."""
    groups = [g[OUTCOME].to_numpy(dtype=float) for _, g in cells.groupby(draw_cols, sort=True, dropna=False)]
    n = np.array([len(g) for g in groups], dtype=float)
    w = n / n.sum()
    means = np.array([g.mean() for g in groups])  # identical draws give bit-identical means, so V_p = 0 exactly
    within = np.array([_shifted_var(g, np.full(len(g), 1.0 / len(g))) for g in groups])
    return _shifted_var(means, w), float(np.sum(w * within))


def dominant(v_p: float, v_n: float) -> str:
    if v_p == 0 and v_n == 0:
        return NEITHER
    return PARAMETER if v_p > v_n else NOISE


def decompose(cells: pd.DataFrame, draw_cols: list[str] | None = None) -> dict[str, Any]:
    """Median, 2.5–97.5 % interval and the variance split of the usable cells (None where undefined)."""
    used = usable(cells)
    out: dict[str, Any] = {"used_cells": int(len(used)), "median_days": None, "low_days": None, "high_days": None,
                           "parameter_variance": None, "individual_variance": None, "parameter_share": None,
                           "individual_share": None, "dominant": None}
    if used.empty:
        return out
    y = used[OUTCOME].to_numpy(dtype=float)
    low, median, high = (float(v) for v in np.percentile(y, [INTERVAL[0], 50.0, INTERVAL[1]]))
    v_p, v_n = variance_split(used, draw_cols or ["draw"])
    total = v_p + v_n
    out.update(median_days=median, low_days=low, high_days=high, parameter_variance=v_p, individual_variance=v_n,
               parameter_share=v_p / total if total > 0 else 0.0, individual_share=v_n / total if total > 0 else 0.0,
               dominant=dominant(v_p, v_n))
    return out


def block(cfg: SimConfig, cells: pd.DataFrame) -> dict[str, Any]:
    """summary.json's `uncertainty` block."""
    u, seeds = cfg.uncertainty, individual_seeds(cfg)
    return {"mode": u.mode, "file": u.file or f"experiments/validation/{DRAWS_FILE} (shipped)",
            "file_sha256": hash_part(cfg)["file_sha256"], "draws": u.draws, "individuals": u.individuals,
            "seeds": [seeds[0], seeds[-1]], "parameters": [c for c in cells.columns if c.startswith("msc.")],
            "outcome": OUTCOME, "interval_percentiles": list(INTERVAL), "cells": int(len(cells)),
            "not_eligible_cells": int((~cells["eligible"].astype(bool)).sum()),
            "censored_cells": int(cells["censored"].astype(bool).sum()), **decompose(cells)}


# --------------------------------------------------------------------------- text
def summary_lines(b: dict[str, Any]) -> list[str]:
    """The lines `alsim`, the report and the dashboard print for a posterior run's block."""
    lines = [f"posterior uncertainty (the arms above: seed {b['seeds'][0]} at the configured values): {b['draws']} draw(s) "
             f"of {len(b['parameters'])} MSC parameter(s) × {b['individuals']} individual(s) (seeds {b['seeds'][0]}–"
             f"{b['seeds'][1]}); {b['used_cells']} of {b['cells']} cells have an eligible end-stage delay"]
    if b["median_days"] is None:
        return lines + ["modeled end-stage delay over draws × individuals: none computed (no eligible individual's "
                        "control arm reached end stage)"]
    lines += [f"modeled end-stage delay over draws × individuals: median {b['median_days']:+.2f} days, interval "
              f"[{b['low_days']:+.2f}, {b['high_days']:+.2f}] ({b['interval_percentiles'][0]:g}–"
              f"{b['interval_percentiles'][1]:g} %: parameter uncertainty and between-individual noise together)",
              f"spread: parameter uncertainty {b['parameter_share']:.0%} (between-draw variance "
              f"{b['parameter_variance']:.3g} d²), between-individual noise {b['individual_share']:.0%} "
              f"({b['individual_variance']:.3g} d²); dominant: {b['dominant']}"]
    if b["censored_cells"]:
        lines.append(f"{b['censored_cells']} cell(s) censored: the treated arm never reached end stage (the horizon "
                     "entered as its end stage, so those delays are lower bounds)")
    return lines
