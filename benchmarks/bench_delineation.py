"""Reader effort per lesion: ``python benchmarks/bench_delineation.py [--quick]``.

A scripted reader delineates each true lesion of the default phantom (256 x 256 x
44, 1 x 1 x 3 mm, 18 lesions) three ways, and the figures are the actions it took
(clicks, keys, brush dabs), the Dice against the truth and the model time per
action (the tool's computation plus the lesion model's update, no viewer):

(a) napari's 2-D brush only (3 mm across): greedy dabs on every slice of the lesion,
    each dab where it covers the most of what is left (a careful reader);
(b) grow from a click: the tool key, one click at the lesion's centre, Enter; if
    Dice < 0.8 the reader raises or lowers the threshold once and accepts then;
(c) outlines on every 2nd slice (first and last included): the contour traced with
    the brush and the inside filled by one click of napari's fill bucket, then the
    fill-between key.

Then the latency a tool adds per action at 512 x 512 x 300 (a lesion grown, a lesion
filled between slices, a 3-D brush dab), medians of repeated runs. The real-anatomy
check (lesions planted in the MNI152 template) needs nilearn's data, which this
benchmark does not download: it reports the phantom only.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

from napari_uspio import load_case, make_phantom
from napari_uspio.core.lesions import lesion_model
from napari_uspio.core.lesions.delineate import grow_from_click, interpolate_slices, sphere_stroke
from napari_uspio.core.lesions.geometry import spacing_mm
from napari_uspio.core.lesions.model import LesionModel
from napari_uspio.core.volume import LabelMap

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


def _dice(a, b) -> float:
    return 2 * float((a & b).sum()) / float(a.sum() + b.sum())


def _apply(model, stroke) -> None:
    """Set a stroke in the model's labels, as a paint event of the viewer does."""
    model.apply_indices(stroke.indices, stroke.label)


def read_lesion(case, truth, lesion_id, spacing) -> dict[str, tuple]:
    """The three ways for one lesion: {way: (actions, dice, seconds per action)}."""
    lesion = truth == lesion_id
    box = tuple(
        slice(max(0, s.start - 3), s.stop + 3)
        for s in ndimage.find_objects(lesion.astype(np.int8))[0]
    )
    disc = _disc(spacing[1:])
    z_slices = np.unique(np.nonzero(lesion)[0])
    out = {}
    painted, dabs = np.zeros_like(lesion), 0
    for z in z_slices:
        done, n = brush_slice(lesion[z][box[1:]], disc)
        painted[z][box[1:]] |= done
        dabs += n
    out["brush"] = (dabs, _dice(painted, lesion), float("nan"))

    model = lesion_model(case, np.zeros(truth.shape, dtype=np.int32))
    labels = model.labels
    voxels = np.argwhere(lesion)
    click = tuple(voxels[np.argmin(((voxels - voxels.mean(axis=0)) ** 2).sum(axis=1))])
    actions, seconds, level = 3, [], 0.5
    for _ in range(2):
        start = time.perf_counter()
        grown = grow_from_click(
            case["flair"], labels, click, 1, spacing, case.wm_mask, level=level
        )
        seconds.append(time.perf_counter() - start)
        mask = np.zeros_like(lesion)
        mask[grown.stroke.indices] = True
        if _dice(mask, lesion) >= 0.8:
            break
        level, actions = (0.6 if mask.sum() > lesion.sum() else 0.4), actions + 1
    start = time.perf_counter()
    _apply(model, grown.stroke)
    seconds[-1] += time.perf_counter() - start
    out["grow"] = (actions, _dice(labels == 1, lesion), statistics.median(seconds))

    model = lesion_model(case, np.zeros(truth.shape, dtype=np.int32))
    outlined = sorted(set(z_slices[::2]) | {z_slices[-1]})
    dabs = 0
    for z in outlined:
        done, n = outline_slice(lesion[z][box[1:]], disc)
        yy, xx = np.nonzero(done)
        model.apply_indices((np.full(yy.size, z), yy + box[1].start, xx + box[2].start), 1)
        dabs += n
    labels = model.labels
    start = time.perf_counter()
    if len(outlined) > 1 and np.diff(outlined).max() > 1:
        _apply(model, interpolate_slices(labels, 1, spacing, model.lesion_bbox(1)))
    seconds = time.perf_counter() - start
    out["outline + fill"] = (dabs + 1, _dice(labels == 1, lesion), seconds)
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


def main(quick: bool) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = make_phantom(Path(tmp) / "case", seed=0)
        case = load_case(folder)
        truth = LabelMap.from_file(folder / "truth" / "lesions_truth.nii.gz", "lesions").data
        spacing = spacing_mm(case.grid.index_to_world)
        ids = np.unique(truth)[1:]
        rows = [read_lesion(case, truth, int(i), spacing) for i in ids]
        latency = latency_large(3 if quick else 7)
    print(f"phantom: {len(ids)} lesions, 256 x 256 x 44, 1 x 1 x 3 mm; brush {BRUSH_MM:g} mm\n")
    print("| way | actions per lesion, median (range) | total | Dice, median (min) |")
    print("|---|---|---|---|")
    totals = {}
    for way in ("brush", "grow", "outline + fill"):
        actions = [r[way][0] for r in rows]
        dices = [r[way][1] for r in rows]
        totals[way] = sum(actions)
        print(
            f"| {way} | {statistics.median(actions):g} ({min(actions)}-{max(actions)}) | "
            f"{sum(actions)} | {statistics.median(dices):.2f} ({min(dices):.2f}) |"
        )
    for way in ("grow", "outline + fill"):
        print(
            f"\n{way}: {totals['brush'] / totals[way]:.1f}x fewer actions than the brush", end=""
        )
    tall = [r for r in rows if r["slices"][0] >= 5]
    if tall:
        ratio = sum(r["brush"][0] for r in tall) / sum(r["outline + fill"][0] for r in tall)
        print(f" ({ratio:.1f}x on the {len(tall)} lesions spanning 5 slices or more)", end="")
    model_ms = {
        w: statistics.median(r[w][2] for r in rows) * 1e3 for w in ("grow", "outline + fill")
    }
    print(
        f"\nmodel time per action (phantom): grow {model_ms['grow']:.1f} ms, "
        f"fill between {model_ms['outline + fill']:.1f} ms\n"
    )
    print("| action at 512 x 512 x 300 (0.5 mm) | median ms | target |\n|---|---|---|")
    for name, seconds in latency.items():
        print(f"| {name} | {seconds * 1e3:.1f} | < 50 |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true")
    main(parser.parse_args().quick)
