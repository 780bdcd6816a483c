"""`alsim --help` (the app help from Hydra's help template) and "did you mean …" for mistyped keys and options."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import sim
from sim.config import SimConfig, iter_params
from sim.help import COMMANDS, MOST_USED, suggestion
from sim.presets import CONFIG_DIR, compose_config
from sim.config import ConfigError

ROOT = Path(__file__).resolve().parent.parent


def alsim(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sim", *args], capture_output=True, text=True, encoding="utf-8",
                          timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def help_text(tmp_path_factory) -> str:
    cwd = tmp_path_factory.mktemp("help")
    r = alsim("--help", cwd=cwd)
    assert r.returncode == 0, r.stderr
    assert not any(cwd.iterdir()), "help must not create a run folder"
    return r.stdout


def test_help_says_what_alsim_is_and_is_non_clinical(help_text):
    assert sim.NOTICE in help_text
    assert "agent-based simulator of ALS" in help_text
    assert "control arm" in help_text and "treated arm" in help_text
    assert "hydra.run" not in help_text, "the resolved config dump of Hydra's stock help is gone"
    assert len(help_text.splitlines()) < 90


def test_help_lists_the_five_installed_commands(help_text):
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]["scripts"]
    assert set(COMMANDS) == set(scripts) and len(scripts) == 5
    for name in scripts:
        assert re.search(rf"^  {re.escape(name)}\s+\S", help_text, re.MULTILINE), name


def test_help_lists_every_config_group_with_the_options_that_exist(help_text):
    groups = sorted(p.name for p in CONFIG_DIR.iterdir() if p.is_dir() and p.name != "hydra")
    listed = dict(re.findall(r"^(\w+): (.+)$", help_text, re.MULTILINE))
    for group in groups:
        files = sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))
        assert listed.get(group, "").split(", ") == files, group


def test_help_gives_most_used_keys_with_units_and_ranges_from_the_dataclasses(help_text):
    fields = {key: f for key, f, _ in iter_params(SimConfig())}
    for key in MOST_USED:
        line = next(l for l in help_text.splitlines() if l.startswith(f"  {key}="))
        meta = fields[key].metadata
        if meta.get("unit") not in ("", "1", None):
            assert f"unit {meta['unit']}" in line, line
        if meta.get("plausible"):
            lo, hi = meta["plausible"]
            assert f"plausible {lo:g}–{hi:g}" in line, line
        assert meta["doc"] in help_text
    dose = next(l for l in help_text.splitlines() if l.startswith("  treatment.dose_cells_per_kg="))
    assert dose.startswith(f"  treatment.dose_cells_per_kg={SimConfig().treatment.dose_cells_per_kg:g}")
    horizon = next(l for l in help_text.splitlines() if l.startswith("  disease.horizon_days="))
    assert "human_sporadic: 3000" in horizon


def test_help_has_three_examples_and_points_to_the_docs(help_text):
    examples = help_text.split("Examples:")[1].split("Documentation:")[0]
    assert len([l for l in examples.splitlines() if l.strip().startswith("alsim")]) == 3
    for doc in ("README.md", "docs/parameters.md", "docs/model.md"):
        assert doc in help_text
        assert (ROOT / doc).is_file()


def test_hydra_help_is_still_hydras():
    r = alsim("--hydra-help")
    assert r.returncode == 0
    assert "Hydra (" in r.stdout and "--hydra-help" in r.stdout and sim.NOTICE not in r.stdout


@pytest.mark.parametrize("override, expected", [
    ("treatment.dose_cell_per_kg=1", "did you mean treatment.dose_cells_per_kg?"),
    ("+treatment.dose_cell_per_kg=1", "did you mean treatment.dose_cells_per_kg?"),
    ("diseas=human_sporadic", "did you mean disease?"),
    ("disease=human_sporadik", "did you mean human_sporadic?"),
    ("msc.pathways.systemic_tregs=false", "did you mean msc.pathways.systemic_treg?"),
])
def test_unknown_key_or_option_gets_did_you_mean_in_one_line(override, expected, tmp_path):
    r = alsim(override, cwd=tmp_path)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("alsim: error:") and expected in lines[0], r.stderr
    assert not any(tmp_path.iterdir())


def test_no_suggestion_when_nothing_is_close():
    with pytest.raises(ConfigError) as err:
        compose_config(["+zzzz=1"])
    assert "did you mean" not in str(err.value)
    assert suggestion("qqqqqq", ["seed", "engine"]) == ""
    assert suggestion("dose_cells_per_kg", ["treatment.dose_cells_per_kg", "seed"]) == \
        " (did you mean treatment.dose_cells_per_kg?)"
