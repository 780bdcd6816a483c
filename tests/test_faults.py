"""Faults: killed runs, corrupted result files, full or unwritable disks, NaN in a field; provenance.

What must hold: a run killed at any moment (SIGKILL, no clean-up possible) leaves no file a collector
reads as a result, and `alsim-compare` lists such a folder as incomplete; corrupted files are skipped with
their reason, never a crash; a write that fails (disk full, no permission) ends with one line and a
non-zero exit, leaves no part of a result, and loses nothing written before; a field that becomes NaN
stops the run with one line naming the field and the step. Extreme but valid parameters keep every field
finite and non-negative.
"""
from __future__ import annotations

import errno
import json
import os
import platform
import re
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
import pytest

from conftest import reseal
import scipy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import sim
from sim import recorder
from sim.cli import check_run_dir
from sim.presets import compose_config
from sim.config import ConfigError
from sim.experiments import compare
from sim.fields import FIELD_NAMES
from sim.cohort import Cohort
from sim.model import NumericalError
from sim.run import config_hash, run_arm, simulate, summarize

from conftest import SHORT_RUN

ALSIM = Path(sys.executable).parent / "alsim"
RESULT_FILES = ("summary.json", "timeseries.parquet", "snapshots/agents.parquet", "snapshots/fields.npz")
TINY = ["domain=quick", "disease.horizon_days=40", "treatment.start_day=35"]
TIMEOUT_S = 300

# `alsim` with one function patched, as a real process: the fault happens inside the real command line.
PATCHED_ALSIM = textwrap.dedent("""
    import errno, os, sys, time
    import numpy as np
    import sim.recorder as recorder
    from sim.model import ALSModel
    fault = os.environ["ALSIM_TEST_FAULT"]
    if fault == "hang_before_summary":  # stop after the other result files, before summary.json
        write = recorder.write_text_atomic
        def slow(path, text):
            if path.name == "summary.json":
                open(os.environ["ALSIM_TEST_MARK"], "w").close()
                time.sleep(600)
            write(path, text)
        recorder.write_text_atomic = slow
    elif fault == "disk_full":  # the third result file hits a full disk
        def full(path, *args, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        recorder._write_fields_npz = full
    elif fault == "nan":  # a secretion term becomes NaN in the TNF field at step 5
        from sim.cohort import Cohort
        sources = Cohort.sources
        def nan_sources(self):
            src = sources(self)
            if self.step_now == 5:
                src[0, 0, 3, 4] = np.nan
            return src
        Cohort.sources = nan_sources
    from sim.cli import main
    sys.argv = ["alsim", *sys.argv[1:]]
    main()
""")


def result_files(folder: Path) -> list[str]:
    return sorted(rel for rel in RESULT_FILES if (folder / rel).exists())


def tree_bytes(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}



class Process:
    """A command started in its own process group (so a kill reaches its worker processes too)."""

    def __init__(self, args: list[str], cwd: Path, env: dict[str, str] | None = None):
        cwd.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen([str(a) for a in args], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, encoding="utf-8", start_new_session=True, env={**os.environ, **(env or {})})

    def result(self) -> subprocess.CompletedProcess:
        out, err = self.proc.communicate(timeout=TIMEOUT_S)
        return subprocess.CompletedProcess(self.proc.args, self.proc.returncode, out, err)

    def kill_when(self, ready, what: str) -> None:
        """SIGKILL the whole command (no clean-up can run) as soon as `ready()` is true."""
        deadline = time.monotonic() + TIMEOUT_S
        while not ready():
            assert self.proc.poll() is None, f"alsim ended before {what}: {self.proc.communicate()[1][-2000:]}"
            assert time.monotonic() < deadline, f"alsim never reached {what}"
            time.sleep(0.02)
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.communicate()
        assert self.proc.returncode == -signal.SIGKILL

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.communicate()


@pytest.fixture(scope="module")
def faults(tmp_path_factory, short_run):
    """Every faulty `alsim` process of this module, started together; the two kills happen here.

    Layout: base/earlier/run (a finished run, copied in beforehand), base/killed_sim/run (killed while its
    arms were simulating), base/killed_write/run (killed after writing all but summary.json), base/disk_full/run,
    base/nan/run.
    """
    base = tmp_path_factory.mktemp("faults")
    shutil.copytree(short_run, base / "earlier" / "run")
    mark = base / "killed_write.mark"
    procs = {
        # the standard domain over the whole mouse course: seconds of simulation, time enough to kill it mid-way
        "killed_sim": Process([ALSIM, f"hydra.run.dir={base / 'killed_sim' / 'run'}"], base / "killed_sim"),
        "killed_write": Process([sys.executable, "-c", PATCHED_ALSIM, *TINY, f"hydra.run.dir={base / 'killed_write' / 'run'}"],
                                base / "killed_write", {"ALSIM_TEST_FAULT": "hang_before_summary", "ALSIM_TEST_MARK": str(mark)}),
        "disk_full": Process([sys.executable, "-c", PATCHED_ALSIM, *TINY, f"hydra.run.dir={base / 'disk_full' / 'run'}"],
                             base / "disk_full", {"ALSIM_TEST_FAULT": "disk_full"}),
        "nan": Process([sys.executable, "-c", PATCHED_ALSIM, "domain=quick", "treatment=none", "disease.horizon_days=40",
                        f"hydra.run.dir={base / 'nan' / 'run'}"], base / "nan", {"ALSIM_TEST_FAULT": "nan"}),
    }
    try:
        spool = base / "killed_sim" / "run" / "snapshots"
        procs["killed_sim"].kill_when(lambda: spool.is_dir() and any(spool.glob(".spool.tmp-*/*.f32")), "the snapshot spool")
        procs["killed_write"].kill_when(mark.exists, "writing summary.json")
        yield base, {name: p.result() if name in ("disk_full", "nan") else None for name, p in procs.items()}
    finally:
        for p in procs.values():
            p.stop()


# =========================================================================== killed runs
def test_a_run_killed_while_simulating_leaves_no_result(faults):
    base, _ = faults
    run = base / "killed_sim" / "run"
    assert (run / ".hydra" / "config.yaml").is_file()  # it had started
    assert result_files(run) == []


def test_a_run_killed_while_writing_leaves_no_summary(faults):
    base, _ = faults
    run = base / "killed_write" / "run"
    assert "timeseries.parquet" in result_files(run)  # killed between result files …
    assert not (run / "summary.json").exists()  # … so the folder is not a result


def test_compare_lists_killed_and_failed_runs_and_uses_the_finished_one(faults, tmp_path, compare_cli):
    base, _ = faults
    code, out, err = compare_cli([base, "--out", tmp_path / "cmp"])
    assert code == 0, err
    assert "Traceback" not in err
    lines = err.splitlines()
    for name in ("killed_sim", "killed_write"):
        assert f"alsim-compare: skipped: {base / name / 'run'}: no summary.json (incomplete: still running, interrupted " \
               "or never started)" in lines, err
    assert any(ln.startswith(f"alsim-compare: skipped: failed run {base / 'disk_full' / 'run'}: OSError:")
               and "No space left on device" in ln for ln in lines), err
    assert any(ln.startswith(f"alsim-compare: skipped: failed run {base / 'nan' / 'run'}: NumericalError: field 'tnf'")
               for ln in lines), err
    runs = pd.read_parquet(tmp_path / "cmp" / "dataset" / "runs.parquet")
    assert list(runs["run_dir"]) == [str((base / "earlier" / "run").resolve())]
    assert "1 run(s) collected" in out


def test_compare_refuses_when_only_killed_runs_exist(faults, tmp_path, compare_cli):
    base, _ = faults
    root = tmp_path / "only_killed"
    for name in ("killed_sim", "killed_write"):
        shutil.copytree(base / name, root / name)
    before = tree_bytes(root)
    code, out, err = compare_cli([root])
    assert code == 2 and out == ""
    assert err.splitlines() == [f"alsim-compare: error: no complete runs found under {root} (2 incomplete or failed folder(s) skipped)"]
    assert tree_bytes(root) == before


# =========================================================================== disk full, unwritable
def test_disk_full_gives_one_line_no_partial_result_and_keeps_earlier_runs(faults, short_run):
    base, results = faults
    r = results["disk_full"]
    assert r.returncode == 1, r.stderr[-2000:]
    lines = r.stderr.splitlines()
    assert lines == [f"alsim: error: could not write the run folder {base / 'disk_full' / 'run'}: No space left on device; "
                     "no result was written"], r.stderr
    run = base / "disk_full" / "run"
    assert result_files(run) == []  # timeseries.parquet and agents.parquet were written, then removed again
    assert not [p for p in run.rglob("*") if ".tmp-" in p.name]
    assert "No space left on device" in json.loads((run / "failure.json").read_text(encoding="utf-8"))["error"]
    assert tree_bytes(base / "earlier" / "run") == tree_bytes(short_run)


def test_writer_is_all_or_nothing(tmp_path, monkeypatch):
    """In-process: whichever file fails, no result file stays, and a sibling run folder is untouched."""
    cfg = compose_config(["domain=quick", "disease.start_day=80", "disease.horizon_days=82", "treatment.start_day=81"])
    records = simulate(cfg)
    summary = summarize(cfg, records)
    recorder.write_run_folder(tmp_path / "earlier", records, summary, cfg.domain.voxel_um)
    earlier = tree_bytes(tmp_path / "earlier")

    for victim in ("_write_agents_parquet", "_write_fields_npz", "write_text_atomic"):
        original = getattr(recorder, victim)

        def full(*args, _victim=victim, **kwargs):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

        monkeypatch.setattr(recorder, victim, full)
        with pytest.raises(OSError, match="No space left on device"):
            recorder.write_run_folder(tmp_path / victim, records, summary, cfg.domain.voxel_um)
        assert result_files(tmp_path / victim) == [], victim
        monkeypatch.setattr(recorder, victim, original)
    assert tree_bytes(tmp_path / "earlier") == earlier and result_files(tmp_path / "earlier") == sorted(RESULT_FILES)
    # an old summary.json in the folder goes first: it would no longer describe the new files next to it
    monkeypatch.setattr(recorder, "_write_fields_npz", lambda *a, **k: (_ for _ in ()).throw(OSError(errno.ENOSPC, "full")))
    with pytest.raises(OSError):
        recorder.write_run_folder(tmp_path / "earlier", records, summary, cfg.domain.voxel_um)
    assert result_files(tmp_path / "earlier") == []


def test_an_unwritable_output_folder_is_refused_before_anything_is_written(tmp_path):
    """With permissions if they apply (not as root), else a path no one can create folders in (/proc)."""
    locked = tmp_path / "locked"
    locked.mkdir()
    if os.geteuid() != 0:
        locked.chmod(0o500)
        target, where = locked / "run", locked
    else:  # root ignores permission bits: /proc refuses new folders to everyone
        target, where = Path("/proc") / f"alsim-test-{os.getpid()}" / "run", Path("/proc")
    try:
        with pytest.raises(ConfigError) as info:
            check_run_dir(target)
    finally:
        locked.chmod(0o700)
    message = str(info.value)
    assert message.startswith(f"hydra.run.dir={target} is invalid: cannot create a folder in {where} (")
    assert "\n" not in message and not target.exists() and list(locked.iterdir()) == []


def test_compare_on_a_full_disk_keeps_the_earlier_comparison(short_run, tmp_path, monkeypatch, compare_cli):
    runs = tmp_path / "runs"
    shutil.copytree(short_run, runs / "run")
    code, _, err = compare_cli([runs])
    assert code == 0, err
    before = tree_bytes(runs)
    original = compare.write_text_atomic

    def full(path, text):
        if path.name == "report.html":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        original(path, text)

    monkeypatch.setattr(compare, "write_text_atomic", full)
    code, out, err = compare_cli([runs, "--seed", "5"])
    assert code == 1
    assert err.splitlines()[-1] == f"alsim-compare: error: could not write into {runs}: No space left on device; nothing was written"
    assert "Traceback" not in err and len([ln for ln in err.splitlines() if "error" in ln]) == 1
    assert tree_bytes(runs) == before  # the earlier dataset, effects.csv and report.html are the same bytes; no staging left


# =========================================================================== corrupted files
def _json_edit(change):
    def edit(run: Path) -> None:
        s = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        change(s)
        (run / "summary.json").write_text(json.dumps(s), encoding="utf-8")
    return edit


def _ts_edit(change):
    def edit(run: Path) -> None:
        ts = pd.read_parquet(run / "timeseries.parquet")
        change(ts).to_parquet(run / "timeseries.parquet", index=False)
    return edit


def _write(rel: str, data: bytes):
    def edit(run: Path) -> None:
        target = run / rel
        if target.is_dir():
            shutil.rmtree(target)
        target.unlink(missing_ok=True)
        target.write_bytes(data)
    return edit


def _truncate(rel: str, keep: float):
    def edit(run: Path) -> None:
        data = (run / rel).read_bytes()
        (run / rel).write_bytes(data[: int(len(data) * keep)])
    return edit


def _as_folder(rel: str):
    def edit(run: Path) -> None:
        (run / rel).unlink()
        (run / rel).mkdir()
    return edit


CORRUPTIONS = {
    # name: (how the run folder is damaged, what the skip line must say)
    "summary_truncated": (_truncate("summary.json", 0.5), "summary.json is not valid JSON (truncated?"),
    "summary_empty": (_write("summary.json", b""), "summary.json is not valid JSON"),
    "summary_binary": (_write("summary.json", b"\xff\xfe\x00\x81garbage"), "summary.json cannot be read (UnicodeDecodeError)"),
    "summary_not_object": (_write("summary.json", b"[1, 2, 3]"), "summary.json is not a JSON object"),
    "summary_folder": (_as_folder("summary.json"), "no summary.json"),
    "seed_text": (_json_edit(lambda s: s.update(seed="abc")), "unexpected layout (TypeError: seed is str"),
    "dose_list": (_json_edit(lambda s: s["treatment"].update(dose_cells_per_kg=[1, 2])),
                  "treatment.dose_cells_per_kg is list [1, 2], expected a number"),
    "t50_text": (_json_edit(lambda s: s["arms"]["control"].update(t50_days="12")), "arms.control.t50_days is str"),
    "t50_bool": (_json_edit(lambda s: s["arms"]["treated"].update(auc_alive_days=True)), "arms.treated.auc_alive_days is bool"),
    "arm_not_object": (_json_edit(lambda s: s["arms"].update(treated=[1])), "unexpected layout (AttributeError"),
    "version_number": (_json_edit(lambda s: s.update(version=0.1)), "version is float 0.1, expected str"),
    "no_notice": (_json_edit(lambda s: s.pop("non_clinical")), "lacks non_clinical: true"),
    "timeseries_truncated": (_truncate("timeseries.parquet", 0.4), "timeseries.parquet cannot be read"),
    "timeseries_empty": (_write("timeseries.parquet", b""), "timeseries.parquet cannot be read"),
    "timeseries_text": (_write("timeseries.parquet", b"arm,day\ncontrol,1\n"), "timeseries.parquet cannot be read"),
    "timeseries_folder": (_as_folder("timeseries.parquet"), "timeseries.parquet"),
    "timeseries_day_text": (_ts_edit(lambda ts: ts.assign(day=ts["day"].astype(str))), "timeseries.parquet column day is"),
    "timeseries_no_alive": (_ts_edit(lambda ts: ts.drop(columns="mn_alive_fraction")), "lacks the arm, day and mn_alive_fraction"),
}


def test_corrupted_results_are_skipped_with_their_reason(short_run, tmp_path, compare_cli):
    root = tmp_path / "runs"
    shutil.copytree(short_run, root / "intact")
    for k, (damage, _) in enumerate(CORRUPTIONS.values()):
        run = shutil.copytree(short_run, root / f"{k:02d}")
        s = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        s["config_hash"] = f"copy-{k}"  # a distinct run, so it is not dropped as a duplicate of `intact`
        (run / "summary.json").write_text(json.dumps(s), encoding="utf-8")
        (run / "manifest.json").unlink()  # as written before manifests: the reader's own checks must catch each
        damage(run)
    code, out, err = compare_cli([root, "--out", tmp_path / "out"])
    assert code == 0, err
    assert "Traceback" not in err
    lines = err.splitlines()
    for k, (name, (_, reason)) in enumerate(CORRUPTIONS.items()):
        mine = [ln for ln in lines if ln.startswith(f"alsim-compare: skipped: {root / f'{k:02d}'}: ")]
        assert len(mine) == 1 and reason in mine[0], (name, mine, err)
    runs = pd.read_parquet(tmp_path / "out" / "dataset" / "runs.parquet")
    assert list(runs["run_dir"]) == [str((root / "intact").resolve())]


# =========================================================================== NaN
def _nan_at(monkeypatch, field: str, step: int) -> None:
    sources = Cohort.sources

    def nan_sources(self):
        src = sources(self)
        if self.step_now == step:
            src[0, FIELD_NAMES.index(field), 2, 3] = np.nan
        return src

    monkeypatch.setattr(Cohort, "sources", nan_sources)


@pytest.mark.parametrize("field, step", [("bdnf", 3), ("glutamate", 7)])
def test_nan_in_a_field_stops_the_run_naming_field_and_step(monkeypatch, field, step):
    _nan_at(monkeypatch, field, step)
    cfg = compose_config(["domain=quick", "disease.horizon_days=32", "treatment=none"])
    with pytest.raises(NumericalError) as info:
        run_arm(cfg, "control")
    day = 30 + step / 24
    assert str(info.value) == f"field '{field}' became non-finite at step {step} (day {day:.2f}) of the control arm"


def test_nan_on_the_command_line_gives_one_line_and_no_result(faults):
    base, results = faults
    r = results["nan"]
    assert r.returncode == 1, r.stderr[-2000:]
    assert r.stderr.splitlines() == ["alsim: error: the simulation stopped: field 'tnf' became non-finite at step 5 "
                                     "(day 30.21) of the control arm; no result was written"], r.stderr
    assert result_files(base / "nan" / "run") == [] and "Traceback" not in r.stderr + r.stdout


# =========================================================================== numerical health
SHORT = ["domain=quick", "disease.start_day=85", "disease.horizon_days=89", "treatment.start_day=86",
         "domain.snapshot_every_days=1"]
FIELDS = [n for n in FIELD_NAMES]
MIN_HALF_LIFE = {"ros": 1e-9, "glutamate": 1e-12}


def assert_healthy(cfg) -> None:
    """Every field frame of every snapshot and every recorded mean is finite and non-negative (treated arm: MSCs too)."""
    record = run_arm(cfg, "treated")
    frames = np.stack(record.field_frames)
    assert frames.shape[0] >= 4 and np.isfinite(frames).all() and (frames >= 0).all()
    means = pd.DataFrame(record.rows)[[f"mean_{n}" for n in FIELD_NAMES]].to_numpy()
    assert np.isfinite(means).all() and (means >= 0).all()


@pytest.mark.parametrize("overrides", [
    [f"fields.{n}_diffusion_um2_s=1e306" for n in FIELDS],  # D·κ overflows to inf: the modes flatten at once
    [f"fields.{n}_diffusion_um2_s=0" for n in FIELDS],
    [f"fields.{n}_half_life_h={MIN_HALF_LIFE.get(n, 1e-6)}" for n in FIELDS],  # the lower bounds
    [f"fields.{n}_half_life_h=1e300" for n in FIELDS],  # no decay at all
    ["treatment.dose_cells_per_kg=1e10", "treatment.n_infusions=3", "treatment.interval_days=1"],  # the top dose
    ["disease=human_sporadic", "disease.start_day=85", "treatment.dose_cells_per_kg=5e9", "disease.dt_hours=24"],
], ids=["huge_D", "zero_D", "shortest_half_lives", "endless_half_lives", "top_dose", "human_top_dose_day_steps"])
def test_fields_stay_finite_and_non_negative_at_extreme_valid_values(overrides):
    assert_healthy(compose_config([*SHORT, *overrides]))


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(st.lists(st.floats(-12, 306), min_size=len(FIELDS), max_size=len(FIELDS)),
       st.lists(st.floats(-12, 300), min_size=len(FIELDS), max_size=len(FIELDS)))
def test_fields_stay_finite_for_any_valid_diffusion_and_half_life(log_d, log_half_life):
    overrides = [f"fields.{n}_diffusion_um2_s={10.0 ** d!r}" for n, d in zip(FIELDS, log_d)]
    overrides += [f"fields.{n}_half_life_h={max(10.0 ** h, MIN_HALF_LIFE.get(n, 1e-6))!r}" for n, h in zip(FIELDS, log_half_life)]
    assert_healthy(compose_config([*SHORT, *overrides]))


# =========================================================================== provenance
def test_run_folder_records_versions_config_hash_seed_and_commit(short_run):
    s = json.loads((short_run / "summary.json").read_text(encoding="utf-8"))
    p = s["provenance"]
    assert p["alsim"] == s["version"] == sim.__version__
    assert p["python"] == platform.python_version() and p["numpy"] == np.__version__
    assert p["scipy"] == scipy.__version__ and p["mesa"] == mesa.__version__
    # the commit the run was made from (HEAD then; a commit made since does not change it), or null without git
    git = subprocess.run(["git", "cat-file", "-t", str(p["git_commit"])], cwd=Path(sim.__file__).parent,
                         capture_output=True, text=True)
    in_checkout = subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(sim.__file__).parent, capture_output=True).returncode == 0
    if in_checkout:
        assert re.fullmatch(r"[0-9a-f]{40}", p["git_commit"]) and git.stdout.strip() == "commit", p["git_commit"]
    else:
        assert p["git_commit"] is None
    assert s["seed"] == 3 and s["config_hash"] == config_hash(compose_config(SHORT_RUN))
    assert len(s["config_hash"]) == 16


def test_compare_warns_when_runs_come_from_different_commits(short_run, tmp_path, compare_cli):
    root = tmp_path / "runs"
    for k, commit in enumerate(("a" * 40, "b" * 40)):
        run = shutil.copytree(short_run, root / str(k))
        s = json.loads((run / "summary.json").read_text(encoding="utf-8"))
        s["provenance"]["git_commit"], s["config_hash"] = commit, f"hash-{k}"
        (run / "summary.json").write_text(json.dumps(s), encoding="utf-8")
        reseal(run)
    code, _, err = compare_cli([root])
    assert code == 0, err
    assert f"alsim-compare: warning: runs come from 2 git commits ({'a' * 12}, {'b' * 12}); compared anyway" in err.splitlines()
