"""The core, the phantom and the test scaffolding run in a plain process: no Qt, no napari."""

from __future__ import annotations

import pkgutil
import subprocess
import sys

import napari_uspio.core as core
import napari_uspio.phantom as phantom
import napari_uspio.testing as testing


def _modules(package) -> list[str]:
    """Every module of a package, at any depth (``walk_packages`` imports the packages)."""
    found = [package.__name__]
    found += [m.name for m in pkgutil.walk_packages(package.__path__, f"{package.__name__}.")]
    return found


def test_core_imports_no_gui():
    modules = [m for p in (core, phantom, testing) for m in _modules(p)]
    assert "napari_uspio.core.case" in modules
    assert "napari_uspio.core.study.sqlite.store" in modules  # subpackages are walked
    assert "napari_uspio.core.adjudication.consensus" in modules and len(modules) >= 40
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
