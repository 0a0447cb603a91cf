"""What every dock widget does alike: choosing a folder, reporting a refused action."""

from __future__ import annotations

from collections.abc import Callable

from napari.utils.notifications import show_error
from qtpy.QtWidgets import QFileDialog, QLabel, QLineEdit, QWidget


def browse_folder(parent: QWidget, line_edit: QLineEdit, title: str) -> None:
    """Ask for a folder; put the choice in ``line_edit`` (nothing if cancelled)."""
    chosen = QFileDialog.getExistingDirectory(parent, title)
    if chosen:
        line_edit.setText(chosen)


def run_reported(label: QLabel, action: Callable, errors: tuple[type[Exception], ...]):
    """Run ``action``; ``(True, result)``, or ``(False, None)`` after showing the refusal.

    A refusal (one of ``errors``) is shown in ``label`` ("Not done: ...") and as a
    napari error notification, never as a traceback.
    """
    try:
        return True, action()
    except errors as exc:
        label.setText(f"Not done: {exc}")
        show_error(str(exc))
        return False, None
