"""A spooled write as one row of text: which store method, with what, and how to replay it.

Every write a reader's session makes (:data:`WRITES`) is kept in the spool's
outbox as JSON: the method's name and arguments, a stroke as its journal bytes
and a label map as its snapshot bytes (base64), so that the sender can make
exactly the same call on the server (:func:`replay`).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping

from ..sqlite.journal import decode_snapshot, decode_stroke, encode_snapshot, encode_stroke
from ..store import StudyStore

__all__ = ["WRITES", "encode", "replay"]

#: The store methods a reader's (or adjudicator's) session writes with.
WRITES = (
    "set_pin_hash",
    "append_stroke",
    "compact",
    "set_rating",
    "add_time",
    "open_case",
    "mark_done",
    "reopen",
    "record",
    "mark_proposal",
    "resolve_item",
    "withdraw_decision",
)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def encode(method: str, args: tuple, kwargs: Mapping) -> str:
    """The outbox text of ``method(*args, **kwargs)`` (strokes normalised by the caller)."""
    if method not in WRITES:
        raise ValueError(f"{method} is not a spooled write")
    args, kwargs = list(args), dict(kwargs)
    if method == "append_stroke":  # (reader, code, idx, vals): the journal's bytes
        args = [*args[:2], {"stroke": _b64(encode_stroke(args[2], args[3]))}]
    elif method == "compact":  # (reader, code, labels): the snapshot's bytes
        blob, shape, dtype = encode_snapshot(args[2])
        args = [*args[:2], {"labels": _b64(blob), "shape": shape, "dtype": dtype}]
        kwargs.pop("upto_seq", None)  # the server's own journal decides
    return json.dumps({"m": method, "a": args, "k": kwargs}, separators=(",", ":"))


def replay(store: StudyStore, text: str) -> None:
    """Make the call of an outbox row on ``store``."""
    op = json.loads(text)
    method, args, kwargs = op["m"], op["a"], op["k"]
    if method not in WRITES:
        raise ValueError(f"outbox row names {method!r}, not a spooled write")
    if method == "append_stroke":
        idx, vals = decode_stroke(base64.b64decode(args[2]["stroke"]))
        args = [*args[:2], idx, vals]
    elif method == "compact":
        packed = args[2]
        labels = decode_snapshot(base64.b64decode(packed["labels"]), packed["shape"],
                                 packed["dtype"])  # fmt: skip
        args = [*args[:2], labels]
    getattr(store, method)(*args, **kwargs)
