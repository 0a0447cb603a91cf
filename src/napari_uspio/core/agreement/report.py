"""The agreement report of a study: tables as CSV, one self-contained HTML page.

:func:`write_report` writes into one folder::

    detection.csv     lesion detection per reader pair (DETECTION_COLUMNS)
    voxel_dice.csv    Dice of the whole lesion masks per case and pair
    kappa.csv         Cohen (per pair) and Fleiss (all readers) kappa per field
    confusion.csv     every confusion matrix in long form, zero cells too
    patient.csv       lesion-count ICC and patient-group agreement
    patients.csv      per case and reader: lesion count and patient group
    intra.csv         intra-reader agreement (first vs repeated reading)
    lesions.csv       the matched lesion groups (case, item, reader, lesion, ratings)
    report.html       one self-contained page for the study coordinator
    provenance.json   settings, software versions, SHA-256 of every file above

CSV conventions are those of :mod:`napari_uspio.core.export`: UTF-8, one
header row, no index column; an undefined statistic (NaN) and an unrated or
undetected value are **empty cells**; the not-applicable rating is written
``not applicable``. Read them back with
``pd.read_csv(path, keep_default_na=False, na_values=[""])``.

In the HTML page (and the Agreement widget) an undefined statistic is written
**NaN**, the word the page's note explains ("kappa is NaN when every rating
falls in one category"); an empty cell there would read as "not computed".
Statistics have two decimals, percent agreement is in percent.

The page holds no link to any other file or site: its plots (matplotlib, Agg,
drawn on :class:`matplotlib.figure.Figure` objects so the backend of a running
napari session is never touched) are PNG ``data:`` URIs and its CSS is
inline. Every file is written to a temporary file beside its target and all
are renamed only once all are written (:func:`~napari_uspio.core.files.atomic_path`),
so a failed run leaves the previous report whole.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from pathlib import Path

import numpy as np
import pandas as pd

from .. import fields as spec
from ..csvfiles import CONVENTION, write_table
from ..files import atomic_path
from ..provenance import now_iso, sha256_file, software, to_json
from .readings import compared_fields
from .result import StudyAgreement

__all__ = [
    "field_title",
    "PUBLISHED_RIM_KAPPA",
    "REPORT_FILES",
    "format_ci",
    "format_number",
    "format_percent",
    "forest_plot_png",
    "confusion_grid_png",
    "report_html",
    "write_report",
]

Progress = Callable[[int, int, str], None]

#: The files of a report, by key (the keys of :func:`write_report`'s result).
REPORT_FILES: dict[str, str] = {
    "detection": "detection.csv",
    "voxel_dice": "voxel_dice.csv",
    "kappa": "kappa.csv",
    "confusion": "confusion.csv",
    "patient": "patient.csv",
    "patients": "patients.csv",
    "intra": "intra.csv",
    "lesions": "lesions.csv",
    "report": "report.html",
    "provenance": "provenance.json",
}
#: Reference line of the forest plot: inter-rater Cohen's kappa of per-lesion
#: paramagnetic (QSM) rim presence, averaged over the published studies
#: (0.687; systematic review, Mult Scler Relat Disord 2023, PMID 37716210).
PUBLISHED_RIM_KAPPA = 0.69
#: Confusion matrices of the patient groups are keyed by this field name.
PATIENT_GROUP = spec.PATIENT_GROUP.name
NAN_TEXT = "NaN"
_NA_COLUMNS = {"lesions": ("overlap",), "confusion": ("value_a", "value_b")}


# ------------------------------------------------------------------ formatting
def format_number(value: object, decimals: int = 2) -> str:
    """``value`` with ``decimals`` decimals; ``NaN`` when undefined (None, NaN, <NA>)."""
    if value is None or value is pd.NA:
        return NAN_TEXT
    number = float(value)
    if math.isnan(number):
        return NAN_TEXT
    text = f"{number:.{decimals}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text  # no "-0.00"


def format_ci(estimate: object, low: object, high: object, decimals: int = 2) -> str:
    """``0.72 [0.55, 0.88]``; the bounds are left out when undefined."""
    text = format_number(estimate, decimals)
    if text == NAN_TEXT or _isnan(low) or _isnan(high):
        return text
    return f"{text} [{format_number(low, decimals)}, {format_number(high, decimals)}]"


def _isnan(value: object) -> bool:
    return value is None or value is pd.NA or math.isnan(float(value))


def format_percent(value: object) -> str:
    """A fraction (0-1) in percent, ``83 %``; ``NaN`` when undefined."""
    return NAN_TEXT if _isnan(value) else f"{100 * float(value):.0f} %"


def _count(value: object) -> str:
    return "" if value is None or value is pd.NA or _isnan(value) else str(int(value))


def field_title(name: str) -> str:
    """The title of a rating field, the lesion class or the patient group (else the name)."""
    try:
        return spec.derived_or_rating(name).title
    except KeyError:
        return name


def _value_label(name: str, value: object) -> str:
    """The display label of a rating value (``ring`` -> ``ring-like``)."""
    try:
        return spec.derived_or_rating(name).label(str(value))
    except KeyError:
        return str(value)


def _field_title(name: str) -> str:
    title = field_title(name)
    return f"{title} ({name})" if title != name else name


def _fields(agreement: StudyAgreement) -> list[str]:
    """Compared rating fields (those of the kappa table): known ones first, in order."""
    seen = list(dict.fromkeys(agreement.kappa["field"].astype(str)))
    known = [f for f in compared_fields() if f in seen]
    return known + [f for f in seen if f not in known]


# ------------------------------------------------------------------ plots
def _png(fig) -> bytes:
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
    where kappa is NaN are labelled so and have no marker.
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
        float(v) for _, _, r in rows for v in (r["kappa"], r["low"], r["high"]) if not _isnan(v)
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
        if not _isnan(row["kappa"]):
            if not (_isnan(row["low"]) or _isnan(row["high"])):
                ax.plot([row["low"], row["high"]], [yi, yi], color=colour, lw=1.6)
            ax.plot(row["kappa"], yi, "D" if fleiss else "o", color=colour, ms=6 if fleiss else 5)
        text = format_ci(row["kappa"], row["low"], row["high"])
        if text == NAN_TEXT:
            text = f"NaN ({format_percent(row['percent_agreement'])} agree)"
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
    ax.set_xlabel("kappa (95 % bootstrap CI)")
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
    return _png(fig)


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
            [_value_label(name, v) for v in matrix.columns],
            rotation=40,
            ha="right",
            rotation_mode="anchor",
            fontsize=7,
        )
        ax.set_yticks(
            range(counts.shape[0]), [_value_label(name, v) for v in matrix.index], fontsize=7
        )
        ax.set_xlabel(str(b), fontsize=8)
        ax.set_ylabel(str(a), fontsize=8)
        ax.set_title(f"{a} vs {b}", fontsize=9)
    fig.suptitle(f"Confusion matrices: {_field_title(name)}", fontsize=10)
    return _png(fig)


# ------------------------------------------------------------------ HTML
_CSS = """
body{font-family:-apple-system,"Segoe UI",Helvetica,Arial,sans-serif;margin:2em auto;
max-width:70em;padding:0 1em;color:#222;line-height:1.4}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}
h3{font-size:1.05em}
table{border-collapse:collapse;margin:.5em 0 1em;font-size:.9em}
th,td{border:1px solid #ddd;padding:.25em .6em;text-align:left}
th{background:#f2f4f7}
tr:nth-child(even) td{background:#fafbfc}
.note{background:#fff8e1;border-left:4px solid #f0b400;padding:.5em 1em}
img{max-width:100%;height:auto;display:block;margin:.5em 0}
.small{color:#666;font-size:.85em}
"""


def _table(frame: pd.DataFrame) -> str:
    """An escaped HTML table of already formatted text."""
    return frame.to_html(index=False, escape=True, border=0, na_rep=NAN_TEXT)


def _img(png: bytes, alt: str, kind: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<img class="{kind}" alt="{html.escape(alt, quote=True)}" '
        f'src="data:image/png;base64,{data}">'
    )


def _detection_view(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "readers": table["readers"].astype(str),
            "cases": table["cases"].map(_count),
            "lesions A": table["n_a"].map(_count),
            "lesions B": table["n_b"].map(_count),
            "matched": table["matched"].map(_count),
            "sensitivity": table["sensitivity"].map(format_number),
            "PPV": table["ppv"].map(format_number),
            "F1 [95 % CI]": [
                format_ci(*v) for v in table[["f1", "f1_low", "f1_high"]].itertuples(index=False)
            ],
            "voxel Dice (mean)": table["voxel_dice_mean"].map(format_number),
        }
    )


def _kappa_view(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "readers": table["readers"].astype(str),
            "statistic": table["statistic"]
            .map({"cohen": "Cohen κ", "fleiss": "Fleiss κ"})
            .fillna(table["statistic"])
            .astype(str),
            "lesions": table["n"].map(_count),
            "kappa [95 % CI]": [
                format_ci(*v) for v in table[["kappa", "low", "high"]].itertuples(index=False)
            ],
            "% agreement": table["percent_agreement"].map(format_percent),
        }
    )


def _patient_view(table: pd.DataFrame) -> pd.DataFrame:
    measure = {"lesion_count": "lesion count", "patient_group": "patient group (UEL/GEL/NEL)"}
    return pd.DataFrame(
        {
            "measure": table["measure"].map(measure).fillna(table["measure"]).astype(str),
            "readers": table["readers"].astype(str),
            "statistic": table["statistic"].astype(str),
            "cases": table["n"].map(_count),
            "estimate [95 % CI]": [
                format_percent(e) if s == "percent_agreement" else format_ci(e, lo, hi)
                for s, e, lo, hi in table[["statistic", "estimate", "low", "high"]].itertuples(
                    index=False
                )
            ],
        }
    )


def _patients_view(table: pd.DataFrame, readers: list[str]) -> pd.DataFrame:
    """Per case (rows) and reader (columns): ``lesions · group``."""
    if not len(table):
        return pd.DataFrame(columns=["case", *readers])
    cells = {}
    for row in table.itertuples(index=False):
        group = row.group if isinstance(row.group, str) else "–"
        cells[str(row.case), str(row.reader)] = f"{_count(row.lesions)} · {group}"
    cases = list(dict.fromkeys(table["case"].astype(str)))
    who = [r for r in readers if r in set(table["reader"].astype(str))]
    who += [r for r in dict.fromkeys(table["reader"].astype(str)) if r not in who]
    rows = [[c, *(cells.get((c, r), "not read") for r in who)] for c in cases]
    return pd.DataFrame(rows, columns=["case", *who])


def _intra_view(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "reader": table["reader"].astype(str),
            "field": table["field"].astype(str),
            "cases read twice": table["cases"].map(_count),
            "n": table["n"].map(_count),
            "kappa (detection: F1) [95 % CI]": [
                format_ci(*v) for v in table[["kappa", "low", "high"]].itertuples(index=False)
            ],
            "% agreement": table["percent_agreement"].map(format_percent),
        }
    )


def _voxel_dice_view(table: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "case": table["case"].astype(str),
            "readers": table["reader_a"].astype(str) + " vs " + table["reader_b"].astype(str),
            "Dice": table["dice"].map(format_number),
        }
    )


_SETTING_TITLES = {
    "study": "study folder",
    "readers": "readers compared",
    "readers_without_done_reading": "readers left out (no done reading)",
    "n_cases": "cases compared",
    "cases": "case ids",
    "left_out": "first readings left out (not done)",
    "left_out_repeats": "repeated readings left out (not done)",
    "min_dice": "minimum Dice to match two lesions",
    "n_boot": "bootstrap resamples",
    "seed": "bootstrap seed",
    "level": "confidence level",
    "bootstrap": "confidence intervals",
}


def _setting_text(key: str, value: object) -> str:
    if value is None:
        return "–"
    if key == "level" and isinstance(value, float):
        return f"{100 * value:g} %"
    if isinstance(value, dict):  # e.g. reader -> readings left out: list the non-zero ones
        items = [f"{k}: {_setting_text('', v)}" for k, v in value.items() if v]
        return ", ".join(items) or "none"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_setting_text("", v) for v in value) or "none"
    return str(value)


def _settings_view(settings: dict) -> pd.DataFrame:
    """Known settings in :data:`_SETTING_TITLES` order, then any other."""
    keys = [k for k in _SETTING_TITLES if k in settings]
    keys += [k for k in settings if k not in keys]
    rows = [
        (_SETTING_TITLES.get(k, k.replace("_", " ")), _setting_text(k, settings[k])) for k in keys
    ]
    return pd.DataFrame(rows, columns=["setting", "value"])


def report_html(agreement: StudyAgreement, images: dict[str, bytes], title: str) -> str:
    """The report page: escaped tables and the PNG plots ``images`` embedded as data URIs.

    ``images``: key ``forest`` and ``confusion:<field>`` for each field (and
    ``confusion:patient_group``).
    """
    fields = _fields(agreement)
    esc = html.escape
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{esc(title)}</title><style>{_CSS}</style></head><body>",
        f"<h1>{esc(title)}</h1>",
        f'<p class="small">Written {esc(now_iso())} '
        "by napari-uspio. The tables are also in the CSV files beside this page.</p>",
        "<h2>Study and settings</h2>",
        _table(_settings_view(agreement.settings)),
        '<p class="note">Kappa is NaN when every rating falls in one category (see percent '
        "agreement): agreement beyond chance cannot be measured there. Lesions are "
        "matched between readers by the Dice of their masks; Cohen's kappa of a pair "
        "compares the lesions both readers found and rated, Fleiss' kappa those every "
        "reader found and rated. Adjudicators are not compared. Confidence intervals are "
        "95 % percentile bootstrap intervals (NaN when undefined on every resample); "
        "those of the rating kappas resample lesions, which ignores that lesions of one "
        "patient are alike, so they are optimistic.</p>",
        "<h2>Lesion detection</h2>",
        '<p class="small">Reader A is the reference: sensitivity = matched / lesions A, '
        "PPV = matched / lesions B, F1 = 2 matched / (lesions A + lesions B).</p>",
        _table(_detection_view(agreement.detection)),
        "<h3>Voxel Dice of the whole lesion masks, per case</h3>",
        _table(_voxel_dice_view(agreement.voxel_dice)),
        "<h2>Rating agreement</h2>",
    ]
    if "forest" in images:
        parts.append(_img(images["forest"], "forest plot of kappa with 95 % CI", "forest"))
        parts.append(
            '<p class="small">Dashed line: kappa '
            f"{PUBLISHED_RIM_KAPPA}, the mean inter-rater Cohen's kappa of per-lesion "
            "paramagnetic (QSM) rim presence over published studies (systematic review, "
            "PMID 37716210); a reference for the QSM rim row, not a threshold.</p>"
        )
    for name in fields:
        parts.append(f"<h3>{esc(_field_title(name))}</h3>")
        part = agreement.kappa[agreement.kappa["field"] == name]
        parts.append(_table(_kappa_view(part)))
        key = f"confusion:{name}"
        if key in images:
            alt = f"confusion matrices of {name} per reader pair"
            parts.append(_img(images[key], alt, "confusion"))
    parts += [
        "<h2>Patients</h2>",
        '<p class="small">Lesion count agreement is ICC(2,1) over the cases read by every '
        "reader; the patient group is UEL (a USPIO-enhancing lesion), GEL (only "
        "Gd-enhancing lesions) or NEL (no enhancing lesion).</p>",
        _table(_patient_view(agreement.patient)),
        _img(
            images[f"confusion:{PATIENT_GROUP}"],
            "confusion matrices of the patient group",
            "confusion",
        )
        if f"confusion:{PATIENT_GROUP}" in images
        else "",
        "<h3>Lesions and patient group per case and reader</h3>",
        _table(_patients_view(agreement.patients, list(agreement.readers))),
        "<h2>Intra-reader agreement</h2>",
        '<p class="small">First reading against the blinded repeated reading of the same '
        "case by the same reader; the detection row gives the lesion-wise F1.</p>",
        _table(_intra_view(agreement.intra))
        if len(agreement.intra)
        else "<p>No case was read twice (study repeat fraction 0, or repeats not done).</p>",
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


# ------------------------------------------------------------------ files
def _tables(agreement: StudyAgreement) -> dict[str, pd.DataFrame]:
    return {
        "detection": agreement.detection,
        "voxel_dice": agreement.voxel_dice,
        "kappa": agreement.kappa,
        "confusion": agreement.confusion_long(),
        "patient": agreement.patient,
        "patients": agreement.patients,
        "intra": agreement.intra,
        "lesions": agreement.lesions,
    }


def _json_safe(value: object) -> object:
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [_json_safe(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)


def write_report(
    agreement: StudyAgreement,
    out_dir: str | Path,
    *,
    progress: Progress | None = None,
    title: str | None = None,
) -> dict[str, Path]:
    """Write the agreement tables (CSV), ``report.html`` and ``provenance.json`` into ``out_dir``.

    See the module docstring for the files and their conventions.
    ``progress(k, n, message)`` is called before each step; ``title`` heads
    the page (default: "Inter-reader agreement"). Returns the paths by key
    (:data:`REPORT_FILES`).
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = {key: out / name for key, name in REPORT_FILES.items()}
    fields = _fields(agreement)
    by_field: dict[str, dict[tuple[str, str], pd.DataFrame]] = {}
    for (name, a, b), matrix in agreement.confusion.items():
        by_field.setdefault(name, {})[a, b] = matrix
    tables = _tables(agreement)
    grids = [f for f in [*fields, PATIENT_GROUP] if f in by_field]
    plots = ["forest", *(f"confusion:{f}" for f in grids)]
    total = len(tables) + len(plots) + 2
    step = 0

    def tell(message: str) -> None:
        nonlocal step
        step += 1
        if progress is not None:
            progress(step, total, message)

    with ExitStack() as stack:  # every file to a temporary first; renamed only if all succeed
        tmp = {key: stack.enter_context(atomic_path(paths[key])) for key in reversed(paths)}
        for key, table in tables.items():
            tell(f"writing {paths[key].name}")
            write_table(table, tmp[key], _NA_COLUMNS.get(key))
        images: dict[str, bytes] = {}
        for key in plots:
            if key == "forest":
                tell("drawing the kappa forest plot")
                images[key] = forest_plot_png(agreement.kappa, fields)
            else:
                name = key.split(":", 1)[1]
                tell(f"drawing the confusion matrices of {name}")
                images[key] = confusion_grid_png(name, by_field[name])
        tell(f"writing {paths['report'].name}")
        title = title or "Inter-reader agreement"
        tmp["report"].write_text(report_html(agreement, images, title), encoding="utf-8")
        tell(f"writing {paths['provenance'].name}")
        provenance = {
            "format": "napari-uspio agreement report",
            "format_version": 1,
            "written_at": now_iso(),
            "software": software("matplotlib"),
            "settings": _json_safe(agreement.settings),
            "readers": list(agreement.readers),
            "published_rim_kappa": PUBLISHED_RIM_KAPPA,
            "csv": CONVENTION,
            "files": {
                paths[k].name: sha256_file(tmp[k]) for k in REPORT_FILES if k != "provenance"
            },
        }
        tmp["provenance"].write_text(to_json(provenance), encoding="utf-8")
    return paths
