"""The Agreement dock widget: a study's inter-reader agreement at a glance, and its report.

For the study coordinator (it shows reader and case ids). Computing the
agreement (every case's label maps are read, the intervals bootstrapped) and
writing the report (plots drawn) run on a worker thread
(:func:`~.common.run_in_background`): the viewer stays responsive, the
progress bar follows the core's progress callbacks, and both buttons are
disabled until the job ends. The study store is opened, read and closed on
that thread by :func:`~napari_uspio.core.agreement.study_stats.compute_agreement`.
Every number and text of the table comes from
:func:`~napari_uspio.core.agreement.report.summary_rows`. The Analysis button runs
the seed 000 statistics of the study (:func:`~napari_uspio.core.analysis.run_analysis`,
on the consensus or on one reader's readings) on a worker too, and says where its
page was written.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QFileDialog,
    QGridLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..core.agreement.report import SUMMARY_COLUMNS, SummaryRow, summary_rows, write_report
from ..core.agreement.result import StudyAgreement
from ..core.analysis.result import StudyAnalysis
from ..core.case import Progress
from ..core.study.records import StudyError
from ..core.volume import CaseError
from .common import browse_folder, report_refusal, run_in_background

_ERRORS = (StudyError, CaseError, ValueError, OSError)


class AgreementWidget(QWidget):
    """Compute a study's agreement, show its summary, write the full report."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.agreement: StudyAgreement | None = None
        self._title = "Inter-reader agreement"
        self.study = QLineEdit()
        self.study.setPlaceholderText("study folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.n_boot = QSpinBox()
        self.n_boot.setRange(1, 100_000)
        self.n_boot.setValue(2000)
        self.n_boot.setToolTip("resamples of the 95 % confidence intervals")
        self.seed = QSpinBox()
        self.seed.setRange(-1, 2**31 - 1)
        self.seed.setValue(-1)
        self.seed.setSpecialValueText("study's")
        self.seed.setToolTip("bootstrap seed (lowest value: the study's seed)")
        self.compute_button = QPushButton("Compute agreement")
        self.compute_button.clicked.connect(self.compute)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1)
        self.progress.setValue(0)
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.table = QTableWidget(0, len(SUMMARY_COLUMNS))
        self.table.setHorizontalHeaderLabels(SUMMARY_COLUMNS)
        self.table.verticalHeader().setVisible(False)
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)  # long names elide
        header.setStretchLastSection(False)
        self.table.setMinimumHeight(260)
        note = QLabel(
            "κ: Cohen for a reader pair, Fleiss for all readers. n/a: undefined, with the "
            "reason (e.g. every rating in one category: see Agree, percent agreement). "
            "Hover a row for details."
        )
        note.setWordWrap(True)
        self.status = QLabel("Choose a study folder and compute.")
        self.status.setWordWrap(True)
        self.report_dir = QLineEdit()
        self.report_dir.setPlaceholderText("report folder (asked when empty)")
        self.report_button = QPushButton("Write report…")
        self.report_button.clicked.connect(self.write_report)
        self.report_button.setEnabled(False)
        self.analysis_dir = QLineEdit()
        self.analysis_dir.setPlaceholderText("analysis folder (asked when empty)")
        self.source = QLineEdit("consensus")
        self.source.setToolTip("analyse the adjudicated consensus, or a reader id's readings")
        self.analysis_button = QPushButton("Analysis…")
        self.analysis_button.setToolTip(
            "seed 000 statistics: lesions per class, patients per group, Kruskal-Wallis, "
            "Steel-Dwass, Fisher's exact, figures"
        )
        self.analysis_button.clicked.connect(self.run_analysis)
        grid = QGridLayout()
        grid.addWidget(QLabel("Study"), 0, 0)
        grid.addWidget(self.study, 0, 1, 1, 3)
        grid.addWidget(browse, 0, 4)
        grid.addWidget(QLabel("Bootstrap"), 1, 0)
        grid.addWidget(self.n_boot, 1, 1)
        grid.addWidget(QLabel("Seed"), 1, 2)
        grid.addWidget(self.seed, 1, 3)
        grid.addWidget(self.compute_button, 1, 4)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 1)
        report = QGridLayout()
        report.addWidget(self.report_dir, 0, 0)
        report.addWidget(self.report_button, 0, 1, 1, 2)
        report.addWidget(self.analysis_dir, 1, 0)
        report.addWidget(self.source, 1, 1)
        report.addWidget(self.analysis_button, 1, 2)
        report.setColumnStretch(0, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.progress)
        layout.addWidget(self.table, 1)
        layout.addWidget(note)
        layout.addWidget(self.status)
        layout.addLayout(report)

    # ------------------------------------------------------------ actions
    def compute(self) -> None:
        """Compute the agreement of the study in the Study folder and show its summary."""
        from ..core.agreement.study_stats import compute_agreement

        try:
            folder = self._study_folder()
        except StudyError as exc:
            self._refused(exc)
            return
        n_boot = self.n_boot.value()
        seed = None if self.seed.value() < 0 else self.seed.value()
        name = folder.resolve().name  # the study's folder name (Study.folder is resolved)
        self.status.setText(f"Computing the agreement of {folder}…")
        self._start(
            lambda progress: compute_agreement(
                folder, n_boot=n_boot, seed=seed, progress=progress
            ),
            lambda agreement: self._computed(name, agreement),
        )

    def write_report(self) -> None:
        """Write the CSV tables and report.html into the report folder (asked when empty)."""
        if self.agreement is None:
            return
        if not self.report_dir.text().strip():
            chosen = QFileDialog.getExistingDirectory(self, "Report folder")
            if not chosen:
                return
            self.report_dir.setText(chosen)
        out = Path(self.report_dir.text().strip())
        agreement, title = self.agreement, self._title
        self._start(
            lambda progress: write_report(agreement, out, progress=progress, title=title),
            self._written,
        )

    def run_analysis(self) -> None:
        """Write the study analysis of the Source into the analysis folder (asked when empty)."""
        from ..core.analysis import run_analysis

        try:
            folder = self._study_folder()
        except StudyError as exc:
            self._refused(exc)
            return
        if not self.analysis_dir.text().strip():
            chosen = QFileDialog.getExistingDirectory(self, "Analysis folder")
            if not chosen:
                return
            self.analysis_dir.setText(chosen)
        out = Path(self.analysis_dir.text().strip())
        source = self.source.text().strip() or "consensus"
        self.status.setText(f"Analysing {source} of {folder}…")
        self._start(
            lambda progress: run_analysis(folder, out, source, progress=progress),
            self._analysed,
        )

    # ------------------------------------------------------------ internals
    def _browse(self) -> None:
        browse_folder(self, self.study, "Study folder")

    def _study_folder(self) -> Path:
        """The Study folder; a :class:`StudyError` unless it holds a study manifest."""
        from ..core.study.manifest import MANIFEST_NAME

        text = self.study.text().strip()
        if not text:
            raise StudyError("choose a study folder first (Browse…)")
        folder = Path(text)
        if not (folder / MANIFEST_NAME).is_file():
            what = "is not a study folder" if folder.is_dir() else "does not exist"
            raise StudyError(f"{folder} {what}; choose the folder holding study.toml (Browse…)")
        return folder

    def _start(self, job: Callable[[Progress], Any], done: Callable[[Any], None]) -> None:
        """Run ``job(progress)`` on a worker, the buttons disabled; then ``done(result)``."""

        def returned(result: Any) -> None:
            done(result)
            self._busy(False)

        self._busy(True)
        worker = run_in_background(
            job, bar=self.progress, done=returned, refused=self._refused, errors=_ERRORS
        )
        worker.finished.connect(lambda: self._busy(False))  # after an unexpected error too

    def _computed(self, name: str, agreement: StudyAgreement) -> None:
        self.agreement = agreement
        self._title = f"Inter-reader agreement: {name}"
        self._show(summary_rows(agreement))
        settings = agreement.settings
        text = f"Agreement of {name}: {len(settings.get('cases', []))} cases, "
        text += f"readers {', '.join(agreement.readers)}"
        left = sum(settings.get("left_out", {}).values())
        left += sum(settings.get("left_out_repeats", {}).values())
        text += f"; {left} readings not done left out." if left else "."
        self.status.setText(text)

    def _written(self, paths: dict[str, Path]) -> None:
        self.progress.setFormat("report written")
        self.status.setText(f"Report written: {paths['report']}")

    def _analysed(self, analysis: StudyAnalysis) -> None:
        self.progress.setFormat("analysis written")
        self.status.setText(
            f"Analysis of {analysis.source} ({len(analysis.patients)} cases, "
            f"{len(analysis.lesions)} lesions) written: {analysis.paths['page']}"
        )

    def _refused(self, exc: Exception) -> None:
        report_refusal(self.status, exc)
        self.progress.setFormat("")
        self._busy(False)

    def _busy(self, busy: bool) -> None:
        self.compute_button.setEnabled(not busy)
        self.analysis_button.setEnabled(not busy)
        self.report_button.setEnabled(not busy and self.agreement is not None)

    def _show(self, rows: list[SummaryRow]) -> None:
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, text in enumerate(row[: len(SUMMARY_COLUMNS)]):
                item = QTableWidgetItem(text)
                item.setToolTip(row.tip)
                if j >= 2:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(i, j, item)
        self.progress.setFormat("done")
