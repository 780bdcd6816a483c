"""`alsim-compare --contrast KEY=A:B`: the modeled effect in scenario B minus the one in scenario A.

Each run's effect is already paired (treated − control, same seed). A contrast asks how that effect changes
between two scenarios of a sweep ("4 infusions vs 1", "human vs mouse"): for every combination of the other
swept parameters, the per-seed T50 delay (and AUC gain) of B minus that of A.

* Paired: when the two scenarios share seeds, the difference is taken seed by seed on the shared seeds (the same
  virtual individual under both scenarios), and its mean gets the percentile-bootstrap CI of
  `compare.bootstrap_mean_ci`. Seeds present in only one scenario are left out and counted.
* Unpaired: when they share no seed, mean(B) − mean(A) with a two-sample percentile bootstrap (each scenario
  resampled on its own, the same resample count and confidence level).

Seeds that are not eligible (past end stage before the first infusion, `sim.eligibility`) are already left out
of the per-seed table this module reads. NON-CLINICAL: a contrast is a consequence of the model's assumptions.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats

from sim.experiments.collect import CompareError, column_name, typed
from sim.experiments.compare import _RNG_ARG, CONFIDENCE, N_RESAMPLES, MeanCI, bootstrap_mean_ci

OUTCOMES = {"t50_delay": "t50_delay_value_days", "auc_gain": "auc_gain_days"}
CONTRAST_COLUMNS = ["contrast", "contrast_key", "contrast_a", "contrast_b", "pairing", "n_a", "n_b", "n_pairs",
                    "t50_delay_difference_mean_days", "t50_delay_difference_ci_low_days",
                    "t50_delay_difference_ci_high_days", "auc_gain_difference_mean_days",
                    "auc_gain_difference_ci_low_days", "auc_gain_difference_ci_high_days", "contrast_reading"]


@dataclass(frozen=True)
class Contrast:
    """A parsed `--contrast KEY=A:B`: scenario column, and the two values (as the dataset stores them)."""

    column: str
    a: Any
    b: Any

    @property
    def label(self) -> str:
        from sim.figures import fmt_value
        return f"{self.column}: {fmt_value(self.b)} − {fmt_value(self.a)}"


def parse(text: str) -> tuple[str, str, str]:
    """`KEY=A:B` -> (KEY, A, B); raises ValueError with a one-line reason."""
    key, sep, values = text.partition("=")
    a, colon, b = values.partition(":")
    if not (sep and colon and key.strip() and a.strip() and b.strip()):
        raise ValueError(f"--contrast {text!r} is invalid: expected KEY=A:B, e.g. --contrast n_infusions=1:4")
    if a.strip() == b.strip():
        raise ValueError(f"--contrast {text!r} is invalid: A and B are the same scenario")
    return key.strip(), a.strip(), b.strip()


def _match(value: str, present: list[Any]) -> Any:
    """The stored value equal to `value` as typed on the command line (4e7 == 40000000.0)."""
    want = typed(value)
    for v in present:
        if v == want or str(v) == value or (isinstance(v, (int, float)) and isinstance(want, (int, float))
                                             and not isinstance(want, bool) and math.isclose(v, want)):
            return v
    return None


def resolve(text: str, paired: pd.DataFrame, scenario_cols: list[str]) -> Contrast:
    """Check a `--contrast` against the collected scenarios; raise CompareError (one line) if it names none."""
    key, a, b = parse(text)
    column = key if key in scenario_cols else column_name(key)
    if column not in scenario_cols:
        from sim.help import suggestion
        raise CompareError(f"--contrast {text}: {key} is not a parameter that differs between the runs (those are: "
                           f"{', '.join(scenario_cols)}){suggestion(key, scenario_cols)}")
    present = sorted(paired[column].dropna().unique().tolist(), key=str)
    values = [_match(v, present) for v in (a, b)]
    for given, found in zip((a, b), values):
        if found is None:
            raise CompareError(f"--contrast {text}: no treated run has {column}={given} (present: "
                               f"{', '.join(map(str, present))})")
    return Contrast(column, values[0], values[1])


def bootstrap_difference_ci(a: np.ndarray, b: np.ndarray, seed: int = 0) -> MeanCI:
    """mean(b) − mean(a) of two independent samples with a two-sample percentile-bootstrap CI (n = len(a) + len(b))."""
    a, b = (np.asarray(x, dtype=float) for x in (a, b))
    a, b = a[np.isfinite(a)], b[np.isfinite(b)]
    if not a.size or not b.size:
        return MeanCI(math.nan, math.nan, math.nan, 0)
    diff = float(b.mean() - a.mean())
    if a.size < 2 or b.size < 2:
        return MeanCI(diff, math.nan, math.nan, int(a.size + b.size))
    if np.all(a == a[0]) and np.all(b == b[0]):
        return MeanCI(diff, diff, diff, int(a.size + b.size))
    res = stats.bootstrap((a, b), lambda x, y, axis=-1: y.mean(axis=axis) - x.mean(axis=axis), n_resamples=N_RESAMPLES,
                          confidence_level=CONFIDENCE, method="percentile", vectorized=True, paired=False,
                          **{_RNG_ARG: np.random.default_rng(seed)})
    return MeanCI(diff, float(res.confidence_interval.low), float(res.confidence_interval.high), int(a.size + b.size))


def _reading(ci: MeanCI) -> str:
    if math.isnan(ci.mean):
        return "undefined: no seed with a defined T50 delay in one of the scenarios"
    if ci.n < 2 or math.isnan(ci.low):
        return "no interval (too few seeds)"
    if ci.low <= 0 <= ci.high:
        return "no modeled difference distinguishable from zero"
    return "longer modeled delay in B" if ci.low > 0 else "shorter modeled delay in B"


def _stratum_row(c: Contrast, group_a: pd.DataFrame, group_b: pd.DataFrame, seed: int) -> dict[str, Any]:
    shared = sorted(set(group_a["seed"]) & set(group_b["seed"]))
    row: dict[str, Any] = {"contrast": c.label, "contrast_key": c.column, "contrast_a": c.a, "contrast_b": c.b,
                           "pairing": "paired by seed" if shared else "unpaired", "n_a": len(group_a),
                           "n_b": len(group_b), "n_pairs": len(shared)}
    for name, col in OUTCOMES.items():
        if shared:
            a = group_a.set_index("seed").loc[shared, col].to_numpy(dtype=float)
            b = group_b.set_index("seed").loc[shared, col].to_numpy(dtype=float)
            ci = bootstrap_mean_ci(b - a, seed)
        else:
            ci = bootstrap_difference_ci(group_a[col].to_numpy(), group_b[col].to_numpy(), seed)
        row.update({f"{name}_difference_mean_days": ci.mean, f"{name}_difference_ci_low_days": ci.low,
                    f"{name}_difference_ci_high_days": ci.high})
        if name == "t50_delay":
            row["contrast_reading"] = _reading(ci)
    return row


def contrast_table(paired: pd.DataFrame, scenario_cols: list[str], c: Contrast, seed: int = 0) -> pd.DataFrame:
    """One row per combination of the other scenario columns: B − A of the per-seed paired effects."""
    others = [k for k in scenario_cols if k != c.column and paired[k].nunique(dropna=False) > 1]
    rows = []
    groups = paired.groupby(others, dropna=False, sort=True) if others else [((), paired)]
    for key, group in groups:
        sides = [group[group[c.column] == v] for v in (c.a, c.b)]
        if sides[0].empty or sides[1].empty:
            continue
        row = dict(zip(others, key if isinstance(key, tuple) else (key,)))
        row.update(_stratum_row(c, *sides, seed))
        rows.append(row)
    return pd.DataFrame(rows, columns=[*others, *CONTRAST_COLUMNS])


def display(table: pd.DataFrame) -> pd.DataFrame:
    """The contrast rows formatted for people (printed and in the report)."""
    def ci(r, name: str) -> str:
        m, lo, hi = (getattr(r, f"{name}_difference_{p}_days") for p in ("mean", "ci_low", "ci_high"))
        return "n/a" if pd.isna(m) else f"{m:+.2f} [" + ("n/a" if pd.isna(lo) else f"{lo:+.2f}, {hi:+.2f}") + "]"
    others = [k for k in table.columns if k not in CONTRAST_COLUMNS]
    out = pd.DataFrame({k: table[k].astype(str) for k in others})
    out["contrast (B − A)"] = table["contrast"]
    out["pairing"] = [f"{r.pairing} ({r.n_pairs} pairs)" if r.n_pairs else f"unpaired ({r.n_a} vs {r.n_b} seeds)"
                      for r in table.itertuples()]
    out["T50 delay difference, d: mean [95% CI]"] = [ci(r, "t50_delay") for r in table.itertuples()]
    out["AUC gain difference, d: mean [95% CI]"] = [ci(r, "auc_gain") for r in table.itertuples()]
    out["reading"] = table["contrast_reading"]
    return out


NOTE = ("Contrast: the per-seed paired effect (treated − control) in scenario B minus the one in scenario A, for each "
        "combination of the other swept parameters; paired by seed where the scenarios share seeds (shared seeds only), "
        f"else unpaired (two-sample bootstrap); 95 % percentile-bootstrap CI ({N_RESAMPLES} resamples).")
