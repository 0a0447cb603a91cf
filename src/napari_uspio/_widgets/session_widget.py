"""The Reading session dock widget: sign in, read your cases blind, mark them done."""

from __future__ import annotations

from qtpy.QtCore import QTimer
from qtpy.QtWidgets import (
    QComboBox,
    QGridLayout,
    QGroupBox,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from .._napari.reading_session import ReadingSession
from ..core.study.manifest import init_study
from ..core.study.records import StudyError
from ..core.study.session import StudySession
from .common import browse_folder, run_reported

#: Reading time is written to the store this often (s); the clock ticks every second.
TIME_FLUSH_S = 10


class SessionWidget(QWidget):
    """Sign in with a reader id; the widget opens your next case by its code only."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.session: ReadingSession | None = None
        self._unsaved_s = 0
        self._case_s = 0
        self._progress = (0, 0)
        self.study = QLineEdit()
        self.study.setPlaceholderText("study folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.reader = QLineEdit()
        self.reader.setPlaceholderText("your reader id")
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.clicked.connect(self.sign_in)
        self.state = QLabel("Not signed in.")
        self.state.setWordWrap(True)
        self.next_button = QPushButton("Open my next case")
        self.next_button.clicked.connect(self.open_next)
        self.done_button = QPushButton("Mark case done (locks it)")
        self.done_button.clicked.connect(self.mark_done)
        self.done_cases = QComboBox()
        self.reason = QLineEdit()
        self.reason.setPlaceholderText("reason for reopening (audited)")
        self.reopen_button = QPushButton("Reopen done case")
        self.reopen_button.clicked.connect(self.reopen)
        grid = QGridLayout()
        grid.addWidget(QLabel("Study"), 0, 0)
        grid.addWidget(self.study, 0, 1)
        grid.addWidget(browse, 0, 2)
        grid.addWidget(QLabel("Reader"), 1, 0)
        grid.addWidget(self.reader, 1, 1)
        grid.addWidget(self.sign_in_button, 1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.state)
        layout.addWidget(self.next_button)
        layout.addWidget(self.done_button)
        layout.addWidget(self.done_cases)
        layout.addWidget(self.reason)
        layout.addWidget(self.reopen_button)
        layout.addWidget(self._new_study_box())
        layout.addStretch(1)
        self._clock = QTimer(self)
        self._clock.setInterval(1000)
        self._clock.timeout.connect(self._tick)
        self._refresh()

    def _new_study_box(self) -> QGroupBox:
        """For the study coordinator: create a study in the Study folder above."""
        box = QGroupBox("New study (coordinator)")
        self.cases_dir = QLineEdit()
        self.cases_dir.setPlaceholderText("folder of case folders")
        self.reader_ids = QLineEdit()
        self.reader_ids.setPlaceholderText("reader ids, e.g. r1,r2,r3")
        self.seed = QSpinBox()
        self.seed.setRange(0, 2**31 - 1)
        self.seed.setPrefix("seed ")
        self.create_button = QPushButton("Create study")
        self.create_button.clicked.connect(self.create_study)
        grid = QGridLayout(box)
        grid.addWidget(self.cases_dir, 0, 0, 1, 2)
        grid.addWidget(self.reader_ids, 1, 0, 1, 2)
        grid.addWidget(self.seed, 2, 0)
        grid.addWidget(self.create_button, 2, 1)
        return box

    def create_study(self) -> None:
        """Create the study (store, orders, study.toml) in the Study folder."""
        readers = [r.strip() for r in self.reader_ids.text().split(",") if r.strip()]

        def go():
            study = init_study(
                self.study.text().strip(),
                self.cases_dir.text().strip(),
                readers,
                seed=self.seed.value(),
            )
            self.state.setText(
                f"Study created: {len(study.cases)} cases, readers {', '.join(readers)}, "
                f"seed {study.seed}. Readers can sign in."
            )

        self._run(go)

    def _browse(self) -> None:
        browse_folder(self, self.study, "Study folder")

    def _run(self, action) -> bool:
        return run_reported(self.state, action, (StudyError, ValueError, OSError))[0]

    def sign_in(self) -> None:
        """Open the study as this reader and show their next case.

        Signing in again closes the session before (its layers, autosave and store)
        once the new one is open; a refused sign-in leaves it as it was.
        """
        self._run(self._sign_in)
        self._refresh()

    def _sign_in(self) -> None:
        core = StudySession(self.study.text().strip(), self.reader.text().strip())
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
        if self.session is not None and self._run(
            lambda: self._flush_time() or self.session.open_next(self.viewer)
        ):
            self._case_s = 0
            self._clock.start()
        self._refresh()

    def mark_done(self) -> None:
        """Lock the open case as read, then open the next one."""
        if self.session is not None and self.session.entry is not None:
            self._flush_time()
            if self._run(lambda: self.session.mark_done(self.viewer)):
                self._case_s = 0
        self._refresh()

    def reopen(self) -> None:
        """Reopen the chosen done case: an explicit action with its reason in the audit log."""
        code = self.done_cases.currentText()
        if self.session is not None and code:
            self._flush_time()
            if self._run(lambda: self.session.reopen(self.viewer, code, self.reason.text())):
                self._case_s = 0
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
        else:
            text = f"Reader {session.reader} · all {n} cases done."
        self.state.setText(text)

    def _flush_time(self) -> None:
        if self.session is not None and self._unsaved_s:
            self.session.add_time(self._unsaved_s)
        self._unsaved_s = 0

    def _refresh(self) -> None:
        session = self.session
        open_case = session is not None and session.entry is not None
        self.next_button.setEnabled(session is not None)
        self.done_button.setEnabled(open_case)
        if session is None:
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
