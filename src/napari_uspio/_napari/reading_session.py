"""A reader's blinded session in a viewer: next case by code, autosave, time, done.

Blinding: the viewer shows only the case code (window title), layers named by
role, and no file path, folder name, header text or loading warning that could
name a subject. Everything the reader does is journaled by :class:`Autosave`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from napari.layers import Layer

from ..core.case import load_case
from ..core.ratings import Ratings
from ..core.roles import DERIVED
from ..core.study.autosave import Autosave
from ..core.study.manifest import load_study
from ..core.study.order import OrderEntry
from .bindings import bind
from .layers import case_layers
from .viewer import set_radiological_view

LABEL_DTYPE = np.uint16


class ReadingSession:
    """One reader signed in to a study, reading their cases in their own order."""

    def __init__(self, study_dir: str | Path, reader: str):
        self.study = load_study(study_dir)
        self.study.reader(reader)  # refuses an unknown reader, naming the known ones
        self.reader = reader
        self.store = self.study.open_store()
        self.entry: OrderEntry | None = None
        self.layers: list[Layer] = []
        self.binding = None
        self.autosave: Autosave | None = None

    @property
    def progress(self) -> tuple[int, int]:
        """``(k, n)``: the reader is on reading k of n (k = done + 1 while reading)."""
        mine = next(p for p in self.store.status() if p.reader == self.reader)
        return min(mine.done + (self.entry is not None), mine.total), mine.total

    def open_next(self, viewer) -> OrderEntry | None:
        """Close the current case and open the reader's next one (None: all done)."""
        entry = self.store.next_case(self.reader)
        self.close_case(viewer)
        if entry is not None:
            self.open(viewer, entry)
        return entry

    def open(self, viewer, entry: OrderEntry) -> None:
        """Open one reading: layers by role, the reader's saved mask and ratings."""
        case = load_case(self.study.case_folder(entry.case_id))
        self.store.open_case(self.reader, entry.code)
        labels = self.store.labels(self.reader, entry.code, case.grid.shape, LABEL_DTYPE)
        ratings = Ratings(
            {
                lesion: fields
                for lesion, fields in self.store.ratings(self.reader, entry.code).items()
            }
        )
        self.layers = []
        for data, kwargs, kind in case_layers(case):
            if not self._shown(kwargs["name"]):
                continue
            if kwargs["name"] == "lesions":
                data = labels
            kwargs["metadata"] = {**kwargs["metadata"], "study_code": entry.code}
            self.layers.append(Layer.create(data, kwargs, kind))
        # bound before it is shown, so the widgets find it bound when it is inserted
        self.binding = bind(self.layers[-1], case, self.study.shell_width_mm, ratings)
        for layer in self.layers:
            viewer.add_layer(layer)
        self.autosave = Autosave(self.store, self.reader, entry.code, self.binding.model, ratings)
        self.entry = entry
        viewer.title = f"napari-uspio — case {entry.code}"
        set_radiological_view(viewer)
        viewer.reset_view()

    def _shown(self, name: str) -> bool:
        """Whether the study shows a layer: its role, or the roles a derived map needs."""
        shown = self.study.shown_roles
        if not shown or name in ("lesions", "wm_mask") or name in shown:
            return True
        return name in DERIVED and all(role in shown for role in DERIVED[name][0])

    def close_case(self, viewer) -> None:
        """Stop autosaving and remove the case's layers (everything is already saved)."""
        if self.autosave is not None:
            if self.store.case_state(self.reader, self.entry.code).status != "done":
                self.autosave.compact()
            self.autosave.disconnect()
            self.binding.disconnect()
        for layer in self.layers:
            if layer in viewer.layers:
                viewer.layers.remove(layer)
        self.layers, self.binding, self.autosave, self.entry = [], None, None, None
        viewer.title = "napari-uspio — reading session"

    def add_time(self, seconds: float) -> None:
        """Count reading time on the open case and on its selected lesion."""
        if self.entry is None:
            return
        self.store.add_time(self.reader, self.entry.code, seconds)
        lesion = int(self.binding.layer.selected_label)
        if lesion in self.binding.model.table().index:
            self.store.add_time(self.reader, self.entry.code, seconds, lesion=lesion)

    def mark_done(self, viewer) -> OrderEntry | None:
        """Lock the open case as read and open the next one."""
        if self.entry is not None:
            self.autosave.compact()  # a done case is locked, compaction too
            self.store.mark_done(self.reader, self.entry.code)
        return self.open_next(viewer)

    def done_codes(self) -> list[str]:
        """Codes of the reader's cases marked done (for an explicit reopen)."""
        return [
            e.code
            for e in self.store.order(self.reader)
            if self.store.case_state(self.reader, e.code).status == "done"
        ]

    def reopen(self, viewer, code: str, reason: str) -> None:
        """Reopen a done case (audited with its reason) and show it."""
        self.store.reopen(self.reader, code, reason)
        entry = next(e for e in self.store.order(self.reader) if e.code == code)
        self.close_case(viewer)
        self.open(viewer, entry)
