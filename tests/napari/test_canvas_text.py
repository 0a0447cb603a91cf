"""The canvas text: lines wrapped before the bottom orientation letter, whatever the layout."""

from __future__ import annotations

import numpy as np

from napari_uspio._napari.canvas_text import canvas_text

MESSAGE = "Lesion 2 on flair (threshold 726.3): Enter accepts, Esc cancels; the wheel pages"


def _lines(viewer) -> list[str]:
    return viewer.canvas.overlays["text"].text.split("\n")


def test_lines_end_before_the_middle_of_a_view_in_single_and_grid_layouts(make_napari_viewer):
    viewer = make_napari_viewer()
    for k in range(4):
        viewer.add_image(np.zeros((3, 16, 16), np.float32), name=f"image {k}")
    text = canvas_text(viewer)
    text.set("series", "flair")
    text.flash(MESSAGE)
    single = text._width_chars()
    assert single < len(MESSAGE)
    lines = _lines(viewer)
    assert lines[0] == "flair" and max(map(len, lines)) <= single
    assert " ".join(lines[1:]) == MESSAGE  # wrapped, nothing lost
    assert text.text("message") == MESSAGE  # the slot keeps its line whole

    viewer.canvas.grid.enabled = True  # four views side by side: half as wide each
    assert text._width_chars() < single
    assert max(map(len, _lines(viewer))) <= text._width_chars()
    assert len(_lines(viewer)) > len(lines)
