"""The Adjudication dock widget: the queue of disputed lesions, side by side, decided.

Every number and field shown has a tooltip with its definition, read from
:mod:`napari_uspio.core.fields` (rating fields: ``description``; numbers: the
column's ``tooltip``, which says when a value depends on the outline drawn).
"""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .._napari.adjudication_session import AdjudicationSession
from ..core import fields as spec
from ..core.adjudication.desk import AdjudicationDesk
from ..core.case import Progress
from ..core.ratings import RatingError
from ..core.study.records import StudyError
from .common import (
    browse_folder,
    pin_field,
    report_refusal,
    run_in_background,
    run_reported,
)

QUEUE_COLUMNS = ("Case", "Item", "Disputed", "Status")
#: The declared column each queue column shows (its header's tooltip).
QUEUE_SPEC = {
    "Case": "code",
    "Item": "item",
    "Disputed": "readers_detected",
    "Status": "consensus",
}
#: What the adjudicator may fix: shown as "Not done: ...", never as a traceback.
REFUSALS = (StudyError, RatingError, ValueError, OSError)


def _shown(field: str, value: str | None) -> str:
    return "—" if value is None else spec.RATINGS[field].label(value)


def _short_names() -> dict[str, str]:
    return {f.name: f.short for f in spec.RATINGS}


def _tip(name: str) -> str:
    """The definition of a declared column or rating field, for a tooltip."""
    if name in spec.RATINGS:
        field = spec.RATINGS[name]
        return f"{field.title}: {field.description}"
    return spec.column(name).tooltip


def _legend_box(colour: str, contour: int) -> str:
    """Rich text: a swatch of the outline colour, its thickness in words."""
    return f'<span style="color:{colour}; font-size:16px">■</span> {contour} vox'


class AdjudicationWidget(QWidget):
    """Sign in as adjudicator; open each disputed item, decide, write why, export."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.session: AdjudicationSession | None = None
        self._rows: list = []  # (case adjudication, item) per queue row
        self.study = QLineEdit()
        self.study.setPlaceholderText("study folder")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.adjudicator = QLineEdit()
        self.adjudicator.setPlaceholderText("your adjudicator id")
        self.pin = pin_field()
        self.pin.returnPressed.connect(self.sign_in)
        self.sign_in_button = QPushButton("Sign in")
        self.sign_in_button.clicked.connect(self.sign_in)
        grid = QGridLayout()
        grid.addWidget(QLabel("Study"), 0, 0)
        grid.addWidget(self.study, 0, 1)
        grid.addWidget(browse, 0, 2)
        grid.addWidget(QLabel("Adjudicator"), 1, 0)
        grid.addWidget(self.adjudicator, 1, 1)
        grid.addWidget(QLabel("PIN"), 2, 0)
        grid.addWidget(self.pin, 2, 1)
        grid.addWidget(self.sign_in_button, 2, 2)
        self.state = QLabel("Not signed in.")
        self.state.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.setFormat("")
        self.queue = QTableWidget(0, len(QUEUE_COLUMNS))
        self.queue.setHorizontalHeaderLabels(QUEUE_COLUMNS)
        self.queue.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.queue.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.queue.horizontalHeader().setStretchLastSection(True)
        queue_rows = self.queue.verticalHeader().defaultSectionSize()
        self.queue.setMinimumHeight(int(5.5 * queue_rows))  # header and 4 items at least
        for col, name in enumerate(QUEUE_COLUMNS):
            self.queue.horizontalHeaderItem(col).setToolTip(_tip(QUEUE_SPEC[name]))
        self.queue.cellDoubleClicked.connect(lambda row, _col: self.open_row(row))
        self.open_button = QPushButton("Open item")
        self.open_button.clicked.connect(lambda: self.open_row(self.queue.currentRow()))
        self.item_label = QLabel("")
        self.item_label.setWordWrap(True)
        self.item_label.setToolTip(_tip("readers_detected"))
        #: Legend: consensus colours, then one visibility toggle per reader in its colour.
        self.legend = QGridLayout()
        self.reader_toggles: dict[str, QCheckBox] = {}
        self.evidence_label = QLabel("")
        self.evidence_label.setWordWrap(True)
        self.measures = QGridLayout()
        #: Rows of the side-by-side table: every rating field.
        self.fields = spec.RATINGS.names
        self.compare = QTableWidget(len(self.fields), 0)
        self.compare.setVerticalHeaderLabels([spec.RATINGS[f].short for f in self.fields])
        for row, field in enumerate(self.fields):
            self.compare.verticalHeaderItem(row).setToolTip(_tip(field))
        self.compare.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        rows = self.compare.verticalHeader()  # every field in view, no scrolling
        self.compare.setMinimumHeight(
            rows.defaultSectionSize() * len(self.fields) + self.compare.horizontalHeader().height()
        )
        self.mask_buttons = QHBoxLayout()
        self.no_lesion_button = QPushButton("No lesion")
        self.no_lesion_button.clicked.connect(self._no_lesion)
        self.rationale = QPlainTextEdit()
        self.rationale.setPlaceholderText("rationale (required): why this mask and these ratings")
        self.rationale.setMaximumHeight(70)
        self.resolve_button = QPushButton("Resolve item and open the next")
        self.resolve_button.clicked.connect(self.resolve)
        self.out_dir = QLineEdit()
        self.out_dir.setPlaceholderText("consensus export folder")
        self.partial = QCheckBox("allow pending items")
        export = QPushButton("Export consensus")
        export.clicked.connect(self.export)
        layout = QVBoxLayout(self)
        layout.addLayout(grid)
        layout.addWidget(self.state)
        layout.addWidget(self.progress)
        layout.addWidget(self.queue, 1)
        layout.addWidget(self.open_button)
        layout.addWidget(self.item_label)
        layout.addLayout(self.legend)
        layout.addWidget(self.evidence_label)
        layout.addLayout(self.measures)
        layout.addWidget(self.compare, 1)
        layout.addLayout(self.mask_buttons)
        layout.addWidget(self.rationale)
        layout.addWidget(self.resolve_button)
        row = QHBoxLayout()
        row.addWidget(self.out_dir)
        row.addWidget(self.partial)
        row.addWidget(export)
        layout.addLayout(row)
        self._show_item()

    # ------------------------------------------------------------ actions
    def _browse(self) -> None:
        browse_folder(self, self.study, "Study folder")

    def _act(self, action) -> bool:
        return run_reported(self.state, action, REFUSALS)[0]

    def sign_in(self) -> None:
        """Open the study as adjudicator and build the queue on a worker thread.

        The viewer stays responsive meanwhile, the progress bar counting the cases;
        then the queue is listed and its first pending item opened.
        """
        study, adjudicator = self.study.text().strip(), self.adjudicator.text().strip()
        pin = self.pin.text()
        self.pin.clear()
        self.sign_in_button.setEnabled(False)
        self.state.setText("Signing in: building the queue…")
        run_in_background(
            lambda progress: _open_desk(study, adjudicator, pin, progress),
            bar=self.progress,
            done=self._signed_in,
            refused=self._sign_in_refused,
            errors=REFUSALS,
        ).finished.connect(lambda: self.sign_in_button.setEnabled(True))

    def _signed_in(self, desk: AdjudicationDesk) -> None:
        """Swap the session (signing in again: one session, one set of layers); show the queue."""
        if self.session is not None:
            self.session.sign_out(self.viewer)
        self.session = AdjudicationSession(desk)
        self._fill_queue()
        pending = self.session.desk.pending()
        if pending:
            self.open_item(*pending[0])

    def _sign_in_refused(self, exc: Exception) -> None:
        report_refusal(self.state, exc)
        self.progress.setFormat("")

    def open_row(self, row: int) -> None:
        """Open the item of a queue row."""
        if self.session is not None and 0 <= row < len(self._rows):
            self.open_item(*self._rows[row])

    def open_item(self, ca, item) -> None:
        """Show an item in the viewer and side by side here."""
        opened = self._act(lambda: self.session.open_item(self.viewer, ca, item))
        message = self.state.text()
        if opened:
            self.rationale.setPlainText(
                ca.decisions[item.item].rationale if item.item in ca.decisions else ""
            )
        self._fill_queue()
        self._show_item()
        if not opened:
            self.state.setText(message)  # the refusal, not the queue count

    def resolve(self) -> None:
        """Record the decision with its rationale, then open the next pending item."""
        if self.session is None or self.session.item is None:
            return
        text = self.rationale.toPlainText()
        if not self._act(lambda: self.session.desk.resolve(text)):
            return
        self._fill_queue()
        pending = self.session.desk.pending()
        if pending:
            self.open_item(*pending[0])
        else:
            self.state.setText(
                "Queue cleared: every disputed item is decided. Export the consensus."
            )
            self._show_item()

    def export(self) -> None:
        """Write the consensus export to the folder given."""
        folder = self.out_dir.text().strip()
        if self.session is None or not folder:
            self.state.setText("Sign in and give the export folder first.")
            return
        if self._act(lambda: self.session.desk.export(folder, self.partial.isChecked())):
            self.state.setText(f"Consensus exported to {folder}")

    def _set_final(self, field: str, box: QComboBox) -> None:
        value = box.currentData()
        if self.session.desk.final_rating().as_dict()[field] == value:
            return
        if self._act(lambda: self.session.desk.set_final(**{field: value})):
            self._fill_queue()  # a decided item edited is pending again
        else:
            self._show_item()  # refused: show the rating as it is

    def _no_lesion(self) -> None:
        if self._act(self.session.no_lesion):
            self._fill_queue()

    def _use_mask(self, letter: str) -> None:
        self._act(lambda: self.session.use_reader_mask(letter))
        self._fill_queue()
        self._show_item()

    def _toggle_reader(self, letter: str, visible: bool) -> None:
        self.session.set_reader_visible(letter, visible)

    # ------------------------------------------------------------ display
    def _fill_queue(self) -> None:
        session, desk = self.session, self.session.desk
        self._rows = desk.queue()
        self.queue.setRowCount(len(self._rows))
        for row, (ca, item) in enumerate(self._rows):
            values = (ca.code, str(item.item), item.describe(_short_names()), ca.status(item))
            for col, text in enumerate(values):
                cell = QTableWidgetItem(text)
                cell.setToolTip(_tip(QUEUE_SPEC[QUEUE_COLUMNS[col]]))
                if session.item is not None and session.current is ca and session.item == item:
                    font = cell.font()
                    font.setBold(True)
                    cell.setFont(font)
                self.queue.setItem(row, col, cell)
        pending = len(desk.pending())
        waiting = f"; {len(desk.waiting)} case(s) still being read" if desk.waiting else ""
        self.state.setText(
            f"Adjudicator {session.reader}: {pending} of {len(self._rows)} disputed items "
            f"pending{waiting}."
        )

    def _show_item(self) -> None:
        session = self.session
        has_item = session is not None and session.item is not None
        for widget in (self.compare, self.rationale, self.resolve_button, self.no_lesion_button):
            widget.setEnabled(has_item)
        while self.mask_buttons.count():
            widget = self.mask_buttons.takeAt(0).widget()
            if widget is not self.no_lesion_button:
                widget.deleteLater()
        self._show_legend()
        self._show_measures()
        if not has_item:
            self.item_label.setText("No item open.")
            self.evidence_label.setText("")
            self.compare.setColumnCount(0)
            return
        item, ca = session.item, session.current
        self.item_label.setText(
            f"<b>Case {ca.code} · item {item.item}</b> · {item.describe(_short_names())}"
        )
        roles = session.evidence_roles()
        self.evidence_label.setText(
            f"Evidence shown: {', '.join(roles)}" if roles else "Evidence shown: as read"
        )
        readers = session.desk.reader_ratings()
        letters = list(readers)
        self.compare.setColumnCount(len(letters) + 1)
        self.compare.setHorizontalHeaderLabels([f"Reader {x}" for x in letters] + ["Final"])
        final = session.desk.final_rating()
        for row, field in enumerate(self.fields):
            values = {_shown(field, r and getattr(r, field)) for r in readers.values() if r}
            for col, letter in enumerate(letters):
                rating = readers[letter]
                text = "not marked" if rating is None else _shown(field, getattr(rating, field))
                cell = QTableWidgetItem(text)
                cell.setToolTip(_tip(field))
                if len(values) > 1 or rating is None:
                    cell.setBackground(Qt.GlobalColor.darkRed)
                self.compare.setItem(row, col, cell)
            box = QComboBox()
            box.setToolTip(f"Your final value. {_tip(field)}")
            box.addItem("—", None)
            for value in spec.RATINGS[field].values:
                box.addItem(_shown(field, value), value)
            box.setCurrentIndex(max(0, box.findData(getattr(final, field))))
            box.currentIndexChanged.connect(lambda _i, f=field, b=box: self._set_final(f, b))
            self.compare.setCellWidget(row, len(letters), box)
        self.compare.resizeColumnsToContents()
        for letter in letters:
            button = QPushButton(f"Use Reader {letter}'s mask")
            button.setEnabled(readers[letter] is not None)
            button.clicked.connect(lambda _c=False, x=letter: self._use_mask(x))
            self.mask_buttons.addWidget(button)
        self.mask_buttons.addWidget(self.no_lesion_button)

    def _show_legend(self) -> None:
        """Colour legend and visibility toggles of the readers' outlines (per case)."""
        entries = [] if self.session is None else self.session.legend()
        shown = [(e.name, e.colour, e.contour) for e in entries]
        if shown == getattr(self, "_legend_shown", None):
            return
        self._legend_shown = shown
        while self.legend.count():
            self.legend.takeAt(0).widget().deleteLater()
        self.reader_toggles = {}
        for k, entry in enumerate(entries):
            swatch = QLabel(_legend_box(entry.colour, entry.contour))
            swatch.setToolTip(f"{entry.name}: outline {entry.contour} voxel(s) thick")
            if entry.name.startswith("Reader "):
                letter = entry.name.split()[-1]
                toggle = QCheckBox(entry.name)
                toggle.setChecked(True)
                toggle.setToolTip(f"Show or hide {entry.name}'s outlines")
                toggle.toggled.connect(lambda on, x=letter: self._toggle_reader(x, on))
                self.reader_toggles[letter] = toggle
            else:
                toggle = QLabel(entry.name)
            self.legend.addWidget(toggle, k // 2, 2 * (k % 2))
            self.legend.addWidget(swatch, k // 2, 2 * (k % 2) + 1)

    def _show_measures(self) -> None:
        """The consensus lesion's measures, each with its definition as tooltip."""
        while self.measures.count():
            self.measures.takeAt(0).widget().deleteLater()
        session = self.session
        if session is None or session.item is None:
            return
        for k, (column, value) in enumerate(session.desk.final_measures()):
            label = QLabel(f"{column.label} <b>{column.format(value)}</b>")
            label.setToolTip(column.tooltip)
            self.measures.addWidget(label, k // 4, k % 4)


def _open_desk(study: str, adjudicator: str, pin: str, progress: Progress) -> AdjudicationDesk:
    """Sign in and build the queue (on the worker thread); the store closes on failure."""
    desk = AdjudicationDesk(study, adjudicator, pin)
    try:
        desk.refresh_queue(progress)
    except BaseException:
        desk.close()
        raise
    return desk
