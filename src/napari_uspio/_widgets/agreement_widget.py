"""The Agreement dock widget: a study's inter-reader agreement at a glance, and its report.

For the study coordinator (it shows reader and case ids). The computation
runs in the GUI thread: the progress callback updates the bar and lets Qt
paint (``processEvents`` without user input, so nothing can be clicked
half-way). A three-case study takes a second or two; the unit of work
between two callbacks is one case, so the window never freezes long, and
the store is read from one thread only.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from qtpy.QtCore import QEventLoop, Qt
from qtpy.QtWidgets import (
    QApplication,
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

from ..core import fields as spec
from ..core.agreement.report import field_title, format_ci, format_percent, write_report
from ..core.agreement.result import StudyAgreement
from ..core.study.records import StudyError
from ..core.volume import CaseError
from .common import browse_folder, run_reported

#: Columns of the summary table ("n": lesions or cases, see each cell's tooltip).
COLUMNS = ("Measure", "Readers", "Estimate [95 % CI]", "Agree", "n")
_ERRORS = (StudyError, CaseError, ValueError, OSError)


class SummaryRow(NamedTuple):
    """One row of the summary table as shown, and its tooltip."""

    measure: str
    readers: str
    estimate: str
    agree: str
    n: str
    tip: str


def _kappa_tip(statistic: str, n: object, what: str) -> str:
    who = "Fleiss' kappa of all readers" if statistic == "fleiss" else "Cohen's kappa"
    return f"{who} on {int(n)} {what}"


def summary_rows(agreement: StudyAgreement) -> list[SummaryRow]:
    """The rows of the summary table (:data:`COLUMNS`), formatted as in the report."""
    rows = []
    for r in agreement.detection.itertuples(index=False):
        ci = format_ci(r.f1, r.f1_low, r.f1_high)
        tip = f"lesion-wise F1 of {r.readers}, pooled over {int(r.cases)} cases"
        rows.append(SummaryRow("Detection F1", r.readers, ci, "", str(int(r.cases)), tip))
    kappa = agreement.kappa.assign(_pair=agreement.kappa["readers"] != "all")
    for name in dict.fromkeys(kappa["field"]):
        part = kappa[kappa["field"] == name].sort_values(["_pair", "readers"], kind="stable")
        for r in part.itertuples(index=False):
            rows.append(
                SummaryRow(
                    f"{spec.derived_or_rating(name).short} κ",
                    r.readers,
                    format_ci(r.kappa, r.low, r.high),
                    format_percent(r.percent_agreement),
                    str(int(r.n)),
                    f"{field_title(name)}: "
                    + _kappa_tip(r.statistic, r.n, "lesions found and rated by these readers"),
                )
            )
    patient = agreement.patient
    agree = {
        (r.measure, r.readers): r.estimate
        for r in patient[patient["statistic"] == "percent_agreement"].itertuples(index=False)
    }
    for r in patient[patient["statistic"] != "percent_agreement"].itertuples(index=False):
        ci = format_ci(r.estimate, r.low, r.high)
        if r.measure == "lesion_count":
            tip = f"lesion count per case: ICC(2,1) on {int(r.n)} cases read by every reader"
            rows.append(SummaryRow("Lesion count ICC", r.readers, ci, "", str(int(r.n)), tip))
            continue
        share = agree.get((r.measure, r.readers), float("nan"))
        tip = "patient group (UEL / GEL / NEL): " + _kappa_tip(r.statistic, r.n, "cases")
        measure = "Patient group κ" if r.measure == "patient_group" else r.measure
        row = SummaryRow(measure, r.readers, ci, format_percent(share), str(int(r.n)), tip)
        rows.append(row)
    for r in agreement.intra.itertuples(index=False):
        ci = format_ci(r.kappa, r.low, r.high)
        if r.field == "detection":
            tip = f"{r.reader}: first vs repeated reading, lesion-wise F1 ({int(r.cases)} cases)"
            rows.append(SummaryRow("Intra detection F1", r.reader, ci, "", str(int(r.n)), tip))
        else:
            tip = f"{r.reader}: first vs repeated reading, Cohen's kappa on {int(r.n)} lesions"
            agree_text = format_percent(r.percent_agreement)
            measure = f"Intra {spec.derived_or_rating(r.field).short} κ"
            rows.append(SummaryRow(measure, r.reader, ci, agree_text, str(int(r.n)), tip))
    return rows


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
        self.table = QTableWidget(0, len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
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
            "κ: Cohen for a reader pair, Fleiss for all readers; NaN when every rating "
            "falls in one category (see Agree: percent agreement). Hover a row for details."
        )
        note.setWordWrap(True)
        self.status = QLabel("Choose a study folder and compute.")
        self.status.setWordWrap(True)
        self.report_dir = QLineEdit()
        self.report_dir.setPlaceholderText("report folder (asked when empty)")
        self.report_button = QPushButton("Write report…")
        self.report_button.clicked.connect(self.write_report)
        self.report_button.setEnabled(False)
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
        report.addWidget(self.report_button, 0, 1)
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
        from ..core.study.manifest import MANIFEST_NAME, load_study

        folder = Path(self.study.text().strip())

        def go():
            if not self.study.text().strip():
                raise StudyError("choose a study folder first (Browse…)")
            if not (folder / MANIFEST_NAME).is_file():
                what = "is not a study folder" if folder.is_dir() else "does not exist"
                raise StudyError(
                    f"{folder} {what}; choose the folder holding study.toml (Browse…)"
                )
            study = load_study(folder)
            seed = None if self.seed.value() < 0 else self.seed.value()
            n_boot = self.n_boot.value()
            return study, compute_agreement(
                study, n_boot=n_boot, seed=seed, progress=self._progress
            )

        self.status.setText(f"Computing the agreement of {folder}…")
        self._busy(True)
        try:
            done = self._run(go)
        finally:
            self._busy(False)
        if done is None:
            return
        study, self.agreement = done
        self._title = f"Inter-reader agreement: {study.folder.name}"
        self._show(summary_rows(self.agreement))
        settings = self.agreement.settings
        text = f"Agreement of {study.folder.name}: {len(settings.get('cases', []))} cases, "
        text += f"readers {', '.join(self.agreement.readers)}"
        left = sum(settings.get("left_out", {}).values())
        left += sum(settings.get("left_out_repeats", {}).values())
        text += f"; {left} readings not done left out." if left else "."
        self.status.setText(text)
        self.report_button.setEnabled(True)

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
        self._busy(True)
        try:
            paths = self._run(
                lambda: write_report(
                    self.agreement, out, progress=self._progress, title=self._title
                )
            )
        finally:
            self._busy(False)
        if paths is not None:
            self.progress.setFormat("report written")
            self.status.setText(f"Report written: {paths['report']}")

    # ------------------------------------------------------------ internals
    def _browse(self) -> None:
        browse_folder(self, self.study, "Study folder")

    def _run(self, action):
        ok, value = run_reported(self.status, action, _ERRORS)
        if not ok:
            self.progress.setFormat("")
        return value

    def _busy(self, busy: bool) -> None:
        self.compute_button.setEnabled(not busy)
        self.report_button.setEnabled(not busy and self.agreement is not None)

    def _progress(self, k: int, n: int, message: str = "") -> None:
        self.progress.setRange(0, max(n, 1))
        self.progress.setValue(k)
        self.progress.setFormat(message or f"{k} of {n}")
        QApplication.processEvents(QEventLoop.ProcessEventsFlag.ExcludeUserInputEvents)

    def _show(self, rows: list[SummaryRow]) -> None:
        self.table.setRowCount(len(rows))
        for i, row in enumerate(rows):
            for j, text in enumerate(row[: len(COLUMNS)]):
                item = QTableWidgetItem(text)
                item.setToolTip(row.tip)
                if j >= 2:
                    item.setTextAlignment(
                        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
                    )
                self.table.setItem(i, j, item)
        self.progress.setFormat("done")
