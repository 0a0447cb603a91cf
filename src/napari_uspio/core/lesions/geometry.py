"""Geometry of the per-lesion regions: NAWM shell, edge and core, as voxel lists.

Everything here works on small crops (a lesion's bounding box grown by the
shell margin), never on the whole volume. The definitions are the ones of
:mod:`napari_uspio.core.lesions`; this module only implements them.

The crops of several lesions are stacked along z into one zero-padded
*workspace*, each in its own slab, so that one set of whole-array numpy
operations serves them all (the fixed cost of a numpy call dominates on
lesion-sized arrays).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

Box = tuple[slice, slice, slice]

#: Largest workspace (voxels) built at once; more lesions go to further batches.
MAX_WORKSPACE_VOXELS = 1 << 22


def spacing_mm(index_to_world: np.ndarray) -> np.ndarray:
    """Return the voxel spacing (z, y, x) in mm: column norms of the 3x3 part."""
    return np.linalg.norm(np.asarray(index_to_world, dtype=float)[:3, :3], axis=0)


@dataclass(frozen=True)
class Ball:
    """The ellipsoidal structuring element of a shell width on a voxel grid.

    ``offsets`` holds every integer offset ``d`` (z, y, x) with
    ``sum((d * spacing_mm) ** 2) <= width_mm ** 2``. It is symmetric and for
    each (dz, dy) its dx form one run ``-h..h``: ``rows`` lists (dz, dy, h).
    """

    width_mm: float
    offsets: np.ndarray  # bool (2 rz + 1, 2 ry + 1, 2 rx + 1)
    margin: tuple[int, int, int]  # (rz, ry, rx)
    rows: tuple[tuple[int, int, int], ...]

    @classmethod
    def from_width(cls, width_mm: float, spacing: np.ndarray) -> Ball:
        """Build the element for ``width_mm`` on a grid of ``spacing`` (z, y, x) mm."""
        width_mm = float(width_mm)
        if not np.isfinite(width_mm) or width_mm < 0:
            raise ValueError(f"shell width must be a finite number >= 0 mm, got {width_mm}")
        reach = [int(np.ceil(width_mm / s)) + 1 for s in spacing]
        grid = np.meshgrid(*(np.arange(-r, r + 1) for r in reach), indexing="ij")
        inside = sum((g * s) ** 2 for g, s in zip(grid, spacing, strict=True)) <= width_mm**2
        used = np.argwhere(inside)
        margin = tuple(int(r - u) for r, u in zip(reach, used.min(axis=0), strict=True))
        offsets = inside[
            tuple(slice(r - m, r + m + 1) for r, m in zip(reach, margin, strict=True))
        ]
        rz, ry, _ = margin
        runs = offsets.sum(axis=2) // 2
        rows = tuple(
            (int(dz) - rz, int(dy) - ry, int(runs[dz, dy]))
            for dz, dy in zip(*np.nonzero(offsets.any(axis=2)), strict=True)
        )
        return cls(width_mm, offsets, margin, rows)  # type: ignore[arg-type]

    def dilate_padded(self, mask: np.ndarray) -> np.ndarray:
        """Return the dilation of a 3-D bool ``mask`` that is False within ``margin`` of its faces.

        Works on the raveled array: an offset (dz, dy, dx) is the flat shift
        ``(dz * ny + dy) * nx + dx``, exact because the border is empty.
        """
        n_y, n_x = mask.shape[1:]
        flat = mask.ravel()
        size = flat.size
        along_x = [flat]  # along_x[h]: flat dilated by -h..h along x
        for _ in range(max((h for _, _, h in self.rows), default=0)):
            prev = along_x[-1]
            grown = prev.copy()
            grown[1:] |= prev[:-1]
            grown[:-1] |= prev[1:]
            along_x.append(grown)
        out = np.zeros(size, dtype=bool)
        for dz, dy, h in self.rows:
            shift = (dz * n_y + dy) * n_x
            if shift >= size or -shift >= size:
                continue
            if shift >= 0:
                out[shift:] |= along_x[h][: size - shift]
            else:
                out[:shift] |= along_x[h][-shift:]
        return out.reshape(mask.shape)


def inplane_interior(lesion: np.ndarray) -> np.ndarray:
    """Return lesion voxels whose 4 in-plane (y, x) face neighbours are all lesion.

    ``lesion`` is a 3-D bool array that is False on its y and x borders.
    """
    n_x = lesion.shape[2]
    flat = lesion.ravel()
    inner = flat.copy()
    inner[1:] &= flat[:-1]
    inner[:-1] &= flat[1:]
    inner[n_x:] &= flat[:-n_x]
    inner[:-n_x] &= flat[n_x:]
    return inner.reshape(lesion.shape)


@dataclass
class _Workspace:
    """Lesion crops stacked along z, one slab each, padded by ``pad`` voxels.

    Slab ``i`` spans z ``[z0[i], z0[i+1])`` and maps to the volume box whose
    first voxel (possibly outside the volume) is ``origin[i]``; ``inside[i]``
    is the part of the slab inside the volume. ``reach`` is the dilated
    lesion minus the lesion: the shell before the label and WM conditions.
    """

    lesion: np.ndarray
    reach: np.ndarray
    z0: np.ndarray
    origin: np.ndarray
    inside: list[Box]
    volume_box: list[Box]


def _workspace(labels, ball: Ball, ids: list[int], lo: np.ndarray, hi: np.ndarray):
    """Fill the workspace of lesions ``ids`` with bounding boxes ``[lo, hi)``."""
    pad = np.maximum(np.array(ball.margin), 1)
    origin = lo - pad
    depth = hi[:, 0] - lo[:, 0] + 2 * pad[0]
    n_y, n_x = (hi[:, 1:] - lo[:, 1:]).max(axis=0) + 2 * pad[1:]
    z0 = np.concatenate([[0], np.cumsum(depth)])
    lesion = np.zeros((int(z0[-1]), int(n_y), int(n_x)), dtype=bool)
    start = np.maximum(origin, 0)
    stop = np.minimum(hi + pad, labels.shape)
    inside, volume_box = [], []
    for i, lesion_id in enumerate(ids):
        a, b, o, z = start[i].tolist(), stop[i].tolist(), origin[i].tolist(), int(z0[i])
        box = (slice(a[0], b[0]), slice(a[1], b[1]), slice(a[2], b[2]))
        slab = (
            slice(z + a[0] - o[0], z + b[0] - o[0]),
            slice(a[1] - o[1], b[1] - o[1]),
            slice(a[2] - o[2], b[2] - o[2]),
        )
        np.equal(labels[box], lesion_id, out=lesion[slab])
        inside.append(slab)
        volume_box.append(box)
    reach = ball.dilate_padded(lesion)
    reach &= ~lesion
    for i in np.flatnonzero((start != origin).any(axis=1) | (stop != hi + pad).any(axis=1)):
        slab = reach[z0[i] : z0[i + 1]]  # a lesion at the volume edge: cut what is outside
        cuts = zip(start[i] - origin[i], stop[i] - origin[i], strict=True)
        for axis, (cut_lo, cut_hi) in enumerate(cuts):
            index = [slice(None)] * 3
            index[axis] = slice(0, int(cut_lo))
            slab[tuple(index)] = False
            index[axis] = slice(int(cut_hi), None)
            slab[tuple(index)] = False
    return _Workspace(lesion, reach, z0, origin, inside, volume_box)


def shell_in_box(
    labels: np.ndarray, wm_mask: np.ndarray | None, ball: Ball, lesion_id: int, box: Box
) -> tuple[Box, np.ndarray]:
    """Return ``(volume_box, mask)``: the shell of a lesion whose voxels lie in ``box``."""
    lo = np.array([[s.start for s in box]])
    hi = np.array([[s.stop for s in box]])
    space = _workspace(labels, ball, [lesion_id], lo, hi)
    volume_box = space.volume_box[0]
    shell = space.reach[space.inside[0]] & (labels[volume_box] == 0)
    if wm_mask is not None:
        shell &= wm_mask[volume_box]
    return volume_box, shell


@dataclass
class LesionVoxels:
    """Voxel lists of a set of lesions, concatenated lesion by lesion.

    ``edge``, ``core`` and ``shell`` hold C-order flat indices into the volume,
    grouped by lesion in the order of ``ids``; ``n_edge`` etc. give the group
    lengths. ``lo`` / ``hi`` are the tight bounding boxes (hi exclusive) and
    ``index_sum`` the per-axis sums of the lesion voxel indices. ``empty``
    lists the requested ids that have no voxel left.
    """

    ids: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    index_sum: np.ndarray
    edge: np.ndarray
    core: np.ndarray
    shell: np.ndarray
    n_edge: np.ndarray
    n_core: np.ndarray
    n_shell: np.ndarray
    empty: list[int]


def gather_voxels(
    labels: np.ndarray,
    wm_mask: np.ndarray | None,
    ball: Ball,
    ids: np.ndarray,
    lo: np.ndarray,
    hi: np.ndarray,
) -> LesionVoxels:
    """Collect the voxels of each lesion ``ids[i]``, all of which lie in ``[lo[i], hi[i])``."""
    size = hi - lo + 2 * np.maximum(np.array(ball.margin), 1)  # workspace extent per lesion
    parts, first = [], 0
    while first < ids.size or not parts:  # batches in id order, below MAX_WORKSPACE_VOXELS
        last = first + 1
        while last < ids.size:
            extent = size[first : last + 1]
            if extent[:, 0].sum() * extent[:, 1].max() * extent[:, 2].max() > MAX_WORKSPACE_VOXELS:
                break
            last += 1
        batch = slice(first, last)
        parts.append(_gather_batch(labels, wm_mask, ball, ids[batch], lo[batch], hi[batch]))
        first = last
    if len(parts) == 1:
        return parts[0]
    fields = "ids lo hi index_sum edge core shell n_edge n_core n_shell".split()
    return LesionVoxels(
        *(np.concatenate([getattr(p, f) for p in parts]) for f in fields),
        empty=[i for p in parts for i in p.empty],
    )


def _gather_batch(labels, wm_mask, ball, ids, lo, hi) -> LesionVoxels:
    k = ids.size
    if k == 0:
        none = np.zeros(0, dtype=np.int64)
        pairs = np.zeros((0, 3), dtype=np.int64)
        return LesionVoxels(
            none, pairs, pairs, pairs * 1.0, none, none, none, none, none, none, []
        )
    space = _workspace(labels, ball, ids.tolist(), lo, hi)
    n_planes, n_y, n_x = space.lesion.shape
    _, vol_y, vol_x = labels.shape
    # Per workspace plane: its lesion, its volume z and the flat volume index of its (0, 0).
    plane_group = np.repeat(np.arange(k), np.diff(space.z0))
    plane_origin = space.origin[plane_group]
    plane_z = np.arange(n_planes) - space.z0[plane_group] + plane_origin[:, 0]
    plane_base = (plane_z * vol_y + plane_origin[:, 1]) * vol_x + plane_origin[:, 2]

    def locate(flat):
        """Return the plane, local y, local x and flat volume index of workspace voxels."""
        plane, rest = np.divmod(flat, n_y * n_x)
        y, x = np.divmod(rest, n_x)
        return plane, y, x, plane_base[plane] + (y * vol_x + x)

    at = np.flatnonzero(space.lesion)
    plane, y, x, index = locate(at)
    group = plane_group[plane]
    in_core = inplane_interior(space.lesion).ravel()[at]
    in_edge = ~in_core
    count = np.bincount(group, minlength=k)
    kept = count > 0
    origin = space.origin[kept]
    ends = np.cumsum(count)[kept]
    starts = ends - count[kept]
    z = plane_z[plane]
    if at.size:
        lo_t = np.stack(
            [z[starts], np.minimum.reduceat(y, starts), np.minimum.reduceat(x, starts)], 1
        )
        hi_t = np.stack(
            [z[ends - 1], np.maximum.reduceat(y, starts), np.maximum.reduceat(x, starts)], 1
        )
        lo_t[:, 1:] += origin[:, 1:]
        hi_t[:, 1:] += origin[:, 1:] + 1
        hi_t[:, 0] += 1
    else:
        lo_t = hi_t = np.zeros((0, 3), dtype=np.int64)
    sums = np.stack([np.bincount(group, weights=v, minlength=k)[kept] for v in (z, y, x)], 1)
    sums[:, 1:] += origin[:, 1:] * count[kept][:, None]
    # Shell: the reach, where the label is 0 (and WM), read at those voxels only.
    shell_plane, _, _, shell = locate(np.flatnonzero(space.reach))
    free = labels.reshape(-1).take(shell) == 0
    if wm_mask is not None:
        free &= wm_mask.reshape(-1).take(shell)
    shell, shell_plane = shell[free], shell_plane[free]
    return LesionVoxels(
        ids=ids[kept],
        lo=lo_t,
        hi=hi_t,
        index_sum=sums,
        edge=index[in_edge],
        core=index[in_core],
        shell=shell,
        n_edge=np.bincount(group[in_edge], minlength=k)[kept],
        n_core=np.bincount(group[in_core], minlength=k)[kept],
        n_shell=np.bincount(plane_group[shell_plane], minlength=k)[kept],
        empty=ids[~kept].tolist(),
    )
