"""The analysis page: the template ``analysis.html`` filled with escaped tables and figures.

Built as the agreement report's page is (:mod:`napari_uspio.core.agreement.report.page`):
a :class:`string.Template` beside this module holds the fixed text (the style sheet
is the report's, :func:`~napari_uspio.core.agreement.report.page.page_template`);
tables are formatted here and escaped by pandas; figures are PNG ``data:`` URIs, so
the page links to no other file or site. An undefined value is written ``n/a`` with
its reason (the ``reason`` column of its table), never a number.
"""

from __future__ import annotations

import html
import math

import pandas as pd

from .. import fields as spec
from ..agreement.report.format import format_count, format_number, undefined_text
from ..agreement.report.page import embedded_png, html_table, page_template
from .result import StudyAnalysis
from .tables import TITLES

__all__ = ["TEMPLATE", "analysis_html", "format_p", "mean_sd"]

TEMPLATE = "analysis.html"
#: Pattern counts (:data:`napari_uspio.core.patient.PATTERN_COUNTS`) shown in the class
#: table: column -> heading.
_SHOWN_COUNTS = {
    "n_uspio_ring": "ring-like", "n_uspio_focal": "focal", "n_uspio_iso": "iso",
    "n_overlap_lt20": "overlap < 20 %", "n_overlap_20_80": "20-80 %", "n_overlap_gt80": "> 80 %",
}  # fmt: skip


def mean_sd(mean: float, sd: float, n: int, decimals: int) -> str:
    """``0.380 ± 0.050``; ``n/a (no value)``; the mean alone, with why, for one value."""
    if n == 0:
        return undefined_text("no value")
    text = format_number(mean, decimals)
    return f"{text} (one value, no SD)" if n == 1 else f"{text} ± {format_number(sd, decimals)}"


def format_p(p: object, reason: object = None) -> str:
    """A p-value: ``0.034``, ``< 0.001``; ``n/a (reason)`` when undefined."""
    if p is None or p is pd.NA or math.isnan(float(p)):
        return undefined_text(reason)
    return "< 0.001" if float(p) < 0.001 else f"{float(p):.3f}"


def _statistic(value: object, decimals: int = 2) -> str:
    if isinstance(value, float) and math.isinf(value):
        return "∞"
    return format_number(value, decimals)


def _note(reason: object) -> str:
    return reason if isinstance(reason, str) else ""


def _measures(analysis: StudyAnalysis, unit: str) -> pd.DataFrame:
    """Group (rows) x measure (columns) of ``mean ± SD (n)``."""
    part = analysis.measures[analysis.measures["unit"] == unit]
    cells: dict[str, dict[str, str]] = {}
    for r in part.itertuples(index=False):
        decimals = spec.column(r.measure).decimals or 0
        text = mean_sd(r.mean, r.sd, int(r.n), decimals)
        cells.setdefault(TITLES[r.measure], {})[r.group] = (
            f"{text} (n = {int(r.n)})" if r.n else text
        )
    return pd.DataFrame(cells)


def class_view(analysis: StudyAnalysis) -> pd.DataFrame:
    """Lesions per class: counts, each measure as mean ± SD, USPIO patterns and overlap."""
    counts = analysis.classes.set_index("lesion_class")
    view = pd.DataFrame({"lesions": counts["n_lesions"], "patients": counts["n_patients"]})
    view = view.join(_measures(analysis, "lesion"))
    for name, heading in _SHOWN_COUNTS.items():
        view[heading] = counts[name]
    return view.rename_axis("class").reset_index()


def group_view(analysis: StudyAnalysis) -> pd.DataFrame:
    """Patients per group: cases, patients, lesions, each measure as mean ± SD."""
    counts = analysis.groups.set_index("group")
    view = counts[["n_cases", "n_patients", "n_lesions"]].set_axis(
        ["cases", "patients", "lesions"], axis=1
    )
    return view.join(_measures(analysis, "patient")).rename_axis("group").reset_index()


def kruskal_view(tests: pd.DataFrame) -> pd.DataFrame:
    """The Kruskal-Wallis rows as shown."""
    return pd.DataFrame(
        {
            "compared": tests["family"].astype(str),
            "measure": tests["measure"].map(TITLES),
            "n per group": tests["n_per_group"].astype(str),
            "n": tests["n"].map(format_count),
            "H": tests["statistic"].map(_statistic),
            "df": tests["df"].map(format_count),
            "p": tests["p_value"].map(format_p),
            "note": tests["reason"].map(_note),
        }
    )


def pairwise_view(pairwise: pd.DataFrame) -> pd.DataFrame:
    """The post hoc rows as shown."""
    return pd.DataFrame(
        {
            "measure": pairwise["measure"].map(TITLES),
            "pair": pairwise["group_a"] + " vs " + pairwise["group_b"],
            "n": pairwise["n_a"].astype(str) + " vs " + pairwise["n_b"].astype(str),
            "p (Steel-Dwass)": [
                format_p(p, why)
                for p, why in zip(pairwise["p_value"], pairwise["reason"], strict=True)
            ],
        }
    )


def fisher_view(tests: pd.DataFrame) -> pd.DataFrame:
    """The Fisher's exact rows as shown."""
    return pd.DataFrame(
        {
            "rows x columns": tests["groups"].astype(str),
            "counts": tests["counts"].astype(str),
            "n": tests["n"].map(format_count),
            "odds ratio": tests["statistic"].map(_statistic),
            "p": tests["p_value"].map(format_p),
            "note": tests["reason"].map(_note),
        }
    )


def _settings(analysis: StudyAnalysis) -> pd.DataFrame:
    s = analysis.settings
    repeated = analysis.repeated_patients
    rows = [
        ("study folder", str(s.get("study", ""))),
        ("source", "adjudicated consensus" if analysis.source == "consensus" else
         f"reader {analysis.source}"),
        ("adjudicator", str(s.get("adjudicator") or "–")),
        ("cases analysed", str(len(analysis.patients))),
        ("lesions analysed", str(len(analysis.lesions))),
        ("cases left out", "; ".join(s.get("left_out", [])) or "none"),
        ("patients with several cases", ", ".join(repeated) or "none"),
    ]  # fmt: skip
    return pd.DataFrame(rows, columns=["setting", "value"])


def analysis_html(analysis: StudyAnalysis, images: dict[str, bytes], title: str) -> str:
    """The page: escaped tables and the PNG figures ``images`` (keys ``mtr``, ``load``)."""
    tests = analysis.tests
    kruskal = tests[tests["test"] == "Kruskal-Wallis"]
    fisher = tests[tests["test"] == "Fisher's exact"]
    repeated = analysis.repeated_patients
    warning = (
        f'<p class="note">{len(repeated)} patient(s) have several cases (visits): the '
        "patient-group tests count each case as an independent patient, which it is not. "
        "Analyse one visit per patient.</p>"
        if repeated
        else ""
    )
    template = page_template(__package__, TEMPLATE)
    return template.substitute(
        title=html.escape(title),
        written=html.escape(str(analysis.settings.get("written_at", ""))),
        settings=html_table(_settings(analysis)),
        warning=warning,
        classes=html_table(class_view(analysis)),
        groups=html_table(group_view(analysis)),
        kruskal=html_table(kruskal_view(kruskal)),
        pairwise=html_table(pairwise_view(analysis.pairwise)),
        fisher=html_table(fisher_view(fisher)),
        mtr_plot=embedded_png(images["mtr"], "MTR of each lesion by lesion class"),
        load_plot=embedded_png(images["load"], "lesion load of each case by patient group"),
    )
