"""The MSC dosing schedule: which days an infusion (IV) or injection (intrathecal) happens, and how many cells it holds.

A dose is either per kg of body weight (`dose_cells_per_kg`, the usual IV unit) or per injection
(`cells_per_dose`, the usual intrathecal unit); a per-injection dose > 0 replaces the per-kg one.
"""
from __future__ import annotations

from sim.config import DiseaseConfig, TreatmentConfig


def infusion_days(t: TreatmentConfig, d: DiseaseConfig) -> list[float]:
    """Days of each infusion that falls inside the simulated window."""
    if not t.enabled or not has_dose(t):
        return []
    days = [t.start_day + k * t.interval_days for k in range(t.n_infusions)]
    return [day for day in days if d.start_day <= day < d.horizon_days]


def infusions_past_horizon(t: TreatmentConfig, d: DiseaseConfig) -> list[float]:
    """Planned infusion days on or after the horizon: not simulated (a warning, recorded in summary.json)."""
    if not t.enabled or not has_dose(t):
        return []
    return [day for day in (t.start_day + k * t.interval_days for k in range(t.n_infusions)) if day >= d.horizon_days]


def course_warning(t: TreatmentConfig, d: DiseaseConfig) -> str | None:
    """One line naming the infusions that fall past the horizon, or None."""
    late = infusions_past_horizon(t, d)
    if not late:
        return None
    return (f"{len(late)} of treatment.n_infusions={t.n_infusions} infusion(s) (day(s) {', '.join(f'{x:g}' for x in late)}) "
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
