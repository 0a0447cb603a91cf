"""Per-lesion table columns computed from voxel lists (see :mod:`.lesions`)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from ..roles import MEASURED_MAPS
from .geometry import LesionVoxels

#: Maps the model understands; each enables the columns listed in :func:`columns_for`.
MAP_ROLES: tuple[str, ...] = MEASURED_MAPS
GEOMETRY_COLUMNS: tuple[str, ...] = ("voxels", "volume_mm3", "x_mm", "y_mm", "z_mm")


def columns_for(roles: set[str] | frozenset[str]) -> tuple[str, ...]:
    """Return the table columns, in order, given the roles of the maps present."""
    cols = list(GEOMETRY_COLUMNS)
    if "mtr" in roles:
        cols += ["mtr_mean", "mtr_sd"]
    if "qsm" in roles:
        cols += ["qsm_mean_ppb", "qsm_nawm_ppb", "qsm_rel_ppb", "qsm_rim_ppb"]
    if {"t1_pre_uspio", "t1_post_uspio"} <= roles:
        cols.append("uspio_enh_pct")
    if {"t1_pre_gd", "t1_post_gd"} <= roles:
        cols.append("gd_enh_pct")
    if "r2star" in roles:
        cols.append("r2star_mean")
    if "dr2star" in roles:
        cols.append("dr2star_mean")
    return tuple(cols)


def _divide(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    """Return num / den as float64, NaN where den is 0 (no warning)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        out = np.true_divide(num, den, dtype=np.float64)
    out[den == 0] = np.nan
    return out


#: Maps whose mean over the NAWM shell is used.
_SHELL_ROLES = frozenset({"qsm", "t1_pre_gd", "t1_post_gd", "t1_pre_uspio", "t1_post_uspio"})


def lesion_rows(
    voxels: LesionVoxels,
    flat_maps: Mapping[str, np.ndarray],
    index_to_world: np.ndarray,
    voxel_mm3: float,
    columns: tuple[str, ...],
) -> np.ndarray:
    """Return the (lesions, columns) float64 table rows of ``voxels.ids``.

    ``flat_maps`` index the maps by C-order flat index (a 1-D view, or the
    ``ndarray.flat`` of a strided view: no copy), keyed by role.
    """
    n = voxels.ids.size
    if n == 0:
        return np.zeros((0, len(columns)))
    count = voxels.n_edge + voxels.n_core
    world = (voxels.index_sum / count[:, None]) @ index_to_world[:3, :3].T + index_to_world[:3, 3]
    out = {
        "voxels": count.astype(float),
        "volume_mm3": count * voxel_mm3,
        "x_mm": world[:, 0],
        "y_mm": world[:, 1],
        "z_mm": world[:, 2],
    }
    if flat_maps:
        out.update(_map_columns(voxels, flat_maps))
    return np.column_stack([out[c] for c in columns])


def _map_columns(voxels: LesionVoxels, flat_maps: Mapping[str, np.ndarray]) -> dict:
    """Return the map-derived columns: NaN-aware means over edge, core, shell, lesion."""
    n = voxels.ids.size
    roles = list(flat_maps)
    index = np.concatenate([voxels.edge, voxels.core, voxels.shell])
    sizes = np.concatenate([voxels.n_edge, voxels.n_core, voxels.n_shell])
    n_lesion_voxels = voxels.edge.size + voxels.core.size
    # (maps, voxels + 1): the extra zero column lets reduceat start past the last voxel.
    dtype = np.result_type(*(m[:0] for m in flat_maps.values()))  # ndarray or flatiter
    values = np.empty((len(roles), index.size + 1), dtype=dtype)
    for i, role in enumerate(roles):
        if role in _SHELL_ROLES:
            values[i, :-1] = flat_maps[role][index]
            values[i, -1] = 0
        else:  # only the lesion is read; the shell sums of this map are unused zeros
            values[i, :n_lesion_voxels] = flat_maps[role][index[:n_lesion_voxels]]
            values[i, n_lesion_voxels:] = 0
    nan = np.isnan(values)
    has_nan = bool(nan.any())
    if has_nan:
        values[nan] = 0
    # Sums over the contiguous groups edge [0, n), core [n, 2n), shell [2n, 3n).
    starts = np.cumsum(sizes) - sizes
    total = np.add.reduceat(values, starts, axis=1, dtype=np.float64)
    number = np.broadcast_to(sizes.astype(float), total.shape).copy()
    if has_nan:
        number -= np.add.reduceat(nan, starts, axis=1, dtype=np.int64)
    empty = sizes == 0
    if empty.any():  # reduceat returns the value at the start of an empty group
        total[:, empty] = 0
        number[:, empty] = 0
    total, number = total.reshape(-1, 3, n), number.reshape(-1, 3, n)
    total = np.concatenate([total, total[:, :1] + total[:, 1:2]], axis=1)
    number = np.concatenate([number, number[:, :1] + number[:, 1:2]], axis=1)
    means = dict(
        zip(roles, _divide(total, number), strict=True)
    )  # role -> (edge, core, shell, lesion)
    out = {}
    if "mtr" in means:
        i = roles.index("mtr")
        lesion = np.repeat(np.tile(np.arange(n), 2), sizes[: 2 * n])
        deviation = values[i, :n_lesion_voxels] - means["mtr"][3][lesion]
        if has_nan:
            deviation[nan[i, :n_lesion_voxels]] = 0
        squares = np.bincount(lesion, weights=deviation**2, minlength=n)
        dof = number[i, 3] - 1.0
        out["mtr_mean"] = means["mtr"][3]
        out["mtr_sd"] = np.sqrt(_divide(squares, np.where(dof >= 1, dof, 0.0)))
    if "qsm" in means:
        edge, core, shell, lesion_mean = means["qsm"]
        out.update(
            qsm_mean_ppb=lesion_mean,
            qsm_nawm_ppb=shell,
            qsm_rel_ppb=lesion_mean - shell,
            qsm_rim_ppb=edge - core,
        )
    for agent in ("uspio", "gd"):
        pre, post = means.get(f"t1_pre_{agent}"), means.get(f"t1_post_{agent}")
        if pre is not None and post is not None:
            # (post_lesion / post_shell) / (pre_lesion / pre_shell); NaN if a divisor is 0
            ratio = _divide(post[3] * pre[2], np.where(pre[2] != 0, post[2] * pre[3], 0.0))
            out[f"{agent}_enh_pct"] = 100.0 * (ratio - 1.0)
    for role in ("r2star", "dr2star"):
        if role in means:
            out[f"{role}_mean"] = means[role][3]
    return out
