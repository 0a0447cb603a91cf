"""A study on a PostgreSQL server: ``python benchmarks/bench_server.py [--quick]``.

On a throwaway server on loopback (:class:`napari_uspio.testing.postgres.LocalServer`):

- the latency a stroke adds (``append_stroke`` of a 10 x 10 brush dab, acknowledged) with
  the workstation spool in front of the server (while its sender sends, and while the
  server is down), against the plain SQLite store, medians of the same run and ratios;
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


def _dab(k: int) -> np.ndarray:
    """The flat indices of a 10 x 10 brush dab, a different place each time."""
    z, y0, x0 = 150, 100 + (k * 7) % 300, 100 + (k * 13) % 300
    y, x = np.meshgrid(np.arange(y0, y0 + 10), np.arange(x0, x0 + 10), indexing="ij")
    return np.ravel_multi_index((np.full(100, z), y.ravel(), x.ravel()), SHAPE)


def _latencies(store, n: int) -> list[float]:
    times = []
    for k in range(n):
        start = time.perf_counter()
        store.append_stroke("r1", "C001", _dab(k), 1 + k % 5)
        times.append(time.perf_counter() - start)
    return times


def _drain(spool: SpooledStore, timeout_s: float = 600.0) -> float:
    start = time.perf_counter()
    while spool.pending() and time.perf_counter() - start < timeout_s:
        time.sleep(0.01)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer strokes and patients")
    args = parser.parse_args()
    n_offline, n_patients = (1000, 8) if args.quick else (3000, 31)
    root = Path(tempfile.mkdtemp(prefix="bench-server-"))
    with LocalServer() as server:
        url = server.create_database("latency")
        with PostgresStore(url, create=True) as store:
            store.add_reader("r1", "reader", ORDER)
        with SQLiteStore(root / "plain.sqlite", create=True) as plain:
            plain.add_reader("r1", "reader", ORDER)
            sqlite_ms = [1000 * t for t in _latencies(plain, 500)]
        with SpooledStore(url, "r1", root / "spool") as spool:
            spool_ms = [1000 * t for t in _latencies(spool, 500)]
            _drain(spool)
            server.kill()
            start = time.perf_counter()
            offline_ms = [1000 * t for t in _latencies(spool, n_offline)]
            offline_s = time.perf_counter() - start
            server.start()
            catch_up_s = _drain(spool)
        a, b = statistics.median(sqlite_ms), statistics.median(spool_ms)
        print("stroke added latency (10 x 10 dab at 512 x 512 x 300, 500 strokes, median):")
        c = statistics.median(offline_ms)
        print(f"  SQLite store {a:.2f} ms; spool, the sender sending meanwhile {b:.2f} ms "
              f"(ratio {b / a:.2f}); spool, server down {c:.2f} ms ({c / a:.2f})")  # fmt: skip
        print(f"{n_offline} strokes painted with the server down: {offline_s:.1f} s; "
              f"sent after it is back in {catch_up_s:.1f} s ({n_offline / catch_up_s:.0f} "
              "strokes/s)")  # fmt: skip

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
