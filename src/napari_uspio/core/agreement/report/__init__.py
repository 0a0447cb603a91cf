"""The agreement report of a study: tables as CSV, one self-contained HTML page.

- :mod:`.format`: numbers, field titles and tables as shown (the page's table
  views, and :func:`summary_rows`, the summary the Agreement widget shows);
- :mod:`.plots`: the kappa forest plot and the confusion-matrix grids as PNG;
- :mod:`.page`: :func:`report_html`, the template ``report.html`` filled in;
- :mod:`.write`: :func:`write_report`, every file below, all or none.

:func:`write_report` writes into one folder::

    detection.csv     lesion detection per reader pair (DETECTION_COLUMNS)
    voxel_dice.csv    Dice of the whole lesion masks per case and pair
    kappa.csv         Cohen (per pair) and Fleiss (all readers) kappa per field
    confusion.csv     every confusion matrix in long form, zero cells too
    patient.csv       lesion-count ICC and patient-group agreement
    patients.csv      per case and reader: lesion count and patient group
    intra.csv         intra-reader agreement (first vs repeated reading)
    sources.csv       per reader: cases, lesions and the lesion source's counts
    lesions.csv       the matched lesion groups (case, item, reader, lesion, ratings)
    report.html       one self-contained page for the study coordinator
    provenance.json   settings, software versions, SHA-256 of every file above

CSV conventions are those of :mod:`napari_uspio.core.csvfiles`: UTF-8, one
header row, no index column; an undefined statistic (NaN) and an unrated or
undetected value are **empty cells**; the not-applicable rating is written
``not applicable``. Read them back with
``pd.read_csv(path, keep_default_na=False, na_values=[""])``.

In the HTML page (and the Agreement widget) an undefined statistic is written
**n/a** with its reason, the ``reason`` column of its table ("n/a (every rating
is 'none': no agreement beyond chance to measure)", "n/a (no between-case
variance: every case has the same mean count)"), never a number; in the CSV
files its cell is empty and the ``reason`` column says why.
Statistics have two decimals, percent agreement is in percent.

The page holds no link to any other file or site: its plots (matplotlib, Agg,
drawn on :class:`matplotlib.figure.Figure` objects so the backend of a running
napari session is never touched) are PNG ``data:`` URIs and its CSS is
inline. Every file is written to a temporary file beside its target and all
are renamed only once all are written (:func:`~napari_uspio.core.files.atomic_path`),
so a failed run leaves the previous report whole.
"""

from __future__ import annotations

from .format import (
    SUMMARY_COLUMNS,
    SummaryRow,
    field_title,
    format_ci,
    format_number,
    format_percent,
    summary_rows,
)
from .page import report_html
from .plots import PUBLISHED_RIM_KAPPA, confusion_grid_png, forest_plot_png
from .write import REPORT_FILES, report_tables, write_report

__all__ = [
    "PUBLISHED_RIM_KAPPA",
    "REPORT_FILES",
    "SUMMARY_COLUMNS",
    "SummaryRow",
    "confusion_grid_png",
    "field_title",
    "forest_plot_png",
    "format_ci",
    "format_number",
    "format_percent",
    "report_html",
    "summary_rows",
    "report_tables",
    "write_report",
]
