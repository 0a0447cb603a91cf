"""The reading desk of a viewer: keys on the image, overlay, flicks and compare layout.

While a lesions layer is bound for reading (:meth:`ReadingDesk.bind`), every key
of :func:`~.reading_keys.reading_keys` works with the cursor on the canvas (the
keys are bound on the viewer and on each layer of the case, so they win over
napari's shortcuts; :meth:`ReadingDesk.unbind` gives napari its keys back) and in
the Ratings panel (which calls :meth:`ReadingDesk.press`). Each key says on the
canvas what it did. Strokes and rating changes undo and redo in one history.
"""

from __future__ import annotations

from operator import attrgetter
from weakref import WeakKeyDictionary

from napari.layers import Image, Labels
from napari.utils.colormaps import DirectLabelColormap
from psygnal import Signal

from ..core import fields as spec
from ..core.rating_history import RatingHistory
from ..core.ratings import RatingError
from ..core.roles import WINDOW_PAIRS
from .binding import LabelsBinding
from .canvas_text import canvas_text
from .compare import CompareLayout, default_panels, set_visible
from .delineation import Delineation
from .navigation import install_navigation
from .reading_keys import reading_keys
from .undo import DeskHistory
from .viewer import show_lesion
from .window_level import install_window_level

__all__ = ["OVERLAY_MODES", "ReadingDesk", "desk_for"]

#: How the lesions are drawn, in the order the overlay key cycles them.
OVERLAY_MODES = ("outline", "fill", "hidden")
#: Default brush diameter (napari's brush size is in world units: mm here).
BRUSH_MM = 3.0
#: Colours: every lesion, the selected one (which stands out), background.
LESION_COLOUR, SELECTED_COLOUR = "#00e5ff", "#ffe000"
FILL_OPACITY = 0.35
#: How long a refusal stays on the canvas (ms).
REFUSED_MS = 6000
#: The pre / post pair each flick key swaps.
FLICK_PAIRS = {"gd": WINDOW_PAIRS[0], "uspio": WINDOW_PAIRS[1]}

_DESKS: WeakKeyDictionary = WeakKeyDictionary()


class ReadingDesk:
    """Keys, overlay and layouts of one viewer, for the lesions layer bound for reading."""

    #: Emitted after a desk action changed what the panels show.
    changed = Signal()
    #: Emitted when the reader asks to type a comment (the Ratings panel takes focus).
    comment_requested = Signal()
    #: Emitted with each message the desk tells the reader (a click's too, not only a key's).
    said = Signal(str)

    def __init__(self, viewer):
        self.viewer = viewer
        self.binding: LabelsBinding | None = None
        self.history: RatingHistory | None = None
        self.compare: CompareLayout | None = None
        self.window_level = None  # the W/L tools while bound (window_level.WindowLevel)
        self.tools: Delineation | None = None  # grow, fill between slices, 3-D brush
        self.overlay = OVERLAY_MODES[0]
        self.extra_panels: tuple[str, ...] = ()
        self.keys = {k.key: k for k in reading_keys()}
        self.steps: DeskHistory | None = None  # strokes, ratings, candidates: one undo
        self._bound_keys: list = []  # (provider, key, what it replaced)
        self._handles: list = []
        self._last_field: dict[int, str] = {}
        #: What the last key did (the panels show it too).
        self.message = ""
        self._styled: tuple | None = None  # (selected label, overlay) drawn
        #: Kept by ``unbind(keep_layout=True)`` for the next case: (mirrors, panels).
        self._kept: CompareLayout | None = None  # detached at a case switch (unbind)

    @property
    def layer(self) -> Labels | None:
        """The lesions layer read (None: none bound)."""
        return None if self.binding is None else self.binding.layer

    def text(self):
        """The canvas text of the viewer."""
        return canvas_text(self.viewer)

    def say(self, message: str, ms: int | None = None) -> None:
        """Tell the reader what a key did: on the canvas for a moment, and in ``message``."""
        self.message = message
        if ms is None:
            self.text().flash(message)
        else:
            self.text().flash(message, ms=ms)
        self.said.emit(message)

    # ---- binding ------------------------------------------------------------------

    def bind(self, binding: LabelsBinding) -> None:
        """Read ``binding``'s layer: keys, outline overlay, 3 mm brush, compare, W/L, wheel."""
        if self.binding is not None:
            self.unbind()
        self.binding, self.history = binding, RatingHistory(binding.ratings)
        layer = binding.layer
        self.steps = DeskHistory(layer, self.history)
        layer.brush_size = BRUSH_MM
        layer.events.paint.connect(self._stroked)
        layer.events.selected_label.connect(self._restyle)
        self.compare, panels = self._adopt_layout(layer)
        self._bind_keys([self.viewer, layer, *self._images()])
        self.viewer.layers.events.inserted.connect(self._on_inserted)
        self.viewer.layers.events.removed.connect(self._on_removed)
        self.window_level = install_window_level(self.viewer)
        self.tools = Delineation(self)
        self._handles = [self.tools, self.window_level, install_navigation(self.viewer)]
        for image in self._images():
            image.events.visible.connect(self._show_series)
        self.overlay, self._styled = OVERLAY_MODES[0], None
        self._restyle()
        if panels:  # the compare layout the reader left the last case in
            self.compare.show(panels)
        self._show_series()
        self.changed.emit()

    def unbind(self, keep_layout: bool = False) -> None:
        """Give napari its keys back, single view, tools removed (nothing is lost).

        ``keep_layout``: the next case is swapped into the same layers; its
        :meth:`bind` takes the compare layout over as shown. Unbinding again
        without it closes a layout so kept (signing out after *Mark case done*).
        """
        if self.binding is None:
            if not keep_layout and self._kept is not None:
                self._kept.close()
                self._kept = None
            return
        layer = self.binding.layer
        layer.events.paint.disconnect(self._stroked)
        layer.events.selected_label.disconnect(self._restyle)
        self.viewer.layers.events.inserted.disconnect(self._on_inserted)
        self.viewer.layers.events.removed.disconnect(self._on_removed)
        for image in self._images():
            image.events.visible.disconnect(self._show_series)
        if keep_layout:
            self.compare.detach()
            self._kept = self.compare
        else:
            self.compare.close()
        for handle in self._handles:
            handle.remove()
        for provider, key, replaced in reversed(self._bound_keys):
            provider.bind_key(key, replaced, overwrite=True)
        self._bound_keys, self._handles = [], []
        self.binding = self.history = self.compare = self.window_level = self.tools = None
        self.steps = None
        self.text().clear()
        self.changed.emit()

    def _adopt_layout(self, layer) -> tuple[CompareLayout, list[str]]:
        """The compare layout of ``layer`` and the panels it still has to show.

        The layout kept at a case switch goes on as shown when the next case was
        swapped into the same layers; else its mirrors and panels go to a new one.
        """
        kept, self._kept = self._kept, None
        if kept is None:
            return CompareLayout(self.viewer, layer), []
        if kept.lesions is layer:
            kept.attach()
            return kept, []
        panels = list(kept.panels)
        return CompareLayout(self.viewer, layer, kept.release()), panels

    # ---- keys ---------------------------------------------------------------------

    def press(self, key: str) -> bool:
        """Run the desk action of ``key`` (napari key-binding text); False if it has none."""
        bound = self.keys.get(key)
        if bound is None or self.binding is None:
            return False
        if not bound.action.startswith("tools."):
            self.tools.cancel()  # a grow preview never outlives another action
        attrgetter(bound.action)(self)(*bound.args)
        self.changed.emit()
        return True

    def _bind_keys(self, providers) -> None:
        for provider in providers:
            for key in self.keys:
                replaced = provider.bind_key(key, self._handler(key), overwrite=True)
                self._bound_keys.append((provider, key, replaced))

    def _handler(self, key: str):
        def handler(_provider=None):
            self.press(key)

        return handler

    def settle(self) -> None:
        """Take back a grow preview, before the reading is saved or left."""
        if self.tools is not None:
            self.tools.cancel()

    def _on_removed(self, event) -> None:
        """The lesions layer read was removed (e.g. by the reader): the desk lets go of it."""
        if event.value is self.layer:
            self.unbind()

    def _on_inserted(self, event) -> None:
        """A layer added while reading (a mirror, an overlay) answers the keys too."""
        layer = event.value
        if not any(provider is layer for provider, _, _ in self._bound_keys):
            self._bind_keys([layer])

    # ---- ratings ------------------------------------------------------------------

    @property
    def lesion_id(self) -> int | None:
        """The selected lesion, when it is painted."""
        if self.binding is None:
            return None
        lesion_id = int(self.layer.selected_label)
        return lesion_id if lesion_id in self.binding.model.ids else None

    def choose(self, field: str, value: str) -> None:
        """Set ``field`` to ``value`` for the selected lesion (never a toggle)."""
        self._rate(field, value)

    def clear(self, field: str) -> None:
        """Make ``field`` unrated again for the selected lesion."""
        self._rate(field, None)

    def clear_last(self) -> None:
        """Clear the field last set on the selected lesion."""
        field = self._last_field.get(self.lesion_id)
        if field is None:
            self.say("Nothing to clear: set a rating first.")
            return
        self._rate(field, None)

    def comment(self, text: str) -> None:
        """Save a comment on the selected lesion (undoable like a rating)."""
        self._rate(spec.COMMENT, text)

    def _rate(self, field: str, value: str | None) -> None:
        lesion_id = self.lesion_id
        if lesion_id is None:
            self.say("Select a painted lesion first (L picks the one under the cursor).")
            return
        try:
            step = self.history.set(lesion_id, **{field: value})
        except RatingError as exc:
            self.say(f"Refused: {exc}", ms=REFUSED_MS)
            return
        title = "Comment" if field == spec.COMMENT else spec.RATINGS[field].title
        if value is None:
            self._last_field.pop(lesion_id, None)
            shown = "cleared"
        else:
            self._last_field[lesion_id] = field
            shown = value if field == spec.COMMENT else spec.RATINGS[field].label(value)
        if step is not None:
            self.steps.did("rating")
        self.say(f"Lesion {lesion_id} · {title}: {shown}")

    def step(self, direction: str) -> None:
        """Select the next or previous unrated lesion and centre the view on it."""
        ratings, ids = self.binding.ratings, self.binding.model.ids
        current = int(self.layer.selected_label)
        find = ratings.next_unrated if direction == "next" else ratings.previous_unrated
        lesion_id = find(ids, current)
        if lesion_id is None:
            self.say("Every lesion is rated." if len(ids) else "No lesion painted yet.")
            return
        show_lesion(self.viewer, self.binding, lesion_id)
        self.say(f"Lesion {lesion_id}")

    def new_lesion(self) -> None:
        """Select a lesion id never rated in this reading, in paint mode."""
        if self.tools.refused("New lesion"):
            return
        lesion_id = self.binding.ratings.next_free_id(self.binding.model.ids)
        self.layer.selected_label = lesion_id
        self.layer.mode = "paint"
        self.say(f"New lesion {lesion_id}: paint it")

    def request_comment(self) -> None:
        """Ask the Ratings panel to take the comment (it takes focus)."""
        if self.lesion_id is None:
            self.say("Select a painted lesion first.")
            return
        self.comment_requested.emit()

    # ---- one history: strokes, ratings, candidates --------------------------------

    def _stroked(self, event=None) -> None:
        self.steps.did("stroke")

    def undo(self) -> None:
        """Undo the last stroke, rating change or accepted candidate, whichever came last."""
        self.say(self.steps.undo())

    def redo(self) -> None:
        """Redo the last undone step."""
        self.say(self.steps.redo())

    # ---- what is shown ------------------------------------------------------------

    def cycle_overlay(self) -> None:
        """Lesions as outline, fill, hidden, in turn."""
        self.overlay = OVERLAY_MODES[(OVERLAY_MODES.index(self.overlay) + 1) % 3]
        self._restyle()
        self.say(f"Lesions: {self.overlay}")

    def _restyle(self, event=None) -> None:
        layer = self.layer
        selected = int(layer.selected_label)
        if self._styled != (selected, self.overlay):
            self._styled = (selected, self.overlay)  # napari re-emits selected_label here
            colours = {None: LESION_COLOUR, 0: "transparent"}
            if selected:
                colours[selected] = SELECTED_COLOUR
            layer.colormap = DirectLabelColormap(color_dict=colours)
        layer.contour = 1 if self.overlay == "outline" else 0
        layer.opacity = 1.0 if self.overlay == "outline" else FILL_OPACITY
        set_visible(layer, self.overlay != "hidden")
        self.compare.style_mirrors()

    def flick(self, pair: str) -> None:
        """Show the other image of a pre / post pair in place of the one shown."""
        if self.compare.active:
            self.say("The compare layout shows pre and post side by side.")
            return
        images = self._images_by_role()
        pre, post = FLICK_PAIRS[pair]
        if pre not in images or post not in images:
            self.say(f"This case has no {pre} / {post} pair.")
            return
        role = pre if images[post].visible else post
        for name, image in images.items():
            set_visible(image, name == role)

    def toggle_compare(self) -> None:
        """Switch between the single view and the compare layout."""
        if self.compare.active:
            self.compare.single()
            self.say("Single view")
        else:
            panels = default_panels(self._images_by_role(), self.extra_panels)
            self.compare.show(panels)
            self.say("Compare layout")
        self._show_series()

    def set_extra_panels(self, roles: tuple[str, ...]) -> None:
        """The roles shown after pre | post Gd and USPIO in the compare layout (relaid now)."""
        self.extra_panels = tuple(roles)
        if self.compare is not None and self.compare.active:
            self.compare.show(default_panels(self._images_by_role(), self.extra_panels))
            self._show_series()

    def cycle_window(self) -> None:
        """The next window preset of the image under the cursor."""
        self.say(self.window_level.cycle_preset())

    def toggle_window_drag(self) -> None:
        """W/L drag mode on or off (painting pauses while it is on)."""
        self.say(self.window_level.toggle())

    def _show_series(self, event=None) -> None:
        if self.window_level is not None:
            self.window_level.refresh()
        if self.compare is not None and self.compare.active:
            self.text().set("series", "")  # each panel is named at its top left
            return
        shown = [name for name, image in self._images_by_role().items() if image.visible]
        self.text().set("series", " + ".join(shown) if shown else "no image shown")

    def _images(self) -> list[Image]:
        return [layer for layer in self.viewer.layers if isinstance(layer, Image)]

    def _images_by_role(self) -> dict[str, Image]:
        return {layer.metadata.get("role", layer.name): layer for layer in self._images()}


def desk_for(viewer) -> ReadingDesk:
    """The reading desk of a viewer (made on first use)."""
    desk = _DESKS.get(viewer)
    if desk is None:
        desk = _DESKS[viewer] = ReadingDesk(viewer)
    return desk
