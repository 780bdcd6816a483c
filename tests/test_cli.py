"""End-to-end tests of the `alsim` command line (`python -m sim` and the console script), by subprocess.

Every run happens in its own temporary working directory, so Hydra's `outputs/` folder lands there.
The runs are slow compared to the checks, so each module-scoped fixture starts its processes at once
(they run in parallel) and the tests wait for the one they read. The main run has the configuration of one job of
conftest's session sweep (default dose, seed 0), so that job, simulated in another process in a batch of four, is
the repeat its files must equal byte for byte.
"""
from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import SWEEP_BASE, SWEEP_HORIZON

import sim
from sim.fields import FIELD_NAMES
from sim.recorder import SNAPSHOT_COLUMNS

REPO = Path(__file__).resolve().parent.parent
PYTHON_M_SIM = [sys.executable, "-m", "sim"]
ALSIM_SCRIPT = Path(sys.executable).parent / "alsim"
HORIZON = SWEEP_HORIZON
START_DAY = 80
QUICK = list(SWEEP_BASE)  # domain=quick, the horizon, the first infusion on day 80
assert f"disease.horizon_days={HORIZON}" in QUICK and f"treatment.start_day={START_DAY}" in QUICK
QUICK_NX = QUICK_NY = 20  # 500 µm / 25 µm
TIMEOUT_S = 600


class Launched:
    """A CLI process started in its own directory; `.result()` waits for it."""

    def __init__(self, cwd: Path, args: list[str], command: list[str] = PYTHON_M_SIM):
        cwd.mkdir(parents=True, exist_ok=True)
        self.cwd, self.args = cwd, args
        self._proc = subprocess.Popen([*map(str, command), *args], cwd=cwd, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, text=True, encoding="utf-8")
        self._done: subprocess.CompletedProcess | None = None

    def result(self) -> subprocess.CompletedProcess:
        if self._done is None:
            try:
                out, err = self._proc.communicate(timeout=TIMEOUT_S)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                out, err = self._proc.communicate()
                pytest.fail(f"alsim {' '.join(self.args)} did not finish within {TIMEOUT_S} s")
            self._done = subprocess.CompletedProcess(self._proc.args, self._proc.returncode, out, err)
        return self._done

    def ok(self) -> subprocess.CompletedProcess:
        r = self.result()
        assert r.returncode == 0, f"alsim {' '.join(self.args)} exited {r.returncode}\n{r.stderr[-3000:]}"
        return r

    def folder(self) -> Path:
        """The single run folder (outputs/<date>/<time>/) this run wrote."""
        self.ok()
        folders = [p.parent for p in (self.cwd / "outputs").glob("*/*/.hydra")]
        assert len(folders) == 1, f"expected one run folder, found {folders}"
        return folders[0]


def all_files(root: Path) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def read_summary(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))


# =========================================================================== successful runs
@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict[str, Launched]:
    """All successful CLI runs of this module, started together."""
    base = tmp_path_factory.mktemp("cli_runs")
    launched = {
        "main": Launched(base / "main", QUICK),
        "none": Launched(base / "none", ["domain=quick", "treatment=none", "disease.horizon_days=50"]),
        "script": Launched(base / "script", ["domain=quick", "disease.horizon_days=40", "treatment.start_day=35", "seed=3"], command=[ALSIM_SCRIPT])
        if ALSIM_SCRIPT.exists() else None,
        "edge": Launched(base / "edge", ["domain=quick", "disease.horizon_days=60", "treatment.dose_cells_per_kg=0",
                                         "treatment.start_day=30", "treatment.n_infusions=1"]),
    }
    yield launched
    for run in launched.values():
        if run is not None and run._proc.poll() is None:
            run._proc.kill()
            run._proc.wait()


@pytest.fixture(scope="module")
def main_run(runs) -> Path:
    return runs["main"].folder()


def test_run_exits_zero_and_prints_notice_and_table(runs):
    r = runs["main"].ok()
    lines = r.stdout.splitlines()
    assert lines[0] == sim.NOTICE
    assert "NON-CLINICAL" in lines[0]
    from sim.presets import compose_config
    status = compose_config([]).disease.calibration  # the default mouse preset's, as its yaml states it
    assert status and f"preset calibration: {status}" in lines, r.stdout
    assert any(re.match(r"control\s+\d+\.\d\s+\d+\.\d%\s+\d\.\d\d$", ln) for ln in lines), r.stdout
    assert any(re.match(r"treated\s+(\d+\.\d|not reached)\s+\d+\.\d%\s+\d\.\d\d$", ln) for ln in lines), r.stdout
    delay = [ln for ln in lines if ln.startswith("modeled paired T50 delay")]
    assert len(delay) == 1, r.stdout
    assert "Traceback" not in r.stderr


def test_printed_delay_matches_summary(runs, main_run):
    effect = read_summary(main_run)["effect"]
    stdout = runs["main"].ok().stdout
    if effect["t50_delay_days"] is not None:
        assert f"(treated − control): {effect['t50_delay_days']:+.1f} days" in stdout
    else:
        assert "modeled paired T50 delay: " in stdout


def test_run_folder_has_every_file_and_no_leftovers(main_run, runs):
    for rel in (".hydra/config.yaml", "timeseries.parquet", "snapshots/agents.parquet", "snapshots/fields.npz", "summary.json"):
        assert (main_run / rel).is_file(), rel
    leftovers = [p for p in runs["main"].cwd.rglob("*") if ".tmp" in p.name]
    assert leftovers == []


def test_hydra_config_is_the_resolved_configuration(main_run):
    cfg = yaml.safe_load((main_run / ".hydra" / "config.yaml").read_text())
    assert cfg["domain"]["name"] == "quick"
    assert cfg["domain"]["width_um"] == 500
    assert cfg["disease"]["horizon_days"] == HORIZON
    assert cfg["treatment"]["dose_cells_per_kg"] == pytest.approx(4e7)
    assert cfg["seed"] == 0


def test_timeseries_columns_and_arms(main_run):
    ts = pd.read_parquet(main_run / "timeseries.parquet")
    expected = {"arm", "day", "mn_alive_fraction", "functional_index",
                *(f"mean_{name}" for name in FIELD_NAMES),
                "microglia_surveillant", "microglia_pro_inflammatory", "microglia_protective",
                "tregs", "msc_blood", "msc_lung", "msc_tissue", "msc_cleared"}
    assert len(FIELD_NAMES) == 9
    assert expected <= set(ts.columns), expected - set(ts.columns)
    assert set(ts["arm"]) == {"control", "treated"}
    for arm, g in ts.groupby("arm"):
        np.testing.assert_allclose(g["day"].to_numpy(), np.arange(30, HORIZON + 1), err_msg=arm)
        assert g["mn_alive_fraction"].between(0, 1).all() and g["mn_alive_fraction"].iloc[0] == 1.0
        assert g["mn_alive_fraction"].is_monotonic_decreasing
    treated = ts[ts["arm"] == "treated"]
    assert treated["msc_lung"].max() > 0 and treated["msc_cleared"].iloc[-1] > 0
    control = ts[ts["arm"] == "control"]
    assert (control[["msc_blood", "msc_lung", "msc_tissue", "msc_cleared"]] == 0).all().all()


def test_agent_snapshots(main_run):
    agents = pd.read_parquet(main_run / "snapshots" / "agents.parquet")
    assert tuple(agents.columns) == SNAPSHOT_COLUMNS
    assert set(agents["arm"]) == {"control", "treated"}
    assert {"motor_neuron", "microglia"} <= set(agents["type"])
    assert "msc" in set(agents.loc[agents["arm"] == "treated", "type"])
    assert "msc" not in set(agents.loc[agents["arm"] == "control", "type"])
    inside = agents[agents["type"] != "msc"]
    assert inside["x"].between(0, 500).all() and inside["y"].between(0, 500).all()


def test_field_snapshots(main_run):
    with np.load(main_run / "snapshots" / "fields.npz") as f:
        assert list(f["field_names"]) == list(FIELD_NAMES)
        assert float(f["voxel_um"]) == 25.0
        expected_days = [*range(30, HORIZON, 7), HORIZON]  # weekly, and the last day
        for arm in ("control", "treated"):
            arr, days = f[arm], f[f"{arm}_days"]
            assert arr.dtype == np.float32
            assert arr.shape == (len(days), 9, QUICK_NY, QUICK_NX)
            np.testing.assert_allclose(days, expected_days)
            assert np.isfinite(arr).all() and (arr >= 0).all()


def test_summary_contents(main_run):
    s = read_summary(main_run)
    assert s["non_clinical"] is True
    assert s["seed"] == 0
    assert s["version"] == sim.__version__
    assert re.fullmatch(r"[0-9a-f]{16}", s["config_hash"])
    assert set(s["arms"]) == {"control", "treated"}
    for arm in ("control", "treated"):
        o = s["arms"][arm]
        assert "t50_days" in o and 0.0 <= o["mn_alive_final"] <= 1.0
    c, t = s["arms"]["control"]["t50_days"], s["arms"]["treated"]["t50_days"]
    assert c is not None, f"the control arm should pass 50 % loss by day {HORIZON}"
    assert "t50_delay_days" in s["effect"]
    if t is not None:
        assert s["effect"]["t50_delay_days"] == pytest.approx(t - c)
    else:
        assert s["effect"]["t50_delay_days"] is None
        assert s["effect"]["t50_delay_censored_at_least_days"] == pytest.approx(HORIZON - c)
    assert s["treatment"]["infusion_days"] == [float(START_DAY)]


def test_t50_consistent_with_timeseries(main_run):
    s = read_summary(main_run)
    ts = pd.read_parquet(main_run / "timeseries.parquet")
    checked = 0
    for arm, g in ts.groupby("arm"):
        t50 = s["arms"][arm]["t50_days"]
        days, alive = g["day"].to_numpy(), g["mn_alive_fraction"].to_numpy()
        crossed = np.flatnonzero(alive <= 0.5)
        if t50 is None:
            assert len(crossed) == 0, arm
            continue
        first = crossed[0]
        assert first > 0
        assert days[first] >= t50 > days[first - 1], (arm, t50, days[first - 1], days[first])
        assert s["arms"][arm]["mn_alive_final"] == pytest.approx(alive[-1])
        checked += 1
    assert checked >= 1


def test_treatment_none_writes_only_the_control_arm(runs):
    folder = runs["none"].folder()
    s = read_summary(folder)
    assert set(s["arms"]) == {"control"}
    assert s["effect"] is None
    assert s["non_clinical"] is True
    assert set(pd.read_parquet(folder / "timeseries.parquet")["arm"]) == {"control"}
    assert set(pd.read_parquet(folder / "snapshots" / "agents.parquet")["arm"]) == {"control"}
    with np.load(folder / "snapshots" / "fields.npz") as f:
        assert "control" in f.files and "treated" not in f.files and "treated_days" not in f.files
    stdout = runs["none"].ok().stdout
    assert stdout.splitlines()[0] == sim.NOTICE
    assert "treated" not in stdout and "paired" not in stdout


@pytest.fixture(scope="module")
def repeat(cli_sweep) -> Path:
    """The session sweep's job with the main run's configuration: the same seed in another process (and a batch)."""
    (job,) = [p.parent for p in cli_sweep.glob("*/summary.json")
              if (s := read_summary(p.parent))["seed"] == 0 and s["treatment"]["dose_cells_per_kg"] == 4e7]
    return job


@pytest.mark.parametrize("rel", ["timeseries.parquet", "snapshots/agents.parquet", "snapshots/fields.npz"])
def test_same_seed_gives_byte_identical_files_across_processes(runs, repeat, rel):
    a, b = runs["main"].folder(), repeat
    assert (a / rel).read_bytes() == (b / rel).read_bytes()


def test_same_seed_gives_identical_summary_outcomes(runs, repeat):
    a, b = read_summary(runs["main"].folder()), read_summary(repeat)
    for key in ("arms", "effect", "config_hash", "seed", "treatment"):
        assert a[key] == b[key], key


def test_console_script(runs):
    assert ALSIM_SCRIPT.exists(), f"no alsim console script next to {sys.executable}"
    r = runs["script"].ok()
    assert r.stdout.splitlines()[0] == sim.NOTICE
    s = read_summary(runs["script"].folder())
    assert s["seed"] == 3 and s["days"] == [30, 40] and set(s["arms"]) == {"control", "treated"}


def test_valid_edge_values_run(runs):
    """Dose 0, first infusion on the first simulated day, a single infusion: all accepted."""
    folder = runs["edge"].folder()
    s = read_summary(folder)
    assert s["treatment"]["dose_cells_per_kg"] == 0
    assert s["treatment"]["start_day"] == 30 and s["treatment"]["n_infusions"] == 1
    assert s["treatment"]["infusion_days"] == [] and s["arms"]["treated"]["infusion_days"] == []
    ts = pd.read_parquet(folder / "timeseries.parquet")
    c = ts[ts["arm"] == "control"].drop(columns="arm").reset_index(drop=True)
    t = ts[ts["arm"] == "treated"].drop(columns="arm").reset_index(drop=True)
    assert len(c) == 31
    pd.testing.assert_frame_equal(c, t, check_exact=True)
    with np.load(folder / "snapshots" / "fields.npz") as f:
        np.testing.assert_array_equal(f["control"], f["treated"])
    assert s["effect"]["auc_gain_days"] == 0 and s["effect"]["mn_alive_final_difference"] == 0


# =========================================================================== bad input
BAD_INPUTS = {
    # id: (overrides, regex the one line must match: it names the key)
    "negative_dose": (["treatment.dose_cells_per_kg=-1"], r"treatment\.dose_cells_per_kg"),
    "nan_dose": (["treatment.dose_cells_per_kg=nan"], r"treatment\.dose_cells_per_kg"),
    "inf_dose": (["treatment.dose_cells_per_kg=inf"], r"treatment\.dose_cells_per_kg"),
    "start_beyond_horizon": (["treatment.start_day=500"], r"treatment\.start_day"),
    "start_beyond_shortened_horizon": (["treatment.start_day=140"], r"treatment\.start_day"),
    "start_before_disease_start": (["treatment.start_day=29"], r"treatment\.start_day"),
    "zero_infusions_with_dose": (["treatment.n_infusions=0"], r"treatment\.n_infusions"),
    "zero_interval": (["treatment.n_infusions=3", "treatment.interval_days=0"], r"treatment\.interval_days"),
    "unknown_group_option": (["disease=foo"], r"\bdisease\b"),
    "unknown_key": (["treatment.dose=5"], r"treatment\.dose\b"),
    "wrong_type": (["treatment.dose_cells_per_kg=abc"], r"treatment\.dose_cells_per_kg"),
    "grid_too_large": (["domain.width_um=1e6", "domain.height_um=1e6", "domain.voxel_um=1"],
                       r"domain\.(width_um|height_um|voxel_um)"),
    "unknown_root_key": (["+foo=1"], r"\bfoo\b"),
    "negative_seed": (["seed=-1"], r"\bseed\b"),
}


# The quick loop keeps one real process per kind of refusal (a value's range, a Hydra group, the memory check): every
# refusal takes the same path in `alsim` (compose, then one line and exit 2 before Hydra writes anything). The other
# cases run in the full suite; their messages are also checked in-process, quickly, in test_robustness.py.
QUICK_BAD = ("negative_dose", "unknown_group_option", "grid_too_large")


@pytest.fixture(scope="module")
def bad_runs(request, tmp_path_factory) -> dict[str, Launched]:
    base = tmp_path_factory.mktemp("cli_bad")
    selected = {item.callspec.params["case"] for item in request.session.items
                if item.module is request.module and item.originalname == "test_bad_input_is_refused_with_one_line"}
    # QUICK keeps a run short should validation ever wrongly accept the input.
    launched = {name: Launched(base / name, [*QUICK, *overrides]) for name, (overrides, _) in BAD_INPUTS.items()
                if name in selected}
    yield launched
    for run in launched.values():
        if run._proc.poll() is None:
            run._proc.kill()
            run._proc.wait()


@pytest.mark.parametrize("case", [pytest.param(c, marks=() if c in QUICK_BAD else pytest.mark.slow) for c in BAD_INPUTS])
def test_bad_input_is_refused_with_one_line(bad_runs, case):
    overrides, key = BAD_INPUTS[case]
    run = bad_runs[case]
    r = run.result()
    assert r.returncode == 2, f"{overrides}: exit {r.returncode}\n{r.stderr[-2000:]}"
    lines = r.stderr.splitlines()
    assert len(lines) == 1, f"{overrides}: expected one line on stderr, got:\n{r.stderr}"
    assert lines[0].startswith("alsim: error: ")
    assert re.search(key, lines[0]), f"{overrides}: the message does not name the key: {lines[0]}"
    assert "Traceback" not in r.stderr and "Traceback" not in r.stdout
    assert all_files(run.cwd) == [], f"{overrides}: files were written: {all_files(run.cwd)}"
    assert not (run.cwd / "outputs").exists() or not any((run.cwd / "outputs").iterdir())


# =========================================================================== docs
def test_parameter_docs_are_up_to_date():
    """docs/parameters.md and the generated table inside docs/model.md match sim/config.py."""
    r = subprocess.run([sys.executable, "-m", "sim.docs", "--check"], cwd=REPO, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "docs/parameters.md is up to date" in r.stdout and "docs/model.md is up to date" in r.stdout


def test_docs_check_fails_when_the_table_in_model_md_is_stale(tmp_path, monkeypatch):
    from sim import docs

    text = (REPO / "docs" / "model.md").read_text(encoding="utf-8")
    assert text.count(docs.BEGIN_MARK) == 1 and sim.NOTICE.split(":")[0] in text
    for name, body in {"parameters.md": docs.render(), "model.md": text.replace("| assumption |", "| sourced |", 1)}.items():
        (tmp_path / name).write_text(body, encoding="utf-8")
    monkeypatch.setattr(docs, "OUT", tmp_path / "parameters.md")
    monkeypatch.setattr(docs, "MODEL_MD", tmp_path / "model.md")
    assert docs.main(["--check"]) == 1  # stale table: fails, and --check writes nothing
    assert (tmp_path / "model.md").read_text(encoding="utf-8") != text
    assert docs.main([]) == 0 and docs.main(["--check"]) == 0  # regenerating fixes only the table
    assert (tmp_path / "model.md").read_text(encoding="utf-8") == text
