"""Intervals that respect patients: the cluster bootstrap over patients.

The plain reference is :func:`cluster_bootstrap_ci` (a loop over replicates); the
vectorised :class:`Bootstrap` must give the same intervals. The cohorts are built
here in memory (label maps of cubic lesions, ratings set per reader), so the number
of patients and the agreement within and between them are chosen by the test.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from napari_uspio.core.agreement.bootstrap import (
    Bootstrap,
    interval_text,
    patient_of,
    pooled_f1,
)
from napari_uspio.core.agreement.matching import MIN_DICE, group_lesions
from napari_uspio.core.agreement.readings import CaseReadings, Reading
from napari_uspio.core.agreement.report.format import format_ci
from napari_uspio.core.agreement.report.page import report_html
from napari_uspio.core.agreement.stats import (
    bootstrap_ci,
    cluster_bootstrap_ci,
    cohen_kappa,
    fleiss_kappa,
    percent_agreement,
)
from napari_uspio.core.agreement.study_stats import agreement_of
from napari_uspio.core.ratings import Ratings

ONE_PATIENT = "one patient only: a cluster bootstrap needs at least 2 patients"
RIM = ("present", "absent")
CATS = ("a", "b", "c")


# ------------------------------------------------------------------ cohorts
def _case(case_id: str, rims: dict[str, list[str]]) -> CaseReadings:
    """One case whose readers painted the same cubic lesions and rated their QSM rim."""
    n = len(next(iter(rims.values())))
    labels = np.zeros((4, 8, 4 * n), np.int32)
    for k in range(n):
        labels[1:3, 2:6, 4 * k : 4 * k + 3] = k + 1
    readings = {}
    for reader, values in rims.items():
        ratings = Ratings()
        for lesion, rim in enumerate(values, start=1):
            ratings.set(lesion, gd="none", uspio="none", qsm_rim=rim)
        readings[reader] = Reading(f"{reader}-{case_id}", labels, ratings)
    groups = group_lesions({r: x.labels for r, x in readings.items()}, MIN_DICE)
    return CaseReadings(case_id, None, readings, groups)


def _clustered(sizes=(6,) * 12, flipped=4) -> list[CaseReadings]:
    """r2 agrees with r1 on every lesion of a patient, or (``flipped`` patients) on none.

    ``sizes``: the lesions of each patient.
    """
    cases = []
    for p, n_lesions in enumerate(sizes):
        r1 = [RIM[k % 2] for k in range(n_lesions)]
        r2 = [RIM[(k + 1) % 2] for k in range(n_lesions)] if p < flipped else r1
        cases.append(_case(f"sub-{p + 1:02d}", {"r1": r1, "r2": r2}))
    return cases


def _rim_rows(agreement) -> tuple[np.ndarray, np.ndarray, pd.Index]:
    wide = agreement.lesions.pivot(index=["case", "item"], columns="reader", values="qsm_rim")
    return (
        wide["r1"].to_numpy(dtype=object),
        wide["r2"].to_numpy(dtype=object),
        wide.index.get_level_values("case"),
    )


def _width(ci) -> float:
    return ci[2] - ci[1]


def _ratings(seed: int):
    """Uneven patients in shuffled row order, three readers, a few missing ratings."""
    rng = np.random.default_rng(seed)
    patients = np.repeat([f"p{k}" for k in range(9)], rng.integers(1, 8, 9))
    rng.shuffle(patients)
    n = len(patients)
    a = rng.choice(CATS, n).astype(object)
    b = np.where(rng.random(n) < 0.7, a, rng.choice(CATS, n)).astype(object)
    c = np.where(rng.random(n) < 0.6, a, rng.choice(CATS, n)).astype(object)
    b[rng.choice(n, 2, replace=False)] = None
    return patients, a, b, c


# ------------------------------------------------------------------ the reference
def test_cluster_bootstrap_with_one_row_per_patient_is_the_row_bootstrap():
    _, a, b, _ = _ratings(0)
    keep = pd.notna(b)
    a, b = a[keep], b[keep]

    def kappa(x, y):
        return cohen_kappa(x, y, CATS)

    ids = [f"lesion {k}" for k in range(len(a))]
    assert cluster_bootstrap_ci(kappa, a, b, clusters=ids, n=300, seed=2) == bootstrap_ci(
        kappa, a, b, n=300, seed=2
    )


def test_cluster_bootstrap_takes_every_row_of_each_drawn_patient():
    values = np.array([1.0, 1.0, 1.0, 0.0])  # patient x: three rows of 1, patient y: one 0
    seen = []

    def mean(v):
        seen.append(len(v))
        return float(v.mean())

    ci = cluster_bootstrap_ci(mean, values, clusters=["x", "x", "x", "y"], n=200, seed=0)
    # a replicate holds 2 patients: 6 rows (x twice), 4 (x and y) or 2 (y twice)
    assert set(seen[1:]) == {2, 4, 6}
    assert (ci.low, ci.estimate, ci.high) == (0.0, 0.75, 1.0)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_vectorised_equals_the_reference(seed):
    patients, a, b, c = _ratings(seed)
    boot = Bootstrap(400, seed)
    got = boot.kappa([a, b], CATS, patients)
    keep = pd.notna(b)
    ref = cluster_bootstrap_ci(
        lambda x, y: cohen_kappa(x, y, CATS),
        a[keep],
        b[keep],
        clusters=patients[keep],
        n=400,
        seed=seed,
    )
    assert tuple(got.kappa) == pytest.approx(tuple(ref), rel=1e-12)
    assert (got.n, got.patients) == (keep.sum(), len(set(patients[keep])))
    ref = cluster_bootstrap_ci(
        percent_agreement, a[keep], b[keep], clusters=patients[keep], n=400, seed=seed
    )
    assert tuple(got.agreement) == pytest.approx(tuple(ref), rel=1e-12)

    every = np.stack([a, c, b], axis=1)[keep]
    got = boot.kappa([a, c, b], CATS, patients)
    ref = cluster_bootstrap_ci(
        lambda m: fleiss_kappa(m, kind="ratings", categories=CATS),
        every,
        clusters=patients[keep],
        n=400,
        seed=seed,
    )
    assert tuple(got.kappa) == pytest.approx(tuple(ref), rel=1e-12)
    assert got.kappa.low < got.kappa.estimate < got.kappa.high

    rng = np.random.default_rng(seed)
    n_a, n_b = rng.integers(0, 6, (2, 10)).astype(float)
    matched = np.minimum(n_a, n_b) - rng.integers(0, 2, 10).clip(max=np.minimum(n_a, n_b))
    visits = [f"sub-{k // 2}_ses-{k % 2}" for k in range(10)]  # two visits per patient
    ref = cluster_bootstrap_ci(
        pooled_f1, n_a, n_b, matched, clusters=[patient_of(v) for v in visits], n=400, seed=seed
    )
    got = boot.f1(n_a, n_b, matched, [patient_of(v) for v in visits])
    assert tuple(got) == pytest.approx(tuple(ref), rel=1e-12)


def test_weights_are_cached_draw_counts():
    boot = Bootstrap(50, 3)
    w = boot.weights(7)
    assert w is boot.weights(7) and w.shape == (50, 7) and not w.flags.writeable
    assert (w.sum(axis=1) == 7).all()
    rng = np.random.default_rng(3)
    assert w[0].tolist() == np.bincount(rng.integers(0, 7, 7), minlength=7).tolist()


def test_patient_of_a_case():
    assert patient_of("sub-01_ses-02") == "sub-01"
    assert patient_of("sub-01") == "sub-01"
    assert patient_of("sub-A7_ses-01_run-2") == "sub-A7"
    assert patient_of("case-3") == "case-3" and patient_of("sub-_x") == "sub-_x"


# ------------------------------------------------------------------ the study statistics
@pytest.fixture(scope="module")
def clustered():
    return agreement_of(_clustered(), ["r1", "r2"], n_boot=500, seed=5)


def test_point_estimates_do_not_depend_on_the_resampling(clustered):
    a, b, _ = _rim_rows(clustered)
    rim = clustered.kappa.set_index("field").loc["qsm_rim"]
    assert rim["kappa"] == cohen_kappa(a, b, RIM) == pytest.approx(1 / 3)  # p_o 2/3, p_e 1/2
    assert rim["percent_agreement"] == pytest.approx(2 / 3)
    plain = agreement_of(_clustered(), ["r1", "r2"], n_boot=0, seed=5)
    for name, estimate in (("kappa", "kappa"), ("detection", "f1"), ("patient", "estimate")):
        got, want = getattr(clustered, name), getattr(plain, name)
        pd.testing.assert_series_equal(got[estimate], want[estimate])
    assert (plain.kappa["ci_reason"].dropna() == "0 bootstrap replicates").all()


def test_cluster_intervals_are_wider_than_lesion_level_ones(clustered):
    """Agreement is all or nothing within a patient: 72 lesions carry 12 patients' worth."""
    a, b, cases = _rim_rows(clustered)
    lesion_level = bootstrap_ci(lambda x, y: cohen_kappa(x, y, RIM), a, b, n=500, seed=5)
    rim = clustered.kappa.set_index("field").loc["qsm_rim"]
    cluster = (rim["kappa"], rim["low"], rim["high"])
    ref = cluster_bootstrap_ci(
        lambda x, y: cohen_kappa(x, y, RIM), a, b, clusters=cases, n=500, seed=5
    )
    assert cluster == pytest.approx(tuple(ref), rel=1e-12)
    assert lesion_level.estimate == rim["kappa"]
    assert _width(cluster) > 1.8 * _width(lesion_level)
    assert cluster[1] < lesion_level.low and lesion_level.high <= cluster[2]
    assert pd.isna(rim["ci_reason"])


def test_intervals_reproducible_from_the_seed(clustered):
    again = agreement_of(_clustered(), ["r1", "r2"], n_boot=500, seed=5)
    for name in ("kappa", "detection", "patient"):
        pd.testing.assert_frame_equal(getattr(clustered, name), getattr(again, name))
    # patients of unequal sizes: replicates take many values, so the bounds move with the seed
    uneven = _clustered(sizes=(2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13))
    one = agreement_of(uneven, ["r1", "r2"], n_boot=500, seed=5)
    other = agreement_of(uneven, ["r1", "r2"], n_boot=500, seed=6)
    pd.testing.assert_series_equal(one.kappa["kappa"], other.kappa["kappa"])
    rims = [frame.kappa.set_index("field").loc["qsm_rim"] for frame in (one, other)]
    assert (
        abs(rims[0]["low"] - rims[1]["low"]) > 1e-9
        or abs(rims[0]["high"] - rims[1]["high"]) > 1e-9
    )


def test_report_states_the_cluster_bootstrap(clustered):
    text = "95 % intervals: cluster bootstrap over patients (12 patients, 500 replicates, seed 5)"
    assert clustered.settings["bootstrap"] == text == interval_text(12, 500, 5)
    assert clustered.settings["n_patients"] == 12
    page = report_html(clustered, {}, "clustered")
    assert text in page and "cluster bootstrap intervals over patients" in page


# ------------------------------------------------------------------ one patient
def test_one_patient_has_no_interval_and_says_why():
    rims = {"r1": ["present", "absent", "present"], "r2": ["present", "absent", "absent"]}
    boot = Bootstrap(100, 0)
    res = boot.kappa([rims["r1"], rims["r2"]], RIM, ["p"] * 3)
    assert res.patients == 1 and res.kappa.estimate == pytest.approx(cohen_kappa(*rims.values()))
    assert math.isnan(res.kappa.low) and math.isnan(res.agreement.high)
    assert boot.reason(res.kappa, res.patients) == ONE_PATIENT
    ci = cluster_bootstrap_ci(percent_agreement, *rims.values(), clusters=["p"] * 3, n=100)
    assert ci.estimate == pytest.approx(2 / 3) and math.isnan(ci.low) and math.isnan(ci.high)
    assert math.isnan(boot.f1([3.0], [3.0], [2.0], ["p"]).low)


def test_two_visits_of_one_patient_are_one_patient(tmp_path):
    cases = [
        _case("sub-01_ses-01", {"r1": ["present", "absent"] * 2, "r2": ["present"] * 4}),
        _case("sub-01_ses-02", {"r1": ["absent", "present"] * 3, "r2": ["absent"] * 6}),
    ]
    res = agreement_of(cases, ["r1", "r2"], n_boot=100, seed=0)
    assert res.settings["n_cases"] == 2 and res.settings["n_patients"] == 1
    assert "(1 patients, 100 replicates, seed 0)" in res.settings["bootstrap"]
    rim = res.kappa.set_index("field").loc["qsm_rim"]
    assert rim["n"] == 10 and rim["kappa"] == pytest.approx(0.0)  # defined: p_o = p_e = 1/2
    assert math.isnan(rim["low"]) and rim["ci_reason"] == ONE_PATIENT
    det = res.detection.iloc[0]
    assert det["f1"] == 1.0 and math.isnan(det["f1_low"]) and det["ci_reason"] == ONE_PATIENT
    count = res.patient.set_index("measure").loc["lesion_count"]
    assert count["estimate"] == 1.0 and count["ci_reason"] == ONE_PATIENT  # 4 and 6 lesions
    undefined = res.kappa[res.kappa["kappa"].isna()]
    assert len(undefined) and undefined["ci_reason"].isna().all()  # the reason says why
    shown = f"0.00 (no interval: {ONE_PATIENT})"
    assert format_ci(rim["kappa"], rim["low"], rim["high"], ci_reason=rim["ci_reason"]) == shown
    assert shown in report_html(res, {}, "one patient")
