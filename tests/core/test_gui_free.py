"""The computing core runs in a plain Python process: no Qt, no napari."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import napari_uspio.core as core


def test_core_imports_no_gui():
    modules = [f"napari_uspio.core.{m.name}" for m in pkgutil.iter_modules(core.__path__)]
    assert "napari_uspio.core.case" in modules and len(modules) >= 6
    code = (
        "import importlib, sys\n"
        f"for m in {modules!r}: importlib.import_module(m)\n"
        "import napari_uspio\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in "
        "{'qtpy', 'PyQt5', 'PyQt6', 'PySide2', 'PySide6', 'napari', 'magicgui', 'vispy',"
        " 'superqt'})\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
