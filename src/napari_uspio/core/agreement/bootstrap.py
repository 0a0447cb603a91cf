"""Seeded cluster bootstrap intervals over patients, vectorised over replicates.

Lesions of one patient are not independent (nor are two visits of one
patient), so every interval resamples **patients**: per replicate,
:class:`Bootstrap` draws as many patients as there are, with replacement,
and takes all their rows (a patient drawn twice counts twice). The draws are
those of :func:`~.stats.cluster_bootstrap_ci` for the same seed (one
``rng.integers(0, k, k)`` per replicate, in order, patients numbered in
order of first appearance) and so are the intervals. Cohen's and Fleiss'
kappa, percent agreement and the pooled F1 are ratios of sums over rows, so
the replicates are computed at once: the per-patient sums (a ``bincount``)
weighted by how often each replicate drew each patient (an ``n_boot x
patients`` count matrix), instead of one statistic call per replicate.
Equality with ``cluster_bootstrap_ci`` is checked in
``tests/core/agreement/test_cluster_bootstrap.py``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd

from .stats import (
    CI,
    cluster_bootstrap_ci,
    cluster_codes,
    cohen_kappa,
    fleiss_kappa,
    interval_reason,
    percent_agreement,
)

__all__ = ["LEVEL", "Bootstrap", "Kappa", "interval_text", "patient_of", "pooled_f1"]

#: Confidence level of every interval.
LEVEL = 0.95
#: Memory kept for replicate weights reused across statistics on the same number of patients.
CACHE_BYTES = 64 << 20
NAN = math.nan
#: A BIDS subject at the start of a case id: ``sub-01`` in ``sub-01_ses-02``.
_SUBJECT = re.compile(r"^(sub-[A-Za-z0-9]+)(?:_|$)")


def patient_of(case_id: str) -> str:
    """The patient of a case: the BIDS subject (``sub-01`` of ``sub-01_ses-02``), else the case."""
    found = _SUBJECT.match(str(case_id))
    return found.group(1) if found else str(case_id)


def interval_text(n_patients: int, n_boot: int, seed: int) -> str:
    """How the intervals were computed, in the words of the report."""
    if n_boot == 0:
        return f"no intervals: 0 bootstrap replicates ({n_patients} patients)"
    return (
        f"{100 * LEVEL:g} % intervals: cluster bootstrap over patients "
        f"({n_patients} patients, {n_boot} replicates, seed {seed})"
    )


def pooled_f1(n_a: np.ndarray, n_b: np.ndarray, matched: np.ndarray) -> float:
    """Lesion-wise F1 of counts pooled over cases: ``2 matched / (n_a + n_b)``."""
    total = n_a.sum() + n_b.sum()
    return float(2 * matched.sum() / total) if total else NAN


class Kappa(NamedTuple):
    """Kappa and percent agreement of some rows, with their intervals."""

    n: int  # rows rated in every column (lesions or cases)
    patients: int  # patients of those rows (the resampled units)
    kappa: CI
    agreement: CI


class Bootstrap:
    """Percentile cluster bootstrap over patients: ``n_boot`` replicates, ``seed``, :data:`LEVEL`.

    Every interval restarts the generator from ``seed`` (as
    ``cluster_bootstrap_ci`` does), so statistics on the same number of
    patients share their draws, whose weights are computed once and cached.
    """

    def __init__(self, n_boot: int, seed: int) -> None:
        self.n_boot, self.seed = int(n_boot), int(seed)
        self._weights: dict[int, np.ndarray] = {}

    def weights(self, k: int) -> np.ndarray:
        """``n_boot x k`` times each of ``k`` patients is drawn, per replicate (float)."""
        if k not in self._weights:
            rng = np.random.default_rng(self.seed)
            draws = np.empty((self.n_boot, k), dtype=np.int64)
            for r in range(self.n_boot):
                draws[r] = rng.integers(0, k, k)
            cells = (draws + (np.arange(self.n_boot) * k)[:, None]).ravel()
            out = np.bincount(cells, minlength=self.n_boot * k).reshape(self.n_boot, k)
            out = out.astype(float)
            out.flags.writeable = False
            if sum(a.nbytes for a in self._weights.values()) + out.nbytes > CACHE_BYTES:
                self._weights.clear()
            self._weights[k] = out
        return self._weights[k]

    def ci(self, stat_fn: Callable[..., float], *arrays: object, clusters: object) -> CI:
        """:func:`~.stats.cluster_bootstrap_ci` of ``stat_fn`` with this seed and count."""
        return cluster_bootstrap_ci(
            stat_fn, *arrays, clusters=clusters, n=self.n_boot, seed=self.seed, level=LEVEL
        )

    def reason(self, ci: CI, patients: int) -> str | None:
        """Why the interval of a defined estimate is missing (:func:`~.stats.interval_reason`)."""
        return interval_reason(ci, patients, self.n_boot)

    def f1(self, n_a: object, n_b: object, matched: object, clusters: object) -> CI:
        """:func:`pooled_f1` of per-case counts with its interval; ``clusters``: their patients."""
        n_a, n_b, matched = (np.asarray(v, dtype=float) for v in (n_a, n_b, matched))
        estimate = pooled_f1(n_a, n_b, matched)
        patients, k = cluster_codes(clusters)
        if k < 2 or self.n_boot == 0:
            return CI(estimate, NAN, NAN)
        w = self.weights(k)
        num = 2 * (w @ np.bincount(patients, weights=matched, minlength=k))
        den = w @ np.bincount(patients, weights=n_a + n_b, minlength=k)
        reps = np.divide(num, den, out=np.full(len(den), NAN), where=den > 0)
        return interval(estimate, reps)

    def kappa(
        self, columns: Sequence[object], categories: Sequence[str], clusters: object
    ) -> Kappa:
        """Kappa and percent agreement of the rows rated in every column, with intervals.

        ``columns``: one array of ratings per reader (None / NaN: missing);
        ``clusters``: each row's patient. Cohen's kappa for two columns,
        Fleiss' kappa for more. The patients resampled are those with a row kept.
        """
        data = np.stack([np.asarray(c, dtype=object) for c in columns], axis=1)
        keep = ~np.asarray(pd.isna(data), dtype=bool).reshape(data.shape).any(axis=1)
        data = data[keep]
        patients, k = cluster_codes(np.asarray(clusters, dtype=object)[keep])
        n, m = data.shape
        if m == 2:
            estimate = cohen_kappa(data[:, 0], data[:, 1], categories)
        else:
            estimate = fleiss_kappa(data, kind="ratings", categories=categories)
        agreement = percent_agreement(*data.T) if n else NAN
        if k < 2 or self.n_boot == 0:
            return Kappa(n, k, CI(estimate, NAN, NAN), CI(agreement, NAN, NAN))
        pos = {c: j for j, c in enumerate(categories)}
        codes = np.array([[pos[v] for v in row] for row in data], dtype=np.int64)
        w = self.weights(k)
        c = len(pos)
        reps = (_cohen_reps if m == 2 else _fleiss_reps)(codes, patients, w, c)
        agree = np.all(codes == codes[:, :1], axis=1).astype(float)
        share = (w @ _sums(agree, patients, k)) / (w @ _sums(np.ones(n), patients, k))
        return Kappa(n, k, interval(estimate, reps), interval(agreement, share))


def interval(estimate: float, reps: np.ndarray) -> CI:
    """The percentile interval of the finite replicates (bounds NaN when none is)."""
    reps = reps[np.isfinite(reps)]
    if reps.size == 0:
        return CI(float(estimate), NAN, NAN)
    low, high = np.quantile(reps, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return CI(float(estimate), float(low), float(high))


def _sums(values: np.ndarray, patients: np.ndarray, k: int) -> np.ndarray:
    """Per-patient sums of row values: ``k`` for 1-d values, ``k x columns`` for 2-d."""
    if values.ndim == 1:
        return np.bincount(patients, weights=values, minlength=k)
    return np.stack([_sums(col, patients, k) for col in values.T], axis=1)


def _kappa(p_o: np.ndarray, p_e: np.ndarray) -> np.ndarray:
    """``(p_o - p_e) / (1 - p_e)``, NaN where ``p_e`` is 1 (as ``math.isclose``)."""
    one = np.abs(p_e - 1.0) <= 1e-9 * np.maximum(np.abs(p_e), 1.0)
    return np.where(one, NAN, (p_o - p_e) / np.where(one, 1.0, 1.0 - p_e))


def _cohen_reps(codes: np.ndarray, patients: np.ndarray, w: np.ndarray, c: int) -> np.ndarray:
    """Cohen's kappa of every replicate (rows of ``w``) of coded rating pairs (n x 2)."""
    k = w.shape[1]
    cells = np.bincount(patients * c * c + codes[:, 0] * c + codes[:, 1], minlength=k * c * c)
    table = (w @ cells.reshape(k, c * c).astype(float)).reshape(-1, c, c)
    n = table.sum(axis=(1, 2))
    p_o = np.trace(table, axis1=1, axis2=2) / n
    p_e = np.einsum("ri,ri->r", table.sum(axis=2), table.sum(axis=1)) / n**2
    return _kappa(p_o, p_e)


def _fleiss_reps(codes: np.ndarray, patients: np.ndarray, w: np.ndarray, c: int) -> np.ndarray:
    """Fleiss' kappa of every replicate (rows of ``w``) of coded subjects x raters."""
    k = w.shape[1]
    raters = float(codes.shape[1])
    counts = np.stack([(codes == j).sum(axis=1) for j in range(c)], axis=1).astype(float)
    p_i = ((counts**2).sum(axis=1) - raters) / (raters * (raters - 1))
    rows = w @ _sums(np.ones(len(codes)), patients, k)
    p_bar = (w @ _sums(p_i, patients, k)) / rows
    p_j = (w @ _sums(counts, patients, k)) / (rows[:, None] * raters)
    return _kappa(p_bar, (p_j**2).sum(axis=1))
