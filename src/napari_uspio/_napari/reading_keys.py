"""The reading keymap: every key of the desk, declared once.

The desk binds these keys on the viewer and on the layers of the case it reads
(so they win over napari's Labels and viewer shortcuts while a case is bound, and
napari's own keys come back when it closes); the Ratings panel answers the same
keys; the README's keymap table is this list (a test compares them).

Rating keys come from :data:`napari_uspio.core.fields.RATINGS` (read at call time):
a choice's key sets it (pressing it again changes nothing), Shift + any letter key
of a field clears that field, Backspace clears the field last set on the selected
lesion (the overlap grade's keys are digits, which Shift turns into other
characters on most keyboards). napari's
painting tools stay on their digit keys (1 eraser, 2 brush, 3 polygon, 4 fill,
5 picker, 6 pan / zoom), which no rating uses.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..core import fields as spec

__all__ = ["DESK_KEYS", "ReadingKey", "key_of", "reading_keys"]


@dataclass(frozen=True)
class ReadingKey:
    """One key of the desk: the key (napari key-binding text), its action and arguments."""

    key: str
    action: str
    args: tuple[str, ...] = ()
    description: str = ""


#: The desk's keys other than the rating choices (action names are ReadingDesk methods).
DESK_KEYS: tuple[ReadingKey, ...] = (
    ReadingKey("N", "step", ("next",), "select the next unrated lesion and centre on it"),
    ReadingKey("P", "step", ("previous",), "select the previous unrated lesion"),
    ReadingKey("Backspace", "clear_last", (), "clear the field last set on the selected lesion"),
    ReadingKey("/", "request_comment", (), "type a comment on the selected lesion (Enter saves)"),
    ReadingKey("M", "new_lesion", (), "paint a new lesion (an id never rated in this reading)"),
    ReadingKey("Ctrl+Z", "undo", (), "undo the last stroke, rating change or accepted candidate"),
    ReadingKey("Ctrl+Shift+Z", "redo", (), "redo it"),
    ReadingKey("O", "cycle_overlay", (), "lesions drawn as outline, fill or hidden"),
    ReadingKey("G", "flick", ("gd",), "flick pre <-> post Gd T1 in place"),
    ReadingKey("U", "flick", ("uspio",), "flick pre <-> post USPIO T1 in place"),
    ReadingKey("Y", "toggle_compare", (), "single view <-> linked compare layout"),
    ReadingKey("I", "toggle_window_drag", (), "W/L drag mode on / off (drag: width, level)"),
    ReadingKey("Shift+I", "cycle_window", (), "next window preset of the image under the cursor"),
    ReadingKey("Shift+G", "tools.toggle_grow", (), "grow tool on / off: a click grows a lesion"),
    ReadingKey(".", "tools.adjust", ("higher",), "grow: raise the threshold (a smaller lesion)"),
    ReadingKey(",", "tools.adjust", ("lower",), "grow: lower the threshold (a larger lesion)"),
    ReadingKey("Enter", "tools.accept", (), "grow: accept the preview (one undo step)"),
    ReadingKey("Escape", "tools.cancel", (), "grow: cancel the preview"),
    ReadingKey("Shift+L", "tools.fill_between", (), "fill the selected lesion between its slices"),
    ReadingKey("Shift+M", "tools.toggle_brush3d", (), "3-D brush on / off (Alt + drag erases)"),
    ReadingKey("Shift+Y", "tools.accept_candidate", (), "accept the candidate under the cursor"),
    ReadingKey("Shift+N", "tools.reject_candidate", (), "reject the candidate under the cursor"),
)


def reading_keys() -> list[ReadingKey]:
    """Every key of the desk: rating choices, their clear keys, then :data:`DESK_KEYS`."""
    keys = []
    for field in spec.RATINGS:
        for choice in field.choices:
            keys.append(
                ReadingKey(
                    choice.key,
                    "choose",
                    (field.name, choice.value),
                    f"{field.title}: {choice.shown}",
                )
            )
        for choice in (c for c in field.choices if c.key.isalpha()):
            keys.append(
                ReadingKey(f"Shift+{choice.key}", "clear", (field.name,), f"clear {field.title}")
            )
    keys += DESK_KEYS
    seen: dict[str, str] = {}
    for k in keys:
        if k.key in seen:
            raise ValueError(
                f"key {k.key!r} is bound twice in the reading keymap ({seen[k.key]}; "
                f"{k.description}): give one of them another key in core/fields.py"
            )
        seen[k.key] = k.description
    return keys


def key_of(action: str, *args: str) -> str:
    """The key of a desk action (e.g. ``key_of("step", "next")`` is ``"N"``)."""
    return next(k.key for k in reading_keys() if (k.action, k.args) == (action, args))
