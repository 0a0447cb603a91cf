"""Access where it belongs: each role connects to the server, and the server refuses the rest."""

from __future__ import annotations

import time

import numpy as np
import psycopg
import pytest

from napari_uspio.core.study import StudyError
from napari_uspio.core.study.order import OrderEntry
from napari_uspio.core.study.postgres import PostgresStore, role_name
from napari_uspio.core.study.spool import SpooledStore

ORDER = [OrderEntry("sub-01", "A1", False), OrderEntry("sub-02", "A2", False)]
DENIED = "row-level security|permission denied|must be owner"


@pytest.fixture
def server(pg_url, pg_server):
    """Readers r1 (case A1 done), r2 (case B1 open) and adjudicator adj, each a role."""
    dbname = pg_url.rsplit("/", 1)[1]
    with PostgresStore(pg_url, create=True) as store:
        store.add_reader("r1", "reader", ORDER)
        store.add_reader("r2", "reader", [OrderEntry("sub-01", "B1", False)])
        store.add_reader("adj", "adjudicator", [OrderEntry("sub-01", "J1", False)])
        roles = store.set_up_access(["r1", "r2", "adj"])
        store.append_stroke("r1", "A1", [1, 2, 3], 4)
        store.set_rating("r1", "A1", 4, {"gd": "shell"})
        store.mark_done("r1", "A1")
        store.append_stroke("r1", "A2", [9], 2)  # r1's second reading, open
        store.append_stroke("r2", "B1", [5, 6], 7)  # open: not for the adjudicator yet
    urls = {r: pg_server.url(dbname, user=role) for r, role in roles.items()}
    assert roles["r1"] == role_name(dbname, "r1")
    return pg_url, urls


def _rows(url: str, query: str) -> list[tuple]:
    with psycopg.connect(url) as conn:
        return conn.execute(query).fetchall()


def _refused(url: str, statement: str) -> None:
    with psycopg.connect(url, autocommit=True) as conn, pytest.raises(psycopg.Error, match=DENIED):
        conn.execute(statement)


def _changes(url: str, statement: str) -> int:
    with psycopg.connect(url, autocommit=True) as conn:
        return conn.execute(statement).rowcount


def _wait_sent(spool: SpooledStore) -> None:
    end = time.monotonic() + 20
    while spool.pending() and time.monotonic() < end:
        time.sleep(0.05)
    assert spool.pending() == 0 and spool.sender.error is None


def test_a_reader_reads_and_writes_only_their_own_rows(server):
    _, urls = server
    r1 = urls["r1"]
    assert _rows(r1, "SELECT DISTINCT reader FROM strokes") == [("r1",)]
    assert _rows(r1, "SELECT DISTINCT reader FROM orders") == [("r1",)]
    assert _rows(r1, "SELECT COUNT(*) FROM ratings WHERE reader = 'r2'") == [(0,)]
    assert len(_rows(r1, "SELECT * FROM readers")) == 3  # who reads the study: visible
    _refused(r1, "INSERT INTO ratings (reader, case_code, lesion, updated_at) "
                 "VALUES ('r2', 'B1', 1, 'now')")  # fmt: skip
    _refused(r1, "INSERT INTO strokes VALUES ('r2', 'B1', 9, 1, '\\x00', 'now')")
    _refused(r1, "INSERT INTO readers (reader, role, added_at) VALUES ('x', 'reader', 'now')")
    _refused(r1, "UPDATE case_state SET reader = 'r2' WHERE reader = 'r1'")
    assert _changes(r1, "UPDATE case_state SET status = 'done' WHERE reader = 'r2'") == 0
    assert _changes(r1, "DELETE FROM strokes WHERE reader = 'r2'") == 0
    _refused(r1, "INSERT INTO audit (ts, reader, action) VALUES ('now', 'r2', 'forged')")
    _refused(r1, "DROP TABLE strokes")


def test_an_adjudicator_reads_done_readings_and_writes_only_their_own(server):
    _, urls = server
    adj = urls["adj"]
    seen = _rows(adj, "SELECT DISTINCT reader, case_code FROM strokes ORDER BY 1")
    assert seen == [("r1", "A1")]  # done: yes; r1's A2 and r2's B1 are open: no
    assert _rows(adj, "SELECT gd FROM ratings WHERE reader = 'r1'") == [("shell",)]
    assert len(_rows(adj, "SELECT * FROM orders")) == 4  # every order: the queue's codes
    _refused(adj, "INSERT INTO ratings (reader, case_code, lesion, updated_at) "
                  "VALUES ('r1', 'A1', 9, 'now')")  # fmt: skip
    assert _changes(adj, "DELETE FROM strokes WHERE reader = 'r1'") == 0
    assert _changes(adj, "UPDATE ratings SET gd = 'none' WHERE reader = 'r1'") == 0
    assert _rows(adj, "SELECT COUNT(*) FROM pins WHERE reader <> 'adj'") == [(0,)]


def test_the_coordinator_reads_everything(server):
    url, _ = server
    assert len(_rows(url, "SELECT DISTINCT reader FROM strokes")) == 2


def test_sessions_run_as_their_roles_and_a_role_signs_in_only_as_its_reader(server, tmp_path):
    _, urls = server
    with SpooledStore(urls["r1"], "r1", tmp_path / "r1") as spool:
        spool.append_stroke("r1", "A2", [10, 11], 3)
        _wait_sent(spool)
    with PostgresStore(urls["r1"]) as store:
        assert store.labels("r1", "A2", (2, 4, 4), np.int32).reshape(-1)[10] == 3
    with pytest.raises(StudyError, match="as the database role of r1, not r2"):
        SpooledStore(urls["r1"], "r2", tmp_path / "r2")
    with PostgresStore(urls["adj"]) as store:  # the adjudicator's view of the readers
        assert store.labels("r1", "A1", (2, 4, 4), np.int32).reshape(-1)[1] == 4
        assert not store.labels("r2", "B1", (2, 4, 4), np.int32).any()  # open: hidden


def test_a_reader_neither_sees_nor_forges_the_changes_sent_from_another_spool(server, tmp_path):
    _, urls = server
    with SpooledStore(urls["r1"], "r1", tmp_path / "r1") as spool:
        spool.append_stroke("r1", "A2", [10, 11], 3)
        _wait_sent(spool)
        key = spool.spool_id
    assert _rows(urls["r1"], f"SELECT COUNT(*) FROM applied WHERE spool = '{key}'") == [(1,)]
    assert _rows(urls["r2"], "SELECT COUNT(*) FROM applied") == [(0,)]
    # a forged record would make the server skip r1's next change as already applied
    _refused(urls["r2"], f"INSERT INTO applied VALUES ('{key}', 2, 'now')")
    assert _changes(urls["r2"], f"DELETE FROM applied WHERE spool = '{key}'") == 0
