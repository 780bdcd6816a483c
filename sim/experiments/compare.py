"""`alsim-compare DIR [DIR ...]`: collect finished runs and compare scenarios by paired effects.

Each run pairs a control and a treated arm with the same seed, so the per-seed difference
(treated − control) is the modeled effect of the MSC course for that virtual individual. Across
seeds it is summarised by its mean with a bootstrap confidence interval; the interval, not the
mean, decides the plain-language reading, so a null effect reads as plainly as a positive one.

Writes, under OUT (default: the first DIR):
    dataset/runs.parquet, dataset/timeseries.parquet   tidy tables of every complete run
    effects.csv                                        one row per scenario (notice on line 1)
    report.html                                        self-contained figures (Plotly inlined)
and prints the effects as a Markdown table under the non-clinical notice.

NON-CLINICAL: the numbers are consequences of model assumptions, not clinical predictions or
dose recommendations.
"""
from __future__ import annotations

import argparse
import html
import inspect
import math
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from scipy import stats

import sim
from sim import figures, resources
from sim.export import FORMATS, ExportError, browser, write_figures
from sim.page import figure_html, plotly_loader
from sim.eligibility import END_STAGE, PAST_WINDOW, WINDOW_KEY, not_eligible_kind
from sim.recorder import nearest_existing, write_text_atomic
from sim.experiments.collect import CompareError, Dataset, Skipped, build_dataset, check_compatible, discover, \
    drop_duplicates, left_out_lines, write_dataset

PROG = "alsim-compare"
EXIT_REFUSED = 2
EXIT_WRITE_FAILED = 1
MAX_SEED = 2**63 - 1
CONFIDENCE = 0.95
N_RESAMPLES = 9999
# Two untreated groups of 24 SOD1-G93A mice differ in survival by up to ~6 days by chance (SD ≈ 10 d,
# 95 % null band ≈ ±5.7 d; Scott et al. 2008, Amyotroph Lateral Scler 9:4). No such band is set for
# the human preset.
NOISE_BAND_DAYS = {"sod1_g93a_mouse": 6.0}
NULL_READING = "no modeled slowing distinguishable from zero"
FEW_SEEDS = 10
# Only when the runs include posterior runs (`+uncertainty=posterior`): the end-stage delay over their draws × individuals.
UNCERTAINTY_COLUMNS = ["uncertainty_cells", "uncertainty_median_delay_days", "uncertainty_low_days", "uncertainty_high_days",
                       "uncertainty_parameter_share", "uncertainty_individual_share", "uncertainty_dominant"]
EFFECT_COLUMNS = ["n_seeds", "t50_delay_mean_days", "t50_delay_ci_low_days", "t50_delay_ci_high_days", "n_censored",
                  "n_undefined", "fraction_seeds_with_delay", "auc_gain_mean_days", "auc_gain_ci_low_days",
                  "auc_gain_ci_high_days", "control_t50_mean_days", "noise_band_days", "delay_vs_drive_spearman", "reading",
                  "n_not_eligible", "n_not_eligible_onset_window"]


# --------------------------------------------------------------------------- statistics
@dataclass(frozen=True)
class MeanCI:
    """Mean of a sample with a bootstrap confidence interval (NaN when undefined)."""

    mean: float
    low: float
    high: float
    n: int


_RNG_ARG = "rng" if "rng" in inspect.signature(stats.bootstrap).parameters else "random_state"


def bootstrap_mean_ci(values: np.ndarray | list[float], seed: int = 0, confidence: float = CONFIDENCE,
                      n_resamples: int = N_RESAMPLES) -> MeanCI:
    """Mean and percentile-bootstrap CI of the mean, reproducible for a given seed.

    One value has no spread, so its interval is undefined (NaN) rather than zero-width. When all
    values are equal every resample has the same mean, so the interval is that value exactly
    (scipy would report a degenerate-data warning and NaN).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if x.size == 0:
        return MeanCI(math.nan, math.nan, math.nan, 0)
    mean = float(x.mean())
    if x.size == 1:
        return MeanCI(mean, math.nan, math.nan, 1)
    if np.all(x == x[0]):
        return MeanCI(mean, mean, mean, int(x.size))
    res = stats.bootstrap((x,), np.mean, n_resamples=n_resamples, confidence_level=confidence, method="percentile",
                          vectorized=True, **{_RNG_ARG: np.random.default_rng(seed)})
    return MeanCI(mean, float(res.confidence_interval.low), float(res.confidence_interval.high), int(x.size))


def per_seed_effects(runs: pd.DataFrame, scenario_cols: list[str]) -> pd.DataFrame:
    """One row per treated run: the paired T50 delay used for statistics, and whether it is censored.

    A censored delay (treated arm never reached 50 % loss within the horizon) enters as its lower
    bound (horizon − control T50), so means over censored seeds are lower bounds too. A delay is
    undefined (NaN) when the control arm itself never reached 50 % loss. `eligible` is False where the
    control reached end stage by the first infusion, or its onset lies past the eligibility window before it
    (`sim.eligibility`; `not_eligible` says which): such seeds enter no statistic.
    """
    treated = runs[runs["auc_gain_days"].notna()]  # runs with a treated arm always have an AUC gain
    censored = treated["t50_delay_days"].isna() & treated["t50_delay_censored_at_least_days"].notna()
    value = treated["t50_delay_days"].where(~censored, treated["t50_delay_censored_at_least_days"])
    keep = [*scenario_cols, *(["disease"] if "disease" not in scenario_cols else []), "seed", "run_id",
            "control_t50_days", "auc_gain_days"]
    keep += [c for c in ("individual_drive_multiplier", "control_end_stage_days", "control_onset_days",
                         "eligibility_max_days_from_onset") if c in treated.columns]
    out = treated[keep].copy()
    kind = not_eligible_kind(treated) if "control_end_stage_days" in treated else pd.Series(None, index=treated.index,
                                                                                             dtype=object)
    out["not_eligible"] = kind.to_numpy(dtype=object)
    out["eligible"] = kind.isna().to_numpy(dtype=bool)
    out["t50_delay_value_days"] = value.astype(float)
    out["t50_delay_censored"] = censored.astype(bool)
    return out.reset_index(drop=True)


def reading(delays: np.ndarray, ci: MeanCI, noise_band: float | None) -> str:
    """Plain-language reading of a scenario's paired T50 delays; the CI decides, not the mean."""
    if delays.size == 0:
        return "undefined: the control arm never reached 50 % loss"
    if np.all(delays == 0):
        return NULL_READING
    if ci.n < 2 or math.isnan(ci.low):
        return f"{NULL_READING} (one seed, no interval)"
    if ci.low <= 0 <= ci.high:
        return NULL_READING
    text = "modeled delay" if ci.low > 0 else "modeled acceleration"
    if noise_band and min(abs(ci.low), abs(ci.high)) < noise_band:
        text += f", not distinguishable from between-animal noise (±{noise_band:g} d)"
    return text


def _scenario_row(all_seeds: pd.DataFrame, seed: int) -> dict:
    group = all_seeds[all_seeds["eligible"]] if "eligible" in all_seeds else all_seeds
    delays = group["t50_delay_value_days"].to_numpy(dtype=float)
    defined = delays[np.isfinite(delays)]
    delayed = (delays > 0) | group["t50_delay_censored"].to_numpy(dtype=bool)  # censored: later than the horizon
    delay = bootstrap_mean_ci(defined, seed)
    auc = bootstrap_mean_ci(group["auc_gain_days"].to_numpy(dtype=float), seed)
    disease = str(all_seeds["disease"].iloc[0])
    band = NOISE_BAND_DAYS.get(disease)
    return {
        "disease": disease, "n_seeds": len(group),
        "t50_delay_mean_days": delay.mean, "t50_delay_ci_low_days": delay.low, "t50_delay_ci_high_days": delay.high,
        "n_censored": int(group["t50_delay_censored"].sum()), "n_undefined": int(len(delays) - len(defined)),
        "fraction_seeds_with_delay": float(delayed.sum() / defined.size) if defined.size else math.nan,
        "auc_gain_mean_days": auc.mean, "auc_gain_ci_low_days": auc.low, "auc_gain_ci_high_days": auc.high,
        "control_t50_mean_days": float(group["control_t50_days"].mean()) if len(group) else math.nan,
        "noise_band_days": band if band is not None else math.nan,
        "delay_vs_drive_spearman": who_benefits(group),
        "reading": reading(defined, delay, band) if len(group) else f"no eligible seed ({_none_eligible(all_seeds)})",
        "n_not_eligible": int(len(all_seeds) - len(group)),
        "n_not_eligible_onset_window": int((all_seeds["not_eligible"] == PAST_WINDOW).sum()) if "not_eligible" in all_seeds
        else 0,
    }


def _none_eligible(all_seeds: pd.DataFrame) -> str:
    """Why no seed of a scenario is eligible, in words."""
    kinds = set(all_seeds["not_eligible"].dropna()) if "not_eligible" in all_seeds else {END_STAGE}
    if kinds == {PAST_WINDOW}:
        return "every individual's symptom onset lay past the eligibility window before the first infusion"
    if kinds == {END_STAGE}:
        return "every individual reached end stage before the first infusion"
    return "every individual reached end stage before the first infusion or had its onset past the eligibility window"


def who_benefits(group: pd.DataFrame) -> float:
    """Spearman ρ of the per-seed T50 delay with the virtual individual's drive multiplier (> 0: fast progressors
    gain more); NaN with fewer than 5 seeds or when the individuals or the delays do not vary."""
    if "individual_drive_multiplier" not in group.columns:
        return math.nan
    both = group[["individual_drive_multiplier", "t50_delay_value_days"]].dropna()
    if len(both) < 5 or both.nunique().min() < 2:
        return math.nan
    return float(stats.spearmanr(both.iloc[:, 0], both.iloc[:, 1]).statistic)


def effects_table(paired: pd.DataFrame, scenario_cols: list[str], seed: int = 0,
                  cells: pd.DataFrame | None = None) -> pd.DataFrame:
    """One row per scenario (swept parameters other than seed) with paired-effect statistics; with `cells` (posterior
    runs' draws × individuals, `Dataset.uncertainty`) also the UNCERTAINTY_COLUMNS."""
    columns = [*scenario_cols, *(["disease"] if "disease" not in scenario_cols else [])]
    extra = UNCERTAINTY_COLUMNS if cells is not None and len(cells) else []
    rows = []
    for key, group in paired.groupby(scenario_cols, dropna=False, sort=True) if len(paired) else []:
        row = dict(zip(scenario_cols, key if isinstance(key, tuple) else (key,)))
        row.update(_scenario_row(group, seed))
        if extra:
            row.update(uncertainty_row(cells[cells["run_id"].isin(group["run_id"])]))
        rows.append(row)
    return pd.DataFrame(rows, columns=[*columns, *EFFECT_COLUMNS, *extra])


def uncertainty_row(cells: pd.DataFrame) -> dict:
    """A scenario's posterior cells pooled over its runs (a cell simulated by two runs counted once; a draw is known by
    its values): median end-stage delay, 2.5–97.5 % interval and the variance split (sim.uncertainty.decompose)."""
    from sim import uncertainty

    keys = [c for c in cells.columns if c.startswith("msc.")]
    pooled = cells.drop_duplicates(subset=["seed", *keys])
    stats = uncertainty.decompose(pooled, keys or ["draw"])
    nan = lambda x: math.nan if x is None else x  # noqa: E731
    return {"uncertainty_cells": stats["used_cells"], "uncertainty_median_delay_days": nan(stats["median_days"]),
            "uncertainty_low_days": nan(stats["low_days"]), "uncertainty_high_days": nan(stats["high_days"]),
            "uncertainty_parameter_share": nan(stats["parameter_share"]),
            "uncertainty_individual_share": nan(stats["individual_share"]), "uncertainty_dominant": stats["dominant"]}


# --------------------------------------------------------------------------- text output
def _days(x: float, censored: bool = False) -> str:
    return "n/a" if pd.isna(x) else f"{'≥ ' if censored else ''}{x:+.2f}"


def _mean_ci(mean: float, low: float, high: float, censored: bool = False) -> str:
    if pd.isna(mean):
        return "n/a"
    ci = "n/a" if pd.isna(low) else f"{low:+.2f}, {high:+.2f}"
    return f"{_days(mean, censored)} [{ci}]"


def _seeds_with_delay(r) -> str:
    """`k/n`: seeds with a delay > 0 out of the seeds whose delay is defined."""
    defined = r.n_seeds - r.n_undefined
    return "n/a" if pd.isna(r.fraction_seeds_with_delay) else f"{round(r.fraction_seeds_with_delay * defined)}/{defined}"


def display_table(effects: pd.DataFrame, scenario_cols: list[str]) -> tuple[pd.DataFrame, str]:
    """Effects formatted for people: varying scenario columns, then the statistics as text.

    Returns the table and a line naming the parameters that are the same in every row.
    """
    shown = figures.varying(effects, scenario_cols)
    constant = [c for c in [*scenario_cols, "disease"] if c not in shown and c in effects and len(effects)]
    same = ", ".join(f"{c}={figures.fmt_value(effects[c].iloc[0])}" for c in dict.fromkeys(constant))
    table = pd.DataFrame({c: effects[c].map(figures.fmt_value) for c in shown})
    table["seeds"] = effects["n_seeds"].astype(int).astype(str)
    table["T50 delay, d: mean [95% CI]"] = [
        _mean_ci(r.t50_delay_mean_days, r.t50_delay_ci_low_days, r.t50_delay_ci_high_days, r.n_censored > 0)
        for r in effects.itertuples()]
    table["AUC gain, d: mean [95% CI]"] = [
        _mean_ci(r.auc_gain_mean_days, r.auc_gain_ci_low_days, r.auc_gain_ci_high_days) for r in effects.itertuples()]
    table["seeds with delay"] = [_seeds_with_delay(r) for r in effects.itertuples()]
    table["censored"] = effects["n_censored"].astype(int).astype(str)
    if "n_not_eligible" in effects and effects["n_not_eligible"].sum():
        table["not eligible"] = effects["n_not_eligible"].astype(int).astype(str)
    if effects["delay_vs_drive_spearman"].notna().any():
        table["ρ (delay vs drive)"] = effects["delay_vs_drive_spearman"].map(lambda x: "n/a" if pd.isna(x) else f"{x:+.2f}")
    if "uncertainty_dominant" in effects:
        table[UNCERTAINTY_HEADER] = [median_interval_text(r) for r in effects.itertuples()]
        table["dominant source"] = [dominant_text(r) for r in effects.itertuples()]
    table["reading"] = effects["reading"]
    return table, same


UNCERTAINTY_HEADER = "end-stage delay over draws × individuals, d: median [2.5–97.5 %]"


def median_interval_text(r) -> str:
    if pd.isna(r.uncertainty_median_delay_days):
        return "n/a"
    return (f"{r.uncertainty_median_delay_days:+.2f} [{r.uncertainty_low_days:+.2f}, {r.uncertainty_high_days:+.2f}] "
            f"({int(r.uncertainty_cells)} cells)")


def dominant_text(r) -> str:
    """`between-individual noise (93 %)`: the larger part of the variance and its share."""
    if pd.isna(r.uncertainty_dominant) or pd.isna(r.uncertainty_parameter_share):
        return "n/a"
    from sim import uncertainty

    share = {uncertainty.PARAMETER: r.uncertainty_parameter_share,
             uncertainty.NOISE: r.uncertainty_individual_share}.get(r.uncertainty_dominant)
    return r.uncertainty_dominant + ("" if share is None else f" ({share:.0%})")


def markdown(table: pd.DataFrame) -> str:
    """A GitHub-style Markdown table (no extra dependency)."""
    def cell(x: object) -> str:
        return str(x).replace("|", "\\|")
    lines = ["| " + " | ".join(map(cell, table.columns)) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(map(cell, row)) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines)


def notes(effects: pd.DataFrame, runs: pd.DataFrame, seed: int) -> list[str]:
    """Lines that say how to read the table (printed under it and in the report)."""
    out = [f"T50 delay: days to 50 % motor-neuron loss, treated − control with the same seed; mean over seeds with a "
           f"95 % percentile-bootstrap CI ({N_RESAMPLES} resamples, --seed {seed}); n/a with one seed.",
           "AUC gain: area under the survival curve, treated − control (days × fraction alive)."]
    if len(effects) and effects["n_seeds"].min() < FEW_SEEDS:
        out.append(f"Fewer than {FEW_SEEDS} seeds in some scenarios: a bootstrap interval cannot be wider than the range of "
                   "the seeds it resamples, so with few seeds it is too narrow; read it as rough.")
    if len(effects) and effects["n_censored"].sum():
        out.append("≥: in censored seeds the treated arm never reached 50 % loss; the delay enters as its lower bound "
                   "(horizon − control T50), so that mean is a lower bound.")
    if len(effects) and effects["n_undefined"].sum():
        out.append(f"{int(effects['n_undefined'].sum())} seed(s) have no T50 delay (control never reached 50 % loss); "
                   "they are left out of the T50 columns.")
    bands = effects["noise_band_days"].dropna().unique() if len(effects) else []
    for band in bands:
        out.append(f"Two untreated groups of 24 mice differ by up to ~{band:g} days by chance; a modeled delay whose CI "
                   f"reaches into ±{band:g} d is labelled not distinguishable from between-animal noise.")
    if len(effects) and effects["delay_vs_drive_spearman"].notna().any():
        out.append("ρ (delay vs drive): Spearman correlation, across seeds, of the paired delay with the virtual individual's "
                   "intrinsic-drive multiplier (disease.individual_drive_sd_log): > 0 means faster modeled progressors gain "
                   "more, < 0 slower ones; per-seed values are in dataset/runs.parquet.")
    window = int(effects["n_not_eligible_onset_window"].sum()) if len(effects) and "n_not_eligible_onset_window" in effects \
        else 0
    end_stage = (int(effects["n_not_eligible"].sum()) if len(effects) and "n_not_eligible" in effects else 0) - window
    if end_stage:
        out.append(f"not eligible: {end_stage} seed(s) whose untreated arm reached end stage on "
                   "or before the first infusion day; they were never treatable, so they enter no statistic (seeds counts "
                   "only eligible ones).")
    if "uncertainty_dominant" in effects and effects["uncertainty_dominant"].notna().any():
        out.append("Median [2.5–97.5 %] over draws × individuals: the end-stage delay (treated − control) in every eligible "
                   "cell of the scenario's posterior runs (+uncertainty=posterior; each run's uncertainty.parquet, a cell "
                   "two runs share counted once), so the interval holds parameter uncertainty and between-individual noise "
                   "together. Dominant source: the larger part of those cells' variance, parameter uncertainty (the "
                   "between-draw variance of the per-draw mean) or between-individual noise (the mean within-draw variance "
                   "across individuals), with its share.")
    if window:
        limits = ", ".join(f"{x:g}" for x in sorted(runs["eligibility_max_days_from_onset"].dropna().unique()))
        out.append(f"not eligible: {window} seed(s) whose untreated arm's symptom onset lay more than {limits} days before "
                   f"the first infusion day ({WINDOW_KEY}, a trial-design setting); they were outside the enrolment "
                   "window, so they enter no statistic (seeds counts only eligible ones).")
    clocks = runs["clock"].dropna().unique() if "clock" in runs else []
    if len(clocks):
        out.append("Days are on each preset's clock: " + "; ".join(sorted(map(str, clocks))) + ".")
    controls = int((~runs["treatment_enabled"].astype(bool)).sum())
    if controls:
        out.append(f"{controls} control-only run(s) (treatment disabled) are in the dataset; they have no paired effect.")
    return out


# --------------------------------------------------------------------------- report
REPORT_CSS = """
body { font-family: system-ui, sans-serif; margin: 0 2rem 2rem; color: #222; }
.notice { background: #fff3cd; border: 2px solid #b58900; padding: .8rem 1rem; margin: 1rem 0; font-weight: 600; }
table { border-collapse: collapse; font-size: .9rem; } th, td { border: 1px solid #ccc; padding: .25rem .5rem; }
th { background: #f3f3f3; } td { text-align: right; } td:last-child { text-align: left; }
"""


def _html_table(table: pd.DataFrame) -> str:
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in table.columns)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in row) + "</tr>"
                   for row in table.itertuples(index=False))
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_report(dataset: Dataset, effects: pd.DataFrame, paired: pd.DataFrame, seed: int, sources: list[Path],
                  contrasts: pd.DataFrame | None = None, scale_days: float | None = None, left_out: list[str] = ()) -> str:
    """The self-contained HTML report: notice banner, effects table, contrasts, heatmap, survival curves, per-seed effects."""
    return _page(dataset, effects, seed, sources, contrasts, report_figures(dataset, effects, paired, scale_days), left_out)


def report_figures(dataset: Dataset, effects: pd.DataFrame, paired: pd.DataFrame,
                   scale_days: float | None = None) -> list[tuple[str, go.Figure]]:
    """The report's figures with their titles (the HTML report and `--figures` both use them)."""
    paired = paired[paired["eligible"]] if "eligible" in paired else paired
    other = [c for c in dataset.scenario_cols if c not in (figures.DOSE, figures.START)]
    bands = effects["noise_band_days"].unique() if len(effects) else []
    band = float(bands[0]) if len(bands) == 1 and not pd.isna(bands[0]) else None  # only if it holds for every row
    return [(figures.heatmap_title(effects, other), figures.delay_heatmap(effects, other, scale_days)),
            ("Survival curves per scenario", figures.survival_curves(dataset.timeseries, dataset.scenario_cols)),
            ("Paired effects per seed", figures.effect_distribution(paired, dataset.scenario_cols, band))]


def _page(dataset: Dataset, effects: pd.DataFrame, seed: int, sources: list[Path], contrasts: pd.DataFrame | None,
          figs: list[tuple[str, go.Figure]], left_out: list[str] = ()) -> str:
    table, same = display_table(effects, dataset.scenario_cols)
    parts = [f"<h2>{html.escape(t)}</h2>" + figure_html(f) for t, f in figs]
    runs = dataset.runs
    notice = f'<div class="notice" role="note">{html.escape(sim.NOTICE)}</div>'
    summary = (f"{len(runs)} runs ({int(runs['treatment_enabled'].astype(bool).sum())} paired treated/control), "
               f"{len(effects)} treated scenario(s); alsim {', '.join(sorted(runs['version'].unique()))}; "
               f"from {', '.join(str(s) for s in sources)}")
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        "<title>alsim-compare: modeled paired effects (non-clinical)</title>", f"<style>{REPORT_CSS}</style></head><body>",
        notice, "<h1>Modeled paired effects of the simulated MSC course</h1>", f"<p>{html.escape(summary)}</p>",
        *(f'<p class="notice">{html.escape(line)}</p>' for line in left_out),
        "<h2>Effects per scenario</h2>", f"<p>Same in every row: {html.escape(same)}</p>" if same else "",
        _html_table(table), "<ul>" + "".join(f"<li>{html.escape(n)}</li>" for n in notes(effects, runs, seed)) + "</ul>",
        *_contrast_html(contrasts),
        *parts, notice, plotly_loader(), "</body></html>"])


def _contrast_html(contrasts: pd.DataFrame | None) -> list[str]:
    if contrasts is None or contrasts.empty:
        return []
    from sim.experiments import contrast  # it builds on this module's bootstrap
    return ["<h2>Contrasts between scenarios (B − A)</h2>", _html_table(contrast.display(contrasts)),
            f"<p>{html.escape(contrast.NOTE)}</p>"]


def contrasts_for(texts: list[str], paired: pd.DataFrame, scenario_cols: list[str], seed: int) -> pd.DataFrame | None:
    """Every `--contrast` as rows of one table (eligible seeds only); raises CompareError for one that names no scenario."""
    if not texts:
        return None
    from sim.experiments import contrast  # it builds on this module's bootstrap
    usable = paired[paired["eligible"]] if "eligible" in paired else paired
    tables = [contrast.contrast_table(usable, scenario_cols, contrast.resolve(t, paired, scenario_cols), seed)
              for t in texts]
    return pd.concat(tables, ignore_index=True)


def effects_csv(effects: pd.DataFrame, contrasts: pd.DataFrame | None) -> str:
    """effects.csv: one row per scenario, then one per contrast stratum (its own columns; the notice on line 1)."""
    table = effects if contrasts is None else pd.concat([effects, contrasts], ignore_index=True)
    return f"# {sim.NOTICE}\n" + table.to_csv(index=False)


# --------------------------------------------------------------------------- command line
class _Parser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block): `alsim-compare: error: …`, exit code 2."""

    def error(self, message: str):
        self.exit(EXIT_REFUSED, f"{self.prog}: error: {message.splitlines()[0]} (see {self.prog} --help)\n")


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected an integer in [0, {MAX_SEED}]") from None
    if not 0 <= value <= MAX_SEED:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: allowed range is [0, {MAX_SEED}]")
    return value


def _days_range(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: expected a number of days > 0") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"{text!r} is invalid: allowed range is a finite number of days > 0")
    return value


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = _Parser(prog=PROG, description="Collect alsim run folders and compare scenarios by their "
                                "paired (treated − control) effects. " + sim.NOTICE)
    p.add_argument("dirs", nargs="+", type=Path, metavar="DIR", help="sweep folder, a parent of several, or a run folder")
    p.add_argument("--out", type=Path, help="where to write dataset/, effects.csv and report.html (default: the first DIR)")
    p.add_argument("--group-by", choices=["disease"], help="allow several disease presets; disease becomes a scenario column")
    p.add_argument("--seed", type=_seed, default=0, help="random seed of the bootstrap resampling (default 0)")
    p.add_argument("--color-range", type=_days_range, metavar="DAYS",
                   help=f"colour scale of the delay heatmap, ±DAYS (default: the fixed ±{figures.HEATMAP_SCALE_DAYS:g} d of "
                        "every report, so colours compare between reports)")
    p.add_argument("--figures", choices=FORMATS, help="also write each figure of the report as a file in OUT/figures/")
    p.add_argument("--contrast", action="append", default=[], metavar="KEY=A:B",
                   help="also compare scenario B with scenario A of a swept KEY (e.g. n_infusions=1:4, "
                        "disease=sod1_g93a_mouse:human_sporadic): the per-seed effect in B minus A, paired by seed "
                        "where seeds match; repeatable")
    return p.parse_args(argv)


def _say(kind: str, text: str) -> None:
    print(f"{PROG}: {kind}: {text}", file=sys.stderr)


def collect(paths: list[Path], group_by: str | None) -> tuple[Dataset, list[Skipped], list[str]]:
    """Find, check and tabulate the runs; raise CompareError for a refusal."""
    runs, skipped = discover(paths)
    if not runs:
        extra = f" ({len(skipped)} incomplete or failed folder(s) skipped)" if skipped else ""
        raise CompareError(f"no complete runs found under {', '.join(map(str, paths))}{extra}")
    runs, duplicates = drop_duplicates(runs)
    if not runs:
        raise CompareError(f"no usable runs: {'; '.join(left_out_lines(skipped + duplicates))}")
    warnings = check_compatible(runs, group_by)
    unverified = [r for r in runs if not r.verified]
    if unverified:  # written before manifests existed: used, but said plainly
        warnings.append(f"{len(unverified)} run(s) are unverified (no manifest.json, their files cannot be checked): "
                        + ", ".join(str(r.path) for r in unverified))
    return build_dataset(runs, group_by), skipped + duplicates, warnings


def _check_out(out: Path) -> None:
    """Refuse before writing anything if a file stands where a folder goes, or the reverse."""
    existing = nearest_existing(out)
    if not existing.is_dir():
        raise CompareError(f"cannot write into {out}: {existing} is a file")
    for folder in (out, out / "dataset"):
        if folder.exists() and not folder.is_dir():
            raise CompareError(f"cannot write into {folder}: it is a file")
    for name in ("effects.csv", "report.html", "dataset/runs.parquet", "dataset/timeseries.parquet"):
        if (file := out / name).is_dir():
            raise CompareError(f"cannot write {file}: it is a folder")
    if problem := resources.writable_problem(out, "folder"):  # permissions, read-only mounts
        raise CompareError(f"cannot write into {out}: {problem}")


OUTPUT_FILES = ("dataset/runs.parquet", "dataset/timeseries.parquet", "effects.csv", "report.html")


def write_outputs(out: Path, dataset: Dataset, effects: pd.DataFrame, report: str,
                  contrasts: pd.DataFrame | None = None) -> list[Path]:
    """Everything the comparison writes; the notice heads effects.csv as a `#` comment line.

    All files are first written into a hidden staging folder inside OUT and only then renamed into place, so a
    failure (disk full, no permission) leaves OUT as it was: no new file, and an earlier comparison intact.
    """
    created = [p for p in (out / "dataset", out, *out.parents) if not p.exists()]
    staging = out / f".alsim-compare.tmp-{os.getpid()}"
    try:
        write_dataset(dataset, staging / "dataset")
        write_text_atomic(staging / "effects.csv", effects_csv(effects, contrasts))
        write_text_atomic(staging / "report.html", report)
        (out / "dataset").mkdir(exist_ok=True)
        for name in OUTPUT_FILES:
            os.replace(staging / name, out / name)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        for folder in created:  # folders this call made, if still empty
            try:
                folder.rmdir()
            except OSError:
                pass
        raise
    shutil.rmtree(staging, ignore_errors=True)
    return [out / name for name in OUTPUT_FILES]


def main(argv: list[str] | None = None) -> None:
    """Entry point of `alsim-compare`; exit code 2 (one line on stderr, nothing written) on a refusal or a bad
    argument, 1 (one line, nothing written, an earlier comparison kept) if the outputs cannot be written."""
    args = parse_args(argv)
    out = args.out or args.dirs[0]
    try:
        for folder in args.dirs:  # the inputs first, then the output, then the work
            if not folder.is_dir():
                raise CompareError(f"{folder} {'is not a folder' if folder.exists() else 'does not exist'}")
        _check_out(out)
        dataset, skipped, warnings = collect(args.dirs, args.group_by)
        if args.figures:
            browser()  # refuse before writing anything if figures cannot be exported here
    except (CompareError, ExportError) as exc:
        _say("error", str(exc))
        raise SystemExit(EXIT_REFUSED) from None
    for s in skipped:
        _say("skipped", f"{'failed run ' if s.failed else ''}{s.path}: {s.reason}")
    for w in warnings:
        _say("warning", w)
    paired = per_seed_effects(dataset.runs, dataset.scenario_cols)
    effects = effects_table(paired, dataset.scenario_cols, args.seed, dataset.uncertainty)
    left_out = left_out_lines(skipped)
    try:
        contrasts = contrasts_for(args.contrast, paired, dataset.scenario_cols, args.seed)
    except (CompareError, ValueError) as exc:
        _say("error", str(exc))
        raise SystemExit(EXIT_REFUSED) from None
    report = render_report(dataset, effects, paired, args.seed, args.dirs, contrasts, args.color_range, left_out)
    try:
        written = write_outputs(out, dataset, effects, report, contrasts)
        if args.figures:
            written += write_figures(report_figures(dataset, effects, paired, args.color_range), out / "figures",
                                     args.figures)
    except ExportError as exc:
        _say("error", f"{exc}; the tables and report.html were written")
        raise SystemExit(EXIT_WRITE_FAILED) from None
    except OSError as exc:
        _say("error", f"could not write into {out}: {exc.strerror or exc}; nothing was written")
        raise SystemExit(EXIT_WRITE_FAILED) from None
    table, same = display_table(effects, dataset.scenario_cols)
    print(sim.NOTICE, "", f"{len(dataset.runs)} run(s) collected, {len(effects)} treated scenario(s)"
          + (f"; same in every row: {same}" if same else ""), "", sep="\n")
    print(markdown(table) if len(effects) else "(no treated runs: no paired effects)")
    if contrasts is not None:
        from sim.experiments import contrast
        print("", "Contrasts (B − A):", markdown(contrast.display(contrasts)) if len(contrasts)
              else "(no stratum holds both scenarios)", contrast.NOTE, sep="\n")
    print("", *notes(effects, dataset.runs, args.seed), *left_out, "", *(f"wrote {p}" for p in written), sep="\n")


if __name__ == "__main__":  # pragma: no cover
    main()
