"""The continuum-limit feasibility check (sim/experiments/feasibility.py) against its closed form."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import norm

from sim.experiments import calibrate, feasibility


def test_a_continuum_individual_has_the_analytic_onset_and_end_stage():
    """Death times lognormal with SD of log s = σ_v/(m+1): onset and end stage at the matching quantiles."""
    sv, m, offset, u = 0.8, 1.0, 2000.0, 2.0
    s = sv / (m + 1)
    people = feasibility.cohort(sv, m, offset, 0.0, u, onset_index=0.9, end_index=0.4, n=5)
    log_t50 = math.log(offset) - s * norm.isf(0.9 / u)
    end = math.exp(log_t50 + s * norm.ppf(1 - 0.4 / u)) - offset
    for p in people:  # no individual spread: five identical individuals
        assert p["onset_days"] == pytest.approx(0.0, abs=feasibility.STEP_DAYS)
        assert p["end_stage_days"] == pytest.approx(end, abs=feasibility.STEP_DAYS)


def test_individual_spread_scales_each_time_axis_and_orders_the_cohort():
    people = feasibility.cohort(0.6, 0.5, 1095.0, 0.9, 2.0, onset_index=0.9, end_index=0.4, n=41)
    survival, observed = calibrate._survival_from_onset(people)
    assert observed.all()
    assert np.all(np.diff(survival) < 0)  # z rises → faster individual → shorter survival
    sigma = calibrate.STATISTICS["log_survival_sd"](people)
    assert sigma == pytest.approx(0.9, abs=0.08)  # the spread of log time scales is the survival spread
    assert calibrate.STATISTICS["median_onset_days"](people) == pytest.approx(0.0, abs=feasibility.STEP_DAYS)
