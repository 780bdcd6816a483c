"""The MSC dosing schedule: which days an infusion (IV) or injection (intrathecal) happens, and how many cells it holds.

The schedule is either regular (`n_infusions` every `interval_days` from `start_day`) or, when
`offsets_days` is given, irregular: one injection on `start_day` + each offset (e.g. ALSUMMIT's two
injections 26 days apart and boosters at 4, 7 and 10 months).

A dose is either per kg of body weight (`dose_cells_per_kg`, the usual IV unit) or per injection
(`cells_per_dose`, the usual intrathecal unit); a per-injection dose > 0 replaces the per-kg one.
"""
from __future__ import annotations

from collections.abc import Sequence

from sim.config import DiseaseConfig, TreatmentConfig


def schedule(start_day: float, n_infusions: int, interval_days: float, offsets_days: Sequence = ()) -> list[float]:
    """Planned infusion days: start_day + each offset if any are given, else n_infusions every interval_days. The one
    rule for a config (`planned_days`) and for a sweep's runs table (`sim.figures.scheduled_days`)."""
    if offsets_days:
        return [start_day + float(x) for x in offsets_days]
    return [start_day + k * interval_days for k in range(n_infusions)]


def planned_days(t: TreatmentConfig) -> list[float]:
    """Every planned infusion day of a treatment config."""
    return schedule(t.start_day, t.n_infusions, t.interval_days, t.offsets_days)


def n_planned(t: TreatmentConfig) -> int:
    """Number of planned infusions (the length of `offsets_days` when given, else `n_infusions`)."""
    return len(t.offsets_days) if t.offsets_days else t.n_infusions


def infusion_days(t: TreatmentConfig, d: DiseaseConfig) -> list[float]:
    """Days of each infusion that falls inside the simulated window."""
    if not t.enabled or not has_dose(t):
        return []
    return [day for day in planned_days(t) if d.start_day <= day < d.horizon_days]


def infusions_past_horizon(t: TreatmentConfig, d: DiseaseConfig) -> list[float]:
    """Planned infusion days on or after the horizon: not simulated (a warning, recorded in summary.json)."""
    if not t.enabled or not has_dose(t):
        return []
    return [day for day in planned_days(t) if day >= d.horizon_days]


def course_warning(t: TreatmentConfig, d: DiseaseConfig) -> str | None:
    """One line naming the infusions that fall past the horizon, or None."""
    late = infusions_past_horizon(t, d)
    if not late:
        return None
    key = f"treatment.offsets_days (a course of {n_planned(t)})" if t.offsets_days else f"treatment.n_infusions={t.n_infusions}"
    return (f"{len(late)} of {key} infusion(s) (day(s) {', '.join(f'{x:g}' for x in late)}) "
            f"fall on or after disease.horizon_days={d.horizon_days:g} and are not simulated")


def has_dose(t: TreatmentConfig) -> bool:
    return t.cells_per_dose > 0 or t.dose_cells_per_kg > 0


def cells_per_infusion(t: TreatmentConfig, d: DiseaseConfig) -> int:
    """Cells in one infusion or injection: `cells_per_dose` if given, else dose per kg × body weight."""
    if t.cells_per_dose > 0:
        return round(t.cells_per_dose)
    return int(round(t.dose_cells_per_kg * d.body_weight_kg))


def dose_per_kg(t: TreatmentConfig, d: DiseaseConfig) -> float:
    """The dose per kg of body weight actually given (`dose_cells_per_kg`, or `cells_per_dose` ÷ body weight)."""
    return t.cells_per_dose / d.body_weight_kg if t.cells_per_dose > 0 else t.dose_cells_per_kg
