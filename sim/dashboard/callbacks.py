"""What the page does: start and poll runs, draw a finished run, animate the tissue, explore a sweep.

Every input is checked here, on the server, whatever the page allowed: first against the
dashboard's own bounds (`layout.INPUTS`), then by composing the config exactly as `alsim` does
(`sim.presets.compose_config`). A problem becomes one line in the page, never an exception.
"""
from __future__ import annotations

import math
import reprlib
import threading
from pathlib import Path

import pandas as pd

from dash import Dash, Input, Output, State, ctx, no_update

from sim import figures, manifest
from sim.presets import compose_config, group_options
from sim.config import ConfigError
from sim.dashboard import sweeps
from sim.dashboard.data import RunData, RunFolderError, load_run_folder
from sim.dashboard.layout import INPUTS
from sim.dashboard.runs import Busy, RunManager
from sim.experiments import compare
from sim.experiments.collect import CompareError
from sim.run import summary_table

# Hydra's compose API keeps global state; two tabs pressing Run at once must not interleave it.
COMPOSE_LOCK = threading.Lock()
SLIDER_LABELS = 8
INTEGER_INPUTS = ("n-infusions", "seed")


class InputError(ValueError):
    """An input outside the dashboard's bounds (one line, shown in the page)."""


# --------------------------------------------------------------------------- inputs → config
def _checked(id_: str, value: object) -> float | int:
    label, unit, _note, lo, hi, _step, _default = INPUTS[id_]
    # the range test also refuses NaN and ±inf, and never converts a huge integer to float (OverflowError)
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and lo <= value <= hi
    if ok and id_ in INTEGER_INPUTS and value != int(value):
        ok = False
    if not ok:
        # the page sends nothing (None) for a number outside the field's min/max
        problem = "empty or outside the allowed range" if value is None else f"{reprlib.repr(value)} is not allowed"
        raise InputError(f"{label}: {problem}; enter a number from {lo:g} to {hi:g} ({unit})")
    return int(value) if id_ in INTEGER_INPUTS else float(value)


def overrides_from_inputs(disease: object, dose: object, start_day: object, n_infusions: object, interval: object,
                          seed: object) -> list[str]:
    """Hydra overrides for the inputs, or InputError naming the first bad one."""
    if disease not in group_options("disease"):
        raise InputError(f"disease preset: {disease!r} is not one of {', '.join(group_options('disease'))}")
    values = {i: _checked(i, v) for i, v in zip(INPUTS, (dose, start_day, n_infusions, interval, seed))}
    return ["domain=quick", f"disease={disease}", "treatment=iv_msc",
            f"treatment.dose_cells_per_kg={values['dose']!r}", f"treatment.start_day={values['start-day']!r}",
            f"treatment.n_infusions={values['n-infusions']}", f"treatment.interval_days={values['interval']!r}",
            f"seed={values['seed']}"]


PAGE_KEYS = ("domain", "disease", "treatment", "treatment.dose_cells_per_kg", "treatment.start_day",
             "treatment.n_infusions", "treatment.interval_days", "seed")


def check_run_overrides(extra: list[str]) -> list[str]:
    """Overrides the server adds to every run (`alsim-dashboard --override`), checked once at start-up:
    the keys the page sets are refused, and the rest must compose as `alsim` would compose them."""
    for ov in extra:
        key = ov.lstrip("+~").partition("=")[0]
        if key in PAGE_KEYS:
            raise ConfigError(f"{ov}: {key} is set in the page, not with --override")
    validated_config(["domain=quick", "treatment=none", *extra])  # the page sets the treatment
    return list(extra)


def validated_config(overrides: list[str]):
    """Compose and validate as the CLI does; ConfigError carries the one-line reason."""
    with COMPOSE_LOCK:
        return compose_config(overrides)


# --------------------------------------------------------------------------- what a tab shows
def _slider(days: list[float]) -> tuple[int, dict]:
    step = max(1, math.ceil(len(days) / SLIDER_LABELS))
    marks = {i: f"day {d:g}" if i == 0 else f"{d:g}" for i, d in enumerate(days) if i % step == 0 or i == len(days) - 1}
    return len(days) - 1, marks


def _summary_text(data: RunData, origin: str) -> str:
    lines = [summary_table(data.summary), "",
             "One seed is one virtual individual: the difference between the arms above is the modeled effect for it "
             "alone. Explore a sweep over many seeds before reading anything into a difference.", origin]
    return "\n".join(lines)


def register(app: Dash, manager: RunManager, results: Path | None, run_overrides: list[str] = ()) -> None:
    """Attach every callback to app; run_overrides (already checked) are added to every run."""

    def folder_of(shown: object, session: object) -> tuple[Path, str]:
        """The run folder a tab asks to see, checked: its own job, or a run under the results folder."""
        if isinstance(shown, dict) and "job" in shown:
            job = manager.get(session, shown["job"])  # type: ignore[arg-type]
            if job is None:
                raise RunFolderError("this run is not available in this tab (started in another tab, or too old)")
            return job.folder, "Run started in this tab."
        if isinstance(shown, dict) and "run" in shown and results is not None:
            sweep = sweeps.load_sweep(results, shown.get("sweep"))
            return sweeps.run_folder(results, sweep, shown["run"]), f"Run {shown['run']} of the sweep {shown.get('sweep')}."
        raise RunFolderError("nothing to show yet: press Run")

    def load_shown(shown: object, session: object) -> tuple[RunData, str]:
        folder, origin = folder_of(shown, session)
        data = load_run_folder(folder)
        if data.verification == manifest.UNVERIFIED:
            origin += " Unverified: this run has no manifest.json, so its files could not be checked for edits."
        return data, origin

    @app.callback(Output("job", "data"), Output("run-message", "children"), Output("poll", "disabled"),
                  Output("run-button", "disabled"), Output("shown", "data", allow_duplicate=True),
                  Output("run-status", "children", allow_duplicate=True), Output("progress", "value", allow_duplicate=True),
                  Input("run-button", "n_clicks"),
                  State("session", "data"), State("disease", "value"), State("dose", "value"), State("start-day", "value"),
                  State("n-infusions", "value"), State("interval", "value"), State("seed", "value"),
                  prevent_initial_call=True)
    def start_run(_clicks, session, disease, dose, start_day, n_infusions, interval, seed):
        try:
            overrides = [*overrides_from_inputs(disease, dose, start_day, n_infusions, interval, seed), *run_overrides]
            cfg = validated_config(overrides)
            job = manager.submit(session, cfg, overrides)
        except (InputError, ConfigError, Busy) as exc:
            # the previous run's summary, curves and "done in …" would read as the result of these inputs: clear them
            return no_update, f"Not run: {exc}", no_update, no_update, None, "no result for these inputs", 0
        return {"job": job.id}, "", False, True, no_update, no_update, no_update

    @app.callback(Output("progress", "value"), Output("run-status", "children"), Output("poll", "disabled", allow_duplicate=True),
                  Output("shown", "data"), Output("run-button", "disabled", allow_duplicate=True),
                  Output("run-message", "children", allow_duplicate=True),
                  Input("poll", "n_intervals"), State("job", "data"), State("session", "data"),
                  prevent_initial_call=True)
    def poll(_n, job_ref, session):
        job = manager.get(session, (job_ref or {}).get("job")) if isinstance(job_ref, dict) else None
        if job is None:
            return 0, "no run", True, no_update, False, no_update
        status = manager.status(job)
        if status.state == "running" or status.state == "queued":
            return status.fraction, status.message, False, no_update, True, no_update
        if status.state == "failed":
            return 0, "failed", True, no_update, False, status.message
        return 1, f"done in {job.elapsed:.1f} s", True, {"job": job.id}, False, ""

    @app.callback(Output("summary", "children"), Output("graph-survival", "figure"), Output("graph-msc", "figure"),
                  Output("graph-microglia", "figure"), Output("graph-tregs", "figure"), Output("graph-fields", "figure"),
                  Output("day-slider", "max"), Output("day-slider", "marks"), Output("day-slider", "value"),
                  Input("shown", "data"), State("session", "data"), prevent_initial_call=True)
    def draw_run(shown, session):
        try:
            data, origin = load_shown(shown, session)
        except (RunFolderError, sweeps.PathRefused, CompareError) as exc:
            empty = figures.message_figure(str(exc))
            return str(exc), empty, empty, empty, empty, empty, 1, {}, 0
        figs = data.curve_figures()
        top, marks = _slider(data.days)
        return (_summary_text(data, origin), figs["survival"], figs["msc"], figs["microglia"], figs["tregs"],
                figs["fields"], top, marks, 0)

    @app.callback(Output("graph-tissue", "figure"), Input("day-slider", "value"), Input("field", "value"),
                  Input("shown", "data"), State("session", "data"), prevent_initial_call=True)
    def draw_tissue(k, field_name, shown, session):
        try:
            data, _ = load_shown(shown, session)
        except (RunFolderError, sweeps.PathRefused, CompareError) as exc:
            return figures.message_figure(str(exc))
        return data.tissue_figure(str(field_name), k if isinstance(k, int) else 0)

    @app.callback(Output("anim", "disabled"), Output("play", "children"),
                  Output("day-slider", "value", allow_duplicate=True),
                  Input("play", "n_clicks"), Input("anim", "n_intervals"),
                  State("anim", "disabled"), State("day-slider", "value"), State("day-slider", "max"),
                  prevent_initial_call=True)
    def animate(_clicks, _ticks, stopped, value, top):
        value = value if isinstance(value, int) else 0
        top = top if isinstance(top, int) else 0
        if ctx.triggered_id == "play":
            if stopped:  # start playing, from the first day if at the last
                return False, "⏸ Pause", 0 if value >= top else no_update
            return True, "▶ Play", no_update
        if value >= top:
            return True, "▶ Play", no_update
        return no_update, no_update, value + 1

    if results is not None:
        register_sweep(app, results)


def register_sweep(app: Dash, results: Path) -> None:
    """Callbacks of the sweep view; every path they are given is checked against the results root."""

    def load(relative: object) -> sweeps.Sweep:
        return sweeps.load_sweep(results, relative)

    @app.callback(Output("graph-heatmap", "figure"), Output("sweep-message", "children"), Output("sweep-info", "children"),
                  Input("sweep-path", "value"))
    def show_sweep(relative):
        try:
            sweep = load(relative)
        except (sweeps.PathRefused, CompareError) as exc:
            return figures.message_figure(str(exc)), str(exc), ""
        except Exception as exc:  # an unreadable file must not take the page down
            text = f"cannot read this sweep: {type(exc).__name__}: {str(exc)[:200]}"
            return figures.message_figure(text), text, ""
        info = f"{len(sweep.runs)} runs, {len(sweep.effects)} treated scenario(s); {sweep.source}." + sweep_notes(sweep)
        return sweep.heatmap(), "", info

    @app.callback(Output("graph-scenario", "figure"), Output("scenario-text", "children"),
                  Output("scenario-run", "options"), Output("scenario-run", "value"),
                  Input("graph-heatmap", "clickData"), State("sweep-path", "value"), prevent_initial_call=True)
    def show_scenario(click, relative):
        try:
            sweep = load(relative)
        except (sweeps.PathRefused, CompareError) as exc:
            return figures.message_figure(str(exc)), str(exc), [], None
        scenario = sweeps.clicked_scenario(sweep, click)
        if scenario is None:
            return figures.message_figure("that cell holds no scenario"), "That cell holds no scenario.", [], None
        row, ts, runs = sweeps.scenario_rows(sweep, scenario)
        label = figures.scenario_label(scenario, list(scenario))
        seeds = sorted(runs["seed"].astype(int).tolist())
        fig = figures.scenario_bands(ts, f"{label}: mean and 2.5–97.5 % band across {len(seeds)} seed(s)")
        options = [{"label": f"seed {int(r.seed)}", "value": str(r.run_id)} for r in runs.sort_values("seed").itertuples()]
        return fig, scenario_text(label, row), options, options[0]["value"] if options else None

    @app.callback(Output("shown", "data", allow_duplicate=True), Output("tabs", "value"),
                  Input("open-run", "n_clicks"), State("sweep-path", "value"), State("scenario-run", "value"),
                  prevent_initial_call=True)
    def open_run(_clicks, relative, run_id):
        if not run_id:
            return no_update, no_update
        return {"sweep": relative, "run": run_id}, "run"


def sweep_notes(sweep: sweeps.Sweep) -> str:
    """The sweep's clock(s) and how many seeds were not eligible (past end stage before the first infusion, or onset
    past the eligibility window before it)."""
    clocks = sorted(map(str, sweep.runs["clock"].dropna().unique())) if "clock" in sweep.runs else []
    text = f" Days on the clock: {'; '.join(clocks)}." if clocks else ""
    n = int(sweep.effects["n_not_eligible"].fillna(0).sum()) if "n_not_eligible" in sweep.effects else 0
    window = int(sweep.effects["n_not_eligible_onset_window"].fillna(0).sum()) \
        if "n_not_eligible_onset_window" in sweep.effects else 0
    if n:
        text += f" {n} seed(s) not eligible ({_why_not_eligible(n - window, window)}), left out of the delays."
    return text


def scenario_text(label: str, row) -> str:
    """One scenario's paired effect in words; a null reads as plainly as a delay."""
    if row is None:
        return f"{label}: no treated runs, so no paired effect."
    ci = ("n/a (one seed)" if math.isnan(row["t50_delay_ci_low_days"])
          else f"[{row['t50_delay_ci_low_days']:+.2f}, {row['t50_delay_ci_high_days']:+.2f}] d")
    mean = "n/a" if math.isnan(row["t50_delay_mean_days"]) else f"{'≥ ' if row['n_censored'] > 0 else ''}{row['t50_delay_mean_days']:+.2f} d"
    return (f"{label}: mean paired T50 delay {mean}, 95 % CI {ci}, over {int(row['n_seeds'])} seed(s) "
            f"({int(row['n_censored'])} censored{_not_eligible(row)}). Reading: {row['reading']}.{_uncertainty(row)}")


def _uncertainty(row) -> str:
    """The scenario's posterior runs in words (alsim-compare's columns), or '' for a scenario without them."""
    if not hasattr(row, "get") or pd.isna(row.get("uncertainty_median_delay_days", math.nan)):
        return ""
    return (f" Over posterior draws × individuals: end-stage delay median [2.5–97.5 %] "
            f"{compare.median_interval_text(row)} d; dominant source of spread: {compare.dominant_text(row)}.")


def _not_eligible(row) -> str:
    """`, 3 not eligible`: seeds past end stage before the first infusion, or with their onset past the eligibility
    window before it (sim.eligibility), left out of the statistics."""
    n = row.get("n_not_eligible", 0) if hasattr(row, "get") else 0
    if not n or pd.isna(n):
        return ""
    window = row.get("n_not_eligible_onset_window", 0)
    window = 0 if window is None or pd.isna(window) else int(window)
    return f", {int(n)} not eligible ({_why_not_eligible(int(n) - window, window)}; left out)"


def _why_not_eligible(end_stage: int, window: int) -> str:
    """The reasons, as sim.eligibility judges them: `end stage before the first infusion` and/or the onset window."""
    if not window:
        return "end stage before the first infusion"
    if not end_stage:
        return "onset past the eligibility window"
    return f"{end_stage} end stage before the first infusion, {window} onset past the eligibility window"
