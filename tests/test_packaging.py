"""Packaging promises: `.[dev]` never pulls the Ray launcher (which downgrades runtime dependencies), CI still
runs the Ray tests in their own environment, and the README's test commands are the ones CI runs."""
from __future__ import annotations

import re
import tomllib
from pathlib import Path

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
    assert "pip install -e '.[dev]'" in main and main.endswith('pytest -m "not ray"')
    assert ".venv-ray" in ray and "'.[dev,ray]'" in ray and ray.endswith("pytest -m ray")
    assert main in README  # the README's test command is exactly CI's
    assert ray in README
    assert "20 min 6 s" in README and "8 min 30 s" in README
