"""Shared fixtures: costly data (phantoms, simulated studies) built once per session."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory) -> Path:
    """A default-geometry phantom case (seed 0), written once per session."""
    from napari_uspio import make_phantom

    return make_phantom(tmp_path_factory.mktemp("phantom") / "case", seed=0)


@pytest.fixture(scope="session")
def phantom_case(phantom_dir):
    from napari_uspio import load_case

    return load_case(phantom_dir)
