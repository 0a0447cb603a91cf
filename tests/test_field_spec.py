"""One field spec drives every place a rating field appears.

A field added to ``napari_uspio.core.fields.RATINGS`` (here in a fixture, as a new
reading protocol would in code) shows up as buttons with its key in the Ratings
widget, as a column of the lesion CSV (read back with the ratings), as rows of the
agreement report, and as a disputed field in adjudication, without touching any of
those modules.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from helpers import write_nifti

from napari_uspio.core import fields
from napari_uspio.core.adjudication.items import case_items
from napari_uspio.core.agreement.matching import group_lesions
from napari_uspio.core.agreement.readings import CaseReadings, Reading
from napari_uspio.core.agreement.report import write_report
from napari_uspio.core.agreement.study_stats import agreement_of
from napari_uspio.core.case import load_case
from napari_uspio.core.export import export_reading, read_ratings
from napari_uspio.core.lesions import lesion_model
from napari_uspio.core.ratings import Ratings

NEW = fields.RatingField(
    "iron_rim", "Iron rim on R2*", "R2* rim",
    (fields.Choice("present", "", "4"), fields.Choice("absent", "", "5")),
    positive=("present",), read_on="r2star",
    description="A rim of high R2* at the lesion edge.",
)  # fmt: skip


@pytest.fixture
def new_field(monkeypatch):
    monkeypatch.setattr(fields, "RATINGS", fields.RATINGS.with_field(NEW))
    return NEW


@pytest.fixture
def small_case(tmp_path):
    """A 4 x 24 x 24 FLAIR case with three cubic lesions (ids 1, 2, 3)."""
    rng = np.random.default_rng(0)
    write_nifti(tmp_path / "flair.nii.gz", rng.random((24, 24, 4)).astype(np.float32))
    labels = np.zeros((24, 24, 4), np.uint8)
    for lesion, x in ((1, 2), (2, 10), (3, 18)):
        labels[x : x + 4, 8:12, 1:3] = lesion
    write_nifti(tmp_path / "lesions.nii.gz", labels)
    return load_case(tmp_path)


def _ratings(values: dict[int, str]) -> Ratings:
    ratings = Ratings()
    for lesion, value in values.items():
        ratings.set(lesion, gd="none", uspio="none", iron_rim=value)
    return ratings


def test_new_field_gets_buttons_with_its_key(new_field, small_case, make_napari_viewer, qtbot):
    from napari_uspio._napari.bindings import binding_for
    from napari_uspio._napari.open_case import add_case
    from napari_uspio._widgets.ratings_widget import RatingsWidget

    viewer = make_napari_viewer()
    layer = add_case(viewer, small_case)[-1]
    widget = RatingsWidget(viewer)
    qtbot.addWidget(widget)
    buttons = widget.buttons["iron_rim"]
    assert [b.text() for b in buttons.values()] == ["present [4]", "absent [5]"]
    layer.selected_label = 2
    qtbot.keyClick(viewer.window._qt_viewer.canvas.native, "4")  # on the image too
    assert binding_for(layer).ratings.get(2).iron_rim == "present"
    assert buttons["present"].isChecked() and not buttons["absent"].isChecked()


def test_new_field_is_a_csv_column_read_back(new_field, small_case, tmp_path):
    labels = small_case["lesions"]
    ratings = _ratings({1: "present", 2: "absent"})
    table = lesion_model(small_case, labels).table()
    written = export_reading(tmp_path / "out", small_case, labels, table, ratings, "r1", "C1", 3.0)
    csv = pd.read_csv(written.paths["lesions"], keep_default_na=False)  # unrated: ""
    assert csv.set_index("lesion")["iron_rim"].to_dict() == {1: "present", 2: "absent", 3: ""}
    assert read_ratings(written.paths["lesions"]).get(1).iron_rim == "present"
    assert "iron_rim" in written.lesions.columns


def test_new_field_is_compared_reported_and_disputed(new_field, small_case, tmp_path):
    labels = small_case["lesions"].astype(np.int32)
    readings = {
        "r1": Reading("C1", labels, _ratings({1: "present", 2: "absent", 3: "absent"})),
        "r2": Reading("C2", labels, _ratings({1: "present", 2: "present", 3: "absent"})),
    }
    groups = group_lesions({r: x.labels for r, x in readings.items()}, 0.1)
    cr = CaseReadings("sub-01", None, readings, groups, grid=small_case.grid)
    agreement = agreement_of([cr], ["r1", "r2"], n_boot=50, seed=1)
    row = agreement.kappa.set_index("field").loc["iron_rim"]
    assert (row["n"], row["percent_agreement"]) == (3, pytest.approx(2 / 3))
    paths = write_report(agreement, tmp_path / "report")
    kappa = pd.read_csv(paths["kappa"])
    assert "iron_rim" in set(kappa["field"])
    assert "Iron rim on R2* (iron_rim)" in paths["report"].read_text(encoding="utf-8")
    disputed = {item.item: item.disputed_fields for item in case_items(cr)}
    assert [f for f in disputed.values() if f] == [("iron_rim",)]
