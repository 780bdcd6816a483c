"""Server side of the dashboard: input checks, run manager, results-root safety (down to HTTP), sweeps,
the generated explain panel and `alsim-report`. The browser tests are in test_dashboard_browser.py."""
from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dash.development.base_component import Component

import sim
from sim import report
from sim.presets import compose_config
from sim.config import ConfigError, SimConfig, iter_params
from sim.dashboard import explain, sweeps
from sim.dashboard.app import create_app
from sim.dashboard.callbacks import InputError, overrides_from_inputs, scenario_text, validated_config
from sim.dashboard.data import RunFolderError, load_run_folder
from sim.dashboard.runs import Busy, RunManager, new_id
from sim.dashboard.sweeps import PathRefused, safe_path

GOOD = dict(disease="sod1_g93a_mouse", dose=4e7, start_day=90, n_infusions=1, interval=30, seed=0)


# =========================================================================== inputs
def test_good_inputs_become_overrides_the_cli_accepts():
    overrides = overrides_from_inputs(*GOOD.values())
    assert "domain=quick" in overrides and "treatment.dose_cells_per_kg=40000000.0" in overrides
    cfg = validated_config(overrides)
    assert cfg.treatment.dose_cells_per_kg == 4e7 and cfg.domain.name == "quick" and cfg.seed == 0


@pytest.mark.parametrize("key, value, words", [
    ("dose", None, "dose per infusion: empty or outside the allowed range"),          # what the page sends for an out-of-range number
    ("dose", 1e12, "from 0 to 1e+09"),
    ("dose", -1.0, "dose per infusion"),
    ("dose", math.nan, "dose per infusion"),
    ("dose", math.inf, "dose per infusion"),
    ("dose", "4e7", "dose per infusion"),                   # text, not a number
    ("dose", True, "dose per infusion"),
    ("n_infusions", 1.5, "number of infusions"),
    ("n_infusions", 10_000, "number of infusions"),         # the model would accept 1000: too big for a page
    ("seed", 2**40, "seed"),
    ("interval", 0, "interval between infusions"),
    ("disease", "../../etc", "disease preset"),
])
def test_bad_inputs_are_refused_with_one_line(key, value, words):
    with pytest.raises(InputError) as info:
        overrides_from_inputs(*{**GOOD, key: value}.values())
    assert words in str(info.value) and "\n" not in str(info.value)


def test_inputs_within_page_bounds_are_still_checked_by_the_model():
    with pytest.raises(ConfigError, match=r"treatment.start_day=500 is invalid: allowed range is \[30, 160\)"):
        validated_config(overrides_from_inputs(*{**GOOD, "start_day": 500}.values()))
    with pytest.raises(ConfigError, match="n_infusions=0"):
        validated_config(overrides_from_inputs(*{**GOOD, "n_infusions": 0}.values()))


# =========================================================================== run manager
def wait_done(manager: RunManager, job, timeout: float = 60.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        status = manager.status(job)
        if status.state in ("done", "failed"):
            return status
        time.sleep(0.1)
    raise AssertionError("run did not finish")


SHORT = ["domain=quick", "disease.horizon_days=40", "treatment.start_day=35"]


def test_run_manager_writes_a_run_folder_per_session_and_keeps_tabs_apart(tmp_path):
    manager = RunManager(tmp_path, max_workers=1, max_pending=2)
    try:
        a, b = new_id(), new_id()
        job = manager.submit(a, compose_config(SHORT), SHORT)
        with pytest.raises(Busy, match="already going in this tab"):
            manager.submit(a, compose_config(SHORT), SHORT)
        other = manager.submit(b, compose_config([*SHORT, "seed=1"]), [*SHORT, "seed=1"])
        with pytest.raises(Busy, match="server is busy"):
            manager.submit(new_id(), compose_config(SHORT), SHORT)
        assert wait_done(manager, job).state == "done" and wait_done(manager, other).state == "done"
        assert manager.get(a, job.id) is job and manager.get(b, job.id) is None and manager.get(a, other.id) is None
        assert manager.get("../" + a, job.id) is None and manager.get(a, "x") is None
        assert job.folder == tmp_path / "runs" / a / job.id
        data = load_run_folder(job.folder)
        assert data.summary["seed"] == 0 and load_run_folder(other.folder).summary["seed"] == 1
        assert (job.folder / ".hydra" / "overrides.yaml").read_text().splitlines()[0] == "- domain=quick"
        assert json.loads((job.folder / "progress.json").read_text())["fraction"] == 1.0
    finally:
        manager.shutdown()


def test_run_manager_keeps_only_the_newest_runs_of_a_session(tmp_path):
    manager = RunManager(tmp_path, max_workers=1, keep_per_session=2)
    try:
        session, jobs = new_id(), []
        for seed in range(3):
            job = manager.submit(session, compose_config([*SHORT, f"seed={seed}"]), SHORT)
            wait_done(manager, job)
            jobs.append(job)
        assert manager.get(session, jobs[0].id) is None and not jobs[0].folder.exists()
        assert all(manager.get(session, j.id) is j and j.folder.exists() for j in jobs[1:])
    finally:
        manager.shutdown()


# =========================================================================== results-root safety
@pytest.fixture
def root_with_escapes(small_sweep, tmp_path) -> Path:
    """A results root with a sweep inside, a symlink out of it and a sweep folder holding one."""
    root = tmp_path / "root"
    (root / "sweeps").mkdir(parents=True)
    os.symlink(small_sweep / "compared", root / "sweeps" / "outside_link", target_is_directory=True)
    (tmp_path / "secret").mkdir()
    os.symlink(tmp_path / "secret", root / "escape", target_is_directory=True)
    inside = root / "sweeps" / "tricky"
    inside.mkdir()
    os.symlink(small_sweep / "compared" / "effects.csv", inside / "effects.csv")
    return root


def test_safe_path_refuses_everything_outside_the_root(root_with_escapes):
    root = root_with_escapes
    assert safe_path(root, ".") == root.resolve() and safe_path(root, "sweeps") == (root / "sweeps").resolve()
    assert safe_path(root, None) == root.resolve()
    for bad in ("..", "../..", "../../etc", "sweeps/../..", "/etc", str(root), "~", "escape", "sweeps/outside_link",
                "a\x00b", 7, ["x"]):
        with pytest.raises(PathRefused):
            safe_path(root, bad)
    with pytest.raises(PathRefused, match="not a folder"):
        safe_path(root, "missing")
    with pytest.raises(PathRefused, match="links outside"):
        sweeps.load_sweep(root, "sweeps/tricky")


def dash_call(client, deps: list[dict], output_contains: str, inputs: dict, state: dict | None = None) -> dict:
    """POST one callback to the running app as the page would; returns {component id: {property: value}}."""
    # the callback whose first output this is (several callbacks may also write it, with allow_duplicate)
    dep = next((d for d in deps if d["output"].lstrip(".").startswith(output_contains)), None) \
        or next(d for d in deps if output_contains in d["output"])
    out = dep["output"]
    outputs = [{"id": o.rsplit(".", 1)[0], "property": o.rsplit(".", 1)[1]} for o in out[2:-2].split("...")] \
        if out.startswith("..") else {"id": out.rsplit(".", 1)[0], "property": out.rsplit(".", 1)[1]}

    def values(specs, given):
        return [{"id": s["id"], "property": s["property"], "value": given.get(f"{s['id']}.{s['property']}")} for s in specs]

    body = {"output": out, "outputs": outputs, "inputs": values(dep["inputs"], inputs),
            "state": values(dep["state"], state or {}), "changedPropIds": list(inputs)}
    r = client.post("/_dash-update-component", json=body)
    assert r.status_code in (200, 204), r.data[:500]
    return r.get_json()["response"] if r.status_code == 200 else {}


@pytest.fixture
def app_client(root_with_escapes, small_sweep, tmp_path):
    os.symlink(small_sweep / "raw", root_with_escapes / "raw_link_out", target_is_directory=True)
    app = create_app(tmp_path / "work", root_with_escapes, max_workers=1)
    client = app.server.test_client()
    deps = client.get("/_dash-dependencies").get_json()
    yield client, deps, root_with_escapes
    app.run_manager.shutdown()


@pytest.mark.parametrize("path", ["../../etc", "/etc", "..", "escape", "sweeps/outside_link", "raw_link_out",
                                  "sweeps/tricky"])
def test_server_refuses_a_sweep_path_outside_its_root_over_http(app_client, path):
    client, deps, _ = app_client
    resp = dash_call(client, deps, "graph-heatmap.figure", {"sweep-path.value": path})
    assert "refused" in resp["sweep-message"]["children"]
    assert resp["graph-heatmap"]["figure"]["data"] == []


def test_server_refuses_a_run_path_outside_its_root_over_http(app_client):
    client, deps, _ = app_client
    session = new_id()
    for shown in ({"sweep": "../..", "run": "0"}, {"sweep": "/etc", "run": "passwd"},
                  {"sweep": ".", "run": "../../etc"}, {"job": "../" * 5}, {"job": new_id()}):
        resp = dash_call(client, deps, "summary.children", {"shown.data": shown}, {"session.data": session})
        text = resp["summary"]["children"]
        assert any(w in text for w in ("refused", "no complete runs", "not available", "no run")), text


def test_server_answers_bad_run_inputs_in_the_page_and_starts_nothing(app_client):
    client, deps, root = app_client
    session = new_id()
    state = {"session.data": session, "disease.value": "sod1_g93a_mouse", "dose.value": 1e20, "start-day.value": 90,
             "n-infusions.value": 1, "interval.value": 30, "seed.value": 0}
    resp = dash_call(client, deps, "job.data", {"run-button.n_clicks": 1}, state)
    assert resp["run-message"]["children"].startswith("Not run: dose per infusion")
    assert "job" not in resp
    # the previous result is cleared: nothing shown, no "done in …", an empty progress bar
    assert resp["shown"]["data"] is None and resp["run-status"]["children"] == "no result for these inputs"
    assert resp["progress"]["value"] == 0
    resp = dash_call(client, deps, "job.data", {"run-button.n_clicks": 2}, {**state, "dose.value": 4e7, "start-day.value": 500})
    assert "treatment.start_day=500 is invalid" in resp["run-message"]["children"]
    assert not (root.parent / "work" / "runs").exists()


def test_a_tab_cannot_poll_or_show_another_tabs_run(app_client):
    client, deps, _ = app_client
    a, b = new_id(), new_id()
    state = {"session.data": a, "disease.value": "sod1_g93a_mouse", "dose.value": 4e7, "start-day.value": 35,
             "n-infusions.value": 1, "interval.value": 30, "seed.value": 0}
    # the page's inputs do not include the horizon, so this is a full quick run; only its ownership is checked
    resp = dash_call(client, deps, "job.data", {"run-button.n_clicks": 1}, state)
    job = resp["job"]["data"]["job"]
    resp = dash_call(client, deps, "progress.value", {"poll.n_intervals": 1}, {"job.data": {"job": job}, "session.data": b})
    assert resp["run-status"]["children"] == "no run"
    resp = dash_call(client, deps, "summary.children", {"shown.data": {"job": job}}, {"session.data": b})
    assert "not available in this tab" in resp["summary"]["children"]


def test_sweep_inside_the_root_is_shown_and_clicks_map_to_scenarios(app_client, small_sweep):
    client, deps, root = app_client
    shutil.copytree(small_sweep / "compared", root / "sweeps" / "copy")
    resp = dash_call(client, deps, "graph-heatmap.figure", {"sweep-path.value": "sweeps/copy"})
    assert resp["sweep-message"]["children"] == "" and "4 runs, 2 treated scenario(s)" in resp["sweep-info"]["children"]
    heat = resp["graph-heatmap"]["figure"]["data"][0]
    assert heat["type"] == "heatmap" and heat["y"] == ["0", "4e+07"] and heat["x"] == ["80"]
    click = {"points": [{"x": "80", "y": "4e+07", "curveNumber": 0}]}
    resp = dash_call(client, deps, "graph-scenario.figure", {"graph-heatmap.clickData": click}, {"sweep-path.value": "sweeps/copy"})
    assert "4e+07 cells/kg" in resp["scenario-text"]["children"] and "over 2 seed(s)" in resp["scenario-text"]["children"]
    assert [o["label"] for o in resp["scenario-run"]["options"]] == ["seed 0", "seed 1"]
    names = {t.get("name") for t in resp["graph-scenario"]["figure"]["data"]}
    assert {"treated: mean of seeds", "control: mean of seeds"} <= names
    run_id = resp["scenario-run"]["value"]
    resp = dash_call(client, deps, "summary.children", {"shown.data": {"sweep": "sweeps/copy", "run": run_id}},
                     {"session.data": new_id()})
    assert "seed=0" in resp["summary"]["children"] and "of the sweep sweeps/copy" in resp["summary"]["children"]
    shutil.rmtree(root / "sweeps" / "copy" / run_id)  # now only runs.parquet's run_dir, outside the root, leads to it
    resp = dash_call(client, deps, "summary.children", {"shown.data": {"sweep": "sweeps/copy", "run": run_id}},
                     {"session.data": new_id()})
    assert resp["summary"]["children"] == f"run {run_id!r} is not available under the results folder"
    bad = dash_call(client, deps, "graph-scenario.figure", {"graph-heatmap.clickData": {"points": [{"x": "1", "y": "2"}]}},
                    {"sweep-path.value": "sweeps/copy"})
    assert bad["scenario-text"]["children"] == "That cell holds no scenario."


# =========================================================================== sweeps
def test_sweep_is_the_same_from_compare_output_and_from_run_folders(small_sweep):
    assert sweeps.list_sweeps(small_sweep) == ["compared", "raw"]
    compared = sweeps.load_sweep(small_sweep, "compared")
    raw = sweeps.load_sweep(small_sweep, "raw")
    assert "alsim-compare output" in compared.source and "computed from 4 run folder(s)" in raw.source
    cols = ["dose_cells_per_kg", "start_day", "n_seeds", "t50_delay_mean_days", "t50_delay_ci_low_days", "reading"]
    pd.testing.assert_frame_equal(compared.effects[cols].reset_index(drop=True), raw.effects[cols].reset_index(drop=True),
                                  check_dtype=False)
    assert compared.scenario_cols == raw.scenario_cols
    assert not (small_sweep / "raw" / "effects.csv").exists()  # the dashboard never writes into the results


def test_null_effect_reads_plainly(small_sweep):
    sweep = sweeps.load_sweep(small_sweep, "compared")
    row = sweep.effects[sweep.effects["dose_cells_per_kg"] == 4e7].iloc[0]
    null = row.copy()
    null[["t50_delay_mean_days", "t50_delay_ci_low_days", "t50_delay_ci_high_days"]] = 0.0
    null["reading"] = "no modeled slowing distinguishable from zero"
    text = scenario_text("dose 4e7", null)
    assert "+0.00 d" in text and "no modeled slowing distinguishable from zero" in text


# =========================================================================== run folder, explain, report
def test_run_folder_reader_gives_figures_and_refuses_non_runs(short_run, tmp_path):
    data = load_run_folder(short_run)
    assert data.arms == ["control", "treated"] and data.infusion_days == [35.0]
    assert data.days[0] == 30.0 and data.days[-1] == 50.0
    figs = data.curve_figures()
    assert set(figs) == {"survival", "msc", "microglia", "tregs", "fields"}
    tissue = data.tissue_figure("il10", 1)
    assert "day 37" in tissue.layout.title.text and "IL-10" in tissue.layout.title.text
    assert np.array_equal(tissue.data[0].z, data.fields["control"][1, data.field_index("il10")])
    with pytest.raises(RunFolderError, match="no summary.json"):
        load_run_folder(tmp_path)
    (tmp_path / "summary.json").write_text("{truncated", encoding="utf-8")
    with pytest.raises(RunFolderError, match="cannot read"):
        load_run_folder(tmp_path)


def test_explain_panel_is_generated_from_config_metadata_and_docstrings():
    import sim.agents.microglia
    from sim import pathways
    import sim.pk
    found = explain.sections()
    rows = {r.key: r for s in found for r in s.params}
    sections = {"domain", "disease", "neurons", "microglia", "tregs", "fields", "msc", "treatment", "manipulation"}
    expected = {k for k, _, _ in iter_params(SimConfig()) if k.split(".")[0] in sections and not k.startswith("msc.pathways.")}
    assert set(rows) == expected  # every parameter once at least; the switches are the pathway sections themselves
    for key, f, _ in iter_params(SimConfig()):
        if key in rows:
            assert rows[key].unit == f.metadata["unit"] and rows[key].source == f.metadata["source"]
            assert rows[key].meaning == f.metadata["doc"] and rows[key].kind == (f.metadata.get("kind") or f.metadata["source"])
    by_title = {s.title: s for s in found}
    assert by_title["Microglia"].summary.startswith(sim.agents.microglia.__doc__.splitlines()[0])
    assert "first-pass arrest" in by_title["MSCs: blood, lung and tissue"].details
    assert sim.pk.__doc__.splitlines()[0] in by_title["MSCs: blood, lung and tissue"].summary
    # one section per MSC pathway; a local one says how little of an IV dose reaches the patch
    for name, cls in pathways.REGISTRY.items():
        section = by_title[f"MSC pathway: {name} ({cls.route})"]
        assert {r.key for r in section.params} == set(cls.params) and cls.sources[0] in section.details
        assert ("almost nothing to act through" in section.summary) == (cls.route == pathways.LOCAL)
    assert rows["treatment.dose_cells_per_kg"].unit == "cells/kg" and rows["treatment.dose_cells_per_kg"].plausible == "1e+06 – 1e+08"
    assert by_title["Motor neurons"].n_assumptions == sum(r.assumption for r in by_title["Motor neurons"].params) > 0


def test_report_is_self_contained_with_notice_and_the_dashboard_figures(short_run, tmp_path, capsys):
    out = tmp_path / "r.html"
    r = subprocess.run([str(Path(sys.executable).parent / "alsim-report"), str(short_run), "--out", str(out),
                        "--field", "bdnf"], capture_output=True, text=True, encoding="utf-8", timeout=120)
    assert r.returncode == 0, r.stderr
    text = out.read_text(encoding="utf-8")
    assert text.count(sim.NOTICE) >= 2 and "<script src=\"http" not in text and "plotly.js" in text.lower()
    for title in ("survival and function", "MSC journey", "Microglia by state", "Regulatory T cells",
                  "Mean concentration", "BDNF (pM) with the cells on top"):
        assert title in text
    assert "Plotly.addFrames" in text  # the tissue map is animated (plotly.js is inlined compressed, see sim.page)
    # the refusals, in this process (the console script itself ran above)
    for args, words in (([str(tmp_path)], "no summary.json"), ([str(short_run), "--field", "xyz"], "--field xyz")):
        with pytest.raises(SystemExit) as info:
            report.main(args)
        assert info.value.code == 2 and words in capsys.readouterr().err


def _texts(component) -> list[str]:
    """Every string in a Dash component tree (children, labels, options)."""
    if isinstance(component, str):
        return [component]
    if isinstance(component, (list, tuple)):
        return [t for c in component for t in _texts(c)]
    if isinstance(component, dict):
        return [t for v in component.values() for t in _texts(v)]
    if isinstance(component, Component):
        props = component.to_plotly_json()["props"]
        return [t for k, v in props.items() if k not in ("id", "className", "style", "type", "value") for t in _texts(v)]
    return []


def test_page_has_the_notice_twice_and_no_advice_wording():
    from sim.dashboard import layout
    page = layout.page(["."])
    texts = _texts(page)
    assert sum(sim.NOTICE in t for t in texts) == 2  # the sticky banner and the footer
    own = [t for t in _texts([layout.controls(), layout.run_tab(), layout.sweep_tab(["."])]) if sim.NOTICE not in t]
    words = ("recommend", "optimal", "effective", "efficacy", "should")
    assert not [t for t in own if any(w in t.lower() for w in words)]


@pytest.mark.parametrize("preset", ["sod1_g93a_mouse", "human_sporadic"])
def test_the_preset_menu_states_the_calibration_status_every_run_prints(preset):
    from sim.presets import preset_values
    from sim.dashboard.layout import DISEASE_LABELS, disease_label
    status = compose_config([f"disease={preset}"]).disease.calibration
    label = disease_label(preset, preset_values("disease")[preset])
    assert label.startswith(DISEASE_LABELS[preset])
    assert ("not calibrated" in label) == status.startswith("NOT calibrated")
