"""The figures of the analysis, as PNG bytes: a measure by group, points over a box.

As in seed 000's Figure 2: every value is a point (jittered sideways by a
seeded generator, so the figure is reproducible), over a box of its group
(median, quartiles, whiskers at 1.5 IQR); a pair whose post hoc p-value is
below :data:`ALPHA` is joined by a bracket marked ``*``. Drawn as the agreement
report draws (:class:`matplotlib.figure.Figure`, rendered by Agg; pyplot is never
imported, so a running napari session's backend is not touched).
"""

from __future__ import annotations

from collections.abc import Iterable

import numpy as np

from ..agreement.report.plots import figure_png

__all__ = ["ALPHA", "box_points_png"]

#: Significance level of the brackets.
ALPHA = 0.05
_COLOURS = ("#c0392b", "#2e86c1", "#7f8c8d", "#8e44ad", "#16a085")


def box_points_png(
    values: dict[str, np.ndarray],
    ylabel: str,
    title: str,
    pairs: Iterable[tuple[str, str, float]] = (),
    notes: dict[str, str] | None = None,
) -> bytes:
    """PNG of each group's values (x: groups in ``values`` order) as points over a box.

    ``pairs`` are ``(group_a, group_b, p)``; those with ``p <`` :data:`ALPHA`
    get a ``*`` bracket. ``notes`` adds a second line to a group's tick label
    (e.g. ``not tested``). A group without values shows ``n = 0`` and no box.
    """
    from matplotlib.figure import Figure

    names = list(values)
    notes = notes or {}
    fig = Figure(figsize=(1.4 + 1.5 * max(len(names), 1), 4.2), layout="constrained")
    ax = fig.add_subplot()
    rng = np.random.default_rng(0)
    x = np.arange(len(names))
    filled = [i for i, n in enumerate(names) if values[n].size]
    if filled:
        ax.boxplot(
            [values[names[i]] for i in filled],
            positions=x[filled],
            widths=0.55,
            showfliers=False,
            medianprops={"color": "black"},
            boxprops={"color": "0.35"},
            whiskerprops={"color": "0.35"},
            capprops={"color": "0.35"},
        )
    for i, name in enumerate(names):
        y = values[name]
        jitter = rng.uniform(-0.18, 0.18, y.size)
        colour = _COLOURS[i % len(_COLOURS)]
        ax.plot(x[i] + jitter, y, "o", ms=3.5, alpha=0.55, color=colour, mec="none")
    ticks = [f"{n}\nn = {values[n].size}" + (f"\n{notes[n]}" if n in notes else "") for n in names]
    ax.set_xticks(x, ticks, fontsize=8)
    ax.set_xlim(-0.6, len(names) - 0.4)
    finite = np.concatenate([np.empty(0), *values.values()])
    if finite.size:
        low, high = float(finite.min()), float(finite.max())
        step = (high - low) * 0.08 or abs(high) * 0.05 or 0.05
        top = high
        for a, b, p in pairs:
            if not (np.isfinite(p) and p < ALPHA) or a not in names or b not in names:
                continue
            top += step
            i, j = names.index(a), names.index(b)
            ax.plot([i, i, j, j], [top - step / 3, top, top, top - step / 3], color="0.2", lw=1)
            ax.text((i + j) / 2, top, f"* p = {p:.3f}", ha="center", va="bottom", fontsize=8)
        ax.set_ylim(low - step, top + 1.5 * step)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", color="0.92")
    ax.set_axisbelow(True)
    return figure_png(fig)
