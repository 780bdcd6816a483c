"""Hydra presets: compose and validate one run's configuration from overrides, with no side effects.

The config groups in `configs/` (top level) (disease, treatment, domain, knockout, manipulation, uncertainty, experiment) are
composed over the dataclasses in `sim.config` exactly as `alsim` composes them; `compose_config` is what
the command line, a sweep's pre-check, the dashboard and the tests all use, so a bad value is refused the
same way everywhere (one line naming the key and the allowed range).
"""
from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import yaml
from hydra.core.config_store import ConfigStore
from hydra.core.global_hydra import GlobalHydra
from omegaconf import DictConfig, OmegaConf

from sim.config import ConfigError, ManipulationConfig, SimConfig, validate
from sim.help import all_keys, suggestion

def find_config_dir() -> Path:
    """Hydra's config tree: `configs/` at the top of a source checkout (also what an editable install uses), or,
    in an installed wheel, the same tree packaged as `sim/configs/` (pyproject maps one onto the other)."""
    packaged, source = Path(__file__).parent / "configs", Path(__file__).parent.parent / "configs"
    for folder in (packaged, source):
        if (folder / "config.yaml").is_file():
            return folder
    raise RuntimeError(f"alsim's config tree is missing: neither {packaged} nor {source} holds config.yaml")


CONFIG_DIR = find_config_dir()
ConfigStore.instance().store(name="base_config", node=SimConfig)


def group_options(group: str) -> list[str]:
    return sorted(p.stem for p in (CONFIG_DIR / group).glob("*.yaml"))


def preset_values(group: str) -> dict[str, dict]:
    """Each preset of a config group as written in its yaml file (no defaults merged), by name."""
    return {p.stem: yaml.safe_load(p.read_text(encoding="utf-8")) or {} for p in sorted((CONFIG_DIR / group).glob("*.yaml"))}


def manipulation_preset(name: str) -> ManipulationConfig:
    """The manipulation preset `name` (configs/manipulation/<name>.yaml) as a config section."""
    if name not in group_options("manipulation"):
        raise ConfigError(f"manipulation={name} is invalid: allowed values are {', '.join(group_options('manipulation'))}")
    return ManipulationConfig(**preset_values("manipulation")[name])


def _check_group_choices(overrides: list[str]) -> None:
    for ov in overrides:
        key, sep, value = ov.lstrip("+~").partition("=")
        if ov.startswith("~") and not key.startswith("hydra") and not (CONFIG_DIR / key).is_dir():
            raise ConfigError(f"~{key} is invalid: a parameter cannot be deleted; give it a value instead ({key}=…)")
        if sep and not key.startswith("hydra") and (CONFIG_DIR / key).is_dir() and value not in group_options(key):
            raise ConfigError(f"{key}={value} is invalid: allowed values are {', '.join(group_options(key))}"
                              + suggestion(value, group_options(key)))
        if sep and key == "experiment" and not ov.startswith("+"):
            raise ConfigError(f"experiment={value} is invalid: a preset is added with a plus, +experiment={value}")
        if sep and key == "uncertainty" and not ov.startswith("+"):
            raise ConfigError(f"uncertainty={value} is invalid: the group is added with a plus, +uncertainty={value}")


def _unknown_keys(node: DictConfig, obj: object, prefix: str = "") -> list[str]:
    """Keys of the composed config that the dataclass tree (`obj`) does not declare, at any depth."""
    names = {f.name for f in dataclasses.fields(obj)}
    out = []
    for key in node.keys():
        full = f"{prefix}{key}"
        if full == "hydra":
            continue
        if key not in names:
            out.append(full)
        elif dataclasses.is_dataclass(getattr(obj, key)) and OmegaConf.is_dict(node._get_node(key)):
            out += _unknown_keys(node._get_node(key), getattr(obj, key), full + ".")
    return out


def check_known_keys(cfg: DictConfig) -> None:
    """Hydra lets `+key=value` add a key (also `+treatment.foo=1`); the model would silently ignore it, so refuse it."""
    unknown = _unknown_keys(cfg, SimConfig())
    if unknown:
        raise ConfigError(unknown_key_message(unknown[0]))


def _groups() -> list[str]:
    return sorted(p.name for p in CONFIG_DIR.iterdir() if p.is_dir() and p.name != "hydra")


def unknown_key_message(key: str) -> str:
    """One line for a key the configuration does not have, with the closest known key or config group."""
    return (f"{key} is not a known parameter{suggestion(key, [*all_keys(), *_groups()])} "
            "(the full list is in docs/parameters.md)")


def _one_line(exc: Exception, overrides: list[str]) -> str:
    """Turn a Hydra/OmegaConf composition error into one line naming the key."""
    text = f"{exc}\n{exc.__cause__ or ''}"
    key = re.search(r"full_key: ([\w.\[\]]+)", text) or re.search(r"Could not override '([\w.]+)'", text)
    if key:
        k = key.group(1)
        given = next((ov.partition("=")[2] for ov in overrides if ov.lstrip("+~").partition("=")[0] == k), "?")
        if "not in struct" in text or re.search(r"Key '\w+' not in", text):
            return unknown_key_message(k)
        if "is not a subclass of" in text:
            return f"{k}={given} is invalid: {k} is a group of parameters, not one value (set {k}.<name>=…; see docs/parameters.md)"
        if "is not Optional" in text:
            return f"{k}={given} is invalid: a value is required (null is not allowed)"
        expected = re.search(r"could not be converted to (\w+)|is not a valid (bool)|Cannot convert '\w+' to (string)", text)
        kind = next((g for g in expected.groups() if g), "") if expected else ""
        allowed = f"expected a value of type {'str' if kind == 'string' else kind}" if expected else text.splitlines()[0]
        return f"{k}={given} is invalid: {allowed}"
    first = text.strip().splitlines()[0]
    if type(exc).__name__ == "OverrideParseException":
        return f"could not parse the override(s) {' '.join(overrides)}: {first}"
    return first


def compose_config(overrides: list[str]) -> SimConfig:
    """Compose and validate a single run's config exactly as `alsim` would, without side effects."""
    from hydra import compose, initialize_config_dir
    from hydra.errors import HydraException
    from omegaconf.errors import OmegaConfBaseException

    _check_group_choices(overrides)
    running = GlobalHydra.instance()  # inside a Hydra app (sweep checks) keep its state aside
    saved = running.hydra if running.is_initialized() else None
    running.clear()
    try:
        with initialize_config_dir(config_dir=str(CONFIG_DIR), version_base="1.3"):
            cfg = compose(config_name="config", overrides=overrides)
            check_known_keys(cfg)
            obj = OmegaConf.to_object(cfg)
    except (HydraException, OmegaConfBaseException, ValueError) as exc:
        raise ConfigError(_one_line(exc, overrides)) from None
    finally:
        if saved is not None:
            GlobalHydra.instance().initialize(saved)
    return validate(obj)
