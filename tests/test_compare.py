"""Tests of `alsim-compare` (sim.experiments.collect / compare) and the figures in sim.figures.

One small real sweep (2 doses × 2 seeds, quick domain; conftest.SWEEP) is simulated once per session by
subprocess; every test that changes run folders works on its own copy. Statistics are checked
on synthetic samples with known answers.
"""
from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest

from conftest import N_SWEEP_RUNS, SWEEP_HORIZON, reseal

import sim
from sim import figures
from sim.experiments import compare
from sim.experiments.compare import NULL_READING, MeanCI, bootstrap_mean_ci, reading

HORIZON = SWEEP_HORIZON  # both seeds' control arms reach 50 % loss before this day
N_RUNS, N_ARMS = N_SWEEP_RUNS, 2
COMPARE_SCRIPT = Path(sys.executable).parent / "alsim-compare"
OUTPUTS = ("dataset", "effects.csv", "report.html")
FORBIDDEN = re.compile(r"recommend|optimal|effective|efficacy|should", re.IGNORECASE)


# =========================================================================== fixtures and helpers
@pytest.fixture(scope="module")
def sweep(cli_sweep) -> Path:
    """A real 4-run sweep (conftest.SWEEP, simulated once per session); returns the folder that holds all its run folders."""
    return cli_sweep


def copy_sweep(sweep: Path, dest: Path) -> Path:
    shutil.copytree(sweep, dest, ignore=shutil.ignore_patterns(*OUTPUTS))
    return dest


def run_folders(root: Path) -> dict[tuple[float, int], Path]:
    """(dose, seed) -> run folder."""
    out = {}
    for s in root.rglob("summary.json"):
        summary = json.loads(s.read_text(encoding="utf-8"))
        out[(summary["treatment"]["dose_cells_per_kg"], summary["seed"])] = s.parent
    return out


def edit_summary(folder: Path, **changes) -> None:
    path = folder / "summary.json"
    summary = json.loads(path.read_text(encoding="utf-8"))
    summary.update(changes)
    path.write_text(json.dumps(summary), encoding="utf-8")
    reseal(folder)  # a deliberate variant, not corruption (test_integrity.py covers edits without a new manifest)


def all_files(root: Path) -> dict[str, float]:
    return {str(p): p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file()}



def read_effects(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, skiprows=1)


@pytest.fixture(scope="module")
def compared(sweep, tmp_path_factory) -> tuple[subprocess.CompletedProcess, Path]:
    """The console script on a copy of the sweep, with the default OUT (the first DIR)."""
    folder = copy_sweep(sweep, tmp_path_factory.mktemp("compared") / "sweep")
    r = subprocess.run([str(COMPARE_SCRIPT), str(folder)], capture_output=True, text=True, encoding="utf-8", timeout=300)
    assert r.returncode == 0, r.stderr
    return r, folder


# =========================================================================== the collected dataset
def test_prints_notice_then_markdown_table_and_where_it_wrote(compared):
    r, out = compared
    lines = r.stdout.splitlines()
    assert lines[0] == sim.NOTICE
    header = next(i for i, ln in enumerate(lines) if ln.startswith("| dose_cells_per_kg |"))
    assert re.fullmatch(r"\|(---\|)+", lines[header + 1])
    assert len([ln for ln in lines[header + 2:] if ln.startswith("| ")]) == 2  # two scenarios: dose 0 and 4e7
    for name in ("dataset/runs.parquet", "dataset/timeseries.parquet", "effects.csv", "report.html"):
        assert f"wrote {out / name}" in lines
    assert "Traceback" not in r.stderr and "skipped" not in r.stderr


def test_timeseries_has_one_row_per_run_arm_and_day(compared):
    _, out = compared
    ts = pd.read_parquet(out / "dataset" / "timeseries.parquet")
    days = sorted(pd.read_parquet(next(out.rglob("*/timeseries.parquet")))["day"].unique())
    assert len(ts) == N_RUNS * N_ARMS * len(days)
    assert ts.groupby(["run_id", "arm"]).size().eq(len(days)).all()
    assert set(ts["arm"]) == {"control", "treated"}
    assert list(ts.columns[:2]) == ["run_id", "dose_cells_per_kg"]
    assert {"seed", "start_day", "mn_alive_fraction", "functional_index", "day"} <= set(ts.columns)


def test_runs_table_has_typed_swept_parameters_and_outcomes(compared):
    _, out = compared
    runs = pd.read_parquet(out / "dataset" / "runs.parquet")
    assert len(runs) == N_RUNS and runs["run_id"].is_unique
    assert runs["dose_cells_per_kg"].dtype == np.float64 and set(runs["dose_cells_per_kg"]) == {0.0, 4e7}
    assert runs["seed"].dtype == np.int64 and set(runs["seed"]) == {0, 1}
    assert runs["n_infusions"].dtype == np.int64 and runs["start_day"].dtype == np.float64
    assert (runs["start_day"] == 80).all()
    # domain= and disease.horizon_days= were given but not varied: not swept, so no column of their own
    assert "disease_horizon_days" not in runs.columns
    for col in ("run_dir", "disease", "domain", "version", "config_hash", "interval_days", "control_t50_days",
                "treated_mn_alive_final", "control_functional_index_final", "treated_auc_alive_days",
                "t50_delay_days", "t50_delay_censored_at_least_days", "auc_gain_days"):
        assert col in runs.columns, col
    assert (runs["disease"] == "sod1_g93a_mouse").all() and (runs["domain"] == "quick").all()
    for row in runs.itertuples():
        summary = json.loads((Path(row.run_dir) / "summary.json").read_text(encoding="utf-8"))
        assert row.auc_gain_days == summary["effect"]["auc_gain_days"]
        assert row.control_t50_days == summary["arms"]["control"]["t50_days"]


def test_zero_dose_shows_no_delay_for_every_seed_and_reads_null(compared):
    r, out = compared
    runs = pd.read_parquet(out / "dataset" / "runs.parquet")
    zero = runs[runs["dose_cells_per_kg"] == 0]
    assert len(zero) == 2 and (zero["t50_delay_days"] == 0).all() and (zero["auc_gain_days"] == 0).all()
    effects = read_effects(out / "effects.csv")
    row = effects[effects["dose_cells_per_kg"] == 0].iloc[0]
    assert row["n_seeds"] == 2 and row["t50_delay_mean_days"] == 0
    assert row["t50_delay_ci_low_days"] == 0 and row["t50_delay_ci_high_days"] == 0
    assert row["fraction_seeds_with_delay"] == 0 and row["n_censored"] == 0
    assert row["reading"] == NULL_READING
    table_row = next(ln for ln in r.stdout.splitlines() if ln.startswith("| 0 |"))
    assert NULL_READING in table_row and "+0.00 [+0.00, +0.00]" in table_row


def test_effects_are_the_paired_per_seed_differences(compared):
    _, out = compared
    runs = pd.read_parquet(out / "dataset" / "runs.parquet")
    effects = read_effects(out / "effects.csv").set_index("dose_cells_per_kg")
    for dose, group in runs.groupby("dose_cells_per_kg"):
        delays = group["treated_t50_days"] - group["control_t50_days"]
        assert effects.loc[dose, "t50_delay_mean_days"] == pytest.approx(delays.mean(), abs=1e-12)
        assert effects.loc[dose, "auc_gain_mean_days"] == pytest.approx(group["auc_gain_days"].mean(), abs=1e-12)
        assert effects.loc[dose, "fraction_seeds_with_delay"] == (delays > 0).mean()
        low, high = effects.loc[dose, ["t50_delay_ci_low_days", "t50_delay_ci_high_days"]]
        assert delays.min() - 1e-12 <= low <= delays.mean() <= high <= delays.max() + 1e-12
        if low <= 0 <= high:
            assert effects.loc[dose, "reading"] == NULL_READING


def test_effects_csv_and_table_carry_notice_and_no_advice_words(compared):
    r, out = compared
    text = (out / "effects.csv").read_text(encoding="utf-8")
    assert text.splitlines()[0] == f"# {sim.NOTICE}"
    body_lines = text.splitlines()[1:] + r.stdout.splitlines()[1:]
    assert not [ln for ln in body_lines if FORBIDDEN.search(ln)]
    effects = read_effects(out / "effects.csv")
    assert len(effects) == 2 and {"n_seeds", "t50_delay_mean_days", "auc_gain_mean_days", "reading"} <= set(effects)


def test_report_is_self_contained_with_notice_banner(compared):
    _, out = compared
    page = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]*\bsrc\s*=", page, re.IGNORECASE)
    assert not re.search(r"<link[^>]*href\s*=\s*[\"']?(https?:)?//", page, re.IGNORECASE)
    banner = page.index(sim.NOTICE)
    assert banner < page.index("<h1>") < page.index("Plotly.newPlot")
    assert page.count("Plotly.newPlot") == 3  # heatmap, survival curves, per-seed effects
    assert len(page) > 1_000_000  # plotly.js itself is inlined


def test_dataset_queryable_with_duckdb_and_pandas(compared):
    duckdb = pytest.importorskip("duckdb")
    _, out = compared
    d = out / "dataset"
    rows = duckdb.sql(f"""
        SELECT r.dose_cells_per_kg, t.arm, count(*) AS n, avg(t.mn_alive_fraction) AS alive
        FROM '{d / "timeseries.parquet"}' t JOIN '{d / "runs.parquet"}' r USING (run_id)
        WHERE t.day = {HORIZON} GROUP BY ALL ORDER BY ALL""").fetchall()
    assert [(dose, arm, n) for dose, arm, n, _ in rows] == [(0.0, "control", 2), (0.0, "treated", 2),
                                                             (4e7, "control", 2), (4e7, "treated", 2)]
    assert rows[0][3] == rows[1][3]  # dose 0: treated arm identical to control
    ts = pd.read_parquet(d / "timeseries.parquet", filters=[("arm", "==", "treated"), ("day", "==", HORIZON)])
    pivot = ts.pivot_table(index="dose_cells_per_kg", columns="seed", values="mn_alive_fraction")
    assert pivot.shape == (2, 2)
    assert pq.read_schema(d / "runs.parquet").metadata[b"alsim.notice"].decode() == sim.NOTICE


def test_same_seed_gives_identical_output(sweep, tmp_path, compare_cli):
    folder = copy_sweep(sweep, tmp_path / "s")
    outputs = []
    for name in ("a", "b"):
        code, _, _ = compare_cli([folder, "--out", tmp_path / name, "--seed", "7"])
        assert code == 0
        outputs.append((tmp_path / name / "effects.csv").read_bytes())
    assert outputs[0] == outputs[1]
    assert not (folder / "effects.csv").exists()  # --out moved everything


# =========================================================================== statistics
def test_bootstrap_ci_of_a_normal_sample_matches_textbook():
    rng = np.random.default_rng(2024)
    true_mean, sd, n = 3.0, 2.0, 400
    x = rng.normal(true_mean, sd, n)
    ci = bootstrap_mean_ci(x, seed=11)
    assert ci.mean == x.mean() and ci.n == n
    assert ci.low < true_mean < ci.high
    textbook = 2 * 1.96 * x.std(ddof=1) / np.sqrt(n)
    assert (ci.high - ci.low) == pytest.approx(textbook, rel=0.10)  # percentile bootstrap ≈ normal theory at n = 400
    assert (ci.low + ci.high) / 2 == pytest.approx(x.mean(), abs=0.05 * textbook)
    assert bootstrap_mean_ci(x, seed=11) == ci  # reproducible
    assert bootstrap_mean_ci(x, seed=12) != ci  # the seed drives the resampling


def test_bootstrap_ci_edge_cases():
    one = bootstrap_mean_ci([2.5])
    assert one.mean == 2.5 and np.isnan(one.low) and np.isnan(one.high) and one.n == 1
    equal = bootstrap_mean_ci([0.0, 0.0, 0.0])
    assert (equal.mean, equal.low, equal.high) == (0.0, 0.0, 0.0)
    empty = bootstrap_mean_ci([np.nan])
    assert empty.n == 0 and np.isnan(empty.mean)


@pytest.mark.parametrize("delays, ci, band, expected", [
    ([0.0, 0.0], MeanCI(0, 0, 0, 2), 6.0, NULL_READING),
    ([-1.0, 2.0], MeanCI(0.5, -1, 2, 2), 6.0, NULL_READING),
    ([3.0], MeanCI(3, np.nan, np.nan, 1), None, f"{NULL_READING} (one seed, no interval)"),
    ([1.0, 2.0], MeanCI(1.5, 1, 2, 2), 6.0, "modeled delay, not distinguishable from between-animal noise (±6 d)"),
    ([10.0, 12.0], MeanCI(11, 10, 12, 2), 6.0, "modeled delay"),
    ([1.0, 2.0], MeanCI(1.5, 1, 2, 2), None, "modeled delay"),
    ([-12.0, -10.0], MeanCI(-11, -12, -10, 2), 6.0, "modeled acceleration"),
    ([-2.0, -1.0], MeanCI(-1.5, -2, -1, 2), 6.0, "modeled acceleration, not distinguishable from between-animal noise (±6 d)"),
    ([], MeanCI(np.nan, np.nan, np.nan, 0), 6.0, "undefined: the control arm never reached 50 % loss"),
])
def test_reading_is_decided_by_the_interval(delays, ci, band, expected):
    assert reading(np.array(delays), ci, band) == expected


# =========================================================================== edited run folders
def test_censored_delay_enters_as_lower_bound(sweep, tmp_path, compare_cli):
    folder = copy_sweep(sweep, tmp_path / "s")
    runs = run_folders(folder)
    s = json.loads((runs[(4e7, 0)] / "summary.json").read_text(encoding="utf-8"))
    s["arms"]["treated"]["t50_days"] = None
    s["effect"].update(t50_delay_days=None, t50_delay_censored_at_least_days=12.5)
    (runs[(4e7, 0)] / "summary.json").write_text(json.dumps(s), encoding="utf-8")
    reseal(runs[(4e7, 0)])
    other = json.loads((runs[(4e7, 1)] / "summary.json").read_text(encoding="utf-8"))["effect"]["t50_delay_days"]
    code, out, _ = compare_cli([folder])
    assert code == 0
    row = read_effects(folder / "effects.csv").set_index("dose_cells_per_kg").loc[4e7]
    assert row["n_censored"] == 1 and row["t50_delay_mean_days"] == pytest.approx((12.5 + other) / 2)
    assert row["fraction_seeds_with_delay"] == (1 + (other > 0)) / 2
    assert f"≥ {(12.5 + other) / 2:+.2f}" in out and "lower bound" in out


def test_corrupt_incomplete_and_failed_runs_are_skipped_and_listed(sweep, tmp_path, compare_cli):
    folder = copy_sweep(sweep, tmp_path / "s")
    runs = run_folders(folder)
    truncated, no_parquet = runs[(0.0, 0)], runs[(4e7, 1)]
    text = (truncated / "summary.json").read_text(encoding="utf-8")
    (truncated / "summary.json").write_text(text[: len(text) // 2], encoding="utf-8")
    (no_parquet / "timeseries.parquet").unlink()
    broken_parquet = runs[(0.0, 1)]
    data = (broken_parquet / "timeseries.parquet").read_bytes()
    (broken_parquet / "timeseries.parquet").write_bytes(data[: len(data) // 3])
    failed = folder / "9"
    (failed / ".hydra").mkdir(parents=True)
    (failed / "failure.json").write_text(json.dumps({"error": "RuntimeError: injected", "overrides": ["seed=9"]}))
    running = folder / "10"
    (running / ".hydra").mkdir(parents=True)
    odd = shutil.copytree(runs[(4e7, 0)], folder / "11")
    edit_summary(odd, treatment="iv_msc")
    not_ours = shutil.copytree(runs[(4e7, 0)], folder / "12")
    edit_summary(not_ours, non_clinical=False)
    code, out, err = compare_cli([folder])
    assert code == 0, err
    lines = err.splitlines()
    assert "Traceback" not in err
    for path, reason in [(truncated, "not valid JSON"), (no_parquet, "timeseries.parquet is missing"),
                         (broken_parquet, "corrupt: timeseries.parquet has"), (failed, "RuntimeError: injected"),
                         (running, "no summary.json"), (odd, "unexpected layout"), (not_ours, "non_clinical: true")]:
        assert any(str(path) in ln and reason in ln for ln in lines), (path, err)
    assert any(ln.startswith(f"alsim-compare: skipped: failed run {failed}:") for ln in lines), err
    kept = pd.read_parquet(folder / "dataset" / "runs.parquet")
    assert len(kept) == 1 and kept["run_dir"].iloc[0] == str(runs[(4e7, 0)].resolve())
    assert "1 run(s) collected" in out


def test_only_broken_runs_is_a_refusal(sweep, tmp_path, compare_cli):
    folder = copy_sweep(sweep, tmp_path / "s")
    for run in run_folders(folder).values():
        (run / "timeseries.parquet").unlink()
    before = all_files(tmp_path)
    code, out, err = compare_cli([folder])
    assert code == 2 and out == ""
    assert err.splitlines() == [err.strip()] and "no complete runs found" in err and "4 incomplete or failed" in err
    assert all_files(tmp_path) == before


def test_same_run_reached_twice_counts_once(sweep, tmp_path, compare_cli):
    folder = copy_sweep(sweep, tmp_path / "s")
    extra = shutil.copytree(run_folders(folder)[(4e7, 0)], tmp_path / "copy_of_one_run")
    code, _, err = compare_cli([folder, folder, extra, "--out", tmp_path / "out"])
    assert code == 0
    assert len(pd.read_parquet(tmp_path / "out" / "dataset" / "runs.parquet")) == N_RUNS
    assert "same configuration and seed" in err


def make_control_only(run: Path) -> None:
    """Turn a run folder into what `alsim treatment=none` writes: control arm only, no effect."""
    s = json.loads((run / "summary.json").read_text(encoding="utf-8"))
    del s["arms"]["treated"]
    s["effect"] = None
    s["config_hash"] = f"control-only-{s['config_hash']}"
    s["treatment"].update(enabled=False, name="none", n_infusions=0, infusion_days=[])
    (run / "summary.json").write_text(json.dumps(s), encoding="utf-8")
    ts = pd.read_parquet(run / "timeseries.parquet")
    ts[ts["arm"] == "control"].to_parquet(run / "timeseries.parquet", index=False)
    reseal(run)


def test_control_only_runs_have_no_effect_row(sweep, tmp_path, compare_cli):
    folder = copy_sweep(sweep, tmp_path / "s")
    make_control_only(run_folders(folder)[(0.0, 0)])
    code, out, _ = compare_cli([folder])
    assert code == 0
    effects = read_effects(folder / "effects.csv")
    assert len(effects) == 2  # dose 0 (1 seed) and 4e7; the control-only run is a scenario of its own without an effect
    assert effects.loc[effects["dose_cells_per_kg"] == 0, "n_seeds"].tolist() == [1]
    assert "1 control-only run(s)" in out
    assert len(pd.read_parquet(folder / "dataset" / "runs.parquet")) == N_RUNS


def test_only_control_runs_give_an_empty_effects_table(sweep, tmp_path, compare_cli):
    folder = copy_sweep(sweep, tmp_path / "s")
    for run in run_folders(folder).values():
        make_control_only(run)
    code, out, err = compare_cli([folder])
    assert code == 0, err
    assert "no treated runs" in out and "4 control-only run(s)" in out
    assert read_effects(folder / "effects.csv").empty
    assert sim.NOTICE in (folder / "report.html").read_text(encoding="utf-8")
    assert len(pd.read_parquet(folder / "dataset" / "timeseries.parquet").query("arm == 'treated'")) == 0


# =========================================================================== refusals
def _refused(compare_cli, args: list, root: Path, message: str) -> str:
    before = all_files(root)
    code, out, err = compare_cli(args)
    assert code == 2, err
    assert out == "" and len(err.strip().splitlines()) == 1 and err.startswith("alsim-compare: error: ")
    assert message in err
    assert all_files(root) == before  # nothing written
    return err


def test_refuses_empty_folder(tmp_path, compare_cli):
    (tmp_path / "empty").mkdir()
    _refused(compare_cli, [tmp_path / "empty"], tmp_path, "no complete runs found")


def test_refuses_nonexistent_path(sweep, tmp_path, compare_cli):
    folder = copy_sweep(sweep, tmp_path / "s")
    _refused(compare_cli, [folder, tmp_path / "nope"], tmp_path, f"{tmp_path / 'nope'} does not exist")


def test_refuses_mixed_model_versions_but_warns_on_patch(sweep, tmp_path, compare_cli):
    folder = copy_sweep(sweep, tmp_path / "s")
    run = run_folders(folder)[(4e7, 1)]
    major, minor, _ = sim.__version__.split(".")
    edit_summary(run, version=f"{major}.{int(minor) + 1}.0")
    _refused(compare_cli, [folder], tmp_path, "incompatible model versions")
    edit_summary(run, version=f"{major}.{minor}.99")
    code, _, err = compare_cli([folder])
    assert code == 0 and "warning" in err and f"{major}.{minor}.99" in err


def test_refuses_mixed_diseases_unless_grouped(sweep, tmp_path, compare_cli):
    folder = copy_sweep(sweep, tmp_path / "s")
    edit_summary(run_folders(folder)[(4e7, 1)], disease="human_sporadic")
    _refused(compare_cli, [folder], tmp_path, "--group-by disease")
    code, out, err = compare_cli([folder, "--group-by", "disease"])
    assert code == 0, err
    effects = read_effects(folder / "effects.csv")
    assert sorted(zip(effects["disease"], effects["n_seeds"])) == [
        ("human_sporadic", 1), ("sod1_g93a_mouse", 1), ("sod1_g93a_mouse", 2)]
    assert any(ln.startswith("| dose_cells_per_kg | disease |") for ln in out.splitlines()), out


def test_refuses_nothing_given(capsys):
    with pytest.raises(SystemExit) as exc:
        compare.main([])
    assert exc.value.code == 2


# =========================================================================== figures
def _effects(doses=(0.0,), starts=(80.0,)) -> pd.DataFrame:
    rows = [{"dose_cells_per_kg": d, "start_day": s, "disease": "sod1_g93a_mouse", "n_seeds": 3,
             "t50_delay_mean_days": d / 1e7, "t50_delay_ci_low_days": -1.0, "t50_delay_ci_high_days": 1.0,
             "n_censored": 0, "reading": NULL_READING} for d in doses for s in starts]
    return pd.DataFrame(rows)


def test_heatmap_is_drawn_for_a_single_dose_and_start_day():
    fig = figures.delay_heatmap(_effects())
    (trace,) = fig.data
    assert trace.type == "heatmap" and np.asarray(trace.z).shape == (1, 1)
    assert "[-1.00, +1.00]" in str(trace.customdata)
    grid = figures.delay_heatmap(_effects(doses=(0.0, 1e7, 4e7), starts=(60.0, 90.0)))
    assert np.asarray(grid.data[0].z).shape == (3, 2)
    assert list(grid.data[0].y) == ["0", "1e+07", "4e+07"] and list(grid.data[0].x) == ["60", "90"]
    assert grid.layout.coloraxis.cmid == 0
    # one fixed, symmetric scale in days whatever the data (stated on the figure); another only when asked
    for effects in (_effects(doses=(4e6,)), _effects(doses=(8e7,)), _effects(doses=(0.0, 1e8))):
        axis = figures.delay_heatmap(effects).layout.coloraxis
        assert (axis.cmin, axis.cmax) == (-figures.HEATMAP_SCALE_DAYS, figures.HEATMAP_SCALE_DAYS)
        assert f"fixed scale<br>±{figures.HEATMAP_SCALE_DAYS:g} d" in axis.colorbar.title.text
    assert figures.delay_heatmap(_effects(doses=(4e6,)), scale_days=3.0).layout.coloraxis.cmax == 3.0


def test_heatmap_title_names_only_the_keys_that_vary():
    one = _effects()
    assert figures.delay_heatmap(one).layout.title.text.endswith(", one scenario")
    by_infusions = pd.concat([one.assign(n_infusions=n) for n in (1, 4)], ignore_index=True)
    title = figures.delay_heatmap(by_infusions, ["n_infusions"]).layout.title.text
    assert title.endswith("by number of infusions") and "dose" not in title and "first infusion day" not in title
    grid = figures.delay_heatmap(_effects(doses=(0.0, 4e7), starts=(60.0, 90.0))).layout.title.text
    assert grid.endswith("by dose and first infusion day")


def test_survival_curves_show_mean_and_band_for_both_arms():
    days = np.arange(5.0)
    rows = [{"dose_cells_per_kg": 4e7, "start_day": 80.0, "seed": seed, "arm": arm, "day": d,
             "mn_alive_fraction": 1 - d * (0.1 if arm == "control" else 0.05) - 0.01 * seed}
            for seed in range(5) for arm in ("control", "treated") for d in days]
    fig = figures.survival_curves(pd.DataFrame(rows), ["dose_cells_per_kg", "start_day"])
    means = [t for t in fig.data if t.name and "mean" in t.name]
    bands = [t for t in fig.data if t.fill == "tonexty"]
    assert len(means) == 2 and len(bands) == 2
    treated = next(t for t in means if t.name.startswith("treated"))
    assert np.allclose(treated.y, 1 - days * 0.05 - 0.02)
    assert all(np.all(np.asarray(b.y) <= np.asarray(m.y) + 1e-12) for b, m in zip(bands, means))


def test_effect_distribution_shows_every_seed_and_marks_censored():
    paired = pd.DataFrame({"dose_cells_per_kg": [4e7] * 3, "start_day": [80.0] * 3, "seed": [0, 1, 2],
                           "t50_delay_value_days": [0.0, 1.0, 9.0], "t50_delay_censored": [False, False, True],
                           "auc_gain_days": [0.0, 0.1, 0.2]})
    fig = figures.effect_distribution(paired, ["dose_cells_per_kg", "start_day"], noise_band_days=6.0)
    boxes = [t for t in fig.data if t.type == "box"]
    assert len(boxes) == 2 and list(boxes[0].y) == [0.0, 1.0, 9.0] and boxes[0].boxpoints == "all"
    censored = [t for t in fig.data if t.type == "scatter"]
    assert len(censored) == 1 and list(censored[0].y) == [9.0]
    assert any(s.type == "rect" and s.y0 == -6.0 for s in fig.layout.shapes)


def test_figures_say_so_when_there_is_nothing_to_show():
    empty = pd.DataFrame(columns=["dose_cells_per_kg", "start_day", "t50_delay_mean_days"])
    for fig in (figures.delay_heatmap(empty), figures.effect_distribution(empty, [])):
        assert not fig.data and "no treated runs" in fig.layout.annotations[0].text


def test_who_benefits_correlates_the_delay_with_the_individual_drive():
    from sim.experiments.compare import who_benefits
    drive = [0.5, 0.8, 1.0, 1.3, 2.0, 3.0]
    rising = pd.DataFrame({"individual_drive_multiplier": drive, "t50_delay_value_days": [0.1, 0.2, 0.4, 0.5, 0.9, 1.5]})
    assert who_benefits(rising) == pytest.approx(1.0)
    falling = rising.assign(t50_delay_value_days=rising["t50_delay_value_days"][::-1].to_numpy())
    assert who_benefits(falling) == pytest.approx(-1.0)
    assert math.isnan(who_benefits(rising.assign(t50_delay_value_days=0.0)))  # a null effect has no "who"
    assert math.isnan(who_benefits(rising.head(4)))  # too few seeds
    assert math.isnan(who_benefits(rising.drop(columns="individual_drive_multiplier")))  # runs from before the cohort
