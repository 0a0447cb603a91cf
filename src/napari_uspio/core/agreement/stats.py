"""Agreement statistics: kappas, percent agreement, confusion matrices, ICC, bootstrap.

Implemented here on numpy / scipy / pandas (no statsmodels or scikit-learn
dependency): each formula is a few lines and is checked in
``tests/test_agreement.py`` against a published worked example.

Missing ratings
---------------
A missing rating (``None``, ``NaN``, ``pd.NA``: *unrated*) is left out:
pairwise statistics use the items rated by both readers, :func:`fleiss_kappa`
and :func:`icc` use the subjects rated by every reader (complete cases).

Degenerate cases
----------------
Cohen's and Fleiss' kappa are ``NaN`` when chance agreement is 1 (every
rating in one and the same category): kappa is 0/0 there, and reporting 1
would claim agreement beyond chance that the data cannot show; the percent
agreement (1.0) says what happened. A statistic on no item is ``NaN``.
:func:`icc` is ``NaN`` when the cases do not vary (every case has the same
mean count over the readers): the formula gives 0 or a rounding error there,
which would read as "no agreement" when the data cannot tell. No warning is
emitted in these cases; :func:`kappa_reason`, :func:`icc_reason` and
:func:`detection_reason` say in words why a statistic is undefined (``None``
when it is defined), for the reports.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd


def _labels(values: object) -> np.ndarray:
    """A 1-d object array of ratings."""
    arr = np.asarray(values, dtype=object)
    if arr.ndim != 1:
        raise ValueError(f"ratings must be 1-d, got shape {arr.shape}")
    return arr


def _missing(arr: np.ndarray) -> np.ndarray:
    return np.asarray(pd.isna(arr), dtype=bool).reshape(arr.shape)


def _paired(a: object, b: object) -> tuple[np.ndarray, np.ndarray]:
    """The items rated by both readers."""
    x, y = _labels(a), _labels(b)
    if x.shape != y.shape:
        raise ValueError(f"rating arrays differ in length: {len(x)} vs {len(y)}")
    keep = ~(_missing(x) | _missing(y))
    return x[keep], y[keep]


def _categories(categories: Sequence | None, *arrays: np.ndarray) -> list:
    if categories is not None:
        cats = list(categories)
    else:
        seen = set()
        for arr in arrays:
            seen.update(arr.ravel().tolist())
        cats = sorted(seen, key=lambda v: (str(type(v)), v))
    for arr in arrays:
        unknown = set(arr.ravel().tolist()) - set(cats)
        if unknown:
            raise ValueError(f"ratings {sorted(map(str, unknown))} are not in categories {cats}")
    return cats


def confusion_matrix(a: object, b: object, categories: Sequence | None = None) -> pd.DataFrame:
    """Counts of (rating of A, rating of B) over the items rated by both.

    Rows are A's ratings, columns B's, both in ``categories`` order (default:
    the sorted values seen). Index name ``"A"``, columns name ``"B"``.
    """
    x, y = _paired(a, b)
    cats = _categories(categories, x, y)
    pos = {c: k for k, c in enumerate(cats)}
    table = np.zeros((len(cats), len(cats)), dtype=np.int64)
    for u, v in zip(x, y, strict=True):
        table[pos[u], pos[v]] += 1
    return pd.DataFrame(table, index=pd.Index(cats, name="A"), columns=pd.Index(cats, name="B"))


def cohen_kappa(a: object, b: object, categories: Sequence | None = None) -> float:
    """Cohen's kappa (unweighted) of two readers' ratings of the same items.

    ``kappa = (p_o - p_e) / (1 - p_e)`` with ``p_o`` the observed agreement
    and ``p_e`` the chance agreement from the readers' marginals (Cohen 1960).
    ``NaN`` when ``p_e == 1`` or no item is rated by both.
    """
    table = confusion_matrix(a, b, categories).to_numpy(dtype=float)
    n = table.sum()
    if n == 0:
        return math.nan
    p_o = np.trace(table) / n
    p_e = float(table.sum(axis=1) @ table.sum(axis=0)) / n**2
    if math.isclose(p_e, 1.0):
        return math.nan
    return float((p_o - p_e) / (1 - p_e))


def percent_agreement(*ratings: object) -> float:
    """Share (0-1) of items on which all the given readers agree.

    Takes two or more rating arrays of the same items; items not rated by
    every reader are left out. ``NaN`` when no item remains.
    """
    if len(ratings) < 2:
        raise ValueError("percent_agreement needs the ratings of at least two readers")
    arrays = [_labels(r) for r in ratings]
    if len({len(r) for r in arrays}) != 1:
        raise ValueError("rating arrays differ in length")
    keep = ~np.any([_missing(r) for r in arrays], axis=0)
    if not keep.any():
        return math.nan
    first = arrays[0][keep]
    agree = np.all([r[keep] == first for r in arrays[1:]], axis=0)
    return float(np.mean(agree))


def ratings_table(ratings: object, categories: Sequence | None = None) -> pd.DataFrame:
    """Subjects x categories counts from a subjects x raters array of ratings.

    Subjects not rated by every rater are left out.
    """
    arr = np.asarray(ratings, dtype=object)
    if arr.ndim != 2:
        raise ValueError(f"ratings must be subjects x raters, got shape {arr.shape}")
    arr = arr[~_missing(arr).any(axis=1)]
    cats = _categories(categories, arr)
    table = np.array([[int(np.sum(row == c)) for c in cats] for row in arr], dtype=np.int64)
    return pd.DataFrame(table.reshape(len(arr), len(cats)), columns=cats)


def fleiss_kappa(data: object, *, kind: str = "auto", categories: Sequence | None = None) -> float:
    """Fleiss' kappa of a fixed number of raters per subject (Fleiss 1971).

    ``data`` is either a **table** (subjects x categories, count of raters
    giving each category; every row sums to the number of raters) or
    **ratings** (subjects x raters, the ratings themselves). ``kind`` is
    ``"table"``, ``"ratings"`` or ``"auto"``: a numeric array is a table,
    anything else (strings, ``None``) ratings. ``NaN`` when chance agreement
    is 1 or no subject is left.
    """
    if kind not in ("auto", "table", "ratings"):
        raise ValueError(f"kind must be 'auto', 'table' or 'ratings', got {kind!r}")
    if kind == "auto":
        arr = np.asarray(data)
        kind = "table" if np.issubdtype(arr.dtype, np.number) else "ratings"
    if kind == "ratings":
        table = ratings_table(data, categories).to_numpy(dtype=float)
    else:
        table = np.asarray(data, dtype=float)
        if table.ndim != 2 or (table < 0).any():
            raise ValueError("a Fleiss table is subjects x categories of non-negative counts")
    if table.shape[0] == 0:
        return math.nan
    n_raters = table.sum(axis=1)
    if not np.allclose(n_raters, n_raters[0]):
        raise ValueError("every subject must be rated by the same number of raters")
    n = n_raters[0]
    if n < 2:
        raise ValueError("Fleiss' kappa needs at least two raters per subject")
    p_j = table.sum(axis=0) / table.sum()
    p_i = ((table**2).sum(axis=1) - n) / (n * (n - 1))
    p_bar, p_e = p_i.mean(), float((p_j**2).sum())
    if math.isclose(p_e, 1.0):
        return math.nan
    return float((p_bar - p_e) / (1 - p_e))


def icc(matrix: object, kind: str = "2,1") -> float:
    """Intraclass correlation of a subjects x readers matrix (Shrout & Fleiss 1979).

    Default ``kind="2,1"``: ICC(2,1), two-way random effects, absolute
    agreement, single rater, used for lesion counts per patient. ``"1,1"``
    (one-way random) and ``"3,1"`` (two-way mixed, consistency) are also
    given. Subjects with a missing value are left out; ``NaN`` with fewer
    than two subjects or readers, when the subjects do not vary
    (:func:`icc_reason`), or with a zero denominator.
    """
    x = _complete_rows(matrix)
    if icc_reason(x) is not None:
        return math.nan
    n, k = x.shape
    grand = x.mean()
    ss_rows = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_cols = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_total = ((x - grand) ** 2).sum()
    ss_err = ss_total - ss_rows - ss_cols
    bms = ss_rows / (n - 1)
    jms = ss_cols / (k - 1)
    ems = ss_err / ((n - 1) * (k - 1))
    wms = (ss_cols + ss_err) / (n * (k - 1))
    if kind == "1,1":
        num, den = bms - wms, bms + (k - 1) * wms
    elif kind == "2,1":
        num, den = bms - ems, bms + (k - 1) * ems + k * (jms - ems) / n
    elif kind == "3,1":
        num, den = bms - ems, bms + (k - 1) * ems
    else:
        raise ValueError(f"kind must be '1,1', '2,1' or '3,1', got {kind!r}")
    if math.isclose(den, 0.0, abs_tol=1e-12):
        return math.nan
    return float(num / den)


def _complete_rows(matrix: object) -> np.ndarray:
    """A subjects x readers float matrix without the subjects that miss a value."""
    x = np.asarray(matrix, dtype=float)
    if x.ndim != 2:
        raise ValueError(f"icc needs a subjects x readers matrix, got shape {x.shape}")
    return x[~np.isnan(x).any(axis=1)]


# ------------------------------------------------------------------ reasons
def icc_reason(matrix: object, unit: str = "case") -> str | None:
    """Why the ICC of a subjects x readers matrix is undefined (None: it is defined)."""
    x = _complete_rows(matrix)
    n, k = x.shape
    if k < 2:
        return "fewer than 2 readers"
    if n < 2:
        return f"fewer than 2 {unit}s read by every reader ({n})"
    means = x.mean(axis=1)
    if np.ptp(means) <= 1e-9 * max(1.0, float(np.abs(means).max())):
        return f"no between-{unit} variance: every {unit} has the same mean count"
    return None


def kappa_reason(
    columns: Sequence[object], what: str = "lesions", label: Callable[[object], str] = str
) -> str | None:
    """Why the kappa of some readers' ratings is undefined (None: it is defined).

    ``columns``: one rating array per reader (missing values left out, as the
    kappas do); ``what`` names the rated items; ``label`` shows a value.
    """
    data = np.stack([_labels(c) for c in columns], axis=1)
    data = data[~_missing(data).any(axis=1)]
    if len(data) == 0:
        return f"no {what} rated by every reader compared"
    values = set(data.ravel().tolist())
    if len(values) == 1:
        return f"every rating is {label(values.pop())}: no agreement beyond chance to measure"
    return None


def detection_reason(cases: int, n_a: int, n_b: int, a: str, b: str) -> str | None:
    """Why the detection F1, sensitivity or PPV of a pair is undefined (None: all defined)."""
    if cases == 0:
        return f"no case read by both {a} and {b}"
    if n_a + n_b == 0:
        return "neither reading has a lesion"
    if n_a == 0:
        return f"sensitivity: {a} marked no lesion"
    if n_b == 0:
        return f"PPV: {b} marked no lesion"
    return None


def _as_rows(values: object) -> np.ndarray:
    """An array indexable by row (numpy arrays kept, lists of labels as objects)."""
    if isinstance(values, pd.DataFrame | pd.Series):
        return values.to_numpy()
    if isinstance(values, np.ndarray):
        return values
    return np.asarray(values, dtype=object)


class CI(NamedTuple):
    """A point estimate with its bootstrap confidence interval."""

    estimate: float
    low: float
    high: float


def _resampled(arrays: tuple, level: float) -> list[np.ndarray]:
    """The arrays as row-indexable arrays of one length, checked for a bootstrap."""
    if not arrays:
        raise ValueError("a bootstrap needs at least one array")
    if not 0 < level < 1:
        raise ValueError(f"level must be in (0, 1), got {level}")
    data = [_as_rows(a) for a in arrays]
    if any(len(d) != len(data[0]) for d in data):
        raise ValueError("arrays differ in length")
    return data


def _percentile(estimate: float, reps: np.ndarray, level: float) -> CI:
    """The percentile interval of the finite replicates (bounds NaN when none is)."""
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return CI(estimate, math.nan, math.nan)
    alpha = (1 - level) / 2
    low, high = np.quantile(reps, [alpha, 1 - alpha])
    return CI(estimate, float(low), float(high))


def bootstrap_ci(
    stat_fn: Callable[..., float],
    *arrays: object,
    n: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> CI:
    """Percentile bootstrap confidence interval of ``stat_fn(*arrays)``, resampling rows.

    The resampling units are the rows: the same resampled row indices are
    applied to every array, so paired ratings stay paired. Deterministic for a
    given ``seed`` (``numpy.random.default_rng``). Replicates where the
    statistic is ``NaN`` (e.g. a resample with a single category) are left
    out; the bounds are ``NaN`` when none is finite. For rows that are not
    independent (lesions of one patient) use :func:`cluster_bootstrap_ci`.
    """
    data = _resampled(arrays, level)
    size = len(data[0])
    estimate = float(stat_fn(*data))
    if size == 0:
        return CI(estimate, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    reps = np.empty(n)
    for r in range(n):
        idx = rng.integers(0, size, size)
        reps[r] = stat_fn(*(d[idx] for d in data))
    return _percentile(estimate, reps, level)


def cluster_codes(clusters: object) -> tuple[np.ndarray, int]:
    """Each row's cluster as ``0 .. k - 1`` in order of first appearance, and ``k``."""
    labels = _labels(clusters)
    if _missing(labels).any():
        raise ValueError("every row needs a cluster (patient)")
    codes, uniques = pd.factorize(labels)
    return codes.astype(np.int64), len(uniques)


def cluster_bootstrap_ci(
    stat_fn: Callable[..., float],
    *arrays: object,
    clusters: object,
    n: int = 2000,
    seed: int = 0,
    level: float = 0.95,
) -> CI:
    """Percentile cluster bootstrap interval of ``stat_fn(*arrays)``, resampling clusters.

    ``clusters`` names each row's cluster (its patient). The ``k`` clusters
    are numbered in order of first appearance; each replicate draws ``k`` of
    them with replacement (``rng.integers(0, k, k)``, ``rng`` from ``seed``)
    and takes every row of each drawn cluster, in draw order, so a cluster
    drawn twice appears twice. With one row per cluster this is
    :func:`bootstrap_ci`. Bounds are ``NaN`` with fewer than two clusters (a
    resample could only repeat the one cluster: :func:`interval_reason`) and
    when no replicate is finite.
    """
    data = _resampled(arrays, level)
    codes, k = cluster_codes(clusters)
    if len(codes) != len(data[0]):
        raise ValueError("clusters and arrays differ in length")
    estimate = float(stat_fn(*data))
    if k < 2:
        return CI(estimate, math.nan, math.nan)
    order = np.argsort(codes, kind="stable")
    rows = np.split(order, np.cumsum(np.bincount(codes, minlength=k))[:-1])
    rng = np.random.default_rng(seed)
    reps = np.empty(n)
    for r in range(n):
        idx = np.concatenate([rows[c] for c in rng.integers(0, k, k)])
        reps[r] = stat_fn(*(d[idx] for d in data))
    return _percentile(estimate, reps, level)


def interval_reason(ci: CI, patients: int, n_boot: int) -> str | None:
    """Why the interval of a defined estimate is missing (None: it is there, or no estimate).

    ``patients``: the clusters resampled; ``n_boot``: the replicates drawn.
    """
    if math.isnan(ci.estimate) or not (math.isnan(ci.low) or math.isnan(ci.high)):
        return None
    if n_boot == 0:
        return "0 bootstrap replicates"
    if patients < 2:
        return "one patient only: a cluster bootstrap needs at least 2 patients"
    return "undefined on every bootstrap resample"
