"""Seed 000's study end to end: a reference study of the cohort, read, adjudicated, analysed."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from napari_uspio.core.adjudication.queue import adjudication_queue
from napari_uspio.core.agreement.study_stats import NOT_APPLICABLE, compute_agreement
from napari_uspio.core.analysis import run_analysis
from napari_uspio.core.study.manifest import init_study
from napari_uspio.phantom.cohort import SEED000
from napari_uspio.phantom.lesions import MTR_BY_CLASS
from napari_uspio.testing import adjudicate_by_truth, cohort_readers, read_study


@pytest.fixture(scope="module")
def seed000_study(seed000_cohort, tmp_path_factory):
    """The cohort as a reference study: three readers, the queue, adjudication, analysis."""
    folder = tmp_path_factory.mktemp("seed000_study")
    study = init_study(folder / "study", seed000_cohort.folder, ["r1", "r2", "r3"],
                       adjudicators=["adj"], seed=0, lesion_source="reference")  # fmt: skip
    read_study(study, cohort_readers(seed000_cohort.lesions))
    agreement = compute_agreement(study.folder, n_boot=100)
    with study.open_store() as store:
        ready, waiting = adjudication_queue(study, store, "adj")
    decided = adjudicate_by_truth(study)
    analysis = run_analysis(study.folder, folder / "analysis")
    return SimpleNamespace(agreement=agreement, ready=ready, waiting=waiting,
                           decided=decided, analysis=analysis)  # fmt: skip


def test_the_queue_holds_the_rating_disputes_only(seed000_study, seed000_cohort):
    lesions = seed000_cohort.lesions
    disputed = (lesions.uspio == "ring") | (lesions.qsm_rim == "present")
    disputed.iloc[0] = True  # r3 leaves the first lesion of the first patient unrated
    items = [i for ca in seed000_study.ready for i in ca.items if not i.agreed]
    assert not seed000_study.waiting and len(seed000_study.ready) == len(lesions.patient.unique())
    assert len(items) == seed000_study.decided == disputed.sum()
    assert not any(i.detection_disputed for i in items)


def test_agreement_matches_by_id_and_detection_is_not_applicable(seed000_study):
    agreement = seed000_study.agreement
    assert (agreement.detection["reason"] == NOT_APPLICABLE).all()
    assert agreement.detection["f1"].isna().all()
    fleiss = agreement.kappa[agreement.kappa.readers == "all"].set_index("field")["kappa"]
    assert fleiss["gd"] == pytest.approx(1.0) and fleiss["uspio"] < 1 and fleiss["qsm_rim"] < 1
    assert set(agreement.sources["lesions_edited"]) == {0}


def test_the_analysis_finds_seed000s_classes_groups_and_patterns(seed000_study):
    result = seed000_study.analysis
    assert result.source == "consensus"
    classes = result.classes.set_index("lesion_class")["n_lesions"]
    assert {c: classes[c] for c in SEED000["classes"]} == SEED000["classes"]
    groups = result.groups.set_index("group")["n_cases"]
    assert {g: groups[g] for g in SEED000["groups"]} == SEED000["groups"]
    uspio = result.lesions[result.lesions.uspio != "none"].uspio.value_counts().to_dict()
    assert uspio == SEED000["patterns"]


def test_the_consensus_ratings_are_the_truth(seed000_study, seed000_cohort):
    got = seed000_study.analysis.lesions.set_index(["patient", "lesion"])
    truth = seed000_cohort.lesions.set_index(["patient", "lesion"])
    # consensus lesion ids are the adjudication items: the reference ids in increasing order
    for patient, part in truth.groupby(level=0):
        ids = sorted(part.index.get_level_values(1))
        mine = got.loc[patient].sort_index()
        assert len(mine) == len(ids)
        expected = part.loc[[(patient, i) for i in ids], ["gd", "uspio", "qsm_rim"]]
        assert mine[["gd", "uspio", "qsm_rim"]].to_numpy().tolist() == expected.to_numpy(
        ).tolist(), patient  # fmt: skip


def test_lesion_mtr_per_class_is_seed000s_within_sampling_error(seed000_study):
    measures = seed000_study.analysis.measures
    mtr = measures[measures.measure == "mtr_mean"].set_index("group")
    for cls in ("USPIO+/Gd+", "USPIO-/Gd+", "USPIO-/Gd-"):
        mean, sd = MTR_BY_CLASS[cls]
        n = mtr.loc[cls, "n"]
        assert abs(mtr.loc[cls, "mean"] - mean) < 3 * sd / np.sqrt(n), cls
        assert 0.8 * sd < mtr.loc[cls, "sd"] < 1.2 * sd, cls
    tests = seed000_study.analysis.tests.set_index(["family", "measure"])
    kruskal = tests.loc[("lesion class", "mtr_mean")]
    assert kruskal["test"] == "Kruskal-Wallis" and kruskal["n"] == 726
    assert isinstance(kruskal["p_value"], float) and 0 <= kruskal["p_value"] <= 1
    written = pd.read_csv(seed000_study.analysis.paths["classes"])
    assert written.set_index("lesion_class").loc["USPIO+/Gd+", "n_lesions"] == 16
