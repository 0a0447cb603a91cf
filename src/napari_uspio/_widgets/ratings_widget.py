"""The Ratings dock widget: the selected lesion's rating, its buttons and keys, the progress."""

from __future__ import annotations

from qtpy.QtCore import Qt
from qtpy.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from .._napari.desk import desk_for
from .._napari.reading_keys import key_of
from ..core import fields as spec
from .reading_box import ReadingBox

NEXT_KEY, PREVIOUS_KEY = key_of("step", "next"), key_of("step", "previous")
COMMENT_KEY = key_of("request_comment")
_BACKSPACE = getattr(Qt.Key.Key_Backspace, "value", Qt.Key.Key_Backspace)


def _key_text(event) -> str | None:
    """The napari key-binding text of a Qt key event ("Q", "Shift+Q", "Ctrl+Z")."""
    code = int(getattr(event.key(), "value", event.key()))
    base = "Backspace" if code == _BACKSPACE else (chr(code) if 32 < code < 127 else None)
    if base is None:
        return None
    mods = event.modifiers()
    prefix = "Ctrl+" if mods & Qt.KeyboardModifier.ControlModifier else ""
    prefix += "Shift+" if mods & Qt.KeyboardModifier.ShiftModifier and base.isalpha() else ""
    return prefix + base.upper()


class RatingsWidget(QWidget):
    """Rate the selected lesion: every choice has a key, shown on its button.

    Fields, labels and keys are those of :data:`napari_uspio.core.fields.RATINGS`;
    the keys work on the image and in this panel alike (the viewer's
    :class:`~napari_uspio._napari.desk.ReadingDesk` answers both). A choice's key
    or button sets it; its field's clear button (or Shift + key) makes it
    unrated again; Ctrl+Z undoes.
    """

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.desk = desk_for(napari_viewer)
        self.binding = None
        self.title = QLabel("No lesion selected.")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.progress = QLabel("")
        self.message = QLabel("")
        self.message.setWordWrap(True)
        self.buttons: dict[str, dict[str, QPushButton]] = {}
        self.clear_buttons: dict[str, QPushButton] = {}
        grid = QGridLayout()
        grid.setHorizontalSpacing(3)
        grid.setVerticalSpacing(2)
        clear_column = 1 + max(len(field.choices) for field in spec.RATINGS)
        for row, field in enumerate(spec.RATINGS):
            title = QLabel(field.short)
            title.setToolTip(f"{field.title}: {field.description}")
            grid.addWidget(title, row, 0)
            self.buttons[field.name] = {}
            for col, choice in enumerate(field.choices, start=1):
                button = QPushButton(f"{choice.shown} [{choice.key}]")
                button.setCheckable(True)
                button.setFocusPolicy(Qt.FocusPolicy.NoFocus)
                button.setToolTip(f"{field.title}: {choice.shown} (key {choice.key})")
                button.clicked.connect(self._presser(choice.key))
                grid.addWidget(button, row, col)
                self.buttons[field.name][choice.value] = button
            clear = QPushButton("×")
            clear.setFixedWidth(24)
            clear.setFocusPolicy(Qt.FocusPolicy.NoFocus)
            clear.setToolTip(f"clear {field.title} (unrated); Backspace clears the last set")
            clear.clicked.connect(lambda _=False, name=field.name: self._act("clear", name))
            grid.addWidget(clear, row, clear_column)
            self.clear_buttons[field.name] = clear
        self.comment = QLineEdit()
        self.comment.setPlaceholderText(f"comment [{COMMENT_KEY}], Enter to save")
        self.comment.returnPressed.connect(self._save_comment)
        previous = QPushButton(f"◀ previous unrated [{PREVIOUS_KEY}]")
        previous.clicked.connect(self._presser(PREVIOUS_KEY))
        following = QPushButton(f"next unrated [{NEXT_KEY}] ▶")
        following.clicked.connect(self._presser(NEXT_KEY))
        for button in (previous, following):
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
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

        self.desk.changed.connect(self._follow_desk)
        self.desk.comment_requested.connect(self._focus_comment)
        self.desk.said.connect(self._show_message)
        self._follow_desk()

    def keyPressEvent(self, event) -> None:  # noqa: N802 - Qt override
        """The desk's keys work while the panel has focus (the comment keeps its typing)."""
        key = _key_text(event)
        if key is None or not self.desk.press(key):
            super().keyPressEvent(event)

    def _presser(self, key: str):
        """The callback of a button: press its key on the desk."""
        return lambda _checked=False: self.desk.press(key)

    def _act(self, action: str, *args) -> None:
        getattr(self.desk, action)(*args)
        self.desk.changed.emit()

    # ---- following the desk's lesions layer ---------------------------------------

    def _follow_desk(self) -> None:
        binding = self.desk.binding
        if binding is not self.binding:
            self._detach()
            if binding is not None:
                self.binding = binding
                # in a blinded reading session the study store saves and exports everything
                self.reading.setVisible("study_code" not in binding.layer.metadata)
                binding.layer.events.selected_label.connect(self.refresh)
                binding.changed.connect(self.refresh)
        self.refresh()

    def _detach(self) -> None:
        if self.binding is not None:
            self.binding.layer.events.selected_label.disconnect(self.refresh)
            self.binding.changed.disconnect(self.refresh)
        self.binding = None

    def closeEvent(self, event) -> None:  # noqa: D102 - Qt override
        self._detach()
        self.desk.changed.disconnect(self._follow_desk)
        self.desk.comment_requested.disconnect(self._focus_comment)
        self.desk.said.disconnect(self._show_message)
        super().closeEvent(event)

    # ---- actions -----------------------------------------------------------------

    @property
    def lesion_id(self) -> int | None:
        """The selected lesion, when it exists in the bound layer."""
        return self.desk.lesion_id

    def choose(self, field: str, value: str) -> None:
        """Set ``field`` to ``value`` for the selected lesion (the desk's action)."""
        self._act("choose", field, value)

    def _focus_comment(self) -> None:
        self.comment.setFocus()

    def _save_comment(self) -> None:
        if self.lesion_id is not None:
            self._act("comment", self.comment.text())
        self.setFocus()

    # ---- view --------------------------------------------------------------------

    def _show_message(self, message: str) -> None:
        """What the desk last told the reader, red when it refused."""
        refused = message.startswith("Refused")
        self.message.setStyleSheet("color: #ff8080;" if refused else "color: #a0e0a0;")
        self.message.setText(message)

    def refresh(self, *_) -> None:
        """Show the selected lesion's rating, its class, the progress and the last message."""
        lesion_id = self.lesion_id
        enabled = lesion_id is not None
        rating = self.binding.ratings.get(lesion_id) if enabled else None
        for field, buttons in self.buttons.items():
            current = getattr(rating, field) if enabled else None
            for value, button in buttons.items():
                button.setEnabled(enabled)
                button.setChecked(value == current)
            self.clear_buttons[field].setEnabled(enabled and current is not None)
        self.comment.setEnabled(enabled)
        self._show_message(self.desk.message)
        if self.binding is None:
            self.title.setText("No bound lesions layer: open a case.")
            self.progress.setText("")
            return
        rated, total = self.binding.ratings.progress(self.binding.model.ids)
        self.progress.setText(f"rated {rated} of {total}")
        if not enabled:
            self.title.setText("Select a painted lesion (L picks the one under the cursor).")
            return
        if not self.comment.hasFocus():
            self.comment.setText(rating.comment)
        cls = rating.lesion_class or "unrated"
        self.title.setText(
            f"<span style='font-size:15pt'><b>Lesion {lesion_id}</b></span> · class <b>{cls}</b>"
        )
