"""The Reading session dock widget: sign in with a PIN, read your cases blind, mark them done."""

from __future__ import annotations

import html

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QLabel,
    QLineEdit,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .._napari.reading_session import ReadingSession
from ..core.study.order import OrderEntry
from ..core.study.records import LeaseError, StudyError
from ..core.study.session import StudySession
from ..core.volume import CaseError
from .common import browse_folder, pin_field, report_refusal, run_in_background, run_reported

#: What a case that cannot be opened raises: shown in the widget, never as a traceback.
REFUSALS = (StudyError, CaseError, ValueError, OSError)

#: Reading time is written to the store this often (s); the clock ticks every second.
TIME_FLUSH_S = 10


class SessionWidget(QWidget):
    """Sign in with a reader id; the widget opens your next case by its code only.

    A case is read on a worker thread with a progress bar (file by file) while the
    viewer stays responsive; :attr:`loading` is True meanwhile and the session's
    buttons wait.
    """

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.session: ReadingSession | None = None
        self._unsaved_s = 0
        self._case_s = 0
        self._progress = (0, 0)
        self._worker = None
        self.study = QLineEdit()
        self.study.setPlaceholderText("study folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.reader = QLineEdit()
        self.reader.setPlaceholderText("your reader id")
        self.pin = pin_field()
        self.pin.returnPressed.connect(self.sign_in)
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.clicked.connect(self.sign_in)
        #: Shown once a sign-in is refused because the reader's session elsewhere expired.
        self.take_over = QCheckBox("Take over my expired session elsewhere (audited)")
        self.take_over.setVisible(False)
        self.state = QLabel("Not signed in.")
        self.state.setWordWrap(True)
        self.next_button = QPushButton("Open my next case")
        self.next_button.clicked.connect(self.open_next)
        self.done_button = QPushButton("Mark case done (locks it)…")
        self.done_button.clicked.connect(self.mark_done)
        #: The open *Mark case done* question (None: none asked).
        self.confirm_box: QMessageBox | None = None
        self.done_cases = QComboBox()
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("reason for reopening (audited)")
        self.reopen_button = QPushButton("Reopen done case")
        self.reopen_button.clicked.connect(self.reopen)
        self.progress = QProgressBar()
        self.progress.setVisible(False)
        grid = QGridLayout()
        grid.addWidget(QLabel("Study"), 0, 0)
        grid.addWidget(self.study, 0, 1)
        grid.addWidget(browse, 0, 2)
        grid.addWidget(QLabel("Reader"), 1, 0)
        grid.addWidget(self.reader, 1, 1)
        grid.addWidget(QLabel("PIN"), 2, 0)
        grid.addWidget(self.pin, 2, 1)
        grid.addWidget(self.sign_in_button, 2, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.take_over)
        layout.addWidget(self.state)
        layout.addWidget(self.progress)
        layout.addWidget(self.next_button)
        layout.addWidget(self.done_button)
        layout.addWidget(self.done_cases)
        layout.addWidget(self.reason)
        layout.addWidget(self.reopen_button)
        layout.addStretch(1)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)
        self._refresh()

    def _browse(self) -> None:
        browse_folder(self, self.study, "Study folder")

    @property
    def loading(self) -> bool:
        """Whether a case is being read on the worker thread."""
        return self._worker is not None

    def _run(self, action) -> bool:
        return run_reported(self.state, action, REFUSALS)[0]

    def sign_in(self) -> None:
        """Open the study as this reader and show their next case.

        The PIN is checked (the reader's first sign-in chooses it) and cleared from
        the field. Signing in again closes the session before (its layers, autosave
        and store) once the new one is open; a refused sign-in leaves it as it was.
        """
        if self.loading:
            return
        pin = self.pin.text()
        self.pin.clear()
        self._run(lambda: self._sign_in(pin))
        self._refresh()

    def _sign_in(self, pin: str) -> None:
        take_over = self.take_over.isVisible() and self.take_over.isChecked()
        try:
            core = StudySession(
                self.study.text().strip(), self.reader.text().strip(), pin, take_over=take_over
            )
        except LeaseError as exc:  # held elsewhere; once expired, offer to take it over
            self.take_over.setVisible(exc.expired or self.take_over.isVisible())
            raise
        self.take_over.setChecked(False)
        self.take_over.setVisible(False)
        self.sign_out()
        self.session = ReadingSession(core)
        self.open_next()

    def sign_out(self) -> None:
        """Close the session: the time counted so far is saved, its layers go."""
        if self.session is not None:
            self._flush_time()
            self._clock.stop()
            self.session.sign_out(self.viewer)
            self.session = None

    def open_next(self) -> None:
        """Open the reader's next case (the current one is saved already)."""
        if self.session is not None and not self.loading:
            self._flush_time()
            self._run(lambda: self._open(self.session.core.next_entry()))
        self._refresh()

    def _open(self, entry: OrderEntry | None) -> None:
        """Read the entry's case on a worker, then show it (None: all done, close)."""
        session = self.session
        self._clock.stop()
        if entry is None:
            session.close_case(self.viewer)
            return
        self.state.setText(f"Opening case {entry.code}…")
        self.progress.setVisible(True)
        self._worker = run_in_background(
            lambda progress: session.core.load(entry, progress),
            bar=self.progress,
            done=lambda case: self._loaded(session, entry, case),
            refused=lambda exc: self._refused(session, entry, exc),
            errors=REFUSALS,
        )

    def _loaded(self, session: ReadingSession, entry: OrderEntry, case) -> None:
        self._worker = None
        self.progress.setVisible(False)
        if session is self.session and self._run(
            lambda: session.show(self.viewer, session.core.open(entry, case))
        ):
            self._case_s = 0
            self._clock.start()
        self._refresh()

    def _refused(self, session: ReadingSession, entry: OrderEntry, exc: Exception) -> None:
        self._worker = None
        self.progress.setVisible(False)
        if session is self.session:
            self._refresh()
            report_refusal(self.state, session.core.refusal(entry, exc))

    def mark_done(self) -> None:
        """Ask first (naming unrated lesions, or that there is no lesion), then lock.

        The question is window-modal, not blocking: *Mark done* locks the case
        and opens the next one, *Keep reading* changes nothing.
        """
        if self.session is None or self.session.entry is None:
            return
        warning = self.session.core.done_warning()
        box = QMessageBox(self)
        box.setIcon(QMessageBox.Icon.Warning if warning else QMessageBox.Icon.Question)
        box.setWindowTitle("Mark case done")
        box.setText(f"Mark case {self.session.entry.code} done? {warning}".strip())
        box.setInformativeText("A done case is locked; reopening it is audited.")
        done = box.addButton("Mark done", QMessageBox.ButtonRole.AcceptRole)
        keep = box.addButton("Keep reading", QMessageBox.ButtonRole.RejectRole)
        box.setDefaultButton(keep if warning else done)
        box.buttonClicked.connect(lambda button: button is done and self._mark_done())
        box.finished.connect(lambda _result: setattr(self, "confirm_box", None))
        self.confirm_box = box
        box.open()

    def _mark_done(self) -> None:
        if self.session is not None and self.session.entry is not None:
            self._flush_time()
            if self._run(lambda: self.session.lock_done(self.viewer)):
                self._case_s = 0
                self.open_next()
        self._refresh()

    def reopen(self) -> None:
        """Reopen the chosen done case: an explicit action with its reason in the audit log."""
        code = self.done_cases.currentText()
        if self.session is not None and code and not self.loading:
            self._flush_time()
            reason = self.reason.text()
            if self._run(lambda: self._open(self.session.core.reopen(code, reason))):
                self.reason.clear()
        self._refresh()

    def _tick(self) -> None:
        if self.session is None or self.session.entry is None:
            return
        self._unsaved_s += 1
        self._case_s += 1
        if self._unsaved_s >= TIME_FLUSH_S:
            self._flush_time()
        self._show_state()  # the clock only: no store query every second

    def _show_state(self) -> None:
        session, (k, n) = self.session, self._progress
        minutes, seconds = divmod(self._case_s, 60)
        if session.entry is not None:
            text = f"Reader {session.reader} · case {k} of {n}: <b>{session.entry.code}</b>"
            text += f" · {minutes}:{seconds:02d} on this case"
        elif k < n:
            text = f"Reader {session.reader} · {k} of {n} cases done."
        else:
            text = f"Reader {session.reader} · all {n} cases done."
        sending = session.core.sending
        if sending is not None:
            text += f"<br>{html.escape(sending)}"
        self.state.setText(text)

    def _flush_time(self) -> None:
        if self.session is not None and self._unsaved_s:
            self.session.add_time(self._unsaved_s)
        self._unsaved_s = 0

    def _refresh(self) -> None:
        session = self.session
        open_case = session is not None and session.entry is not None
        self.next_button.setEnabled(session is not None and not self.loading)
        self.done_button.setEnabled(open_case and not self.loading)
        self.sign_in_button.setEnabled(not self.loading)
        if session is None:
            self.reopen_button.setEnabled(False)
        if session is None or self.loading:
            return
        self._progress = session.core.progress
        self._show_state()
        done = session.core.done_codes()
        if done != [self.done_cases.itemText(i) for i in range(self.done_cases.count())]:
            self.done_cases.clear()
            self.done_cases.addItems(done)
        self.reopen_button.setEnabled(bool(done))

    def closeEvent(self, event) -> None:  # noqa: D102 - Qt override
        self._flush_time()
        self._clock.stop()
        super().closeEvent(event)
