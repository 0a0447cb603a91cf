"""The report page: the template ``report.html`` filled with escaped tables and plots.

The template (package data beside this module, a :class:`string.Template`)
holds the page's fixed text and its inline CSS; :func:`report_html` fills in
the title, the tables (formatted by :mod:`.format`, escaped by pandas) and
the plots as PNG ``data:`` URIs, so the page links to no other file or site.
"""

from __future__ import annotations

import base64
import html
from importlib.resources import files
from string import Template

import pandas as pd

from ...provenance import now_iso
from ..result import StudyAgreement
from .format import (
    NAN_TEXT,
    PATIENT_GROUP,
    detection_view,
    field_heading,
    intra_view,
    kappa_view,
    patient_view,
    patients_view,
    report_fields,
    settings_view,
    source_definitions,
    sources_view,
    voxel_dice_view,
)
from .plots import PUBLISHED_RIM_KAPPA

TEMPLATE = "report.html"
#: The style sheet of every page napari-uspio writes (inlined: one self-contained file).
STYLE = "page.css"


def page_template(package: str, name: str) -> Template:
    """A page template (package data) with the shared style sheet filled in."""
    style = files(__package__).joinpath(STYLE).read_text(encoding="utf-8")
    text = files(package).joinpath(name).read_text(encoding="utf-8")
    return Template(Template(text).safe_substitute(style=style))


def html_table(frame: pd.DataFrame) -> str:
    """An escaped HTML table of already formatted text."""
    return frame.to_html(index=False, escape=True, border=0, na_rep=NAN_TEXT)


def embedded_png(png: bytes, alt: str, kind: str = "") -> str:
    """An ``<img>`` holding the PNG itself (base64), with its alt text escaped."""
    data = base64.b64encode(png).decode("ascii")
    css = f' class="{kind}"' if kind else ""
    return f'<img{css} alt="{html.escape(alt, quote=True)}" src="data:image/png;base64,{data}">'


def _ratings(agreement: StudyAgreement, images: dict[str, bytes]) -> str:
    """The rating section: the forest plot and its note, then per field its kappas and plot."""
    parts = []
    if "forest" in images:
        parts.append(embedded_png(images["forest"], "forest plot of kappa with 95 % CI", "forest"))
        parts.append(
            '<p class="small">Dashed line: kappa '
            f"{PUBLISHED_RIM_KAPPA}, the mean inter-rater Cohen's kappa of per-lesion "
            "paramagnetic (QSM) rim presence over published studies (systematic review, "
            "PMID 37716210); a reference for the QSM rim row, not a threshold.</p>"
        )
    for name in report_fields(agreement):
        parts.append(f"<h3>{html.escape(field_heading(name))}</h3>")
        parts.append(html_table(kappa_view(agreement.kappa[agreement.kappa["field"] == name])))
        key = f"confusion:{name}"
        if key in images:
            alt = f"confusion matrices of {name} per reader pair"
            parts.append(embedded_png(images[key], alt, "confusion"))
    return "".join(f"{part}\n" for part in parts)


def _sources(agreement: StudyAgreement) -> str:
    """The lesion source section: what the readers started from, and per reader their counts."""
    source = agreement.settings.get("lesion_source", "reader")
    if source == "reader":
        return (
            "<p>Every reader painted their lesions from an empty map (lesion source reader).</p>"
        )
    lead = {
        "reference": "Every reading started from the case's reference delineation; the readers "
        "rated its lesions (and edited them where the study allows). Lesions are matched by "
        "id, so detection statistics are not applicable.",
        "candidates": "Every reading showed the case's automatic candidates beside an empty "
        "map; the readers accepted, rejected or ignored them and painted their own lesions.",
    }[source]
    items = "".join(
        f"<li><b>{html.escape(h)}</b>: {html.escape(d)}</li>"
        for h, d in source_definitions(agreement.sources)
    )
    return (
        f"<p>{html.escape(lead)}</p>\n{html_table(sources_view(agreement.sources))}\n"
        f'<ul class="small">{items}</ul>'
    )


def report_html(agreement: StudyAgreement, images: dict[str, bytes], title: str) -> str:
    """The report page: escaped tables and the PNG plots ``images`` embedded as data URIs.

    ``images``: key ``forest`` and ``confusion:<field>`` for each field (and
    ``confusion:patient_group``).
    """
    group_plot = images.get(f"confusion:{PATIENT_GROUP}")
    template = page_template(__package__, TEMPLATE)
    return template.substitute(
        title=html.escape(title),
        written=html.escape(now_iso()),
        settings=html_table(settings_view(agreement.settings)),
        sources=_sources(agreement),
        detection=html_table(detection_view(agreement.detection)),
        voxel_dice=html_table(voxel_dice_view(agreement.voxel_dice)),
        ratings=_ratings(agreement, images),
        patient=html_table(patient_view(agreement.patient)),
        patient_group_plot=""
        if group_plot is None
        else embedded_png(group_plot, "confusion matrices of the patient group", "confusion"),
        patients=html_table(patients_view(agreement.patients, list(agreement.readers))),
        intra=html_table(intra_view(agreement.intra))
        if len(agreement.intra)
        else "<p>No case was read twice (study repeat fraction 0, or repeats not done).</p>",
    )
