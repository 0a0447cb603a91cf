"""Autosave journals every label change and rating; a new store handle sees all of it."""

from __future__ import annotations

import napari.layers
import numpy as np

from napari_uspio._napari.binding import LabelsBinding
from napari_uspio.core.lesions import LesionModel
from napari_uspio.core.study.autosave import Autosave
from napari_uspio.core.study.order import OrderEntry
from napari_uspio.core.study.sqlite import SQLiteStore

SHAPE = (6, 24, 24)


def test_every_edit_and_rating_reaches_the_store(tmp_path):
    store = SQLiteStore(tmp_path / "study.sqlite", create=True, compact_strokes=3)
    store.add_reader("r1", "reader", [OrderEntry("case01", "C-1", False)])
    model = LesionModel(np.zeros(SHAPE, np.uint16), {}, np.eye(4))
    layer = napari.layers.Labels(np.zeros(SHAPE, np.uint16))
    binding = LabelsBinding(layer, model)
    autosave = Autosave(store, "r1", "C-1", model, binding.ratings)
    layer.brush_size = 4
    for i, (y, x) in enumerate([(5, 5), (12, 12), (18, 6), (6, 18)], start=1):
        with layer.block_history():
            layer.paint((2, y, x), i)
    layer.fill((2, 12, 12), 7)
    layer.undo()  # no paint event: the journal gets the diff all the same
    binding.delete_lesion(3)
    binding.ratings.set(1, gd="shell", uspio="ring", comment="rim?")
    binding.ratings.set(2, gd="none")
    binding.ratings.clear(2, "gd")
    assert autosave.last_seq > 0
    assert store.journal_size("r1", "C-1")[0] > 3  # nothing compacted on the paint path
    autosave.compact()
    assert store.journal_size("r1", "C-1")[0] == 0
    autosave.disconnect()
    reopened = SQLiteStore(tmp_path / "study.sqlite")
    saved = reopened.labels("r1", "C-1", SHAPE, np.uint16)
    np.testing.assert_array_equal(saved, layer.data)
    ratings = reopened.ratings("r1", "C-1")
    assert ratings[1]["gd"] == "shell" and ratings[1]["comment"] == "rim?"
    assert 2 not in ratings  # cleared to nothing
    layer.data = np.ones(SHAPE, np.uint16)  # after disconnect: not journaled
    np.testing.assert_array_equal(reopened.labels("r1", "C-1", SHAPE, np.uint16), saved)
