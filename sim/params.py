"""Parameter declarations: every model parameter carries its unit, plausible range, source and kind.

`param(...)` wraps `dataclasses.field` and stores the metadata that `sim.config.validate`
(hard bounds) and `sim.docs` (the generated parameter table) read. The kind says how the value is
supported:

* measured   — a cited paper reports this number (or a directly convertible one) in a comparable system;
               the source says what it measured;
* derived    — computed from measured numbers or fitted to published data; the source says from what and how;
* assumption — judgement; a paper may support the direction or ordering only (the source says which).

The kind is read from the source text: it starts with "assumption" or "derived", or it is a measurement.
"""
from __future__ import annotations

import dataclasses
import math
from typing import Any

ASSUMPTION = "assumption"
DERIVED = "derived"
MEASURED = "measured"
KINDS = (MEASURED, DERIVED, ASSUMPTION)


def kind_of(source: str) -> str:
    """measured, derived or assumption, from how a source text begins."""
    text = source.strip().lower()
    return next((k for k in (ASSUMPTION, DERIVED) if text.startswith(k)), MEASURED)


def param(
    default: Any,
    unit: str,
    plausible: tuple[float, float] | None,
    source: str,
    doc: str,
    *,
    bounds: tuple[float, float] = (0.0, math.inf),
) -> Any:
    """A model parameter.

    plausible: the range the evidence (or judgement, if the source is an assumption) supports;
        used by the docs and by sensitivity designs.
    bounds: the hard range the code accepts (inclusive); outside it the run refuses to start.
    """
    meta = {"unit": unit, "plausible": plausible, "source": source, "doc": doc, "bounds": bounds, "kind": kind_of(source)}
    return dataclasses.field(default=default, metadata=meta)


def setting(default: Any, doc: str, *, bounds: tuple[float, float] | None = None, unit: str = "") -> Any:
    """A numerical or bookkeeping setting (not biology): grid size, time step, output cadence."""
    meta = {"unit": unit, "plausible": None, "source": "setting", "doc": doc, "bounds": bounds}
    return dataclasses.field(default=default, metadata=meta)


def switch(default: bool, doc: str) -> Any:
    """An on/off switch for a mechanism (used for knock-out experiments)."""
    meta = {"unit": "", "plausible": None, "source": "switch", "doc": doc, "bounds": None}
    return dataclasses.field(default=default, metadata=meta)
