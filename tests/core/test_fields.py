"""The field spec: consistent declarations, and the README's tables are rendered from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import lesion_columns_markdown, ratings_markdown

from napari_uspio.core import fields
from napari_uspio.core.lesions.stats import MAP_ROLES, columns_for

README = Path(__file__).resolve().parents[2] / "README.md"


def test_keys_are_distinct_and_every_choice_has_one():
    keys = [c.key for f in fields.RATINGS for c in f.choices]
    assert all(len(k) == 1 for k in keys) and len(set(keys)) == len(keys)


def test_positive_values_are_values_and_derived_fields_resolve():
    for field in (*fields.RATINGS, fields.LESION_CLASS, fields.PATIENT_GROUP):
        assert set(field.positive) <= set(field.values), field.name
        assert fields.derived_or_rating(field.name) is field
    with pytest.raises(KeyError, match="no rating field 'shape'"):
        fields.derived_or_rating("shape")


def test_every_measured_column_is_declared_with_unit_and_decimals():
    for name in ("lesion", *columns_for(set(MAP_ROLES))):
        column = fields.column(name)
        assert column.description and column.decimals is not None, name
    assert fields.column("n_uspio_ring").unit_text.startswith("lesions counted")
    with pytest.raises(KeyError, match="no column 'volume_ml'"):
        fields.column("volume_ml")


def test_summary_format_has_sign_decimals_and_unit():
    assert fields.column("qsm_rel_ppb").format(12.34) == "+12.3 ppb"
    assert fields.column("mtr_mean").format(0.41234) == "0.412"
    assert fields.column("volume_mm3").format(1000.4) == "1000 mm³"


@pytest.mark.parametrize("table", [ratings_markdown, lesion_columns_markdown])
def test_readme_tables_are_the_spec(table):
    expected = table()
    assert expected in README.read_text(encoding="utf-8"), (
        "README.md is out of date with napari_uspio.core.fields; paste this table:\n" + expected
    )
