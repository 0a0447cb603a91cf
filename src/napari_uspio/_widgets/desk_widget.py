"""The Reading desk dock: one dock that fits the screen, for everything a reader does.

Tabs hold the Ratings panel, the live lesion table and the reading session (sign
in, next case, mark done); a bar above them switches the compare layout, the
lesion overlay and picks the extra compare panels. Every control is a key of
the desk too (shown on it).
"""

from __future__ import annotations

from qtpy.QtWidgets import (
    QHBoxLayout,
    QMenu,
    QPushButton,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from .._napari.compare import EXTRA_PANELS
from .._napari.desk import desk_for
from .._napari.reading_keys import key_of
from .lesions_widget import LesionsWidget
from .ratings_widget import RatingsWidget
from .session_widget import SessionWidget


class DeskWidget(QWidget):
    """Ratings, Lesions and Reading session in tabs, under the desk's view controls."""

    def __init__(self, napari_viewer):
        super().__init__()
        self.viewer = napari_viewer
        self.desk = desk_for(napari_viewer)
        self.ratings = RatingsWidget(napari_viewer)
        self.lesions = LesionsWidget(napari_viewer)
        self.session = SessionWidget(napari_viewer)
        self.tabs = QTabWidget()
        self.tabs.addTab(self.ratings, "Ratings")
        self.tabs.addTab(self.lesions, "Lesions")
        self.tabs.addTab(self.session, "Session")

        self.compare_button = self._button("Compare", "toggle_compare")
        self.overlay_button = self._button("Outline / fill", "cycle_overlay")
        self.panels = QToolButton()
        self.panels.setText("Panels…")
        self.panels.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(self.panels)
        self.panel_actions = {}
        for role in EXTRA_PANELS:
            action = menu.addAction(role)
            action.setCheckable(True)
            action.toggled.connect(lambda _checked: self._set_panels())
            self.panel_actions[role] = action
        self.panels.setMenu(menu)
        self.panels.setToolTip(
            "extra panels of the compare layout, beside pre | post Gd and USPIO"
        )

        bar = QHBoxLayout()
        bar.addWidget(self.compare_button)
        bar.addWidget(self.overlay_button)
        bar.addWidget(self.panels)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addLayout(bar)
        layout.addWidget(self.tabs, 1)

    def _button(self, text: str, action: str) -> QPushButton:
        key = key_of(action)
        button = QPushButton(f"{text} [{key}]")
        button.clicked.connect(lambda _checked=False: self.desk.press(key))
        return button

    def _set_panels(self) -> None:
        chosen = tuple(role for role, action in self.panel_actions.items() if action.isChecked())
        self.desk.set_extra_panels(chosen)
