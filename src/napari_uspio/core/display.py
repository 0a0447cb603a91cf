"""Display windows (contrast limits) for the roles of a case, computed without Qt."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from .roles import DISPLAY, SYMMETRIC, WINDOW_PAIRS

#: Voxels sampled (about, at most) to estimate a window; percentiles need no more.
_SAMPLE_VOXELS = 262_144  # 64 ** 3: the 1st and 99.5th percentiles to within a grey level


def _sample(data: np.ndarray) -> np.ndarray:
    step = max(1, int(np.ceil((data.size / _SAMPLE_VOXELS) ** (1 / 3))))
    sample = data[::step, ::step, ::step]
    return sample[np.isfinite(sample)]


def percentile_window(data: np.ndarray, symmetric: bool = False) -> tuple[float, float]:
    """Window from the 1st-99.5th percentiles of the non-zero voxels.

    Symmetric windows are ``(-m, m)`` with ``m`` the 99.5th percentile of ``|data|``.
    """
    values = _sample(data)
    values = values[values != 0] if np.any(values != 0) else values
    if values.size == 0:
        return (0.0, 1.0)
    if symmetric:
        m = float(np.percentile(np.abs(values), 99.5)) or 1.0
        return (-m, m)
    lo, hi = (float(v) for v in np.percentile(values, [1.0, 99.5]))
    return (lo, hi) if hi > lo else (lo, lo + 1.0)


def case_windows(maps: Mapping[str, np.ndarray]) -> dict[str, tuple[float, float]]:
    """Contrast limits for every map: role defaults, percentiles, shared pre/post pairs."""
    windows = {}
    for name, data in maps.items():
        hint = DISPLAY.get(name)
        if hint is not None and hint.window is not None:
            windows[name] = hint.window
        else:
            windows[name] = percentile_window(data, symmetric=name in SYMMETRIC)
    for pre, post in WINDOW_PAIRS:
        if pre in windows and post in windows and DISPLAY[pre].window is None:
            shared = (
                min(windows[pre][0], windows[post][0]),
                max(windows[pre][1], windows[post][1]),
            )
            windows[pre] = windows[post] = shared
    return windows


#: Fixed presets of roles with physical units (name, (low, high)).
FIXED_PRESETS: dict[str, tuple[tuple[str, tuple[float, float]], ...]] = {
    "qsm": (
        ("±50 ppb", (-50.0, 50.0)),
        ("±100 ppb", (-100.0, 100.0)),
        ("±200 ppb", (-200.0, 200.0)),
    ),
    "mtr": (("MTR 0-0.6", (0.0, 0.6)), ("MTR 0.2-0.5 (WM)", (0.2, 0.5))),
}


def window_presets(role: str, data: np.ndarray) -> list[tuple[str, tuple[float, float]]]:
    """Named windows a reader cycles through for a map: default, narrow, wide, fixed ones.

    *default* is the window the case opens with (:func:`percentile_window`, or the
    role's fixed window); *narrow* halves its width around the same level (lesion
    contrast on T1 / FLAIR), *wide* doubles it; roles with physical units add fixed
    windows (QSM in ppb, MTR as a fraction).
    """
    hint = DISPLAY.get(role)
    if hint is not None and hint.window is not None:
        default = hint.window
    else:
        default = percentile_window(data, symmetric=role in SYMMETRIC)
    level, width = (default[0] + default[1]) / 2, default[1] - default[0]
    presets = [
        ("default", default),
        ("narrow", (level - width / 4, level + width / 4)),
        ("wide", (level - width, level + width)),
    ]
    return presets + list(FIXED_PRESETS.get(role, ()))
