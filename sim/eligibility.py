"""Who can be treated, and what a day on a preset's clock means.

An individual whose untreated (control) arm reached end stage on or before the first infusion day was never
treatable: the treated arm is infused after the end, so its "delay" of 0 days says nothing about the
treatment. Such seeds are *not eligible*: compare, report and dashboard count them as such and leave them out
of every effect statistic (with the human preset's wide between-individual spread, fast progressors reach end
stage years before a fixed infusion day).

Days are on the preset's clock (`disease.clock`: age for the mouse, days since the reference individual's
symptom onset for the human); a negative day lies before the clock's day 0, and `day_note` says so in words.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

NOT_ELIGIBLE = "not eligible"


def not_eligible_reason(control_end_stage_day: float | None, first_infusion_day: float | None) -> str | None:
    """Why a seed is not eligible for the course, or None if it is (or if there is no infusion to judge)."""
    if control_end_stage_day is None or first_infusion_day is None:
        return None
    if any(isinstance(x, float) and math.isnan(x) for x in (control_end_stage_day, first_infusion_day)):
        return None
    if control_end_stage_day <= first_infusion_day:
        return (f"{NOT_ELIGIBLE}: the untreated individual reached end stage on day {control_end_stage_day:g}, "
                f"before the first infusion on day {first_infusion_day:g}; its effect is left out")
    return None


def summary_reason(summary: dict[str, Any]) -> str | None:
    """`not_eligible_reason` for one run's summary.json (None for a control-only run)."""
    if not summary.get("effect"):
        return None
    days = (summary.get("treatment") or {}).get("infusion_days") or []
    first = days[0] if days else (summary.get("treatment") or {}).get("start_day")
    return not_eligible_reason(summary["arms"]["control"].get("end_stage_days"), first)


def eligible(runs: pd.DataFrame) -> pd.Series:
    """Per row of runs.parquet (or the per-seed table): False where the control reached end stage by the first infusion."""
    end, first = runs["control_end_stage_days"], runs["start_day"]
    return ~(end.notna() & first.notna() & (end <= first))


def day_note(day: float | None, clock: str) -> str | None:
    """Words for a day before the clock's day 0 (e.g. T50 −215 on the human clock), else None."""
    if day is None or day >= 0:
        return None
    return f"day {day:g} is {abs(day):g} days before day 0 of the clock ({clock})"
