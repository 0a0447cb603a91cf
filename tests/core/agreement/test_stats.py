"""Agreement core: statistics against published worked examples; matching on constructed masks."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from napari_uspio.core.agreement import (
    bootstrap_ci,
    cohen_kappa,
    confusion_matrix,
    detection_agreement,
    dice_matrix,
    fleiss_kappa,
    group_lesions,
    icc,
    match_lesions,
    percent_agreement,
    ratings_table,
    voxel_dice,
)
from napari_uspio.core.fields import RATINGS

VOCABULARY = RATINGS.vocabulary

# ---------------------------------------------------------------- published examples


def _wikipedia_cohen() -> tuple[list[str], list[str]]:
    """Wikipedia "Cohen's kappa", simple example: 50 proposals, two readers.

    Both yes 20, A yes / B no 5, A no / B yes 10, both no 15:
    p_o = 0.7, p_e = 0.5, kappa = 0.4.
    """
    pairs = [("yes", "yes")] * 20 + [("yes", "no")] * 5 + [("no", "yes")] * 10
    pairs += [("no", "no")] * 15
    a, b = zip(*pairs, strict=True)
    return list(a), list(b)


#: Wikipedia "Fleiss' kappa" worked example (after Fleiss 1971): 10 subjects,
#: 14 raters, 5 categories. P_bar = 0.378, P_e = 0.213, kappa = 0.210.
FLEISS_TABLE = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

#: Shrout & Fleiss (1979), Table 2: 6 targets rated by 4 judges. Published
#: (Table 4): ICC(1,1) = .17, ICC(2,1) = .29, ICC(3,1) = .71.
SHROUT_FLEISS = np.array(
    [
        [9, 2, 5, 8],
        [6, 1, 3, 2],
        [8, 4, 6, 8],
        [7, 1, 2, 6],
        [10, 5, 6, 9],
        [6, 2, 4, 7],
    ]
)


def test_cohen_kappa_wikipedia_example():
    a, b = _wikipedia_cohen()
    assert cohen_kappa(a, b) == pytest.approx(0.4)
    assert cohen_kappa(b, a) == pytest.approx(0.4)
    assert percent_agreement(a, b) == pytest.approx(0.7)


def test_confusion_matrix_wikipedia_example():
    a, b = _wikipedia_cohen()
    cm = confusion_matrix(a, b, categories=["yes", "no"])
    assert isinstance(cm, pd.DataFrame)
    assert cm.index.name == "A" and cm.columns.name == "B"
    assert cm.to_numpy().tolist() == [[20, 5], [10, 15]]
    assert cm.loc["no", "yes"] == 10


def test_cohen_kappa_degenerate_and_missing():
    # all one category for both readers: chance agreement is 1, kappa undefined
    assert math.isnan(cohen_kappa(["none"] * 5, ["none"] * 5))
    assert percent_agreement(["none"] * 5, ["none"] * 5) == 1.0
    # unrated items (None / NaN) are left out
    a, b = _wikipedia_cohen()
    assert cohen_kappa(a + [None, "yes"], b + ["no", float("nan")]) == pytest.approx(0.4)
    assert math.isnan(cohen_kappa([None], ["yes"]))
    # a category in the vocabulary but never used does not change kappa
    x = ["ring", "none", "focal", "none", "ring", "iso"]
    y = ["ring", "none", "ring", "none", "focal", "iso"]
    assert cohen_kappa(x, y, VOCABULARY["uspio"]) == pytest.approx(cohen_kappa(x, y))
    with pytest.raises(ValueError, match="not in categories"):
        cohen_kappa(x, y, ["none", "ring"])


def test_percent_agreement_several_readers():
    assert percent_agreement(["a", "b", "c", "a"], ["a", "b", "b", "a"]) == 0.75
    three = percent_agreement(["a", "b", "c", None], ["a", "b", "b", "a"], ["a", "c", "c", "a"])
    assert three == pytest.approx(1 / 3)
    assert math.isnan(percent_agreement([None], ["a"]))


def test_fleiss_kappa_wikipedia_example():
    assert fleiss_kappa(FLEISS_TABLE) == pytest.approx(0.210, abs=5e-4)


def test_fleiss_kappa_from_ratings_equals_table():
    cats = ["c1", "c2", "c3", "c4", "c5"]
    ratings = [
        [c for c, k in zip(cats, row, strict=True) for _ in range(k)] for row in FLEISS_TABLE
    ]
    table = ratings_table(ratings, cats)
    assert table.to_numpy().tolist() == FLEISS_TABLE.tolist()
    assert fleiss_kappa(ratings) == pytest.approx(fleiss_kappa(FLEISS_TABLE))
    assert fleiss_kappa(ratings, kind="ratings", categories=cats) == pytest.approx(0.210, abs=5e-4)
    # a subject not rated by everyone is left out (complete cases)
    partial = [*ratings, ["c1"] * 13 + [None]]
    assert fleiss_kappa(partial) == pytest.approx(fleiss_kappa(FLEISS_TABLE))


def test_fleiss_kappa_degenerate():
    assert math.isnan(fleiss_kappa([["none"] * 3] * 4))
    assert fleiss_kappa([["a", "a", "a"], ["b", "b", "b"]]) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="same number of raters"):
        fleiss_kappa(np.array([[1, 2], [1, 1]]))


def test_icc_shrout_fleiss_table():
    assert icc(SHROUT_FLEISS) == pytest.approx(0.29, abs=0.005)
    assert icc(SHROUT_FLEISS, "2,1") == pytest.approx(0.290, abs=0.005)
    assert icc(SHROUT_FLEISS, "1,1") == pytest.approx(0.17, abs=0.005)
    assert icc(SHROUT_FLEISS, "3,1") == pytest.approx(0.71, abs=0.005)


def test_icc_degenerate_and_missing():
    assert math.isnan(icc(np.full((4, 3), 2)))
    assert icc([[1, 1], [2, 2], [5, 5]]) == pytest.approx(1.0)
    with_missing = np.vstack([SHROUT_FLEISS, [np.nan, 1, 2, 3]])
    assert icc(with_missing) == pytest.approx(icc(SHROUT_FLEISS))
    assert math.isnan(icc([[1, 2]]))


def test_bootstrap_ci_seeded_and_contains_estimate():
    a, b = _wikipedia_cohen()
    ci = bootstrap_ci(cohen_kappa, a, b, n=500, seed=3)
    assert ci.estimate == pytest.approx(0.4)
    assert ci.low < ci.estimate < ci.high
    assert 0.1 < ci.low and ci.high < 0.7
    assert bootstrap_ci(cohen_kappa, a, b, n=500, seed=3) == ci
    assert bootstrap_ci(cohen_kappa, a, b, n=500, seed=4) != ci
    narrow = bootstrap_ci(cohen_kappa, a, b, n=500, seed=3, level=0.5)
    assert ci.low < narrow.low < narrow.high < ci.high


def test_bootstrap_ci_of_a_mean_matches_normal_theory():
    x = np.random.default_rng(1).normal(10.0, 2.0, 400)
    ci = bootstrap_ci(np.mean, x, n=2000, seed=0)
    half = 1.96 * x.std(ddof=1) / math.sqrt(len(x))
    assert ci.low == pytest.approx(x.mean() - half, abs=0.04)
    assert ci.high == pytest.approx(x.mean() + half, abs=0.04)


def test_bootstrap_ci_resamples_subjects_of_a_ratings_matrix():
    ratings = np.array(
        [[c for c, k in zip("abcde", row, strict=True) for _ in range(k)] for row in FLEISS_TABLE],
        dtype=object,
    )
    ci = bootstrap_ci(fleiss_kappa, ratings, n=300, seed=0)
    assert ci.estimate == pytest.approx(0.210, abs=5e-4)
    assert ci.low < ci.estimate < ci.high


# ---------------------------------------------------------------- matching


def _box(shape, value, rows, cols, out=None):
    out = np.zeros(shape, dtype=np.int32) if out is None else out
    out[rows[0] : rows[1], cols[0] : cols[1]] = value
    return out


def test_split_lesion_one_match_one_unmatched():
    a = _box((12, 12), 1, (0, 10), (0, 10))  # 100 voxels
    b = _box((12, 12), 5, (0, 10), (0, 6))  # 60 voxels inside
    _box((12, 12), 6, (0, 10), (6, 10), b)  # 40 voxels inside
    matches = match_lesions(a, b)
    assert matches == [(1, 5, pytest.approx(0.75)), (None, 6, 0.0)]
    det = detection_agreement(matches)
    assert (det["n_a"], det["n_b"], det["matched"]) == (1, 2, 1)
    assert det["sensitivity"] == 1.0 and det["ppv"] == 0.5
    assert det["f1"] == pytest.approx(2 / 3)
    assert voxel_dice(a, b) == 1.0


def test_merged_lesions_one_match_one_unmatched():
    a = _box((12, 12), 3, (0, 10), (0, 4))
    _box((12, 12), 4, (0, 10), (4, 10), a)
    b = _box((12, 12), 9, (0, 10), (0, 10))
    assert match_lesions(a, b) == [(4, 9, pytest.approx(0.75)), (3, None, 0.0)]


@pytest.mark.parametrize(("shift", "matched"), [(0, True), (4, True), (6, False), (10, False)])
def test_shifted_lesion_matches_above_threshold(shift, matched):
    a = _box((10, 30), 1, (0, 10), (0, 10))
    b = _box((10, 30), 2, (0, 10), (shift, shift + 10))
    dice = (10 - min(shift, 10)) / 10
    expected = [(1, 2, pytest.approx(dice))] if matched else [(1, None, 0.0), (None, 2, 0.0)]
    assert match_lesions(a, b, min_dice=0.5) == expected
    assert voxel_dice(a, b) == pytest.approx(dice)


def test_no_lesions():
    empty = np.zeros((4, 5, 6), dtype=np.uint16)
    assert match_lesions(empty, empty) == []
    assert math.isnan(voxel_dice(empty, empty))
    det = detection_agreement([])
    assert det["n_a"] == det["n_b"] == det["matched"] == 0
    assert math.isnan(det["f1"]) and math.isnan(det["sensitivity"])
    one = empty.copy()
    one[1, 1, 1] = 7
    assert match_lesions(one, empty) == [(7, None, 0.0)]
    assert voxel_dice(one, empty) == 0.0
    assert group_lesions({"r1": empty, "r2": empty}) == []


def test_assignment_is_optimal_not_greedy():
    # greedy (best Dice first) would match A1-B1 and leave A2 unmatched;
    # the Hungarian assignment maximises the total Dice: A1-B2 and A2-B1.
    a = np.zeros(20, dtype=np.int32)
    a[0:10], a[10:14] = 1, 2
    b = np.zeros(20, dtype=np.int32)
    b[4:13], b[0:4] = 1, 2
    pairs = [(x, y) for x, y, _ in match_lesions(a, b)]
    assert pairs == [(1, 2), (2, 1)]


def test_dice_matrix_matches_brute_force():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, (8, 9, 7))
    b = rng.integers(0, 4, (8, 9, 7))
    ids_a, ids_b, d = dice_matrix(a, b)
    assert ids_a.tolist() == [1, 2, 3, 4] and ids_b.tolist() == [1, 2, 3]
    for i, la in enumerate(ids_a):
        for j, lb in enumerate(ids_b):
            ma, mb = a == la, b == lb
            assert d[i, j] == pytest.approx(2 * (ma & mb).sum() / (ma.sum() + mb.sum()))
    with pytest.raises(ValueError, match="shape"):
        dice_matrix(a, b[:-1])


def _three_readers():
    shape = (20, 40)
    r1 = _box(shape, 1, (0, 10), (0, 10))  # X
    _box(shape, 2, (12, 18), (20, 26), r1)  # Y
    r2 = _box(shape, 7, (0, 10), (1, 11))  # X, shifted by 1
    _box(shape, 8, (12, 18), (32, 38), r2)  # Z, only reader 2
    r3 = _box(shape, 4, (1, 10), (0, 10))  # X
    _box(shape, 3, (12, 18), (21, 26), r3)  # Y
    return {"r1": r1, "r2": r2, "r3": r3}


def test_group_lesions_three_readers():
    groups = group_lesions(_three_readers())
    assert groups == [
        {"r1": 1, "r2": 7, "r3": 4},
        {"r1": 2, "r2": None, "r3": 3},
        {"r1": None, "r2": 8, "r3": None},
    ]


def test_group_lesions_is_consistent_across_reader_orders():
    maps = _three_readers()
    as_set = lambda groups: {frozenset(g.items()) for g in groups}  # noqa: E731
    forward = group_lesions(maps)
    backward = group_lesions({k: maps[k] for k in reversed(maps)})
    assert as_set(forward) == as_set(backward)


def test_group_lesions_two_readers_equal_match_lesions():
    maps = _three_readers()
    pairs = {(a, b) for a, b, _ in match_lesions(maps["r1"], maps["r2"])}
    groups = group_lesions({"r1": maps["r1"], "r2": maps["r2"]})
    assert {(g["r1"], g["r2"]) for g in groups} == pairs


def test_group_lesions_split_keeps_one_lesion_per_reader():
    a = _box((12, 12), 1, (0, 10), (0, 10))
    b = _box((12, 12), 5, (0, 10), (0, 6))
    _box((12, 12), 6, (0, 10), (6, 10), b)
    c = _box((12, 12), 2, (0, 10), (6, 10))  # reader C only drew B's smaller part
    groups = group_lesions({"a": a, "b": b, "c": c})
    # C's lesion is B's smaller part exactly (Dice 1), so it joins that group rather
    # than A's lesion (mean Dice with A1 and B5: (0.57 + 0) / 2)
    assert groups == [{"a": 1, "b": 5, "c": None}, {"a": None, "b": 6, "c": 2}]
