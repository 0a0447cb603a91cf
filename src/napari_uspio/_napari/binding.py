"""Bind a napari Labels layer to a :class:`~napari_uspio.core.lesions.LesionModel`.

Edits reach the model three ways, each in proportion to its size:

- ``layer.events.paint`` (paint, fill, paint_polygon, data_setitem): the
  event may fire before the layer's array is written, so the model applies
  the event's payload, atom by atom, rather than reading the layer. The boxes
  of the atoms are marked in a coarse bitmap of *dirty blocks*.
- ``layer.events.set_data`` (undo / redo replay the history and only refresh;
  it also fires on slicing): the model compares its label copy with the
  layer inside the dirty blocks only, where any history replay must fall.
- ``layer.events.data`` (``layer.data = ...``): full recompute.

The table is published as ``layer.features`` with an ``index`` column (the
label id), one row per lesion, so hovering a lesion shows its row. When the
set of lesions is unchanged the columns are replaced in place and
``layer.events.features`` emitted, which is several times cheaper than
assigning a new table.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from psygnal import Signal

from ..core.lesions import LesionModel
from ..core.lesions.geometry import Box
from ..core.ratings import Ratings

__all__ = ["LabelsBinding", "delete_lesion", "merge_lesions"]

#: Dirty-block size (z, y, x) in voxels: thin in z, where slices are often thick.
BLOCK_SHAPE = (4, 16, 16)


@dataclass
class _Published:
    """What the binding last assigned to ``layer.features``."""

    table: object  # the DataFrame object
    ids: np.ndarray
    names: object  # its columns Index, whose identity tells if columns moved
    positions: dict = field(default_factory=dict)  # column names -> their positions


class LabelsBinding:
    """Keep a :class:`LesionModel` and ``layer.features`` current with a Labels layer.

    Parameters
    ----------
    layer : napari.layers.Labels
        A 3-D (z, y, x) labels layer on the model's grid.
    model : LesionModel
        The model; reset from ``layer.data`` if its labels differ.
    ratings : Ratings, optional
        The reader's ratings of these lesions; their columns (and the derived
        ``lesion_class``) are published beside the measures: one table.
    """

    #: Emitted (with the ids) after ``layer.features`` follows a model or rating change.
    changed = Signal(object)

    def __init__(self, layer, model: LesionModel, ratings: Ratings | None = None) -> None:
        if layer.multiscale:
            raise ValueError("multiscale labels layers are not supported")
        if tuple(layer.data.shape) != model.shape:
            raise ValueError(f"layer shape {layer.data.shape} != model grid {model.shape}")
        self._layer = weakref.ref(layer)  # the registry's value must not keep its key alive
        self.model = model
        self.ratings = Ratings() if ratings is None else ratings
        self._block = np.array(BLOCK_SHAPE)
        self._dirty = np.zeros(-(-np.array(model.shape) // self._block), dtype=bool)
        self._dirty_boxes: list[Box] | None = []
        self._published: _Published | None = None
        data = np.asarray(layer.data)
        if not _equal_by_slabs(model.labels, data):
            model.reset(data)
        # Plain functions, not bound methods: the emitters hold them strongly, so
        # the binding lives as long as the layer, until disconnect().
        self._connections = [
            (layer.events.paint, lambda event: self._on_paint(event)),
            (layer.events.set_data, lambda event: self._on_set_data()),
            (layer.events.data, lambda event: self._on_data()),
            (model.changed, lambda ids: self._publish(ids)),
            (self.ratings.changed, lambda ids: self._publish(ids, ratings_changed=True)),
        ]
        for emitter, callback in self._connections:
            emitter.connect(callback)
        self._publish()

    @property
    def layer(self):
        """The Labels layer followed (None once napari has freed it)."""
        return self._layer()

    def disconnect(self) -> None:
        """Stop following the layer (the features stay as they are)."""
        for emitter, callback in self._connections:
            emitter.disconnect(callback)
        self._connections = []

    def table(self) -> pd.DataFrame:
        """The one per-lesion table: the model's measures joined with the ratings."""
        return self.model.table().join(self.ratings.table(self.model.ids))

    def new_lesion_id(self) -> int:
        """An id never used in this session, so no dormant rating comes back with it."""
        return self.ratings.next_free_id(self.model.ids)

    def delete_lesion(self, lesion_id: int) -> None:
        """Erase a lesion, undoably (see :func:`delete_lesion`)."""
        delete_lesion(self.layer, lesion_id, self.model.lesion_bbox(lesion_id))

    def merge_lesions(self, source_id: int, target_id: int) -> None:
        """Relabel lesion ``source_id`` as ``target_id``, undoably."""
        merge_lesions(self.layer, source_id, target_id, self.model.lesion_bbox(source_id))

    # --------------------------------------------------------------- handlers
    def _on_paint(self, event) -> None:
        with self.model.batch():
            for atom in event.value:
                if hasattr(atom, "slice_key") and hasattr(atom, "new_value"):
                    self.model.apply_edit(atom.slice_key, atom.mask, atom.new_value)
                    self._mark_box(atom.slice_key)
                else:
                    indices, _old_values, new_values = atom
                    self.model.apply_indices(indices, new_values)
                    self._mark_indices(indices)

    def _on_set_data(self) -> None:
        if tuple(self.layer.data.shape) != self.model.shape:
            return  # new data of another shape: the data event follows and fails loudly
        if self._dirty_boxes is None:
            self._dirty_boxes = self._blocks_to_boxes()
        if self._dirty_boxes:
            self.model.sync_region(self.layer.data, self._dirty_boxes)

    def _on_data(self) -> None:
        # The undo history survives ``layer.data = ...``: keep the dirty blocks.
        self.model.reset(np.asarray(self.layer.data))

    # ---------------------------------------------------------------- helpers
    def _publish(self, ids=frozenset(), ratings_changed: bool = False) -> None:
        """Make ``layer.features`` equal the one table (index column = label id)."""
        self._publish_features(ratings_changed)
        self.changed.emit(ids)

    def _publish_features(self, ratings_changed: bool) -> None:
        ids = self.model.ids
        features = self.layer.features
        same_rows = (
            self._published is not None
            and features is self._published.table
            and np.array_equal(ids, self._published.ids)
        )
        columns = {} if same_rows and ratings_changed else self.model.column_arrays()
        if ratings_changed or not same_rows:
            columns |= self.ratings.columns(ids)
        if same_rows:
            # Same rows: replace the changed columns in place, found by name (cheap:
            # a stroke only touches the measures, a rating only its columns).
            if features.columns is not self._published.names:  # another party edited them
                self._published.names = features.columns
                self._published.positions.clear()
            key = tuple(columns)
            if key not in self._published.positions:
                self._published.positions[key] = features.columns.get_indexer(key).tolist()
            positions = self._published.positions[key]
            if min(positions, default=0) >= 0:
                for position, values in zip(positions, columns.values(), strict=True):
                    features.isetitem(position, values)
                self.layer.events.features()
                return
        self.layer.features = {"index": ids, **columns}
        table = self.layer.features
        self._published = _Published(table, ids, table.columns)

    def _mark_box(self, slice_key) -> None:
        b_z, b_y, b_x = BLOCK_SHAPE
        (z0, z1), (y0, y1), (x0, x1) = (
            s.indices(n)[:2] for s, n in zip(slice_key, self.model.shape, strict=True)
        )
        if z1 <= z0 or y1 <= y0 or x1 <= x0:
            return
        blocks = (
            slice(z0 // b_z, (z1 - 1) // b_z + 1),
            slice(y0 // b_y, (y1 - 1) // b_y + 1),
            slice(x0 // b_x, (x1 - 1) // b_x + 1),
        )
        if not self._dirty[blocks].all():
            self._dirty[blocks] = True
            self._dirty_boxes = None

    def _mark_indices(self, indices) -> None:
        shape = self.model.shape
        blocks = tuple(
            (np.where(i < 0, i + n, i) // b)
            for i, n, b in zip((np.asarray(i) for i in indices), shape, self._block, strict=True)
        )
        if not self._dirty[blocks].all():
            self._dirty[blocks] = True
            self._dirty_boxes = None

    def _blocks_to_boxes(self) -> list[Box]:
        """Return the dirty blocks as boxes, runs along x merged."""
        bz, by, bx = np.nonzero(self._dirty)
        if bz.size == 0:
            return []
        # Runs along x, then runs of identical x-runs along y.
        starts = np.ones(bz.size, dtype=bool)
        starts[1:] = (bz[1:] != bz[:-1]) | (by[1:] != by[:-1]) | (bx[1:] != bx[:-1] + 1)
        first = np.flatnonzero(starts)
        last = np.append(first[1:], bz.size) - 1
        runs = np.stack([bz[first], bx[first], bx[last], by[first]], 1)
        runs = runs[np.lexsort(runs.T[::-1])]  # by (z, x0, x1, y)
        new = np.ones(len(runs), dtype=bool)
        new[1:] = (runs[1:, :3] != runs[:-1, :3]).any(axis=1) | (runs[1:, 3] != runs[:-1, 3] + 1)
        first = np.flatnonzero(new)
        last_y = runs[np.append(first[1:], len(runs)) - 1, 3]
        b_z, b_y, b_x = BLOCK_SHAPE
        return [
            (
                slice(z * b_z, (z + 1) * b_z),
                slice(y0 * b_y, (y1 + 1) * b_y),
                slice(x0 * b_x, (x1 + 1) * b_x),
            )
            for (z, x0, x1, y0), y1 in zip(runs[first].tolist(), last_y.tolist(), strict=True)
        ]


def _equal_by_slabs(a: np.ndarray, b: np.ndarray, depth: int = 8) -> bool:
    """Return whether two (z, y, x) arrays are equal, without a full-size temporary."""
    return all(np.array_equal(a[z : z + depth], b[z : z + depth]) for z in range(0, len(a), depth))


def _relabel(layer, old_id: int, new_id: int, bbox: Box | None) -> None:
    """Set every voxel of ``old_id`` inside ``bbox`` (None: all) to ``new_id``."""
    box = bbox if bbox is not None else tuple(slice(0, n) for n in layer.data.shape)
    local = np.nonzero(np.asarray(layer.data[box]) == old_id)
    if local[0].size == 0 or old_id == new_id:
        return
    indices = tuple(i + s.start for i, s in zip(local, box, strict=True))
    layer.data_setitem(indices, new_id)


def delete_lesion(layer, lesion_id: int, bbox: Box | None = None) -> None:
    """Erase ``lesion_id`` through ``layer.data_setitem`` (undoable, emits paint).

    ``bbox`` (e.g. ``model.lesion_bbox(lesion_id)``) limits the search; without
    it the whole volume is scanned.
    """
    _relabel(layer, lesion_id, 0, bbox)


def merge_lesions(layer, source_id: int, target_id: int, bbox: Box | None = None) -> None:
    """Relabel ``source_id`` as ``target_id`` through ``layer.data_setitem`` (undoable).

    ``bbox`` is the source lesion's box (e.g. ``model.lesion_bbox(source_id)``);
    without it the whole volume is scanned.
    """
    _relabel(layer, source_id, target_id, bbox)
