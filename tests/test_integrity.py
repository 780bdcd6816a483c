"""Run manifests: edited, non-finite, truncated and conflicting results are caught wherever runs are read.

Every test damages a copy of one real run folder (the session's `short_run`) the way an attacker
or an accident would, then reads it with alsim-compare, alsim-report or the dashboard's reader.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import reseal
from sim import manifest, report
from sim.dashboard.data import RunFolderError, load_run_folder


def _copy(short_run: Path, dest: Path, config_hash: str | None = None) -> Path:
    run = shutil.copytree(short_run, dest)
    if config_hash is not None:  # a distinct run (another seed, say), resealed as alsim would have written it
        s = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        s["config_hash"] = config_hash
        (run / "summary.json").write_text(json.dumps(s, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        reseal(run)
    return run


def _edit_delay(run: Path, text: str) -> None:
    """Edit effect.t50_delay_days in place, as a person with a text editor would (no new manifest)."""
    path = run / "summary.json"
    s = json.loads(path.read_text(encoding="utf-8"))
    s["effect"]["t50_delay_days"] = "@@"
    path.write_text(json.dumps(s, indent=2, sort_keys=True).replace('"@@"', text) + "\n", encoding="utf-8")


def _runs_used(out: Path) -> list[str]:
    return sorted(Path(p).name for p in pd.read_parquet(out / "dataset" / "runs.parquet")["run_dir"])


def test_a_fresh_run_verifies(short_run):
    assert manifest.verify(short_run) == manifest.Check(manifest.VERIFIED)
    listed = json.loads((short_run / "manifest.json").read_text())["files"]
    assert set(listed) == {"timeseries.parquet", "snapshots/agents.parquet", "snapshots/fields.npz", "summary.json"}


@pytest.mark.parametrize("damage, reason", [
    (lambda run: _edit_delay(run, "50"), "summary.json has"),
    (lambda run: _edit_delay(run, "NaN"), "non-finite"),
    (lambda run: _edit_delay(run, "Infinity"), "non-finite"),
    (lambda run: (run / "timeseries.parquet").write_bytes((run / "timeseries.parquet").read_bytes()[:-100]),
     "timeseries.parquet has"),
    (lambda run: (run / "snapshots" / "fields.npz").write_bytes(b"PK" + (run / "snapshots" / "fields.npz").read_bytes()[2:-1] + b"x"),
     "snapshots/fields.npz differs"),
], ids=["edited_number", "nan", "infinity", "truncated_parquet", "same_size_edit"])
def test_compare_leaves_out_a_corrupt_run_and_says_which(short_run, tmp_path, compare_cli, damage, reason):
    root = tmp_path / "runs"
    _copy(short_run, root / "good", "hash-good")
    bad = _copy(short_run, root / "bad", "hash-bad")
    damage(bad)
    code, out, err = compare_cli([root, "--out", tmp_path / "out"])
    assert code == 0, err
    assert any(ln.startswith(f"alsim-compare: skipped: {bad}: corrupt: ") and reason in ln for ln in err.splitlines()), err
    assert "1 run(s) left out as corrupt" in out and str(bad) in out
    assert "left out as corrupt" in (tmp_path / "out" / "report.html").read_text(encoding="utf-8")
    assert _runs_used(tmp_path / "out") == ["good"]


def test_nan_in_a_run_without_manifest_is_still_caught(short_run, tmp_path, compare_cli):
    root = tmp_path / "runs"
    _copy(short_run, root / "good", "hash-good")
    bad = _copy(short_run, root / "bad", "hash-bad")
    (bad / "manifest.json").unlink()
    _edit_delay(bad, "NaN")
    code, out, err = compare_cli([root, "--out", tmp_path / "out"])
    assert code == 0 and "non-finite" in err and _runs_used(tmp_path / "out") == ["good"]


def test_conflicting_copies_of_one_configuration_are_both_reported(short_run, tmp_path, compare_cli):
    root = tmp_path / "runs"
    _copy(short_run, root / "other", "hash-other")
    real = _copy(short_run, root / "real")
    copy = _copy(short_run, root / "copy")
    _edit_delay(copy, "50")
    reseal(copy)  # a consistent folder on its own: only the comparison with its twin reveals it
    code, out, err = compare_cli([root, "--out", tmp_path / "out"])
    assert code == 0, err
    for run in (real, copy):
        assert any(ln.startswith(f"alsim-compare: skipped: {run}: conflict: ") for ln in err.splitlines()), err
    assert "2 run(s) left out as conflicting" in out
    assert _runs_used(tmp_path / "out") == ["other"]


def test_identical_copies_are_still_counted_once(short_run, tmp_path, compare_cli):
    root = tmp_path / "runs"
    _copy(short_run, root / "a")
    _copy(short_run, root / "b")
    code, out, err = compare_cli([root, "--out", tmp_path / "out"])
    assert code == 0 and "conflict" not in err and "counted once" in err
    assert _runs_used(tmp_path / "out") == ["a"]


def test_a_run_without_manifest_is_used_but_marked_unverified(short_run, tmp_path, compare_cli):
    root = tmp_path / "runs"
    old = _copy(short_run, root / "old")
    (old / "manifest.json").unlink()
    code, out, err = compare_cli([root, "--out", tmp_path / "out"])
    assert code == 0, err
    assert f"1 run(s) are unverified (no manifest.json, their files cannot be checked): {old}" in err
    runs = pd.read_parquet(tmp_path / "out" / "dataset" / "runs.parquet")
    assert runs["verified"].tolist() == [False]


def test_report_refuses_an_edited_run(short_run, tmp_path, capsys):
    bad = _copy(short_run, tmp_path / "bad")
    _edit_delay(bad, "50")
    with pytest.raises(SystemExit) as exc:
        report.main([str(bad), "--out", str(tmp_path / "r.html")])
    assert exc.value.code == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("alsim-report: error: bad: corrupt run, not shown (summary.json has") and "\n" not in err
    assert not (tmp_path / "r.html").exists()


def test_report_marks_a_run_without_manifest(short_run, tmp_path):
    old = _copy(short_run, tmp_path / "old")
    (old / "manifest.json").unlink()
    report.main([str(old), "--out", str(tmp_path / "r.html")])
    assert report.UNVERIFIED_TEXT in (tmp_path / "r.html").read_text(encoding="utf-8")


def test_dashboard_reader_refuses_an_edited_or_truncated_run(short_run, tmp_path):
    edited = _copy(short_run, tmp_path / "edited")
    _edit_delay(edited, "50")  # still valid JSON: only the manifest tells
    with pytest.raises(RunFolderError, match="corrupt run, not shown"):
        load_run_folder(edited)
    truncated = _copy(short_run, tmp_path / "truncated")
    data = (truncated / "snapshots" / "agents.parquet").read_bytes()
    (truncated / "snapshots" / "agents.parquet").write_bytes(data[: len(data) // 2])
    with pytest.raises(RunFolderError, match="^truncated: cannot read the run folder"):
        load_run_folder(truncated)
