"""The one small interface every MSC pathway implements, and the registry that lists them.

A pathway is one way infused MSCs can act. It declares what it reads, what it changes, its memory (time
course), its route and its sources, and implements only the hooks it needs; every hook is a no-op here.
The model calls the hooks of the switched-on pathways (`msc.pathways.<name>`) at fixed points of a step:

    advance(exposure, dt)   after the MSC bookkeeping: update the pathway's memory from this step's exposure
    act(env)                at the start of a step: change the tissue's `Environment` (leak, Treg level, pushes)
    entry_probability(m)    when MSC packets leave the blood: chance that one cell enters the patch
    csf_entry_probability(m) when MSC packets leave the CSF (intrathecal route): chance that one cell enters the patch
    microglia_push(m, mg)   per microglial cell: extra push toward the protective state (local contacts)
    release(m)              secretion into the fields, as (flat field·voxel index, rate) pairs
    after_fields(m)         after the fields advanced: local operator-split effects

Adding a pathway is adding a module with one `@register`ed subclass, its switch in `MSCPathways` and its
parameters in `MSCConfig` (Starsim's interventions and PhysiCell's custom modules are the models).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Iterable

import numpy as np

from sim.config import SimConfig
from sim.environment import Environment

if TYPE_CHECKING:  # the model imports the pathways, never the reverse at run time
    from sim.model import ALSModel

LOCAL, SYSTEMIC = "local", "systemic"


@dataclass(frozen=True)
class Exposure:
    """What the MSCs outside the tissue present to the host during one step (from the `sim.pk` bookkeeping)."""

    burden_per_kg: float = 0.0          # living MSCs in lung and blood (not the CSF), cells/kg
    engulfed_per_kg_day: float = 0.0    # MSCs dying in lung and blood and cleared by host phagocytes, cells/kg/d


class Pathway:
    """Base class: a switchable route of MSC action with its own state; hooks default to doing nothing."""

    name: ClassVar[str] = ""            # the switch: msc.pathways.<name>
    route: ClassVar[str] = SYSTEMIC     # LOCAL: acts through MSCs inside the patch; SYSTEMIC: from blood and lung
    reads: ClassVar[str] = ""
    changes: ClassVar[str] = ""
    memory: ClassVar[str] = ""          # its time course after an infusion, in words
    sources: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[tuple[str, ...]] = ()  # the config keys of its rule (the explain panel lists them with it)
    columns: ClassVar[tuple[str, ...]] = ()  # the keys state() returns: time-series columns
    stage: ClassVar[int] = 1            # order of acting on the environment: 0 before everything that reads the leak

    def __init__(self, cfg: SimConfig) -> None:
        self.cfg = cfg
        self.p = cfg.msc

    def advance(self, exposure: Exposure, dt_days: float) -> None:
        """Update the pathway's memory from this step's exposure."""

    def act(self, env: Environment) -> None:
        """Change the step's environment."""

    def entry_probability(self, model: "ALSModel") -> float:
        """Chance that one cell leaving the blood enters the patch (only an entry pathway returns > 0)."""
        return 0.0

    def csf_entry_probability(self, model: "ALSModel") -> float:
        """Chance that one cell leaving the CSF enters the patch (only an entry pathway returns > 0)."""
        return 0.0

    def microglia_push(self, model: "ALSModel", cells) -> np.ndarray | None:
        """Extra push toward the protective state for every microglial cell (`cells`: the microglia columns), or None."""
        return None

    def release(self, model: "ALSModel") -> Iterable[tuple[np.ndarray, np.ndarray]]:
        """Secretion into the fields as (flat field·voxel index, concentration rate per hour) pairs."""
        return ()

    def after_fields(self, model: "ALSModel") -> None:
        """Act on the fields after they advanced over the step."""

    def state(self) -> dict[str, float]:
        """The pathway's recorded state (time-series columns); empty for a stateless pathway."""
        return {}


REGISTRY: dict[str, type[Pathway]] = {}


def register(cls: type[Pathway]) -> type[Pathway]:
    """Class decorator: list the pathway under its switch name."""
    if cls.name in REGISTRY:
        raise ValueError(f"two pathways are named {cls.name!r}")
    REGISTRY[cls.name] = cls
    return cls


def switched_on(cfg: SimConfig) -> list[Pathway]:
    """A fresh instance of every pathway whose switch is on, by stage, then in registry order."""
    on = [cls for name, cls in REGISTRY.items() if getattr(cfg.msc.pathways, name)]
    return [cls(cfg) for cls in sorted(on, key=lambda c: c.stage)]


def relay(state: float, inflow: float, tau_days: float, dt_days: float) -> float:
    """Exact step of ds/dt = inflow − s/τ with the inflow constant over the step (a first-order memory)."""
    decay = np.exp(-dt_days / tau_days)
    return float(state * decay + inflow * tau_days * (1.0 - decay))


def saturating(x: float, ec50: float) -> float:
    return x / (x + ec50) if x > 0 else 0.0
