"""The plugin as napari sees it: manifest, reader, writer, wheel contents."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
from helpers import write_nifti

from napari_uspio._napari.io import get_reader, write_labels
from napari_uspio.core.volume import Volume

ROOT = Path(__file__).resolve().parents[2]
LAS = np.array([[-1.0, 0, 0, 50], [0, 1.0, 0, -60], [0, 0, 3.0, -20], [0, 0, 0, 1]])


def test_npe2_validate_with_imports():
    npe2 = Path(sys.executable).with_name("npe2")
    result = subprocess.run(
        [str(npe2), "validate", "napari-uspio", "--imports"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "valid!" in result.stdout


def test_installed_manifest_is_the_top_level_file():
    from npe2 import PluginManager

    pm = PluginManager.instance()
    pm.discover()
    manifest = pm.get_manifest("napari-uspio")
    assert manifest.display_name == "napari-uspio"
    src = Path(__import__("napari_uspio").__file__).with_name("napari.yaml")
    assert src.resolve() == (ROOT / "napari.yaml").resolve()  # a link, not a copy
    keys = {s.key for s in manifest.contributions.sample_data}
    assert keys == {"uspio_ms_case"}


@pytest.mark.slow
def test_wheel_ships_the_top_level_manifest(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "build", "--wheel", "--no-isolation", "--outdir", str(tmp_path)],
        cwd=ROOT,
        check=True,
        capture_output=True,
    )
    (wheel,) = tmp_path.glob("napari_uspio-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        shipped = zf.read("napari_uspio/napari.yaml")
        entry_points = zf.read(next(n for n in zf.namelist() if n.endswith("entry_points.txt")))
    assert shipped == (ROOT / "napari.yaml").read_bytes()
    assert b"napari-uspio = napari_uspio:napari.yaml" in entry_points
    # npe2 reads the manifest from the unpacked wheel the way it does when installed
    from npe2 import PluginManifest

    unpacked = tmp_path / "unpacked"
    zipfile.ZipFile(wheel).extractall(unpacked)
    manifest = PluginManifest.from_file(unpacked / "napari_uspio" / "napari.yaml")
    assert manifest.name == "napari-uspio"
    widgets = {w.display_name for w in manifest.contributions.widgets}
    assert widgets == {
        "Reading desk",
        "Study setup (coordinator)",
        "Case",
        "Lesions",
        "Ratings",
        "Reading session",
        "Agreement",
        "Adjudication",
    }


def test_reader_single_file_is_placed_by_its_affine(tmp_path):
    data = np.arange(4 * 5 * 6, dtype=np.float32).reshape(4, 5, 6)
    path = write_nifti(tmp_path / "sub-01_Chimap.nii.gz", data, LAS)
    reader = get_reader(str(path))
    (layer_data,) = reader(str(path))
    array, kwargs, kind = layer_data
    assert kind == "image" and kwargs["name"] == "qsm" and kwargs["metadata"]["role"] == "qsm"
    # voxel (x=0, y=0, z=0) of the file is at world (50, -60, -20); LAS -> it is the last x
    z, y, x = 0, 0, data.shape[0] - 1
    assert array[z, y, x] == data[0, 0, 0]
    world_zyx = np.array([z, y, x]) * kwargs["scale"] + kwargs["translate"]
    np.testing.assert_allclose(world_zyx[::-1], nib.affines.apply_affine(LAS, (0, 0, 0)))


def test_reader_declines_what_it_cannot_read(tmp_path):
    (tmp_path / "notes.txt").write_text("x")
    assert get_reader(str(tmp_path / "notes.txt")) is None
    assert get_reader(str(tmp_path)) is None  # a folder that is not a case


def test_writer_round_trip_is_exact(tmp_path):
    labels = np.zeros((4, 5, 6), np.int16)
    labels[1:3, 2, 3] = 5
    labels[0, 0, 0] = 300
    src = write_nifti(tmp_path / "sub-01_label-lesion_mask.nii.gz", labels, LAS)
    vol = Volume.from_file(src, "lesions")
    out = tmp_path / "saved.nii.gz"
    write_labels(str(out), vol.data, {"metadata": {"grid": vol.grid}})
    img = nib.load(out)
    np.testing.assert_array_equal(np.asanyarray(img.dataobj), labels)
    np.testing.assert_allclose(img.affine, LAS)
    assert nib.aff2axcodes(img.affine) == ("L", "A", "S")


def test_writer_without_case_uses_scale_and_translate(tmp_path):
    labels = np.zeros((3, 4, 5), np.uint8)
    labels[2, 1, 0] = 1
    out = tmp_path / "plain.nii"
    write_labels(str(out), labels, {"scale": (3.0, 1.0, 0.5), "translate": (10.0, 20.0, 30.0)})
    img = nib.load(out)
    assert img.shape == (5, 4, 3)
    np.testing.assert_allclose(img.affine[:3, 3], (30, 20, 10))
    np.testing.assert_allclose(np.diag(img.affine)[:3], (0.5, 1.0, 3.0))
    assert np.asanyarray(img.dataobj)[0, 1, 2] == 1
