"""Overlays drawn over a bound lesions layer: the NAWM shell of the selected lesion."""

from __future__ import annotations

import numpy as np
from napari.layers import Labels
from napari.utils.colormaps import DirectLabelColormap

from .binding import LabelsBinding

#: Name of the shell overlay's layer (what the reader sees in the layer list).
SHELL_LAYER = "nawm_shell"
#: ``metadata['role']`` of the shell overlay's layer (it holds no lesions).
SHELL_ROLE = "shell"
#: The shell overlay: yellow, whatever colours the lesions have.
SHELL_COLORS = {None: "transparent", 0: "transparent", 1: "yellow"}


class ShellOverlay:
    """The NAWM shell of one lesion, as a small Labels layer over the lesion's box.

    The overlay keeps its own layer: made on the first :meth:`show` (again if the
    reader deleted it), hidden by :meth:`hide`, taken out of the viewer by :meth:`remove`.
    """

    def __init__(self, viewer):
        self.viewer = viewer
        self.layer: Labels | None = None

    def show(self, binding: LabelsBinding, lesion_id: int) -> None:
        """Draw the shell of ``lesion_id`` (the lesions layer stays the active one)."""
        lesions = binding.layer
        box, mask = binding.model.shell_mask(lesion_id)
        offset = np.array([s.start for s in box]) * np.array(lesions.scale)
        translate = np.array(lesions.translate) + offset
        data = mask.astype(np.uint8)
        if self.layer is None or self.layer not in self.viewer.layers:
            self.layer = Labels(
                data,
                name=SHELL_LAYER,
                scale=lesions.scale,
                translate=translate,
                opacity=0.6,
                colormap=DirectLabelColormap(color_dict=SHELL_COLORS),
                metadata={"role": SHELL_ROLE},
            )
            self.viewer.add_layer(self.layer)
            self.viewer.layers.selection.active = lesions
            return
        self.layer.data = data
        self.layer.scale = lesions.scale
        self.layer.translate = translate
        self.layer.visible = True

    def hide(self) -> None:
        """Hide the shell (its layer is kept for the next lesion)."""
        if self.layer is not None:
            self.layer.visible = False

    def remove(self) -> None:
        """Take the overlay's layer out of the viewer."""
        if self.layer is not None and self.layer in self.viewer.layers:
            self.viewer.layers.remove(self.layer)
        self.layer = None
