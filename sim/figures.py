"""Plotly figures of collected runs: DataFrames in, `plotly.graph_objects.Figure` out.

The functions are pure (no file or network access, no global state), so the `alsim-compare`
report and an interactive dashboard can draw the same figures from the same tables:

* `delay_heatmap(effects, ...)`          — `effects.csv` (one row per scenario)
* `survival_curves(timeseries, ...)`     — `dataset/timeseries.parquet`
* `effect_distribution(paired, ...)`     — per-seed effects (`sim.experiments.compare.per_seed_effects`)
* `scenario_bands(timeseries, ...)`      — one scenario of a sweep: mean and band across seeds

and, for one run folder (the dashboard and `alsim-report` draw the same ones):

* `survival_and_function`, `microglia_curves`, `treg_curves`, `field_mean_curves`, `msc_journey`
                                         — `timeseries.parquet`, both arms, infusion days marked
* `tissue_map`, `tissue_animation`       — `snapshots/fields.npz` + `snapshots/agents.parquet`

Every figure shows what the data show, including a modeled effect of zero: axes are centred on
zero and the colour scale is symmetric, so a null result does not look like a finding.
NON-CLINICAL: the figures show model outputs, not clinical predictions.
"""
from __future__ import annotations

import math
from typing import Any, Iterable

import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from sim.treatment import schedule

DOSE, START = "dose_cells_per_kg", "start_day"
CONTROL_COLOR, TREATED_COLOR = "#666666", "#1f77b4"
PANEL_COLUMNS = 3
# How a scenario parameter reads in a label; other parameters read as `name=value`.
LABELS = {DOSE: "{} cells/kg", START: "start day {}", "n_infusions": "{} infusion(s)",
          "interval_days": "every {} d", "disease": "{}", "treatment_enabled": "treatment on: {}"}


# --------------------------------------------------------------------------- labels
def fmt_value(value: Any) -> str:
    """Short text for a parameter value: 4e+07, 80, True, name."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return "n/a"
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, (int, float, np.integer, np.floating)):
        return f"{float(value):g}"
    return str(value)


def varying(frame: pd.DataFrame, cols: Iterable[str]) -> list[str]:
    """The columns that take more than one value in frame (labels need only those)."""
    return [c for c in cols if c in frame and frame[c].astype("string").nunique(dropna=False) > 1]


def scenario_label(row: pd.Series | dict, cols: Iterable[str]) -> str:
    """`dose 4e+07 cells/kg, first infusion day 80` for the given columns of one row."""
    parts = [LABELS.get(c, f"{c}={{}}").format(fmt_value(row[c])) for c in cols]
    return ", ".join(parts) or "all runs"


def _labels(frame: pd.DataFrame, cols: list[str]) -> pd.Series:
    return frame.apply(lambda r: scenario_label(r, cols), axis=1) if len(frame) else pd.Series(dtype="string")


def _empty(title: str, message: str) -> go.Figure:
    fig = go.Figure()
    fig.add_annotation(text=message, showarrow=False, x=0.5, y=0.5, xref="paper", yref="paper", font={"size": 14})
    fig.update_layout(title=title, xaxis_visible=False, yaxis_visible=False, height=250)
    return fig


def _grid(n: int) -> tuple[int, int]:
    cols = max(1, min(PANEL_COLUMNS, n))
    return math.ceil(n / cols), cols


# --------------------------------------------------------------------------- heatmap
def _mean_text(row: pd.Series) -> str:
    if pd.isna(row["t50_delay_mean_days"]):
        return "n/a"
    return f"{'≥' if row['n_censored'] > 0 else ''}{row['t50_delay_mean_days']:+.2f}"


def _ci_text(low: float, high: float) -> str:
    return "n/a (one seed)" if pd.isna(low) else f"[{low:+.2f}, {high:+.2f}] d"


def _heatmap_trace(panel: pd.DataFrame, doses: list[str], starts: list[str]) -> go.Heatmap:
    z = np.full((len(doses), len(starts)), np.nan)
    text = np.full(z.shape, "", dtype=object)
    custom = np.full((*z.shape, 5), "", dtype=object)
    for _, row in panel.iterrows():
        i, j = doses.index(fmt_value(row[DOSE])), starts.index(fmt_value(row[START]))
        z[i, j] = row["t50_delay_mean_days"]
        ci = _ci_text(row["t50_delay_ci_low_days"], row["t50_delay_ci_high_days"])
        text[i, j] = f"{_mean_text(row)}<br><span style='font-size:85%'>{ci}</span>"
        custom[i, j] = [ci, str(int(row["n_seeds"])), str(int(row["n_censored"])), row["reading"], _mean_text(row)]
    return go.Heatmap(
        z=z, x=starts, y=doses, text=text, texttemplate="%{text}", customdata=custom, coloraxis="coloraxis",
        hovertemplate=("dose %{y} cells/kg, first infusion day %{x}<br>mean paired T50 delay %{customdata[4]} d"
                       "<br>95 % CI %{customdata[0]}<br>%{customdata[1]} seeds, %{customdata[2]} censored"
                       "<br>%{customdata[3]}<extra></extra>"))


# One fixed colour scale for every heatmap, so the same delay has the same colour in every report and on the
# dashboard (a scale fitted to each sweep made +0.26 d white in one report and blue in another). ±10 d covers
# the modeled mouse delays and the ±6 d between-animal noise band; larger values saturate (their number is
# printed in the cell). `alsim-compare --color-range DAYS` asks for another range.
HEATMAP_SCALE_DAYS = 10.0
KEY_NAMES = {DOSE: "dose", START: "first infusion day", "n_infusions": "number of infusions",
             "interval_days": "interval between infusions", "disease": "disease preset"}


def key_name(column: str) -> str:
    """A scenario column in words (for titles)."""
    return KEY_NAMES.get(column, column)


def heatmap_title(effects: pd.DataFrame, facet_cols: Iterable[str]) -> str:
    """The heatmap's title, naming the keys that vary (dose and first infusion day only when they do)."""
    keys = varying(effects, [DOSE, START, *facet_cols]) if len(effects) else []
    by = " and ".join(key_name(k) for k in keys)
    return "Mean paired T50 delay (treated − control, days)" + (f" by {by}" if by else ", one scenario")


def delay_heatmap(effects: pd.DataFrame, facet_cols: Iterable[str] = (), scale_days: float | None = None) -> go.Figure:
    """Mean paired T50 delay on a dose × first-infusion-day grid, one panel per other scenario.

    Drawn even for a single dose or start day (a one-row or one-column grid). The colour scale is symmetric
    around zero, so "no modeled slowing" is the neutral colour, and fixed (±HEATMAP_SCALE_DAYS unless
    `scale_days` is given), so a colour means the same number of days in every figure; the figure says so.
    """
    facet_cols = list(facet_cols)
    title = heatmap_title(effects, facet_cols)
    if effects.empty:
        return _empty(title, "no treated runs: no paired effects to show")
    facet_cols = varying(effects, facet_cols)
    doses = [fmt_value(v) for v in sorted(effects[DOSE].dropna().unique())]
    starts = [fmt_value(v) for v in sorted(effects[START].dropna().unique())]
    panels = list(effects.groupby(facet_cols, dropna=False, sort=True)) if facet_cols else [((), effects)]
    rows, cols = _grid(len(panels))
    titles = [scenario_label(p.iloc[0], facet_cols) if facet_cols else "" for _, p in panels]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, horizontal_spacing=0.08, vertical_spacing=0.15)
    for k, (_, panel) in enumerate(panels):
        fig.add_trace(_heatmap_trace(panel, doses, starts), row=k // cols + 1, col=k % cols + 1)
    bound = float(scale_days) if scale_days else HEATMAP_SCALE_DAYS
    fig.update_layout(title=title, height=max(320, 60 * len(doses) * rows + 180),
                      coloraxis={"colorscale": "RdBu", "cmin": -bound, "cmax": bound, "cmid": 0,
                                 "colorbar": {"title": {"text": f"days<br>(fixed scale<br>±{bound:g} d;<br>beyond:<br>"
                                                                "full colour)"}}})
    fig.update_annotations(font_size=12)
    fig.update_xaxes(title_text="first infusion day", type="category")
    fig.update_yaxes(title_text="dose (cells/kg)", type="category")
    return fig


# --------------------------------------------------------------------------- survival curves
def survival_bands(timeseries: pd.DataFrame, scenario_cols: list[str], value: str = "mn_alive_fraction") -> pd.DataFrame:
    """Per scenario, arm and day: mean across seeds and the 2.5–97.5 percentile band."""
    grouped = timeseries.groupby([*scenario_cols, "arm", "day"], dropna=False, sort=True)[value]
    bands = grouped.agg(mean="mean", low=lambda s: s.quantile(0.025), high=lambda s: s.quantile(0.975), n="count")
    return bands.reset_index()


def _band_traces(band: pd.DataFrame, arm: str, show_legend: bool, hover: str = "%{y:.1%} alive") -> list[go.Scatter]:
    color = TREATED_COLOR if arm == "treated" else CONTROL_COLOR
    dash = "solid" if arm == "treated" else "dash"  # dashed on top, so an identical control stays visible
    group = f"{arm} arm"
    fill = "rgba(31,119,180,0.2)" if arm == "treated" else "rgba(102,102,102,0.2)"
    n = int(band["n"].max())
    return [
        go.Scatter(x=band["day"], y=band["high"], mode="lines", line={"width": 0}, legendgroup=group,
                   showlegend=False, hoverinfo="skip"),
        go.Scatter(x=band["day"], y=band["low"], mode="lines", line={"width": 0}, fill="tonexty", fillcolor=fill,
                   legendgroup=group, name=f"{arm}: 2.5–97.5 % of seeds", showlegend=show_legend, hoverinfo="skip"),
        go.Scatter(x=band["day"], y=band["mean"], mode="lines", line={"color": color, "width": 2, "dash": dash},
                   legendgroup=group, name=f"{arm}: mean of seeds", showlegend=show_legend,
                   hovertemplate=f"{arm}, day %{{x:g}}: {hover} (mean of {n} seeds)<extra></extra>"),
    ]


def survival_curves(timeseries: pd.DataFrame, scenario_cols: list[str], value: str = "mn_alive_fraction") -> go.Figure:
    """Motor neurons alive vs day, one panel per scenario: treated arm next to its paired control arm.

    Lines are the mean across seeds; shaded bands hold the middle 95 % of seeds; a dotted
    vertical line marks the first infusion.
    """
    title = "Motor neurons alive (fraction) per scenario: mean and 2.5–97.5 % band across seeds"
    if timeseries.empty:
        return _empty(title, "no runs")
    bands = survival_bands(timeseries, scenario_cols, value)
    label_cols = varying(bands, scenario_cols)
    panels = list(bands.groupby(scenario_cols, dropna=False, sort=True)) if scenario_cols else [((), bands)]
    rows, cols = _grid(len(panels))
    titles = [scenario_label(p.iloc[0], label_cols) for _, p in panels]
    fig = make_subplots(rows=rows, cols=cols, subplot_titles=titles, shared_yaxes=True,
                        horizontal_spacing=0.05, vertical_spacing=0.3 / rows)
    legend_done: set[str] = set()
    for k, (_, panel) in enumerate(panels):
        row, col = k // cols + 1, k % cols + 1
        for arm in ("treated", "control"):
            band = panel[panel["arm"] == arm]
            if band.empty:
                continue
            for trace in _band_traces(band, arm, arm not in legend_done):
                fig.add_trace(trace, row=row, col=col)
            legend_done.add(arm)
        if START in panel and (panel["arm"] == "treated").any():
            fig.add_vline(x=float(panel[START].iloc[0]), line_dash="dot", line_color="#999", row=row, col=col)
    fig.update_layout(title=title, height=max(350, 280 * rows), hovermode="x unified")
    fig.update_annotations(font_size=12)
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    fig.update_xaxes(title_text="day", row=rows)
    return fig


# --------------------------------------------------------------------------- per-seed effects
def _box(values: pd.Series, label: str, hover: list[str]) -> go.Box:
    return go.Box(y=values, x=[label] * len(values), name=label, boxpoints="all", jitter=0.3, pointpos=0,
                  marker={"color": TREATED_COLOR, "size": 7}, line={"color": TREATED_COLOR}, showlegend=False,
                  text=hover, hovertemplate="%{x}<br>%{text}<extra></extra>")


def effect_distribution(paired: pd.DataFrame, scenario_cols: list[str], noise_band_days: float | None = None) -> go.Figure:
    """Per-seed paired effects per scenario (box + every seed as a point): T50 delay and AUC gain.

    Censored delays (treated arm never reached 50 % loss) are lower bounds, drawn as ▲.
    With `noise_band_days`, the ± band that two untreated groups differ by through chance alone
    is shaded, so a modeled effect inside it is visibly inside it.
    """
    title = "Paired effects per seed (treated − control, same seed)"
    if paired.empty:
        return _empty(title, "no treated runs: no paired effects to show")
    label_cols = varying(paired, scenario_cols)
    frame = paired.assign(label=_labels(paired, label_cols))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.08,
                        subplot_titles=("T50 delay (days; ▲ = censored, at least this much)",
                                        "gain in area under the survival curve (days)"))
    for label, group in frame.groupby("label", sort=False):
        delays, gains = group["t50_delay_value_days"], group["auc_gain_days"]
        delay_text = [f"seed {s}: {'≥ ' if c else ''}{v:+.2f} d" for s, c, v in zip(group["seed"], group["t50_delay_censored"], delays)]
        gain_text = [f"seed {s}: {v:+.2f} d" for s, v in zip(group["seed"], gains)]
        fig.add_trace(_box(delays, label, delay_text), row=1, col=1)
        fig.add_trace(_box(gains, label, gain_text), row=2, col=1)
    censored = frame[frame["t50_delay_censored"]]
    if not censored.empty:
        fig.add_trace(go.Scatter(x=censored["label"], y=censored["t50_delay_value_days"], mode="markers",
                                 marker={"symbol": "triangle-up", "size": 11, "color": "#d62728"},
                                 name="censored (lower bound)", hoverinfo="skip"), row=1, col=1)
    if noise_band_days:
        note = f"±{noise_band_days:g} d: chance difference between two untreated groups of 24 animals"
        fig.add_hrect(y0=-noise_band_days, y1=noise_band_days, fillcolor="grey", opacity=0.12, line_width=0,
                      annotation_text=note, annotation_position="top left", row=1, col=1)
    for row in (1, 2):
        fig.add_hline(y=0, line_dash="dot", line_color="black", row=row, col=1)
    fig.update_layout(title=title, height=650, showlegend=not censored.empty)
    fig.update_yaxes(zeroline=True)
    return fig


# =========================================================================== one run (dashboard and alsim-report)
# The functions below draw one paired run from its run folder's tables (`timeseries.parquet`,
# `snapshots/agents.parquet`, `snapshots/fields.npz`). Treated is solid blue, control dashed grey
# and drawn last, so when the arms are identical (a null effect) both stay visible as one line.
ARMS = ("treated", "control")
ARM_DASH = {"treated": "solid", "control": "dash"}
ARM_COLOR = {"treated": TREATED_COLOR, "control": CONTROL_COLOR}
FIELD_LABELS = {"tnf": "TNF-α", "il1b": "IL-1β", "il10": "IL-10", "tgfb": "TGF-β (active)", "bdnf": "BDNF",
                "gdnf": "GDNF", "ros": "ROS (H₂O₂)", "glutamate": "glutamate", "damage": "damage/chemokine signal"}
MICROGLIA_STATES = ("surveillant", "pro_inflammatory", "protective")
STATE_COLORS = {"surveillant": "#9e9e9e", "pro_inflammatory": "#d62728", "protective": "#17becf"}
MSC_COMPARTMENTS = ("blood", "lung", "csf", "tissue", "cleared")
MSC_COLORS = {"blood": "#d62728", "lung": "#ff7f0e", "csf": "#1f77b4", "tissue": "#2ca02c", "cleared": "#bdbdbd"}


def field_label(name: str) -> str:
    return FIELD_LABELS.get(name, name)


def _arms(ts: pd.DataFrame) -> list[str]:
    """The arms present, treated first (so control is drawn on top)."""
    present = set(ts["arm"].astype(str)) if "arm" in ts else set()
    return [a for a in ARMS if a in present]


def _arm_line(ts: pd.DataFrame, arm: str, column: str, name: str, hover: str, show_legend: bool = True,
              color: str | None = None, dash: str | None = None) -> go.Scatter:
    rows = ts[ts["arm"] == arm]
    return go.Scatter(x=rows["day"], y=rows[column], mode="lines", name=name, legendgroup=name,
                      showlegend=show_legend,
                      line={"color": color or ARM_COLOR[arm], "dash": dash or ARM_DASH[arm], "width": 2},
                      hovertemplate=f"{name}, day %{{x:g}}: {hover}<extra></extra>")


def mark_infusions(fig: go.Figure, infusion_days: Iterable[float], rows: int = 1, cols: int = 1) -> go.Figure:
    """Dotted vertical lines on every panel at the infusion days (the first one labelled)."""
    for k, day in enumerate(infusion_days):
        for r in range(1, rows + 1):
            for c in range(1, cols + 1):
                label = {"annotation_text": "infusion", "annotation_position": "top left",
                         "annotation_font_color": "#ff7f0e"} if k == 0 and r == 1 and c == 1 else {}
                fig.add_vline(x=float(day), line_dash="dot", line_color="#ff7f0e", line_width=1.5, row=r, col=c, **label)
    return fig


def has_further_regions(ts: pd.DataFrame) -> bool:
    """Whether a run simulated body regions beyond the onset region's patch (sim/spread.py)."""
    return "person_functional_index" in ts and not np.array_equal(ts["person_functional_index"], ts["functional_index"])


def survival_and_function(ts: pd.DataFrame, infusion_days: Iterable[float] = ()) -> go.Figure:
    """Surviving motor neurons (fraction) and functional index vs day, both arms in each panel.

    The panels show the simulated patch (with regional spread: the onset region); the whole person's
    functional index is added as dotted lines when the run had further regions."""
    title = "Motor neurons: survival and function, treated vs control arm (same seed)"
    if ts.empty:
        return _empty(title, "no run yet")
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=("surviving motor neurons (fraction of start)",
                                        "functional index (muscle fibres driven, fraction)"))
    regional = has_further_regions(ts)
    for arm in _arms(ts):
        fig.add_trace(_arm_line(ts, arm, "mn_alive_fraction", f"{arm} arm", "%{y:.1%} alive"), row=1, col=1)
        fig.add_trace(_arm_line(ts, arm, "functional_index", f"{arm} arm", "%{y:.2f}", show_legend=False), row=1, col=2)
        if regional:  # the person (mean over body regions) next to the onset region's patch
            fig.add_trace(_arm_line(ts, arm, "person_functional_index", f"{arm} arm, whole person (all regions)", "%{y:.2f}",
                                    dash="dot"), row=1, col=2)
    mark_infusions(fig, infusion_days, cols=2)
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%", col=1)
    fig.update_yaxes(range=[0, 1.05], col=2)
    fig.update_xaxes(title_text="day")
    fig.update_layout(title=title, height=380, hovermode="x unified", legend={"orientation": "h", "y": -0.2})
    return fig


def microglia_curves(ts: pd.DataFrame, infusion_days: Iterable[float] = ()) -> go.Figure:
    """Microglia per state vs day: colour is the state, line style the arm."""
    title = "Microglia by state (cells in the patch)"
    if ts.empty:
        return _empty(title, "no run yet")
    fig = go.Figure()
    for arm in _arms(ts):
        for state in MICROGLIA_STATES:
            fig.add_trace(_arm_line(ts, arm, f"microglia_{state}", f"{state.replace('_', '-')}, {arm}", "%{y:d} cells",
                                    color=STATE_COLORS[state]))
    mark_infusions(fig, infusion_days)
    fig.update_layout(title=title, height=400, xaxis_title="day", yaxis_title="cells",
                      legend={"title": {"text": "dashed = control arm"}, "orientation": "h", "y": -0.2})
    return fig


def treg_curves(ts: pd.DataFrame, infusion_days: Iterable[float] = ()) -> go.Figure:
    """Tregs in the patch (cells) and the systemic Treg level (relative to the preset's reference)."""
    title = "Regulatory T cells"
    if ts.empty:
        return _empty(title, "no run yet")
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.1,
                        subplot_titles=("Tregs in the patch (cells)", "systemic Treg level (1 = untreated reference)"))
    for arm in _arms(ts):
        fig.add_trace(_arm_line(ts, arm, "tregs", f"{arm} arm", "%{y:d} cells"), row=1, col=1)
        fig.add_trace(_arm_line(ts, arm, "treg_systemic", f"{arm} arm", "%{y:.2f}", show_legend=False), row=1, col=2)
    mark_infusions(fig, infusion_days, cols=2)
    fig.update_xaxes(title_text="day")
    fig.update_layout(title=title, height=340, hovermode="x unified")
    return fig


def field_mean_curves(ts: pd.DataFrame, field_names: Iterable[str], field_units: Iterable[str],
                      infusion_days: Iterable[float] = ()) -> go.Figure:
    """Patch-mean concentration of every field vs day, one small panel per field."""
    title = "Mean concentration of each diffusing field over the patch"
    names, units = list(field_names), list(field_units)
    if ts.empty or not names:
        return _empty(title, "no run yet")
    rows, cols = _grid(len(names))
    fig = make_subplots(rows=rows, cols=cols, vertical_spacing=0.12, horizontal_spacing=0.08,
                        subplot_titles=[f"{field_label(n)} ({u})" for n, u in zip(names, units)])
    for k, (name, unit) in enumerate(zip(names, units)):
        for arm in _arms(ts):
            fig.add_trace(_arm_line(ts, arm, f"mean_{name}", f"{arm} arm", f"%{{y:.3g}} {unit}", show_legend=k == 0),
                          row=k // cols + 1, col=k % cols + 1)
    mark_infusions(fig, infusion_days, rows=rows, cols=cols)
    fig.update_annotations(font_size=12)
    fig.update_layout(title=title, height=240 * rows + 80)
    return fig


def msc_journey(ts: pd.DataFrame, infusion_days: Iterable[float] = ()) -> go.Figure:
    """Where the infused MSCs are over time in the treated arm: blood → lung (IV) or CSF (intrathecal) → tissue → cleared.

    Left: every infused cell, stacked by compartment (the stack reaches the cells infused so far).
    Right: the cells that reached the tissue patch, on their own axis, because they are a tiny fraction
    (after IV infusion often zero) and would be invisible in the stack.
    """
    title = "MSC journey in the treated arm (cells)"
    treated = ts[ts["arm"] == "treated"] if "arm" in ts else ts
    if treated.empty or treated["msc_infused"].max() <= 0:
        return _empty(title, "no MSCs infused in this run (control only, or a dose of 0): nothing to follow")
    fig = make_subplots(rows=1, cols=2, column_widths=[0.62, 0.38], horizontal_spacing=0.1,
                        subplot_titles=("all infused cells by compartment (stacked)", "cells in the tissue patch"))
    for comp in ("blood", "lung", "csf", "cleared"):
        if f"msc_{comp}" not in treated:  # the CSF column exists only in intrathecal runs
            continue
        fig.add_trace(go.Scatter(x=treated["day"], y=treated[f"msc_{comp}"], mode="lines", stackgroup="msc", name=comp,
                                 line={"color": MSC_COLORS[comp], "width": 0.5},
                                 hovertemplate=f"{comp}, day %{{x:g}}: %{{y:.3g}} cells<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=treated["day"], y=treated["msc_infused"], mode="lines", name="infused so far",
                             line={"color": "black", "dash": "dot", "width": 1},
                             hovertemplate="infused so far, day %{x:g}: %{y:.3g} cells<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(x=treated["day"], y=treated["msc_tissue"], mode="lines", name="tissue (patch)",
                             line={"color": MSC_COLORS["tissue"], "width": 2},
                             hovertemplate="in the patch, day %{x:g}: %{y:d} cells<extra></extra>"), row=1, col=2)
    mark_infusions(fig, infusion_days, cols=2)
    fig.update_yaxes(rangemode="tozero", col=2)
    fig.update_xaxes(title_text="day")
    fig.update_layout(title=title, height=360, hovermode="x unified")
    return fig


# --------------------------------------------------------------------------- tissue map
# One trace per agent category and arm, always in this order (empty when absent), so the
# traces of every day line up and can be swapped by a slider or animation frames.
AGENT_LAYERS = (
    ("motor neuron, alive", "motor_neuron", "alive", {"symbol": "triangle-up", "size": 13, "color": "#2ca02c"}),
    ("motor neuron, dead", "motor_neuron", "dead", {"symbol": "x", "size": 10, "color": "#000000"}),
    ("microglia, surveillant", "microglia", "surveillant", {"symbol": "circle", "size": 6, "color": STATE_COLORS["surveillant"]}),
    ("microglia, pro-inflammatory", "microglia", "pro_inflammatory",
     {"symbol": "circle", "size": 8, "color": STATE_COLORS["pro_inflammatory"]}),
    ("microglia, protective", "microglia", "protective", {"symbol": "circle", "size": 8, "color": STATE_COLORS["protective"]}),
    ("Treg", "treg", None, {"symbol": "diamond", "size": 9, "color": "#9467bd"}),
    ("MSC in the tissue", "msc", "tissue", {"symbol": "star", "size": 14, "color": "#ff7f0e"}),
)


def _layer_rows(agents: pd.DataFrame, kind: str, state: str | None) -> pd.DataFrame:
    rows = agents[agents["type"] == kind]
    return rows if state is None else rows[rows["state"] == state]


def _arm_title(arm: str, day: float, agents: pd.DataFrame) -> str:
    alive = len(_layer_rows(agents, "motor_neuron", "alive"))
    total = len(agents[agents["type"] == "motor_neuron"])
    msc = agents[agents["type"] == "msc"]
    outside = ", ".join(f"{msc.loc[msc['state'] == c, 'value'].sum():.2g} in {c}" for c in ("blood", "lung", "csf")
                        if (msc["state"] == c).any())
    text = (f"{arm} arm, day {day:g}: {alive}/{total} motor neurons alive, {len(_layer_rows(agents, 'treg', None))} Tregs, "
            f"{len(_layer_rows(agents, 'msc', 'tissue'))} MSCs in the patch")
    return text + (f"<br>MSCs outside the patch: {outside} cells" if outside else "")


def _tissue_traces(field: np.ndarray, agents: pd.DataFrame, voxel_um: float, label: str, unit: str,
                   show_legend: bool) -> list:
    ny, nx = field.shape
    traces: list = [go.Heatmap(z=field, x=(np.arange(nx) + 0.5) * voxel_um, y=(np.arange(ny) + 0.5) * voxel_um,
                               coloraxis="coloraxis", name=label,
                               hovertemplate=f"x %{{x:.0f}} µm, y %{{y:.0f}} µm<br>{label}: %{{z:.3g}} {unit}<extra></extra>")]
    for name, kind, state, marker in AGENT_LAYERS:
        rows = _layer_rows(agents, kind, state)
        # an absent category keeps a placeholder point, so the legend always shows the full key
        x, y = (rows["x"], rows["y"]) if len(rows) else ([None], [None])
        traces.append(go.Scatter(
            x=x, y=y, mode="markers", name=name, legendgroup=name, showlegend=show_legend,
            marker={**marker, "line": {"width": 1, "color": "white" if kind != "motor_neuron" else "black"}},
            hovertemplate=f"{name}<br>x %{{x:.0f}} µm, y %{{y:.0f}} µm<extra></extra>"))
    return traces


def tissue_map(fields: dict[str, np.ndarray], agents: pd.DataFrame, day: float, field_name: str, unit: str,
               voxel_um: float, zmax: float | None = None) -> go.Figure:
    """The tissue patch on one snapshot day: a field as a heatmap with the agents on top, one panel per arm.

    fields: arm -> 2-D array (y, x) of the chosen field on that day; agents: that day's rows of
    `snapshots/agents.parquet` (both arms). zmax fixes the colour scale (e.g. the field's maximum
    over all days and arms) so colours compare across days; by default it is this day's maximum.
    """
    label = field_label(field_name)
    arms = [a for a in ("control", "treated") if a in fields]
    if not arms:
        return _empty(f"Tissue: {label}", "no snapshots")
    top = zmax if zmax is not None else max(float(np.nanmax(fields[a])) for a in arms)
    titles = [_arm_title(a, day, agents[agents["arm"] == a]) for a in arms]
    fig = make_subplots(rows=1, cols=len(arms), subplot_titles=titles, horizontal_spacing=0.06)
    for k, arm in enumerate(arms):
        for trace in _tissue_traces(fields[arm], agents[agents["arm"] == arm], voxel_um, label, unit, k == 0):
            fig.add_trace(trace, row=1, col=k + 1)
        ny, nx = fields[arm].shape
        fig.update_xaxes(range=[0, nx * voxel_um], title_text="x (µm)", constrain="domain", row=1, col=k + 1)
        fig.update_yaxes(range=[0, ny * voxel_um], scaleanchor=f"x{k + 1 if k else ''}", scaleratio=1,
                         constrain="domain", row=1, col=k + 1)
    fig.update_yaxes(title_text="y (µm)", col=1)
    fig.update_annotations(font_size=11)
    fig.update_layout(title=f"Tissue patch, day {day:g}: {label} ({unit}) with the cells on top", height=520,
                      coloraxis={"colorscale": "YlGnBu", "cmin": 0.0, "cmax": top if top > 0 else 1.0,
                                 "colorbar": {"title": {"text": unit}, "x": 1.02}},
                      legend={"orientation": "h", "y": -0.15}, margin={"t": 110})
    return fig


def tissue_animation(fields: dict[str, np.ndarray], days: dict[str, np.ndarray], agents: pd.DataFrame,
                     field_name: str, unit: str, voxel_um: float) -> go.Figure:
    """`tissue_map` for every snapshot day as animation frames, with Plotly's own slider and play button.

    fields: arm -> array (snapshot, y, x) of one field; days: arm -> snapshot days. Used by the
    static report, where no server can redraw the map.
    """
    arms = [a for a in ("control", "treated") if a in fields]
    if not arms:
        return _empty(f"Tissue: {field_label(field_name)}", "no snapshots")
    all_days = [float(d) for d in days[arms[0]]]
    zmax = max(float(np.nanmax(fields[a])) for a in arms)

    def frame_figure(k: int) -> go.Figure:
        day = all_days[k]
        return tissue_map({a: fields[a][k] for a in arms}, agents[np.isclose(agents["day"], day)], day, field_name,
                          unit, voxel_um, zmax)

    fig = frame_figure(0)
    frames = []
    for k, day in enumerate(all_days):
        f = frame_figure(k)
        frames.append(go.Frame(name=f"{day:g}", data=f.data,
                               layout={"title": f.layout.title, "annotations": f.layout.annotations}))
    fig.frames = frames
    fig.update_layout(
        updatemenus=[{"type": "buttons", "showactive": False, "x": 0, "y": -0.32, "xanchor": "left",
                      "buttons": [{"label": "▶ play", "method": "animate",
                                   "args": [None, {"frame": {"duration": 700, "redraw": True}, "fromcurrent": True}]},
                                  {"label": "⏸ pause", "method": "animate",
                                   "args": [[None], {"frame": {"duration": 0, "redraw": False}, "mode": "immediate"}]}]}],
        sliders=[{"active": 0, "x": 0.12, "y": -0.3, "len": 0.88, "currentvalue": {"prefix": "day "},
                  "steps": [{"method": "animate", "label": f"{d:g}",
                             "args": [[f"{d:g}"], {"frame": {"duration": 0, "redraw": True}, "mode": "immediate"}]}
                            for d in all_days]}],
        height=640, margin={"b": 170})
    return fig


# --------------------------------------------------------------------------- one scenario of a sweep
def scheduled_days(row: pd.Series | dict, horizon: float) -> list[float]:
    """Infusion days of a scenario row (start_day + offsets_days for an irregular course, else start_day, n_infusions,
    interval_days), up to the horizon."""
    if START not in row or pd.isna(row[START]) or float(row.get(DOSE, 1) or 0) <= 0:
        return []
    offsets = row.get("offsets_days")  # runs.parquet: space-separated days, absent or NA for a regular course
    days = schedule(float(row[START]), int(row.get("n_infusions", 1) or 0), float(row.get("interval_days", 0) or 0),
                    offsets.split() if isinstance(offsets, str) else ())
    return [d for d in days if d < horizon]


def scenario_bands(timeseries: pd.DataFrame, title: str = "") -> go.Figure:
    """Survival and functional index of one scenario across its seeds: mean and 2.5–97.5 % band per arm."""
    title = title or "Selected scenario: mean and 2.5–97.5 % band across seeds"
    if timeseries.empty:
        return _empty(title, "no runs for this scenario")
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.08,
                        subplot_titles=("surviving motor neurons (fraction)", "functional index"))
    for col, value, hover in ((1, "mn_alive_fraction", "%{y:.1%} alive"), (2, "functional_index", "%{y:.2f}")):
        bands = survival_bands(timeseries, [], value)
        for arm in ARMS:
            band = bands[bands["arm"] == arm]
            if not band.empty:
                for trace in _band_traces(band, arm, col == 1, hover):
                    fig.add_trace(trace, row=1, col=col)
    if (timeseries["arm"] == "treated").any():
        mark_infusions(fig, scheduled_days(timeseries.iloc[0], float(timeseries["day"].max())), cols=2)
    fig.update_yaxes(range=[0, 1.05])
    fig.update_yaxes(tickformat=".0%", col=1)
    fig.update_xaxes(title_text="day")
    fig.update_layout(title=title, height=400, hovermode="x unified", legend={"orientation": "h", "y": -0.2})
    return fig


def message_figure(message: str, title: str = "") -> go.Figure:
    """An empty figure that says why there is nothing to draw (no run yet, a refused request)."""
    return _empty(title, message)
