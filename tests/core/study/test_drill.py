"""The multi-site drill: three workstations on one server, the server killed, a reader cut off.

Readers r1, r2, r3 each run in their own process as a separate workstation: their own
spool folder and their own database role. r3 reaches the server through a TCP relay
that the test cuts for a while (its network drops). Midway the server is SIGKILLed and
restarted. Afterwards the coordinator's view of the server holds exactly what each
reader acknowledged (``test_concurrency.check_reader``), and each role is still refused
what it must not do.
"""

from __future__ import annotations

import importlib.util
import os
import socket
import threading
import time
from pathlib import Path

import psycopg
import pytest

from napari_uspio.core.study.order import reading_order
from napari_uspio.core.study.postgres import PostgresStore
from napari_uspio.core.study.spool import SpooledStore

pytestmark = pytest.mark.slow

_SPEC = importlib.util.spec_from_file_location(
    "drill_writes", Path(__file__).with_name("test_concurrency.py")
)
writes = importlib.util.module_from_spec(_SPEC)  # the writers and checker of the readers
_SPEC.loader.exec_module(writes)

DURATION_S = float(os.environ.get("NAPARI_USPIO_DRILL_S", "18"))


class Relay:
    """A TCP relay to the server that can be cut (connections dropped, new ones refused)."""

    def __init__(self, port: int) -> None:
        self.target = ("127.0.0.1", port)
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.cut = threading.Event()
        self.open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut.is_set():
                client.close()
                continue
            try:
                server = socket.create_connection(self.target)
            except OSError:
                client.close()
                continue
            self.open += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket) -> None:
        try:
            while data := a.recv(65536):
                b.sendall(data)
        except OSError:
            pass
        finally:
            for s in (a, b):
                s.close()

    def drop(self) -> None:
        """The network drops: every connection cut, new ones refused until :meth:`back`."""
        self.cut.set()
        for s in self.open:
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        self.open.clear()

    def back(self) -> None:
        self.cut.clear()


def test_three_workstations_a_killed_server_and_a_reader_cut_off(pg_url, pg_server, tmp_path):
    dbname = pg_url.rsplit("/", 1)[1]
    with PostgresStore(pg_url, create=True) as store:
        for reader in writes.READERS:
            store.add_reader(reader, "reader", reading_order(writes.CASES, reader, writes.SEED))
        roles = store.set_up_access(writes.READERS)
    relay = Relay(pg_server.port)
    urls = {r: pg_server.url(dbname, user=roles[r]) for r in writes.READERS}
    urls["r3"] = f"postgresql://{roles['r3']}@127.0.0.1:{relay.port}/{dbname}"
    spools = {r: tmp_path / f"ws-{r}" for r in writes.READERS}
    with writes.writers(urls, DURATION_S, tmp_path, spools) as procs:
        try:
            time.sleep(DURATION_S / 6)
            relay.drop()  # r3's network drops ...
            time.sleep(DURATION_S / 6)
            pg_server.kill()  # ... and the server crashes while everyone paints
            time.sleep(DURATION_S / 6)
            pg_server.start()
            time.sleep(DURATION_S / 6)
            relay.back()  # r3 is back for the last third
            errors = {r: p.communicate(timeout=DURATION_S + 120)[1] for r, p in procs.items()}
        finally:
            relay.back()
    for reader, proc in procs.items():
        assert proc.returncode == 0, f"{reader}:\n{errors[reader]}"
        assert "server unreachable" in errors[reader]  # each lost the server for a while
    for reader in writes.READERS:  # what a workstation could not send yet, it sends now
        with SpooledStore(urls[reader], reader, spools[reader]) as spool:
            end = time.monotonic() + 240  # a backlog of thousands: sent at hundreds a second
            while spool.pending() and time.monotonic() < end and spool.sender.error is None:
                time.sleep(0.05)
            assert spool.pending() == 0, (reader, spool.sender.error, errors[reader][-3000:])
    with PostgresStore(pg_url) as coordinator:
        for reader in writes.READERS:
            acks = (tmp_path / f"{reader}.acks").read_text().splitlines()
            writes.check_reader(coordinator, reader, acks)
    with psycopg.connect(urls["r1"]) as conn:  # still only their own
        assert conn.execute("SELECT DISTINCT reader FROM strokes").fetchall() == [("r1",)]
        with pytest.raises(psycopg.Error, match="row-level security"):
            conn.execute("INSERT INTO lesion_time VALUES ('r2', %s, 1, 1.0)",
                         (writes.codes("r2")["sub-01"],))  # fmt: skip
