"""The explain panel's content, generated from the code rather than retyped.

Each mechanism is described by its module docstring (`sim/agents/*.py`, `sim/pk.py`,
`sim/fields.py`, …) and its parameters by the metadata every field of `sim.config` carries
(unit, plausible range, source, meaning), so the panel cannot drift from the model.
"""
from __future__ import annotations

import importlib
import inspect
import math
from dataclasses import dataclass

from sim.config import SimConfig, iter_params
from sim.params import ASSUMPTION

# (title, modules whose docstrings describe it, config sections whose parameters it uses)
MECHANISMS = (
    ("One time step", ("sim.model",), ()),
    ("Disease course without treatment", (), ("disease",)),
    ("Motor neurons", ("sim.agents.motor_neuron",), ("neurons",)),
    ("Microglia", ("sim.agents.microglia",), ("microglia",)),
    ("Regulatory T cells (Tregs)", ("sim.agents.treg",), ("tregs",)),
    ("Diffusing molecules (fields)", ("sim.fields",), ("fields",)),
    ("MSCs: blood, lung, tissue and their effects", ("sim.agents.msc", "sim.pk"), ("msc",)),
    ("The treatment course", ("sim.treatment",), ("treatment",)),
    ("The tissue patch and outputs", ("sim.recorder",), ("domain",)),
)


@dataclass(frozen=True)
class ParamRow:
    key: str
    default: str
    unit: str
    plausible: str
    source: str
    meaning: str
    assumption: bool


@dataclass(frozen=True)
class Section:
    title: str
    summary: str      # plain-language first paragraph(s)
    details: str      # the rest of the docstrings (rules, formulas, references)
    params: tuple[ParamRow, ...]

    @property
    def n_assumptions(self) -> int:
        return sum(p.assumption for p in self.params)


def _num(x: object) -> str:
    if isinstance(x, bool):
        return str(x).lower()
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


def _split_doc(doc: str) -> tuple[str, str]:
    """First paragraph (plain summary) and the rest (details)."""
    paragraphs = inspect.cleandoc(doc or "").split("\n\n")
    return " ".join(paragraphs[0].split()), "\n\n".join(paragraphs[1:]).strip()


def param_rows(section: str) -> tuple[ParamRow, ...]:
    node = getattr(SimConfig(), section)
    rows = []
    for key, f, value in iter_params(node, f"{section}."):
        m = f.metadata
        plaus = m.get("plausible")
        source = m.get("source", "")
        rows.append(ParamRow(key, _num(value), m.get("unit", ""), f"{_num(plaus[0])} – {_num(plaus[1])}" if plaus else "",
                             source, m.get("doc", ""), source.startswith(ASSUMPTION)))
    return tuple(rows)


def sections() -> list[Section]:
    """Every mechanism with its plain summary, its rules and its parameter table."""
    out = []
    for title, modules, config_sections in MECHANISMS:
        summaries, details = [], []
        for name in modules:
            summary, rest = _split_doc(importlib.import_module(name).__doc__ or "")
            summaries.append(summary)
            details.append(rest)
        for section in config_sections:
            doc = type(getattr(SimConfig(), section)).__doc__ or ""
            if not modules:
                summaries.append(" ".join(doc.split()))
        params = tuple(row for s in config_sections for row in param_rows(s))
        out.append(Section(title, " ".join(summaries), "\n\n".join(d for d in details if d), params))
    return out
