"""The Study setup dock, for the study coordinator: create a study, reset a PIN, see progress.

Readers never need it (the Reading desk holds what they do), so it is its own
dock: coordinator controls and folders of named case files stay off the
readers' screens.
"""

from __future__ import annotations

from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ..core.adjudication.status import status_lines
from ..core.study.manifest import LESION_SOURCES, init_study, load_study
from ..core.study.pins import reset_pin
from ..core.study.records import StudyError, parse_ids
from ..core.volume import CaseError
from .common import browse_folder, report_refusal, run_in_background, run_reported

REFUSALS = (StudyError, CaseError, ValueError, OSError)


class StudySetupWidget(QWidget):
    """Create a study from a folder of case folders; reset a reader's PIN; show status."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.study = QLineEdit()
        self.study.setPlaceholderText("study folder (new or existing)")
        self.cases_dir = QLineEdit()
        self.cases_dir.setPlaceholderText("folder of case folders")
        self.reader_ids = QLineEdit()
        self.reader_ids.setPlaceholderText("reader ids, e.g. r1,r2,r3")
        self.adjudicator_ids = QLineEdit()
        self.adjudicator_ids.setPlaceholderText("adjudicator ids (optional)")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.lesion_source = QComboBox()
        self.lesion_source.addItems(list(LESION_SOURCES))
        self.lesion_source.setToolTip(
            "reader: each reader paints; reference: readers rate the case's lesions map; "
            "candidates: the case's candidates are proposed to accept or reject"
        )
        self.reference_editable = QCheckBox("reference editable")
        self.reference_editable.setToolTip("reference studies: readers may edit the lesions")
        self.create_button = QPushButton("Create study")
        self.create_button.clicked.connect(self.create_study)
        self.pin_reader = QLineEdit()
        self.pin_reader.setPlaceholderText("reader id")
        self.reset_pin_button = QPushButton("Reset PIN")
        self.reset_pin_button.setToolTip("the reader chooses a new PIN at their next sign-in")
        self.reset_pin_button.clicked.connect(self.reset_pin)
        self.status_button = QPushButton("Show status")
        self.status_button.clicked.connect(self.show_status)
        self.progress = QProgressBar()
        self.progress.setFormat("")
        self.state = QLabel("")
        self.state.setWordWrap(True)
        self.status = QPlainTextEdit()
        self.status.setReadOnly(True)
        self.status.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        font = self.status.font()
        font.setFamily("monospace")
        self.status.setFont(font)

        grid = QGridLayout()
        rows = (
            ("Study", self.study, self._browse_button(self.study, "Study folder")),
            ("Cases", self.cases_dir, self._browse_button(self.cases_dir, "Folder of cases")),
            ("Readers", self.reader_ids, None),
            ("Adjudicators", self.adjudicator_ids, None),
            ("Lesions", self.lesion_source, self.reference_editable),
            ("", self.seed, self.create_button),
            ("PIN of", self.pin_reader, self.reset_pin_button),
        )
        for row, (label, field, button) in enumerate(rows):
            grid.addWidget(QLabel(label), row, 0)
            grid.addWidget(field, row, 1)
            if button is not None:
                grid.addWidget(button, row, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.state)
        layout.addWidget(self.status_button)
        layout.addWidget(self.progress)
        layout.addWidget(self.status, 1)

    def _browse_button(self, field: QLineEdit, title: str) -> QPushButton:
        button = QPushButton("Browse…")
        button.clicked.connect(lambda _checked=False: browse_folder(self, field, title))
        return button

    def _run(self, action) -> bool:
        return run_reported(self.state, action, REFUSALS)[0]

    def create_study(self) -> None:
        """Create the study (store, orders, study.toml) in the Study folder."""

        def go():
            readers = parse_ids(self.reader_ids.text())
            study = init_study(
                self.study.text().strip(),
                self.cases_dir.text().strip(),
                readers,
                seed=self.seed.value(),
                adjudicators=parse_ids(self.adjudicator_ids.text()),
                lesion_source=self.lesion_source.currentText(),
                reference_editable=self.reference_editable.isChecked(),
            )
            self.state.setText(
                f"Study created: {len(study.cases)} cases, readers {', '.join(readers)}, "
                f"seed {study.seed}, lesions: {study.lesion_source}. Readers can sign in "
                "(each chooses a PIN)."
            )

        self._run(go)

    def reset_pin(self) -> None:
        """Clear the reader's PIN (audited); they choose a new one at their next sign-in."""
        reader = self.pin_reader.text().strip()

        def go():
            reset_pin(self.study.text().strip(), reader)
            self.state.setText(f"PIN of {reader} reset: they choose a new one at sign-in.")

        self._run(go)

    def show_status(self) -> None:
        """Readers' progress and adjudication progress, computed on a worker thread."""
        folder = self.study.text().strip()
        self.status_button.setEnabled(False)
        run_in_background(
            lambda progress: status_lines(load_study(folder), progress),
            bar=self.progress,
            done=lambda lines: self.status.setPlainText("\n".join(lines)),
            refused=lambda exc: report_refusal(self.state, exc),
            errors=REFUSALS,
        ).finished.connect(lambda: self.status_button.setEnabled(True))
