"""A reader's session without a viewer: what *Mark case done* says before it locks."""

from __future__ import annotations

from napari_uspio.core.study.manifest import init_study
from napari_uspio.core.study.session import StudySession


def test_done_warning_names_what_is_unrated_or_that_there_is_no_lesion(phantom_cases, tmp_path):
    study = init_study(tmp_path / "study", phantom_cases(2, (64, 64, 12), 2), ["r1"], seed=2)
    session = StudySession(study.folder, "r1")
    assert session.done_warning() == ""  # nothing open
    reading = session.open(session.next_entry())
    assert session.done_warning() == "The case has no lesion delineated."
    for lesion in range(1, 13):  # twelve one-voxel lesions on a row
        reading.model.apply_indices(([5], [10], [2 + 4 * lesion]), lesion)
    assert session.done_warning() == (
        "12 of 12 lesions are not fully rated (ids 1, 2, 3, 4, 5, 6, 7, 8, 9, 10 …)."
    )
    negative = dict(gd="none", uspio="none", qsm_rim="absent", central_vein="absent")
    for lesion in (1, 2):
        reading.ratings.set(lesion, **negative, confidence="high")
    assert session.done_warning() == (
        "10 of 12 lesions are not fully rated (ids 3, 4, 5, 6, 7, 8, 9, 10, 11, 12)."
    )
    reading.ratings.set(3, **negative)  # no confidence yet: still unrated
    assert session.done_warning().startswith("10 of 12 lesions are not fully rated (ids 3, 4,")
    for lesion in range(3, 12):
        reading.ratings.set(lesion, **negative, confidence="low")
    assert session.done_warning() == "Lesion 12 is not fully rated (1 of 12 lesions)."
    reading.ratings.set(12, **negative, confidence="low")
    assert session.done_warning() == ""
    session.mark_done()
    session.close()
