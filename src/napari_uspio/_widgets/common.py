"""What every dock widget does alike.

Choosing a folder, reporting a refused action, and running long work on a worker
thread with a progress bar.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from napari.qt.threading import FunctionWorker, create_worker
from napari.utils.notifications import show_error
from qtpy.QtCore import QObject, Signal
from qtpy.QtWidgets import QFileDialog, QLabel, QLineEdit, QProgressBar, QWidget

from ..core.study.pins import MIN_PIN_LENGTH


def browse_folder(parent: QWidget, line_edit: QLineEdit, title: str) -> None:
    """Ask for a folder; put the choice in ``line_edit`` (nothing if cancelled)."""
    chosen = QFileDialog.getExistingDirectory(parent, title)
    if chosen:
        line_edit.setText(chosen)


def pin_field() -> QLineEdit:
    """A masked PIN field (the reader's first sign-in chooses it; see ``core.study.pins``)."""
    field = QLineEdit()
    field.setEchoMode(QLineEdit.EchoMode.Password)
    field.setPlaceholderText(f"PIN (first sign-in: choose {MIN_PIN_LENGTH}+ characters)")
    return field


def report_refusal(label: QLabel, exc: Exception) -> None:
    """Show a refused action in ``label`` ("Not done: ...") and as a napari error notification."""
    label.setText(f"Not done: {exc}")
    show_error(str(exc))


def run_reported(label: QLabel, action: Callable, errors: tuple[type[Exception], ...]):
    """Run ``action``; ``(True, result)``, or ``(False, None)`` after showing the refusal.

    A refusal (one of ``errors``) is shown by :func:`report_refusal`, never as a traceback.
    """
    try:
        return True, action()
    except errors as exc:
        report_refusal(label, exc)
        return False, None


class _Relay(QObject):
    """Carries progress and partial results from the worker thread to the GUI thread."""

    moved = Signal(int, int, str)
    partial = Signal(object)


def show_progress(bar: QProgressBar, k: int, n: int, message: str = "") -> None:
    """Show step ``k`` of ``n`` in a progress bar, with the message as its text."""
    bar.setRange(0, max(n, 1))
    bar.setValue(min(k, max(n, 1)))
    bar.setFormat(message or f"{k} of {n}")


def run_in_background(
    job: Callable[..., Any],  # job(progress: Progress[, emit])
    *,
    bar: QProgressBar,
    done: Callable[[Any], None],
    refused: Callable[[Exception], None],
    errors: tuple[type[Exception], ...],
    partial: Callable[[Any], None] | None = None,
) -> FunctionWorker:
    """Run ``job(progress)`` on a worker thread; the viewer stays responsive meanwhile.

    ``progress(k, n, message)``, called by the job on its thread, moves ``bar`` on
    the GUI thread. ``done(result)`` runs on the GUI thread once the job returns;
    ``refused(exc)`` when it raises one of ``errors`` (a bad input the user can
    fix); any other exception is raised on the GUI thread (napari shows it).
    With ``partial``, the job is ``job(progress, emit)``: each ``emit(value)``
    calls ``partial(value)`` on the GUI thread (a first image shown early).
    """
    relay = _Relay()
    relay.moved.connect(lambda k, n, message: show_progress(bar, k, n, message))

    def failed(exc: Exception) -> None:
        if not isinstance(exc, errors):
            raise exc
        refused(exc)

    args = [relay.moved.emit]
    if partial is not None:
        relay.partial.connect(partial)
        args.append(relay.partial.emit)
    connect = {"returned": done, "errored": failed}
    worker = create_worker(job, *args, _start_thread=False, _connect=connect)
    worker.finished.connect(relay.deleteLater)
    worker._relay = relay  # kept alive as long as the worker
    worker.start()
    return worker
