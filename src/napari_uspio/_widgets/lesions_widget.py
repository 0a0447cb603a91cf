"""The Lesions dock widget: the live per-lesion table of a bound Labels layer."""

from __future__ import annotations

import math

from napari.layers import Labels
from napari.utils.notifications import show_error
from qtpy.QtCore import Qt, QTimer
from qtpy.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from .._napari.bindings import (
    bind_opened_cases,
    bind_to_open_case,
    binding_for,
    layer_to_measure,
)
from .._napari.desk import desk_for
from .._napari.overlays import ShellOverlay
from .._napari.viewer import show_lesion
from ..core import fields as spec
from ..core.lesions import DEFAULT_SHELL_WIDTH_MM
from ..core.ratings import rating_columns

#: Table refreshes are coalesced to one per this many ms (the model itself never lags).
REFRESH_MS = 80
#: Rows the lesion table always shows.
MIN_ROWS = 8


class _Item(QTableWidgetItem):
    """A table cell that shows a number with its column's decimals and sorts by it, NaN last."""

    def __init__(self, value, decimals: int):
        number = float(value)
        super().__init__("" if math.isnan(number) else f"{number:.{decimals}f}")
        self.number = math.inf if math.isnan(number) else number
        self.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)

    def __lt__(self, other):
        return self.number < getattr(other, "number", math.inf)


class _TextItem(QTableWidgetItem):
    """A rating cell: its text, unrated ("") sorted last."""

    def __init__(self, value):
        super().__init__("" if value is None else str(value))

    def __lt__(self, other):
        return (self.text() == "", self.text()) < (other.text() == "", other.text())


def _cell(value, column: str) -> QTableWidgetItem:
    if column in rating_columns():
        return _TextItem("yes" if value is True else "" if value is False else value)
    return _Item(value, spec.column(column).decimals or 0)


def _shown_columns(table, every: bool) -> list[str]:
    """Class first (the table is narrow), then the measures, then the other ratings.

    Unless ``every``: the class and the measures with a short label in the spec.
    """
    names = rating_columns()
    measures = [c for c in table.columns if c not in names]
    if not every:
        measures = [c for c in measures if spec.column(c).label]
    ratings = [c for c in table.columns if c in names and c != "lesion_class"] if every else []
    return ["lesion_class", *measures, *ratings] if "lesion_class" in table else measures


def _header(name: str, every: bool) -> QTableWidgetItem:
    """A column header: its short label in the compact table, its definition as tooltip."""
    declared = spec.column(name)
    item = QTableWidgetItem(name if every or not declared.label else declared.label)
    item.setToolTip(declared.tooltip)
    return item


class LesionsWidget(QWidget):
    """Per-lesion MTR, susceptibility and enhancement, live while painting."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.layer: Labels | None = None
        self.binding = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self.refresh)
        self.shell = ShellOverlay(self.viewer)

        self.layer_box = QComboBox()
        self.layer_box.currentIndexChanged.connect(
            lambda _: self._attach(self.layer_box.currentData())
        )
        self.summary = QLabel("No lesion selected.")
        self.summary.setWordWrap(True)
        self.summary.setTextFormat(Qt.TextFormat.RichText)
        self.table = QTableWidget(0, 0)
        self.table.setSortingEnabled(True)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.table.itemSelectionChanged.connect(self._row_selected)
        self.table.cellClicked.connect(lambda *_: self._row_selected())
        rows = self.table.verticalHeader().defaultSectionSize()
        self.table.setMinimumHeight(rows * (MIN_ROWS + 1) + 4)  # MIN_ROWS rows and the header
        self.all_columns = QCheckBox("all columns")
        self.all_columns.setToolTip("every measure and rating column, named as in the CSV")
        self.all_columns.toggled.connect(lambda _: self.refresh())

        self.new_button = QPushButton("New lesion")
        self.new_button.clicked.connect(self.new_lesion)
        self.delete_button = QPushButton("Delete lesion")
        self.delete_button.clicked.connect(self.delete_selected)
        self.merge_target = QSpinBox()
        self.merge_target.setRange(1, 2**31 - 1)
        self.merge_target.setPrefix("into lesion ")
        self.merge_button = QPushButton("Merge")
        self.merge_button.clicked.connect(self.merge_selected)
        self.shell_check = QCheckBox("Show NAWM shell")
        self.shell_check.toggled.connect(lambda _: self._update_shell())
        self.shell_width = QDoubleSpinBox()
        self.shell_width.setRange(0.5, 20.0)
        self.shell_width.setSingleStep(0.5)
        self.shell_width.setSuffix(" mm shell")
        self.shell_width.setValue(DEFAULT_SHELL_WIDTH_MM)
        self.shell_width.setKeyboardTracking(False)  # typed values apply on Enter
        self.shell_width.valueChanged.connect(self._set_shell_width)

        layout = QVBoxLayout(self)
        row = QHBoxLayout()
        row.addWidget(QLabel("Labels layer"))
        row.addWidget(self.layer_box, 1)
        layout.addLayout(row)
        layout.addWidget(self.summary)
        grid = QGridLayout()
        grid.addWidget(self.new_button, 0, 0)
        grid.addWidget(self.delete_button, 0, 1)
        grid.addWidget(self.merge_target, 1, 0)
        grid.addWidget(self.merge_button, 1, 1)
        grid.addWidget(self.shell_check, 2, 0)
        grid.addWidget(self.shell_width, 2, 1)
        grid.addWidget(self.all_columns, 3, 0)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(grid)
        layout.addWidget(self.table, 1)

        self.viewer.layers.events.inserted.connect(self._layers_changed)
        self.viewer.layers.events.removed.connect(self._layers_changed)
        self.desk = desk_for(napari_viewer)
        self.desk.changed.connect(self._follow_desk)  # a case swapped into the same layers
        self._layers_changed()

    # ---- binding --------------------------------------------------------------------

    def _layers_changed(self, event=None) -> None:
        self._offer(bind_opened_cases(self.viewer.layers, self.shell_width.value()))

    def _follow_desk(self) -> None:
        binding = self.desk.binding
        if binding is not None and binding is not self.binding:
            self._layers_changed()

    def _offer(self, candidates: list[Labels]) -> None:
        """List the lesion layers in the combo box and attach the one to measure."""
        chosen = layer_to_measure(candidates, self.layer)
        self.layer_box.blockSignals(True)
        self.layer_box.clear()
        for layer in candidates:
            self.layer_box.addItem(layer.name, layer)
        self.layer_box.setCurrentIndex(-1 if chosen is None else candidates.index(chosen))
        self.layer_box.blockSignals(False)
        self._attach(chosen)

    def _attach(self, layer: Labels | None) -> None:
        if layer is self.layer and (layer is None or binding_for(layer) is self.binding):
            return
        self._detach()
        self.layer = layer
        if layer is None:
            self.summary.setText("No lesion selected.")
            self._update_shell()
            self.refresh()
            return
        try:
            binding = bind_to_open_case(layer, self.viewer.layers, self.shell_width.value())
        except ValueError as exc:
            show_error(str(exc))
            self.summary.setText(str(exc))
            return
        if binding is None:
            self.summary.setText(f"{layer.name!r} is not on an open case: open a case first.")
            self.refresh()
            return
        self.binding = binding
        self.shell_width.setValue(binding.model.shell_width_mm)
        binding.changed.connect(self._schedule)
        layer.events.selected_label.connect(self._label_selected)
        self.refresh()

    def _detach(self) -> None:
        if self.binding is not None:
            self.binding.changed.disconnect(self._schedule)
        if self.layer is not None:
            self.layer.events.selected_label.disconnect(self._label_selected)
        self.binding = None
        self.layer = None

    def closeEvent(self, event) -> None:  # noqa: D102 - Qt override
        self._detach()
        self.shell.remove()
        self.viewer.layers.events.inserted.disconnect(self._layers_changed)
        self.viewer.layers.events.removed.disconnect(self._layers_changed)
        self.desk.changed.disconnect(self._follow_desk)
        super().closeEvent(event)

    # ---- view -----------------------------------------------------------------------

    def _schedule(self, *_) -> None:
        self._timer.start()

    def refresh(self) -> None:
        """Redraw the table and the selected lesion's numbers from the model."""
        table = self.binding.table() if self.binding else None
        self.table.setSortingEnabled(False)
        self.table.blockSignals(True)
        if table is None:
            self.table.setRowCount(0)
        else:
            every = self.all_columns.isChecked()
            columns = _shown_columns(table, every)
            self.table.setColumnCount(len(columns) + 1)
            for c, name in enumerate(["lesion", *columns]):
                self.table.setHorizontalHeaderItem(c, _header(name, every))
            self.table.setRowCount(len(table))
            values = table[columns].to_numpy(dtype=object)
            for r, lesion_id in enumerate(table.index):
                self.table.setItem(r, 0, _Item(lesion_id, 0))
                for c, column in enumerate(columns):
                    self.table.setItem(r, c + 1, _cell(values[r, c], column))
        self.table.blockSignals(False)
        self.table.setSortingEnabled(True)
        self._label_selected()

    def _label_selected(self, event=None) -> None:
        if self.layer is None or self.binding is None:
            return
        lesion_id = int(self.layer.selected_label)
        self._show_summary(lesion_id)
        self.table.blockSignals(True)
        self.table.clearSelection()
        for r in range(self.table.rowCount()):
            item = self.table.item(r, 0)
            if item is not None and int(item.number) == lesion_id:
                self.table.selectRow(r)
                break
        self.table.blockSignals(False)
        self._update_shell()

    def _show_summary(self, lesion_id: int) -> None:
        table = self.binding.table()
        if lesion_id not in table.index:
            self.summary.setText(f"<b>Lesion {lesion_id}</b>: not painted yet.")
            return
        row = table.loc[lesion_id]
        lesion_class = row["lesion_class"] or "unrated"
        summarised = [c for c in spec.COLUMNS.values() if c.label and c.name in row.index]
        parts = [
            f"{c.label} <b>{c.format(row[c.name])}</b>"
            for c in summarised
            if not math.isnan(row[c.name])
        ]
        self.summary.setText(
            f"<span style='font-size:15pt'><b>Lesion {lesion_id}</b></span> · {lesion_class}"
            "<br>" + " · ".join(parts)
        )

    # ---- actions --------------------------------------------------------------------

    def _row_selected(self) -> None:
        rows = self.table.selectionModel().selectedRows()
        if rows and self.layer is not None:
            self.select_lesion(int(self.table.item(rows[0].row(), 0).number))

    def select_lesion(self, lesion_id: int) -> None:
        """Select a lesion's label and centre the view on it."""
        show_lesion(self.viewer, self.binding, lesion_id)

    def new_lesion(self) -> None:
        """Select the next free id and the paint brush."""
        if self.layer is None or self.binding is None:
            return
        self.layer.selected_label = self.binding.new_lesion_id()
        self.layer.mode = "paint"
        self.viewer.layers.selection.active = self.layer

    def delete_selected(self) -> None:
        """Erase the selected lesion (undoable)."""
        if self.binding is None:
            return
        if self.layer.selected_label in self.binding.model.table().index:
            self.binding.delete_lesion(int(self.layer.selected_label))

    def merge_selected(self) -> None:
        """Merge the selected lesion into the lesion given in the spin box (undoable)."""
        if self.layer is None or self.binding is None:
            return
        source, target = int(self.layer.selected_label), int(self.merge_target.value())
        ids = self.binding.model.table().index
        if source == target or source not in ids or target not in ids:
            show_error(f"Merge needs two existing lesions (selected {source}, into {target}).")
            return
        self.binding.merge_lesions(source, target)
        self.layer.selected_label = target

    def _set_shell_width(self) -> None:
        if (
            self.binding is not None
            and self.shell_width.value() != self.binding.model.shell_width_mm
        ):
            self.binding.model.shell_width_mm = self.shell_width.value()
            self._update_shell()

    def _update_shell(self) -> None:
        """Show the selected lesion's NAWM shell, or hide it."""
        binding = self.binding
        lesion_id = int(self.layer.selected_label) if binding is not None else 0
        if self.shell_check.isChecked() and binding is not None and lesion_id in binding.model.ids:
            self.shell.show(binding, lesion_id)
        else:
            self.shell.hide()
