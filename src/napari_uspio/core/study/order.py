"""Each reader's case order and the pseudonymous case codes: pure functions of the inputs.

Everything here is derived from SHA-256 of a canonical text, never from
Python's ``hash()`` (salted per process) nor from ``random`` (whose algorithms
may change between Python versions), so an auditor can reproduce a reader's
order offline from the case ids, the reader id and the study seed, in any
language (see :func:`reading_order` for the recipe).

Codes
    ``C-`` and 5 upper-case hex digits of ``sha256("napari-uspio code|<seed>|
    <reader>|<case>|<reading>[|<attempt>]")``. They leak nothing about the case
    (not the folder name, not the position) without the seed; a repeated
    reading of a case gets a new code; a code that would collide with an
    earlier code of the same reader (in order position) is re-drawn with
    ``attempt`` 1, 2, ... so the codes of one reader are distinct.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Iterable
from typing import NamedTuple

__all__ = ["CODE_PREFIX", "OrderEntry", "case_code", "n_repeats", "reading_order"]

CODE_PREFIX = "C-"
CODE_HEX_DIGITS = 5


class OrderEntry(NamedTuple):
    """One reading in a reader's order: the case, the code shown, and whether it is a repeat."""

    case_id: str
    code: str
    repeat: bool


def _digest(*parts: object) -> bytes:
    text = "|".join(str(p) for p in parts)
    return hashlib.sha256(text.encode("utf-8")).digest()


def _key(*parts: object) -> str:
    return _digest(*parts).hex()


def case_code(seed: int, reader: str, case_id: str, reading: int, attempt: int = 0) -> str:
    """The code of ``reader``'s ``reading``-th reading (0: first, 1: repeat) of a case.

    ``attempt`` > 0 re-draws a code that collided (see the module docstring).
    """
    parts: list[object] = ["napari-uspio code", int(seed), reader, case_id, int(reading)]
    if attempt:
        parts.append(int(attempt))
    return CODE_PREFIX + _digest(*parts).hex()[:CODE_HEX_DIGITS].upper()


def n_repeats(n_cases: int, repeat_fraction: float) -> int:
    """How many cases are read twice: ``floor(fraction * n + 0.5)`` (half rounds up)."""
    if not 0.0 <= float(repeat_fraction) <= 1.0 or math.isnan(repeat_fraction):
        raise ValueError(f"repeat_fraction must be between 0 and 1, got {repeat_fraction}")
    return int(math.floor(float(repeat_fraction) * n_cases + 0.5))


def reading_order(
    case_ids: Iterable[str], reader_id: str, seed: int, repeat_fraction: float = 0.0
) -> list[OrderEntry]:
    """The order in which ``reader_id`` reads the cases, with a code per reading.

    A pure function of the *set* of case ids, the reader id, the seed and the
    repeat fraction (the order of ``case_ids`` does not matter). Recipe:

    1. first readings: every case, sorted by ``sha256("napari-uspio order|<seed>|
       <reader>|<case>")`` (hex; ties, impossible in practice, by case id);
    2. repeats: the ``n_repeats(n, repeat_fraction)`` cases with the smallest
       ``sha256("napari-uspio repeat|<seed>|<reader>|<case>")``, read after every
       first reading (the longest washout the study allows), sorted by
       ``sha256("napari-uspio order|<seed>|<reader>|<case>|1")``;
    3. codes: :func:`case_code`, drawn in order position.

    Returns
    -------
    list of OrderEntry
        ``(case_id, code, repeat)`` per reading; every case once, repeated cases twice.
    """
    given = [str(c) for c in case_ids]
    ids = sorted(set(given))
    if len(ids) != len(given):
        raise ValueError("case ids must be distinct")
    reader_id, seed = str(reader_id), int(seed)
    first = sorted(ids, key=lambda c: (_key("napari-uspio order", seed, reader_id, c), c))
    chosen = sorted(ids, key=lambda c: (_key("napari-uspio repeat", seed, reader_id, c), c))
    chosen = chosen[: n_repeats(len(ids), repeat_fraction)]
    again = sorted(chosen, key=lambda c: (_key("napari-uspio order", seed, reader_id, c, 1), c))
    readings = [(c, 0) for c in first] + [(c, 1) for c in again]
    used: set[str] = set()
    out = []
    for case_id, reading in readings:
        attempt = 0
        code = case_code(seed, reader_id, case_id, reading)
        while code in used:
            attempt += 1
            code = case_code(seed, reader_id, case_id, reading, attempt)
        used.add(code)
        out.append(OrderEntry(case_id, code, bool(reading)))
    return out
