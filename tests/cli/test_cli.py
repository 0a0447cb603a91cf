"""The napari-uspio command line: phantom, measure, demo."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from helpers import write_nifti

from napari_uspio import phantom_truth
from napari_uspio.cli import main
from napari_uspio.testing import ratings_from_truth

EXE = str(Path(sys.executable).with_name("napari-uspio"))


def test_phantom_command_writes_a_case(tmp_path, capsys):
    assert main(["phantom", str(tmp_path / "p"), "--seed", "3", "--shape", "96", "96", "20"]) == 0
    assert "phantom case written to" in capsys.readouterr().out
    names = sorted(p.name for p in (tmp_path / "p").glob("*.nii.gz"))
    assert "sub-phantom003_ses-01_Chimap.nii.gz" in names and len(names) == 13
    assert (tmp_path / "p" / "truth" / "lesions_truth.csv").exists()


def test_measure_writes_the_live_table(phantom_dir, phantom_case, tmp_path):
    from napari_uspio.core.lesions import lesion_model

    truth = phantom_dir / "truth" / "lesions_truth.nii.gz"
    out = tmp_path / "table.csv"
    result = subprocess.run(
        [EXE, "measure", str(phantom_dir), "--labels", str(truth), "-o", str(out)],
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr
    table = pd.read_csv(out)
    expected = lesion_model(phantom_case, phantom_case.read_labels(truth).data).table()
    assert list(table.columns[:3]) == ["case", "reader", "lesion"]
    assert list(table.columns[3 : 3 + len(expected.columns)]) == list(expected.columns)
    np.testing.assert_allclose(
        table[expected.columns].to_numpy(float), expected.to_numpy(float), rtol=1e-6
    )
    assert table["lesion_class"].isna().all()  # no ratings given: every lesion unrated
    assert len(table) == len(pd.read_csv(phantom_dir / "truth" / "lesions_truth.csv"))


def test_measure_joins_ratings_and_writes_the_summary(phantom_dir, phantom_case, tmp_path):
    from napari_uspio.core.export import export_reading
    from napari_uspio.core.lesions import lesion_model

    truth_csv = phantom_truth(phantom_dir)
    ratings = ratings_from_truth(truth_csv.set_index("lesion"))
    truth = phantom_dir / "truth" / "lesions_truth.nii.gz"
    labels = phantom_case.read_labels(truth).data
    paths = export_reading(
        tmp_path / "r",
        phantom_case,
        labels,
        lesion_model(phantom_case, labels).table(),
        ratings,
        "r2",
        "c1",
        3.0,
    ).paths
    out, summary = tmp_path / "t.csv", tmp_path / "s.csv"
    args = [
        "measure",
        str(phantom_dir),
        "--labels",
        str(truth),
        "-o",
        str(out),
        "--ratings",
        str(paths["lesions"]),
        "--summary",
        str(summary),
        "--reader",
        "r2",
        "--case-code",
        "c1",
    ]
    assert main(args) == 0
    table = pd.read_csv(out)
    assert table["lesion_class"].tolist() == truth_csv["lesion_class"].tolist()
    assert set(table["reader"]) == {"r2"} and set(table["case"]) == {"c1"}
    assert (table["rated"]).all()
    row = pd.read_csv(summary).iloc[0]
    assert row["group"] == "UEL" and row["n_lesions"] == len(truth_csv)
    assert row["lesion_load_cm3"] == pytest.approx(truth_csv["volume_mm3"].sum() / 1000)


def test_measure_refuses_labels_on_another_grid(phantom_dir, tmp_path, capsys):
    bad = write_nifti(tmp_path / "mask.nii.gz", np.zeros((10, 10, 10), np.uint8))
    assert (
        main(["measure", str(phantom_dir), "--labels", str(bad), "-o", str(tmp_path / "t.csv")])
        == 2
    )
    err = capsys.readouterr().err
    assert str(bad) in err and "256 x 256 x 44 voxels of 1 x 1 x 3 mm" in err
    assert "10 x 10 x 10" in err and not (tmp_path / "t.csv").exists()


@pytest.mark.slow
def test_demo_headless_saves_a_screenshot(tmp_path):
    shot = tmp_path / "demo.png"
    env = {k: v for k, v in os.environ.items() if k not in ("DISPLAY", "WAYLAND_DISPLAY")}
    env["XDG_CACHE_HOME"] = str(tmp_path / "cache")
    result = subprocess.run(
        [EXE, "demo", "--screenshot", str(shot)],
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert f"demo screenshot saved to {shot}" in result.stdout
    from imageio.v3 import imread

    pixels = imread(shot)
    assert pixels.shape[0] >= 800 and pixels.shape[1] >= 1200
    assert pixels[..., :3].std() > 10  # not a blank window
