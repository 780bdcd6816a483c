"""Who can be treated, and what a day on a preset's clock means.

An individual whose untreated (control) arm reached end stage on or before the first infusion day was never
treatable: the treated arm is infused after the end, so its "delay" of 0 days says nothing about the
treatment. Such seeds are *not eligible*: compare, report and dashboard count them as such and leave them out
of every effect statistic (with the human preset's wide between-individual spread, fast progressors reach end
stage years before a fixed infusion day).

A trial also enrols only within a window after symptom onset (e.g. 24 months). With
`treatment.eligibility_max_days_from_onset` set, an individual whose untreated arm's onset lies more than that many
days before the first infusion is not eligible either, for the same reason and in the same places. It is a
trial-design setting: it changes which seeds enter the statistics, never the simulation. An individual without
an onset before the first infusion (presymptomatic, or none in the simulated days) is inside the window.

Days are on the preset's clock (`disease.clock`: age for the mouse, days since the reference individual's
symptom onset for the human); a negative day lies before the clock's day 0, and `day_note` says so in words.
"""
from __future__ import annotations

import math
from typing import Any

import pandas as pd

NOT_ELIGIBLE = "not eligible"
WINDOW_KEY = "treatment.eligibility_max_days_from_onset"
# why a seed is not eligible, as counted by alsim-compare and the dashboard
END_STAGE, PAST_WINDOW = "end stage", "past the onset window"


def _known(*xs: float | None) -> bool:
    return all(x is not None and not (isinstance(x, float) and math.isnan(x)) for x in xs)


def not_eligible_reason(control_end_stage_day: float | None, first_infusion_day: float | None,
                        control_onset_day: float | None = None, max_days_from_onset: float | None = None) -> str | None:
    """Why a seed is not eligible for the course, or None if it is (or if there is no infusion to judge).

    End stage on or before the first infusion comes first; then, if a window is set (`max_days_from_onset`), symptom
    onset more than that many days before the first infusion."""
    if not _known(first_infusion_day):
        return None
    if _known(control_end_stage_day) and control_end_stage_day <= first_infusion_day:
        return (f"{NOT_ELIGIBLE}: the untreated individual reached end stage on day {control_end_stage_day:g}, "
                f"before the first infusion on day {first_infusion_day:g}; its effect is left out")
    if _known(control_onset_day, max_days_from_onset) and first_infusion_day - control_onset_day > max_days_from_onset:
        return (f"{NOT_ELIGIBLE}: the untreated individual's symptom onset on day {control_onset_day:g} lies "
                f"{first_infusion_day - control_onset_day:g} days before the first infusion on day {first_infusion_day:g}, "
                f"past the eligibility window ({WINDOW_KEY}={max_days_from_onset:g}); its effect is left out")
    return None


def summary_reason(summary: dict[str, Any]) -> str | None:
    """`not_eligible_reason` for one run's summary.json (None for a control-only run)."""
    if not summary.get("effect"):
        return None
    treatment = summary.get("treatment") or {}
    days = treatment.get("infusion_days") or []
    first = days[0] if days else treatment.get("start_day")
    control = summary["arms"]["control"]
    return not_eligible_reason(control.get("end_stage_days"), first, control.get("onset_days"),
                               treatment.get("eligibility_max_days_from_onset"))


def not_eligible_kind(runs: pd.DataFrame) -> pd.Series:
    """Per row of runs.parquet (or the per-seed table): END_STAGE, PAST_WINDOW or None (eligible), as
    `not_eligible_reason` judges (a table without the onset or window columns has no window)."""
    nan = pd.Series(float("nan"), index=runs.index)
    end, first = runs["control_end_stage_days"], runs["start_day"]
    onset, window = runs.get("control_onset_days", nan), runs.get("eligibility_max_days_from_onset", nan)
    past_end = end.notna() & first.notna() & (end <= first)
    past_window = onset.notna() & window.notna() & first.notna() & (first - onset > window)
    # end stage first, as in not_eligible_reason
    return pd.Series([END_STAGE if end_ else PAST_WINDOW if window_ else None
                      for end_, window_ in zip(past_end, past_window)], index=runs.index, dtype=object)


def eligible(runs: pd.DataFrame) -> pd.Series:
    """Per row of runs.parquet (or the per-seed table): False where the seed is not eligible (`not_eligible_kind`)."""
    return not_eligible_kind(runs).isna()


def day_note(day: float | None, clock: str) -> str | None:
    """Words for a day before the clock's day 0 (e.g. T50 −215 on the human clock), else None."""
    if day is None or day >= 0:
        return None
    return f"day {day:g} is {abs(day):g} days before day 0 of the clock ({clock})"
