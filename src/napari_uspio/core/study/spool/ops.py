"""A spooled write as one outbox row: which store method, with what, and how to replay it.

Every write a reader's session makes (:data:`WRITES`) is kept in the spool's
outbox as a short JSON text (the method's name and small arguments) and a
blob: a stroke's journal bytes (encoded once, when the spool journals it: the
call is ``append_encoded``) or a label map's snapshot bytes, so that the
sender makes exactly the same call on the server (:func:`replay`) without
decoding a stroke.
"""

from __future__ import annotations

import json
from collections.abc import Mapping

from ..sqlite.journal import decode_snapshot, encode_snapshot
from ..store import StudyStore

__all__ = ["REPLAYED", "WRITES", "encode", "replay"]

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
#: The calls an outbox holds: the writes, a stroke as its journal bytes.
REPLAYED = tuple("append_encoded" if m == "append_stroke" else m for m in WRITES)


def encode(method: str, args: tuple, kwargs: Mapping) -> tuple[str, bytes | None]:
    """The outbox row ``(text, blob)`` of ``method(*args, **kwargs)``, one of :data:`REPLAYED`."""
    if method not in REPLAYED:
        raise ValueError(f"{method} is not a spooled write")
    args, kwargs, blob = list(args), dict(kwargs), None
    if method == "append_encoded":  # (reader, code, n_voxels, payload)
        args, blob = args[:3], args[3]
    elif method == "compact":  # (reader, code, labels): the snapshot's bytes
        blob, shape, dtype = encode_snapshot(args[2])
        args = [*args[:2], {"shape": shape, "dtype": dtype}]
        kwargs.pop("upto_seq", None)  # the server's own journal decides
    return json.dumps({"m": method, "a": args, "k": kwargs}, separators=(",", ":")), blob


def replay(store: StudyStore, text: str, blob: bytes | None) -> None:
    """Make the call of an outbox row on ``store``."""
    op = json.loads(text)
    method, args, kwargs = op["m"], op["a"], op["k"]
    if method not in REPLAYED:
        raise ValueError(f"outbox row names {method!r}, not a spooled write")
    if method == "append_encoded":
        args = [*args, blob]
    elif method == "compact":
        args = [*args[:2], decode_snapshot(blob, args[2]["shape"], args[2]["dtype"])]
    getattr(store, method)(*args, **kwargs)
