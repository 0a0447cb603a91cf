"""Ratings: vocabulary, refusals, derived class / group, dormant ratings, navigation."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest

from napari_uspio.core import fields as spec
from napari_uspio.core.lesions import LesionModel, lesion_model
from napari_uspio.core.patient import SUMMARY_KEYS, patient_group, patient_summary
from napari_uspio.core.ratings import (
    Rating,
    RatingError,
    Ratings,
    lesion_class,
    rating_columns,
)
from napari_uspio.phantom import phantom_truth
from napari_uspio.testing import ratings_from_truth

FIELDS, VOCABULARY = spec.RATINGS.columns, spec.RATINGS.vocabulary
CLASSES, RATING_COLUMNS = spec.CLASSES, rating_columns()

FULL = dict(qsm_rim="absent", central_vein="present", confidence="high")


def test_vocabulary_is_the_csv_strings():
    assert VOCABULARY == {
        "gd": ("none", "nodular", "shell"),
        "uspio": ("none", "ring", "focal", "iso"),
        "qsm_rim": ("present", "absent"),
        "central_vein": ("present", "absent"),
        "overlap": ("<20%", "20-80%", ">80%", "n/a"),
        "black_hole": ("yes", "no", "n/a"),
        "confidence": ("low", "medium", "high"),
    }
    assert FIELDS[-1] == "comment"
    assert CLASSES == ("USPIO+/Gd+", "USPIO-/Gd+", "USPIO-/Gd-", "USPIO+/Gd-")


def test_unrated_is_distinct_from_none():
    unrated, negative = Rating(), Rating(gd="none", uspio="none")
    assert unrated.gd is None and unrated.comment == ""
    assert unrated.gd_positive is None and unrated.uspio_positive is None
    assert negative.gd_positive is False and negative.uspio_positive is False
    assert unrated.lesion_class is None and negative.lesion_class == "USPIO-/Gd-"
    assert Rating(gd="shell").lesion_class is None  # needs both


@pytest.mark.parametrize("field", [f for f in FIELDS if f != "comment"])
def test_unknown_value_is_refused_listing_allowed(field):
    ratings = Ratings()
    with pytest.raises(RatingError) as info:
        ratings.set(3, **{field: "maybe"})
    message = str(info.value)
    assert "lesion 3" in message and "'maybe'" in message
    assert all(value in message for value in VOCABULARY[field])
    assert 3 not in ratings
    with pytest.raises(RatingError):
        Rating(**{field: "None"})  # values are exact, case-sensitive


def test_unknown_field_and_bad_comment_are_refused():
    with pytest.raises(RatingError, match="unknown rating field.*enhancement"):
        Ratings().set(1, enhancement="shell")
    with pytest.raises(RatingError, match="unknown rating field"):
        Rating().with_(pattern="ring")
    with pytest.raises(RatingError, match="comment must be text"):
        Rating(comment=3)
    with pytest.raises(RatingError, match="lesion ids"):
        Ratings().set(0, gd="none")


def test_overlap_refused_while_an_agent_is_none():
    ratings = Ratings()
    ratings.set(4, gd="none", uspio="ring")
    with pytest.raises(RatingError) as info:
        ratings.set(4, overlap="<20%")
    assert str(info.value).startswith(
        "overlap is rated only when both USPIO and Gd enhance; lesion 4 has Gd none"
    )
    ratings.set(4, overlap="n/a")  # the right value
    with pytest.raises(RatingError, match="lesion 5 has Gd none and USPIO none"):
        ratings.set(5, gd="none", uspio="none", overlap=">80%")
    with pytest.raises(RatingError, match="this lesion has USPIO none"):
        Rating(gd="shell", uspio="none", overlap="20-80%")


def test_agent_none_refused_while_overlap_is_graded():
    ratings = Ratings()
    ratings.set(1, gd="shell", uspio="ring", overlap=">80%")
    before = ratings.get(1)
    with pytest.raises(RatingError, match="clear the overlap first") as info:
        ratings.set(1, gd="none")
    assert "lesion 1 has overlap >80%" in str(info.value)
    assert "Gd cannot be none" in str(info.value)
    with pytest.raises(RatingError, match="USPIO cannot be none"):
        ratings.set(1, uspio="none")
    assert ratings.get(1) == before
    ratings.clear(1, "overlap")
    assert ratings.set(1, gd="none", overlap="n/a").lesion_class == "USPIO+/Gd-"


def test_overlap_na_refused_when_both_enhance():
    ratings = Ratings()
    ratings.set(2, gd="nodular", uspio="focal")
    with pytest.raises(
        RatingError,
        match="overlap n/a means USPIO or Gd does not enhance; "
        "lesion 2 has Gd nodular and USPIO focal",
    ):
        ratings.set(2, overlap="n/a")
    ratings.set(3, gd="none", uspio="focal", overlap="n/a")
    with pytest.raises(RatingError, match="lesion 3 has overlap n/a.*clear the overlap first"):
        ratings.set(3, gd="shell")
    # changing both in one call is accepted
    assert ratings.set(3, gd="shell", overlap="20-80%").overlap == "20-80%"


def test_overlap_accepted_while_an_agent_is_unrated():
    ratings = Ratings()
    assert ratings.set(7, overlap="<20%").overlap == "<20%"
    assert ratings.set(7, gd="shell", uspio="iso").lesion_class == "USPIO+/Gd+"
    assert Rating(overlap="n/a", gd="shell").overlap == "n/a"


def test_with_validates_and_clears():
    rating = Rating(gd="shell", uspio="ring", overlap="<20%", comment="x")
    assert rating.with_(overlap=None).overlap is None
    assert rating.with_(comment=None).comment == ""
    with pytest.raises(RatingError, match="clear the overlap first"):
        rating.with_(uspio="none")
    with pytest.raises(dataclasses.FrozenInstanceError):
        rating.gd = "none"


@pytest.mark.parametrize(
    ("gd", "uspio", "expected"),
    [
        ("shell", "ring", "USPIO+/Gd+"),
        ("nodular", "iso", "USPIO+/Gd+"),
        ("nodular", "none", "USPIO-/Gd+"),
        ("none", "none", "USPIO-/Gd-"),
        ("none", "focal", "USPIO+/Gd-"),
        (None, "focal", None),
        ("none", None, None),
    ],
)
def test_lesion_class(gd, uspio, expected):
    assert lesion_class(gd, uspio) == expected
    assert Rating(gd=gd, uspio=uspio).lesion_class == expected


def test_complete_needs_required_fields_and_overlap_when_both_enhance():
    assert not Rating(gd="none", uspio="none", qsm_rim="absent", central_vein="absent").complete
    assert Rating(gd="none", uspio="none", **FULL).complete
    assert Rating(gd="none", uspio="ring", **FULL).complete  # overlap optional: not both
    assert not Rating(gd="shell", uspio="ring", **FULL).complete
    assert Rating(gd="shell", uspio="ring", overlap="<20%", **FULL).complete
    assert not Rating(gd="shell", uspio="none", qsm_rim="absent", central_vein="absent").complete


def test_set_emits_changed_ids_only_on_change():
    ratings, seen = Ratings(), []
    ratings.changed.connect(seen.append)
    ratings.set(5, gd="shell")
    ratings.set(5, gd="shell")  # no change
    with pytest.raises(RatingError):
        ratings.set(5, gd="bad")
    ratings.clear(5, "gd")
    assert seen == [frozenset({5}), frozenset({5})]
    assert 5 not in ratings and ratings.get(5) == Rating()


def test_table_columns_and_unrated_cells():
    ratings = Ratings()
    ratings.set(2, gd="none", uspio="none", overlap="n/a", comment="a, b", **FULL)
    table = ratings.table([1, 2])
    assert table.index.name == "lesion" and table.index.tolist() == [1, 2]
    assert tuple(table.columns) == RATING_COLUMNS
    assert table.loc[1, "gd"] is None and table.loc[1, "lesion_class"] is None
    assert table.loc[1, "comment"] == ""
    assert table.loc[2].to_dict() == {
        "gd": "none",
        "uspio": "none",
        "qsm_rim": "absent",
        "central_vein": "present",
        "overlap": "n/a",
        "black_hole": None,
        "confidence": "high",
        "comment": "a, b",
        "lesion_class": "USPIO-/Gd-",
        "rated": True,
    }
    assert table["rated"].dtype == bool
    assert all(table[c].dtype == object for c in RATING_COLUMNS[:-1])
    assert ratings.table([]).shape == (0, len(RATING_COLUMNS))


def _three_lesions() -> LesionModel:
    labels = np.zeros((4, 12, 12), dtype=np.int32)
    labels[1:3, 1:4, 1:4] = 1
    labels[1:3, 1:4, 6:9] = 2
    labels[1:3, 7:10, 1:4] = 3
    return LesionModel(labels, {}, np.eye(4), shell_width_mm=1.0)


def test_deleted_lesion_rating_is_dormant_and_returns_on_undo():
    model, ratings = _three_lesions(), Ratings()
    for lesion_id, gd in ((1, "shell"), (2, "nodular"), (3, "none")):
        ratings.set(lesion_id, gd=gd, uspio="none", **FULL)
    before = model.labels.copy()
    model.apply_edit((slice(None),) * 3, model.labels == 2, 0)  # delete lesion 2
    assert model.ids.tolist() == [1, 3]
    assert ratings.table(model.ids).index.tolist() == [1, 3]
    assert ratings.progress(model.ids) == (2, 2)
    assert ratings.dormant(model.ids) == [2] and ratings.get(2).gd == "nodular"
    model.sync_region(before, (slice(None),) * 3)  # undo
    assert model.ids.tolist() == [1, 2, 3]
    assert ratings.table(model.ids).loc[2, "gd"] == "nodular"
    assert ratings.dormant(model.ids) == []


def test_merge_keeps_target_rating_and_source_dormant():
    model, ratings = _three_lesions(), Ratings()
    ratings.set(1, gd="shell", uspio="ring", overlap="<20%", **FULL)
    ratings.set(2, gd="none", uspio="none", comment="small")
    before = model.labels.copy()
    model.apply_edit((slice(None),) * 3, model.labels == 1, 2)  # merge 1 into 2
    table = ratings.table(model.ids)
    assert table.index.tolist() == [2, 3]
    assert table.loc[2, "gd"] == "none" and table.loc[2, "comment"] == "small"
    assert ratings.dormant(model.ids) == [1]
    # a new lesion must not inherit a dormant rating
    assert ratings.next_free_id(model.ids) == 4 and model.next_free_id() == 4
    model.sync_region(before, (slice(None),) * 3)  # undo the merge
    assert ratings.table(model.ids).loc[1, "overlap"] == "<20%"
    ratings.set(9, comment="dormant, high id")
    assert ratings.next_free_id(model.ids) == 10


def test_next_previous_unrated_and_progress():
    ratings, ids = Ratings(), [1, 2, 3, 5, 8]
    for lesion_id in (2, 5):
        ratings.set(lesion_id, gd="none", uspio="none", **FULL)
    ratings.set(3, gd="none")  # started, not complete
    assert ratings.progress(ids) == (2, 5)
    assert ratings.next_unrated(ids) == 1
    assert ratings.next_unrated(ids, after_id=1) == 3
    assert ratings.next_unrated(ids, after_id=3) == 8
    assert ratings.next_unrated(ids, after_id=8) == 1  # wraps
    assert ratings.next_unrated(ids, after_id=4) == 8  # after an id not in ids
    assert ratings.previous_unrated(ids, before_id=3) == 1
    assert ratings.previous_unrated(ids, before_id=1) == 8  # wraps
    assert ratings.previous_unrated(ids) == 8
    for lesion_id in (1, 3, 8):
        ratings.set(lesion_id, gd="none", uspio="none", **FULL)
    assert ratings.next_unrated(ids, after_id=2) is None
    assert ratings.previous_unrated(ids, before_id=2) is None
    assert ratings.progress(ids) == (5, 5) and ratings.progress([]) == (0, 0)
    only = Ratings()
    assert only.next_unrated([4], after_id=4) == 4  # the only unrated lesion


def _group(*pairs):
    return patient_group(pd.DataFrame(pairs, columns=["gd", "uspio"]))


def test_patient_group():
    assert _group(("none", "ring"), ("shell", "none")) == "UEL"
    assert _group(("none", "focal"), (None, None)) == "UEL"  # certain already
    assert _group(("shell", "none"), ("none", "none")) == "GEL"
    assert _group(("shell", "none"), (None, "none")) == "GEL"  # gd unrated cannot change it
    assert _group(("shell", "none"), ("none", None)) is None  # could be UEL
    assert _group(("none", "none"), ("none", "none")) == "NEL"
    assert _group(("none", "none"), (None, "none")) is None  # could be GEL
    assert _group(("none", "none"), (float("nan"), "none")) is None
    assert patient_group(pd.DataFrame({"gd": [], "uspio": []})) == "NEL"  # no lesion


def test_patient_summary_counts():
    ratings = Ratings()
    ratings.set(1, gd="shell", uspio="ring", overlap=">80%", black_hole="yes", **FULL)
    ratings.set(2, gd="nodular", uspio="none", overlap="n/a", qsm_rim="present")
    ratings.set(3, gd="none", uspio="iso", black_hole="n/a")
    table = ratings.table([1, 2, 3, 4]).join(
        pd.DataFrame(
            {"volume_mm3": [100.0, 250.0, 650.0, 1000.0]},
            index=pd.Index([1, 2, 3, 4], name="lesion"),
        )
    )
    summary = patient_summary(table, 0.45)
    assert tuple(summary) == SUMMARY_KEYS
    assert summary == {
        "group": "UEL",
        "n_lesions": 4,
        "n_rated": 1,
        "n_uspio_pos_gd_pos": 1,
        "n_uspio_neg_gd_pos": 1,
        "n_uspio_neg_gd_neg": 0,
        "n_uspio_pos_gd_neg": 1,
        "n_gd_nodular": 1,
        "n_gd_shell": 1,
        "n_uspio_ring": 1,
        "n_uspio_focal": 0,
        "n_uspio_iso": 1,
        "n_qsm_rim": 1,
        "n_central_vein": 1,
        "n_overlap_lt20": 0,
        "n_overlap_20_80": 0,
        "n_overlap_gt80": 1,
        "n_black_hole": 1,
        "lesion_load_cm3": 2.0,
        "nawm_mtr": 0.45,
    }
    empty = patient_summary(ratings.table([]).assign(volume_mm3=[]), float("nan"))
    assert empty["group"] == "NEL" and empty["lesion_load_cm3"] == 0.0
    assert math.isnan(empty["nawm_mtr"])


def test_scripted_reader_rates_the_phantom_with_its_truth(phantom_dir, phantom_case):
    truth = phantom_truth(phantom_dir).set_index("lesion")
    labels = phantom_case.read_labels(phantom_dir / "truth" / "lesions_truth.nii.gz").data
    model = lesion_model(phantom_case, labels)
    assert model.ids.tolist() == truth.index.tolist()
    ratings = ratings_from_truth(truth)
    table = ratings.table(model.ids)
    assert table["lesion_class"].tolist() == truth["lesion_class"].tolist()
    assert set(table["lesion_class"]) == set(CLASSES)
    assert ratings.progress(model.ids) == (len(truth), len(truth))
    assert ratings.next_unrated(model.ids) is None
    assert patient_group(table) == "UEL"
    summary = patient_summary(model.table().join(table), 0.46)
    counts = truth["lesion_class"].value_counts()
    assert summary["n_uspio_pos_gd_pos"] == counts["USPIO+/Gd+"]
    assert summary["n_uspio_pos_gd_neg"] == counts["USPIO+/Gd-"]
    assert summary["n_uspio_ring"] == (truth.uspio == "ring").sum()
    assert summary["n_overlap_20_80"] == (truth.overlap == "20-80%").sum()
    assert summary["lesion_load_cm3"] == pytest.approx(truth.volume_mm3.sum() / 1000)
    # without the USPIO+ lesions the same reading is a GEL patient
    gel = table[table.uspio == "none"]
    assert patient_group(gel) == "GEL"
    assert patient_group(gel[gel.gd == "none"]) == "NEL"
