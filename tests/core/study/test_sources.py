"""Lesion sources of a study: reader, reference delineation, automatic candidates."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from napari_uspio.core.study.export import export_study
from napari_uspio.core.study.manifest import MANIFEST_NAME, init_study, load_study
from napari_uspio.core.study.records import StudyError
from napari_uspio.core.study.session import StudySession
from napari_uspio.core.study.sources import (
    accept_candidate,
    candidate_boxes,
    candidate_origins,
    pending_candidates,
    record_acceptance,
    record_rejection,
    reference_edits,
)

FALSE_CANDIDATE = 40  # a candidate no lesion lies under


@pytest.fixture(scope="module")
def source_cases(tmp_path_factory, phantom_cases):
    """Two phantom cases with a reference ``lesions`` map (the truth) and ``candidates``.

    The candidates miss truth lesion 1 and add a false one (:data:`FALSE_CANDIDATE`).
    """
    folder = tmp_path_factory.mktemp("source_cases")
    for case in sorted(phantom_cases(2, (96, 96, 16), 4).iterdir()):
        target = folder / case.name
        target.mkdir()
        for path in case.iterdir():
            if path.is_file() and path.name.endswith(".nii.gz"):
                (target / path.name).symlink_to(path)
        truth = nib.load(case / "truth" / "lesions_truth.nii.gz")
        reference = np.asarray(truth.dataobj).astype(np.uint16)
        nib.save(nib.Nifti1Image(reference, truth.affine), target / "lesions.nii.gz")
        candidates = np.where(reference == 1, 0, reference * 10).astype(np.uint16)
        candidates[5:8, 5:8, 7:9] = FALSE_CANDIDATE
        nib.save(nib.Nifti1Image(candidates, truth.affine), target / "candidates.nii.gz")
    return folder


def _journal(session) -> int:
    return session.store.journal_size(session.reader, session.entry.code)[0]


def test_a_reference_reading_starts_from_the_reference_once(source_cases, tmp_path):
    study = init_study(
        tmp_path / "s", source_cases, ["r1", "r2"], seed=3, lesion_source="reference"
    )
    assert load_study(study.folder).lesion_source == "reference"
    assert not load_study(study.folder).editable
    session = StudySession(study.folder, "r1", prefetch=False)
    reading = session.open(session.next_entry())
    reference = np.asarray(reading.case["lesions"])
    assert np.array_equal(reading.labels, reference)
    assert sorted(reading.model.ids) == sorted(int(i) for i in np.unique(reference) if i)
    assert _journal(session) == 1  # the reference, written once as the first stroke
    code = session.entry.code
    session.close_reading()
    reading = session.open(session.entry_of(code))  # reopened: not written again
    assert np.array_equal(reading.labels, reference)
    assert session.store.journal_size("r1", code)[0] <= 1
    session.close()


def test_every_reader_rates_the_same_lesion_ids(source_cases, tmp_path):
    study = init_study(
        tmp_path / "s", source_cases, ["r1", "r2"], seed=3, lesion_source="reference"
    )
    seen = {}
    for reader in ("r1", "r2"):
        session = StudySession(study.folder, reader, prefetch=False)
        while (entry := session.next_entry()) is not None:
            reading = session.open(entry)
            seen[reader, entry.case_id] = sorted(reading.model.ids)
            session.mark_done()
        session.close()
    for case_id in study.cases:
        assert seen["r1", case_id] == seen["r2", case_id] and seen["r1", case_id]


def test_a_source_needing_a_map_the_cases_lack_is_refused(phantom_cases, tmp_path):
    cases = phantom_cases(2, (96, 96, 16), 4)
    for source, role in (("reference", "'lesions'"), ("candidates", "'candidates'")):
        with pytest.raises(StudyError, match=f"needs a {role} map in every case; 2 case"):
            init_study(tmp_path / source, cases, ["r1"], lesion_source=source)
        assert not (tmp_path / source / MANIFEST_NAME).exists()
    with pytest.raises(StudyError, match="use one of reader, reference, candidates"):
        init_study(tmp_path / "x", cases, ["r1"], lesion_source="ai")


def test_a_manifest_naming_an_unknown_source_is_refused(phantom_cases, tmp_path):
    study = init_study(tmp_path / "s", phantom_cases(2, (96, 96, 16), 4), ["r1"], seed=1)
    assert study.lesion_source == "reader" and study.editable
    text = study.manifest_path.read_text().replace('lesions = "reader"', 'lesions = "ai"')
    study.manifest_path.write_text(text)
    with pytest.raises(StudyError, match=r"lesions = .ai. is not one of reader, reference"):
        load_study(study.folder)


def test_edits_of_an_editable_reference_are_journaled_and_exported(source_cases, tmp_path):
    study = init_study(
        tmp_path / "s",
        source_cases,
        ["r1"],
        seed=3,
        lesion_source="reference",
        reference_editable=True,
    )
    assert study.editable and load_study(study.folder).reference_editable
    session = StudySession(study.folder, "r1", prefetch=False)
    reading = session.open(session.next_entry())
    reference = np.asarray(reading.case["lesions"])
    lesion = int(np.unique(reference)[1])
    removed = tuple(axis[:3] for axis in np.nonzero(reference == lesion))
    reading.model.apply_indices(removed, 0)
    added = tuple(axis[:5] for axis in np.nonzero(reference == 0))
    reading.model.apply_indices(added, lesion)
    assert _journal(session) == 3
    assert reference_edits(reading.model.labels, reference) == {lesion: (5, 3)}
    case_id = reading.entry.case_id
    session.close()
    out = export_study(study.folder, tmp_path / "out")
    table = pd.read_csv(out["lesions"])
    row = table[(table["case"] == case_id) & (table["lesion"] == lesion)].iloc[0]
    assert (row["reference_added_voxels"], row["reference_removed_voxels"]) == (5, 3)
    others = table[(table["case"] == case_id) & (table["lesion"] != lesion)]
    assert (others["reference_added_voxels"] == 0).all()
    assert (others["reference_removed_voxels"] == 0).all()


def test_candidates_accepted_rejected_and_own_lesions_are_told_apart(source_cases, tmp_path):
    study = init_study(tmp_path / "s", source_cases, ["r1"], seed=3, lesion_source="candidates")
    session = StudySession(study.folder, "r1", prefetch=False)
    assert session.shows("candidates")
    reading = session.open(session.next_entry())
    code, case_id = reading.entry.code, reading.entry.case_id
    candidates = np.asarray(reading.case["candidates"])
    assert not reading.labels.any()  # a candidates reading starts empty
    ids = [int(i) for i in np.unique(candidates) if i]
    kept, edited, rejected = ids[0], ids[1], FALSE_CANDIDATE
    boxes = candidate_boxes(candidates)  # once per case: each accept works in its box
    for lesion, candidate in ((1, kept), (2, edited)):
        voxels = accept_candidate(reading.model.labels, candidates, candidate)
        assert np.array_equal(np.argwhere(candidates == candidate), np.transpose(voxels))
        boxed = accept_candidate(reading.model.labels, candidates, candidate, boxes[candidate - 1])
        assert all(np.array_equal(a, b) for a, b in zip(voxels, boxed, strict=True))
        reading.model.apply_indices(voxels, lesion)
        record_acceptance(session.store, "r1", code, candidate, lesion)
    reading.model.apply_indices(tuple(a[:2] for a in np.nonzero(candidates == edited)), 0)
    record_rejection(session.store, "r1", code, rejected)
    reading.model.apply_indices((np.array([1]),) * 3, 3)  # painted by the reader
    found = candidate_origins(session.store, "r1", code, reading.model.labels, candidates)
    assert found.origin == {1: "accepted", 2: "accepted-and-edited", 3: "own"}
    assert (found.accepted, found.rejected, found.untouched) == (2, 1, len(ids) - 3)
    pending = pending_candidates(session.store, "r1", code, candidates, reading.model.labels)
    assert set(np.unique(pending)) == {0, *ids[2:]} - {rejected}
    assert candidates[candidates == kept].size  # the case's own map is untouched
    session.close()
    out = export_study(study.folder, tmp_path / "out")
    table = pd.read_csv(out["lesions"])
    mine = table[table["case"] == case_id].set_index("lesion")["origin"].to_dict()
    assert mine == {1: "accepted", 2: "accepted-and-edited", 3: "own"}
    summary = pd.read_csv(out["summary"]).set_index("case").loc[case_id]
    assert summary["candidates_accepted"] == 2 and summary["candidates_rejected"] == 1


def test_a_reader_study_never_shows_candidates(source_cases, tmp_path):
    study = init_study(tmp_path / "s", source_cases, ["r1"], seed=3)
    session = StudySession(study.folder, "r1", prefetch=False)
    reading = session.open(session.next_entry())
    assert not session.shows("candidates") and not reading.labels.any()
    session.close()


def test_a_reference_study_groups_lesions_by_id_and_disputes_only_ratings(source_cases, tmp_path):
    from napari_uspio.core.adjudication.queue import adjudication_queue
    from napari_uspio.core.agreement.readings import study_readings

    study = init_study(
        tmp_path / "s",
        source_cases,
        ["r1", "r2"],
        adjudicators=["adj"],
        seed=3,
        lesion_source="reference",
    )
    for reader, gd in (("r1", "shell"), ("r2", "nodular")):
        session = StudySession(study.folder, reader, prefetch=False)
        while (entry := session.next_entry()) is not None:
            reading = session.open(entry)
            for k, lesion in enumerate(sorted(reading.model.ids)):  # the first one disputed
                value = gd if k == 0 else "none"
                reading.ratings.set(lesion, gd=value, uspio="none", qsm_rim="absent")
            session.mark_done()
        session.close()
    with study.open_store() as store:
        for cr in study_readings(study, store):
            ids = sorted(int(i) for i in np.unique(np.asarray(cr.readings["r1"].labels)) if i)
            assert cr.groups == [{"r1": i, "r2": i} for i in ids]  # one group per shared id
        ready, waiting = adjudication_queue(study, store, "adj")
    assert not waiting and len(ready) == len(study.cases)
    for ca in ready:
        disputed = [item for item in ca.items if not item.agreed]
        assert len(disputed) == 1 and not disputed[0].detection_disputed


def _read_all(study, reader, rate, edit=None) -> None:
    """``reader`` reads every case: ``edit(reading)`` first, then ``rate(reading, lesion)``."""
    session = StudySession(study.folder, reader, prefetch=False)
    while (entry := session.next_entry()) is not None:
        reading = session.open(entry)
        if edit is not None:
            edit(session, reading)
        for lesion in sorted(reading.model.ids):
            rate(reading, lesion)
        session.mark_done()
    session.close()


def _rate_none(reading, lesion) -> None:
    reading.ratings.set(lesion, gd="none", uspio="none", qsm_rim="absent")


def test_agreement_on_a_reference_study_matches_by_id_without_detection(source_cases, tmp_path):
    from napari_uspio.core.agreement.report import write_report
    from napari_uspio.core.agreement.study_stats import NOT_APPLICABLE, compute_agreement

    study = init_study(tmp_path / "s", source_cases, ["r1", "r2"], seed=3,
                       lesion_source="reference", reference_editable=True)  # fmt: skip

    def erase_half_of_the_first(session, reading) -> None:  # r2 shrinks one reference lesion
        lesion = min(reading.model.ids)
        voxels = np.nonzero(reading.model.labels == lesion)
        half = tuple(axis[: axis.size // 2] for axis in voxels)
        reading.model.apply_indices(half, 0)

    _read_all(study, "r1", _rate_none)
    _read_all(study, "r2", _rate_none, erase_half_of_the_first)
    agreement = compute_agreement(study.folder, n_boot=50)
    detection = agreement.detection.iloc[0]
    maps = [np.asarray(nib.load(source_cases / c / "lesions.nii.gz").dataobj) for c in study.cases]
    n_lesions = sum(np.count_nonzero(np.unique(m)) for m in maps)
    assert detection["n_a"] == detection["n_b"] == detection["matched"] == n_lesions
    assert np.isnan(
        detection[["sensitivity", "ppv", "f1", "f1_low", "f1_high"]].astype(float)
    ).all()
    assert detection["reason"] == NOT_APPLICABLE and detection["voxel_dice_mean"] < 1
    # the shrunk lesion is still the same lesion: the kappas compare every lesion
    rated = agreement.kappa[agreement.kappa["field"].isin(["gd", "uspio", "qsm_rim"])]
    assert len(rated) == 3 and (rated["n"] == n_lesions).all()
    sources = agreement.sources.set_index("reader")
    assert sources.loc["r1"].to_dict() == {
        "cases": 2, "lesions": n_lesions, "lesions_edited": 0, "lesions_added": 0,
        "lesions_removed": 0, "reference_added_voxels": 0, "reference_removed_voxels": 0,
    }  # fmt: skip
    assert sources.loc["r2", "lesions_edited"] == 2 and sources.loc["r2", "lesions_added"] == 0
    assert sources.loc["r2", "reference_removed_voxels"] > 0
    assert agreement.settings["lesion_source"] == "reference"
    paths = write_report(agreement, tmp_path / "report")
    page = paths["report"].read_text("utf-8")
    assert "Lesion source" in page and "rated a shared reference delineation" in page
    assert "not applicable: the readers rate a shared reference" in page
    written = pd.read_csv(paths["sources"]).set_index("reader")
    assert written.loc["r2", "lesions_edited"] == 2


def test_the_agreement_report_sums_candidates_per_reader(source_cases, tmp_path):
    from napari_uspio.core.agreement.report import write_report
    from napari_uspio.core.agreement.study_stats import compute_agreement

    study = init_study(tmp_path / "s", source_cases, ["r1", "r2"], seed=3,
                       lesion_source="candidates")  # fmt: skip
    n_candidates = {}

    def accept_all(session, reading) -> None:  # r1 accepts every candidate but the false one
        candidates = np.asarray(reading.case["candidates"])
        ids = [int(i) for i in np.unique(candidates) if i]
        n_candidates[reading.entry.case_id] = len(ids)
        for lesion, candidate in enumerate(c for c in ids if c != FALSE_CANDIDATE):
            voxels = accept_candidate(reading.model.labels, candidates, candidate)
            reading.model.apply_indices(voxels, lesion + 1)
            record_acceptance(session.store, session.reader, reading.entry.code, candidate,
                              lesion + 1)  # fmt: skip
        record_rejection(session.store, session.reader, reading.entry.code, FALSE_CANDIDATE)

    def paint_one(session, reading) -> None:  # r2 paints one lesion of their own
        reading.model.apply_indices((np.array([8]), np.array([48]), np.array([48])), 1)

    _read_all(study, "r1", _rate_none, accept_all)
    _read_all(study, "r2", _rate_none, paint_one)
    agreement = compute_agreement(study.folder, n_boot=20)
    sources = agreement.sources.set_index("reader")
    accepted = sum(n_candidates.values()) - len(n_candidates)
    assert sources.loc["r1"].to_dict() == {
        "cases": 2, "lesions": accepted, "lesions_accepted": accepted,
        "lesions_accepted_and_edited": 0, "lesions_own": 0, "candidates_accepted": accepted,
        "candidates_rejected": 2, "candidates_untouched": 0,
    }  # fmt: skip
    assert sources.loc["r2", ["lesions_own", "candidates_untouched"]].tolist() == [
        2, sum(n_candidates.values())]  # fmt: skip
    page = write_report(agreement, tmp_path / "report")["report"].read_text("utf-8")
    assert "candidates accepted" in page and "lesions own" in page
    assert "lesions the reader painted without a candidate" in page
