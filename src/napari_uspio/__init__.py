"""napari-uspio: read MS lesions on USPIO / Gd / MT / QSM MRI.

The public Python API needs no Qt and no viewer, and imports lazily::

    from napari_uspio import load_case, make_phantom
    case = load_case("sub-01_ses-01/")        # or {"qsm": "qsm.nii.gz", ...}
    case["mtr"], case.path("qsm"), case.grid.index_to_world
"""

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("napari-uspio")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

_API = {
    "Case": "core.case",
    "load_case": "core.case",
    "CaseError": "core.volume",
    "Grid": "core.volume",
    "ImageVolume": "core.volume",
    "LabelMap": "core.volume",
    "Volume": "core.volume",
    "make_phantom": "phantom",
    "phantom_truth": "phantom",
    "LesionModel": "core.lesions",
    "lesion_model": "core.lesions",
}
__all__ = ["__version__", *_API]


def __getattr__(name: str):
    if name in _API:
        return getattr(import_module(f".{_API[name]}", __name__), name)
    raise AttributeError(f"module 'napari_uspio' has no attribute {name!r}")
