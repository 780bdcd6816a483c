"""Regional spread: an individual's disease as a sequence of body regions, each one simulated patch.

ALS starts focally and spreads to contiguous regions (Ravits & La Spada 2009 Neurology 73:805,
doi:10.1212/WNL.0b013e3181b6bbbd; LMN loss at death graded away from the onset region: Ravits et al.
2007 Neurology 68:1576), and the involvement of further regions happens at predictable proportions of the
disease course (King's staging: Roche et al. 2012 Brain 135:847, doi:10.1093/brain/awr351). ALSFRS-R, the
functional scale the human targets use, is the sum of four 12-point domains (bulbar, fine motor, gross
motor, respiratory: Cedarbaum et al. 1999 J Neurol Sci 169:13, doi:10.1016/S0022-510X(99)00210-5), so a
person's score is a sum of regions affected one after another, not one region's curve.

The rule (`disease.regions`, `disease.spread_delay_days`):
- region 0 is the onset region, the patch a run records in full (snapshots, dashboard, T50);
- region k's local disease clock (intrinsic drive, EAAT2 loss, barrier leak) runs k·δᵢ behind region 0,
  with δᵢ = spread_delay_days · (drive multiplier)^(−1/(m+1)): spread runs on the individual's own disease
  clock, as the staging proportions imply (a fast progressor spreads fast; assumption on the form);
- every region has its own tissue (its own random streams) and the same infusions, blood and Treg level;
- the person's functional index, motor-unit index and surviving fraction are the means over regions
  (equal ALSFRS-R domains; MUNIX sums muscles of several regions: Neuwirth et al. 2015 JNNP 86:1172).

Clinical onset is the onset region's (the first region's symptoms); end stage is the person's index.
With one region (the mouse presets) the person is the patch, exactly.
"""
from __future__ import annotations

from typing import Any

from sim.config import DiseaseConfig

# Per-region columns averaged into the person's columns of the time series.
PERSON_COLUMNS = {"functional_index": "person_functional_index", "motor_unit_index": "person_motor_unit_index",
                  "mn_alive_fraction": "person_mn_alive_fraction"}


def region_lag_days(d: DiseaseConfig, drive_multiplier: float, region: int) -> float:
    """How far region `region`'s local disease clock runs behind the onset region's (days)."""
    if region == 0:
        return 0.0
    return region * d.spread_delay_days * drive_multiplier ** (-1.0 / (d.drive_exponent + 1.0))


def add_person_columns(rows: list[dict[str, Any]], other_regions: list[list[dict[str, float]]]) -> None:
    """Add the person's columns to the onset region's rows: the means over it and the other regions' rows."""
    for i, row in enumerate(rows):
        for column, person in PERSON_COLUMNS.items():
            values = [row[column]] + [region[i][column] for region in other_regions]
            row[person] = sum(values) / len(values)
