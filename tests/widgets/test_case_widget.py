"""The Case widget in a real viewer: open a folder or files the way a reader does."""

from __future__ import annotations

import time

import nibabel as nib
import numpy as np
import pytest
from helpers import write_nifti
from qtpy.QtCore import Qt, QTimer

from napari_uspio._widgets.case_widget import CaseWidget

AFF = np.array([[-1.0, 0, 0, 40], [0, 1.0, 0, -50], [0, 0, 3.0, -9], [0, 0, 0, 1]])  # LAS
SHAPE = (12, 10, 5)


def _folder(tmp_path):
    rng = np.random.default_rng(0)
    m0 = rng.uniform(500, 1000, SHAPE).astype(np.float32)
    m0[0, 0, 0] = 0
    write_nifti(tmp_path / "sub-01_mt-off_MTS.nii.gz", m0, AFF)
    write_nifti(tmp_path / "sub-01_mt-on_MTS.nii.gz", m0 * 0.55, AFF)
    write_nifti(
        tmp_path / "sub-01_Chimap.nii.gz", rng.normal(0, 20, SHAPE).astype(np.float32), AFF
    )
    write_nifti(
        tmp_path / "sub-01_FLAIR.nii.gz", rng.uniform(0, 900, SHAPE).astype(np.float32), AFF
    )
    return tmp_path


@pytest.fixture
def widget(make_napari_viewer, qtbot):
    viewer = make_napari_viewer()
    w = CaseWidget(viewer)
    qtbot.addWidget(w)
    return viewer, w


def _loaded(w, qtbot):
    """Wait for the case being loaded on the worker thread (shown, or refused)."""
    qtbot.waitUntil(lambda: not w.busy, timeout=20000)


def _click_open_folder(w, qtbot, folder):
    w.folder.edit.setText(str(folder))
    qtbot.mouseClick(w.open_folder_button, Qt.MouseButton.LeftButton)
    _loaded(w, qtbot)


def test_open_folder_places_every_layer_in_nifti_mm(widget, qtbot, tmp_path):
    viewer, w = widget
    folder = _folder(tmp_path)
    _click_open_folder(w, qtbot, folder)
    names = [layer.name for layer in viewer.layers]
    assert names == ["flair", "m0", "mmt", "qsm", "mtr", "lesions"]
    for layer in viewer.layers:
        assert layer.metadata["role"] == layer.name
        np.testing.assert_allclose(layer.scale, (3.0, 1.0, 1.0))
        np.testing.assert_allclose(layer.translate, (-9.0, -50.0, 40.0 - (SHAPE[0] - 1)))
    qsm = viewer.layers["qsm"]
    file_qsm = nib.load(folder / "sub-01_Chimap.nii.gz")
    file_data = file_qsm.get_fdata()
    inv = np.linalg.inv(file_qsm.affine)
    for idx in [(0, 0, 0), (4, 9, 11), (2, 3, 7)]:
        world_xyz = np.asarray(qsm.data_to_world(idx))[::-1]
        i, j, k = np.round(nib.affines.apply_affine(inv, world_xyz)).astype(int)
        assert qsm.data[idx] == np.float32(file_data[i, j, k])
    # MTR against an independent numpy computation from the files
    m0 = nib.as_closest_canonical(nib.load(folder / "sub-01_mt-off_MTS.nii.gz")).get_fdata()
    mmt = nib.as_closest_canonical(nib.load(folder / "sub-01_mt-on_MTS.nii.gz")).get_fdata()
    with np.errstate(divide="ignore", invalid="ignore"):
        expected = np.where(m0 > 0, (m0 - mmt) / m0, np.nan)
    np.testing.assert_allclose(
        viewer.layers["mtr"].data, np.transpose(expected, (2, 1, 0)), rtol=1e-6
    )
    assert viewer.layers["mtr"].contrast_limits == [0.0, 0.6]
    lo, hi = viewer.layers["qsm"].contrast_limits
    assert lo == pytest.approx(-hi)
    assert viewer.layers["lesions"].data.shape == (5, 10, 12)
    # the widget tells roles and derived maps
    table = [
        (w.found.item(r, 0).text(), w.found.item(r, 1).text()) for r in range(w.found.rowCount())
    ]
    assert ("qsm", "sub-01_Chimap.nii.gz") in table
    assert any(role == "mtr" and source.startswith("derived") for role, source in table)
    assert "derived maps: mtr" in w.status.text()
    assert "m0 <= 0 in 1 voxels" in w.status.text()
    assert viewer.scene.camera.orientation2d == ("up", "left")


def test_bad_case_leaves_viewer_usable_and_layers_untouched(widget, qtbot, tmp_path):
    viewer, w = widget
    (tmp_path / "good").mkdir()
    good = _folder(tmp_path / "good")
    _click_open_folder(w, qtbot, good)
    before = [(layer.name, id(layer)) for layer in viewer.layers]
    bad = tmp_path / "bad"
    bad.mkdir()
    write_nifti(bad / "flair.nii.gz", np.ones(SHAPE, np.float32), AFF)
    write_nifti(bad / "qsm.nii.gz", np.ones((12, 10, 4), np.float32), AFF)
    _click_open_folder(w, qtbot, bad)
    assert [(layer.name, id(layer)) for layer in viewer.layers] == before
    text = w.status.text()
    assert text.startswith("Not opened:") and str(bad / "qsm.nii.gz") in text and "Fix" in text
    # still usable: the good case opens again
    _click_open_folder(w, qtbot, good)
    assert len(viewer.layers) == 2 * len(before)


def test_open_one_file_per_role(widget, qtbot, tmp_path):
    viewer, w = widget
    folder = _folder(tmp_path)
    w.role_edits["qsm"].edit.setText(str(folder / "sub-01_Chimap.nii.gz"))
    w.role_edits["t1_post_uspio"].edit.setText(str(folder / "sub-01_FLAIR.nii.gz"))
    w.open_files()
    _loaded(w, qtbot)
    assert [layer.name for layer in viewer.layers] == ["qsm", "t1_post_uspio", "lesions"]
    assert w.case.path("t1_post_uspio").name == "sub-01_FLAIR.nii.gz"


def test_sample_data_and_widgets_through_the_manifest(make_napari_viewer, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    viewer = make_napari_viewer()
    viewer.open_sample("napari-uspio", "uspio_ms_case")
    roles = {layer.metadata["role"] for layer in viewer.layers}
    assert {"t1_post_uspio", "qsm", "mtr", "dr2star", "wm_mask", "lesions"} <= roles
    assert all(tuple(layer.scale) == (3.0, 1.0, 1.0) for layer in viewer.layers)
    assert (tmp_path / "napari-uspio" / "sample-seed000" / ".complete").exists()
    for name in ("Case", "Lesions"):
        _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", name)
        assert widget.isVisible() or widget.parent() is not None
    lesions = viewer.layers["lesions"]
    lesions.paint((22, 128, 128), 7)  # data (z, y, x) index; the widget bound the layer
    assert lesions.features["index"].tolist() == [7]


def test_a_large_case_loads_with_the_viewer_responsive_and_the_first_image_early(
    widget, qtbot, tmp_path
):
    viewer, w = widget
    rng = np.random.default_rng(5)
    shape = (256, 256, 96)
    for k, name in enumerate(("FLAIR", "T2w", "Chimap", "mt-off_MTS", "mt-on_MTS", "T2starw")):
        data = (rng.normal(500, 50, shape) * (1 - 0.1 * k)).astype(np.int16)
        write_nifti(tmp_path / f"sub-01_{name}.nii.gz", data, AFF)
    inserted = []
    viewer.layers.events.inserted.connect(
        lambda e: inserted.append((e.value, len(viewer.layers), w.case is None, w.busy))
    )
    loading_gaps, adding_ticks, last = [], [], [time.perf_counter()]

    def tick():  # a GUI-thread timer: while the files are read, it keeps ticking
        now = time.perf_counter()
        if w.case is None and len(viewer.layers) <= 1:
            loading_gaps.append(now - last[0])
        elif w.case is None:  # and while the layers are added, between two of them
            adding_ticks.append(len(viewer.layers))
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    timer.start()
    _click_open_folder(w, qtbot, tmp_path)
    timer.stop()
    first, count, no_case_yet, busy = inserted[0]
    assert first.name == "flair" and count == 1 and no_case_yet and busy  # shown early
    assert viewer.layers["flair"] is first  # adopted by the case, not drawn twice
    assert [layer.name for layer in viewer.layers][0] == "flair"
    assert w.progress.value() == w.progress.maximum() == 6  # file by file
    assert "read" in w.progress.format() and "of 6" in w.progress.format()
    # the GUI thread kept running while six 12 MB volumes were decoded (generous bounds:
    # one gap may hold the first image's paint), and between the layers napari added
    assert len(loading_gaps) >= 5, loading_gaps
    assert float(np.median(loading_gaps)) < 0.1, loading_gaps
    assert len(set(adding_ticks)) >= 3, adding_ticks  # at several layer counts
