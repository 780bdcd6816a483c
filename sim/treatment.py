"""The IV MSC dosing schedule: which days an infusion happens, and how many cells it holds."""
from __future__ import annotations

from sim.config import DiseaseConfig, TreatmentConfig


def infusion_days(t: TreatmentConfig, d: DiseaseConfig) -> list[float]:
    """Days of each infusion that falls inside the simulated window."""
    if not t.enabled or t.dose_cells_per_kg <= 0:
        return []
    days = [t.start_day + k * t.interval_days for k in range(t.n_infusions)]
    return [day for day in days if d.start_day <= day < d.horizon_days]


def cells_per_infusion(t: TreatmentConfig, d: DiseaseConfig) -> int:
    """Cells in one infusion: dose per kg × body weight."""
    return int(round(t.dose_cells_per_kg * d.body_weight_kg))
