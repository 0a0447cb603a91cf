"""Export a reading (tables, label map, provenance) and reopen it to continue."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from napari.utils.notifications import show_error, show_info
from qtpy.QtWidgets import QFileDialog, QGridLayout, QGroupBox, QLabel, QLineEdit, QPushButton

from .._napari.bindings import case_of
from ..core.export import export_reading, load_reading
from ..core.ratings import RatingError
from ..core.volume import CaseError


class ReadingBox(QGroupBox):
    """Reader id, export folder, *Export reading* and *Reopen reading*.

    ``binding_source`` is a callable giving the current :class:`LabelsBinding`.
    """

    def __init__(self, binding_source):
        super().__init__("Reading")
        self._binding = binding_source
        self.started_at = datetime.now(UTC)
        self.reader = QLineEdit()
        self.reader.setPlaceholderText("reader id, e.g. r1")
        self.folder = QLineEdit()
        self.folder.setPlaceholderText("export folder (default: <case>/readings)")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        self.export_button = QPushButton("Export reading")
        self.export_button.clicked.connect(self.export)
        self.reopen_button = QPushButton("Reopen reading")
        self.reopen_button.clicked.connect(self.reopen)
        self.status = QLabel("")
        self.status.setWordWrap(True)
        grid = QGridLayout(self)
        grid.addWidget(QLabel("Reader"), 0, 0)
        grid.addWidget(self.reader, 0, 1, 1, 2)
        grid.addWidget(QLabel("Folder"), 1, 0)
        grid.addWidget(self.folder, 1, 1)
        grid.addWidget(browse, 1, 2)
        grid.addWidget(self.export_button, 2, 0, 1, 2)
        grid.addWidget(self.reopen_button, 2, 2)
        grid.addWidget(self.status, 3, 0, 1, 3)

    def _browse(self) -> None:
        chosen = QFileDialog.getExistingDirectory(self, "Export folder")
        if chosen:
            self.folder.setText(chosen)

    def _target(self):
        """(binding, case, reader, folder, case code), or None with the reason shown."""
        binding = self._binding()
        case = case_of(binding.layer) if binding is not None else None
        reader = self.reader.text().strip()
        if case is None or not reader:
            self._say("Open a case and type your reader id first.", error=True)
            return None
        folder = Path(self.folder.text().strip() or (case.folder or Path.cwd()) / "readings")
        code = case.folder.name if case.folder is not None else "case"
        return binding, case, reader, folder, code

    def export(self) -> None:
        """Write the lesion table, patient summary, label map and provenance."""
        target = self._target()
        if target is None:
            return
        binding, case, reader, folder, code = target
        try:
            folder.mkdir(parents=True, exist_ok=True)
            written = export_reading(
                folder,
                case,
                binding.model.labels,
                binding.model.table(),
                binding.ratings,
                reader,
                code,
                binding.model.shell_width_mm,
                started_at=self.started_at,
            )
        except (OSError, ValueError) as exc:
            self._say(f"Not exported: {exc}", error=True)
            return
        folder = written.paths["lesions"].parent
        self._say(f"Exported {len(binding.model.ids)} lesions to {folder}.")

    def reopen(self) -> None:
        """Load a saved label map and ratings into the bound layer, to continue."""
        target = self._target()
        if target is None:
            return
        binding, case, reader, folder, code = target
        try:
            labels, ratings = load_reading(folder, case, reader, code)
        except (OSError, ValueError, CaseError, RatingError) as exc:
            self._say(f"Not reopened: {exc}", error=True)
            return
        dtype = binding.layer.data.dtype  # keep the layer's id range (uint8 maps are common)
        fits = labels.size == 0 or labels.max() <= np.iinfo(dtype).max
        binding.layer.data = labels.astype(dtype) if fits else labels
        binding.ratings.load(dict(ratings.items()))
        rated, total = binding.ratings.progress(binding.model.ids)
        self._say(f"Reopened: {total} lesions, {rated} rated.")

    def _say(self, text: str, error: bool = False) -> None:
        self.status.setText(text)
        self.status.setStyleSheet("color: #ff8080;" if error else "")
        (show_error if error else show_info)(text)
