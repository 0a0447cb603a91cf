"""The reader's following case loads on a background thread while they read."""

from __future__ import annotations

import shutil

import pytest

from napari_uspio.core.study import session as session_module
from napari_uspio.core.study.manifest import init_study
from napari_uspio.core.study.session import StudySession
from napari_uspio.core.volume import CaseError


@pytest.fixture
def study(phantom_cases, tmp_path):
    cases = tmp_path / "cases"
    shutil.copytree(phantom_cases(3, (64, 64, 12), 2), cases)
    return init_study(tmp_path / "study", cases, ["r1"], seed=8)


def _no_load_on_this_thread(monkeypatch):
    def refuse(folder):
        raise AssertionError(f"{folder} loaded on the reader's thread, not prefetched")

    monkeypatch.setattr(session_module, "load_case", refuse)


def test_mark_done_opens_the_prefetched_case(study, monkeypatch):
    session = StudySession(study.folder, "r1")
    order = session.store.order("r1")
    session.open(order[0])
    assert session.prefetcher.folder == study.case_folder(order[1].case_id)
    session.mark_done()
    _no_load_on_this_thread(monkeypatch)
    reading = session.open(session.next_entry())
    assert reading.entry == order[1] and reading.case.folder == study.case_folder(order[1].case_id)
    assert "mtr" in reading.case._derived  # the derived maps shown came computed
    assert session.prefetcher.folder == study.case_folder(order[2].case_id)
    session.close()


def test_going_elsewhere_drops_the_case_ahead(study):
    session = StudySession(study.folder, "r1")
    order = session.store.order("r1")
    session.open(order[0])
    session.mark_done()
    session.open(order[1])  # prefetches order[2]
    session.open(session.entry_of(session.reopen(order[0].code, "recheck").code))
    assert session.prefetcher.folder == study.case_folder(order[1].case_id)  # after order[0]
    session.close()


def test_a_bad_file_is_reported_when_the_reader_reaches_its_case(study):
    session = StudySession(study.folder, "r1")
    order = session.store.order("r1")
    flair = next(study.case_folder(order[1].case_id).glob("*FLAIR*.nii.gz"))
    flair.write_bytes(flair.read_bytes()[:2000])  # truncated
    session.open(order[0])  # the prefetch of order[1] fails quietly, for now
    assert session.reading.entry == order[0]
    session.mark_done()
    with pytest.raises(CaseError, match=flair.name):
        session.open(session.next_entry())
    session.close()


def test_a_case_dropped_before_its_start_is_never_read(study, monkeypatch):
    from napari_uspio.core.study import prefetch as prefetch_module

    read = []
    monkeypatch.setattr(prefetch_module, "load_case", lambda folder, threads: read.append(folder))
    ahead = prefetch_module.CasePrefetch()
    folder = study.case_folder(next(iter(study.cases)))
    ahead.start(folder)
    ahead.drop()  # within START_DELAY_S: the reader went elsewhere at once
    ahead._pool.shutdown(wait=True)
    assert read == []


def test_taking_a_case_does_not_wait_out_the_start_delay(study, monkeypatch):
    from napari_uspio.core.study import prefetch as prefetch_module

    monkeypatch.setattr(prefetch_module, "START_DELAY_S", 3600.0)  # would hang the test
    ahead = prefetch_module.CasePrefetch()
    folder = study.case_folder(next(iter(study.cases)))
    ahead.start(folder)
    case = ahead.take(folder)
    assert case.folder == folder
    ahead.shutdown()
