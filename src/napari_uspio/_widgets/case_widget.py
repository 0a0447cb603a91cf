"""The Case dock widget: open a case folder, a file per role, or the sample case."""

from __future__ import annotations

import weakref
from pathlib import Path

from napari.utils.notifications import show_error
from qtpy.QtCore import QTimer, Signal
from qtpy.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .._napari.io import sample_case_dir
from .._napari.open_case import adding_case, discard_first, load_for_display, show_first
from ..core.case import Case
from ..core.roles import DERIVED, ROLES
from ..core.volume import CaseError, Volume
from .common import run_in_background


class _PathEdit(QWidget):
    """A line edit with a Browse button for a folder or a NIfTI file."""

    def __init__(self, folder: bool, placeholder: str):
        super().__init__()
        self.folder = folder
        self.edit = QLineEdit()
        self.edit.setPlaceholderText(placeholder)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.edit)
        row.addWidget(browse)

    def _browse(self) -> None:
        if self.folder:
            chosen = QFileDialog.getExistingDirectory(self, "Case folder")
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "Volume", "", "NIfTI (*.nii *.nii.gz)")
        if chosen:
            self.edit.setText(chosen)

    @property
    def text(self) -> str:
        return self.edit.text().strip()


class CaseWidget(QWidget):
    """Open a patient visit: from a folder, from one file per role, or the sample case.

    Loading runs on a worker thread (the viewer stays responsive, a progress bar
    counts the files; the first image is shown as soon as it is read) and completes
    before the other layers are added, one per turn of the event loop; a bad case
    shows one message (naming the file and the fix) and leaves the viewer as it was.
    :attr:`opened` is emitted with the :class:`~napari_uspio.core.case.Case` once
    its layers are shown.
    """

    opened = Signal(object)

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self._case = lambda: None  # a weak reference: the case lives as long as its layers
        self._first = None  # the first image of the case loading, shown early
        self._adding = None  # the layers of the case loaded, being added (adding_case)
        self.folder = _PathEdit(True, "case folder (BIDS-like names or case.toml)")
        self.open_folder_button = QPushButton("Open case folder")
        self.open_folder_button.clicked.connect(self.open_folder)
        self.open_sample_button = QPushButton("Open sample case")
        self.open_sample_button.clicked.connect(self.open_sample)

        self.role_edits = {r: _PathEdit(False, "") for r in ROLES}
        per_role = QGroupBox("Files per role")
        per_role.setCheckable(True)
        per_role.setChecked(False)
        form = QFormLayout()
        for role, edit in self.role_edits.items():
            form.addRow(role, edit)
        self.open_files_button = QPushButton("Open these files")
        self.open_files_button.clicked.connect(self.open_files)
        form.addRow(self.open_files_button)
        per_role.setLayout(form)
        per_role.toggled.connect(
            lambda on: [w.setVisible(on) for w in per_role.findChildren(QWidget)]
        )
        per_role.toggled.emit(False)

        self.status = QLabel("No case open.")
        self.status.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.found = QTableWidget(0, 2)
        self.found.setHorizontalHeaderLabels(["role", "source"])
        self.found.horizontalHeader().setStretchLastSection(True)
        self.found.verticalHeader().setVisible(False)

        layout = QVBoxLayout(self)
        layout.addWidget(self.folder)
        buttons = QHBoxLayout()
        buttons.addWidget(self.open_folder_button)
        buttons.addWidget(self.open_sample_button)
        layout.addLayout(buttons)
        layout.addWidget(per_role)
        layout.addWidget(self.progress)
        layout.addWidget(self.status)
        layout.addWidget(self.found)

    def open_folder(self) -> None:
        """Open the case folder typed or browsed."""
        if not self.folder.text:
            self._fail("Choose a case folder first.")
            return
        self._open(Path(self.folder.text))

    def open_files(self) -> None:
        """Open the files given per role."""
        files = {role: edit.text for role, edit in self.role_edits.items() if edit.text}
        if not files:
            self._fail("Give at least one file (role -> file).")
            return
        self._open(files)

    def open_sample(self) -> None:
        """Open the bundled phantom case (generated once into the user cache)."""
        self._open(None)

    @property
    def case(self) -> Case | None:
        """The case opened last, while its layers hold it (None once they are removed)."""
        return self._case()

    @property
    def busy(self) -> bool:
        """Whether a case is being loaded or shown (the open buttons are disabled meanwhile)."""
        return not self.open_folder_button.isEnabled()

    def _open(self, source) -> None:
        """Load ``source`` (None: the sample case) on a worker thread, then show it.

        The bar moves file by file; the first image is shown as soon as it is read.
        """
        self._set_busy(True)
        self._first = None
        run_in_background(
            lambda progress, emit: load_for_display(
                sample_case_dir() if source is None else source, progress, emit
            ),
            bar=self.progress,
            done=self._opened,
            refused=self._refused,
            errors=(CaseError,),
            partial=self._read,
        ).finished.connect(lambda: self._adding is None and self._set_busy(False))

    def _read(self, volume: Volume) -> None:
        """Show the first image of the case loading (on the GUI thread)."""
        if self._first is None:
            self._first = show_first(self.viewer, volume)

    def _refused(self, exc: Exception) -> None:
        discard_first(self.viewer, self._first)
        self._first = None
        self._fail(str(exc))

    def _opened(self, case: Case) -> None:
        """Add the loaded case's layers, one per turn of the event loop, then describe it."""
        self._adding = adding_case(self.viewer, case, self._first)
        self._first = None
        self._add_next(case)

    def _add_next(self, case: Case) -> None:
        try:
            next(self._adding)
        except StopIteration:
            self._adding = None
            self._set_busy(False)
            self._case = weakref.ref(case)
            self._show(case)
            self.opened.emit(case)
        else:  # the viewer draws and answers before the next layer
            QTimer.singleShot(0, lambda: self._add_next(case))

    def _set_busy(self, busy: bool) -> None:
        for button in (self.open_folder_button, self.open_files_button, self.open_sample_button):
            button.setEnabled(not busy)

    def _fail(self, message: str) -> None:
        self.progress.setFormat("")
        self.status.setText(f"Not opened: {message}")
        self.status.setStyleSheet("color: #ff8080;")
        show_error(message)

    def _show(self, case: Case) -> None:
        rows = [(r, case.path(r).name) for r in case.roles]
        rows += [(d, f"derived: {DERIVED[d][1]}") for d in case.derived_available]
        self.found.setRowCount(len(rows))
        for i, (role, source) in enumerate(rows):
            self.found.setItem(i, 0, QTableWidgetItem(role))
            self.found.setItem(i, 1, QTableWidgetItem(source))
        self.found.resizeColumnToContents(0)
        derived = ", ".join(case.derived_available) or "none"
        z, y, x = case.grid.shape
        sz, sy, sx = case.grid.spacing_mm
        text = (
            f"{len(case.roles)} roles on a {x} x {y} x {z} grid of {sx:g} x {sy:g} x {sz:g} mm; "
            f"derived maps: {derived}."
        )
        if case.warnings:
            text += " Warnings: " + " ".join(case.warnings)
        self.status.setText(text)
        self.status.setStyleSheet("")
