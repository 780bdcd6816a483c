"""The page: notice banner, run controls and results, tissue view, curves, sweep view, explain panel."""
from __future__ import annotations

from dash import dcc, html

import sim
from sim import figures
from sim.presets import preset_values
from sim.dashboard import explain
from sim.dashboard.runs import new_id
from sim.fields import FIELD_SPECS

# Bounds the page offers and the server enforces (`callbacks.check_inputs`), on top of the
# model's own validation: they keep a classroom run small (a few seconds, a few MB).
INPUTS = {
    # id: (label, unit, note, min, max, step, default)
    "dose": ("dose per infusion", "cells per kg body weight", "", 0.0, 1e9, "any", 4e7),
    "start-day": ("first infusion day", "day on the preset's clock",
                  "mouse: age 30–159; human: days since onset 0–1499", 0.0, 1500.0, "any", 90.0),
    "n-infusions": ("number of infusions", "infusions", "", 0, 10, 1, 1),
    "interval": ("interval between infusions", "days", "", 1.0, 365.0, "any", 30.0),
    "seed": ("seed", "whole number", "the same seed gives the same virtual individual", 0, 1_000_000, 1, 0),
}
DISEASE_LABELS = {"sod1_g93a_mouse": "SOD1-G93A mouse (clock: age in days)",
                  "human_sporadic": "human sporadic ALS (clock: days since onset)"}
GRAPH_CONFIG = {"displaylogo": False, "responsive": True}  # fill the page's width


def notice(class_name: str = "notice", id_: str = "notice") -> html.Div:
    return html.Div(sim.NOTICE + " A teaching and research model only.",
                    id=id_, className=class_name, role="note")


def input_hint(id_: str) -> str:
    """`(cells per kg body weight, 0 – 1e+09)`: the unit and range shown under a field's label."""
    _label, unit, note, lo, hi, _step, _value = INPUTS[id_]
    return f"({unit}, {lo:g} – {hi:g}{'; ' + note if note else ''})"


def _number(id_: str) -> html.Label:
    label, _unit, _note, lo, hi, step, value = INPUTS[id_]
    return html.Label([label, html.Br(), html.Span(input_hint(id_), className="hint"),
                       dcc.Input(id=id_, type="number", min=lo, max=hi, step=step, value=value, debounce=True)])


def disease_label(preset: str, values: dict) -> str:
    """The dropdown's name for a preset, with the calibration status its yaml `values` state, so the
    page can never claim more (or less) than every run prints."""
    status = str(values.get("calibration") or "")
    if status.startswith("fitted"):
        state = "fitted to natural history"
    elif status.startswith("NOT calibrated in full"):
        state = "fitted, with known misses: not calibrated in full"
    else:
        state = "not calibrated"
    return f"{DISEASE_LABELS.get(preset, preset)}; {state}"


def controls() -> html.Div:
    options = [{"label": disease_label(name, values), "value": name} for name, values in preset_values("disease").items()]
    return html.Div(className="controls", children=[
        html.H3("Scenario"),
        html.Label(["disease preset", dcc.Dropdown(id="disease", options=options, value="sod1_g93a_mouse",
                                                   clearable=False)]),
        *[_number(i) for i in INPUTS],
        html.Button("Run", id="run-button", className="run-button", n_clicks=0),
        html.Div(id="run-message", className="message", role="alert"),
        html.Progress(id="progress", max=1, value=0),
        html.Div("no run yet", id="run-status", className="status"),
        html.P(className="hint", children=(
            "Every run simulates two arms with the same seed: control (no MSCs) and treated. Patch: 0.5 × 0.5 mm of "
            "lumbar ventral horn (domain=quick). One seed is one virtual individual.")),
    ])


def field_options() -> list[dict]:
    return [{"label": f"{s.label} ({s.unit})", "value": s.name} for s in FIELD_SPECS]


def _graph(id_: str, fig=None) -> dcc.Graph:
    return dcc.Graph(id=id_, figure=fig if fig is not None else figures.message_figure("press Run to simulate"),
                     config=GRAPH_CONFIG)


GUIDE = """**What to look at** (for teachers). One seed is one virtual individual, simulated twice: untreated
(dashed) and treated (solid). In the mouse the two motor-neuron curves often overlap: the modeled effect is
small, and a delay of 0 is a result too. Where the treatment shows:

* **Regulatory T cells**, right panel: the systemic Treg level rises in the treated arm and peaks about
  9 days after each infusion (dotted lines), then fades.
* **Microglia by state**: compare the protective and pro-inflammatory counts of the two arms after an infusion.
* **Where the infused MSCs go**: most cells stop in the lung on their first pass and die there within days; almost
  none reach the patch, so the effects act from outside the cord.
* **The summary**: the paired T50 delay in days (and, when the T50 comes before the infusion, the end-stage
  delay); then change the seed, since another individual can respond differently.
"""


def guide() -> html.Details:
    """A short, open guide beside the run: where a class should look when the neuron curves overlap."""
    return html.Details([html.Summary("What to look at"), dcc.Markdown(GUIDE)], open=True, id="guide",
                        className="guide")


def run_tab() -> html.Div:
    return html.Div(className="run-tab", children=[
        controls(),
        html.Div(className="results", children=[
            html.Div("Press Run: the summary of the run appears here.", id="summary", className="summary"),
            guide(),
            html.H3("Motor neurons: both arms"),
            _graph("graph-survival"),
            html.H3("Watch the tissue"),
            html.Div(className="tissue-controls", children=[
                html.Label(["field ", dcc.Dropdown(id="field", options=field_options(), value="tnf", clearable=False,
                                                   style={"width": "260px"})]),
                html.Button("▶ Play", id="play", className="play-button", n_clicks=0),
                html.Div(className="slider", children=dcc.Slider(id="day-slider", min=0, max=1, step=1, value=0,
                                                                 marks=None, allow_direct_input=False)),
            ]),
            _graph("graph-tissue"),
            html.H3("Where the infused MSCs go"),
            _graph("graph-msc"),
            html.H3("Immune cells and molecules"),
            _graph("graph-microglia"),
            _graph("graph-tregs"),
            _graph("graph-fields"),
        ]),
    ])


def sweep_tab(sweeps: list[str]) -> html.Div:
    options = [{"label": s if s != "." else "(the results folder itself)", "value": s} for s in sweeps]
    return html.Div(children=[
        html.P("A finished sweep: the mean paired T50 delay (treated − control, same seed) per dose and first "
               "infusion day, with its 95 % confidence interval across seeds. Click a cell to see that scenario's "
               "curves. A delay of 0 means no modeled slowing; an interval that includes 0 is read as no modeled "
               "slowing distinguishable from zero."),
        html.Label(["sweep ", dcc.Dropdown(id="sweep-path", options=options, value=sweeps[0] if sweeps else None,
                                           clearable=False)]),
        html.Div(id="sweep-message", className="message", role="alert"),
        html.Div(id="sweep-info", className="status"),
        _graph("graph-heatmap", figures.message_figure("choose a sweep")),
        html.Div("Click a cell of the heatmap.", id="scenario-text", className="sweep-text"),
        _graph("graph-scenario", figures.message_figure("click a cell of the heatmap")),
        html.Div(className="tissue-controls", children=[
            html.Label(["one seed of this scenario ", dcc.Dropdown(id="scenario-run", options=[], style={"width": "320px"})]),
            html.Button("Open it in the Run tab", id="open-run", n_clicks=0),
        ]),
    ])


def _param_table(rows: tuple[explain.ParamRow, ...]) -> html.Table:
    head = html.Tr([html.Th(h) for h in ("parameter", "default", "unit", "plausible range", "kind", "source", "meaning")])
    body = [html.Tr([html.Td(html.Code(r.key)), html.Td(r.default), html.Td(r.unit), html.Td(r.plausible), html.Td(r.kind),
                     html.Td(r.source), html.Td(r.meaning)], className="assumption" if r.assumption else None)
            for r in rows]
    return html.Table([html.Thead(head), html.Tbody(body)])


def explain_tab() -> html.Div:
    parts = [html.P("What each mechanism of the model does and where its numbers come from. The text is the model's "
                    "own documentation and the table is its parameter list (sim/config.py), so both always match the "
                    "code that runs. Each parameter is measured (a paper reports the number), derived (computed from "
                    "measured numbers or fitted to published experiments) or an assumption (a value chosen by judgement); "
                    "rows shaded yellow are assumptions. Each MSC pathway has its own section; the local ones say how "
                    "little of an IV dose reaches the patch they would act in.")]
    for s in explain.sections():
        count = f" — {len(s.params)} parameters, {s.n_assumptions} of them assumptions" if s.params else ""
        body = [dcc.Markdown(s.summary, className="explain-summary")]
        if s.details:  # the module docstrings are Markdown (`code`, *emphasis*, lists): render them, not their marks
            body.append(dcc.Markdown(s.details, className="explain-details"))
        if s.params:
            body.append(_param_table(s.params))
        parts.append(html.Details([html.Summary([html.B(s.title), count]), *body]))
    return html.Div(parts, className="explain", id="explain")


def page(sweeps: list[str] | None) -> html.Div:
    """The whole page; a function, so every page load (every tab) gets its own session id."""
    tabs = [dcc.Tab(label="Run a scenario", value="run", children=run_tab())]
    if sweeps is not None:
        tabs.append(dcc.Tab(label="Explore a sweep", value="sweep", children=sweep_tab(sweeps)))
    tabs.append(dcc.Tab(label="Explain the model", value="explain", children=explain_tab()))
    return html.Div([
        notice(),
        dcc.Store(id="session", data=new_id(), storage_type="memory"),
        dcc.Store(id="job", storage_type="memory"),
        dcc.Store(id="shown", storage_type="memory"),
        dcc.Interval(id="poll", interval=400, disabled=True),
        dcc.Interval(id="anim", interval=800, disabled=True),
        html.Div(className="page", children=[
            html.H1("alsim: ALS motor-neuron loss and IV MSC therapy, a teaching model"),
            dcc.Tabs(id="tabs", value="run", children=tabs),
            notice("footer-notice", "notice-footer"),
        ]),
    ])
