"""`+uncertainty=posterior`: the draws × individuals factorial, its variance split, its refusals, and that a run without
it (or with `+uncertainty=none`) writes exactly what it wrote before.

Simulations are short (quick domain, 6-hour steps, horizon 105 d, a large dose so draws and individuals differ); each
module fixture simulates once. The draws files are written here, values inside each key's plausible range."""
from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import sim
from sim import manifest, uncertainty
from sim.config import ConfigError
from sim.presets import compose_config
from sim.run import config_hash, run_to_folder, summary_table

KEYS = ("msc.polarization_weight", "msc.csf_entry_fraction_to_cord")
DISTINCT = [(0.5, 0.01), (2.5, 0.2), (0.1, 0.001)]
SHORT = ["domain=quick", "disease.dt_hours=6", "disease.horizon_days=105", "treatment.start_day=60",
         "treatment.dose_cells_per_kg=1e9", "domain.record_every_hours=6", "domain.snapshot_every_days=20"]
RESULT_FILES = ("timeseries.parquet", "snapshots/agents.parquet", "snapshots/fields.npz", "manifest.json", "summary.json")


def write_draws(path: Path, rows: list[tuple[float, ...]], keys: tuple[str, ...] = KEYS) -> Path:
    lines = ["# test draws", "draw," + ",".join(keys), *(f"{i}," + ",".join(map(str, r)) for i, r in enumerate(rows))]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def posterior(file: Path, draws: int, individuals: int, *extra: str) -> list[str]:
    return [*SHORT, "+uncertainty=posterior", f"uncertainty.file={file}", f"uncertainty.draws={draws}",
            f"uncertainty.individuals={individuals}", *extra]


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    base = tmp_path_factory.mktemp("draws")
    return {"distinct": write_draws(base / "distinct.csv", DISTINCT),
            "identical": write_draws(base / "identical.csv", [DISTINCT[0]] * 3)}


@pytest.fixture(scope="module")
def folders(tmp_path_factory, files) -> dict[str, Path]:
    """Run folders written by `sim.run.run_to_folder` (what `alsim` calls): posterior runs and a plain one."""
    base = tmp_path_factory.mktemp("uncertainty_runs")
    runs = {"distinct": posterior(files["distinct"], 3, 3), "identical": posterior(files["identical"], 3, 3),
            "one_individual": posterior(files["distinct"], 3, 1), "plain": SHORT}
    for name, overrides in runs.items():
        run_to_folder(compose_config(overrides), base / name, workers=1)
    return {name: base / name for name in runs}


def cells(folder: Path) -> pd.DataFrame:
    return pd.read_parquet(folder / uncertainty.CELLS_FILE)


def block(folder: Path) -> dict:
    return json.loads((folder / "summary.json").read_text(encoding="utf-8"))["uncertainty"]


# --------------------------------------------------------------------------- the factorial
def test_plan_simulates_every_draw_for_every_individual_and_each_control_once(files):
    cfg = compose_config(posterior(files["distinct"], 3, 4, "seed=10"))
    values = uncertainty.drawn_values(cfg, uncertainty.selected_draws(cfg))
    p = uncertainty.plan(cfg, values)
    assert len(p.jobs) == 2 + 3 + 3 * 4  # the paired run, 3 further controls, 3 draws × 4 individuals
    controls = [p.jobs[i] for i in p.controls]
    assert [j.arm for j in controls] == ["control"] * 4 and [j.cfg.seed for j in controls] == [10, 11, 12, 13]
    assert all(j.cfg.msc == cfg.msc for j in controls)  # no drawn value reaches a control arm
    assert [j.arm for j in p.jobs].count("control") == 4
    for draw, arms in zip(DISTINCT, p.treated):
        assert [p.jobs[k].cfg.seed for k in arms] == [10, 11, 12, 13]
        for k in arms:
            job = p.jobs[k]
            assert job.arm == "treated" and not job.snapshots
            assert (job.cfg.msc.polarization_weight, job.cfg.msc.csf_entry_fraction_to_cord) == draw
            assert job.cfg.uncertainty.mode == "none"
    assert p.jobs[p.paired[1]].cfg == cfg and p.jobs[p.paired[1]].snapshots  # the paired run at the configured values


def test_the_control_arm_does_not_depend_on_the_drawn_values(files):
    from sim.run import ArmJob, run_arms

    cfg = compose_config([*SHORT, "disease.horizon_days=70"])
    drawn = uncertainty.drawn_config(cfg, dict(zip(KEYS, DISTINCT[1])))
    plain, with_draw = run_arms([ArmJob(cfg, "control", snapshots=False), ArmJob(drawn, "control", snapshots=False)])
    assert plain.rows == with_draw.rows and np.array_equal(plain.death_days, with_draw.death_days)


def test_posterior_run_writes_one_row_per_draw_and_individual(folders):
    c = cells(folders["distinct"])
    assert len(c) == 3 * 3
    assert sorted(zip(c["draw"], c["seed"])) == [(d, s) for d in range(3) for s in range(3)]
    for d, (pw, csf) in enumerate(DISTINCT):
        rows = c[c["draw"] == d]
        assert (rows[KEYS[0]] == pw).all() and (rows[KEYS[1]] == csf).all()
    # each individual's control arm was simulated once: the same end stage under every draw
    assert (c.groupby("seed")["control_end_stage_days"].nunique(dropna=False) == 1).all()
    assert c["treated_end_stage_days"].nunique() > 1  # the draws and individuals really differ


def test_summary_block_is_the_statistics_of_the_cells(folders):
    c, b = cells(folders["distinct"]), block(folders["distinct"])
    used = uncertainty.usable(c)
    y = used[uncertainty.OUTCOME].to_numpy()
    assert b["cells"] == 9 and b["used_cells"] == len(used) >= 4
    assert b["median_days"] == pytest.approx(np.median(y))
    assert (b["low_days"], b["high_days"]) == pytest.approx(tuple(np.percentile(y, [2.5, 97.5])))
    # the two parts add up to the variance of all cells (law of total variance)
    assert b["parameter_variance"] + b["individual_variance"] == pytest.approx(np.var(y), rel=1e-9)
    per_draw = used.groupby("draw")[uncertainty.OUTCOME].mean()
    assert b["parameter_variance"] == pytest.approx(np.var(per_draw.to_numpy()), rel=1e-9)  # balanced: equal weights
    assert b["parameter_share"] + b["individual_share"] == pytest.approx(1.0)
    larger = "parameter" if b["parameter_variance"] > b["individual_variance"] else "individual"
    assert b["dominant"] == {"parameter": uncertainty.PARAMETER, "individual": uncertainty.NOISE}[larger]
    assert b["draws"] == 3 and b["individuals"] == 3 and b["seeds"] == [0, 2] and b["parameters"] == list(KEYS)


def test_identical_draws_leave_no_parameter_uncertainty(folders):
    b = block(folders["identical"])
    assert b["parameter_variance"] == 0.0 and b["parameter_share"] == 0.0
    assert b["individual_variance"] > 0 and b["dominant"] == uncertainty.NOISE


def test_one_individual_leaves_no_between_individual_noise(folders):
    b = block(folders["one_individual"])
    assert len(cells(folders["one_individual"])) == 3
    assert b["individual_variance"] == 0.0 and b["individual_share"] == 0.0
    assert b["parameter_variance"] > 0 and b["dominant"] == uncertainty.PARAMETER


def test_paired_run_of_a_posterior_folder_is_the_plain_run(folders):
    for rel in ("timeseries.parquet", "snapshots/agents.parquet", "snapshots/fields.npz"):
        assert (folders["distinct"] / rel).read_bytes() == (folders["plain"] / rel).read_bytes(), rel
    assert not (folders["plain"] / uncertainty.CELLS_FILE).exists()
    assert "uncertainty" not in json.loads((folders["plain"] / "summary.json").read_text(encoding="utf-8"))


def test_uncertainty_table_is_under_the_manifest(folders, tmp_path):
    import shutil

    folder = folders["distinct"]
    assert manifest.verify(folder).status == manifest.VERIFIED
    assert uncertainty.CELLS_FILE in json.loads((folder / "manifest.json").read_text(encoding="utf-8"))["files"]
    copy = shutil.copytree(folder, tmp_path / "copy")
    edited = cells(copy).assign(end_stage_delay_days=lambda f: f["end_stage_delay_days"] + 1)
    edited.to_parquet(copy / uncertainty.CELLS_FILE)
    assert manifest.verify(copy).status == manifest.CORRUPT


def test_summary_text_gives_median_interval_and_dominant_source(folders):
    summary = json.loads((folders["distinct"] / "summary.json").read_text(encoding="utf-8"))
    text = summary_table(summary)
    b = summary["uncertainty"]
    assert text.splitlines()[0] == sim.NOTICE
    assert f"median {b['median_days']:+.2f} days, interval [{b['low_days']:+.2f}, {b['high_days']:+.2f}]" in text
    assert f"dominant: {b['dominant']}" in text and "3 draw(s)" in text and "3 individual(s)" in text
    assert "dominant" not in summary_table(json.loads((folders["plain"] / "summary.json").read_text(encoding="utf-8")))


# --------------------------------------------------------------------------- the config hash
def test_config_hash_ignores_the_options_unless_posterior(files, tmp_path):
    cfg = compose_config(SHORT)
    other = dataclasses.replace(cfg, uncertainty=dataclasses.replace(cfg.uncertainty, draws=7, individuals=9, file="x.csv"))
    assert config_hash(other) == config_hash(cfg)
    post = compose_config(posterior(files["distinct"], 3, 3))
    assert config_hash(post) != config_hash(cfg)
    changed = write_draws(tmp_path / "changed.csv", [DISTINCT[0], DISTINCT[1], (0.6, 0.01)])
    assert config_hash(compose_config(posterior(changed, 3, 3))) != config_hash(post)  # the file's content counts
    same = write_draws(tmp_path / "same.csv", DISTINCT)
    assert config_hash(compose_config(posterior(same, 3, 3))) == config_hash(post)  # not its path


# --------------------------------------------------------------------------- refusals
def refused(overrides: list[str]) -> str:
    with pytest.raises(ConfigError) as info:
        compose_config(overrides)
    message = str(info.value)
    assert "\n" not in message and message
    return message


def test_bad_options_are_refused_in_one_line_naming_the_key(files, tmp_path):
    f = files["distinct"]
    assert refused(posterior(f, 0, 2)).startswith("uncertainty.draws=0 is invalid: allowed range is an integer in [1,")
    assert refused(posterior(f, 4, 2)) == (f"uncertainty.draws=4 is invalid: allowed range is an integer in [1, 3] "
                                           f"(the draws in {f})")
    assert refused(posterior(f, 2, 0)).startswith("uncertainty.individuals=0 is invalid")
    assert refused(posterior(tmp_path / "nope.csv", 2, 2)).startswith(f"uncertainty.file: {tmp_path / 'nope.csv'} does not exist")
    text = tmp_path / "text.csv"
    text.write_text("draw,msc.polarization_weight\n0,high\n", encoding="utf-8")
    assert "column msc.polarization_weight is not numeric" in refused(posterior(text, 1, 1))
    unknown = write_draws(tmp_path / "unknown.csv", [(0.5,)], ("msc.polarisation_weight",))
    assert refused(posterior(unknown, 1, 1)).startswith("uncertainty.file: column msc.polarisation_weight is not a known parameter")
    switch = write_draws(tmp_path / "switch.csv", [(1,)], ("msc.pathways.homing",))  # a switch is not a drawn strength
    assert refused(posterior(switch, 1, 1)).startswith("uncertainty.file: column msc.pathways.homing is not a known parameter")
    outside = write_draws(tmp_path / "outside.csv", [(0.5, 2.0)])  # above the hard bound 1 of a fraction
    assert refused(posterior(outside, 1, 1)).startswith("uncertainty.file: draw 0 is not a valid configuration: "
                                                        "msc.csf_entry_fraction_to_cord=2.0 is invalid")
    assert refused([*posterior(f, 2, 2), "treatment=none"]).startswith("uncertainty.mode=posterior is invalid with "
                                                                      "treatment.enabled=false")
    assert refused([*posterior(f, 2, 2), "run.batch_size=2"]).startswith("run.batch_size=2 is invalid with "
                                                                        "uncertainty.mode=posterior")
    assert refused([*SHORT, "uncertainty=posterior"]) == ("uncertainty=posterior is invalid: the group is added with a "
                                                          "plus, +uncertainty=posterior")
    assert refused([*SHORT, "uncertainty.mode=both"]).startswith("uncertainty.mode='both' is invalid: allowed values "
                                                                  "are none, posterior")


# --------------------------------------------------------------------------- the command line
def alsim(cwd: Path, args: list[str]) -> subprocess.Popen:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, "-m", "sim", *map(str, args)], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, encoding="utf-8")


@pytest.fixture(scope="module")
def cli(tmp_path_factory, files) -> dict[str, tuple[Path, subprocess.CompletedProcess]]:
    """`alsim` runs of this module, started together."""
    base = tmp_path_factory.mktemp("uncertainty_cli")
    f = files["distinct"]
    short = [*SHORT, "disease.horizon_days=70"]
    args = {"zero_draws": posterior(f, 0, 2), "too_many_draws": posterior(f, 4, 2),
            "missing_file": posterior(base / "absent.csv", 2, 2),
            "plain": short, "none": [*short, "+uncertainty=none"], "posterior": posterior(f, 2, 2)}
    procs = {name: alsim(base / name, a) for name, a in args.items()}
    out = {}
    for name, proc in procs.items():
        stdout, stderr = proc.communicate(timeout=600)
        out[name] = (base / name, subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr))
    return out


def folder_of(cwd: Path) -> Path:
    found = [p.parent for p in cwd.glob("outputs/*/*/summary.json")]
    assert len(found) == 1, found
    return found[0]


@pytest.mark.parametrize("case,key", [("zero_draws", "uncertainty.draws=0"), ("too_many_draws", "uncertainty.draws=4"),
                                      ("missing_file", "uncertainty.file:")])
def test_cli_refuses_bad_options_with_one_line_and_writes_nothing(cli, case, key):
    cwd, r = cli[case]
    assert r.returncode == 2, r.stderr
    assert r.stderr.splitlines() == [r.stderr.strip()] and r.stderr.startswith(f"alsim: error: {key}")
    assert [p for p in cwd.rglob("*")] == []


def test_cli_with_uncertainty_none_writes_the_plain_run_byte_for_byte(cli):
    plain, none = folder_of(cli["plain"][0]), folder_of(cli["none"][0])
    for rel in RESULT_FILES:
        assert manifest.sha256_file(plain / rel) == manifest.sha256_file(none / rel), rel
    assert sorted(p.name for p in plain.iterdir()) == sorted(p.name for p in none.iterdir())
    assert cli["plain"][1].stdout.replace(str(plain), "") == cli["none"][1].stdout.replace(str(none), "")


def test_cli_posterior_run_prints_the_interval_under_the_notice(cli):
    cwd, r = cli["posterior"]
    assert r.returncode == 0, r.stderr[-2000:]
    folder = folder_of(cwd)
    b = block(folder)
    lines = r.stdout.splitlines()
    assert lines[0] == sim.NOTICE
    assert any(ln.startswith("posterior uncertainty (the arms above: seed 0 at the configured values): 2 draw(s)")
               for ln in lines), r.stdout
    assert any(ln.endswith(f"dominant: {b['dominant']}") for ln in lines), r.stdout
    assert len(cells(folder)) == 4 and manifest.verify(folder).status == manifest.VERIFIED


# --------------------------------------------------------------------------- alsim-compare
def read_effects(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "effects.csv", skiprows=1)


def test_compare_pools_the_posterior_cells_of_a_scenario(folders, tmp_path, compare_cli):
    """Four runs of one scenario: three posterior runs whose cells overlap (identical draws and one individual repeat
    cells of the distinct run) and a plain one. Each cell counts once, so the scenario's statistics are the distinct run's."""
    code, out, err = compare_cli([*(folders[n] for n in ("distinct", "identical", "one_individual", "plain")),
                                  "--out", tmp_path / "cmp"])
    assert code == 0, err
    row = read_effects(tmp_path / "cmp").iloc[0]
    b = block(folders["distinct"])
    assert row["uncertainty_cells"] == b["used_cells"]
    assert row["uncertainty_median_delay_days"] == pytest.approx(b["median_days"])
    assert (row["uncertainty_low_days"], row["uncertainty_high_days"]) == pytest.approx((b["low_days"], b["high_days"]))
    assert row["uncertainty_parameter_share"] == pytest.approx(b["parameter_share"])
    assert row["uncertainty_dominant"] == b["dominant"]
    header = next(ln for ln in out.splitlines() if ln.startswith("|") and "reading" in ln)
    assert "median [2.5–97.5 %]" in header and "dominant source" in header
    assert f"{b['median_days']:+.2f} [{b['low_days']:+.2f}, {b['high_days']:+.2f}]" in out
    assert "Dominant source: the larger part" in out
    runs = pd.read_parquet(tmp_path / "cmp" / "dataset" / "runs.parquet")
    assert runs["uncertainty_dominant"].notna().sum() == 3  # per run, from each summary; the plain run has none


def test_compare_of_runs_without_the_block_has_no_uncertainty_columns(folders, tmp_path, compare_cli):
    code, out, err = compare_cli([folders["plain"], "--out", tmp_path / "cmp"])
    assert code == 0, err
    assert not [c for c in read_effects(tmp_path / "cmp").columns if "uncertainty" in c]
    assert "dominant source" not in out and "draws × individuals" not in out


# --------------------------------------------------------------------------- report and dashboard
def test_report_and_dashboard_show_the_interval_and_the_dominant_source(folders, tmp_path):
    import html
    import shutil

    from sim import report
    from sim.dashboard import callbacks, sweeps
    from sim.dashboard.data import load_run_folder

    b = block(folders["distinct"])
    interval = f"median {b['median_days']:+.2f} days, interval [{b['low_days']:+.2f}, {b['high_days']:+.2f}]"
    data = load_run_folder(folders["distinct"])
    page = report.render(data)
    assert html.escape(interval) in page and html.escape(f"dominant: {b['dominant']}") in page
    shown = callbacks._summary_text(data, "Run started in this tab.")  # the dashboard's run view
    assert interval in shown and f"dominant: {b['dominant']}" in shown
    shutil.copytree(folders["distinct"], tmp_path / "results" / "sweep" / "0")
    sweep = sweeps.load_sweep(tmp_path / "results", "sweep")  # computed from the run folder (no compare output)
    row = sweep.effects.iloc[0]
    text = callbacks.scenario_text("dose 1e9", row)
    assert f"{b['median_days']:+.2f} [{b['low_days']:+.2f}, {b['high_days']:+.2f}]" in text
    assert f"dominant source of spread: {b['dominant']}" in text
    plain = load_run_folder(folders["plain"])
    summary_block = report.render(plain).split("<pre>")[1].split("</pre>")[0]  # the report's printed summary
    assert "dominant" not in summary_block and "draws" not in callbacks._summary_text(plain, "")
