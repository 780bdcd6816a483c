"""The preclinical MSC treatment table: it loads and validates, its split is the one the README records, arms of a
study are never split, both sets hold an IV row, a non-IV row and a null study, and every number says where it was seen."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from sim.experiments import validation as v

README = Path(__file__).resolve().parent.parent / "experiments" / "validation" / "README.md"


def test_the_table_loads_and_validates():
    df = v.load_studies()
    assert list(df.columns) == v.COLUMNS and len(df) > 0
    assert set(df["route"]) <= set(v.ROUTES) and set(df["split"]) == set(v.SPLITS)
    assert len(v.training_rows()) + len(v.held_out_rows()) == len(df)


def test_the_split_digest_is_the_one_the_readme_records():
    recorded = re.findall(r"split-sha256: ([0-9a-f]{64})", README.read_text(encoding="utf-8"))
    assert recorded == [v.split_digest()]


def test_no_study_has_arms_in_both_sets():
    train, held = v.training_rows(), v.held_out_rows()
    assert not set(train["study_id"]) & set(held["study_id"])


def _is_null(df):
    return df["notes"].str.startswith("NULL")


@pytest.mark.parametrize("rows", [v.training_rows, v.held_out_rows], ids=["training", "held_out"])
def test_each_set_has_an_iv_row_a_non_iv_row_and_a_null_study(rows):
    df = rows()
    assert (df["route"] == "iv").any() and (df["route"] != "iv").any()
    if _is_null(v.load_studies()).any():
        assert _is_null(df).any()


def test_held_out_is_about_a_third():
    assert 0.2 <= len(v.held_out_rows()) / len(v.load_studies()) <= 0.45


def test_a_wrong_route_word_is_a_one_line_error_naming_the_column(tmp_path):
    text = v.find_table().read_text(encoding="utf-8")
    bad = tmp_path / "bad.csv"
    bad.write_text(text.replace(",intrathecal,", ",lumbar_puncture,", 1), encoding="utf-8")
    with pytest.raises(ValueError) as err:
        v.load_studies(bad)
    message = str(err.value)
    assert "\n" not in message and message.startswith("route:") and "lumbar_puncture" in message
    assert all(route in message for route in v.ROUTES)


def test_arms_of_one_study_in_both_sets_are_refused(tmp_path):
    df = v.load_studies()
    study = df["study_id"].value_counts().index[0]  # a study with more than one arm
    first = df.index[df["study_id"] == study][0]
    df.loc[first, "split"] = "held_out" if df.loc[first, "split"] == "training" else "training"
    bad = tmp_path / "split.csv"
    df.to_csv(bad, index=False)
    with pytest.raises(ValueError, match=r"^split: study"):
        v.load_studies(bad)


def test_every_row_with_an_outcome_number_says_where_it_was_seen():
    df = v.load_studies()
    with_numbers = df[df.apply(v.has_outcome_number, axis=1)]
    assert len(with_numbers) > 0
    assert (with_numbers["checked_in"].str.strip() != "").all()


def test_an_unchecked_study_carries_no_number():
    df = v.load_studies()
    unchecked = df[df["notes"].str.startswith("not checked")]
    numbers = [c for c in v.NUMERIC if c != "year"] + ["survival_spread"]
    assert (unchecked[numbers] == "").all().all()


def test_no_per_kg_dose_is_written_without_a_body_weight():
    """cells_per_kg is derived only from a body weight the paper gives; none was seen, so the column is empty."""
    df = v.load_studies()
    filled = df[df["cells_per_kg"] != ""]
    assert filled["notes"].str.contains("weight").all()
