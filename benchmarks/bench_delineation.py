"""Reader effort per lesion: ``python benchmarks/bench_delineation.py [--quick]``.

A scripted reader delineates each true lesion of three cases: the default phantom
(256 x 256 x 44, 1 x 1 x 3 mm, 18 lesions), and 12 lesions planted in the deep white
matter of the MNI152 2009a template (:mod:`mni_lesions`, from nilearn's wheel, no
other download) at 1 x 1 x 3 mm (2-D FLAIR) and at 1 mm (3-D FLAIR). The figures are
the actions it took (clicks, keys, brush dabs), the Dice against the truth and the
model time per action (the tool's computation plus the lesion model's update, no viewer):

(a) napari's 2-D brush only (3 mm across): greedy dabs on every slice of the lesion,
    each dab where it covers the most of what is left (a careful reader);
(b) grow from a click: the tool key, one click at the lesion's centre, Enter; if
    Dice < 0.8 the reader raises or lowers the threshold once and accepts then; a
    refused click costs its two actions and the lesion is brushed as in (a);
(c) outlines on every 2nd slice (3 mm slices) or 3rd (1 mm), first and last included,
    then the fill-between key; a slice outlined either with the brush (the contour
    traced in dabs, the inside filled by one click of napari's fill bucket) or with
    napari's polygon tool (boundary voxels clicked as vertices, as few as keep the
    slice's Dice >= 0.9, one more click to close; a slice one dab covers is dabbed).

Then the latency a tool adds per action at 512 x 512 x 300 (a lesion grown, a lesion
filled between slices, a 3-D brush dab), medians of repeated runs.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from mni_lesions import make_mni_case
from napari.layers import Labels
from scipy import ndimage
from skimage import measure

from napari_uspio import load_case, make_phantom
from napari_uspio.core.lesions import lesion_model
from napari_uspio.core.lesions.delineate import (
    DelineationError,
    grow_from_click,
    interpolate_slices,
    sphere_stroke,
)
from napari_uspio.core.lesions.geometry import spacing_mm
from napari_uspio.core.lesions.model import LesionModel
from napari_uspio.core.volume import LabelMap
from napari_uspio.phantom import TRUTH_DIR, TRUTH_LABELS

BRUSH_MM = 3.0


def _disc(spacing_yx) -> np.ndarray:
    reach = [int(np.ceil(BRUSH_MM / 2 / s)) for s in spacing_yx]
    y, x = np.meshgrid(*(np.arange(-r, r + 1) for r in reach), indexing="ij")
    return (y * spacing_yx[0]) ** 2 + (x * spacing_yx[1]) ** 2 <= (BRUSH_MM / 2) ** 2


def brush_slice(target: np.ndarray, disc: np.ndarray) -> tuple[np.ndarray, int]:
    """Greedy dabs until ``target`` (2-D) is covered: the painted mask and the dabs."""
    painted = np.zeros_like(target)
    dabs = 0
    while (target & ~painted).any():
        gain = ndimage.convolve((target & ~painted).astype(np.int32), disc.astype(np.int32))
        y, x = np.unravel_index(np.argmax(gain), gain.shape)
        stamp = np.zeros_like(target)
        stamp[y, x] = True
        painted |= ndimage.binary_dilation(stamp, disc)
        dabs += 1
    return painted, dabs


def outline_slice(target: np.ndarray, disc: np.ndarray) -> tuple[np.ndarray, int]:
    """Trace the contour of ``target`` with dabs, then one click of napari's fill bucket."""
    contour = target & ~ndimage.binary_erosion(target)
    traced, dabs = brush_slice(contour, disc)
    filled = ndimage.binary_fill_holes(traced)
    return filled, dabs + int(bool((filled & ~traced).any()))


def polygon_slice(target: np.ndarray, disc: np.ndarray) -> tuple[np.ndarray, int]:
    """Outline ``target`` (2-D) with napari's polygon tool, or dab it where that is fewer.

    The vertices are boundary voxels of ``target`` (clicks, then one double-click to
    close), as few as keep the polygon napari fills at Dice >= 0.9 on the slice.
    """
    dabbed, dabs = brush_slice(target, disc)
    contour = max(measure.find_contours(np.pad(target, 1).astype(float), 0.5), key=len) - 1
    inside = np.clip(np.round(contour), 0, np.array(target.shape) - 1).astype(int)
    for k, point in enumerate(contour):  # the .5 coordinate rounded to the inside voxel
        for axis in (0, 1):
            if point[axis] % 1:
                lo = point.copy()
                lo[axis] = np.floor(point[axis])
                inside[k, axis] = lo[axis] if target[tuple(lo.astype(int))] else lo[axis] + 1
    best = (dabbed, dabs)
    for tolerance in (2.5, 2.0, 1.5, 1.0, 0.7, 0.0):
        vertices = measure.approximate_polygon(inside.astype(float), tolerance)[:-1]
        if len(vertices) < 3:
            continue
        filled = Labels._create_polygon_mask(vertices.astype(int), list(target.shape))
        if _dice(filled, target) >= 0.9 or tolerance == 0.0:
            if len(vertices) + 1 < best[1]:
                best = (filled, len(vertices) + 1)
            break
    return best


def _dice(a, b) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


def _apply(model, stroke) -> None:
    """Set a stroke in the model's labels, as a paint event of the viewer does."""
    model.apply_indices(stroke.indices, stroke.label)


#: The ways of (c), by how one slice is outlined.
OUTLINES = {"brush outline + fill": outline_slice, "polygon + fill": polygon_slice}


def _outline_and_fill(case, lesion, box, disc, spacing, outline) -> tuple:
    """Outline every 2nd slice (3 mm slices) or 3rd (1 mm), first and last too; fill between."""
    step = 2 if spacing[0] > 1.5 else 3
    model = lesion_model(case, np.zeros(lesion.shape, dtype=np.int32))
    z_slices = np.unique(np.nonzero(lesion)[0])
    outlined = sorted(set(z_slices[::step]) | {z_slices[-1]})
    actions = 0
    for z in outlined:
        done, n = outline(lesion[z][box[1:]], disc)
        yy, xx = np.nonzero(done)
        model.apply_indices((np.full(yy.size, z), yy + box[1].start, xx + box[2].start), 1)
        actions += n
    start = time.perf_counter()
    if len(outlined) > 1 and np.diff(outlined).max() > 1:
        _apply(model, interpolate_slices(model.labels, 1, spacing, model.lesion_bbox(1)))
    seconds = time.perf_counter() - start
    return actions + 1, _dice(model.labels == 1, lesion), seconds


def _grow(case, lesion, spacing) -> tuple:
    """The key, a click at the centre, Enter; one threshold notch when Dice < 0.8.

    A refused click (the lesion does not stand out) costs its actions and the
    reader paints the lesion with the brush instead: that is (a)'s count added.
    """
    model = lesion_model(case, np.zeros(lesion.shape, dtype=np.int32))
    voxels = np.argwhere(lesion)
    click = tuple(voxels[np.argmin(((voxels - voxels.mean(axis=0)) ** 2).sum(axis=1))])
    actions, seconds, level = 3, [], 0.5
    for _ in range(2):
        start = time.perf_counter()
        try:
            grown = grow_from_click(
                case["flair"], model.labels, click, 1, spacing, case.wm_mask, level=level
            )
        except DelineationError:
            return actions - 1, None, float("nan")  # the key and the click: Enter not pressed
        seconds.append(time.perf_counter() - start)
        mask = np.zeros_like(lesion)
        mask[grown.stroke.indices] = True
        if _dice(mask, lesion) >= 0.8:
            break
        level, actions = (0.6 if mask.sum() > lesion.sum() else 0.4), actions + 1
    start = time.perf_counter()
    _apply(model, grown.stroke)
    seconds[-1] += time.perf_counter() - start
    return actions, _dice(model.labels == 1, lesion), statistics.median(seconds)


def read_lesion(case, truth, lesion_id, spacing) -> dict[str, tuple]:
    """Every way for one lesion: {way: (actions, dice, model seconds per action)}."""
    lesion = truth == lesion_id
    box = tuple(
        slice(max(0, s.start - 3), s.stop + 3)
        for s in ndimage.find_objects(lesion.astype(np.int8))[0]
    )
    disc = _disc(spacing[1:])
    z_slices = np.unique(np.nonzero(lesion)[0])
    painted, dabs = np.zeros_like(lesion), 0
    for z in z_slices:
        done, n = brush_slice(lesion[z][box[1:]], disc)
        painted[z][box[1:]] |= done
        dabs += n
    out = {"brush": (dabs, _dice(painted, lesion), float("nan"))}
    actions, dice, seconds = _grow(case, lesion, spacing)
    out["grow"] = (
        (actions + dabs, out["brush"][1], seconds)
        if dice is None
        else (
            actions,
            dice,
            seconds,
        )
    )
    out["refused"] = (int(dice is None), float("nan"), float("nan"))
    for way, outline in OUTLINES.items():
        out[way] = _outline_and_fill(case, lesion, box, disc, spacing, outline)
    out["slices"] = (len(z_slices), float("nan"), float("nan"))
    return out


def latency_large(repeats: int) -> dict[str, float]:
    """Median seconds a tool adds per action on a 512 x 512 x 300 grid (tool + model)."""
    shape = (300, 512, 512)
    rng = np.random.default_rng(0)
    flair = rng.normal(500, 15, shape).astype(np.float32)
    z, y, x = np.ogrid[:300, :512, :512]
    ball = (z - 150) ** 2 * 1.0 + (y - 256) ** 2 + (x - 256) ** 2 <= 36
    flair[ball] += 250
    spacing = np.array([0.5, 0.5, 0.5])
    measured = {"mtr": flair}  # a measured map, so each stroke updates lesion statistics
    model = LesionModel(np.zeros(shape, dtype=np.int32), measured, np.diag([*spacing, 1]))
    times: dict[str, list[float]] = {"grow": [], "fill between": [], "3-D brush dab": []}
    empty = np.zeros(shape, dtype=np.int32)
    outlines = empty.copy()
    outlines[146][ball[146]] = outlines[154][ball[154]] = 2
    for k in range(repeats):
        model.reset(empty)
        start = time.perf_counter()
        grown = grow_from_click(flair, model.labels, (150, 256, 256), 1, spacing)
        _apply(model, grown.stroke)
        times["grow"].append(time.perf_counter() - start)
        model.reset(outlines)
        start = time.perf_counter()
        _apply(model, interpolate_slices(model.labels, 2, spacing, model.lesion_bbox(2)))
        times["fill between"].append(time.perf_counter() - start)
        start = time.perf_counter()
        _apply(model, sphere_stroke(shape, (100, 100 + k, 100), 1.5, spacing, 3))
        times["3-D brush dab"].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


WAYS = ("brush", "grow", *OUTLINES)


def read_case(folder: Path) -> list[dict[str, tuple]]:
    """Every truth lesion of a case folder (``truth/lesions_truth.nii.gz``), every way."""
    case = load_case(folder)
    truth = LabelMap.from_file(folder / TRUTH_DIR / TRUTH_LABELS, "lesions").data
    spacing = spacing_mm(case.grid.index_to_world)
    return [read_lesion(case, truth, int(i), spacing) for i in np.unique(truth)[1:]]


def report(title: str, rows: list[dict[str, tuple]]) -> None:
    """The effort table of one case: actions, Dice, ratios against the brush."""
    print(f"\n{title}; brush {BRUSH_MM:g} mm\n")
    print("| way | actions per lesion, median (range) | total | Dice, median (min) |")
    print("|---|---|---|---|")
    totals = {}
    for way in WAYS:
        actions = [r[way][0] for r in rows]
        dices = [r[way][1] for r in rows]
        totals[way] = sum(actions)
        print(
            f"| {way} | {statistics.median(actions):g} ({min(actions)}-{max(actions)}) | "
            f"{sum(actions)} | {statistics.median(dices):.2f} ({min(dices):.2f}) |"
        )
    tall = [r for r in rows if r["slices"][0] >= 5]
    for way in WAYS[1:]:
        line = f"{way}: {totals['brush'] / totals[way]:.1f}x fewer actions than the brush"
        if tall:
            ratio = sum(r["brush"][0] for r in tall) / sum(r[way][0] for r in tall)
            line += f" ({ratio:.1f}x on the {len(tall)} lesions spanning 5 slices or more)"
        print(line)
    refused = sum(r["refused"][0] for r in rows)
    model_ms = {
        w: statistics.median(r[w][2] for r in rows if r[w][2] == r[w][2]) for w in WAYS[1:]
    }
    print(
        f"grow refused on {refused} lesion(s) (painted with the brush instead, counted above); "
        "model time per action: "
        + ", ".join(f"{w} {seconds * 1e3:.1f} ms" for w, seconds in model_ms.items())
    )


def main(quick: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        phantom = read_case(make_phantom(Path(tmp) / "case", seed=0))
        mni = read_case(make_mni_case(Path(tmp) / "mni", seed=0))
        mni_1mm = read_case(make_mni_case(Path(tmp) / "mni_1mm", seed=0, slab=1))
        latency = latency_large(3 if quick else 7)
    report(f"phantom: {len(phantom)} lesions, 256 x 256 x 44, 1 x 1 x 3 mm", phantom)
    report(f"MNI152 2009a with {len(mni)} planted lesions: 197 x 233 x 63, 1 x 1 x 3 mm", mni)
    report("the same at 1 mm (3-D FLAIR): 197 x 233 x 189, 1 x 1 x 1 mm", mni_1mm)
    print("\n| action at 512 x 512 x 300 (0.5 mm) | median ms | target |\n|---|---|---|")
    for name, seconds in latency.items():
        print(f"| {name} | {seconds * 1e3:.1f} | < 50 |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
