"""The live per-lesion table of a label volume, updated in proportion to each edit.

Definitions
-----------
A *lesion* is the set of voxels holding one label id > 0 in the (z, y, x)
label volume. ``index_to_world`` maps homogeneous voxel indices (z, y, x, 1)
to RAS+ world mm; the spacing of an axis is the norm of its column in the 3x3
part, the voxel volume their product (``|det(3x3)|`` if sheared). NaN voxels
of a map are left out of every mean; a mean over no valid voxel is NaN.

- **shell** (NAWM shell) of a lesion: the voxels within ``shell_width_mm`` of
  any voxel of the lesion, i.e. reached by an offset ``d`` (integer, z y x)
  with ``sum((d * spacing_mm) ** 2) <= shell_width_mm ** 2``, excluding every
  lesion voxel (label != 0, whatever its id), restricted to ``wm_mask`` when
  one is given, and clipped at the volume edge.
- **edge** of a lesion: its voxels with at least one of their 4 in-plane
  (y, x) face neighbours outside the lesion (outside the volume counts as
  outside). **core**: its other voxels. In-plane because the rim is read on
  axial slices, which are often 3 mm thick.

Columns: one row per lesion, index ``lesion``, sorted; which columns a
model has follows the maps given (:func:`.stats.columns_for`; a column whose
maps are absent is absent), and each column's unit, decimals and definition
are declared once in :data:`napari_uspio.core.fields.COLUMNS`.

Cost
----
An edit costs O(changed voxels + bounding boxes, grown by the shell margin,
of the lesions it touches): the lesions whose grown bounding box meets the
changed box, whose voxels or shells may have changed. Their rows are
recomputed from their boxes; every other row is kept. The model holds its own
copy of the labels and O(lesions) bookkeeping; the maps and the white-matter
mask are referenced, not copied (a map that is not C-contiguous, or a mask
that is not bool, is copied once); rows read them when recomputed, so after
changing a map in place call ``reset(model.labels)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager

import numpy as np
import pandas as pd
from psygnal import Signal
from scipy import ndimage as ndi

from ..grid import voxel_volume_mm3
from .geometry import Ball, Box, LesionVoxels, gather_voxels, shell_in_box, spacing_mm
from .stats import MAP_ROLES, columns_for, lesion_rows

__all__ = ["LesionModel", "MAP_ROLES"]


class LesionModel:
    """Per-lesion statistics of a (z, y, x) label volume, kept current under edits.

    Parameters
    ----------
    labels : ndarray
        (z, y, x) integer label volume; the model keeps its own copy.
    maps : mapping of str to ndarray
        (z, y, x) float maps on the same grid, keyed by role (any subset of
        :data:`MAP_ROLES`). Referenced, not copied.
    index_to_world : ndarray
        4 x 4 voxel index (z, y, x) -> RAS+ world mm.
    wm_mask : ndarray of bool, optional
        White-matter mask; the shell is restricted to it when given.
    shell_width_mm : float
        Width of the NAWM shell around each lesion.
    """

    #: Emits the frozenset of lesion ids whose rows were added, updated or removed.
    changed = Signal(object)
    #: Emits ``(flat_indices, new_values)`` for every change of the label copy (O(change);
    #: computed only while something listens, e.g. an autosave journal), and
    #: ``(None, labels)`` when the whole volume is replaced by :meth:`reset`.
    voxels_changed = Signal(object, object)

    def __init__(
        self,
        labels: np.ndarray,
        maps: Mapping[str, np.ndarray],
        index_to_world: np.ndarray,
        wm_mask: np.ndarray | None = None,
        shell_width_mm: float = 3.0,
    ) -> None:
        labels = np.asarray(labels)
        if labels.ndim != 3:
            raise ValueError(f"labels must be a (z, y, x) volume, got shape {labels.shape}")
        self._shape = labels.shape
        affine = np.array(index_to_world, dtype=float)
        if affine.shape != (4, 4) or np.linalg.det(affine[:3, :3]) == 0:
            raise ValueError("index_to_world must be an invertible 4 x 4 affine")
        self._affine = affine
        self._voxel_mm3 = voxel_volume_mm3(affine)
        unknown = set(maps) - set(MAP_ROLES)
        if unknown:
            raise ValueError(f"unknown map roles {sorted(unknown)}; expected {MAP_ROLES}")
        self._flat_maps = {}
        for role in (r for r in MAP_ROLES if r in maps):
            array = np.asarray(maps[role])
            if array.shape != self._shape:
                raise ValueError(f"map {role!r} has shape {array.shape}, labels {self._shape}")
            # indexed by C-order flat index; a flipped view of a file is read in place
            self._flat_maps[role] = array.reshape(-1) if array.flags.c_contiguous else array.flat
        if wm_mask is not None:
            wm_mask = np.ascontiguousarray(wm_mask, dtype=bool)
            if wm_mask.shape != self._shape:
                raise ValueError(f"wm_mask has shape {wm_mask.shape}, labels {self._shape}")
        self._wm_mask = wm_mask
        self._columns = columns_for(set(self._flat_maps))
        self._ball = Ball.from_width(shell_width_mm, spacing_mm(affine))
        self._labels = np.zeros(0)
        self._ids = np.zeros(0, dtype=np.int64)
        self._lo = np.zeros((0, 3), dtype=np.int64)
        self._hi = np.zeros((0, 3), dtype=np.int64)
        self._values = np.zeros((0, len(self._columns)))
        self._pending: list[list[int]] = []  # changed boxes, lo + hi
        self._grow: dict[int, list[int]] = {}  # box (lo + hi) each new id was written in
        self._batch_depth = 0
        self._table: pd.DataFrame | None = None
        self._load(labels)

    # ------------------------------------------------------------------ state
    @property
    def columns(self) -> tuple[str, ...]:
        """Names of the table columns, in order."""
        return self._columns

    @property
    def ids(self) -> np.ndarray:
        """Sorted lesion ids (a copy)."""
        return self._ids.copy()

    @property
    def labels(self) -> np.ndarray:
        """Read-only view of the model's label copy."""
        view = self._labels.view()
        view.flags.writeable = False
        return view

    @property
    def shape(self) -> tuple[int, int, int]:
        """Shape (z, y, x) of the grid."""
        return self._shape

    @property
    def nbytes(self) -> int:
        """Bytes the model owns: its label copy plus the per-lesion bookkeeping."""
        owned = (self._labels, self._ids, self._lo, self._hi, self._values, self._ball.offsets)
        return int(sum(a.nbytes for a in owned))

    @property
    def shell_width_mm(self) -> float:
        """Width of the NAWM shell in mm; setting it recomputes every row."""
        return self._ball.width_mm

    @shell_width_mm.setter
    def shell_width_mm(self, width_mm: float) -> None:
        ball = Ball.from_width(width_mm, spacing_mm(self._affine))
        if ball.width_mm == self._ball.width_mm:
            return
        self._ball = ball
        self._recompute(self._ids.copy(), added=set())

    def column_arrays(self) -> dict[str, np.ndarray]:
        """Return the columns as arrays in id order, in column order (``voxels`` int64)."""
        return _column_arrays(self._columns, self._values)

    def table(self) -> pd.DataFrame:
        """Return the table: one row per lesion, index ``lesion``, sorted (cached)."""
        if self._table is None:
            self._table = self._frame(self._ids, self._values)
        return self._table.copy(deep=False)

    def lesion_bbox(self, lesion_id: int) -> Box:
        """Return the tight bounding box of a lesion as (z, y, x) slices."""
        pos = self._position(lesion_id)
        return tuple(
            slice(int(a), int(b)) for a, b in zip(self._lo[pos], self._hi[pos], strict=True)
        )

    def shell_mask(self, lesion_id: int) -> tuple[Box, np.ndarray]:
        """Return ``(box, mask)``: the shell of a lesion as a bool mask on ``box``."""
        box = self.lesion_bbox(lesion_id)
        return shell_in_box(self._labels, self._wm_mask, self._ball, lesion_id, box)

    def next_free_id(self) -> int:
        """Return the smallest id above every lesion id in use."""
        return int(self._ids[-1]) + 1 if self._ids.size else 1

    # ------------------------------------------------------------------ edits
    @contextmanager
    def batch(self) -> Iterator[None]:
        """Group edits: rows are recomputed, and ``changed`` emitted, once at the end."""
        self._batch_depth += 1
        try:
            yield
        finally:
            self._batch_depth -= 1
            if self._batch_depth == 0:
                self._flush()

    def apply_edit(self, slice_key: tuple[slice, ...], mask: np.ndarray | None, new_value: int):
        """Set the voxels of ``mask`` (None: all) inside box ``slice_key`` to ``new_value``."""
        box = self._box(slice_key)
        region = self._labels[box]
        if region.size == 0:
            return
        if mask is None:
            region[...] = new_value
        else:
            mask = np.asarray(mask, dtype=bool).reshape(region.shape)
            region[mask] = new_value
        if len(self.voxels_changed):
            local = np.nonzero(np.ones(region.shape, bool) if mask is None else mask)
            index = tuple(i + s.start for i, s in zip(local, box, strict=True))
            self._emit_voxels(index, np.full(index[0].size, new_value, self._labels.dtype))
        self._note([s.start for s in box], [s.stop for s in box], [int(new_value)])

    def apply_indices(self, indices: tuple[np.ndarray, ...], new_values) -> None:
        """Set ``labels[indices] = new_values`` (numpy fancy-index semantics)."""
        index = tuple(np.asarray(i, dtype=np.intp) for i in indices)
        if len(index) != 3:
            raise ValueError("indices must index the 3 axes (z, y, x)")
        if index[0].size == 0:
            return
        self._labels[index] = new_values
        bounds = [np.where(i < 0, i + n, i) for i, n in zip(index, self._shape, strict=True)]
        if len(self.voxels_changed):
            self._emit_voxels(tuple(bounds), self._labels[tuple(bounds)])
        lo = [int(b.min()) for b in bounds]
        hi = [int(b.max()) + 1 for b in bounds]
        self._note(lo, hi, np.unique(np.asarray(new_values)).tolist())

    def sync_region(self, labels_now: np.ndarray, region: Box | Iterable[Box]) -> None:
        """Take the values of ``labels_now`` wherever they differ inside ``region``.

        ``region`` is one box (tuple of slices) or an iterable of boxes; the
        cost is the size of the boxes, so undo / redo stay cheap.
        """
        boxes = [region] if _is_box(region) else list(region)
        with self.batch():
            for raw_box in boxes:
                box = self._box(raw_box)
                mine = self._labels[box]
                now = np.asarray(labels_now[box])
                differ = mine != now
                if not differ.any():
                    continue
                new = now[differ]
                mine[differ] = new
                if len(self.voxels_changed):
                    local = np.nonzero(differ)
                    index = tuple(i + s.start for i, s in zip(local, box, strict=True))
                    self._emit_voxels(index, new)
                used = [np.flatnonzero(differ.any(axis=a)) for a in ((1, 2), (0, 2), (0, 1))]
                lo = [s.start + int(u[0]) for s, u in zip(box, used, strict=True)]
                hi = [s.start + int(u[-1]) + 1 for s, u in zip(box, used, strict=True)]
                self._note(lo, hi, np.unique(new).tolist())

    def reset(self, labels: np.ndarray) -> None:
        """Replace the whole label volume and recompute every row."""
        before = set(self._ids.tolist())
        self._load(np.asarray(labels))
        self.voxels_changed.emit(None, self._labels)
        touched = before | set(self._ids.tolist())
        if touched:
            self.changed.emit(frozenset(touched))

    def full_recompute_table(self) -> pd.DataFrame:
        """Recompute the table from scratch (find_objects boxes), leaving the state alone."""
        voxels = self._scratch_voxels()
        return self._frame(voxels.ids, self._rows(voxels))

    # --------------------------------------------------------------- internals
    def _load(self, labels: np.ndarray) -> None:
        if labels.shape != self._shape:
            raise ValueError(f"labels have shape {labels.shape}, the model's grid {self._shape}")
        if labels.dtype == bool:
            labels = labels.astype(np.uint8)
        if not labels.any():  # nothing painted: zeros the OS maps lazily, no copy, no search
            self._labels = np.zeros(self._shape, labels.dtype)
        elif self._labels.dtype == labels.dtype and self._labels.shape == labels.shape:
            np.copyto(self._labels, labels)
        else:
            self._labels = np.array(labels, copy=True, order="C")
        self._pending.clear()
        self._grow.clear()
        voxels = self._scratch_voxels()
        self._ids, self._lo, self._hi = voxels.ids, voxels.lo, voxels.hi
        self._values = self._rows(voxels)
        self._table = None

    def _scratch_voxels(self) -> LesionVoxels:
        found = ndi.find_objects(self._labels) if self._labels.any() else []
        ids = np.array([i + 1 for i, s in enumerate(found) if s is not None], dtype=np.int64)
        bounds = np.array(
            [
                [s.start for s in found[i - 1]] + [s.stop for s in found[i - 1]]
                for i in ids.tolist()
            ],
            dtype=np.int64,
        ).reshape(-1, 6)
        return self._gather(ids, bounds[:, :3], bounds[:, 3:])

    def _gather(self, ids: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> LesionVoxels:
        return gather_voxels(self._labels, self._wm_mask, self._ball, ids, lo, hi)

    def _rows(self, voxels: LesionVoxels) -> np.ndarray:
        return lesion_rows(voxels, self._flat_maps, self._affine, self._voxel_mm3, self._columns)

    def _frame(self, ids: np.ndarray, values: np.ndarray) -> pd.DataFrame:
        data = _column_arrays(self._columns, values)
        return pd.DataFrame(data, index=pd.Index(ids.copy(), name="lesion"))

    def _position(self, lesion_id: int) -> int:
        pos = int(np.searchsorted(self._ids, lesion_id))
        if pos >= self._ids.size or self._ids[pos] != lesion_id:
            raise KeyError(f"no lesion {lesion_id}")
        return pos

    def _box(self, slice_key) -> Box:
        if len(slice_key) != 3:
            raise ValueError("a box needs one slice per axis (z, y, x)")
        box = tuple(slice(*s.indices(n)[:2]) for s, n in zip(slice_key, self._shape, strict=True))
        return box  # type: ignore[return-value]

    def _emit_voxels(self, index: tuple[np.ndarray, ...], values: np.ndarray) -> None:
        flat = np.ravel_multi_index(index, self._shape).astype(np.int64)
        self.voxels_changed.emit(flat, np.asarray(values))

    def _note(self, lo: list[int], hi: list[int], new_ids: list[int]) -> None:
        """Record a changed box and the ids written into it; flush outside a batch."""
        self._pending.append(lo + hi)
        for lesion_id in new_ids:
            if lesion_id > 0:
                old = self._grow.get(lesion_id, lo + hi)
                self._grow[lesion_id] = [min(a, b) for a, b in zip(old[:3], lo, strict=True)] + [
                    max(a, b) for a, b in zip(old[3:], hi, strict=True)
                ]
        if self._batch_depth == 0:
            self._flush()

    def _flush(self) -> None:
        if not self._pending:
            return
        boxes = np.array(self._pending, dtype=np.int64)
        grow, self._grow, self._pending = self._grow, {}, []
        added = set()
        for lesion_id, bounds in grow.items():
            lo, hi = bounds[:3], bounds[3:]
            pos = int(np.searchsorted(self._ids, lesion_id))
            if pos < self._ids.size and self._ids[pos] == lesion_id:
                self._lo[pos] = np.minimum(self._lo[pos], lo)
                self._hi[pos] = np.maximum(self._hi[pos], hi)
                continue
            added.add(lesion_id)
            self._ids = np.insert(self._ids, pos, lesion_id)
            self._lo = np.insert(self._lo, pos, lo, axis=0)
            self._hi = np.insert(self._hi, pos, hi, axis=0)
            self._values = np.insert(self._values, pos, np.nan, axis=0)
        margin = self._ball.margin
        start, stop = self._lo - margin, self._hi + margin
        meets = (start[None] < boxes[:, None, 3:]) & (stop[None] > boxes[:, None, :3])
        self._recompute(self._ids[meets.all(axis=2).any(axis=0)], added)

    def _recompute(self, ids: np.ndarray, added: set[int]) -> None:
        """Recompute the rows of ``ids`` from their boxes; drop those left empty."""
        if ids.size == 0:
            return
        pos = np.searchsorted(self._ids, ids)
        voxels = self._gather(ids, self._lo[pos], self._hi[pos])
        rows = self._rows(voxels)
        kept = np.searchsorted(self._ids, voxels.ids)
        old = self._values[kept]
        same = (old == rows) | (np.isnan(old) & np.isnan(rows))
        changed = set(voxels.ids[~same.all(axis=1)].tolist())
        self._values[kept] = rows
        self._lo[kept], self._hi[kept] = voxels.lo, voxels.hi
        if voxels.empty:
            gone = np.searchsorted(self._ids, voxels.empty)
            self._ids = np.delete(self._ids, gone)
            self._lo = np.delete(self._lo, gone, axis=0)
            self._hi = np.delete(self._hi, gone, axis=0)
            self._values = np.delete(self._values, gone, axis=0)
            changed |= set(voxels.empty) - added
        if changed:
            self._table = None
            self.changed.emit(frozenset(changed))


def _column_arrays(columns: tuple[str, ...], values: np.ndarray) -> dict[str, np.ndarray]:
    """Split the (lesions, columns) values into fresh per-column arrays."""
    values = np.array(values.T)  # one copy, each column contiguous
    arrays = dict(zip(columns, values, strict=True))
    arrays["voxels"] = arrays["voxels"].astype(np.int64)
    return arrays


def _is_box(region) -> bool:
    return isinstance(region, tuple) and all(isinstance(s, slice) for s in region)
