"""The plots of the agreement report, as PNG bytes.

Drawn on :class:`matplotlib.figure.Figure` objects and rendered by
:class:`~matplotlib.backends.backend_agg.FigureCanvasAgg`: pyplot is never
imported, so the backend of a running napari session is never touched.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable

import numpy as np
import pandas as pd

from .format import (
    NAN_TEXT,
    field_heading,
    field_title,
    format_ci,
    format_percent,
    is_undefined,
    value_label,
)

#: Reference line of the forest plot: inter-rater Cohen's kappa of per-lesion
#: paramagnetic (QSM) rim presence, averaged over the published studies
#: (0.687; systematic review, Mult Scler Relat Disord 2023, PMID 37716210).
PUBLISHED_RIM_KAPPA = 0.69


def figure_png(fig) -> bytes:
    """The PNG of a matplotlib figure (110 dpi), the figure cleared."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(fig)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    fig.clear()
    return buffer.getvalue()


def _forest_rows(kappa: pd.DataFrame, fields: list[str]) -> list[tuple[str, str, pd.Series]]:
    """(field, label, row) in plot order: per field, Fleiss first, then the pairs."""
    rows = []
    for name in fields:
        part = kappa[kappa["field"] == name]
        part = part.assign(_all=part["readers"] != "all").sort_values(["_all", "readers"])
        for _, row in part.iterrows():
            who = "all (Fleiss)" if row["statistic"] == "fleiss" else str(row["readers"])
            rows.append((name, who, row))
    return rows


def forest_plot_png(kappa: pd.DataFrame, fields: Iterable[str] | None = None) -> bytes:
    """PNG of kappa with its 95 % CI per field and reader pair (y) on one axis (x).

    A diamond is Fleiss' kappa of all readers, a dot Cohen's of a pair; the
    solid line is kappa 0, the dashed line :data:`PUBLISHED_RIM_KAPPA`. Rows
    where kappa is undefined are labelled n/a and have no marker.
    """
    from matplotlib.figure import Figure
    from matplotlib.lines import Line2D

    fields = list(fields) if fields is not None else list(dict.fromkeys(kappa["field"]))
    rows = _forest_rows(kappa, fields)
    n = max(len(rows), 1)
    fig = Figure(figsize=(8.0, 1.3 + 0.28 * n), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(n)[::-1]
    finite = [
        float(v)
        for _, _, r in rows
        for v in (r["kappa"], r["low"], r["high"])
        if not is_undefined(v)
    ]
    left = min([-0.2, *[v - 0.05 for v in finite]])
    ax.set_xlim(left, 1.05)
    ax.set_ylim(-0.7, n - 0.3)
    previous = None
    for yi, (name, _, row) in zip(y, rows, strict=True):
        if name != previous and yi != y[0]:
            ax.axhline(yi + 0.5, color="0.8", lw=0.8)
        previous = name
        fleiss = row["statistic"] == "fleiss"
        colour = "#1f4e79" if fleiss else "#2e86c1"
        if not is_undefined(row["kappa"]):
            if not (is_undefined(row["low"]) or is_undefined(row["high"])):
                ax.plot([row["low"], row["high"]], [yi, yi], color=colour, lw=1.6)
            ax.plot(row["kappa"], yi, "D" if fleiss else "o", color=colour, ms=6 if fleiss else 5)
        text = format_ci(row["kappa"], row["low"], row["high"])
        if text == NAN_TEXT:
            text = f"{NAN_TEXT} ({format_percent(row['percent_agreement'])} agree)"
        ax.annotate(
            text,
            (1.0, yi),
            xycoords=("axes fraction", "data"),
            xytext=(6, 0),
            textcoords="offset points",
            va="center",
            fontsize=8,
        )
    ax.axvline(0.0, color="0.3", lw=1.0)
    ax.axvline(PUBLISHED_RIM_KAPPA, color="#c0392b", lw=1.0, ls="--")
    ax.set_yticks(y, [f"{field_title(f)} · {who}" for f, who, _ in rows], fontsize=8)
    ax.set_xlabel("kappa (95 % cluster bootstrap CI over patients)")
    ax.set_title("Inter-reader agreement per rating field", fontsize=10)
    ax.grid(axis="x", color="0.92")
    ax.set_axisbelow(True)
    handles = [
        Line2D([], [], color="#1f4e79", marker="D", ls="", label="Fleiss, all readers"),
        Line2D([], [], color="#2e86c1", marker="o", ls="", label="Cohen, reader pair"),
        Line2D(
            [],
            [],
            color="#c0392b",
            ls="--",
            label=f"published rim-lesion inter-rater κ {PUBLISHED_RIM_KAPPA}",
        ),
    ]
    fig.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8, frameon=False)
    return figure_png(fig)


def confusion_grid_png(
    name: str, matrices: dict[tuple[str, str], pd.DataFrame], columns: int = 3
) -> bytes:
    """PNG of one field's confusion matrices, one small heatmap per reader pair.

    ``matrices`` maps ``(reader_a, reader_b)`` to the matrix (rows reader_a's
    values, columns reader_b's); every cell is annotated with its count.
    """
    from matplotlib.figure import Figure

    pairs = list(matrices)
    columns = max(1, min(columns, len(pairs)))
    lines = max(1, math.ceil(len(pairs) / columns))
    size = max((max(m.shape) for m in matrices.values()), default=2)
    side = 1.1 + 0.42 * size
    fig = Figure(
        figsize=(columns * (side + 0.9), lines * (side + 0.5) + 0.4), layout="constrained"
    )
    axes = fig.subplots(lines, columns, squeeze=False)
    for ax in axes.ravel()[len(pairs) :]:
        ax.set_axis_off()
    for ax, (a, b) in zip(axes.ravel(), pairs, strict=False):
        matrix = matrices[a, b]
        counts = matrix.to_numpy(dtype=float)
        top = counts.max() if counts.size else 0.0
        ax.imshow(counts, cmap="Blues", vmin=0, vmax=max(top, 1.0), aspect="equal")
        for (i, j), count in np.ndenumerate(counts):
            dark = top > 0 and count > 0.6 * top
            ax.text(
                j,
                i,
                f"{int(count)}",
                ha="center",
                va="center",
                fontsize=8,
                color="white" if dark else "black",
            )
        ax.set_xticks(
            range(counts.shape[1]),
            [value_label(name, v) for v in matrix.columns],
            rotation=40,
            ha="right",
            rotation_mode="anchor",
            fontsize=7,
        )
        ax.set_yticks(
            range(counts.shape[0]), [value_label(name, v) for v in matrix.index], fontsize=7
        )
        ax.set_xlabel(str(b), fontsize=8)
        ax.set_ylabel(str(a), fontsize=8)
        ax.set_title(f"{a} vs {b}", fontsize=9)
    fig.suptitle(f"Confusion matrices: {field_heading(name)}", fontsize=10)
    return figure_png(fig)
