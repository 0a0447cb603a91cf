"""A study on a PostgreSQL server: ``python benchmarks/bench_server.py [--quick]``.

On a throwaway server on loopback (:class:`napari_uspio.testing.postgres.LocalServer`):

- the time to acknowledge a stroke (``append_stroke`` of a 10 x 10 brush dab) at a
  reader's pace through the workstation spool in front of the server (its sender sending,
  and the server down), against the plain SQLite store in blocks taking turns, medians
  and 95th percentiles of the same run and ratios;
- catch-up: the server stopped, 3,000 strokes painted (an hour of offline painting),
  the server back; how long the sender takes to send them all, and its throughput;
- ``compute_agreement`` on the 31-patient cohort read by three readers (a reference
  study), from the server and from SQLite (``--quick``: 8 patients, 1,000 strokes).
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_uspio.core.agreement.study_stats import compute_agreement
from napari_uspio.core.study.manifest import init_study
from napari_uspio.core.study.order import OrderEntry
from napari_uspio.core.study.postgres import PostgresStore
from napari_uspio.core.study.spool import SpooledStore
from napari_uspio.core.study.sqlite import SQLiteStore
from napari_uspio.phantom.cohort import make_cohort
from napari_uspio.testing import cohort_readers, read_study
from napari_uspio.testing.postgres import LocalServer

SHAPE = (300, 512, 512)
ORDER = [OrderEntry("sub-01", "C001", False)]
#: A stroke every 20 ms: faster than a reader drags a brush; blocks of 2 s per store.
PACE_S, BLOCK = 0.02, 100


def _dab(k: int) -> np.ndarray:
    """The flat indices of a 10 x 10 brush dab, a different place each time."""
    z, y0, x0 = 150, 100 + (k * 7) % 300, 100 + (k * 13) % 300
    y, x = np.meshgrid(np.arange(y0, y0 + 10), np.arange(x0, x0 + 10), indexing="ij")
    return np.ravel_multi_index((np.full(100, z), y.ravel(), x.ravel()), SHAPE)


def _latencies(store, n: int, first: int = 0, pace_s: float = 0.0) -> list[float]:
    """Seconds to acknowledge each of ``n`` strokes, one every ``pace_s`` (0: back to back)."""
    times = []
    for k in range(first, first + n):
        start = time.perf_counter()
        store.append_stroke("r1", "C001", _dab(k), 1 + k % 5)
        times.append(time.perf_counter() - start)
        time.sleep(max(0.0, pace_s - times[-1]))
    return times


def _taking_turns(plain, spool, n: int, online: bool) -> tuple[list[float], list[float]]:
    """Stroke latencies (ms) of both stores at a reader's pace, in blocks taking turns.

    Blocks of :data:`BLOCK` strokes alternate (drift of a shared machine cancels); the
    spool's sender (``online``) catches up between blocks, untimed, so that it never
    sends while the plain store is measured, and sends during the spool's blocks as it
    would for a reader painting without a pause (after its longest delay).
    """
    out: tuple[list[float], list[float]] = ([], [])
    for first in range(0, n, BLOCK):
        for times, store in zip(out, (plain, spool), strict=True):
            times += [1000 * t for t in _latencies(store, BLOCK, first, PACE_S)]
            if online:
                _drain(spool)
    return out


def _figures(times: list[float]) -> tuple[float, float]:
    return statistics.median(times), float(np.percentile(times, 95))


def _drain(spool: SpooledStore, timeout_s: float = 600.0) -> tuple[float, float]:
    """Seconds until the spool is empty, and until its first change was sent."""
    start, first, n = time.perf_counter(), None, spool.pending()
    while spool.pending() and time.perf_counter() - start < timeout_s:
        if first is None and spool.pending() < n:
            first = time.perf_counter() - start
        time.sleep(0.01)
    end = time.perf_counter() - start
    return end, end if first is None else first


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer strokes and patients")
    args = parser.parse_args()
    n_paced, n_offline, n_patients = (200, 1000, 8) if args.quick else (600, 3000, 31)
    root = Path(tempfile.mkdtemp(prefix="bench-server-"))
    with LocalServer() as server:
        url = server.create_database("latency")
        with PostgresStore(url, create=True) as store:
            store.add_reader("r1", "reader", ORDER)
        with SQLiteStore(root / "plain.sqlite", create=True) as plain, \
                SpooledStore(url, "r1", root / "spool") as spool:  # fmt: skip
            plain.add_reader("r1", "reader", ORDER)
            sending = _taking_turns(plain, spool, n_paced, online=True)
            server.kill()
            down = _taking_turns(plain, spool, n_paced, online=False)
            start = time.perf_counter()
            _latencies(spool, n_offline, first=n_paced)
            offline_s = time.perf_counter() - start
            server.start()
            catch_up_s, retry_s = _drain(spool)
        print(f"stroke acknowledged (10 x 10 dab at 512 x 512 x 300, {n_paced} strokes per "
              f"store, one every {1000 * PACE_S:.0f} ms), median / 95th percentile:")  # fmt: skip
        for label, (a, b) in (("the sender sending", sending), ("the server down", down)):
            (a50, a95), (b50, b95) = _figures(a), _figures(b)
            print(f"  {label}: SQLite store {a50:.2f} / {a95:.2f} ms, spool {b50:.2f} / "
                  f"{b95:.2f} ms (ratio of medians {b50 / a50:.2f})")  # fmt: skip
        rate = n_offline / (catch_up_s - retry_s)
        print(f"{n_offline} strokes painted back to back with the server down: {offline_s:.1f} s; "
              f"all on the server {catch_up_s:.1f} s after it is back (the sender's next try "
              f"after {retry_s:.1f} s, then {rate:.0f} strokes/s)")  # fmt: skip

        cohort = make_cohort(root / "cohort", n_patients, 0)
        timings = {}
        for name, store in (("SQLite", None), ("PostgreSQL", server.create_database("cohort"))):
            study = init_study(root / name, cohort.folder, ["r1", "r2", "r3"], seed=0,
                               lesion_source="reference", store=store)  # fmt: skip
            read_study(study, cohort_readers(cohort.lesions))
            start = time.perf_counter()
            compute_agreement(study.folder, n_boot=2000)
            timings[name] = time.perf_counter() - start
        print(f"compute_agreement, {n_patients} cases x 3 readers, 2000 resamples: "
              + ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
              + f" (ratio {timings['PostgreSQL'] / timings['SQLite']:.2f})")  # fmt: skip


if __name__ == "__main__":
    main()
