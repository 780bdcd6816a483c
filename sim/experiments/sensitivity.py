"""`alsim-sensitivity`: global sensitivity analysis (Morris or Sobol, via SALib) of two outputs.

Outputs analysed, per design point:
    t50_delay_days    paired T50 delay, treated − control (days), both arms with the same seed
    control_t50_days  day of 50 % motor-neuron loss in the control arm

Each uncertain parameter is varied over the `plausible` range of its metadata (`sim.params.param`);
a range spanning two decades or more (low > 0) is sampled on a log10 scale. Every design point
runs paired arms with the same seed (common random numbers), so a parameter the control arm does
not use cannot change the control T50 at all.

Censoring: an arm that never reaches 50 % loss enters with the horizon as its T50 (a lower
bound); the delay is then computed from those values, and the number of such points is reported.

Writes, under OUT (only after every run has finished):
    indices.csv        one row per output × parameter (notice on line 1)
    indices.md         tables and notes (runs, censored points)
    sensitivity.html   self-contained ranked bar charts with confidence bars
    design.parquet     every design point: parameter values and outputs

NON-CLINICAL: indices describe this model over ranges that are mostly assumptions; they are not
clinical predictions or dose recommendations.
"""
from __future__ import annotations

import argparse
import dataclasses
import html
import math
import os
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, NoReturn

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pyarrow as pa
import pyarrow.parquet as pq
from plotly.subplots import make_subplots

import sim
from sim import resources
from sim import figures
from sim.config import ConfigError, SimConfig, iter_params, validate
from sim.experiments.compare import REPORT_CSS, markdown
from sim.recorder import write_text_atomic
from sim.run import ArmJob, raise_first, run_arms_parallel, t50_days

PROG = "alsim-sensitivity"
EXIT_BAD_INPUT = 2
METHODS = ("morris", "sobol")
DOMAINS = ("quick", "standard")
MORRIS_LEVELS = 4
LOG_RATIO = 100.0           # sample on a log10 scale when high/low ≥ this (and low > 0)
NEAR_ZERO_SD_DAYS = 1e-6    # an output with a smaller SD across the design is treated as constant
CONF_LEVEL = 0.95
NUM_RESAMPLES = 1000
NO_SNAPSHOTS_DAYS = 1e5     # snapshots do not affect T50; skipping them saves time
OUTPUTS = {"t50_delay_days": "paired T50 delay (treated − control, days)",
           "control_t50_days": "control-arm T50 (days)"}
INDEX_COLUMNS = {"morris": ["mu_star", "mu_star_conf", "sigma", "mu"], "sobol": ["S1", "S1_conf", "ST", "ST_conf"]}

# Uncertain parameters that set the size of the modeled MSC effect: the calibrated glial/immune share and barrier
# harm (what the pathways act on) and every pathway's strength and memory. The intrinsic drive is left out of the
# default: over its whole plausible range it moves the control T50 to before the infusion, where no MSC parameter
# can act (the first design of this tool lost 45 of 48 points that way); vary it with --params if wanted.
DEFAULT_PARAMS = (
    "neurons.glial_gain", "microglia.il10_weight", "neurons.w_blood", "tregs.max_infiltration_per_mm2_per_day",
    "msc.first_pass_lung_fraction", "msc.homing_fraction_to_cord", "msc.bdnf", "msc.paracrine_weight",
    "msc.ev_ros_effect_max", "msc.ev_glutamate_effect_max", "msc.polarization_weight", "msc.efferocytosis_weight",
    "msc.efferocytosis_memory_days", "msc.treg_boost_max", "msc.treg_memory_days", "msc.barrier_repair_max",
    "msc.barrier_repair_memory_days",
)


class SensitivityError(ValueError):
    """Bad input; the message is one line naming the argument and the allowed values."""


# --------------------------------------------------------------------------- factors
@dataclass(frozen=True)
class Factor:
    """One varied parameter: its dotted key, plausible range and sampling scale."""

    key: str
    low: float
    high: float
    unit: str
    log: bool
    integer: bool

    def from_unit(self, u: np.ndarray) -> np.ndarray:
        """Map [0, 1] design coordinates to parameter values."""
        if self.log:
            values = 10 ** (math.log10(self.low) + u * (math.log10(self.high) - math.log10(self.low)))
        else:
            values = self.low + u * (self.high - self.low)
        return np.round(values) if self.integer else values


def make_factor(cfg: SimConfig, key: str) -> Factor:
    """The factor of one dotted key, from the parameter metadata; SensitivityError if it cannot vary."""
    found = {k: (f, v) for k, f, v in iter_params(cfg)}
    if key not in found:
        raise SensitivityError(f"--params: {key} is not a known parameter (the full list is in docs/parameters.md)")
    f, value = found[key]
    plausible = f.metadata.get("plausible")
    if plausible is None or isinstance(value, (bool, str)):
        raise SensitivityError(f"--params: {key} has no plausible range (a setting or switch); allowed are parameters "
                               "with a plausible range in docs/parameters.md")
    low, high = (float(x) for x in plausible)
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise SensitivityError(f"--params: {key} has the degenerate plausible range [{low:g}, {high:g}]; allowed are ranges "
                               "with low < high")
    return Factor(key, low, high, f.metadata.get("unit", ""), log=low > 0 and high / low >= LOG_RATIO,
                  integer=isinstance(value, int))


def resolve_factors(cfg: SimConfig, keys: list[str]) -> list[Factor]:
    if len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise SensitivityError(f"--params: {dup} is given twice; allowed is each parameter once")
    if not keys:
        raise SensitivityError("--params: no parameters given; allowed is a comma-separated list of dotted keys")
    return [make_factor(cfg, k) for k in keys]


def with_values(cfg: SimConfig, values: dict[str, Any]) -> SimConfig:
    """A copy of cfg with dotted keys replaced (nested dataclasses are copied, never mutated)."""
    nested: dict[str, dict[str, Any]] = {}
    changes: dict[str, Any] = {}
    for key, value in values.items():
        head, _, rest = key.partition(".")
        if rest:
            nested.setdefault(head, {})[rest] = value
        else:
            changes[head] = value
    for head, sub in nested.items():
        changes[head] = with_values(getattr(cfg, head), sub)
    return dataclasses.replace(cfg, **changes)


# --------------------------------------------------------------------------- design
def problem(factors: list[Factor]) -> dict:
    """SALib problem on the unit hypercube (factors map it to their own scale)."""
    return {"num_vars": len(factors), "names": [f.key for f in factors], "bounds": [[0.0, 1.0]] * len(factors)}


def design_unit(method: str, n: int, factors: list[Factor], seed: int) -> np.ndarray:
    """Design points in [0, 1]^k: Morris trajectories or a Saltelli/Sobol' sample (first and total order)."""
    from SALib.sample import morris, sobol
    if method == "morris":
        return morris.sample(problem(factors), n, num_levels=MORRIS_LEVELS, seed=seed)
    return sobol.sample(problem(factors), n, calc_second_order=False, scramble=True, seed=seed)


def point_configs(base: SimConfig, factors: list[Factor], unit: np.ndarray) -> tuple[pd.DataFrame, list[SimConfig]]:
    """Parameter values and a validated config per design point; SensitivityError names the first bad one."""
    values = pd.DataFrame({f.key: f.from_unit(unit[:, j]) for j, f in enumerate(factors)})
    cfgs = []
    for i, row in enumerate(values.to_dict("records")):
        typed = {f.key: int(row[f.key]) if f.integer else float(row[f.key]) for f in factors}
        try:
            cfgs.append(validate(with_values(base, typed)))
        except ConfigError as exc:
            raise SensitivityError(f"--params: design point {i} is not a valid configuration ({exc}); "
                                   "allowed are ranges inside each parameter's hard bounds") from None
    return values, cfgs


# --------------------------------------------------------------------------- running
def _fmt_time(seconds: float) -> str:
    m, s = divmod(int(round(seconds)), 60)
    return f"{m}m{s:02d}s"


def _report_progress(done: int, total: int, start: float) -> None:
    if done == total or done % max(1, total // 20) == 0:
        elapsed = time.monotonic() - start
        eta = elapsed / done * (total - done)
        print(f"[sensitivity] {done}/{total} arm runs done, elapsed {_fmt_time(elapsed)}, ETA {_fmt_time(eta)}",
              file=sys.stderr, flush=True)


def run_design(cfgs: list[SimConfig], arms: list[str], workers: int,
               seeds: list[int] | None = None) -> dict[tuple[int, int, str], float | None]:
    """T50 of every (design point, seed, arm): all runs in cohorts (`sim.cohort`) spread over a process pool."""
    seeds = seeds if seeds is not None else [cfgs[0].seed if cfgs else 0]
    tasks = [(i, seed, arm) for i in range(len(cfgs)) for seed in seeds for arm in arms]
    jobs = [ArmJob(dataclasses.replace(cfgs[i], seed=seed), arm, snapshots=False) for i, seed, arm in tasks]
    start = time.monotonic()
    records = raise_first(run_arms_parallel(jobs, workers, done=lambda n, total: _report_progress(n, total, start)))
    return {task: t50_days(record) for task, record in zip(tasks, records)}


def outcome_frame(values: pd.DataFrame, t50: dict[tuple[int, int, str], float | None], arms: list[str],
                  cfgs: list[SimConfig]) -> pd.DataFrame:
    """Design table: parameter values, each arm's T50 (horizon if censored; the cohort mean with several seeds)
    with a flag for any censored individual, the mean paired delay, and how many individuals' control T50 came
    after the first infusion."""
    horizon = cfgs[0].disease.horizon_days
    seeds = sorted({seed for _, seed, _ in t50})
    frame = values.copy()
    frame.insert(0, "point", np.arange(len(values)))
    per = {arm: np.array([[horizon if t50[(i, s, arm)] is None else t50[(i, s, arm)] for s in seeds] for i in range(len(values))])
           for arm in arms}
    for arm in arms:
        frame[f"{arm}_censored"] = [any(t50[(i, s, arm)] is None for s in seeds) for i in range(len(values))]
        frame[f"{arm}_t50_days"] = per[arm].mean(axis=1)
    if "treated" in arms:
        frame["t50_delay_days"] = (per["treated"] - per["control"]).mean(axis=1)
        frame["t50_delay_censored"] = frame["treated_censored"] | frame["control_censored"]
        frame["first_infusion_day"] = [c.treatment.start_day for c in cfgs]
        frame["individuals"] = len(seeds)
        frame["control_t50_after_infusion"] = (per["control"] > frame["first_infusion_day"].to_numpy()[:, None]).sum(axis=1)
    return frame


# --------------------------------------------------------------------------- analysis
def output_names(arms: list[str]) -> list[str]:
    return [o for o in OUTPUTS if o != "t50_delay_days" or "treated" in arms]


def analyze_output(method: str, factors: list[Factor], unit: np.ndarray, y: np.ndarray, seed: int) -> pd.DataFrame | None:
    """Indices of one output (one row per factor), or None if the output is constant across the design."""
    if float(np.std(y)) < NEAR_ZERO_SD_DAYS:
        return None
    from SALib.analyze import morris, sobol
    if method == "morris":
        res = morris.analyze(problem(factors), unit, y, num_resamples=NUM_RESAMPLES, conf_level=CONF_LEVEL,
                             num_levels=MORRIS_LEVELS, seed=seed)
    else:
        res = sobol.analyze(problem(factors), y, calc_second_order=False, num_resamples=NUM_RESAMPLES,
                            conf_level=CONF_LEVEL, seed=seed)
    return pd.DataFrame({c: np.asarray(res[c], dtype=float) for c in INDEX_COLUMNS[method]})


def indices_table(method: str, factors: list[Factor], unit: np.ndarray, design: pd.DataFrame, arms: list[str],
                  seed: int) -> pd.DataFrame:
    """One row per output × parameter, ranked within each output (rank 1 = most influential)."""
    rank_by = "mu_star" if method == "morris" else "ST"
    parts = []
    for out in output_names(arms):
        y = design[out].to_numpy(dtype=float)
        idx = analyze_output(method, factors, unit, y, seed)
        constant = idx is None
        if constant:
            idx = pd.DataFrame({c: [math.nan] * len(factors) for c in INDEX_COLUMNS[method]})
        part = pd.DataFrame({"output": out, "parameter": [f.key for f in factors], "unit": [f.unit for f in factors],
                             "low": [f.low for f in factors], "high": [f.high for f in factors],
                             "scale": ["log10" if f.log else "linear" for f in factors]})
        part = pd.concat([part, idx], axis=1)
        part["rank"] = part[rank_by].rank(ascending=False, method="min")
        part["output_sd_days"] = float(np.std(y))
        part["note"] = "output constant across the design: indices undefined" if constant else ""
        parts.append(part.sort_values(["rank", "parameter"], na_position="last"))
    return pd.concat(parts, ignore_index=True)


# --------------------------------------------------------------------------- text output
def censoring_notes(design: pd.DataFrame, arms: list[str], horizon: float) -> list[str]:
    out = []
    for arm in arms:
        k = int(design[f"{arm}_censored"].sum())
        out.append(f"{arm} arm never reached 50 % loss in {k} of {len(design)} design points; its T50 entered as the "
                   f"horizon ({horizon:g} d), a lower bound.")
    if "treated" in arms:
        k = int(design["t50_delay_censored"].sum())
        both = int((design["treated_censored"] & design["control_censored"]).sum())
        out.append(f"The T50 delay involves a censored arm in {k} point(s) ({both} with both arms censored, entered as 0 d): "
                   "those delays are bounds, not values.")
        zero = int((design["t50_delay_days"] == 0).sum())
        out.append(f"The T50 delay is exactly 0 d (no modeled slowing) in {zero} of {len(design)} design points.")
        after, pairs = int(design["control_t50_after_infusion"].sum()), int(design["individuals"].sum())
        out.append(f"In {pairs - after} of {pairs} (design point, individual) pairs the control arm reached 50 % loss on or "
                   "before the first infusion, so the T50 delay is 0 there by construction and MSC parameters cannot move it; "
                   f"in {after} it came after the infusion.")
    return out


def notes(method: str, n: int, design: pd.DataFrame, arms: list[str], horizon: float, context: dict) -> list[str]:
    """How many runs, how many censored, and how to read the indices."""
    runs = len(design) * len(arms)
    people = context.get("seeds") or [context["seed"]]
    runs *= len(people)
    who = (f"seed {people[0]} for every point" if len(people) == 1 else
           f"a cohort of {len(people)} individuals (seeds {people[0]}–{people[-1]}) at every point, analysed as cohort means")
    out = [f"Method {method} (SALib), n={n} ({'trajectories' if method == 'morris' else 'base samples'}), "
           f"{len(design)} design points × {len(people)} individual(s) × {len(arms)} arm(s) = {runs} simulations; {who} "
           f"(common random numbers); preset {context['preset']}, domain {context['domain']}"
           + (f", overrides {' '.join(context['overrides'])}" if context["overrides"] else "") + "; "
           f"wall time {_fmt_time(context['seconds'])}.",
           *censoring_notes(design, arms, horizon)]
    for out_name in output_names(arms):
        sd = float(design[out_name].std(ddof=0))
        if sd < NEAR_ZERO_SD_DAYS:
            out.append(f"{OUTPUTS[out_name]} did not change across the design (SD {sd:.2g} d): no parameter moved it, "
                       "so no indices are given.")
        else:
            out.append(f"{OUTPUTS[out_name]}: mean {design[out_name].mean():.2f} d, SD {sd:.2f} d across the design.")
    if method == "morris":
        out.append("mu*: mean absolute elementary effect in days per whole range (each step of 2/3 of the range on a 4-level "
                   "grid, divided by 2/3); sigma: spread of those effects (nonlinearity or interactions); mu*_conf: 95 % "
                   "bootstrap half-width.")
    else:
        out.append("S1: share of output variance due to the parameter alone; ST: share including all its interactions; "
                   "*_conf: 95 % bootstrap half-width. Small negative values are estimation noise.")
    out.append(("One seed" if len(people) == 1 else "Every individual") + ": a parameter change also changes which random draws "
               "the agents see, so part of every index can be stochastic noise rather than a parameter effect"
               + (" (a cohort averages some of it out)" if len(people) > 1 else "") + "; compare indices with that in mind.")
    out.append("Ranges are the plausible ranges of docs/parameters.md, mostly assumptions; ranges over ≥ 2 decades are "
               "sampled on a log10 scale (column scale).")
    return out


def display_table(indices: pd.DataFrame, method: str, output: str) -> pd.DataFrame:
    part = indices[indices["output"] == output]
    table = pd.DataFrame({"rank": part["rank"].map(lambda r: "n/a" if pd.isna(r) else str(int(r))),
                          "parameter": part["parameter"],
                          "range": [f"{lo:g}–{hi:g} {u if u != '1' else ''}".strip() + (" (log)" if s == "log10" else "")
                                    for lo, hi, u, s in zip(part["low"], part["high"], part["unit"], part["scale"])]})
    for c in INDEX_COLUMNS[method]:
        table[c] = part[c].map(lambda x: "n/a" if pd.isna(x) else f"{x:.3g}")
    return table


def markdown_report(indices: pd.DataFrame, method: str, note_lines: list[str]) -> str:
    parts = [f"> **{sim.NOTICE}**", "", f"# Global sensitivity analysis ({method})", ""]
    parts += [f"- {line}" for line in note_lines] + [""]
    for out in indices["output"].unique():
        parts += [f"## {OUTPUTS[out]}", "", markdown(display_table(indices, method, out)), ""]
    return "\n".join(parts)


# --------------------------------------------------------------------------- figure
def _bars(part: pd.DataFrame, method: str) -> list[go.Bar]:
    """Ranked horizontal bars with confidence bars (largest at the top)."""
    part = part.sort_values(INDEX_COLUMNS[method][0 if method == "morris" else 2], ascending=True)
    if method == "morris":
        spec = [("mu*", "mu_star", "mu_star_conf", figures.TREATED_COLOR), ("sigma", "sigma", None, figures.CONTROL_COLOR)]
    else:
        spec = [("ST (total)", "ST", "ST_conf", figures.TREATED_COLOR), ("S1 (first order)", "S1", "S1_conf", figures.CONTROL_COLOR)]
    return [go.Bar(y=part["parameter"], x=part[col], name=name, orientation="h", marker_color=color,
                   error_x=None if conf is None else {"type": "data", "array": part[conf], "visible": True},
                   legendgroup=name, hovertemplate=f"%{{y}}<br>{name} %{{x:.3g}}<extra></extra>")
            for name, col, conf, color in spec]


def sensitivity_figure(indices: pd.DataFrame, method: str) -> go.Figure:
    outputs = list(indices["output"].unique())
    k = int(indices["parameter"].nunique())
    fig = make_subplots(rows=len(outputs), cols=1, subplot_titles=[OUTPUTS[o] for o in outputs], vertical_spacing=0.12)
    for row, out in enumerate(outputs, start=1):
        part = indices[indices["output"] == out]
        if part["note"].iloc[0]:
            fig.add_annotation(text="output constant across the design: no indices", showarrow=False,
                               xref=f"x{row if row > 1 else ''} domain", yref=f"y{row if row > 1 else ''} domain", x=0.5, y=0.5)
            continue
        for trace in _bars(part, method):
            trace.showlegend = row == 1
            fig.add_trace(trace, row=row, col=1)
    unit = "days per whole range" if method == "morris" else "share of variance"
    fig.update_xaxes(title_text=unit)
    fig.update_layout(title=f"Global sensitivity ({method}) — NON-CLINICAL model output", barmode="group",
                      height=max(400, len(outputs) * (40 + 28 * k)), margin={"t": 90})
    return fig


def _html_table(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in table.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(indices: pd.DataFrame, method: str, note_lines: list[str]) -> str:
    notice = f'<div class="notice" role="note">{html.escape(sim.NOTICE)}</div>'
    tables = "".join(f"<h2>{html.escape(OUTPUTS[o])}</h2>" + _html_table(display_table(indices, method, o))
                     for o in indices["output"].unique())
    fig = pio.to_html(sensitivity_figure(indices, method), include_plotlyjs=True, full_html=False)
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>alsim-sensitivity: global sensitivity (non-clinical)</title>", f"<style>{REPORT_CSS}</style></head><body>",
        notice, f"<h1>Global sensitivity analysis ({html.escape(method)})</h1>",
        "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in note_lines) + "</ul>", fig, tables, notice, "</body></html>"])


# --------------------------------------------------------------------------- writing
def _write_parquet(frame: pd.DataFrame, path: Path, notice: str) -> None:
    """Write via a temporary sibling and rename, so a reader never sees a half-written file."""
    table = pa.Table.from_pandas(frame, preserve_index=False).replace_schema_metadata({"non_clinical_notice": notice})
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        pq.write_table(table, tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_outputs(out: Path, design: pd.DataFrame, indices: pd.DataFrame, md: str, page: str) -> list[Path]:
    paths = [out / "design.parquet", out / "indices.csv", out / "indices.md", out / "sensitivity.html"]
    _write_parquet(design, paths[0], sim.NOTICE)
    write_text_atomic(paths[1], f"# {sim.NOTICE}\n" + indices.to_csv(index=False))
    write_text_atomic(paths[2], md)
    write_text_atomic(paths[3], page)
    return paths


# --------------------------------------------------------------------------- command line
class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, no usage block
        raise SensitivityError(message)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(prog=PROG, description="Global sensitivity analysis (Morris or Sobol) of the paired T50 delay and the "
                "control T50 over the documented plausible parameter ranges. " + sim.NOTICE)
    p.add_argument("overrides", nargs="*", metavar="KEY=VALUE", help="overrides of the base config, as for alsim")
    p.add_argument("--method", default="morris", help="morris (default, cheaper) or sobol")
    p.add_argument("--n", type=int, default=4, help="Morris trajectories or Sobol base samples (power of 2); default 4")
    p.add_argument("--params", help="comma-separated dotted keys (default: a set of uncertain disease/immune/MSC parameters)")
    p.add_argument("--preset", default="sod1_g93a_mouse", help="disease preset (default sod1_g93a_mouse)")
    p.add_argument("--domain", default="standard", help="quick or standard (default)")
    p.add_argument("--seed", type=int, default=0, help="seed of every simulation and of the design (default 0)")
    p.add_argument("--seeds", help="a cohort N-M: every design point is run for each of these individuals and their means "
                                   "are analysed (default: --seed alone)")
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="processes (default: CPU count)")
    p.add_argument("--out", type=Path, help="output folder (default sensitivity/<timestamp>)")
    return p.parse_args(argv)


def check_args(args: argparse.Namespace) -> None:
    from sim.presets import group_options
    if args.method not in METHODS:
        raise SensitivityError(f"--method={args.method} is invalid: allowed values are {', '.join(METHODS)}")
    if args.n < 2:
        raise SensitivityError(f"--n={args.n} is invalid: allowed is an integer ≥ 2")
    if args.method == "sobol" and args.n & (args.n - 1):
        raise SensitivityError(f"--n={args.n} is invalid for sobol: allowed is a power of 2 (2, 4, 8, …)")
    if args.domain not in DOMAINS:
        raise SensitivityError(f"--domain={args.domain} is invalid: allowed values are {', '.join(DOMAINS)}")
    if args.preset not in group_options("disease"):
        raise SensitivityError(f"--preset={args.preset} is invalid: allowed values are {', '.join(group_options('disease'))}")
    if args.workers < 1:
        raise SensitivityError(f"--workers={args.workers} is invalid: allowed is an integer ≥ 1")
    if args.seed < 0:
        raise SensitivityError(f"--seed={args.seed} is invalid: allowed is an integer ≥ 0")
    if args.seeds is not None:
        args.seed_list = cohort_seeds(args.seeds)
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise SensitivityError(f"--out={args.out} is invalid: it is a file; allowed is a folder")
    bad = [o for o in args.overrides if "=" not in o]
    if bad:
        raise SensitivityError(f"{bad[0]} is invalid: allowed are overrides KEY=VALUE")


def cohort_seeds(text: str) -> list[int]:
    lo, sep, hi = text.partition("-")
    try:
        seeds = list(range(int(lo), int(hi) + 1)) if sep else [int(lo)]
    except ValueError:
        seeds = []
    if not seeds or seeds[0] < 0 or len(seeds) > 10_000:
        raise SensitivityError(f"--seeds={text} is invalid: allowed is N or N-M with 0 ≤ N ≤ M (at most 10000 individuals)")
    return seeds


def base_config(args: argparse.Namespace) -> SimConfig:
    """The validated base config, with snapshots off (they do not affect T50)."""
    from sim.presets import compose_config
    try:
        cfg = compose_config([f"disease={args.preset}", f"domain={args.domain}", f"seed={args.seed}", *args.overrides])
    except ConfigError as exc:
        raise SensitivityError(str(exc)) from None
    return with_values(cfg, {"domain.snapshot_every_days": NO_SNAPSHOTS_DAYS})


@dataclass
class Plan:
    """Everything decided before the first simulation."""

    base: SimConfig
    factors: list[Factor]
    unit: np.ndarray
    values: pd.DataFrame
    cfgs: list[SimConfig]
    arms: list[str]


def plan(args: argparse.Namespace) -> Plan:
    check_args(args)
    base = base_config(args)
    keys = [k.strip() for k in args.params.split(",") if k.strip()] if args.params is not None else list(DEFAULT_PARAMS)
    factors = resolve_factors(base, keys)
    unit = design_unit(args.method, args.n, factors, args.seed)
    values, cfgs = point_configs(base, factors, unit)
    arms = ["control", "treated"] if base.treatment.enabled else ["control"]
    return Plan(base, factors, unit, values, cfgs, arms)


def summary_lines(indices: pd.DataFrame, method: str, top: int = 5) -> list[str]:
    col = "mu_star" if method == "morris" else "ST"
    lines = []
    for out in indices["output"].unique():
        part = indices[indices["output"] == out]
        if part["note"].iloc[0]:
            lines.append(f"{OUTPUTS[out]}: constant across the design (no indices)")
            continue
        ranked = part.nsmallest(top, "rank")
        lines.append(f"{OUTPUTS[out]}, top {len(ranked)} by {col}: "
                     + ", ".join(f"{r.parameter} {getattr(r, col):.3g}" for r in ranked.itertuples()))
    return lines


def main(argv: list[str] | None = None) -> None:
    """Entry point of `alsim-sensitivity`; exit code 2 (one line on stderr, nothing written) on bad input."""
    try:
        args = parse_args(argv)
        p = plan(args)
    except SensitivityError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT) from None
    out = args.out or Path("sensitivity") / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    if problem := resources.writable_problem(out, "folder"):  # before hours of simulation, not after
        print(f"{PROG}: error: --out={out} is invalid: {problem}", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)
    print(f"[sensitivity] {len(p.cfgs)} design points × {len(p.arms)} arm(s), {args.workers} worker(s)", file=sys.stderr)
    start = time.monotonic()
    seeds = getattr(args, "seed_list", None)
    t50 = run_design(p.cfgs, p.arms, args.workers, seeds)
    horizon = p.base.disease.horizon_days
    design = outcome_frame(p.values, t50, p.arms, p.cfgs)
    indices = indices_table(args.method, p.factors, p.unit, design, p.arms, args.seed)
    context = {"seed": args.seed, "seeds": seeds, "preset": args.preset, "domain": args.domain, "overrides": args.overrides,
               "seconds": time.monotonic() - start}
    note_lines = notes(args.method, args.n, design, p.arms, horizon, context)
    written = write_outputs(out, design, indices, markdown_report(indices, args.method, note_lines),
                            render_html(indices, args.method, note_lines))
    print(sim.NOTICE, "", *summary_lines(indices, args.method), "", *note_lines[:-3], "",
          *(f"wrote {w}" for w in written), sep="\n")


if __name__ == "__main__":  # pragma: no cover
    main()
