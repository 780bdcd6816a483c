"""The dashboard opens only run folders whose every file resolves inside its results root, and answers a
refused path exactly as a missing one (no existence oracle)."""
from __future__ import annotations

import os
import shutil

import pandas as pd
import pytest

from sim.dashboard import sweeps


@pytest.fixture
def layout(short_run, tmp_path):
    """results/sw/{good,linked}, a folder outside the root, and a runs table naming them (and worse)."""
    root = tmp_path / "results"
    outside = tmp_path / "outside"
    shutil.copytree(short_run, root / "sw" / "good")
    shutil.copytree(short_run, outside / "run")
    linked = shutil.copytree(short_run, root / "sw" / "linked")
    (linked / "summary.json").unlink()
    (linked / "summary.json").symlink_to(outside / "run" / "summary.json")  # content from outside the root
    secret = shutil.copytree(short_run, root / "sw" / "secret")
    (secret / "summary.json").unlink()
    (secret / "summary.json").symlink_to("/etc/shadow")  # exists, unreadable: must not answer differently
    shutil.copytree(short_run, root / "evil" / "run")  # reachable by `..` from the sweep folder
    ids = ["good", "linked", "secret", "missing", "../evil/run", "../../outside/run", "/etc"]
    runs = pd.DataFrame({"run_id": ids, "run_dir": [str(root / "sw" / i) for i in ids]})
    runs.loc[runs["run_id"] == "../evil/run", "run_dir"] = "../evil/run"  # a hand-made runs.parquet
    sweep = sweeps.Sweep(root / "sw", runs, pd.DataFrame(), pd.DataFrame(), [], "test")
    return root.resolve(), sweep


def test_a_run_inside_the_root_is_opened(layout):
    root, sweep = layout
    assert sweeps.run_folder(root, sweep, "good") == root / "sw" / "good"


@pytest.mark.parametrize("run_id", ["linked", "secret", "../evil/run", "../../outside/run", "/etc"])
def test_escapes_are_refused_with_the_message_of_a_missing_run(layout, run_id):
    root, sweep = layout
    with pytest.raises(sweeps.PathRefused) as refused:
        sweeps.run_folder(root, sweep, run_id)
    with pytest.raises(sweeps.PathRefused) as missing:
        sweeps.run_folder(root, sweep, "missing")
    assert str(refused.value) == sweeps.unavailable(run_id)
    assert str(missing.value) == sweeps.unavailable("missing")
    assert str(refused.value).replace(repr(run_id), "X") == str(missing.value).replace(repr("missing"), "X")


def test_a_symlinked_run_folder_leading_outside_is_refused(layout, tmp_path):
    root, sweep = layout
    os.symlink(tmp_path / "outside" / "run", root / "sw" / "dirlink")
    sweep.runs.loc[len(sweep.runs)] = ["dirlink", str(root / "sw" / "dirlink")]
    with pytest.raises(sweeps.PathRefused, match="not available"):
        sweeps.run_folder(root, sweep, "dirlink")


def test_a_sweep_read_from_run_folders_leaves_out_a_corrupt_run_and_says_so(short_run, tmp_path):
    import json

    root = tmp_path / "results"
    shutil.copytree(short_run, root / "sw" / "0")
    bad = shutil.copytree(short_run, root / "sw" / "1")
    s = json.loads((bad / "summary.json").read_text())
    s["config_hash"], s["effect"]["t50_delay_days"] = "another", 50.0  # edited by hand: the manifest no longer matches
    (bad / "summary.json").write_text(json.dumps(s))
    sweep = sweeps.load_sweep(root, "sw")
    assert list(sweep.runs["run_id"]) == ["0"]
    assert "1 left out as corrupt or conflicting" in sweep.source


def test_the_page_marks_a_sweep_run_without_manifest_unverified_and_refuses_an_escape(short_run, tmp_path):
    from sim.dashboard.app import create_app
    from sim.dashboard.runs import new_id
    from test_dashboard import dash_call

    root = tmp_path / "results"
    old = shutil.copytree(short_run, root / "sw" / "0")
    (old / "manifest.json").unlink()
    app = create_app(tmp_path / "work", root, max_workers=1)
    try:
        client = app.server.test_client()
        deps = client.get("/_dash-dependencies").get_json()
        resp = dash_call(client, deps, "summary.children", {"shown.data": {"sweep": "sw", "run": "0"}}, {"session.data": new_id()})
        assert "Unverified: this run has no manifest.json" in resp["summary"]["children"]
        for run_id in ("../../outside", "nope"):
            resp = dash_call(client, deps, "summary.children", {"shown.data": {"sweep": "sw", "run": run_id}},
                             {"session.data": new_id()})
            assert resp["summary"]["children"] == sweeps.unavailable(run_id)
    finally:
        app.run_manager.shutdown()
