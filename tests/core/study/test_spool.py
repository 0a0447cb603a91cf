"""Painting never waits on the network: the spool, the sender, a real server killed and back."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from napari_uspio.core.study import StudyError
from napari_uspio.core.study.order import OrderEntry
from napari_uspio.core.study.postgres import PostgresStore
from napari_uspio.core.study.spool import SpooledStore

SHAPE = (4, 16, 16)
ORDER = [OrderEntry("sub-01", "C001", False), OrderEntry("sub-02", "C002", False)]


@pytest.fixture
def server_url(pg_url):
    """A server study with reader r1 (two cases) and adjudicator adj."""
    with PostgresStore(pg_url, create=True) as store:
        store.add_reader("r1", "reader", ORDER)
        store.add_reader("adj", "adjudicator", ORDER[:1])
    return pg_url


def drained(spool: SpooledStore, timeout_s: float = 30.0) -> bool:
    """Wait until the sender has sent everything; False on timeout or a sender error."""
    end = time.monotonic() + timeout_s
    while spool.pending() and time.monotonic() < end and spool.sender.error is None:
        time.sleep(0.05)
    return spool.pending() == 0


def paint(spool: SpooledStore, n: int, start: int = 0, code: str = "C001") -> list[int]:
    """``n`` strokes of two voxels each; their seqs."""
    size = int(np.prod(SHAPE))
    return [spool.append_stroke("r1", code, [(start + k) % size, (start + 3 * k + 1) % size],
                                1 + k % 4) for k in range(n)]  # fmt: skip


def assert_server_equals_spool(url: str, spool: SpooledStore, code: str = "C001") -> None:
    with PostgresStore(url) as server:
        for reader_code in ORDER:
            c = reader_code.code
            np.testing.assert_array_equal(server.labels("r1", c, SHAPE, np.int32),
                                          spool.labels("r1", c, SHAPE, np.int32))  # fmt: skip
            assert server.last_seq("r1", c) == spool.last_seq("r1", c)  # every stroke once
            assert server.ratings("r1", c) == spool.ratings("r1", c)
            assert server.case_state("r1", c) == spool.case_state("r1", c)
            assert server.lesion_times("r1", c) == spool.lesion_times("r1", c)


def test_writes_are_acknowledged_in_the_spool_and_arrive_once(server_url, tmp_path):
    with SpooledStore(server_url, "r1", tmp_path) as spool:
        assert paint(spool, 40) == list(range(1, 41))
        spool.set_rating("r1", "C001", 2, {"gd": "nodular", "uspio": "none"})
        spool.add_time("r1", "C001", 12.5, lesion=2)
        spool.compact("r1", "C001", spool.labels("r1", "C001", SHAPE, np.int32))
        paint(spool, 5, start=100)
        spool.mark_done("r1", "C001")
        assert drained(spool)
        assert_server_equals_spool(server_url, spool)
        with PostgresStore(server_url) as server:
            actions = [a.action for a in server.audit_log("r1")]
            backlog = server._db.all("SELECT host, pending FROM spools WHERE reader = 'r1'")
        assert actions[-1] == "done" and "open" in actions
        assert backlog == [(spool.host, 0)]


def test_the_server_killed_and_restarted_mid_reading_loses_nothing(server_url, pg_server,
                                                                    tmp_path):  # fmt: skip
    with SpooledStore(server_url, "r1", tmp_path) as spool:
        paint(spool, 20)
        assert drained(spool)
        pg_server.kill()
        try:
            start = time.perf_counter()
            seqs = paint(spool, 60, start=200)  # painting goes on: the spool acknowledges
            spool.set_rating("r1", "C002", 4, {"gd": "none", "uspio": "none"})
            offline_s = time.perf_counter() - start
            time.sleep(1.0)
            assert spool.pending() == 61 and spool.sender.offline_since is not None
        finally:
            pg_server.start()
        assert seqs == list(range(21, 81)) and offline_s < 1.0
        assert drained(spool)
        assert spool.sender.offline_since is None and spool.sender.error is None
        assert_server_equals_spool(server_url, spool)


def test_a_resend_after_a_lost_reply_changes_nothing(server_url, tmp_path):
    with SpooledStore(server_url, "r1", tmp_path) as spool:
        forgotten = []
        spool.sent = forgotten.append  # the server commits, the spool never hears of it
        paint(spool, 30)
        spool.add_time("r1", "C001", 5.0, lesion=1)  # not idempotent by itself
        end = time.monotonic() + 10
        while len(forgotten) < 3 and time.monotonic() < end:
            spool.sender.wake()
            time.sleep(0.05)
        assert len(forgotten) >= 3 and spool.pending() == 31  # sent three times or more
        del spool.sent
        assert drained(spool)
        assert_server_equals_spool(server_url, spool)
        with PostgresStore(server_url) as server:
            assert server.lesion_times("r1", "C001") == {1: 5.0}


WRITER = """
import sys, numpy as np
from napari_uspio.core.study.spool import SpooledStore
spool = SpooledStore(sys.argv[1], "r1", sys.argv[2])
for k in range(100000):
    seq = spool.append_stroke("r1", "C001", [k % 1024, (7 * k) % 1024], 1 + k % 5)
    print(seq, flush=True)
"""


def test_a_reader_killed_mid_send_loses_nothing_and_the_resend_is_idempotent(server_url,
                                                                            tmp_path):  # fmt: skip
    acks = tmp_path / "acks.txt"
    with acks.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-c", WRITER, server_url, str(tmp_path)],
                                stdout=out, stderr=subprocess.PIPE, text=True)  # fmt: skip
        time.sleep(4.0)  # painting and sending at once
        assert proc.poll() is None, proc.communicate()[1]  # still painting when killed
        os.kill(proc.pid, signal.SIGKILL)
        proc.communicate()
    acknowledged = [int(line) for line in acks.read_text().split()]
    assert len(acknowledged) > 100 and acknowledged == list(range(1, len(acknowledged) + 1))
    with SpooledStore(server_url, "r1", tmp_path) as spool:  # the same workstation again
        assert spool.last_seq("r1", "C001") >= acknowledged[-1]  # nothing acknowledged lost
        assert drained(spool)
        assert_server_equals_spool(server_url, spool)


def test_signing_in_elsewhere_is_refused_while_a_spool_holds_unsent_work(server_url, tmp_path):
    with PostgresStore(server_url) as server, server._db.write() as db:
        db.execute("INSERT INTO spools VALUES ('elsewhere', 'r1', 'ws-7', 12, '2026-12-07')")
    with pytest.raises(StudyError, match="workstation ws-7 is not on the server yet.*12 changes"):
        SpooledStore(server_url, "r1", tmp_path / "here")
    assert not list((tmp_path / "here").glob("*.sqlite-wal"))  # nothing left open


def test_a_reader_resumes_on_another_workstation(server_url, tmp_path):
    with SpooledStore(server_url, "r1", tmp_path / "ws1") as first:
        paint(first, 25)
        first.set_rating("r1", "C001", 3, {"gd": "shell"})
        first.mark_done("r1", "C001")
        assert drained(first)
        labels = first.labels("r1", "C001", SHAPE, np.int32)
    with SpooledStore(server_url, "r1", tmp_path / "ws2") as second:
        np.testing.assert_array_equal(second.labels("r1", "C001", SHAPE, np.int32), labels)
        assert second.ratings("r1", "C001")[3]["gd"] == "shell"
        assert second.case_state("r1", "C001").status == "done"
        assert second.next_case("r1") == ORDER[1]
        assert paint(second, 2, code="C002") == [1, 2]
        assert drained(second)
        assert_server_equals_spool(server_url, second)


def test_offline_sign_in_needs_a_spool_and_reads_others_from_the_server(server_url, pg_server,
                                                                        tmp_path):  # fmt: skip
    with SpooledStore(server_url, "r1", tmp_path) as spool:
        paint(spool, 3)
        assert drained(spool)
        assert set(spool.readers()) == {"r1", "adj"}  # the study's readers: the server's
        assert spool.order("adj") == ORDER[:1]  # another's order comes from the server
    pg_server.kill()
    try:
        with SpooledStore(server_url, "r1", tmp_path, connect_timeout_s=1) as offline:
            assert offline.last_seq("r1", "C001") == 3  # the spool as the server last was
            paint(offline, 2, start=50)
            assert offline.pending() == 2
            offline.close(flush_timeout_s=0.5)
        with pytest.raises(StudyError, match="cannot reach the study server"):
            SpooledStore(server_url, "r1", tmp_path / "new", connect_timeout_s=1)
    finally:
        pg_server.start()
    with SpooledStore(server_url, "r1", tmp_path) as back:
        assert drained(back)
        assert_server_equals_spool(server_url, back)
    assert Path(tmp_path).is_dir()


def test_a_reading_session_on_a_server_study(phantom_cases, pg_url, tmp_path, monkeypatch):
    from napari_uspio.core.study import init_study
    from napari_uspio.core.study.session import StudySession
    from napari_uspio.core.study.spool import SPOOL_ENV

    monkeypatch.setenv(SPOOL_ENV, str(tmp_path / "spool"))
    study = init_study(tmp_path / "study", phantom_cases(2, (64, 64, 12), 5), ["r1"], seed=3,
                       store=pg_url)  # fmt: skip
    session = StudySession(study.folder, "r1", prefetch=False)
    assert isinstance(session.store, SpooledStore)
    reading = session.open(session.next_entry())
    code = reading.entry.code
    reading.model.apply_indices((np.array([5]), np.array([30]), np.array([30])), 1)
    reading.ratings.set(1, gd="none", uspio="none", qsm_rim="absent")
    session.mark_done()
    labels = reading.model.labels.copy()
    session.close()  # sends what is left before it closes
    with study.open_store() as server:  # the coordinator's view: the server
        np.testing.assert_array_equal(server.labels("r1", code, labels.shape, labels.dtype),
                                      labels)  # fmt: skip
        assert server.ratings("r1", code)[1]["qsm_rim"] == "absent"
        assert server.case_state("r1", code).status == "done"
