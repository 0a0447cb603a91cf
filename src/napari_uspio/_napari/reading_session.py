"""A reader's blinded session in a viewer: the open reading's layers, bound and autosaved.

The session itself (order, store, autosave, time, done) is the GUI-free
:class:`~napari_uspio.core.study.session.StudySession`; this adapter shows its
open reading: layers by role on the case grid, the lesions layer bound to the
reading's model and ratings (so the autosave journals every edit), the case
code as window title, the radiological view.

Blinding: the viewer shows only the case code (window title), layers named by
role, and no file path, folder name, header text or loading warning that could
name a subject.
"""

from __future__ import annotations

from napari.layers import Layer

from ..core.study.autosave import Autosave
from ..core.study.order import OrderEntry
from ..core.study.session import Reading, StudySession
from ..core.study.sources import pending_candidates, record_acceptance, record_rejection
from ..core.study.store import StudyStore
from .binding import LabelsBinding
from .bindings import bind
from .desk import desk_for
from .layers import case_layers, create_layers, swap_layer
from .viewer import set_radiological_view

TITLE = "napari-uspio — reading session"


class ReadingSession:
    """Show the readings of a :class:`StudySession` in a viewer, one at a time."""

    #: The name of the layer of the reading's label map.
    LESIONS_LAYER = "lesions"

    def __init__(self, core: StudySession):
        self.core = core
        self.layers: list[Layer] = []
        self.binding: LabelsBinding | None = None

    @property
    def reader(self) -> str:
        """The reader signed in."""
        return self.core.reader

    @property
    def store(self) -> StudyStore:
        """The study's store."""
        return self.core.store

    @property
    def entry(self) -> OrderEntry | None:
        """The order entry of the reading shown (None: none)."""
        return self.core.entry

    @property
    def autosave(self) -> Autosave | None:
        """The journal of the reading shown (None: none)."""
        return self.core.autosave

    def open_next(self, viewer) -> OrderEntry | None:
        """Show the reader's next reading, closing the one shown (None: all done)."""
        desk_for(viewer).settle()
        entry = self.core.next_entry()
        if entry is None:
            self.close_case(viewer)
        else:
            self.show(viewer, self.core.open(entry))
        return entry

    def mark_done(self, viewer) -> OrderEntry | None:
        """Lock the reading shown as read and show the next one."""
        self.lock_done(viewer)
        return self.open_next(viewer)

    def lock_done(self, viewer) -> None:
        """Lock the reading shown as read; its layers stay, unbound and not editable.

        The next case (read meanwhile, e.g. on a worker) is swapped into them.
        """
        desk_for(viewer).settle()
        self.core.mark_done()
        self.unbind(viewer, keep_layout=True)
        if self.layers:
            self.layers[-1].editable = False

    def reopen(self, viewer, code: str, reason: str) -> None:
        """Reopen a done reading (audited with its reason) and show it."""
        desk_for(viewer).settle()
        self.show(viewer, self.core.open(self.core.reopen(code, reason)))

    def add_time(self, seconds: float) -> None:
        """Count reading time on the reading shown and on its selected lesion."""
        lesion = None if self.binding is None else int(self.binding.layer.selected_label)
        self.core.add_time(seconds, lesion)

    def show(self, viewer, reading: Reading) -> None:
        """Show the reading: its case by role, its lesions bound.

        When the case has the roles of the one shown, its maps are swapped into the
        same layers (no layer removed or added: napari's per-layer teardown is the
        slow part of a case switch, and removing painted layers can crash software
        OpenGL); the compare layout and the layers shown or hidden stay as the
        reader left them. Otherwise the layers are replaced.
        """
        shown = []
        for data, kwargs, kind in case_layers(reading.case):
            if not self.core.shows(kwargs["name"]):
                continue
            if kwargs["name"] == "lesions":
                data, kwargs = reading.labels, {**kwargs, "name": self.LESIONS_LAYER}
            elif kwargs["name"] == "candidates":  # those the reader has not decided yet
                code = reading.entry.code
                data = pending_candidates(self.store, self.reader, code, data, reading.labels)
            kwargs["metadata"] = {**kwargs["metadata"], "study_code": reading.entry.code}
            shown.append((data, kwargs, kind))
        reuse = [layer.name for layer in self.layers] == [kw["name"] for _, kw, _ in shown]
        reuse = reuse and all(layer in viewer.layers for layer in self.layers)
        if reuse:
            self.unbind(viewer, keep_layout=True)
            for layer, (data, kwargs, _) in zip(self.layers, shown, strict=True):
                swap_layer(layer, data, kwargs)
            added = []
        else:
            self.remove_layers(viewer)
            self.layers = added = create_layers(shown)
        # bound before it is shown, so the widgets find it bound when it is inserted
        self.binding = bind(
            self.layers[-1],
            reading.case,
            reading.model.shell_width_mm,
            reading.ratings,
            model=reading.model,
        )
        self.layers[-1].editable = self.core.study.editable  # a reference to rate: no paint
        for layer in added:
            viewer.add_layer(layer)
        viewer.title = f"napari-uspio — case {reading.entry.code}"
        set_radiological_view(viewer)
        viewer.reset_view()
        desk_for(viewer).bind(self.binding)
        desk_for(viewer).tools.decided = self._record_candidate
        if not self.core.study.editable:
            desk_for(viewer).say("Reference lesions: rate them (painting is off in this study)")

    def _record_candidate(self, decision: str, candidate: int, lesion: int | None) -> None:
        """Audit a candidate accepted (its stroke is journaled already) or rejected."""
        code = self.entry.code
        if decision == "accepted":
            record_acceptance(self.store, self.reader, code, candidate, lesion)
        else:
            record_rejection(self.store, self.reader, code, candidate)

    def close_case(self, viewer) -> None:
        """Close the reading (everything is saved already) and remove its layers."""
        desk_for(viewer).settle()
        self.core.close_reading()
        self.remove_layers(viewer)

    def unbind(self, viewer, keep_layout: bool = False) -> None:
        """Release the lesions layer from the desk and the reading's model (nothing lost)."""
        if self.binding is not None:
            desk_for(viewer).unbind(keep_layout)
            self.binding.disconnect()
            self.binding = None

    def remove_layers(self, viewer) -> None:
        """Unbind and remove the layers shown (and a compare layout kept for them)."""
        self.unbind(viewer)
        desk_for(viewer).unbind()
        for layer in self.layers:
            if layer in viewer.layers:
                viewer.layers.remove(layer)
        self.layers, self.binding = [], None
        viewer.title = TITLE

    def sign_out(self, viewer) -> None:
        """Close the reading shown and the store."""
        desk_for(viewer).settle()
        self.remove_layers(viewer)
        self.core.close()
