"""The hypothesis tests of seed 000: Kruskal-Wallis, Steel-Dwass post hoc, Fisher's exact.

- **Kruskal-Wallis** (:func:`scipy.stats.kruskal`, H with ties corrected, df = groups - 1)
  of each lesion measure across the lesion classes USPIO+/Gd+, USPIO-/Gd+ and
  USPIO-/Gd- (:data:`TESTED_CLASSES`: seed 000 leaves the rare USPIO+/Gd- lesions
  out of its statistics), and of each patient measure across UEL, GEL and NEL;
- the pairwise **Dwass-Steel-Critchlow-Fligner** (Steel-Dwass) p-values of the same
  groups (:func:`scikit_posthocs.posthoc_dscf`, adjusted for the number of groups by
  the studentized range; scikit-posthocs gives the p-value only, no statistic);
- **Fisher's exact test** (:func:`scipy.stats.fisher_exact`, two-sided; statistic: the
  sample odds ratio) of each 2 x 2 count table of :data:`CONTRASTS`.

A test is *skipped*, its p-value empty and its ``reason`` saying why, when a group
has fewer than :data:`MIN_GROUP_SIZE` values (that group is left out, and the test
skipped if fewer than two groups remain), when every value is equal, or when a row
or column of a 2 x 2 table is empty. Values are the finite measures of each lesion
or case; lesions are counted as independent units, as in seed 000.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from .. import fields as spec
from .tables import (
    GROUPS,
    LESION_MEASURES,
    PATIENT_MEASURES,
    class_labels,
    group_labels,
    values_by,
)

__all__ = [
    "CONTRASTS",
    "MIN_GROUP_SIZE",
    "PAIRWISE_COLUMNS",
    "TESTED_CLASSES",
    "TEST_COLUMNS",
    "Split",
    "fisher_tests",
    "group_tests",
]

#: The lesion classes compared (seed 000 leaves USPIO+/Gd- out).
TESTED_CLASSES: tuple[str, ...] = ("USPIO+/Gd+", "USPIO-/Gd+", "USPIO-/Gd-")
#: Fewest values a group needs to enter a rank test.
MIN_GROUP_SIZE = 2
KRUSKAL = "Kruskal-Wallis"
DSCF = "Dwass-Steel-Critchlow-Fligner"
FISHER = "Fisher's exact"
#: Columns of the tests table.
TEST_COLUMNS: tuple[str, ...] = (
    "family", "measure", "test", "groups", "n", "n_per_group", "statistic_name", "statistic",
    "df", "p_value", "counts", "reason",
)  # fmt: skip
#: Columns of the pairwise (post hoc) table.
PAIRWISE_COLUMNS: tuple[str, ...] = (
    "family", "measure", "test", "group_a", "group_b", "n_a", "n_b", "p_value", "reason",
)  # fmt: skip


@dataclass(frozen=True)
class Split:
    """A yes / no question on a lesion: is ``field`` in ``yes``, or in ``no``.

    A lesion whose value is in neither (unrated, not applicable) is not counted.
    """

    yes_label: str
    no_label: str
    field: str
    yes: tuple[str, ...]
    no: tuple[str, ...]

    def answer(self, lesions: pd.DataFrame) -> pd.Series:
        """True, False, or None (not counted) for every lesion."""
        values = lesions[self.field]
        return values.map(lambda v: True if v in self.yes else (False if v in self.no else None))


def _positive(name: str) -> Split:
    field = spec.RATINGS[name]
    return Split(f"{field.short}+", f"{field.short}-", name, field.positive, ("none",))


_USPIO, _GD = _positive("uspio"), _positive("gd")


def _pattern(value: str) -> Split:
    others = tuple(v for v in spec.RATINGS["uspio"].positive if v != value)
    label = spec.RATINGS["uspio"].label
    return Split(label(value), " or ".join(map(label, others)), "uspio", (value,), others)


#: The 2 x 2 tables tested (rows, columns): each USPIO pattern against the other
#: patterns by Gd enhancement (USPIO+ lesions), and QSM rim, shell Gd enhancement
#: and T1 black hole by USPIO enhancement.
CONTRASTS: tuple[tuple[Split, Split], ...] = (
    *((_pattern(v), _GD) for v in spec.RATINGS["uspio"].positive),
    (Split("QSM rim+", "QSM rim-", "qsm_rim", ("present",), ("absent",)), _USPIO),
    (Split("Gd shell", "Gd nodular", "gd", ("shell",), ("nodular",)), _USPIO),
    (Split("black hole", "no black hole", "black_hole", ("yes",), ("no",)), _USPIO),
)


def _count_text(found: dict[str, np.ndarray], order: list[str]) -> str:
    return ", ".join(f"{g} {found[g].size}" for g in order)


def _kruskal(family: str, measure: str, found: dict[str, np.ndarray], order: list[str]):
    """The Kruskal-Wallis row and the pairwise DSCF rows of one measure."""
    found = {g: found.get(g, np.empty(0)) for g in order}
    kept = [g for g in order if found[g].size >= MIN_GROUP_SIZE]
    small = [g for g in order if g not in kept]
    values = np.concatenate([np.empty(0), *(found[g] for g in kept)])
    row = {
        "family": family, "measure": measure, "test": KRUSKAL, "groups": " | ".join(kept),
        "n": int(values.size), "n_per_group": _count_text(found, order), "statistic_name": "H",
        "statistic": np.nan, "df": pd.NA, "p_value": np.nan, "counts": None, "reason": None,
    }  # fmt: skip
    if not any(found[g].size for g in order):
        row["reason"] = f"not run: no {measure} value in any group"
    elif len(kept) < 2:
        row["reason"] = (
            f"not run: fewer than 2 groups have {MIN_GROUP_SIZE} or more values "
            f"({_count_text(found, order)})"
        )
    elif np.unique(values).size == 1:
        row["reason"] = "not run: every value is equal (nothing to rank)"
    else:
        result = stats.kruskal(*(found[g] for g in kept))
        row |= {"statistic": float(result.statistic), "df": len(kept) - 1}
        row["p_value"] = float(result.pvalue)
        if small:
            row["reason"] = (
                f"{', '.join(small)} left out: fewer than {MIN_GROUP_SIZE} values "
                f"({_count_text(found, small)})"
            )
    ran = not np.isnan(row["statistic"])
    pairs = []
    if ran:
        frame = pd.DataFrame(
            {"value": values, "group": np.repeat(kept, [found[g].size for g in kept])}
        )
        import scikit_posthocs  # lazy: it imports pyplot, seaborn and statsmodels (about 1 s)

        with np.errstate(divide="ignore", invalid="ignore"):  # a tied pair: p NaN, said below
            p = scikit_posthocs.posthoc_dscf(frame, val_col="value", group_col="group")
    for a, b in itertools.combinations(order, 2):
        pair = {
            "family": family, "measure": measure, "test": DSCF, "group_a": a, "group_b": b,
            "n_a": found[a].size, "n_b": found[b].size, "p_value": np.nan, "reason": None,
        }  # fmt: skip
        if not ran:
            pair["reason"] = f"{KRUSKAL} not run"
        elif a not in kept or b not in kept:
            pair["reason"] = f"left out: fewer than {MIN_GROUP_SIZE} values"
        else:
            pair["p_value"] = float(p.loc[a, b])
            if np.isnan(pair["p_value"]):
                pair["reason"] = "every value of the pair is equal"
        pairs.append(pair)
    return row, pairs


def group_tests(
    lesions: pd.DataFrame, patients: pd.DataFrame
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Kruskal-Wallis rows (:data:`TEST_COLUMNS`), pairwise DSCF rows (:data:`PAIRWISE_COLUMNS`).

    Families: ``lesion class`` (:data:`TESTED_CLASSES`, per lesion measure) and
    ``patient group`` (UEL, GEL, NEL, per patient measure).
    """
    rows, pairs = [], []
    parts = (
        ("lesion class", lesions, class_labels(lesions), TESTED_CLASSES, LESION_MEASURES),
        ("patient group", patients, group_labels(patients), GROUPS, PATIENT_MEASURES),
    )
    for family, table, labels, order, measures in parts:
        for measure in measures:
            row, pair_rows = _kruskal(family, measure, values_by(table, labels, measure), order)
            rows.append(row)
            pairs += pair_rows
    return _tests_frame(rows), pd.DataFrame(pairs, columns=list(PAIRWISE_COLUMNS))


def fisher_tests(lesions: pd.DataFrame) -> pd.DataFrame:
    """One Fisher's exact row (:data:`TEST_COLUMNS`) per 2 x 2 table of :data:`CONTRASTS`.

    ``counts`` is the table ``[[yes-yes, yes-no], [no-yes, no-no]]`` (rows the
    first split, columns the second), ``n`` its total.
    """
    rows = []
    for first, second in CONTRASTS:
        a, b = first.answer(lesions), second.answer(lesions)
        counted = a.notna() & b.notna()
        a, b = a[counted].astype(bool), b[counted].astype(bool)
        counts = np.array(
            [[(a & b).sum(), (a & ~b).sum()], [(~a & b).sum(), (~a & ~b).sum()]], dtype=np.int64
        )
        row = {
            "family": "2 x 2", "measure": f"{first.yes_label} by {second.yes_label}",
            "test": FISHER,
            "groups": f"{first.yes_label} | {first.no_label} x {second.yes_label} | "
            f"{second.no_label}",
            "n": int(counted.sum()), "n_per_group": None, "statistic_name": "odds ratio",
            "statistic": np.nan, "df": pd.NA, "p_value": np.nan, "counts": str(counts.tolist()),
            "reason": None,
        }  # fmt: skip
        if (counts.sum(axis=0) == 0).any() or (counts.sum(axis=1) == 0).any():
            row["reason"] = "not run: a row or column of the 2 x 2 table is empty"
        else:
            result = stats.fisher_exact(counts)
            row |= {"statistic": float(result.statistic), "p_value": float(result.pvalue)}
        rows.append(row)
    return _tests_frame(rows)


def _tests_frame(rows: list[dict]) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=list(TEST_COLUMNS))
    frame["df"] = frame["df"].astype("Int64")
    return frame
