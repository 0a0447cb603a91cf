"""Numbers, titles and tables of the agreement as shown: the report page and the widget.

An undefined statistic is written :data:`NAN_TEXT` with its reason (the
table's ``reason`` column): ``n/a (every rating is 'none': ...)``, never a
number; statistics have two decimals, percent agreement is in percent. A
defined statistic without an interval (one patient only, 0 replicates) is
written with the table's ``ci_reason``: ``0.75 (no interval: one patient
only: ...)``. Field
titles and value labels are read from :mod:`napari_uspio.core.fields` at call time.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import pandas as pd

from ... import fields as spec
from ..readings import compared_fields
from ..result import StudyAgreement

#: How the page and the widget write an undefined statistic (its reason follows).
NAN_TEXT = "n/a"
#: Confusion matrices of the patient groups are keyed by this field name.
PATIENT_GROUP = spec.PATIENT_GROUP.name
#: Columns of the summary table ("n": lesions or cases, see each row's tip).
SUMMARY_COLUMNS = ("Measure", "Readers", "Estimate [95 % CI]", "Agree", "n")


# ------------------------------------------------------------------ values
def is_undefined(value: object) -> bool:
    """Whether ``value`` is None, ``<NA>`` or NaN."""
    return value is None or value is pd.NA or math.isnan(float(value))


def undefined_text(reason: object = None) -> str:
    """``n/a``, with the reason in brackets when one is given."""
    return f"{NAN_TEXT} ({reason})" if isinstance(reason, str) and reason else NAN_TEXT


def format_number(value: object, decimals: int = 2, reason: object = None) -> str:
    """``value`` with ``decimals`` decimals; ``n/a (reason)`` when undefined (None, NaN, <NA>)."""
    if is_undefined(value):
        return undefined_text(reason)
    text = f"{float(value):.{decimals}f}"
    return text[1:] if text.startswith("-") and not text.strip("-0.") else text  # no "-0.00"


def format_ci(
    estimate: object,
    low: object,
    high: object,
    decimals: int = 2,
    reason: object = None,
    ci_reason: object = None,
) -> str:
    """``0.72 [0.55, 0.88]``; ``n/a (reason)``; without bounds ``0.72 (no interval: ci_reason)``.

    The bounds are left out when undefined, with ``ci_reason`` when one is given.
    """
    if is_undefined(estimate):
        return undefined_text(reason)
    text = format_number(estimate, decimals)
    if is_undefined(low) or is_undefined(high):
        has_reason = isinstance(ci_reason, str) and ci_reason
        return f"{text} (no interval: {ci_reason})" if has_reason else text
    return f"{text} [{format_number(low, decimals)}, {format_number(high, decimals)}]"


def format_percent(value: object, reason: object = None) -> str:
    """A fraction (0-1) in percent, ``83 %``; ``n/a (reason)`` when undefined."""
    return undefined_text(reason) if is_undefined(value) else f"{100 * float(value):.0f} %"


def format_count(value: object) -> str:
    """A whole number; empty when undefined."""
    return "" if is_undefined(value) else str(int(value))


def field_title(name: str) -> str:
    """The title of a rating field, the lesion class or the patient group (else the name)."""
    try:
        return spec.derived_or_rating(name).title
    except KeyError:
        return name


def field_heading(name: str) -> str:
    """The title of a field with its name, ``Gd enhancement (gd)`` (else the name)."""
    title = field_title(name)
    return f"{title} ({name})" if title != name else name


def value_label(name: str, value: object) -> str:
    """The display label of a rating value (``ring`` -> ``ring-like``)."""
    try:
        return spec.derived_or_rating(name).label(str(value))
    except KeyError:
        return str(value)


def report_fields(agreement: StudyAgreement) -> list[str]:
    """Compared rating fields (those of the kappa table): known ones first, in order."""
    seen = list(dict.fromkeys(agreement.kappa["field"].astype(str)))
    known = [f for f in compared_fields() if f in seen]
    return known + [f for f in seen if f not in known]


# ------------------------------------------------------------------ table views
def detection_view(table: pd.DataFrame) -> pd.DataFrame:
    """The detection table as shown: counts, sensitivity, PPV, F1 with its interval."""
    return pd.DataFrame(
        {
            "readers": table["readers"].astype(str),
            "cases": table["cases"].map(format_count),
            "lesions A": table["n_a"].map(format_count),
            "lesions B": table["n_b"].map(format_count),
            "matched": table["matched"].map(format_count),
            "sensitivity": table["sensitivity"].map(format_number),
            "PPV": table["ppv"].map(format_number),
            "F1 [95 % CI]": _ci_cells(table, "f1", "f1_low", "f1_high"),
            "voxel Dice (mean)": table["voxel_dice_mean"].map(format_number),
        }
    )


def kappa_view(table: pd.DataFrame) -> pd.DataFrame:
    """Kappa rows as shown: statistic, lesions, kappa with its interval, percent agreement."""
    return pd.DataFrame(
        {
            "readers": table["readers"].astype(str),
            "statistic": table["statistic"]
            .map({"cohen": "Cohen κ", "fleiss": "Fleiss κ"})
            .fillna(table["statistic"])
            .astype(str),
            "lesions": table["n"].map(format_count),
            "kappa [95 % CI]": _ci_cells(table, "kappa"),
            "% agreement": table["percent_agreement"].map(format_percent),
        }
    )


def _ci_cells(
    table: pd.DataFrame, estimate: str, low: str = "low", high: str = "high"
) -> list[str]:
    """``estimate [low, high]`` per row, ``n/a (reason)`` where undefined (:func:`format_ci`)."""
    columns = [estimate, low, high, "reason", "ci_reason"]
    return [
        format_ci(e, lo, hi, reason=why, ci_reason=no_ci)
        for e, lo, hi, why, no_ci in table[columns].itertuples(index=False)
    ]


def patient_view(table: pd.DataFrame) -> pd.DataFrame:
    """The patient table as shown: lesion-count ICC and patient-group agreement."""
    measure = {"lesion_count": "lesion count", "patient_group": "patient group (UEL/GEL/NEL)"}
    return pd.DataFrame(
        {
            "measure": table["measure"].map(measure).fillna(table["measure"]).astype(str),
            "readers": table["readers"].astype(str),
            "statistic": table["statistic"].astype(str),
            "cases": table["n"].map(format_count),
            "estimate [95 % CI]": [
                format_percent(e, why) if s == "percent_agreement" else ci
                for s, e, why, ci in zip(
                    table["statistic"],
                    table["estimate"],
                    table["reason"],
                    _ci_cells(table, "estimate"),
                    strict=True,
                )
            ],
        }
    )


def patients_view(table: pd.DataFrame, readers: list[str]) -> pd.DataFrame:
    """Per case (rows) and reader (columns): ``lesions · group``."""
    if not len(table):
        return pd.DataFrame(columns=["case", *readers])
    cells = {}
    for row in table.itertuples(index=False):
        group = row.group if isinstance(row.group, str) else "–"
        cells[str(row.case), str(row.reader)] = f"{format_count(row.lesions)} · {group}"
    cases = list(dict.fromkeys(table["case"].astype(str)))
    who = [r for r in readers if r in set(table["reader"].astype(str))]
    who += [r for r in dict.fromkeys(table["reader"].astype(str)) if r not in who]
    rows = [[c, *(cells.get((c, r), "not read") for r in who)] for c in cases]
    return pd.DataFrame(rows, columns=["case", *who])


def intra_view(table: pd.DataFrame) -> pd.DataFrame:
    """Intra-reader agreement as shown (the detection row gives the F1)."""
    return pd.DataFrame(
        {
            "reader": table["reader"].astype(str),
            "field": table["field"].astype(str),
            "cases read twice": table["cases"].map(format_count),
            "n": table["n"].map(format_count),
            "kappa (detection: F1) [95 % CI]": _ci_cells(table, "kappa"),
            "% agreement": table["percent_agreement"].map(format_percent),
        }
    )


def voxel_dice_view(table: pd.DataFrame) -> pd.DataFrame:
    """Voxel Dice per case and reader pair as shown."""
    return pd.DataFrame(
        {
            "case": table["case"].astype(str),
            "readers": table["reader_a"].astype(str) + " vs " + table["reader_b"].astype(str),
            "Dice": table["dice"].map(format_number),
        }
    )


#: How the report names a study's lesion source.
SOURCE_TITLES = {
    "reader": "reader: each reader painted from an empty map",
    "reference": "reference: the readers rated a shared reference delineation",
    "candidates": "candidates: the readers accepted, rejected or painted beside automatic "
    "candidates",
}


def sources_view(table: pd.DataFrame) -> pd.DataFrame:
    """Per reader: cases, lesions and the lesion source's counts, headed in words."""
    shown = {"reader": table["reader"].astype(str)}
    shown |= {c.replace("_", " "): table[c].map(format_count) for c in table.columns[1:]}
    return pd.DataFrame(shown)


def source_definitions(table: pd.DataFrame) -> list[tuple[str, str]]:
    """``(header, definition)`` of the source columns beyond reader, cases and lesions."""
    return [(c.replace("_", " "), spec.column(c).description) for c in table.columns[3:]]


_SETTING_TITLES = {
    "study": "study folder",
    "lesion_source": "lesion source",
    "readers": "readers compared",
    "readers_without_done_reading": "readers left out (no done reading)",
    "n_cases": "cases compared",
    "n_patients": "patients (bootstrap units)",
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
    if key == "lesion_source":
        return SOURCE_TITLES.get(str(value), str(value))
    if key == "level" and isinstance(value, float):
        return f"{100 * value:g} %"
    if isinstance(value, dict):  # e.g. reader -> readings left out: list the non-zero ones
        items = [f"{k}: {_setting_text('', v)}" for k, v in value.items() if v]
        return ", ".join(items) or "none"
    if isinstance(value, list | tuple | set | frozenset):
        return ", ".join(_setting_text("", v) for v in value) or "none"
    return str(value)


def settings_view(settings: dict) -> pd.DataFrame:
    """Known settings in :data:`_SETTING_TITLES` order, then any other."""
    keys = [k for k in _SETTING_TITLES if k in settings]
    keys += [k for k in settings if k not in keys]
    rows = [
        (_SETTING_TITLES.get(k, k.replace("_", " ")), _setting_text(k, settings[k])) for k in keys
    ]
    return pd.DataFrame(rows, columns=["setting", "value"])


# ------------------------------------------------------------------ summary
class SummaryRow(NamedTuple):
    """One row of the summary table (:data:`SUMMARY_COLUMNS`) as shown, and its tooltip."""

    measure: str
    readers: str
    estimate: str
    agree: str
    n: str
    tip: str


def _kappa_tip(statistic: str, n: object, what: str) -> str:
    who = "Fleiss' kappa of all readers" if statistic == "fleiss" else "Cohen's kappa"
    return f"{who} on {int(n)} {what}"


def _why(tip: str, reason: object) -> str:
    """The tip, with the reason the statistic is undefined."""
    return f"{tip}. Undefined: {reason}" if isinstance(reason, str) and reason else tip


def summary_rows(agreement: StudyAgreement) -> list[SummaryRow]:
    """The rows of the summary table (:data:`SUMMARY_COLUMNS`), formatted as in the report."""
    rows = []
    for r in agreement.detection.itertuples(index=False):
        ci = format_ci(r.f1, r.f1_low, r.f1_high, reason=r.reason, ci_reason=r.ci_reason)
        tip = _why(f"lesion-wise F1 of {r.readers}, pooled over {int(r.cases)} cases", r.reason)
        rows.append(SummaryRow("Detection F1", r.readers, ci, "", str(int(r.cases)), tip))
    kappa = agreement.kappa.assign(_pair=agreement.kappa["readers"] != "all")
    for name in dict.fromkeys(kappa["field"]):
        part = kappa[kappa["field"] == name].sort_values(["_pair", "readers"], kind="stable")
        for r in part.itertuples(index=False):
            rows.append(
                SummaryRow(
                    f"{spec.derived_or_rating(name).short} κ",
                    r.readers,
                    format_ci(r.kappa, r.low, r.high, reason=r.reason, ci_reason=r.ci_reason),
                    format_percent(r.percent_agreement),
                    str(int(r.n)),
                    _why(
                        f"{field_title(name)}: "
                        + _kappa_tip(r.statistic, r.n, "lesions found and rated by these readers"),
                        r.reason,
                    ),
                )
            )
    patient = agreement.patient
    agree = {
        (r.measure, r.readers): r.estimate
        for r in patient[patient["statistic"] == "percent_agreement"].itertuples(index=False)
    }
    for r in patient[patient["statistic"] != "percent_agreement"].itertuples(index=False):
        ci = format_ci(r.estimate, r.low, r.high, reason=r.reason, ci_reason=r.ci_reason)
        if r.measure == "lesion_count":
            tip = f"lesion count per case: ICC(2,1) on {int(r.n)} cases read by every reader"
            tip = _why(tip, r.reason)
            rows.append(SummaryRow("Lesion count ICC", r.readers, ci, "", str(int(r.n)), tip))
            continue
        share = agree.get((r.measure, r.readers), float("nan"))
        tip = _why(
            "patient group (UEL / GEL / NEL): " + _kappa_tip(r.statistic, r.n, "cases"), r.reason
        )
        measure = "Patient group κ" if r.measure == "patient_group" else r.measure
        row = SummaryRow(measure, r.readers, ci, format_percent(share), str(int(r.n)), tip)
        rows.append(row)
    for r in agreement.intra.itertuples(index=False):
        ci = format_ci(r.kappa, r.low, r.high, reason=r.reason, ci_reason=r.ci_reason)
        if r.field == "detection":
            tip = f"{r.reader}: first vs repeated reading, lesion-wise F1 ({int(r.cases)} cases)"
            tip = _why(tip, r.reason)
            rows.append(SummaryRow("Intra detection F1", r.reader, ci, "", str(int(r.n)), tip))
        else:
            tip = f"{r.reader}: first vs repeated reading, Cohen's kappa on {int(r.n)} lesions"
            tip = _why(tip, r.reason)
            agree_text = format_percent(r.percent_agreement)
            measure = f"Intra {spec.derived_or_rating(r.field).short} κ"
            rows.append(SummaryRow(measure, r.reader, ci, agree_text, str(int(r.n)), tip))
    return rows
