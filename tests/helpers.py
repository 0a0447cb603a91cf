"""Helpers of the tests: NIfTI files written by hand, and every string a window shows."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np


def write_nifti(path: Path, data, affine=None, nifti2=False, endian="<", **header) -> Path:
    """Write ``data`` (file axis order) with ``affine`` to ``path``; return it."""
    affine = np.eye(4) if affine is None else affine
    cls = nib.Nifti2Image if nifti2 else nib.Nifti1Image
    hdr = (nib.Nifti2Header if nifti2 else nib.Nifti1Header)(endianness=endian)
    data = np.asarray(data)
    hdr.set_data_dtype(data.dtype)
    img = cls(data, affine, header=hdr)
    for key, value in header.items():
        img.header[key] = value
    nib.save(img, path)
    return path


def ui_strings(viewer, dock_widget, first_note: int = 0) -> list[str]:
    """Every string the viewer's window shows: titles, texts, tooltips, tables (cells and
    headers), combos, text edits, status bar, and the notifications since ``first_note``
    (the blinding scans of the session and adjudication tests)."""
    from napari.utils.notifications import notification_manager
    from qtpy.QtWidgets import (
        QAbstractButton,
        QApplication,
        QComboBox,
        QLabel,
        QLineEdit,
        QPlainTextEdit,
        QTableWidget,
        QWidget,
    )

    out = [viewer.title, str(viewer.status), *(layer.name for layer in viewer.layers)]
    window = dock_widget.window()
    popups = [w for w in QApplication.topLevelWidgets() if w.parent() is window]
    for top in [window, *popups]:
        for w in [top, *top.findChildren(QWidget)]:
            out += [w.windowTitle(), w.toolTip(), w.statusTip(), w.whatsThis()]
            if isinstance(w, QLabel | QAbstractButton):
                out.append(w.text())
            if isinstance(w, QLineEdit):
                out += [w.text(), w.placeholderText()]
            if isinstance(w, QPlainTextEdit):
                out += [w.toPlainText(), w.placeholderText()]
            if isinstance(w, QComboBox):
                out += [w.itemText(i) for i in range(w.count())]
            if isinstance(w, QTableWidget):
                out += [
                    w.item(r, c).text()
                    for r in range(w.rowCount())
                    for c in range(w.columnCount())
                    if w.item(r, c)
                ]
                out += [
                    w.horizontalHeaderItem(c).text()
                    for c in range(w.columnCount())
                    if w.horizontalHeaderItem(c)
                ]
                out += [
                    w.verticalHeaderItem(r).text()
                    for r in range(w.rowCount())
                    if w.verticalHeaderItem(r)
                ]
    out += [str(n.message) for n in notification_manager.records[first_note:]]
    return out


def ratings_markdown() -> str:
    """The README's table of rating fields, rendered from the field spec."""
    from napari_uspio.core import fields

    lines = ["| rating | column | values (key) | read on |", "|---|---|---|---|"]
    for field in fields.RATINGS:
        values = ", ".join(f"{c.shown} ({c.key})" for c in field.choices)
        read_on = f"`{field.read_on}`" if field.read_on else ""
        lines.append(f"| {field.title} | `{field.name}` | {values} | {read_on} |")
    return "\n".join(lines)


def lesion_columns_markdown() -> str:
    """The README's table of the lesion table's columns, rendered from the field spec."""
    from napari_uspio.core import fields
    from napari_uspio.core.lesions.stats import MAP_ROLES, columns_for

    lines = ["| column | unit | decimals | definition |", "|---|---|---|---|"]
    for name in ("lesion", *columns_for(set(MAP_ROLES))):
        column = fields.column(name)
        lines.append(f"| `{name}` | {column.unit} | {column.decimals} | {column.description} |")
    return "\n".join(lines)


def keymap_markdown() -> str:
    """The README's table of the desk's keys (besides the rating keys), from the keymap."""
    from napari_uspio._napari.reading_keys import DESK_KEYS

    lines = ["| key | does |", "|---|---|"]
    lines += [f"| `{k.key}` | {k.description} |" for k in DESK_KEYS]
    return "\n".join(lines)


class Backend:
    """One empty study store of a backend: ``open(create=..., **options)`` opens it (again)."""

    def __init__(self, name: str, target) -> None:
        self.name, self.target = name, target

    def open(self, *, create: bool = False, **options):
        from napari_uspio.core.study.postgres import PostgresStore
        from napari_uspio.core.study.sqlite import SQLiteStore

        if self.name == "sqlite":
            return SQLiteStore(self.target, create=create, **options)
        return PostgresStore(self.target, create=create, **options)
