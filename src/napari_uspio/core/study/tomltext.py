"""TOML values as text: what the study's manifests and a package's case files are written with."""

from __future__ import annotations

import json

__all__ = ["toml_value"]


def toml_value(value: object) -> str:
    """``value`` (bool, number, string or a list of them) as TOML text."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)  # JSON string escapes are valid TOML
    if isinstance(value, tuple | list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    raise TypeError(f"cannot write {type(value).__name__} to TOML")
