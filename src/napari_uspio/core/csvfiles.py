"""The CSV conventions of every table napari-uspio writes, and reading them back.

- UTF-8, one header row, no index column, ``,`` separator;
- an unrated rating, an undefined number (NaN) or an empty comment is an **empty cell**;
- the not-applicable rating (``n/a`` in the app) is written **``not applicable``**,
  because ``pandas.read_csv`` turns ``n/a`` into NaN by default (R's
  ``read.csv`` would keep it); the other values (``none``, ``<20%``,
  ``USPIO+/Gd-``, ...) are read as text by both;
- ``rated`` is ``True`` / ``False``.

So ``pd.read_csv(path)`` and R ``read.csv(path)`` read every rating as is. Only
free text can trip the default missing-value lists (a comment reading ``NA``,
``None`` or ``null`` becomes NaN; a numeric case code loses leading zeros). The
exact recipe, used by :func:`read_lesions_csv`, is :data:`CONVENTION`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from . import fields as spec
from .fields import NA
from .files import atomic_path

__all__ = ["CONVENTION", "NOT_APPLICABLE", "read_lesions_csv", "to_csv_values", "write_table"]

#: How ``n/a`` is written in the CSV files (survives plain ``pd.read_csv``).
NOT_APPLICABLE = "not applicable"
#: The conventions, as recorded in every provenance file.
CONVENTION: dict[str, str] = {
    "unrated_or_undefined": "empty cell",
    "not_applicable": NOT_APPLICABLE,
    "pandas": 'pd.read_csv(path, keep_default_na=False, na_values=[""])',
    "R": 'read.csv(path, na.strings = "", encoding = "UTF-8")',
}


def _na_columns(table: pd.DataFrame, columns: Iterable[str] | None) -> list[str]:
    names = spec.RATINGS.not_applicable if columns is None else tuple(columns)
    return [name for name in names if name in table]


def to_csv_values(table: pd.DataFrame, columns: Iterable[str] | None = None) -> pd.DataFrame:
    """A copy with ``n/a`` written ``not applicable`` in ``columns``.

    Default: the rating fields that can be not applicable (overlap, black hole).
    """
    out = table.copy()
    for name in _na_columns(out, columns):
        values = [NOT_APPLICABLE if v == NA else v for v in out[name].tolist()]
        out[name] = pd.Series(values, index=out.index, dtype=object)
    return out


def write_table(
    table: pd.DataFrame, path: str | Path, na_columns: Iterable[str] | None = None
) -> Path:
    """Write a table as CSV by the conventions above, atomically; return the path."""
    path = Path(path)
    with atomic_path(path) as tmp:
        to_csv_values(table, na_columns).to_csv(tmp, index=False)
    return path


def _text_columns() -> tuple[str, ...]:
    return ("case", "reader", *spec.RATINGS.columns, spec.LESION_CLASS.name)


def read_lesions_csv(path: str | Path) -> pd.DataFrame:
    """Read a lesion CSV back with in-memory values (``n/a``, None for unrated).

    Text columns stay text (a comment ``NA`` stays ``NA``, a case code
    ``007`` stays ``007``); empty cells are None in rating columns, ``""`` in
    ``comment`` and NaN in metric columns.
    """
    text = _text_columns()
    table = pd.read_csv(
        path, keep_default_na=False, na_values=[""], dtype=dict.fromkeys(text, str)
    )
    not_applicable = spec.RATINGS.not_applicable
    for name in (n for n in text if n in table):
        values = [None if isinstance(v, float) else v for v in table[name].tolist()]
        if name in not_applicable:
            values = [NA if v == NOT_APPLICABLE else v for v in values]
        if name == spec.COMMENT:
            values = ["" if v is None else v for v in values]
        table[name] = pd.Series(values, index=table.index, dtype=object)
    return table
