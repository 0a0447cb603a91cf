"""Matching the lesions of two or more readers of one case, by Dice overlap.

Two readers
-----------
:func:`match_lesions` pairs the lesions of reader A with those of reader B
one-to-one. The Dice coefficient ``2 |a ∩ b| / (|a| + |b|)`` of every pair of
lesions is computed sparsely, from the voxels where either map is labelled
(``O(lesion voxels)``, never ``O(lesions² × voxels)``). Pairs whose Dice is
below ``min_dice`` (default :data:`MIN_DICE` = 0.1) are not admissible; the
assignment that maximises the total Dice of the admissible pairs is found with
:func:`scipy.optimize.linear_sum_assignment`. Lesions left without a partner
are *detection disagreements*.

Consequences, tested in ``tests/test_agreement.py``:

- a **split** lesion (one lesion of A covered by two of B) gives one match
  (with the larger part, higher Dice) and one lesion of B unmatched;
- **merged** lesions (two of A covered by one of B) likewise give one match
  and one lesion of A unmatched;
- a **shifted** lesion is matched while its Dice stays ``>= min_dice``.

Three or more readers
---------------------
:func:`group_lesions` builds groups holding at most one lesion per reader, by
sequential assignment in the readers' order (the order of the mapping; pass
them sorted for a reader-independent result): the first reader's lesions each
open a group; every next reader's lesions are assigned one-to-one
(Hungarian, as above) to the existing groups, the score of a (group, lesion)
pair being the **mean Dice of the lesion with the group's members**; pairs
whose mean Dice is below ``min_dice`` are not admissible. A lesion left
unassigned opens a new group. The result is deterministic for a given reader
order; with two readers it equals :func:`match_lesions`.

Degenerate cases: no lesion for either reader gives no matches, and
:func:`voxel_dice` and the ratios of :func:`detection_agreement` are ``NaN``
(undefined rather than a perfect 1, so they do not inflate averages; pool the
counts over cases instead).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence

import numpy as np
from scipy.optimize import linear_sum_assignment

#: Default minimum Dice for two lesions to be the same lesion.
MIN_DICE = 0.1

Match = tuple[int | None, int | None, float]


def _check_pair(labels_a: np.ndarray, labels_b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(labels_a), np.asarray(labels_b)
    if a.shape != b.shape:
        raise ValueError(f"label maps differ in shape: {a.shape} vs {b.shape}")
    for name, arr in (("labels_a", a), ("labels_b", b)):
        if not (np.issubdtype(arr.dtype, np.integer) or arr.dtype == bool):
            raise ValueError(f"{name} must hold integer lesion ids, got dtype {arr.dtype}")
    return a, b


def dice_matrix(
    labels_a: np.ndarray, labels_b: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Dice of every lesion of A with every lesion of B.

    Returns ``(ids_a, ids_b, dice)``: the sorted lesion ids (> 0) of each map
    and the ``len(ids_a) x len(ids_b)`` Dice matrix. Computed from the voxels
    where either map is labelled only.
    """
    a, b = _check_pair(labels_a, labels_b)
    mask = (a > 0) | (b > 0)
    va = a[mask].astype(np.int64)
    vb = b[mask].astype(np.int64)
    va[va < 0] = 0
    vb[vb < 0] = 0
    # unique (a, b) pairs with their voxel counts, encoded as one int64 key
    width = int(vb.max(initial=0)) + 1
    if int(va.max(initial=0)) < np.iinfo(np.int64).max // width:
        keys, counts = np.unique(va * width + vb, return_counts=True)
        pairs = np.stack([keys // width, keys % width], axis=1)
    else:  # ids too large to encode in one int64
        pairs, counts = np.unique(np.stack([va, vb], axis=1), axis=0, return_counts=True)
        pairs = pairs.reshape(-1, 2)
    ids_a = np.unique(pairs[:, 0][pairs[:, 0] > 0])
    ids_b = np.unique(pairs[:, 1][pairs[:, 1] > 0])
    size_a = np.zeros(len(ids_a), dtype=np.int64)
    size_b = np.zeros(len(ids_b), dtype=np.int64)
    ia = np.searchsorted(ids_a, pairs[:, 0])
    ib = np.searchsorted(ids_b, pairs[:, 1])
    in_a = pairs[:, 0] > 0
    in_b = pairs[:, 1] > 0
    np.add.at(size_a, ia[in_a], counts[in_a])
    np.add.at(size_b, ib[in_b], counts[in_b])
    dice = np.zeros((len(ids_a), len(ids_b)), dtype=float)
    both = in_a & in_b
    ia, ib, inter = ia[both], ib[both], counts[both]
    dice[ia, ib] = 2.0 * inter / (size_a[ia] + size_b[ib])
    return ids_a, ids_b, dice


def _assign(score: np.ndarray, min_dice: float) -> list[tuple[int, int]]:
    """Row/column index pairs of the admissible maximum-score assignment."""
    if score.size == 0:
        return []
    admissible = np.where(score >= min_dice, score, 0.0)
    rows, cols = linear_sum_assignment(admissible, maximize=True)
    return [
        (int(r), int(c))
        for r, c in zip(rows, cols, strict=True)
        if score[r, c] >= min_dice and score[r, c] > 0
    ]


def match_lesions(
    labels_a: np.ndarray, labels_b: np.ndarray, min_dice: float = MIN_DICE
) -> list[Match]:
    """One-to-one matching of the lesions of two readers of one case.

    Returns ``(id_a, id_b, dice)`` tuples: the matched pairs in increasing
    ``id_a``, then the unmatched lesions of A ``(id_a, None, 0.0)``, then the
    unmatched lesions of B ``(None, id_b, 0.0)``, each in increasing id.
    """
    if not 0 < min_dice <= 1:
        raise ValueError(f"min_dice must be in (0, 1], got {min_dice}")
    ids_a, ids_b, dice = dice_matrix(labels_a, labels_b)
    assigned = sorted(_assign(dice, min_dice))
    out: list[Match] = [(int(ids_a[r]), int(ids_b[c]), float(dice[r, c])) for r, c in assigned]
    rows = {r for r, _ in assigned}
    cols = {c for _, c in assigned}
    out += [(int(i), None, 0.0) for k, i in enumerate(ids_a) if k not in rows]
    out += [(None, int(i), 0.0) for k, i in enumerate(ids_b) if k not in cols]
    return out


def match_by_id(labels_a: np.ndarray, labels_b: np.ndarray) -> list[Match]:
    """Matching of two readings that share lesion ids (a ``reference`` study): by id.

    Returned like :func:`match_lesions`: the ids both hold with their Dice, then
    the ids of A only ``(id_a, None, 0.0)``, then those of B only.
    """
    ids_a, ids_b, dice = dice_matrix(labels_a, labels_b)
    index_a = {int(i): k for k, i in enumerate(ids_a)}
    index_b = {int(i): k for k, i in enumerate(ids_b)}
    shared = [(i, k) for i, k in index_a.items() if i in index_b]
    out: list[Match] = [(i, i, float(dice[k, index_b[i]])) for i, k in shared]
    out += [(i, None, 0.0) for i in index_a if i not in index_b]
    out += [(None, i, 0.0) for i in index_b if i not in index_a]
    return out


def group_lesions(
    label_maps: Mapping[str, np.ndarray], min_dice: float = MIN_DICE
) -> list[dict[str, int | None]]:
    """Consistent groups of lesions across readers (at most one per reader).

    ``label_maps`` maps reader -> label map of the same case. Each group is a
    dict with every reader as key and the reader's lesion id or ``None``.
    Groups are listed in the order they were opened (the first reader's
    lesions by id, then the lesions of later readers that opened a group).
    See the module docstring for the method.
    """
    if not 0 < min_dice <= 1:
        raise ValueError(f"min_dice must be in (0, 1], got {min_dice}")
    readers = list(label_maps)
    groups: list[dict[str, int]] = []
    # pairwise Dice lookups: (reader_i, reader_j) -> (index of ids_i, index of ids_j, matrix)
    pair_cache: dict[tuple[str, str], tuple[dict[int, int], dict[int, int], np.ndarray]] = {}

    def pair(ri: str, rj: str) -> tuple[dict[int, int], dict[int, int], np.ndarray]:
        if (ri, rj) not in pair_cache:
            ids_i, ids_j, d = dice_matrix(label_maps[ri], label_maps[rj])
            pair_cache[(ri, rj)] = (
                {int(v): k for k, v in enumerate(ids_i)},
                {int(v): k for k, v in enumerate(ids_j)},
                d,
            )
        return pair_cache[(ri, rj)]

    for pos, reader in enumerate(readers):
        ids = np.unique(np.asarray(label_maps[reader]))
        ids = [int(i) for i in ids if i > 0]
        if pos == 0 or not groups:
            groups += [{reader: i} for i in ids]
            continue
        score = np.zeros((len(groups), len(ids)))
        for g, members in enumerate(groups):
            for other, oid in members.items():
                index_o, index_r, d = pair(other, reader)
                # a lesion absent from the pairwise matrix has no voxel: Dice 0
                cols = [c for c, lid in enumerate(ids) if lid in index_r]
                score[g, cols] += d[index_o[oid], [index_r[ids[c]] for c in cols]]
            score[g] /= len(members)
        assigned = _assign(score, min_dice)
        for g, c in assigned:
            groups[g][reader] = ids[c]
        taken = {c for _, c in assigned}
        groups += [{reader: lid} for c, lid in enumerate(ids) if c not in taken]
    return [{r: members.get(r) for r in readers} for members in groups]


def detection_agreement(matches: Iterable[Match]) -> dict[str, float]:
    """Lesion-wise detection agreement of two readers from :func:`match_lesions`.

    ``matches`` may concatenate the matches of several cases (the counts are
    pooled). Returns ``n_a``, ``n_b`` (lesions of each reader), ``matched``,
    ``sensitivity`` (matched / n_a: B's sensitivity with A as reference),
    ``ppv`` (matched / n_b: A's sensitivity with B as reference) and ``f1``
    (2 matched / (n_a + n_b), symmetric). A ratio with a zero denominator is
    ``NaN``.
    """
    n_a = n_b = matched = 0
    for id_a, id_b, _dice in matches:
        n_a += id_a is not None
        n_b += id_b is not None
        matched += id_a is not None and id_b is not None

    def ratio(num: float, den: float) -> float:
        return num / den if den else math.nan

    return {
        "n_a": n_a,
        "n_b": n_b,
        "matched": matched,
        "sensitivity": ratio(matched, n_a),
        "ppv": ratio(matched, n_b),
        "f1": ratio(2 * matched, n_a + n_b),
    }


def voxel_dice(labels_a: np.ndarray, labels_b: np.ndarray) -> float:
    """Dice of the lesion masks (all lesions, ``> 0``) of two readers of one case.

    ``NaN`` when neither reader labelled any voxel.
    """
    a, b = _check_pair(labels_a, labels_b)
    ma, mb = a > 0, b > 0
    total = int(ma.sum()) + int(mb.sum())
    if total == 0:
        return math.nan
    return 2.0 * int(np.count_nonzero(ma & mb)) / total


def matched_pairs(matches: Sequence[Match]) -> list[tuple[int, int]]:
    """The ``(id_a, id_b)`` of the matched pairs only."""
    return [(a, b) for a, b, _ in matches if a is not None and b is not None]
