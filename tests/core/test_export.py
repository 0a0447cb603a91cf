"""Exports of a reading: tables, label map, provenance, atomic writes, reopen."""

from __future__ import annotations

import hashlib
import json
import math
from datetime import UTC, datetime
from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from helpers import write_nifti

import napari_uspio
from napari_uspio import load_case
from napari_uspio.core import fields as spec
from napari_uspio.core.csvfiles import read_lesions_csv
from napari_uspio.core.export import (
    LESION_ID_COLUMNS,
    SUMMARY_COLUMNS,
    export_paths,
    export_reading,
    load_reading,
    nawm_mtr,
    reading_table,
)
from napari_uspio.core.lesions import lesion_model
from napari_uspio.core.ratings import RatingError, Ratings, rating_columns
from napari_uspio.core.volume import CaseError
from napari_uspio.phantom import phantom_truth

FIELDS, VOCABULARY = spec.RATINGS.columns, spec.RATINGS.vocabulary
RATING_COLUMNS = rating_columns()
COLUMN_UNITS = {c: spec.column(c).unit_text for c in SUMMARY_COLUMNS}

ODD_COMMENTS = [
    "",
    'shell, "incomplete" ring',
    "line one\nline two\r\nline three",
    "ünïcødé — 日本語 ±5 %",
    "NA",
    "None",
    "n/a",
    "not applicable",
    "null",
    "  leading and trailing  ",
    "#N/A",
    "0012",
    "1.5",
    "=SUM(A1)",
    "none",
    "tab\there; semi",
]
CYCLE = {
    "black_hole": [None, "yes", "no", "n/a"],
    "confidence": [None, "low", "medium", "high"],
    "qsm_rim": ["present", "absent", None],
}


@pytest.fixture(scope="module")
def reading(phantom_dir, phantom_case):
    """Truth labels, their live table, and ratings using every value of every field."""
    labels = phantom_case.read_labels(phantom_dir / "truth" / "lesions_truth.nii.gz").data
    table = lesion_model(phantom_case, labels).table()
    truth = phantom_truth(phantom_dir).set_index("lesion")
    ratings = Ratings()
    for k, (lesion_id, row) in enumerate(truth.iterrows()):
        if lesion_id == truth.index[-1]:
            continue  # one lesion left wholly unrated
        fields = dict(
            gd=row.gd,
            uspio=row.uspio,
            central_vein=row.central_vein,
            overlap=row.overlap,
            comment=ODD_COMMENTS[k % len(ODD_COMMENTS)],
        )
        fields |= {name: values[k % len(values)] for name, values in CYCLE.items()}
        if lesion_id == truth.index[-2]:
            fields = {"comment": "only a comment, nothing rated"}
        if lesion_id == truth.index[-3]:
            fields["overlap"] = None  # unrated overlap
        ratings.set(lesion_id, **fields)
    ratings.set(999, gd="shell", comment="dormant: lesion 999 is not in the label map")
    return labels, table, ratings


@pytest.fixture(scope="module")
def exported(reading, phantom_case, tmp_path_factory):
    labels, table, ratings = reading
    out = tmp_path_factory.mktemp("export")
    paths = export_reading(
        out,
        phantom_case,
        labels,
        table,
        ratings,
        "reader1",
        "P007",
        3.0,
        started_at=datetime(2024, 5, 6, 9, 30, tzinfo=UTC),
    ).paths
    return out, paths


def test_every_rating_value_is_exercised(reading):
    _, table, ratings = reading
    rated = ratings.table(table.index)
    for name, values in VOCABULARY.items():
        assert set(values) | {None} == set(rated[name]), name


def test_reading_table_columns(reading):
    labels, table, ratings = reading
    frame = reading_table(table, ratings, "P007", "reader1")
    assert tuple(frame.columns) == (*LESION_ID_COLUMNS, *table.columns, *RATING_COLUMNS)
    assert frame["lesion"].tolist() == table.index.tolist()
    assert (frame["case"] == "P007").all() and (frame["reader"] == "reader1").all()
    assert 999 not in frame["lesion"].tolist()  # dormant: not in the table
    # a table that already holds rating columns (layer features) is not doubled
    again = reading_table(table.join(ratings.table(table.index)), ratings, "P007", "reader1")
    assert tuple(again.columns) == tuple(frame.columns)


def test_export_writes_four_files(exported):
    out, paths = exported
    assert {p.name for p in out.iterdir()} == {
        "P007_reader1_lesions.csv",
        "P007_reader1_summary.csv",
        "P007_reader1_labels.nii.gz",
        "P007_reader1_provenance.json",
    }
    assert paths == export_paths(out, "P007", "reader1")


def test_lesion_csv_reads_in_plain_pandas(exported, reading):
    _, paths = exported
    labels, table, ratings = reading
    plain = pd.read_csv(paths["lesions"])
    assert list(plain.columns) == [*LESION_ID_COLUMNS, *table.columns, *RATING_COLUMNS]
    assert plain["lesion"].tolist() == table.index.tolist()
    assert plain["lesion"].dtype == np.int64 and plain["rated"].dtype == bool
    assert plain["voxels"].tolist() == table["voxels"].tolist()
    rated = ratings.table(table.index)
    for name in ("gd", "uspio", "overlap", "black_hole", "lesion_class"):
        given = rated[name].notna().to_numpy()
        # every rated value, "none" and not-applicable included, is text in plain pandas
        assert plain[name][given].map(type).eq(str).all(), name
        assert plain[name][~given].isna().all(), name
    assert set(plain["overlap"].dropna()) == {"<20%", "20-80%", ">80%", "not applicable"}
    assert "none" in set(plain["gd"]) and "none" in set(plain["uspio"])
    np.testing.assert_array_equal(plain["mtr_mean"], table["mtr_mean"])  # exact floats


def test_lesion_csv_recipe_gives_back_the_reading_table(exported, reading):
    _, paths = exported
    labels, table, ratings = reading
    recipe = pd.read_csv(
        paths["lesions"],
        keep_default_na=False,
        na_values=[""],
        dtype={"case": str, "comment": str},
    )
    assert recipe["comment"].fillna("").tolist()[: len(ODD_COMMENTS)] == ODD_COMMENTS
    assert recipe["case"].eq("P007").all()
    expected = reading_table(table, ratings, "P007", "reader1")
    pd.testing.assert_frame_equal(read_lesions_csv(paths["lesions"]), expected)


def test_summary_csv(exported, reading, phantom_case):
    _, paths = exported
    labels, table, _ = reading
    summary = pd.read_csv(paths["summary"])
    assert tuple(summary.columns) == SUMMARY_COLUMNS and len(summary) == 1
    row = summary.iloc[0]
    assert row["case"] == "P007" and row["reader"] == "reader1" and row["group"] == "UEL"
    assert row["n_lesions"] == len(table)
    assert row["n_rated"] < len(table)
    assert row["lesion_load_cm3"] == pytest.approx(table["volume_mm3"].sum() / 1000)
    assert row["nawm_mtr"] == pytest.approx(nawm_mtr(phantom_case, labels))
    assert row["shell_width_mm"] == 3.0
    assert all(COLUMN_UNITS[c] for c in SUMMARY_COLUMNS)


def test_label_map_has_the_case_affine_and_orientation(exported, phantom_dir, phantom_case):
    _, paths = exported
    saved = nib.load(paths["labels"])
    truth = nib.load(phantom_dir / "truth" / "lesions_truth.nii.gz")
    np.testing.assert_allclose(saved.affine, phantom_case.grid.file_affine)
    assert nib.aff2axcodes(saved.affine) == ("L", "A", "S")  # the phantom's, not RAS
    np.testing.assert_array_equal(np.asanyarray(saved.dataobj), np.asanyarray(truth.dataobj))
    assert saved.header["sform_code"] == truth.header["sform_code"]


def test_provenance(exported, phantom_case):
    _, paths = exported
    prov = json.loads(paths["provenance"].read_text("utf-8"))
    assert prov["case"] == "P007" and prov["reader"] == "reader1"
    assert prov["shell_width_mm"] == 3.0
    assert prov["software"]["napari_uspio"] == napari_uspio.__version__
    assert prov["software"]["numpy"] == np.__version__
    assert prov["software"]["nibabel"] == nib.__version__
    assert {"python", "pandas"} <= set(prov["software"])
    assert set(prov["inputs"]) == set(phantom_case.volumes) and len(prov["inputs"]) >= 10
    for role, record in prov["inputs"].items():
        path = phantom_case.path(role)
        assert record["file"] == path.name
        assert record["sha256"] == hashlib.sha256(path.read_bytes()).hexdigest(), role
    for key in ("lesions", "summary", "labels"):
        digest = hashlib.sha256(paths[key].read_bytes()).hexdigest()
        assert prov["outputs"][key] == {"file": paths[key].name, "sha256": digest}
    assert prov["started_at"] == "2024-05-06T09:30:00+00:00"
    exported_at = datetime.fromisoformat(prov["exported_at"])
    assert exported_at.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - exported_at).total_seconds()) < 600
    lesion_columns = list(pd.read_csv(paths["lesions"], nrows=0).columns)
    assert list(prov["columns"]["lesions"]) == lesion_columns
    assert all(prov["columns"]["lesions"].values())
    assert prov["columns"]["lesions"]["qsm_rel_ppb"].startswith("ppb")
    assert prov["csv"]["not_applicable"] == "not applicable"


def test_reopen_restores_every_field(exported, reading, phantom_case):
    out, _ = exported
    labels, table, ratings = reading
    labels_back, ratings_back = load_reading(out, phantom_case, "reader1", "P007")
    np.testing.assert_array_equal(labels_back, labels)
    assert labels_back.shape == phantom_case.grid.shape
    for lesion_id in table.index:
        assert ratings_back.get(lesion_id) == ratings.get(lesion_id), lesion_id
    assert ratings_back.get(table.index[-1]).gd is None  # unrated stays unrated
    assert ratings_back.get(table.index[0]).overlap == ratings.get(table.index[0]).overlap
    assert {ratings_back.get(i).comment for i in table.index} >= set(ODD_COMMENTS)
    assert 999 not in ratings_back  # dormant ratings are not exported
    pd.testing.assert_frame_equal(ratings_back.table(table.index), ratings.table(table.index))
    # the reader continues where they stopped
    ratings_back.set(table.index[-1], gd="none", uspio="none")
    assert ratings_back.get(table.index[-1]).lesion_class == "USPIO-/Gd-"


def test_reopen_refuses_a_label_map_off_the_case_grid(exported, phantom_case, tmp_path):
    out, paths = exported
    (tmp_path / paths["lesions"].name).write_bytes(paths["lesions"].read_bytes())
    write_nifti(tmp_path / paths["labels"].name, np.zeros((10, 10, 10), np.int16))
    with pytest.raises(CaseError, match="not on the case grid"):
        load_reading(tmp_path, phantom_case, "reader1", "P007")
    with pytest.raises(FileNotFoundError, match="P007_reader2_labels.nii.gz"):
        load_reading(tmp_path, phantom_case, "reader2", "P007")


def test_reopen_refuses_an_inconsistent_hand_edit(exported, phantom_case, tmp_path):
    out, paths = exported
    for key in ("lesions", "labels"):
        (tmp_path / paths[key].name).write_bytes(paths[key].read_bytes())
    edited = pd.read_csv(paths["lesions"], keep_default_na=False, na_values=[""])
    edited.loc[0, ["gd", "overlap"]] = ["none", ">80%"]
    edited.to_csv(tmp_path / paths["lesions"].name, index=False)
    with pytest.raises(RatingError, match="lesions.csv: .*lesion 1 has Gd none"):
        load_reading(tmp_path, phantom_case, "reader1", "P007")


def test_export_refuses_a_stale_table_and_bad_names(reading, phantom_case, tmp_path):
    labels, table, ratings = reading
    with pytest.raises(ValueError, match="does not describe this label map"):
        export_reading(tmp_path, phantom_case, labels, table.iloc[1:], ratings, "r", "c", 3.0)
    for bad in ("", "a/b", "..", "x:y", ".hidden"):
        with pytest.raises(ValueError, match="cannot be part of a file name"):
            export_paths(tmp_path, bad, "reader1")
    assert list(tmp_path.iterdir()) == []


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in folder.iterdir()}


@pytest.mark.parametrize("failing", ["csv", "nifti"])
def test_interrupted_export_leaves_the_previous_one_whole(
    failing, reading, phantom_case, tmp_path, monkeypatch
):
    labels, table, ratings = reading
    export_reading(tmp_path, phantom_case, labels, table, ratings, "r1", "P1", 3.0)
    before = _snapshot(tmp_path)
    changed = Ratings(dict(ratings.items()))
    changed.set(int(table.index[-1]), gd="none", uspio="none", comment="new")

    def partial_csv(self, path, *args, **kwargs):
        Path(path).write_text("case,reader,lesion\nP1,r1,")
        raise OSError("disk full")

    def partial_nifti(img, path, *args, **kwargs):
        Path(path).write_bytes(b"\x1f\x8b partial")
        raise OSError("disk full")

    if failing == "csv":
        monkeypatch.setattr(pd.DataFrame, "to_csv", partial_csv)
    else:
        monkeypatch.setattr(nib, "save", partial_nifti)
    with pytest.raises(OSError, match="disk full"):
        export_reading(tmp_path, phantom_case, labels, table, changed, "r1", "P1", 3.0)
    assert _snapshot(tmp_path) == before  # every previous file intact, no temporary left
    monkeypatch.undo()
    labels_back, ratings_back = load_reading(tmp_path, phantom_case, "r1", "P1")
    assert ratings_back.get(int(table.index[-1])).comment == ""
    export_reading(tmp_path, phantom_case, labels, table, changed, "r1", "P1", 3.0)
    assert (
        load_reading(tmp_path, phantom_case, "r1", "P1")[1].get(int(table.index[-1])).comment
        == "new"
    )


def test_nawm_mtr(phantom_case, reading):
    labels = reading[0]
    value = nawm_mtr(phantom_case, labels)
    inside = phantom_case.wm_mask & (labels == 0)
    assert value == pytest.approx(float(np.nanmean(phantom_case["mtr"][inside])), rel=1e-6)
    assert 0.42 < value < 0.48  # NAWM 0.46 in the phantom, partial volume at the edges
    with_lesions = float(np.nanmean(phantom_case["mtr"][phantom_case.wm_mask]))
    assert value != pytest.approx(with_lesions, rel=1e-6)  # lesions are left out


def test_nawm_mtr_is_nan_without_mtr_or_wm_mask(phantom_case, reading):
    labels = reading[0]
    no_mask = load_case({r: phantom_case.path(r) for r in ("m0", "mmt")})
    no_mtr = load_case({r: phantom_case.path(r) for r in ("qsm", "wm_mask")})
    assert math.isnan(nawm_mtr(no_mask, labels))
    assert math.isnan(nawm_mtr(no_mtr, labels))


def test_fields_cover_the_csv(exported):
    _, paths = exported
    columns = pd.read_csv(paths["lesions"], nrows=0).columns
    assert set(FIELDS) <= set(columns)


def test_nawm_mtr_skips_nan_and_lesion_voxels():
    from napari_uspio.core.case import Case
    from napari_uspio.core.volume import Grid, Volume

    grid = Grid.from_affine(np.eye(4), (4, 3, 2))  # (z, y, x) = (2, 3, 4)
    mtr = np.full(grid.shape, 0.9, dtype=np.float32)  # outside white matter
    wm = np.zeros(grid.shape, dtype=np.uint8)
    wm[0] = 1
    mtr[0] = [[0.4, 0.5, np.nan, 0.6], [0.2, 0.2, 0.2, 0.2], [0.5, 0.5, 0.5, 0.5]]
    labels = np.zeros(grid.shape, dtype=np.int16)
    labels[0, 1] = 3  # the 0.2 row is a lesion
    case = Case({"mtr": Volume("mtr", mtr, grid), "wm_mask": Volume("wm_mask", wm, grid)}, grid)
    assert nawm_mtr(case, labels) == pytest.approx((0.4 + 0.5 + 0.6 + 4 * 0.5) / 7)
    mtr[0] = np.nan
    assert math.isnan(nawm_mtr(case, labels))  # no valid voxel: NaN, no warning
