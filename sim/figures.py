"""Plotly figures of collected runs: DataFrames in, `plotly.graph_objects.Figure` out.

The functions are pure (no file or network access, no global state), so the `alsim-compare`
report and an interactive dashboard can draw the same figures from the same tables:

* `delay_heatmap(effects, ...)`          — `effects.csv` (one row per scenario)
* `survival_curves(timeseries, ...)`     — `dataset/timeseries.parquet`
* `effect_distribution(paired, ...)`     — per-seed effects (`sim.experiments.compare.per_seed_effects`)

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


def delay_heatmap(effects: pd.DataFrame, facet_cols: Iterable[str] = (), min_range_days: float = 1.0) -> go.Figure:
    """Mean paired T50 delay on a dose × first-infusion-day grid, one panel per other scenario.

    Drawn even for a single dose or start day (a one-row or one-column grid). The colour scale
    is symmetric around zero, so "no modeled slowing" is the neutral colour, and spans at least
    ±min_range_days (e.g. the between-animal noise band), so a fraction of a day does not get
    the full colour of a large effect.
    """
    title = "Mean paired T50 delay (treated − control, days) by dose and first infusion day"
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
    bound = float(np.nanmax(np.abs(effects["t50_delay_mean_days"]))) if effects["t50_delay_mean_days"].notna().any() else 0.0
    bound = max(bound, min_range_days)
    fig.update_layout(title=title, height=max(320, 60 * len(doses) * rows + 180),
                      coloraxis={"colorscale": "RdBu", "cmin": -bound, "cmax": bound, "cmid": 0,
                                 "colorbar": {"title": {"text": "days"}}})
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


def _band_traces(band: pd.DataFrame, arm: str, show_legend: bool) -> list[go.Scatter]:
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
                   hovertemplate=f"{arm}, day %{{x:g}}: %{{y:.1%}} alive (mean of {n} seeds)<extra></extra>"),
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
