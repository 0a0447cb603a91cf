"""The masks of the store: a journal of strokes, snapshots, replay and compaction.

:class:`StrokeJournal` holds the mask methods of
:class:`~napari_uspio.core.study.store.StudyStore` (see there for when to
compact); the functions here are the byte formats and the replay.

A *stroke* is what one paint / fill / erase / undo event changed: flat
(C-order) voxel indices of the ``(z, y, x)`` label map and the value each
voxel got. It is journaled as ``zlib(level 1)`` of::

    int64 little-endian indices, delta-encoded (first index, then differences)
    int64 little-endian values

Delta encoding keeps the order of the indices (replay applies them in order)
and makes brush runs compress to a few bytes per row. A *snapshot* is
``zlib(level 1)`` of the label map's C-order bytes with its shape and dtype
kept beside it. Decoding a stroke costs O(stroke), a snapshot O(volume).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Iterable, Sequence

import numpy as np

from ..records import StudyError, utc_now
from .schema import Database, upsert

__all__ = [
    "StrokeJournal",
    "apply_stroke",
    "decode_snapshot",
    "decode_stroke",
    "encode_snapshot",
    "encode_stroke",
    "normalise_stroke",
]

_KEY = "reader = ?1 AND case_code = ?2"
_LAST_SEQ = (
    f"SELECT COALESCE(MAX(seq), 0) FROM (SELECT seq FROM strokes WHERE {_KEY} "
    f"UNION ALL SELECT seq_upto FROM snapshots WHERE {_KEY}) AS known"
)
_UPSERT_SNAPSHOT = upsert(
    "snapshots", ("reader", "case_code", "seq_upto", "shape", "dtype", "data", "created_at"),
    ("reader", "case_code"),
)  # fmt: skip
_LEVEL = 1
_I8 = np.dtype("<i8")


def normalise_stroke(flat_indices, new_values) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values as int64 arrays of one length; a repeated index keeps its last value.

    ``new_values`` may be a scalar (every voxel gets it). Raises ValueError on
    negative indices or mismatched lengths.
    """
    idx = np.asarray(flat_indices).reshape(-1)
    if idx.size and not np.issubdtype(idx.dtype, np.integer):
        raise ValueError(f"voxel indices must be integers, got {idx.dtype}")
    idx = idx.astype(np.int64, copy=False)
    vals = np.asarray(new_values)
    if vals.size and not (np.issubdtype(vals.dtype, np.integer) or vals.dtype == bool):
        raise ValueError(f"label values must be integers, got {vals.dtype}")
    vals = vals.astype(np.int64, copy=False)
    vals = np.broadcast_to(vals, idx.shape) if vals.ndim == 0 else vals.reshape(-1)
    if vals.shape != idx.shape:
        raise ValueError(f"{idx.size} voxel indices but {vals.size} values")
    if idx.size and idx.min() < 0:
        raise ValueError("voxel indices must be >= 0 (flat C-order indices of the label map)")
    if idx.size > 1:
        # keep the last occurrence of each index, in the order of those last occurrences
        _, last_rev = np.unique(idx[::-1], return_index=True)
        if last_rev.size != idx.size:
            keep = np.sort(idx.size - 1 - last_rev)
            idx, vals = idx[keep], vals[keep]
    return np.ascontiguousarray(idx), np.ascontiguousarray(vals)


def encode_stroke(idx: np.ndarray, vals: np.ndarray) -> bytes:
    """The journal bytes of a normalised stroke (see :func:`normalise_stroke`)."""
    delta = np.diff(idx, prepend=np.int64(0)).astype(_I8, copy=False)
    return zlib.compress(delta.tobytes() + vals.astype(_I8, copy=False).tobytes(), _LEVEL)


def decode_stroke(data: bytes) -> tuple[np.ndarray, np.ndarray]:
    """Indices and values (int64) of a journaled stroke."""
    raw = np.frombuffer(zlib.decompress(data), dtype=_I8)
    if raw.size % 2:
        raise ValueError("corrupt stroke payload: odd number of int64 words")
    n = raw.size // 2
    return np.cumsum(raw[:n], dtype=np.int64), raw[n:].astype(np.int64)


def encode_snapshot(labels: np.ndarray) -> tuple[bytes, str, str]:
    """``(blob, shape_text, dtype_text)`` of a label map (C-order bytes, zlib level 1)."""
    labels = np.ascontiguousarray(labels)
    shape = ",".join(str(n) for n in labels.shape)
    return zlib.compress(labels.tobytes(), _LEVEL), shape, labels.dtype.str


def decode_snapshot(blob: bytes, shape_text: str, dtype_text: str) -> np.ndarray:
    """The label map of a snapshot, writable."""
    shape = tuple(int(n) for n in shape_text.split(",")) if shape_text else ()
    data = np.frombuffer(zlib.decompress(blob), dtype=np.dtype(dtype_text))
    return data.reshape(shape).copy()


def apply_stroke(labels: np.ndarray, idx: np.ndarray, vals: np.ndarray, where: str = "") -> None:
    """Write a stroke into ``labels`` in place (O(stroke)); errors say which stroke."""
    if not idx.size:
        return
    if idx.max() >= labels.size:
        raise ValueError(
            f"{where}: voxel index {int(idx.max())} is outside the label map of shape "
            f"{labels.shape} ({labels.size} voxels); was it painted on another grid?"
        )
    info = np.iinfo(labels.dtype) if np.issubdtype(labels.dtype, np.integer) else None
    if info is not None and (vals.min() < info.min or vals.max() > info.max):
        raise ValueError(f"{where}: label values do not fit {labels.dtype}")
    labels.put(idx, vals)  # flat C-order indices, in place even if not contiguous


def replay(labels: np.ndarray, strokes: Iterable[tuple[int, bytes]], where: str = "") -> int:
    """Apply journaled strokes ``(seq, payload)`` in order; return the last seq (0 if none)."""
    last = 0
    for seq, payload in strokes:
        idx, vals = decode_stroke(payload)
        apply_stroke(labels, idx, vals, f"{where} stroke {seq}")
        last = seq
    return last


class StrokeJournal:
    """The mask methods of :class:`~.store.StudyStore` (a mixin: needs its database)."""

    _db: Database
    compact_strokes: int
    compact_bytes: int
    _writable: Callable[..., str]

    def append_stroke(
        self,
        reader: str,
        case_code: str,
        flat_indices,
        new_values,
        labels_now: Callable[[], np.ndarray] | None = None,
    ) -> int:
        """Journal one stroke; return its seq once committed (acknowledged). O(stroke).

        ``flat_indices`` are C-order indices into the ``(z, y, x)`` label map,
        ``new_values`` the value each voxel got (or one value for all; a
        repeated index keeps its last value). Seqs count 1, 2, ... per reader
        and case. With ``labels_now`` (returning the label map with this
        stroke in it) the case is compacted after the commit when its journal
        is long (see the module docstring).
        """
        idx, vals = normalise_stroke(flat_indices, new_values)
        return self.append_encoded(
            reader, case_code, int(idx.size), encode_stroke(idx, vals), labels_now
        )

    def append_encoded(
        self,
        reader: str,
        case_code: str,
        n_voxels: int,
        payload: bytes,
        labels_now: Callable[[], np.ndarray] | None = None,
    ) -> int:
        """:meth:`append_stroke` of a stroke already in its journal bytes (:func:`encode_stroke`).

        A workstation's spool journals a stroke and sends it to the server as
        the same bytes, encoded once.
        """
        with self._db.write() as db:
            self._writable(reader, case_code)
            seq = 1 + int(db.scalar(_LAST_SEQ, (reader, case_code)))
            db.execute(
                "INSERT INTO strokes VALUES (?, ?, ?, ?, ?, ?)",
                (reader, case_code, seq, int(n_voxels), payload, utc_now()),
            )
            # O(journal), which only compaction bounds: asked only when it can compact
            long = labels_now is not None and self._journal_full(reader, case_code)
        if long and labels_now is not None:
            self.compact(reader, case_code, labels_now(), upto_seq=seq)
        return seq

    def _journal_full(self, reader: str, case_code: str) -> bool:
        n, nbytes = self.journal_size(reader, case_code)
        return n >= self.compact_strokes or nbytes >= self.compact_bytes

    def journal_size(self, reader: str, case_code: str) -> tuple[int, int]:
        """``(strokes, compressed bytes)`` journaled since the last snapshot."""
        row = self._db.one(
            f"SELECT COUNT(*), COALESCE(SUM(LENGTH(data)), 0) FROM strokes WHERE {_KEY}",
            (reader, case_code),
        )
        assert row is not None
        return int(row[0]), int(row[1])

    def strokes(self, reader: str, case_code: str) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """``(seq, flat indices, values)`` of each stroke journaled since the last snapshot."""
        rows = self._db.all(
            f"SELECT seq, data FROM strokes WHERE {_KEY} ORDER BY seq", (reader, case_code)
        )
        return [(int(seq), *decode_stroke(data)) for seq, data in rows]

    def last_seq(self, reader: str, case_code: str) -> int:
        """The seq of the latest stroke of a case (0 if none)."""
        return int(self._db.scalar(_LAST_SEQ, (reader, case_code)))

    def labels(self, reader: str, case_code: str, shape: Sequence[int], dtype) -> np.ndarray:
        """The reader's label map of a case: the latest snapshot plus later strokes replayed."""
        shape, dtype = tuple(int(n) for n in shape), np.dtype(dtype)
        if not np.issubdtype(dtype, np.integer):
            raise ValueError(f"label maps have an integer dtype, got {dtype}")
        where = f"reader {reader}, case {case_code}"
        with self._db.read() as db:  # snapshot and strokes from one state of the file
            snap = db.one(
                f"SELECT seq_upto, shape, dtype, data FROM snapshots WHERE {_KEY}",
                (reader, case_code),
            )
            rows = db.all(
                f"SELECT seq, data FROM strokes WHERE {_KEY} AND seq > ?3 ORDER BY seq",
                (reader, case_code, snap[0] if snap else 0),
            )
        out = np.zeros(shape, dtype)
        if snap is not None:
            base = decode_snapshot(snap[3], snap[1], snap[2])
            if base.shape != shape:
                raise StudyError(
                    f"{where}: the stored label map has shape {base.shape}, not {shape}; "
                    "was the case folder changed?"
                )
            if base.size and not np.can_cast(base.dtype, dtype):
                info = np.iinfo(dtype)
                if base.min() < info.min or base.max() > info.max:
                    raise StudyError(f"{where}: the stored labels do not fit {dtype}")
            out[...] = base
        replay(out, rows, where)
        return out

    def compact(
        self, reader: str, case_code: str, labels: np.ndarray, upto_seq: int | None = None
    ) -> int:
        """Snapshot ``labels`` and drop the strokes it covers, in one transaction.

        ``labels`` must hold every stroke up to ``upto_seq`` (default: the
        latest journaled); later strokes stay journaled. Returns the snapshot's
        seq. Refused on a done case (it would change a locked mask).
        """
        blob, shape, dtype = encode_snapshot(np.asarray(labels))
        with self._db.write() as db:
            self._writable(reader, case_code)
            last = int(db.scalar(_LAST_SEQ, (reader, case_code)))
            prev = int(
                db.scalar(
                    f"SELECT COALESCE(MAX(seq_upto), 0) FROM snapshots WHERE {_KEY}",
                    (reader, case_code),
                )
            )
            upto = last if upto_seq is None else int(upto_seq)
            if not prev <= upto <= last:
                raise StudyError(
                    f"cannot snapshot case {case_code} of {reader} at stroke {upto}: "
                    f"the last snapshot is at {prev}, the last stroke {last}"
                )
            db.execute(_UPSERT_SNAPSHOT, (reader, case_code, upto, shape, dtype, blob, utc_now()))
            db.execute(
                f"DELETE FROM strokes WHERE {_KEY} AND seq <= ?3", (reader, case_code, upto)
            )
        return upto
