"""A throwaway PostgreSQL server on loopback, for tests, benchmarks and trying a server study.

:class:`LocalServer` runs the server binaries of the Debian package ``postgresql``
(``initdb``, ``pg_ctl``; found on ``PATH`` or in ``/usr/lib/postgresql/*/bin``) in
a temporary folder: trust authentication for its superuser ``postgres`` on
127.0.0.1 only, a free port, fsync on (so a killed server keeps what it
acknowledged). As root the server runs as the system user ``postgres``
(PostgreSQL refuses to run as root). :meth:`~LocalServer.create_database` gives
each test its own database.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg

__all__ = ["LocalServer", "server_binaries"]

SUPERUSER = "postgres"


def server_binaries() -> Path:
    """The folder of ``initdb`` and ``pg_ctl`` (RuntimeError naming the fix if none)."""
    found = shutil.which("initdb")
    if found:
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_version)
    if versions:
        return Path(versions[-1]).parent
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found. Fix: install the Debian "
        "package postgresql (`scripts/dev.sh test` installs it)."
    )


def _version(path: str) -> float:
    try:
        return float(Path(path).parts[-3])
    except ValueError:
        return 0.0


def _children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux ``/proc``)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError, ValueError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(stat.parent.name))
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class LocalServer:
    """A PostgreSQL server in a temporary folder (``with LocalServer() as server: ...``)."""

    def __init__(self) -> None:
        self.bin = server_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="napari-uspio-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self._as = ["runuser", "-u", SUPERUSER, "--"] if os.geteuid() == 0 else []
        if self._as:
            shutil.chown(self.folder, SUPERUSER)
        self._run("initdb", "-D", str(self.data), "-U", SUPERUSER, "--auth=trust", "-E",
                  "UTF8", "--no-sync", "--no-instructions")  # fmt: skip

    def _run(self, tool: str, *args: str) -> None:
        cmd = [*self._as, str(self.bin / tool), *args]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode:
            raise RuntimeError(f"{tool} failed ({done.returncode}): {done.stderr.strip()}")

    def start(self) -> LocalServer:
        """Start the server (waits until it accepts connections)."""
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=on"
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l",
                  str(self.folder / "server.log"), "-w", "start")  # fmt: skip
        return self

    def stop(self) -> None:
        """Stop the server (fast shutdown); nothing if it is not running."""
        if (self.data / "postmaster.pid").exists():
            self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def kill(self) -> None:
        """SIGKILL the server and its backends, as a crash would (restart: :meth:`start`)."""
        pid = int((self.data / "postmaster.pid").read_text().split()[0])
        doomed = [pid, *_children(pid)]
        for p in doomed:
            with contextlib.suppress(ProcessLookupError):
                os.kill(p, signal.SIGKILL)
        end = time.monotonic() + 10
        while any(Path(f"/proc/{p}").exists() for p in doomed) and time.monotonic() < end:
            time.sleep(0.05)

    def url(self, dbname: str = "postgres", user: str = SUPERUSER) -> str:
        """The URL of one of the server's databases (no password: trust or libpq finds it)."""
        return f"postgresql://{user}@127.0.0.1:{self.port}/{dbname}"

    def create_database(self, name: str) -> str:
        """Create an empty database; return its URL."""
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def close(self) -> None:
        """Stop the server and delete its folder."""
        try:
            self.stop()
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
