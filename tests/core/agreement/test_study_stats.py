"""Study-level agreement (compute_agreement) on simulated phantom studies with known answers.

The expected statistics are derived here from the phantom truth and the
readers' scripted misses and changes, with plain formulas written in this
file (Cohen, Fleiss, ICC(2,1) by two-way ANOVA), never with the package's
own statistics; a few are also checked against numbers worked by hand.
"""

from __future__ import annotations

import math
from itertools import combinations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from napari_uspio.core import fields as spec
from napari_uspio.core.agreement.readings import compared_fields
from napari_uspio.core.agreement.result import (
    DETECTION_COLUMNS,
    INTRA_COLUMNS,
    KAPPA_COLUMNS,
    PATIENT_COLUMNS,
    VOXEL_DICE_COLUMNS,
)
from napari_uspio.core.agreement.stats import (
    bootstrap_ci,
    cluster_bootstrap_ci,
    cohen_kappa,
    fleiss_kappa,
    icc,
)
from napari_uspio.core.agreement.study_stats import (
    PATIENTS_COLUMNS,
    compute_agreement,
    lesion_columns,
)
from napari_uspio.core.study.records import StudyError
from napari_uspio.phantom import TRUTH_DIR, phantom_truth
from napari_uspio.phantom.lesions import RECIPES
from napari_uspio.testing.simulate import SimulatedReader, simulate_study

CASES = ("sub-01", "sub-02", "sub-03")
N_LESIONS = 8
SHAPE = (64, 64, 12)
SEED = 11
N_BOOT = 200
FIELDS = ("gd", "uspio", "qsm_rim", "central_vein", "overlap")
COMPARED_FIELDS = compared_fields()
LESION_COLUMNS = lesion_columns()
CLASSES, VOCABULARY = spec.CLASSES, spec.RATINGS.vocabulary
#: Truth lesions with a USPIO pattern (every phantom cycles through the same recipes).
USPIO_POS = [k + 1 for k, recipe in enumerate(RECIPES[:N_LESIONS]) if recipe[1] != "none"]
#: Rated USPIO none: the overlap must then be n/a.
NO_USPIO = {"uspio": "none", "overlap": "n/a"}


def _merge(*changes):
    out = {}
    for change in changes:
        for key, fields in change.items():
            out[key] = {**out.get(key, {}), **fields}
    return out


READERS = [
    # r1 reads the truth; in the repeated reading, lesion 2's QSM rim (absent) is read present
    SimulatedReader("r1", repeat_changes={(c, 2): {"qsm_rim": "present"} for c in CASES}),
    # r2 misses lesion 6 of sub-01, reads lesion 1 focal (ring), lesion 4 Gd shell (nodular),
    # and no USPIO enhancement at all in sub-03 (patient group GEL instead of UEL)
    SimulatedReader(
        "r2",
        misses=frozenset({("sub-01", 6)}),
        changes=_merge(
            {(c, 1): {"uspio": "focal"} for c in CASES},
            {(c, 4): {"gd": "shell"} for c in CASES},
            {("sub-03", k): NO_USPIO for k in USPIO_POS},
        ),
    ),
    # r3 misses lesion 5 of sub-01, flips the QSM rim of lesions 1 and 2, sees no USPIO in sub-02
    SimulatedReader(
        "r3",
        misses=frozenset({("sub-01", 5)}),
        changes=_merge(
            {(c, 1): {"qsm_rim": "absent"} for c in CASES},
            {(c, 2): {"qsm_rim": "present"} for c in CASES},
            {("sub-02", k): NO_USPIO for k in USPIO_POS},
        ),
    ),
]
SPEC = {r.id: r for r in READERS}


# ------------------------------------------------------------------ plain formulas
def cohen(pairs) -> float:
    """Cohen's kappa of (a, b) rating pairs: (p_o - p_e) / (1 - p_e)."""
    n = len(pairs)
    if n == 0:
        return math.nan
    cats = {v for pair in pairs for v in pair}
    p_o = sum(a == b for a, b in pairs) / n
    p_e = sum(
        sum(a == c for a, _ in pairs) / n * (sum(b == c for _, b in pairs) / n) for c in cats
    )
    return math.nan if math.isclose(p_e, 1.0) else (p_o - p_e) / (1 - p_e)


def fleiss(rows) -> float:
    """Fleiss' kappa of subjects (tuples of every rater's rating), by its definition."""
    if not rows:
        return math.nan
    n_sub, m = len(rows), len(rows[0])
    cats = sorted({v for row in rows for v in row})
    n_ij = np.array([[row.count(c) for c in cats] for row in rows], dtype=float)
    p_i = (n_ij * (n_ij - 1)).sum(axis=1) / (m * (m - 1))
    p_j = n_ij.sum(axis=0) / (n_sub * m)
    p_e = float((p_j**2).sum())
    return math.nan if math.isclose(p_e, 1.0) else (p_i.mean() - p_e) / (1 - p_e)


def icc21(x) -> float:
    """ICC(2,1) (Shrout & Fleiss) from the two-way ANOVA mean squares."""
    x = np.asarray(x, dtype=float)
    n, k = x.shape
    grand = x.mean()
    ss_r = k * ((x.mean(axis=1) - grand) ** 2).sum()
    ss_c = n * ((x.mean(axis=0) - grand) ** 2).sum()
    ss_e = ((x - grand) ** 2).sum() - ss_r - ss_c
    msr, msc, mse = ss_r / (n - 1), ss_c / (k - 1), ss_e / ((n - 1) * (k - 1))
    return (msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n)


def agreement(rows) -> float:
    return sum(len(set(row)) == 1 for row in rows) / len(rows) if rows else math.nan


# ------------------------------------------------------------------ expected readings
def expected_reading(reader: str, case: str, truth: pd.DataFrame, repeat=False) -> dict:
    """Lesion -> rating fields (and lesion_class) the scripted reader typed."""
    spec = SPEC[reader]
    changes = spec.repeat_changes if repeat and spec.repeat_changes is not None else spec.changes
    out = {}
    for lesion, row in truth.iterrows():
        if (case, lesion) in spec.misses:
            continue
        rating = {f: row[f] for f in FIELDS} | dict(changes.get((case, lesion), {}))
        u = "-" if rating["uspio"] == "none" else "+"
        g = "-" if rating["gd"] == "none" else "+"
        out[lesion] = rating | {"lesion_class": f"USPIO{u}/Gd{g}"}
    return out


def group(reading: dict) -> str:
    if any(r["uspio"] != "none" for r in reading.values()):
        return "UEL"
    return "GEL" if any(r["gd"] != "none" for r in reading.values()) else "NEL"


# ------------------------------------------------------------------ fixtures
@pytest.fixture(scope="module")
def study(tmp_path_factory, phantom_cases):
    base = tmp_path_factory.mktemp("study_agreement")
    return simulate_study(
        base / "study",
        phantom_cases(len(CASES), SHAPE, N_LESIONS),
        len(CASES),
        READERS,
        seed=3,
        repeat_fraction=0.34,  # one repeated case per reader
        shape_xyz=SHAPE,
        n_lesions=N_LESIONS,
    )


@pytest.fixture(scope="module")
def truth(study):
    return {c: phantom_truth(study.case_folder(c)).set_index("lesion") for c in CASES}


@pytest.fixture(scope="module")
def expected(truth):
    return {(r, c): expected_reading(r, c, truth[c]) for r in SPEC for c in CASES}


@pytest.fixture(scope="module")
def result(study):
    return compute_agreement(study, n_boot=N_BOOT, seed=SEED)


def rows_of(expected, readers, name):
    """Per (case, lesion) detected by every reader: the readers' values of ``name``."""
    return [
        tuple(expected[r, c][lesion][name] for r in readers)
        for c in CASES
        for lesion in range(1, N_LESIONS + 1)
        if all(lesion in expected[r, c] for r in readers)
    ]


def row(table, **where):
    mask = np.all([table[k] == v for k, v in where.items()], axis=0)
    assert mask.sum() == 1, where
    return table[mask].iloc[0]


# ------------------------------------------------------------------ tests
def test_columns_and_settings(result, study):
    assert tuple(result.detection.columns) == DETECTION_COLUMNS
    assert tuple(result.voxel_dice.columns) == VOXEL_DICE_COLUMNS
    assert tuple(result.kappa.columns) == KAPPA_COLUMNS
    assert tuple(result.patient.columns) == PATIENT_COLUMNS
    assert tuple(result.intra.columns) == INTRA_COLUMNS
    assert tuple(result.lesions.columns) == LESION_COLUMNS
    assert tuple(result.patients.columns) == PATIENTS_COLUMNS
    assert result.readers == ["r1", "r2", "r3"]
    s = result.settings
    assert (s["seed"], s["n_boot"], s["min_dice"]) == (SEED, N_BOOT, 0.1)
    assert s["cases"] == list(CASES) and s["n_cases"] == 3
    assert s["left_out"] == {"r1": 0, "r2": 0, "r3": 0}
    assert s["readers_without_done_reading"] == []
    assert s["n_patients"] == 3
    assert s["bootstrap"] == (
        f"95 % intervals: cluster bootstrap over patients (3 patients, {N_BOOT} replicates, "
        f"seed {SEED})"
    )
    # 8 groups per case (r1 found every lesion), one row per reader
    assert len(result.lesions) == 3 * 8 * 3
    assert compute_agreement(study, n_boot=0).settings["seed"] == study.seed


def test_detection(result):
    det = result.detection.set_index("readers")
    assert list(det.index) == ["r1 vs r2", "r1 vs r3", "r2 vs r3"]
    assert det.loc["r1 vs r3", ["n_a", "n_b", "matched"]].tolist() == [24, 23, 23]
    assert det.loc["r1 vs r3", "f1"] == pytest.approx(46 / 47)  # 2 matched / (n_a + n_b)
    assert det.loc["r1 vs r3", "sensitivity"] == pytest.approx(23 / 24)
    assert det.loc["r1 vs r3", "ppv"] == 1.0
    # r2 and r3 each miss a different lesion of sub-01
    assert det.loc["r2 vs r3", ["n_a", "n_b", "matched"]].tolist() == [23, 23, 22]
    assert det.loc["r2 vs r3", "f1"] == pytest.approx(44 / 46)
    assert (det["cases"] == 3).all()
    assert (det["f1_low"] <= det["f1"]).all() and (det["f1"] <= det["f1_high"]).all()
    assert det.loc["r2 vs r3", "f1_low"] < det.loc["r2 vs r3", "f1_high"]


def test_voxel_dice(result, study):
    path = study.case_folder("sub-01") / TRUTH_DIR / "lesions_truth.nii.gz"
    size = np.bincount(np.asarray(nib.load(path).dataobj, dtype=np.int64).ravel())
    v, v5, v6 = size[1:].sum(), size[5], size[6]
    dice = result.voxel_dice.set_index(["case", "reader_a", "reader_b"])["dice"]
    assert len(dice) == 9
    expected = {
        ("r1", "r2"): 2 * (v - v6) / (2 * v - v6),
        ("r1", "r3"): 2 * (v - v5) / (2 * v - v5),
        ("r2", "r3"): 2 * (v - v5 - v6) / (2 * v - v5 - v6),
    }
    for (a, b), value in expected.items():
        assert dice["sub-01", a, b] == pytest.approx(value)
        for case in ("sub-02", "sub-03"):
            assert dice[case, a, b] == 1.0
        mean = row(result.detection, reader_a=a, reader_b=b)["voxel_dice_mean"]
        assert mean == pytest.approx((value + 2) / 3)
    assert expected["r1", "r2"] < 1


def test_rating_kappas_equal_the_formulas(result, expected):
    for name in COMPARED_FIELDS:
        for a, b in combinations(["r1", "r2", "r3"], 2):
            pairs = rows_of(expected, [a, b], name)
            got = row(result.kappa, field=name, readers=f"{a} vs {b}")
            assert got["statistic"] == "cohen"
            assert got["n"] == len(pairs)
            assert got["kappa"] == pytest.approx(cohen(pairs), nan_ok=True)
            assert got["percent_agreement"] == pytest.approx(agreement(pairs))
        rows = rows_of(expected, ["r1", "r2", "r3"], name)
        got = row(result.kappa, field=name, readers="all")
        assert (got["statistic"], got["n"]) == ("fleiss", 22)
        assert got["kappa"] == pytest.approx(fleiss(rows), nan_ok=True)
        assert got["percent_agreement"] == pytest.approx(agreement(rows))
    assert len(result.kappa) == len(COMPARED_FIELDS) * 4


def test_rating_kappas_worked_by_hand(result):
    # qsm_rim, r1 vs r3: 23 lesions, r3 flips lesions 1 and 2 of every case (6 of 23)
    # r1 present on lesions 1 3 5 7 (11 of 23, sub-01 lesion 5 missed by r3), r3 on 2 3 5 7
    p_o = 17 / 23
    p_e = (11 * 11 + 12 * 12) / 23**2
    got = row(result.kappa, field="qsm_rim", readers="r1 vs r3")
    assert got["kappa"] == pytest.approx((p_o - p_e) / (1 - p_e))
    assert got["kappa"] == pytest.approx(21 / 44)
    # gd: r1 and r3 agree everywhere, r2 reads lesion 4 shell
    assert row(result.kappa, field="gd", readers="r1 vs r3")["kappa"] == 1.0
    assert row(result.kappa, field="gd", readers="r1 vs r2")["kappa"] < 1.0


def test_confusion_matrices(result):
    uspio = result.confusion["uspio", "r1", "r2"]
    assert list(uspio.index) == list(VOCABULARY["uspio"]) == list(uspio.columns)
    assert uspio.loc["ring", "focal"] == 2  # lesion 1 of sub-01 and sub-02
    assert uspio.loc["ring", "none"] == 2  # lesions 1 and 7 of sub-03
    assert uspio.loc["focal", "none"] == 1 and uspio.loc["iso", "none"] == 2
    assert uspio.to_numpy().sum() == row(result.kappa, field="uspio", readers="r1 vs r2")["n"]
    gd = result.confusion["gd", "r1", "r2"]
    assert gd.loc["nodular", "shell"] == 3 and gd.loc["shell", "nodular"] == 0
    rim = result.confusion["qsm_rim", "r1", "r3"]
    assert (rim.loc["present", "absent"], rim.loc["absent", "present"]) == (3, 3)
    assert list(result.confusion["lesion_class", "r1", "r2"].index) == list(CLASSES)
    assert ("uspio", "r1", "all") not in result.confusion
    groups = result.confusion["patient_group", "r2", "r3"]
    assert (groups.loc["UEL", "GEL"], groups.loc["GEL", "UEL"], groups.loc["UEL", "UEL"]) == (
        1,
        1,
        1,
    )
    long = result.confusion_long()
    assert len(long) == sum(m.size for m in result.confusion.values())


def test_patients(result, expected):
    patients = result.patients.set_index(["case", "reader"])
    counts = np.array([[len(expected[r, c]) for r in SPEC] for c in CASES])
    assert counts.tolist() == [[8, 7, 7], [8, 8, 8], [8, 8, 8]]
    for k, c in enumerate(CASES):
        assert [patients.loc[(c, r), "lesions"] for r in SPEC] == counts[k].tolist()
    for r in SPEC:
        for c in CASES:
            assert patients.loc[(c, r), "group"] == group(expected[r, c])
    assert patients.loc[("sub-03", "r2"), "group"] == "GEL"
    icc_row = row(result.patient, measure="lesion_count")
    assert (icc_row["readers"], icc_row["statistic"], icc_row["n"]) == ("all", "icc(2,1)", 3)
    assert icc_row["estimate"] == pytest.approx(icc21(counts))
    assert icc_row["estimate"] == pytest.approx(0.5)  # worked by hand: (4/9 - 1/9) / (6/9)


def test_patient_group_agreement(result, expected):
    groups = {r: [group(expected[r, c]) for c in CASES] for r in SPEC}
    table = result.patient[result.patient["measure"] == "patient_group"]
    for a, b in combinations(SPEC, 2):
        pairs = list(zip(groups[a], groups[b], strict=True))
        got = row(table, readers=f"{a} vs {b}", statistic="cohen")
        assert got["n"] == 3
        assert got["estimate"] == pytest.approx(cohen(pairs), nan_ok=True)
        share = row(table, readers=f"{a} vs {b}", statistic="percent_agreement")
        assert share["estimate"] == pytest.approx(agreement(pairs))
    assert row(table, readers="r2 vs r3", statistic="cohen")["estimate"] == pytest.approx(-0.5)
    all_rows = list(zip(*groups.values(), strict=True))
    fleiss_row = row(table, readers="all", statistic="fleiss")
    assert fleiss_row["estimate"] == pytest.approx(fleiss(all_rows))
    assert fleiss_row["estimate"] == pytest.approx(-2 / 7)
    assert row(table, readers="all", statistic="percent_agreement")["estimate"] == 1 / 3


def test_intra_reader(result, study, truth):
    intra = result.intra
    assert sorted(set(intra["reader"])) == ["r1", "r2", "r3"]
    for reader in SPEC:
        (case,) = [e.case_id for e in study.order(reader) if e.repeat]
        first = expected_reading(reader, case, truth[case])
        again = expected_reading(reader, case, truth[case], repeat=True)
        det = row(intra, reader=reader, field="detection")
        assert (det["cases"], det["n"], det["kappa"]) == (1, 2 * len(first), 1.0)
        assert det["percent_agreement"] == 1.0
        for name in COMPARED_FIELDS:
            pairs = [(first[k][name], again[k][name]) for k in first]
            got = row(intra, reader=reader, field=name)
            assert got["n"] == len(pairs)
            assert got["kappa"] == pytest.approx(cohen(pairs), nan_ok=True)
            assert got["percent_agreement"] == pytest.approx(agreement(pairs))
    # r1's repeat reads lesion 2's rim present: P A P A P A P A vs P P P A P A P A
    rim = row(intra, reader="r1", field="qsm_rim")
    assert (rim["kappa"], rim["percent_agreement"]) == (pytest.approx(0.75), 7 / 8)
    # one case read twice: one patient, so no interval, and the table says why
    one = "one patient only: a cluster bootstrap needs at least 2 patients"
    defined = intra[intra["kappa"].notna()]
    assert defined[["low", "high"]].isna().all().all() and (defined["ci_reason"] == one).all()
    assert intra.loc[intra["kappa"].isna(), "ci_reason"].isna().all()


def test_bootstrap_equals_cluster_bootstrap_ci(result):
    """Every interval is the plain cluster bootstrap over the cases (patients) of its rows."""
    wide = result.lesions.pivot(index=["case", "item"], columns="reader", values="uspio")
    both = wide[["r1", "r2"]].dropna()
    cases = both.index.get_level_values("case")
    both = both.to_numpy(dtype=object)
    cats = VOCABULARY["uspio"]
    ref = cluster_bootstrap_ci(
        lambda x, y: cohen_kappa(x, y, cats),
        both[:, 0],
        both[:, 1],
        clusters=cases,
        n=N_BOOT,
        seed=SEED,
    )
    got = row(result.kappa, field="uspio", readers="r1 vs r2")
    assert (got["kappa"], got["low"], got["high"]) == pytest.approx(tuple(ref), rel=1e-12)
    assert got["low"] < got["kappa"] <= got["high"] and pd.isna(got["ci_reason"])

    ref = _rim_fleiss_ci(result, SEED)
    got = row(result.kappa, field="qsm_rim", readers="all")
    assert (got["kappa"], got["low"], got["high"]) == pytest.approx(tuple(ref), rel=1e-12)
    assert got["low"] < got["kappa"] <= got["high"]

    # F1: resampling the cases' counts (r2 vs r3: 7, 8, 8 lesions each, 6, 8, 8 matched)
    n_a, n_b, matched = np.array([7, 8, 8.0]), np.array([7, 8, 8.0]), np.array([6, 8, 8.0])
    ref = cluster_bootstrap_ci(
        lambda a, b, m: 2 * m.sum() / (a.sum() + b.sum()),
        n_a,
        n_b,
        matched,
        clusters=list(CASES),
        n=N_BOOT,
        seed=SEED,
    )
    det = row(result.detection, readers="r2 vs r3")
    assert (det["f1"], det["f1_low"], det["f1_high"]) == pytest.approx(tuple(ref))
    # one row per case: the cluster bootstrap is the case bootstrap of before
    assert ref == bootstrap_ci(
        lambda a, b, m: 2 * m.sum() / (a.sum() + b.sum()), n_a, n_b, matched, n=N_BOOT, seed=SEED
    )

    counts = result.patients.pivot(index="case", columns="reader", values="lesions")
    ref = cluster_bootstrap_ci(
        icc, counts.to_numpy(dtype=float), clusters=counts.index, n=N_BOOT, seed=SEED
    )
    got = row(result.patient, measure="lesion_count")
    assert (got["estimate"], got["low"], got["high"]) == pytest.approx(tuple(ref), nan_ok=True)


def _rim_fleiss_ci(result, seed: int):
    """Fleiss' kappa of the QSM rim over the lesions every reader rated, cluster bootstrap."""
    every = result.lesions.pivot(index=["case", "item"], columns="reader", values="qsm_rim")
    every = every.dropna()
    return cluster_bootstrap_ci(
        lambda m: fleiss_kappa(m, kind="ratings", categories=VOCABULARY["qsm_rim"]),
        every.to_numpy(dtype=object),
        clusters=every.index.get_level_values("case"),
        n=N_BOOT,
        seed=seed,
    )


def test_bootstrap_reproducible_and_seeded(result, study):
    again = compute_agreement(study.folder, n_boot=N_BOOT, seed=SEED)
    for name in ("lesions", "detection", "voxel_dice", "kappa", "patients", "patient", "intra"):
        pd.testing.assert_frame_equal(getattr(result, name), getattr(again, name))
    other = compute_agreement(study, n_boot=N_BOOT, seed=SEED + 1)
    pd.testing.assert_series_equal(result.kappa["kappa"], other.kappa["kappa"])
    # three patients have 10 distinct resamples, so the bounds rarely move with the seed:
    # check that the seed is the one used (a different seed on many patients, in
    # test_cluster_bootstrap.py, moves them)
    ref = _rim_fleiss_ci(result, SEED + 1)
    got = row(other.kappa, field="qsm_rim", readers="all")
    assert (got["kappa"], got["low"], got["high"]) == pytest.approx(tuple(ref), rel=1e-12)


def test_progress(study):
    calls = []
    compute_agreement(study, n_boot=0, progress=lambda k, n, m: calls.append((k, n, m)))
    assert [k for k, _, _ in calls] == [1, 2, 3, 4]
    assert {n for _, n, _ in calls} == {4}
    assert "statistics" in calls[-1][2]


# ------------------------------------------------------------------ degenerate studies
@pytest.fixture(scope="module")
def small(tmp_path_factory, phantom_cases):
    """One case: r1 and r2 paint lesions 5 and 6 only (Gd and USPIO none), r3 lesions
    1 and 2 only (no overlap with r1, r2), r4 never marks a reading done.
    """
    base = tmp_path_factory.mktemp("small_study")
    everyone = set(range(1, N_LESIONS + 1))
    only = {r: frozenset(("sub-01", k) for k in everyone - keep) for r, keep in
            (("r1", {5, 6}), ("r2", {5, 6}), ("r3", {1, 2}))}  # fmt: skip
    readers = [SimulatedReader(r, misses=m) for r, m in only.items()]
    readers.append(SimulatedReader("r4", done=False))
    cases = phantom_cases(1, SHAPE, N_LESIONS)
    return simulate_study(base / "study", cases, 1, readers, shape_xyz=SHAPE, n_lesions=N_LESIONS)


def test_reader_without_done_reading_is_left_out(small):
    res = compute_agreement(small, n_boot=N_BOOT)
    assert res.readers == ["r1", "r2", "r3"]
    assert res.settings["readers_without_done_reading"] == ["r4"]
    assert res.settings["left_out"] == {"r1": 0, "r2": 0, "r3": 0, "r4": 1}
    assert "r4" not in set(res.patients["reader"])
    assert res.intra.empty and tuple(res.intra.columns) == INTRA_COLUMNS
    # no lesion detected by every reader: Fleiss on nothing
    fleiss_rows = res.kappa[res.kappa["readers"] == "all"]
    assert len(fleiss_rows) == len(COMPARED_FIELDS)
    assert (fleiss_rows["n"] == 0).all() and fleiss_rows["kappa"].isna().all()
    assert fleiss_rows["percent_agreement"].isna().all()


def test_no_matched_lesion(small):
    res = compute_agreement(small, readers=["r1", "r3"], n_boot=N_BOOT)
    det = row(res.detection, readers="r1 vs r3")
    assert (det["n_a"], det["n_b"], det["matched"], det["f1"]) == (2, 2, 0, 0.0)
    assert det["voxel_dice_mean"] == 0.0
    assert (res.kappa["n"] == 0).all()
    assert res.kappa[["kappa", "low", "high", "percent_agreement"]].isna().all().all()
    groups = row(res.patient, statistic="cohen")  # NEL vs UEL on one case: p_o = p_e = 0
    assert (groups["n"], groups["estimate"]) == (1, 0.0)
    assert res.patients.set_index("reader")["group"].to_dict() == {"r1": "NEL", "r3": "UEL"}


def test_two_readers_have_no_all_rows(small):
    res = compute_agreement(str(small.folder), readers=["r2", "r1"], n_boot=N_BOOT)
    assert res.readers == ["r1", "r2"]
    assert set(res.kappa["readers"]) == {"r1 vs r2"}
    assert set(res.patient["readers"]) == {"r1 vs r2"}
    assert "fleiss" not in set(res.kappa["statistic"]) | set(res.patient["statistic"])
    # one category everywhere: kappa NaN, percent agreement 1
    gd = row(res.kappa, field="gd")
    assert gd["n"] == 2 and math.isnan(gd["kappa"]) and gd["percent_agreement"] == 1.0
    assert math.isnan(gd["low"]) and math.isnan(gd["high"])
    rim = row(res.kappa, field="qsm_rim")  # lesion 5 present, 6 absent for both
    assert (rim["n"], rim["kappa"], rim["percent_agreement"]) == (2, 1.0, 1.0)
    count = row(res.patient, measure="lesion_count")
    assert count["n"] == 1 and math.isnan(count["estimate"])  # ICC needs two cases


def test_single_reader_and_no_done_reading(small):
    one = compute_agreement(small, readers=["r1"], n_boot=N_BOOT)
    for name, columns in (
        ("detection", DETECTION_COLUMNS),
        ("voxel_dice", VOXEL_DICE_COLUMNS),
        ("kappa", KAPPA_COLUMNS),
        ("patient", PATIENT_COLUMNS),
    ):
        table = getattr(one, name)
        assert table.empty and tuple(table.columns) == columns, name
    assert one.confusion == {} and len(one.patients) == 1 and len(one.lesions) == 2
    none = compute_agreement(small, readers=["r4"], n_boot=N_BOOT)
    assert none.readers == [] and none.settings["cases"] == [] and none.settings["n_cases"] == 0
    assert none.lesions.empty and tuple(none.lesions.columns) == LESION_COLUMNS
    assert none.patients.empty and tuple(none.patients.columns) == PATIENTS_COLUMNS
    assert none.intra.empty and none.kappa.empty


def test_refuses_unknown_readers_and_bad_settings(small):
    with pytest.raises(StudyError, match="adj"):
        compute_agreement(small, readers=["r1", "adj"])
    with pytest.raises(StudyError, match="nobody"):
        compute_agreement(small, readers=["nobody"])
    with pytest.raises(ValueError, match="min_dice"):
        compute_agreement(small, min_dice=0)
    with pytest.raises(ValueError, match="n_boot"):
        compute_agreement(small, n_boot=-1)
