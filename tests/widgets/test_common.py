"""Long work runs on a worker thread with its progress shown; refusals are reported."""

from __future__ import annotations

import threading
import time

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import QProgressBar

from napari_uspio._widgets.common import run_in_background


def _start(job, seen):
    return run_in_background(
        job,
        bar=QProgressBar(),
        done=lambda result: seen.update(result=result),
        refused=lambda exc: seen.update(refused=str(exc)),
        errors=(ValueError,),
    )


def test_job_runs_off_the_gui_thread_with_progress_and_a_responsive_gui(qtbot):
    bar, seen, ticks = QProgressBar(), {}, []
    timer = QTimer()
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    timer.start(20)

    def job(progress):
        seen["thread"] = threading.get_ident()
        for k in range(1, 4):
            progress(k, 3, f"step {k}")
            time.sleep(0.1)
        return 42

    run_in_background(
        job, bar=bar, done=lambda r: seen.update(result=r), refused=print, errors=(ValueError,)
    )
    qtbot.waitUntil(lambda: "result" in seen, timeout=5000)
    timer.stop()
    assert seen["result"] == 42 and seen["thread"] != threading.get_ident()
    assert (bar.value(), bar.maximum(), bar.format()) == (3, 3, "step 3")
    gaps = [b - a for a, b in zip(ticks, ticks[1:], strict=False)]
    assert len(ticks) >= 5 and max(gaps) < 0.2  # the GUI thread kept ticking (generous)


def test_a_refusal_is_reported_not_raised(qtbot):
    seen = {}

    def job(progress):
        raise ValueError("bad folder")

    _start(job, seen)
    qtbot.waitUntil(lambda: "refused" in seen, timeout=5000)
    assert seen == {"refused": "bad folder"}


def test_an_unexpected_error_reaches_the_gui_thread(qtbot):
    seen = {}

    def job(progress):
        raise RuntimeError("a bug")

    with qtbot.capture_exceptions() as caught:
        _start(job, seen)
        qtbot.waitUntil(lambda: bool(caught), timeout=5000)
    assert isinstance(caught[0][1], RuntimeError) and seen == {}
