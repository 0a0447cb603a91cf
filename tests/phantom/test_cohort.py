"""The phantom cohort after seed 000: counts, groups, candidates, MTR, loading, determinism."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

from napari_uspio import load_case
from napari_uspio.cli import main
from napari_uspio.phantom.cohort import SEED000, make_cohort, plan_cohort, read_cohort
from napari_uspio.phantom.lesions import MTR_BY_CLASS


def test_classes_patterns_overlaps_and_groups_are_seed000s(seed000_cohort):
    lesions, patients = seed000_cohort.lesions, seed000_cohort.patients
    assert lesions.lesion_class.value_counts().to_dict() == SEED000["classes"]
    assert patients.group.value_counts().to_dict() == SEED000["groups"]
    uspio_pos = lesions[lesions.uspio != "none"]
    assert uspio_pos.uspio.value_counts().to_dict() == SEED000["patterns"]
    both = lesions[lesions.lesion_class == "USPIO+/Gd+"]
    assert both.overlap.value_counts().to_dict() == {"20-80%": 13, "<20%": 3}
    assert (lesions[lesions.lesion_class != "USPIO+/Gd+"].overlap == "n/a").all()
    by_patient = lesions.groupby("patient").lesion_class.agg(set)
    for patient, group in zip(patients.patient, patients.group, strict=True):
        classes = by_patient[patient]
        if group == "UEL":
            assert "USPIO+/Gd+" in classes
        elif group == "GEL":
            assert "USPIO-/Gd+" in classes and not {"USPIO+/Gd+", "USPIO+/Gd-"} & classes
        else:
            assert classes == {"USPIO-/Gd-"}
    assert patients.n_lesions.sum() == len(lesions) == 727


def test_planted_mtr_per_class_is_seed000s(seed000_cohort):
    lesions = seed000_cohort.lesions
    for cls in ("USPIO+/Gd+", "USPIO-/Gd+", "USPIO-/Gd-"):
        mtr = lesions.mtr_true[lesions.lesion_class == cls]
        mean, sd = MTR_BY_CLASS[cls]
        assert mtr.mean() == pytest.approx(mean, abs=1e-4), cls  # mtr_true has 4 decimals
        assert mtr.std() == pytest.approx(sd, abs=1e-4), cls


def test_candidates_miss_some_lesions_and_add_false_ones(seed000_cohort):
    lesions, patients = seed000_cohort.lesions, seed000_cohort.patients
    missed = (lesions.candidate == 0).mean()
    assert 0.05 < missed < 0.15
    assert (patients.n_false_candidates >= 1).all()
    assert patients.n_candidates.sum() == (lesions.candidate > 0).sum() + (
        patients.n_false_candidates.sum()
    )


def test_a_case_loads_with_its_roles_and_matches_its_truth(seed000_cohort):
    folder = seed000_cohort.case("sub-01")
    case = load_case(folder)
    assert {"lesions", "candidates", "gm_mask", "wm_mask", "m0", "mmt", "flair"} <= set(case.roles)
    for role in ("lesions", "candidates", "gm_mask"):
        assert np.issubdtype(case[role].dtype, np.integer), role
    truth = seed000_cohort.lesions[seed000_cohort.lesions.patient == "sub-01"]
    labels = case["lesions"]
    assert set(np.unique(labels)) - {0} == set(truth.lesion)
    np.testing.assert_array_equal(
        labels, case.read_labels(folder / "truth/lesions_truth.nii.gz").data
    )
    assert not (case.gm_mask & case.wm_mask).any()
    assert not (case.gm_mask & (labels > 0)).any()
    candidates = pd.read_csv(folder / "truth/candidates_truth.csv")
    assert set(np.unique(case["candidates"])) - {0} == set(candidates.candidate)
    false = candidates[candidates.lesion == 0].candidate
    assert not (np.isin(case["candidates"], false) & (labels > 0)).any()
    assert case.wm_mask[np.isin(case["candidates"], false)].all()


def test_deterministic_from_the_seed_and_scales(tmp_path):
    a = make_cohort(tmp_path / "a", n_patients=3, seed=5)
    b = make_cohort(tmp_path / "b", n_patients=3, seed=5)
    assert a.lesions.equals(b.lesions) and a.patients.equals(b.patients)
    for path in sorted((tmp_path / "a").rglob("*.nii.gz")):
        twin = tmp_path / "b" / path.relative_to(tmp_path / "a")
        assert (
            hashlib.sha256(path.read_bytes()).digest()
            == hashlib.sha256(twin.read_bytes()).digest()
        ), path.name
    assert not plan_cohort(3, 5).equals(plan_cohort(3, 6))
    assert sorted(a.patients.group) == ["GEL", "NEL", "UEL"]


@pytest.mark.parametrize("n_patients", [1, 10, 62])
def test_plan_scales_with_the_patient_count(n_patients):
    plan = plan_cohort(n_patients, seed=1)
    classes = plan.lesion_class.value_counts()
    factor = n_patients / 31
    assert abs(classes.get("USPIO-/Gd-", 0) - 643 * factor) <= 1 + (n_patients < 31) * 15
    assert plan.patient.nunique() == n_patients
    assert plan.groupby("patient").size().max() <= 45


def test_cli_writes_a_cohort(tmp_path, capsys):
    assert main(["phantom-cohort", str(tmp_path / "c"), "--patients", "2", "--seed", "3"]) == 0
    cohort = read_cohort(tmp_path / "c")
    assert list(cohort.patients.patient) == ["sub-01", "sub-02"]
    assert (tmp_path / "c" / "sub-02" / "truth" / "lesions_truth.csv").is_file()
    assert "2 phantom cases" in capsys.readouterr().out
