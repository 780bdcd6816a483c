"""`alsim --help`: the app help, and "did you mean …" for mistyped keys and options.

Hydra prints the app help from `hydra.help.template` (configs: `hydra/help/alsim.yaml`). The template's prose
is written there; the parts that must stay true as the code changes are generated here and reach the template
through OmegaConf resolvers: the five commands (from the installed entry points), and the most-used keys with
their units and ranges (from the metadata of the config dataclasses in `sim.config`). Hydra itself fills in
`$APP_CONFIG_GROUPS` from the config folder, so the listed options are always the files that exist.
`alsim --hydra-help` still prints Hydra's own help.
"""
from __future__ import annotations

import dataclasses
import difflib
import math
from typing import Any

import yaml
from omegaconf import OmegaConf

from sim.config import ENGINES, ROUTES, SPECIES, SimConfig, iter_params

# The keys a first user changes; everything else is in docs/parameters.md.
MOST_USED = ("seed", "treatment.route", "treatment.dose_cells_per_kg", "treatment.start_day", "treatment.n_infusions",
             "treatment.interval_days", "disease.horizon_days", "disease.individual_drive_sd_log",
             "msc.pathways.systemic_treg", "engine")

# What each console script does (the names are checked against pyproject's [project.scripts] by the tests).
COMMANDS = {
    "alsim": "simulate one paired run (control and treated arm, same seed), or a sweep with -m",
    "alsim-compare": "collect runs and compare scenarios by paired effects (bootstrap CIs, report.html)",
    "alsim-report": "a self-contained HTML report of one run",
    "alsim-dashboard": "the interactive dashboard (run, sweep and explain tabs) in the browser",
    "alsim-sensitivity": "global sensitivity analysis (Sobol / Morris) of an outcome to chosen parameters",
}


def _fields() -> dict[str, tuple[dataclasses.Field, Any]]:
    return {key: (f, value) for key, f, value in iter_params(SimConfig())}


def all_keys() -> list[str]:
    """Every dotted parameter key of the configuration."""
    return list(_fields())


def _num(x: Any) -> str:
    if isinstance(x, bool) or x is None:
        return str(x).lower() if isinstance(x, bool) else "null"
    if isinstance(x, float) and math.isinf(x):
        return "∞" if x > 0 else "−∞"
    if isinstance(x, int) and abs(x) >= 10**9:
        return f"2^{x.bit_length()}−1" if (x + 1) & x == 0 else str(x)
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


# Keys that take one of a few words: their allowed values, from the validation in sim.config.
CHOICES = {"engine": ENGINES, "disease.species": SPECIES, "treatment.route": ROUTES}


def _as_number(v: Any) -> Any:
    """YAML reads `4.0e7` as text (YAML 1.1 wants a signed exponent); Hydra reads it as a number, so do we."""
    if isinstance(v, str):
        try:
            return float(v)
        except ValueError:
            return v
    return v


def _default_choices() -> dict[str, str]:
    """The option of each config group that `alsim` with no arguments uses (the root config's defaults list)."""
    from sim.presets import CONFIG_DIR  # sim.presets imports this module

    root = yaml.safe_load((CONFIG_DIR / "config.yaml").read_text(encoding="utf-8"))
    return {k: v for item in root.get("defaults", []) if isinstance(item, dict) for k, v in item.items()}


def _default_and_presets(key: str, value: Any) -> str:
    """`160 (human_sporadic: 3000)`: the value `alsim` runs with, and other presets of the key's group that differ."""
    from sim.presets import preset_values

    group, _, leaf = key.partition(".")
    if group not in ("disease", "treatment", "domain") or "." in leaf:
        return _num(value)
    presets = {name: _as_number(v[leaf]) for name, v in preset_values(group).items() if leaf in v}
    default = presets.get(_default_choices().get(group, ""), value)
    other = [f"{name}: {_num(v)}" for name, v in presets.items() if v != default]
    return _num(default) + (f" ({'; '.join(other)})" if other else "")


def key_line(key: str) -> str:
    """One help line: key=default (other presets' values), unit, ranges (plausible, hard bounds), meaning."""
    f, value = _fields()[key]
    m = f.metadata
    unit = m.get("unit") or ""
    parts = [f"unit {unit}" if unit and unit != "1" else ""]
    if m.get("plausible"):
        parts.append(f"plausible {_num(m['plausible'][0])}–{_num(m['plausible'][1])}")
    if m.get("bounds"):
        parts.append(f"allowed {_num(m['bounds'][0])}–{_num(m['bounds'][1])}")
    if isinstance(value, bool):
        parts.append("true or false")
    if key in CHOICES:
        parts.append("one of " + ", ".join(CHOICES[key]))
    detail = ", ".join(p for p in parts if p)
    return (f"  {key}={_default_and_presets(key, value)}" + (f"  [{detail}]" if detail else "")
            + f"\n      {m.get('doc', '')}")


def keys_text() -> str:
    return "\n".join(key_line(k) for k in MOST_USED)


def commands_text() -> str:
    width = max(map(len, COMMANDS))
    return "\n".join(f"  {name:<{width}}  {what}" for name, what in COMMANDS.items())


def suggestion(word: str, choices: list[str] | tuple[str, ...]) -> str:
    """` (did you mean X?)` for the closest choice, or '' when none is close.

    A dotted key is matched within its own section first (`treatment.dose_cell_per_kg` finds
    `treatment.dose_cells_per_kg`; `calibration.a` finds nothing, however much of the name is shared); a key in
    an unknown section is matched as a whole (`treatmnt.seed`), and a bare name also by the last part of every
    key (`dose_cells_per_kg`).
    """
    prefix, _, leaf = word.rpartition(".")
    siblings = {c.rpartition(".")[2]: c for c in choices if c.rpartition(".")[0] == prefix}
    close = [siblings[m] for m in difflib.get_close_matches(leaf, list(siblings), n=1, cutoff=0.75)]
    if not close and not (prefix and siblings):
        close = difflib.get_close_matches(word, choices, n=1, cutoff=0.75) if prefix else []
    if not close and not prefix:
        by_leaf = {c.rsplit(".", 1)[-1]: c for c in choices}
        close = [by_leaf[m] for m in difflib.get_close_matches(word, list(by_leaf), n=1, cutoff=0.8)]
    return f" (did you mean {close[0]}?)" if close and close[0] != word else ""


def register_resolvers() -> None:
    """Make the generated parts available to the help template (idempotent)."""
    from sim import NOTICE

    for name, fn in (("alsim_help_keys", keys_text), ("alsim_help_commands", commands_text),
                     ("alsim_help_notice", lambda: NOTICE)):
        if not OmegaConf.has_resolver(name):
            # `$` would be read by Hydra's string.Template: the generated text never contains one
            OmegaConf.register_new_resolver(name, lambda fn=fn: fn().replace("$", "$$"))
