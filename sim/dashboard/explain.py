"""The explain panel's content, generated from the code rather than retyped.

Each mechanism is described by its module docstring (`sim/agents/*.py`, `sim/pk.py`,
`sim/fields.py`, …) and its parameters by the metadata every field of `sim.config` carries
(unit, plausible range, kind, source, meaning), so the panel cannot drift from the model. Every MSC
pathway is its own section, from the pathway registry (`sim.pathways`), and a local pathway's title
says how little of an IV dose reaches the patch it would act in.
"""
from __future__ import annotations

import importlib
import inspect
import math
from dataclasses import dataclass

from sim import pathways
from sim.config import SimConfig, iter_params
from sim.pathways.homing import iv_reach
from sim.params import ASSUMPTION

# (title, modules whose docstrings describe it, config sections whose parameters it uses)
MECHANISMS = (
    ("One time step", ("sim.model",), ()),
    ("Disease course without treatment", (), ("disease",)),
    ("Motor neurons", ("sim.agents.motor_neuron",), ("neurons",)),
    ("Microglia", ("sim.agents.microglia",), ("microglia",)),
    ("Regulatory T cells (Tregs)", ("sim.agents.treg",), ("tregs",)),
    ("Diffusing molecules (fields)", ("sim.fields",), ("fields",)),
    ("Barrier leak, glutamate uptake and blood-derived products", ("sim.environment",), ()),
    ("MSCs: blood, lung and tissue", ("sim.agents.msc", "sim.pk"), ("msc",)),
    ("The treatment course", ("sim.treatment",), ("treatment",)),
    ("Experimental manipulations (calibration)", ("sim.manipulation",), ("manipulation",)),
    ("The tissue patch and outputs", ("sim.recorder",), ("domain",)),
)
PATHWAYS_AFTER = "MSCs: blood, lung and tissue"  # the pathway sections follow this one


@dataclass(frozen=True)
class ParamRow:
    key: str
    default: str
    unit: str
    plausible: str
    source: str
    meaning: str
    kind: str

    @property
    def assumption(self) -> bool:
        return self.kind == ASSUMPTION


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
    if isinstance(x, bool) or x is None:
        return str(x).lower() if isinstance(x, bool) else "null"
    if isinstance(x, float) and math.isinf(x):
        return "∞"
    return f"{x:g}" if isinstance(x, (int, float)) else str(x)


def _split_doc(doc: str) -> tuple[str, str]:
    """First paragraph (plain summary) and the rest (details)."""
    paragraphs = inspect.cleandoc(doc or "").split("\n\n")
    return " ".join(paragraphs[0].split()), "\n\n".join(paragraphs[1:]).strip()


def _row(key: str, f, value) -> ParamRow:
    m = f.metadata
    plaus = m.get("plausible")
    return ParamRow(key, _num(value), m.get("unit", ""), f"{_num(plaus[0])} – {_num(plaus[1])}" if plaus else "",
                    m.get("source", ""), m.get("doc", ""), m.get("kind") or m.get("source", ""))


def _claimed() -> set[str]:
    """Config keys listed by some pathway: shown with that pathway, not in the general MSC table."""
    return {key for cls in pathways.REGISTRY.values() for key in cls.params}


def param_rows(section: str, keys: tuple[str, ...] | None = None) -> tuple[ParamRow, ...]:
    """The parameter rows of a config section (only `keys`, if given; the msc section without pathway keys)."""
    node = getattr(SimConfig(), section)
    claimed = _claimed() if section == "msc" and keys is None else set()
    return tuple(_row(key, f, value) for key, f, value in iter_params(node, f"{section}.")
                 if (keys is None or key in keys) and key not in claimed and not key.startswith("msc.pathways."))


def _pathway_section(cls: type[pathways.Pathway]) -> Section:
    cfg = SimConfig()
    summary, rest = _split_doc(importlib.import_module(cls.__module__).__doc__ or "")
    if cls.route == pathways.LOCAL:
        patch_mm3 = cfg.domain.width_um * cfg.domain.height_um * cfg.domain.slab_thickness_um / 1e9
        reach = (f"Local route: after IV infusion at most ≈ {iv_reach(cfg, patch_mm3):.0e} of the infused cells reach the "
                 "default patch, so this pathway has almost nothing to act through; it is listed, not live.")
        summary = f"{reach} {summary}"
    facts = (f"Switch: msc.pathways.{cls.name}. Reads: {cls.reads}. Changes: {cls.changes}. Memory: {cls.memory}. "
             f"Sources: {'; '.join(cls.sources)}.")
    rows = tuple(row for section in ("msc", "disease") for row in param_rows(section, cls.params))
    return Section(f"MSC pathway: {cls.name} ({cls.route})", summary, "\n\n".join(x for x in (facts, rest) if x), rows)


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
        if title == PATHWAYS_AFTER:
            out += [_pathway_section(cls) for cls in pathways.REGISTRY.values()]
    return out
