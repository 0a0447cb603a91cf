"""Adjudication items: lesions the readers disagree on, and the consensus proposal.

A case enters adjudication once every reader of the study (role ``reader``)
has marked their first reading of it done. Its lesion groups
(:class:`~napari_uspio.core.agreement.readings.CaseReadings`, matched by Dice
across readers) are its *items*, numbered from 1. An item is **agreed** when
every reader detected it and all gave the same value for every field the spec
marks ``disputed`` (:attr:`~napari_uspio.core.fields.RatingSpec.disputed`:
confidence and comment may differ); any
other item is **disputed**: a detection disagreement (found by some readers
only) or a rating disagreement (the fields listed).

The consensus label map of a case uses the item number as lesion id. The
*proposal* (:func:`proposal`) holds, for every item, the voxels labelled by at
least half of the readers (majority; with two readers, either); agreed items
carry the agreed ratings (confidence: the lowest of the readers'), disputed
items the fields all readers agree on, so the adjudicator only sets what is
disputed. Agreed items go straight to consensus; disputed ones wait for the
adjudicator's final mask, ratings and written rationale.

Evidence: each disputed field is judged on the image the spec says it is read
on (:attr:`~napari_uspio.core.fields.RatingField.read_on`), a detection dispute
on :data:`DETECTION_ROLE`; :func:`evidence_roles` lists them for an item.

Blinding: readers are shown as letters (Reader A, B, C, ...), assigned per
case by a seeded shuffle (:func:`reader_letters`), so a letter does not follow
one reader from case to case. The mapping is written only to the coordinator's
adjudication log.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.ndimage import find_objects

from .. import fields as spec
from ..agreement.readings import CaseReadings
from ..ratings import Rating, RatingError

__all__ = [
    "DETECTION_ROLE",
    "Item",
    "case_items",
    "evidence_roles",
    "item_values",
    "proposal",
    "reader_letters",
]

#: The image a detection dispute (found by some readers only) is judged on.
DETECTION_ROLE = "flair"


@dataclass(frozen=True)
class Item:
    """One lesion group of a case, and what the readers disagree on."""

    case_id: str
    item: int
    lesions: Mapping[str, int | None]  # reader -> lesion id, None: not detected
    disputed_fields: tuple[str, ...]  # rating fields with different values

    @property
    def detected_by(self) -> list[str]:
        """Readers who detected the lesion."""
        return [r for r, lesion in self.lesions.items() if lesion is not None]

    @property
    def detection_disputed(self) -> bool:
        """Some readers did not detect the lesion."""
        return len(self.detected_by) < len(self.lesions)

    @property
    def agreed(self) -> bool:
        """Every reader found it and rated it alike: straight to consensus."""
        return not self.detection_disputed and not self.disputed_fields

    def describe(self, names: Mapping[str, str] | None = None) -> str:
        """What is disputed, in words (no reader named); ``names``: field -> shown name."""
        parts = []
        if self.detection_disputed:
            parts.append(f"detection ({len(self.detected_by)} of {len(self.lesions)} readers)")
        parts += [(names or {}).get(f, f) for f in self.disputed_fields]
        return ", ".join(parts) if parts else "agreed"


def evidence_roles(item: Item) -> tuple[str, ...]:
    """The evidence image of every disputed field of an item, each role once.

    Detection first (:data:`DETECTION_ROLE`), then the disputed rating fields in
    spec order, each by the role it is read on (fields without one are left out).
    An agreed item has none.
    """
    roles = [DETECTION_ROLE] if item.detection_disputed else []
    for name in item.disputed_fields:
        role = spec.RATINGS[name].read_on if name in spec.RATINGS else None
        if role is not None:
            roles.append(role)
    return tuple(dict.fromkeys(roles))


def reader_letters(seed: int, case_id: str, readers: Sequence[str]) -> dict[str, str]:
    """Reader -> letter (A, B, ...) for one case: a shuffle seeded by (seed, case id)."""
    digest = hashlib.sha256(f"{seed}\x1fletters\x1f{case_id}".encode()).digest()
    order = sorted(readers)
    random.Random(int.from_bytes(digest[:8], "big")).shuffle(order)
    return {reader: chr(ord("A") + k) for k, reader in enumerate(order)}


def item_values(cr: CaseReadings, item: Item) -> dict[str, Rating | None]:
    """Reader -> their rating of the item (None: not detected)."""
    return {
        r: None if lesion is None else cr.readings[r].ratings.get(lesion)
        for r, lesion in item.lesions.items()
    }


def case_items(cr: CaseReadings) -> list[Item]:
    """The items of a case (every lesion group), agreed or disputed."""
    items = []
    for number, group in enumerate(cr.groups, start=1):
        lesions = {r: group.get(r) for r in cr.readings}
        ratings = [
            cr.readings[r].ratings.get(lesion)
            for r, lesion in lesions.items()
            if lesion is not None
        ]
        disputed = tuple(
            f for f in spec.RATINGS.disputed if len({getattr(rating, f) for rating in ratings}) > 1
        )
        items.append(Item(cr.case_id, number, lesions, disputed))
    return items


def _common_fields(ratings: list[Rating], confidence: bool) -> dict[str, str]:
    """The fields every rating gives the same (set) value, as a valid rating.

    With ``confidence``, also the lowest of the readers' confidences.
    """
    common = {
        f: getattr(ratings[0], f)
        for f in spec.RATINGS.disputed
        if getattr(ratings[0], f) is not None
        and all(getattr(r, f) == getattr(ratings[0], f) for r in ratings)
    }
    confidences = [r.confidence for r in ratings]
    if confidence and all(c is not None for c in confidences):
        common["confidence"] = min(confidences, key=spec.RATINGS["confidence"].values.index)
    try:
        Rating().with_(**common)
    except RatingError:  # cannot happen for agreed items; a disputed one then starts empty
        return {}
    return common


def _union(boxes: list[tuple[slice, ...]]) -> tuple[slice, ...]:
    """The bounding box of several boxes."""
    return tuple(
        slice(min(b[d].start for b in boxes), max(b[d].stop for b in boxes))
        for d in range(len(boxes[0]))
    )


def proposal(cr: CaseReadings, items: Sequence[Item]) -> tuple[np.ndarray, dict[int, dict]]:
    """The proposed consensus of a case: label map (item ids) and ratings per item.

    See the module docstring. Where the majority masks of two items overlap
    (possible only with an even number of readers, each item then holding
    exactly half the votes), the voxel goes to the lower item number.
    """
    shape = next(iter(cr.readings.values())).labels.shape
    labels = np.zeros(shape, np.int32)
    needed = (len(cr.readings) + 1) // 2
    boxes = {r: find_objects(x.labels) for r, x in cr.readings.items()}  # O(volume) once
    ratings: dict[int, dict] = {}
    for item in items:
        found = [(r, lesion) for r, lesion in item.lesions.items() if lesion is not None]
        box = _union([boxes[r][lesion - 1] for r, lesion in found])
        votes = np.zeros(labels[box].shape, np.int16)  # O(the item's box)
        for reader, lesion in found:
            votes += cr.readings[reader].labels[box] == lesion
        take = (votes >= needed) & (labels[box] == 0)
        labels[box][take] = item.item
        rated = [r for r in item_values(cr, item).values() if r is not None]
        if rated:
            ratings[item.item] = _common_fields(rated, confidence=item.agreed)
    return labels, {k: v for k, v in ratings.items() if v}
