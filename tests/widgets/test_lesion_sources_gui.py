"""Reference and candidates studies read in the GUI, as a reader does."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from helpers import ui_strings
from napari.utils.notifications import notification_manager
from qtpy.QtCore import Qt

from napari_uspio import make_phantom
from napari_uspio._napari.desk import desk_for
from napari_uspio._napari.reading_keys import key_of
from napari_uspio.core.study.export import export_study
from napari_uspio.core.study.manifest import init_study

CASES = ("sub-201_ses-01", "sub-202_ses-01")


@pytest.fixture(scope="module")
def cases_dir(tmp_path_factory):
    """Two cases, each with a reference ``lesions`` map and ``candidates`` (lesion 1 missed)."""
    root = tmp_path_factory.mktemp("sources") / "cases"
    for seed, name in enumerate(CASES, start=1):
        folder = make_phantom(root / name, seed=seed, shape_xyz=(96, 96, 20), n_lesions=4)
        truth = nib.load(folder / "truth" / "lesions_truth.nii.gz")
        reference = np.asarray(truth.dataobj).astype(np.uint16)
        nib.save(nib.Nifti1Image(reference, truth.affine), folder / "lesions.nii.gz")
        candidates = np.where(reference == 1, 0, reference).astype(np.uint16)
        nib.save(nib.Nifti1Image(candidates, truth.affine), folder / "candidates.nii.gz")
    return root


def _sign_in(make_napari_viewer, qtbot, study_dir, reader="r1"):
    viewer = make_napari_viewer(show=True)
    _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Reading session")
    qtbot.keyClicks(widget.study, str(study_dir))
    qtbot.keyClicks(widget.reader, reader)
    qtbot.keyClicks(widget.pin, "2468")
    qtbot.keyClick(widget.pin, Qt.Key.Key_Return)
    qtbot.waitUntil(lambda: not widget.loading, timeout=60000)
    return viewer, widget


def _type(qtbot, viewer, key: str, modifier=Qt.KeyboardModifier.NoModifier) -> None:
    canvas = viewer.window._qt_viewer.canvas.native
    qtbot.keyClick(canvas, Qt.Key(ord(key)), modifier)


def test_a_reference_study_is_rated_not_painted(make_napari_viewer, qtbot, cases_dir, tmp_path):
    first_note = len(notification_manager.records)
    study = init_study(tmp_path / "study", cases_dir, ["r1"], seed=5, lesion_source="reference")
    viewer, widget = _sign_in(make_napari_viewer, qtbot, study.folder)
    layer, desk = viewer.layers["lesions"], desk_for(viewer)
    reference = np.asarray(layer.metadata["case"]["lesions"])
    np.testing.assert_array_equal(layer.data, reference)
    assert not layer.editable and "painting is off" in desk.message
    assert "candidates" not in viewer.layers  # no proposal layer in a reference study
    layer.mode = "paint"
    assert layer.mode == "pan_zoom"  # napari refuses painting a non-editable layer
    for key, modifier in (
        ("M", Qt.KeyboardModifier.NoModifier),
        ("G", Qt.KeyboardModifier.ShiftModifier),
    ):
        _type(qtbot, viewer, key, modifier)
        assert "painting is off: these lesions are a reference delineation" in desk.message
        assert desk.tools.tool is None
    code = widget.session.entry.code
    lesion = int(np.unique(reference)[1])
    layer.selected_label = lesion
    _type(qtbot, viewer, key_of("choose", "gd", "shell"))  # rate by key
    assert widget.session.binding.ratings.get(lesion).gd is not None
    assert widget.session.store.journal_size("r1", code)[0] == 1  # the reference only

    viewer2, widget2 = _sign_in(make_napari_viewer, qtbot, study.folder)  # resume elsewhere
    assert widget2.session.entry.code == code
    np.testing.assert_array_equal(viewer2.layers["lesions"].data, reference)
    assert widget2.session.binding.ratings.get(lesion).gd is not None
    widget2.session.mark_done(viewer2)
    nxt = viewer2.layers["lesions"]
    assert widget2.session.entry.code != code and not nxt.editable
    np.testing.assert_array_equal(nxt.data, np.asarray(nxt.metadata["case"]["lesions"]))

    leaks = [str(cases_dir), "sub-", "ses-", "phantom", *CASES]
    leaks += [p.name for p in (cases_dir / CASES[0]).glob("*.nii.gz")]
    strings = ui_strings(viewer, widget, first_note) + ui_strings(viewer2, widget2, first_note)
    strings.append(desk.message)
    assert any(code in text for text in strings)
    for text in strings:
        for leak in leaks:
            assert leak not in text, f"{leak!r} shown in {text!r}"


def test_a_reader_accepts_rejects_and_paints_candidates_by_key(
    make_napari_viewer, qtbot, cases_dir, tmp_path
):
    study = init_study(tmp_path / "study", cases_dir, ["r1"], seed=5, lesion_source="candidates")
    viewer, widget = _sign_in(make_napari_viewer, qtbot, study.folder)
    layer, desk = viewer.layers["lesions"], desk_for(viewer)
    proposals = viewer.layers["candidates"]
    assert layer.editable and not proposals.editable and not np.asarray(layer.data).any()
    ids = [int(i) for i in np.unique(proposals.data) if i]
    assert len(ids) >= 2
    code, case_id = widget.session.entry.code, widget.session.entry.case_id

    def point_at(candidate):
        voxels = np.argwhere(np.asarray(proposals.data) == candidate)
        viewer.dims.set_point(0, float(proposals.data_to_world(voxels[0])[0]))
        viewer.cursor.position = tuple(proposals.data_to_world(voxels[len(voxels) // 2]))

    point_at(ids[0])
    accepted = np.asarray(proposals.data) == ids[0]
    _type(qtbot, viewer, "Y", Qt.KeyboardModifier.ShiftModifier)
    lesion = int(layer.selected_label)
    assert f"Candidate accepted: lesion {lesion}" in desk.message
    np.testing.assert_array_equal(np.asarray(layer.data) == lesion, accepted)
    assert not (np.asarray(proposals.data) == ids[0]).any()  # decided: off the proposals
    _type(qtbot, viewer, "Z", Qt.KeyboardModifier.ControlModifier)  # undone: back on them
    assert desk.message == f"Undo: candidate {ids[0]} back among the candidates"
    np.testing.assert_array_equal(np.asarray(proposals.data) == ids[0], accepted)
    assert not (np.asarray(layer.data) == lesion).any()
    _type(
        qtbot, viewer, "Z", Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier
    )
    np.testing.assert_array_equal(np.asarray(layer.data) == lesion, accepted)
    assert not (np.asarray(proposals.data) == ids[0]).any()
    point_at(ids[1])
    _type(qtbot, viewer, "N", Qt.KeyboardModifier.ShiftModifier)
    assert desk.message == "Candidate rejected" and ids[1] not in np.unique(proposals.data)
    viewer.cursor.position = tuple(proposals.data_to_world((0, 0, 0)))
    _type(qtbot, viewer, "Y", Qt.KeyboardModifier.ShiftModifier)
    assert "no candidate under the cursor" in desk.message
    own = lesion + 1
    layer.selected_label = own
    layer.data_setitem((np.array([10]), np.array([10]), np.array([10])), own)  # their own
    assert widget.session.store.journal_size("r1", code)[0] == 4  # accept, undo, redo, own

    widget.sign_out()
    viewer2, widget2 = _sign_in(make_napari_viewer, qtbot, study.folder)  # resumed
    left = {int(i) for i in np.unique(viewer2.layers["candidates"].data) if i}
    assert left == set(ids) - {ids[0], ids[1]}
    widget2.sign_out()
    out = export_study(study.folder, tmp_path / "out")
    table = pd.read_csv(out["lesions"])
    origins = table[table["case"] == case_id].set_index("lesion")["origin"].to_dict()
    assert origins == {lesion: "accepted", own: "own"}
    summary = pd.read_csv(out["summary"]).set_index("case").loc[case_id]
    counts = summary[["candidates_accepted", "candidates_rejected", "candidates_untouched"]]
    assert counts.tolist() == [1, 1, len(ids) - 2]
