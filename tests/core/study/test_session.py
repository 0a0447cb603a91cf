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


SECOND_SIGN_IN = """
import sys
from napari_uspio.core.study.records import LeaseError
from napari_uspio.core.study.session import StudySession
try:
    StudySession(sys.argv[1], "r1", prefetch=False, take_over=True).close()
except LeaseError as exc:
    print("refused:", exc)
"""


def test_a_second_session_of_a_reader_elsewhere_is_refused(phantom_cases, tmp_path):
    import subprocess
    import sys

    study = init_study(tmp_path / "s", phantom_cases(2, (64, 64, 12), 5), ["r1"], seed=1)
    session = StudySession(study.folder, "r1", prefetch=False)
    other = subprocess.run([sys.executable, "-c", SECOND_SIGN_IN, str(study.folder)],
                           capture_output=True, text=True, check=True)  # fmt: skip
    assert other.stdout.startswith("refused: r1 is signed in on workstation"), other.stderr
    again = StudySession(study.folder, "r1", prefetch=False)  # this process signs in again
    assert again.lease.lease.holder != session.lease.lease.holder
    again.close()
    session.close()  # its lease was taken by `again`: nothing to give back, nothing fails
    with study.open_store() as store:
        assert store.lease("r1") is None
    done = subprocess.run([sys.executable, "-c", SECOND_SIGN_IN, str(study.folder)],
                          capture_output=True, text=True, check=True)  # fmt: skip
    assert done.stdout == "", done.stdout  # free once both sessions closed
