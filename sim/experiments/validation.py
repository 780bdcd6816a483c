"""The preclinical MSC treatment table (experiments/validation/msc_preclinical.csv) and its fixed training/held-out split.

One row per treatment arm of an MSC study in SOD1 rodents; every number in it was seen in the paper's own text (the
column `checked_in` says where), a study that could not be checked is listed without numbers. The split is by study
and was fixed before any fitting; `split_digest()` recomputes the SHA-256 that experiments/validation/README.md
records, so a changed split is caught (tests/test_validation_table.py).

The file is found the way `sim.presets.find_config_dir` finds `configs/`: a packaged copy next to the package
(`sim/validation/msc_preclinical.csv`, for a wheel that carries it) first, else the source checkout's
`experiments/validation/` (also what an editable install uses).
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import pandas as pd

FILENAME = "msc_preclinical.csv"
COLUMNS = ["study_id", "arm", "first_author", "year", "journal", "doi", "species", "strain", "sex", "cell_source", "route",
           "cells_per_dose", "doses", "interval_days", "cells_per_kg", "age_first_dose_days", "stage_first_dose",
           "n_control", "n_treated", "control_onset_days", "treated_onset_days", "control_survival_days",
           "treated_survival_days", "survival_stat", "survival_spread", "survival_outcome", "motor_outcome", "mn_count_outcome",
           "gliosis_outcome", "split", "checked_in", "notes"]
ROUTES = ("iv", "intrathecal", "intraspinal", "intraperitoneal", "intracerebroventricular", "intramuscular")
SPLITS = ("training", "held_out")
SPECIES = ("mouse", "rat")
STAGES = ("pre-onset", "onset", "symptomatic")
SURVIVAL_STATS = ("mean", "median")
SURVIVAL_OUTCOMES = ("longer", "none")  # what the paper says of survival vs control; empty: not stated or not checked
NUMERIC = ["year", "cells_per_dose", "doses", "interval_days", "cells_per_kg", "age_first_dose_days", "n_control",
           "n_treated", "control_onset_days", "treated_onset_days", "control_survival_days", "treated_survival_days"]
# columns that may be empty (an unchecked number is left out); the rest must be filled on every row
REQUIRED = ["study_id", "arm", "first_author", "year", "journal", "route", "split"]
OUTCOME_NUMBERS = ["n_control", "n_treated", "control_onset_days", "treated_onset_days", "control_survival_days",
                   "treated_survival_days", "survival_spread"]
OUTCOME_TEXT = ["motor_outcome", "mn_count_outcome", "gliosis_outcome"]


def shipped(name: str) -> tuple[Path, Path]:
    """Where a file of experiments/validation/ lies: (the packaged copy in sim/validation/, the checkout's)."""
    return (Path(__file__).parent.parent / "validation" / name,
            Path(__file__).parent.parent.parent / "experiments" / "validation" / name)


def find_shipped(name: str) -> Path:
    """The packaged copy of a file of experiments/validation/ if present, else the checkout's path (existing or not)."""
    packaged, source = shipped(name)
    return packaged if packaged.is_file() else source


def find_table() -> Path:
    """The table's path: a packaged copy (sim/validation/) if present, else the checkout's experiments/validation/."""
    packaged, source = shipped(FILENAME)
    for path in (packaged, source):
        if path.is_file():
            return path
    raise RuntimeError(f"the MSC treatment table is missing: neither {packaged} nor {source} exists")


def _check_allowed(df: pd.DataFrame, column: str, allowed: tuple[str, ...], may_be_empty: bool) -> None:
    values = df[column]
    bad = sorted({v for v in values if not (v in allowed or (may_be_empty and v == ""))})
    if bad:
        raise ValueError(f"{column}: {bad[0]!r} is not allowed; allowed values are {', '.join(allowed)}"
                         + (" or empty" if may_be_empty else ""))


def validate(df: pd.DataFrame) -> pd.DataFrame:
    """Check the columns and their values; one-line ValueError naming the column and the allowed values."""
    if list(df.columns) != COLUMNS:
        missing = [c for c in COLUMNS if c not in df.columns]
        extra = [c for c in df.columns if c not in COLUMNS]
        raise ValueError(f"columns: missing {missing}, unexpected {extra} (or out of order); expected {', '.join(COLUMNS)}")
    for column in REQUIRED:
        empty = df.index[df[column] == ""].tolist()
        if empty:
            raise ValueError(f"{column}: empty on row {empty[0] + 2} of the file; it is required on every row")
    _check_allowed(df, "route", ROUTES, may_be_empty=False)
    _check_allowed(df, "split", SPLITS, may_be_empty=False)
    _check_allowed(df, "species", SPECIES, may_be_empty=True)
    _check_allowed(df, "stage_first_dose", STAGES, may_be_empty=True)
    _check_allowed(df, "survival_stat", SURVIVAL_STATS, may_be_empty=True)
    _check_allowed(df, "survival_outcome", SURVIVAL_OUTCOMES, may_be_empty=True)
    for column in NUMERIC:
        bad = [v for v in df[column] if v != "" and pd.isna(pd.to_numeric(v, errors="coerce"))]
        if bad:
            raise ValueError(f"{column}: {bad[0]!r} is not a number; allowed values are a number or empty")
    keys = df["study_id"] + "/" + df["arm"]
    if keys.duplicated().any():
        raise ValueError(f"arm: {keys[keys.duplicated()].iloc[0]!r} appears twice; (study_id, arm) must be unique")
    mixed = df.groupby("study_id")["split"].nunique()
    if (mixed > 1).any():
        raise ValueError(f"split: study {mixed[mixed > 1].index[0]!r} has arms in both sets; allowed is one split per study")
    return df


def load_studies(path: str | Path | None = None) -> pd.DataFrame:
    """The validated table (all cells as strings, empty = not checked); `path` defaults to the shipped table."""
    df = pd.read_csv(path or find_table(), dtype=str, keep_default_na=False)
    return validate(df)


def training_rows(path: str | Path | None = None) -> pd.DataFrame:
    """The arms inference may read."""
    df = load_studies(path)
    return df[df["split"] == "training"].reset_index(drop=True)


def held_out_rows(path: str | Path | None = None) -> pd.DataFrame:
    """The arms kept for checking the fitted model only; inference must never read them."""
    df = load_studies(path)
    return df[df["split"] == "held_out"].reset_index(drop=True)


def split_digest(path: str | Path | None = None) -> str:
    """SHA-256 (hex) of the lines "study_id,arm,split\\n", sorted by (study_id, arm), UTF-8 — the README's digest."""
    df = load_studies(path).sort_values(["study_id", "arm"])
    text = "".join(f"{s},{a},{p}\n" for s, a, p in zip(df["study_id"], df["arm"], df["split"]))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def has_outcome_number(row: pd.Series) -> bool:
    """Whether a row carries any outcome number (a numeric outcome cell, or a digit in an outcome text)."""
    return any(row[c] != "" for c in OUTCOME_NUMBERS) or any(ch.isdigit() for c in OUTCOME_TEXT for ch in row[c])
