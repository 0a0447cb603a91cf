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
    voxel_dice_view,
)
from .plots import PUBLISHED_RIM_KAPPA

TEMPLATE = "report.html"


def _table(frame: pd.DataFrame) -> str:
    """An escaped HTML table of already formatted text."""
    return frame.to_html(index=False, escape=True, border=0, na_rep=NAN_TEXT)


def _img(png: bytes, alt: str, kind: str) -> str:
    data = base64.b64encode(png).decode("ascii")
    return (
        f'<img class="{kind}" alt="{html.escape(alt, quote=True)}" '
        f'src="data:image/png;base64,{data}">'
    )


def _ratings(agreement: StudyAgreement, images: dict[str, bytes]) -> str:
    """The rating section: the forest plot and its note, then per field its kappas and plot."""
    parts = []
    if "forest" in images:
        parts.append(_img(images["forest"], "forest plot of kappa with 95 % CI", "forest"))
        parts.append(
            '<p class="small">Dashed line: kappa '
            f"{PUBLISHED_RIM_KAPPA}, the mean inter-rater Cohen's kappa of per-lesion "
            "paramagnetic (QSM) rim presence over published studies (systematic review, "
            "PMID 37716210); a reference for the QSM rim row, not a threshold.</p>"
        )
    for name in report_fields(agreement):
        parts.append(f"<h3>{html.escape(field_heading(name))}</h3>")
        parts.append(_table(kappa_view(agreement.kappa[agreement.kappa["field"] == name])))
        key = f"confusion:{name}"
        if key in images:
            alt = f"confusion matrices of {name} per reader pair"
            parts.append(_img(images[key], alt, "confusion"))
    return "".join(f"{part}\n" for part in parts)


def report_html(agreement: StudyAgreement, images: dict[str, bytes], title: str) -> str:
    """The report page: escaped tables and the PNG plots ``images`` embedded as data URIs.

    ``images``: key ``forest`` and ``confusion:<field>`` for each field (and
    ``confusion:patient_group``).
    """
    group_plot = images.get(f"confusion:{PATIENT_GROUP}")
    template = Template(files(__package__).joinpath(TEMPLATE).read_text(encoding="utf-8"))
    return template.substitute(
        title=html.escape(title),
        written=html.escape(now_iso()),
        settings=_table(settings_view(agreement.settings)),
        detection=_table(detection_view(agreement.detection)),
        voxel_dice=_table(voxel_dice_view(agreement.voxel_dice)),
        ratings=_ratings(agreement, images),
        patient=_table(patient_view(agreement.patient)),
        patient_group_plot=""
        if group_plot is None
        else _img(group_plot, "confusion matrices of the patient group", "confusion"),
        patients=_table(patients_view(agreement.patients, list(agreement.readers))),
        intra=_table(intra_view(agreement.intra))
        if len(agreement.intra)
        else "<p>No case was read twice (study repeat fraction 0, or repeats not done).</p>",
    )
