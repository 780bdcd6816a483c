"""Packaging promises: `.[dev]` never pulls the Ray launcher (which downgrades runtime dependencies), CI still
runs the Ray tests in their own environment, and the README's test commands are the ones CI runs."""
from __future__ import annotations

import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import sim

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
CI = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
README = (ROOT / "README.md").read_text(encoding="utf-8")


def _names(requirements: list[str]) -> set[str]:
    return {re.split(r"[\s\[<>=!~;]", r, maxsplit=1)[0].lower() for r in requirements}


def test_dev_extra_does_not_pull_the_ray_launcher():
    extras = PYPROJECT["project"]["optional-dependencies"]
    ray = _names(extras["ray"])
    assert {"ray", "hydra-ray-launcher"} <= ray
    dev = extras["dev"]
    assert not any("alsim[" in r and "ray" in r for r in dev), dev
    assert not (_names(dev) & ray)
    assert not (_names(PYPROJECT["project"]["dependencies"]) & ray)


def _ci_commands() -> list[str]:
    return [line.strip() for line in CI.splitlines() if "pytest" in line and not line.strip().startswith("#")]


def test_ci_runs_everything_in_two_environments_and_the_readme_says_so():
    main, ray = _ci_commands()
    assert "pip install -e '.[dev]'" in main and main.endswith('pytest -m "not ray" -n 2')
    assert ".venv-ray" in ray and "'.[dev,ray]'" in ray and ray.endswith("pytest -m ray")
    assert main in README  # the README's test command is exactly CI's
    assert ray in README
    # it says how long the whole suite and the quick subset take (measured durations, whatever they are now)
    # and the quick loop runs in as many processes as CI's command
    assert re.search(r"\.ci/run` took \d+ min \d+ s", README) and re.search(r'"not slow and not ray" -n 2`.*?\d+ min \d+ s', README, re.S)


# =========================================================================== the config tree: configs/ at the top
def test_the_config_tree_is_top_level_and_an_editable_install_finds_it():
    from sim.presets import CONFIG_DIR
    assert CONFIG_DIR == ROOT / "configs" and (ROOT / "configs" / "config.yaml").is_file()
    assert not (ROOT / "sim" / "configs").exists()
    assert {"disease", "treatment", "domain", "manipulation", "knockout", "experiment"} <= \
        {p.name for p in CONFIG_DIR.iterdir() if p.is_dir()}


def test_every_subpackage_is_in_the_wheel():
    """The wheel's package list is explicit (it maps configs/ to sim.configs): a new subpackage must be added."""
    listed = set(PYPROJECT["tool"]["setuptools"]["packages"])
    found = {".".join(p.parent.relative_to(ROOT).parts) for p in (ROOT / "sim").rglob("__init__.py")}
    assert found | {"sim.configs", "sim.validation"} == listed
    assert PYPROJECT["tool"]["setuptools"]["package-dir"] == {"sim.configs": "configs", "sim.validation": "experiments/validation"}


def _site_packages() -> list[str]:
    """This interpreter's installed-package folders (not the checkout): the fresh venv borrows its dependencies."""
    import site
    return [p for p in site.getsitepackages() if Path(p).is_dir()]


@pytest.mark.slow  # builds a wheel and runs a simulation from it: about a minute
def test_a_wheel_installed_in_a_fresh_venv_runs_alsim(tmp_path):
    dist = tmp_path / "dist"
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = dist.glob("alsim-*.whl")
    with zipfile.ZipFile(wheel) as z:
        names = set(z.namelist())
    assert "sim/configs/config.yaml" in names and "sim/configs/disease/human_sporadic.yaml" in names
    assert "sim/configs/hydra/help/alsim.yaml" in names and "sim/dashboard/assets/style.css" in names
    assert "sim/validation/msc_preclinical.csv" in names
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    purelib = subprocess.run([str(venv / "bin" / "python"), "-c", "import sysconfig; print(sysconfig.get_path('purelib'))"],
                             capture_output=True, text=True, check=True).stdout.strip()
    # the dependencies come from this environment (a .pth adds its folders, without its editable `sim`)
    Path(purelib, "_alsim_test_deps.pth").write_text("\n".join(_site_packages()) + "\n", encoding="utf-8")
    inst = subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--no-deps", "--no-index",
                           str(wheel)], capture_output=True, text=True, timeout=300)
    assert inst.returncode == 0, inst.stderr[-2000:]
    where = subprocess.run([str(venv / "bin" / "python"), "-c", "import sim.presets as p; print(p.CONFIG_DIR)"],
                           capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert where.returncode == 0, where.stderr[-2000:]
    assert Path(where.stdout.strip()) == Path(purelib) / "sim" / "configs"
    table = subprocess.run([str(venv / "bin" / "python"), "-c", "from sim.experiments.validation import find_table, split_digest; "
                            "print(find_table()); split_digest()"], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert table.returncode == 0, table.stderr[-2000:]
    assert Path(table.stdout.strip()) == Path(purelib) / "sim" / "validation" / "msc_preclinical.csv"
    run = subprocess.run([str(venv / "bin" / "alsim"), "domain=quick"], capture_output=True, text=True, cwd=tmp_path,
                         timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.startswith(sim.NOTICE) and "modeled paired T50 delay" in run.stdout
    assert list((tmp_path / "outputs").rglob("summary.json"))
