"""Opening and switching cases: ``xvfb-run -a python benchmarks/bench_cases.py [--quick]``.

One run, every figure of the README's "Opening and switching cases" table:

1. ``.nii.gz`` decode of the large case: plain nibabel (the files one after
   another) against ``load_case`` (ISA-L, up to 4 threads, gzip CRC and value
   checks), in MB/s of array bytes, same files, same run.
2. Peak resident memory of ``load_case`` plus the measured maps, each format in
   a fresh process, against the bytes of the arrays the case keeps.
3. The Case widget on the large case: click -> first image shown and -> case
   complete, and the longest stall of a 10 ms timer on the GUI thread while the
   files are read and while napari adds the layers.
4. *Mark case done* -> next case displayed, layers reused, prefetched and not:
   256 x 256 x 44 (6 cases) and the large case (3 cases); the adjudicator's
   move to the next case of the queue (256 x 256 x 44, three readers).

Decode times are medians of three fresh processes each; the single-stream line
(ISA-L against zlib on one file, one thread) is the ceiling per core.

The large case is 512 x 512 x 300, 13 roles (``--quick``: 256 x 256 x 120): a
256 x 256 x 44 phantom resampled to that grid, with full-precision noise in every
float voxel, so that it compresses hardly at all (1.1x; ISA-L decodes it as fast
per output byte as volumes that compress 1.6x, measured on 512 x 512 x 300 files).
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from isal import igzip

from napari_uspio import make_phantom

MB = 1 / 2**20


def _rss() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def write_large_case(source: Path, out_gz: Path, out_nii: Path, shape_xyz) -> None:
    """Resample a phantom case to ``shape_xyz`` (nearest), noise added; .nii.gz and .nii."""
    rng = np.random.default_rng(0)
    out_gz.mkdir(parents=True)
    out_nii.mkdir(parents=True)
    for path in sorted(source.glob("*.nii.gz")):
        small = nib.load(path)
        data = np.asanyarray(small.dataobj)
        index = [np.arange(n) * s // n for n, s in zip(shape_xyz, data.shape, strict=True)]
        big = data[np.ix_(*index)]
        if big.dtype.kind == "f":
            noise = rng.standard_normal(big.shape, dtype=np.float32)
            big += noise * np.float32(0.01 * np.abs(data).max())
            del noise
        zoom = np.divide(data.shape, shape_xyz)
        image = nib.Nifti1Image(big, small.affine @ np.diag([*zoom, 1.0]))
        image.set_data_dtype(big.dtype)
        nib.save(image, out_nii / path.name.removesuffix(".gz"))
        with igzip.open(out_gz / path.name, "wb", compresslevel=1) as fh:
            fh.write(image.to_bytes())


def single_stream(path: Path) -> float:
    """ISA-L / zlib decompression speed on one file, one thread (median of 3 each)."""
    import gzip

    raw = path.read_bytes()
    speeds = {}
    for name, decompress in (("zlib", gzip.decompress), ("isal", igzip.decompress)):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            decompress(raw)
            times.append(time.perf_counter() - start)
        speeds[name] = statistics.median(times)
    return speeds["zlib"] / speeds["isal"]


def child_nibabel(folder: str) -> dict:
    """Plain nibabel: every file decoded one after another."""
    start, nbytes = time.perf_counter(), 0
    for path in sorted(Path(folder).glob("*.nii*")):
        nbytes += np.asanyarray(nib.load(path).dataobj).nbytes
    return {"seconds": time.perf_counter() - start, "bytes": nbytes}


def child_load(folder: str) -> dict:
    """load_case and the measured maps; peak and kept bytes."""
    from napari_uspio import load_case
    from napari_uspio.core.roles import MEASURED_MAPS

    before = _rss()
    start = time.perf_counter()
    case = load_case(folder)
    seconds = time.perf_counter() - start
    for name in MEASURED_MAPS:  # what a reading measures (a prefetch computes them too)
        if name in case:
            case[name]
    kept = sum(v.data.nbytes for v in case.volumes.values())
    kept += sum(case[n].nbytes for n in case.derived_available if case.computed(n))
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"seconds": seconds, "kept": kept, "peak": peak - before, "after": _rss() - before}


def _child(kind: str, folder: Path) -> dict:
    out = subprocess.run(
        [sys.executable, __file__, f"--child-{kind}", str(folder)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(out.stdout)


def _median_child(kind: str, folder: Path, n: int = 3) -> dict:
    """``n`` fresh processes; the median seconds, the rest of the last run."""
    runs = [_child(kind, folder) for _ in range(n)]
    return runs[-1] | {"seconds": statistics.median(r["seconds"] for r in runs)}


def case_widget_open(viewer, folder: Path) -> dict:
    """Open a folder in the Case widget as a reader would; times and GUI-thread stalls."""
    from qtpy.QtCore import QEventLoop, QTimer
    from qtpy.QtWidgets import QApplication

    from napari_uspio._widgets.case_widget import CaseWidget

    widget = CaseWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Case")
    first, gaps = [], {"reading": [0.0], "adding layers": [0.0]}
    viewer.layers.events.inserted.connect(lambda e: first or first.append(time.perf_counter()))
    last = [time.perf_counter()]

    def tick():
        now = time.perf_counter()
        # reading: until the layers after the first image come (one per turn of the loop)
        gaps["reading" if len(viewer.layers) <= 1 else "adding layers"].append(now - last[0])
        last[0] = now

    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(tick)
    widget.folder.edit.setText(str(folder))
    QApplication.processEvents()
    timer.start()
    start = last[0] = time.perf_counter()
    loop = QEventLoop()  # the event loop as napari runs it: waiting, not spinning
    widget.opened.connect(lambda _case: loop.quit())
    QTimer.singleShot(600_000, loop.quit)  # a case that never opens ends the run
    widget.open_folder_button.click()
    loop.exec()
    QApplication.processEvents()
    done = time.perf_counter()
    timer.stop()
    result = {"first": first[0] - start, "full": done - start}
    result.update({f"stall {k}": max(v) for k, v in gaps.items()})
    viewer.window.remove_dock_widget(widget)
    viewer.layers.clear()  # the desk lets go of the case with its lesions layer
    gc.collect()
    return result


def switches(viewer, cases: Path, study_dir: Path, prefetch: bool) -> tuple[list[float], int]:
    """*Mark case done* -> next case displayed, after a stroke in each case.

    Also the largest resident memory while reading (the case shown, the next one
    loaded ahead when prefetching), in bytes.
    """
    from qtpy.QtWidgets import QApplication

    from napari_uspio._napari.reading_session import ReadingSession
    from napari_uspio.core.study.manifest import init_study
    from napari_uspio.core.study.session import StudySession

    study = init_study(study_dir, cases, ["r1"], seed=1)
    session = ReadingSession(StudySession(study.folder, "r1", prefetch=prefetch))
    session.open_next(viewer)
    times, resident = [], 0
    while session.core.following_entry() is not None:
        layer = viewer.layers["lesions"]
        layer.brush_size = 3
        layer.paint((layer.data.shape[0] // 2, 100, 100), 1)
        if prefetch:
            session.core.prefetcher.wait()  # the reader read for longer than a load
        QApplication.processEvents()
        resident = max(resident, _rss())
        start = time.perf_counter()
        session.mark_done(viewer)
        QApplication.processEvents()
        times.append(time.perf_counter() - start)
    session.sign_out(viewer)
    gc.collect()
    return times, resident


def adjudicator_switches(viewer, tmp: Path, shape_xyz) -> dict[bool, list[float]]:
    """The adjudicator's move to the queue's next case, prefetched and not (alternating)."""
    from qtpy.QtWidgets import QApplication

    from napari_uspio._napari.adjudication_session import AdjudicationSession
    from napari_uspio.core.adjudication.desk import AdjudicationDesk
    from napari_uspio.testing.simulate import simulate_study

    study = simulate_study(tmp / "adj_study", tmp / "adj_cases", n_cases=5, shape_xyz=shape_xyz)
    desk = AdjudicationDesk(study.folder, "adj")
    desk.refresh_queue()
    session = AdjudicationSession(desk)
    firsts, seen = [], set()
    for ca, item in desk.pending():
        if ca.code not in seen:
            seen.add(ca.code)
            firsts.append((ca, item))
    session.open_item(viewer, *firsts[0])
    times = {True: [], False: []}
    for k, (ca, item) in enumerate(firsts[1:]):
        prefetch = k % 2 == 0
        if prefetch:
            desk.prefetcher.wait()
        else:
            desk.prefetcher.drop()
        QApplication.processEvents()
        start = time.perf_counter()
        session.open_item(viewer, ca, item)
        QApplication.processEvents()
        times[prefetch].append(time.perf_counter() - start)
    session.sign_out(viewer)
    return times


def _copies(case: Path, folder: Path, n: int) -> Path:
    """``n`` case folders whose files link to one case (the same bytes to read)."""
    for k in range(n):
        (folder / f"sub-{k:02d}").mkdir(parents=True)
        for path in case.glob("*.nii*"):
            (folder / f"sub-{k:02d}" / path.name).symlink_to(path)
    return folder


def main(quick: bool) -> None:
    import napari

    large = (256, 256, 120) if quick else (512, 512, 300)
    small = (128, 128, 24) if quick else (256, 256, 44)
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        make_phantom(tmp / "source", seed=1, shape_xyz=(256, 256, 44))
        write_large_case(tmp / "source", tmp / "large_gz", tmp / "large_nii", large)
        nibabel = _median_child("nibabel", tmp / "large_gz")
        loads = {fmt: _median_child("load", tmp / f"large_{fmt}") for fmt in ("gz", "nii")}
        gz_files = sorted((tmp / "large_gz").iterdir(), key=lambda p: p.stat().st_size)
        gz_bytes = sum(p.stat().st_size for p in gz_files)
        ceiling = single_stream(gz_files[-1])

        viewer = napari.Viewer(show=True)
        viewer.window._qt_window.resize(1600, 900)
        opened = case_widget_open(viewer, tmp / "large_gz")
        again = case_widget_open(viewer, tmp / "large_gz")  # napari's first-use costs paid
        for k in range(6):
            make_phantom(tmp / "small" / f"sub-{k:02d}", seed=k, shape_xyz=small)
        _copies(tmp / "large_gz", tmp / "large3", 3)
        switch, resident = {}, {}
        for label, cases in ((small, tmp / "small"), (large, tmp / "large3")):
            for prefetch in (False, True):
                times, rss = switches(viewer, cases, tmp / f"study{len(switch)}", prefetch)
                switch[(label, prefetch)] = (statistics.median(times), len(times))
                resident[(label, prefetch)] = rss
        adjudicator = adjudicator_switches(viewer, tmp, small)
        viewer.close()

    array_mb = nibabel["bytes"] * MB
    ours = array_mb / loads["gz"]["seconds"]
    plain = array_mb / nibabel["seconds"]
    print(f"large case: {large[0]} x {large[1]} x {large[2]}, 13 roles, {array_mb:.0f} MB of")
    print(f"arrays, {gz_bytes * MB:.0f} MB of .nii.gz; small case {small}, 13 roles\n")
    print("| measure | figure | target |\n|---|---|---|")
    print(f"| .nii.gz decode, plain nibabel | {plain:.0f} MB/s ({nibabel['seconds']:.1f} s) | |")
    print(
        f"| .nii.gz decode, load_case | {ours:.0f} MB/s ({loads['gz']['seconds']:.1f} s), "
        f"{ours / plain:.1f}x nibabel | >= 4x |"
    )
    print(f"| one stream, one thread: ISA-L / zlib | {ceiling:.1f}x | |")
    print(f"| .nii load_case (memory-mapped) | {loads['nii']['seconds']:.1f} s | |")
    for fmt, r in loads.items():
        print(
            f"| peak resident / kept, .{fmt} | {r['peak'] * MB:.0f} / {r['kept'] * MB:.0f} MB "
            f"= {r['peak'] / r['kept']:.2f} | <= 1.3 |"
        )
    print(f"| Case widget: first image | {opened['first']:.2f} s | < 3 s |")
    print(f"| Case widget: full case shown | {opened['full']:.2f} s | < 10 s |")
    for key in ("reading", "adding layers"):
        print(f"| GUI timer, longest stall {key} | {opened[f'stall {key}']:.2f} s | < 0.2 s |")
    for key in ("first", "full"):
        print(f"| the same, second case in the viewer: {key} | {again[key]:.2f} s | |")
    for key in ("reading", "adding layers"):
        stall = again[f"stall {key}"]
        print(f"| the same, second case: longest stall {key} | {stall:.2f} s | < 0.2 s |")
    targets = {(small, False): "< 1.5 s", (small, True): "< 0.5 s", (large, True): "< 2 s"}
    for (label, prefetch), (median, n) in switch.items():
        way = "prefetched" if prefetch else "not prefetched"
        print(
            f"| Mark case done -> next shown, {label[0]} x {label[1]} x {label[2]}, {way} "
            f"| {median:.2f} s (median of {n}) | {targets.get((label, prefetch), '')} |"
        )
    for prefetch in (False, True):
        way = "the next loaded ahead" if prefetch else "nothing ahead"
        print(
            f"| resident while reading the large case, {way} | "
            f"{resident[(large, prefetch)] * MB / 1024:.1f} GB | |"
        )
    for prefetch, times in adjudicator.items():
        way = "prefetched" if prefetch else "not prefetched"
        print(
            f"| adjudicator: next case of the queue shown, {small[0]} x {small[1]} x "
            f"{small[2]}, {way} | {statistics.median(times):.2f} s (median of {len(times)}) | |"
        )


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--child-nibabel", help=argparse.SUPPRESS)
    parser.add_argument("--child-load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_nibabel:
        json.dump(child_nibabel(args.child_nibabel), sys.stdout)
    elif args.child_load:
        json.dump(child_load(args.child_load), sys.stdout)
    else:
        main(args.quick)
