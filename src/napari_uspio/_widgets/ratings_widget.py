"""The Ratings dock widget: rate the selected lesion by keyboard, walk the unrated ones."""

from __future__ import annotations

from napari.layers import Labels
from napari.utils.notifications import show_error
from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QButtonGroup,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .._napari.bindings import binding_for
from .._napari.viewer import show_lesion
from ..core import fields as spec
from ..core.ratings import RatingError
from .reading_box import ReadingBox

NEXT_KEY, PREVIOUS_KEY, COMMENT_KEY = "N", "P", "/"


class RatingsWidget(QWidget):
    """Rate the selected lesion: every choice has a key, shown on its button.

    Fields, labels and keys are those of :data:`napari_uspio.core.fields.RATINGS`.

    Clicking a checked choice again (or pressing its key) clears it: unrated is
    a state of its own, distinct from "none".
    """

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.layer: Labels | None = None
        self.binding = None
        self.title = QLabel("No lesion selected.")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QLabel("")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.message.setStyleSheet("color: #ff8080;")
        self.buttons: dict[str, dict[str, QPushButton]] = {}
        self._keys: dict[str, object] = {}
        grid = QGridLayout()
        for row, field in enumerate(spec.RATINGS):
            title = QLabel(field.title)
            title.setToolTip(field.description)
            grid.addWidget(title, row, 0)
            group = QButtonGroup(self)
            group.setExclusive(False)
            self.buttons[field.name] = {}
            for col, choice in enumerate(field.choices, start=1):
                button = QPushButton(f"{choice.shown}  [{choice.key}]")
                button.setCheckable(True)
                button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                choose = self._chooser(field.name, choice.value)
                button.clicked.connect(choose)
                group.addButton(button)
                grid.addWidget(button, row, col)
                self.buttons[field.name][choice.value] = button
                self._keys[choice.key] = choose
        self.comment = QLineEdit()
        self.comment.setPlaceholderText(f"comment [{COMMENT_KEY}], Enter to save")
        self.comment.returnPressed.connect(self._save_comment)
        previous = QPushButton(f"◀ previous unrated [{PREVIOUS_KEY}]")
        previous.clicked.connect(lambda: self.step(-1))
        following = QPushButton(f"next unrated [{NEXT_KEY}] ▶")
        following.clicked.connect(lambda: self.step(+1))
        self._keys[NEXT_KEY] = lambda: self.step(+1)
        self._keys[PREVIOUS_KEY] = lambda: self.step(-1)
        self._keys[COMMENT_KEY] = self.comment.setFocus

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addWidget(self.progress)
        layout.addLayout(grid)
        layout.addWidget(self.comment)
        steps = QHBoxLayout()
        steps.addWidget(previous)
        steps.addWidget(following)
        layout.addLayout(steps)
        layout.addWidget(self.message)
        self.reading = ReadingBox(lambda: self.binding)
        layout.addWidget(self.reading)
        layout.addStretch(1)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)

        self.viewer.layers.selection.events.active.connect(self._follow_active)
        self._follow_active()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        """Keys work while the widget has focus (the comment field keeps its typing)."""
        action = self._keys.get(event.text().upper())
        if action is None or event.modifiers() & ~Qt.KeyboardModifier.ShiftModifier:
            super().keyPressEvent(event)
            return
        action()

    def _chooser(self, field: str, value: str):
        """The callback of a choice's button and key: :meth:`choose` that value."""
        return lambda _checked=False: self.choose(field, value)

    # ---- following the bound lesions layer -------------------------------------------

    def _follow_active(self, event=None) -> None:
        active = self.viewer.layers.selection.active
        layers = [active] if isinstance(active, Labels) else []
        layers += [lay for lay in self.viewer.layers if isinstance(lay, Labels)]
        layer = next((lay for lay in layers if binding_for(lay) is not None), None)
        if layer is self.layer:
            return
        self._detach()
        if layer is not None:
            self.layer, self.binding = layer, binding_for(layer)
            # in a blinded reading session the study store saves and exports everything
            self.reading.setVisible("study_code" not in layer.metadata)
            layer.events.selected_label.connect(self.refresh)
            self.binding.changed.connect(self.refresh)
        self.refresh()

    def _detach(self) -> None:
        if self.layer is not None:
            self.layer.events.selected_label.disconnect(self.refresh)
            self.binding.changed.disconnect(self.refresh)
        self.layer = self.binding = None

    def closeEvent(self, event) -> None:  # noqa: D102 - Qt override
        self._detach()
        self.viewer.layers.selection.events.active.disconnect(self._follow_active)
        super().closeEvent(event)

    # ---- actions -----------------------------------------------------------------

    @property
    def lesion_id(self) -> int | None:
        """The selected lesion, when it exists in the bound layer."""
        if self.binding is None:
            return None
        lesion_id = int(self.layer.selected_label)
        return lesion_id if lesion_id in self.binding.model.table().index else None

    def choose(self, field: str, value: str) -> None:
        """Set ``field`` to ``value`` for the selected lesion, or clear it if it is set."""
        lesion_id = self.lesion_id
        if lesion_id is None:
            self.message.setText("Select a painted lesion first.")
            return
        try:
            if getattr(self.binding.ratings.get(lesion_id), field) == value:
                self.binding.ratings.clear(lesion_id, field)
            else:
                self.binding.ratings.set(lesion_id, **{field: value})
        except RatingError as exc:
            self.message.setText(str(exc))
            show_error(str(exc))
        else:
            self.message.setText("")
        self.refresh()

    def _save_comment(self) -> None:
        if self.lesion_id is not None:
            self.binding.ratings.set(self.lesion_id, comment=self.comment.text())
        self.setFocus()

    def step(self, direction: int) -> None:
        """Select the next (+1) or previous (-1) unrated lesion and centre on it."""
        if self.binding is None:
            return
        ids = self.binding.model.ids
        current = int(self.layer.selected_label)
        find = (
            self.binding.ratings.next_unrated
            if direction > 0
            else self.binding.ratings.previous_unrated
        )
        lesion_id = find(ids, current)
        if lesion_id is None:
            self.message.setText("Every lesion is rated.")
            return
        show_lesion(self.viewer, self.binding, lesion_id)

    # ---- view --------------------------------------------------------------------

    def refresh(self, *_) -> None:
        """Show the selected lesion's rating, its class and the progress."""
        lesion_id = self.lesion_id
        enabled = lesion_id is not None
        for field, buttons in self.buttons.items():
            current = getattr(self.binding.ratings.get(lesion_id), field) if enabled else None
            for value, button in buttons.items():
                button.setEnabled(enabled)
                button.setChecked(value == current)
        self.comment.setEnabled(enabled)
        if self.binding is None:
            self.title.setText("No bound lesions layer: open a case.")
            self.progress.setText("")
            return
        rated, total = self.binding.ratings.progress(self.binding.model.ids)
        self.progress.setText(f"rated {rated} of {total}")
        if not enabled:
            self.title.setText("Select a painted lesion.")
            return
        rating = self.binding.ratings.get(lesion_id)
        self.comment.setText(rating.comment)
        cls = rating.lesion_class or "unrated"
        self.title.setText(
            f"<span style='font-size:15pt'><b>Lesion {lesion_id}</b></span> · class <b>{cls}</b>"
        )
