"""Cost of the live lesion table: brush strokes, undo/redo, full recompute, memory.

Run ``python benchmarks/bench_lesions.py [--quick]`` (``QT_QPA_PLATFORM=offscreen``
is fine: no viewer is created). Prints one table; medians, since the machine
may be shared. ``--quick`` skips the 300 x 512 x 512 volume and plays fewer strokes.

Per volume: 200 ellipsoidal lesions of 30-2000 voxels inside a white-matter
ellipsoid, eight float32 maps (mtr with NaN background, qsm, t1 pre/post gd,
pre/post uspio, r2star, dr2star), shell 3 mm. A *stroke* is 3-6 brush dabs
(size 5-10, one axial slice) in ``layer.block_history()`` on or next to a
lesion: growing it, erasing part of it, or starting a new lesion beside it.
"""

from __future__ import annotations

import argparse
import time

import napari.layers
import numpy as np
from skimage.measure import regionprops_table

from napari_uspio._napari.binding import LabelsBinding
from napari_uspio.core.lesions import LesionModel
from napari_uspio.core.roles import MEASURED_MAPS

MAPS = MEASURED_MAPS
VOLUMES = (  # shape (z, y, x), spacing (z, y, x) mm
    ((44, 256, 256), (3.0, 0.9375, 0.9375)),
    ((180, 256, 256), (1.0, 1.0, 1.0)),
    ((300, 512, 512), (1.0, 1.0, 1.0)),
)


def make_case(shape, spacing, n_lesions=200, seed=0):
    """Return labels, maps, their block, wm mask, affine.

    The maps are float32 views of one (8, z, y, x) block flipped in x and read-only,
    as ``Volume.from_file`` gives a LAS file (the phantom's and many scanners' order).
    """
    rng = np.random.default_rng(seed)
    spacing = np.array(spacing)
    centre = np.array(shape) / 2
    grid = np.ogrid[tuple(slice(0, n) for n in shape)]
    wm = sum(((g - c) / (0.42 * n)) ** 2 for g, c, n in zip(grid, centre, shape, strict=True)) <= 1
    labels = np.zeros(shape, dtype=np.int32)
    for lesion_id in range(1, n_lesions + 1):
        voxels = np.exp(rng.uniform(np.log(30), np.log(2000)))
        radius_mm = (3 * voxels * np.prod(spacing) / (4 * np.pi)) ** (1 / 3)
        radius = radius_mm * rng.uniform(0.75, 1.3, 3) / spacing
        while True:
            at = rng.uniform(0.1, 0.9, 3) * shape
            if wm[tuple(at.astype(int))]:
                break
        lo = np.maximum(np.floor(at - radius).astype(int), 0)
        hi = np.minimum(np.ceil(at + radius).astype(int) + 1, shape)
        box = tuple(slice(a, b) for a, b in zip(lo, hi, strict=True))
        local = np.ogrid[box]
        inside = sum(((g - c) / r) ** 2 for g, c, r in zip(local, at, radius, strict=True)) <= 1
        labels[box][inside] = lesion_id
    stack = np.empty((len(MAPS), *shape), dtype=np.float32)
    for block in stack:
        rng.random(dtype=np.float32, out=block)
    stack[0][~wm] = np.nan
    stack.flags.writeable = False
    maps = {role: stack[i][:, :, ::-1] for i, role in enumerate(MAPS)}
    affine = np.diag([*spacing, 1.0])
    affine[:3, 3] = -centre * spacing
    return labels, maps, stack, wm, affine


def stroke_plan(model, rng, n_strokes):
    """Return strokes: (label, brush size, list of (z, y, x) dab centres)."""
    plan = []
    ids = model.ids
    for k in range(n_strokes):
        lesion_id = int(rng.choice(ids))
        box = model.lesion_bbox(lesion_id)
        z = int(rng.integers(box[0].start, box[0].stop))
        y = int(rng.choice([box[1].start, box[1].stop - 1]))
        x = int(rng.integers(box[2].start, box[2].stop))
        kind = k % 5
        label = {0: lesion_id, 1: lesion_id, 2: lesion_id, 3: 0}.get(kind, -1)  # -1: new id
        step = rng.integers(-2, 3, 2)
        dabs = [(z, y + i * step[0], x + i * step[1]) for i in range(int(rng.integers(3, 7)))]
        plan.append((label, int(rng.integers(5, 11)), dabs))
    return plan


def run_volume(shape, spacing, n_strokes):
    labels, maps, stack, wm, affine = make_case(shape, spacing)
    row = {"shape": "x".join(map(str, shape)), "spacing": "x".join(f"{s:g}" for s in spacing)}

    start = time.perf_counter()
    model = LesionModel(labels, maps, affine, wm)
    row["load_s"] = time.perf_counter() - start
    row["lesions"] = model.ids.size
    full = []
    for _ in range(3):
        start = time.perf_counter()
        model.full_recompute_table()
        full.append(time.perf_counter() - start)
    row["full_s"] = float(np.median(full))

    regionprops = []
    for _ in range(3):
        start = time.perf_counter()
        regionprops_table(
            labels,
            intensity_image=np.moveaxis(stack, 0, -1)[:, :, ::-1],  # (z, y, x, map), the maps
            properties=("label", "area", "centroid", "intensity_mean"),
        )
        regionprops.append(time.perf_counter() - start)
    row["regionprops_s"] = float(np.median(regionprops))

    layer = napari.layers.Labels(labels)
    binding = LabelsBinding(layer, model)
    timings = Timings(binding)

    rng = np.random.default_rng(1)
    for i, (label, size, dabs) in enumerate(stroke_plan(model, rng, n_strokes)):
        layer.brush_size = size
        if label < 0:
            label = model.next_free_id()
        timings.phase = "stroke"
        with layer.block_history():
            for dab in dabs:
                layer.paint(dab, label, refresh=False)
        if i % 4 == 3:  # undo and redo the stroke just painted
            for action in ("undo", "redo"):
                timings.phase = action
                start = time.perf_counter()
                getattr(layer, action)()
                timings.add(f"{action}_total", time.perf_counter() - start)
            timings.phase = "idle"
            layer.refresh()  # as on a slice change: nothing to sync
    timings.phase = None
    table_ok = model.table().equals(model.full_recompute_table())
    row.update(
        stroke_med_ms=timings.ms("paint", 50),
        stroke_p95_ms=timings.ms("paint", 95),
        publish_in_place_ms=timings.ms("publish_in_place", 50),
        publish_new_table_ms=timings.ms("publish_new_table", 50),
        new_table_strokes=len(timings.samples.get("publish_new_table", [])),
        strokes=len(timings.samples["paint"]),
        undo_med_ms=timings.ms("undo_total", 50),
        undo_sync_ms=timings.ms("set_data_undo", 50),
        redo_med_ms=timings.ms("redo_total", 50),
        redo_sync_ms=timings.ms("set_data_redo", 50),
        idle_sync_ms=timings.ms("set_data_idle", 50),
        dirty_boxes=len(binding._blocks_to_boxes()),
        labels_copy_mb=model.labels.nbytes / 2**20,
        model_other_kb=(model.nbytes - model.labels.nbytes) / 2**10,
        consistent=bool(table_ok and np.array_equal(model.labels, layer.data)),
    )
    row["rp_over_stroke"] = row["regionprops_s"] * 1e3 / row["stroke_med_ms"]
    binding.disconnect()
    return row


class Timings:
    """Wrap the binding's handlers to time them (benchmark-only use of its internals)."""

    def __init__(self, binding):
        self.samples = {}
        self.phase = None
        # The binding's emitters call these attributes at event time: wrap them.
        binding._on_paint = self._timed(binding._on_paint, "paint")
        binding._on_set_data = self._timed(binding._on_set_data, "set_data")
        binding._publish = self._timed_publish(binding)

    def _timed(self, handler, key):
        def timed(*args):
            start = time.perf_counter()
            handler(*args)
            if self.phase is not None:
                suffix = "" if key == "paint" else f"_{self.phase}"
                self.add(key + suffix, time.perf_counter() - start)

        return timed

    def _timed_publish(self, binding):
        publish = binding._publish

        def timed(*args, **kwargs):
            before = binding.layer.features
            start = time.perf_counter()
            publish(*args, **kwargs)
            seconds = time.perf_counter() - start
            if self.phase == "stroke":
                same = binding.layer.features is before
                self.add("publish_in_place" if same else "publish_new_table", seconds)

        return timed

    def add(self, key, seconds):
        self.samples.setdefault(key, []).append(seconds)

    def ms(self, key, q):
        values = self.samples.get(key, [])
        return 1e3 * float(np.percentile(values, q)) if values else float("nan")


COLUMNS = (
    ("shape", "{}"),
    ("spacing", "{}"),
    ("lesions", "{}"),
    ("load_s", "{:.2f}"),
    ("full_s", "{:.3f}"),
    ("regionprops_s", "{:.3f}"),
    ("strokes", "{}"),
    ("stroke_med_ms", "{:.2f}"),
    ("stroke_p95_ms", "{:.2f}"),
    ("publish_in_place_ms", "{:.2f}"),
    ("publish_new_table_ms", "{:.2f}"),
    ("new_table_strokes", "{}"),
    ("rp_over_stroke", "{:.0f}x"),
    ("undo_med_ms", "{:.1f}"),
    ("undo_sync_ms", "{:.2f}"),
    ("redo_med_ms", "{:.1f}"),
    ("redo_sync_ms", "{:.2f}"),
    ("idle_sync_ms", "{:.2f}"),
    ("dirty_boxes", "{}"),
    ("labels_copy_mb", "{:.1f}"),
    ("model_other_kb", "{:.1f}"),
    ("consistent", "{}"),
)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="skip 300x512x512, fewer strokes")
    args = parser.parse_args()
    volumes = VOLUMES[:2] if args.quick else VOLUMES
    n_strokes = 60 if args.quick else 200
    rows = [run_volume(shape, spacing, n_strokes) for shape, spacing in volumes]
    print("| metric | " + " | ".join(r["shape"] for r in rows) + " |")
    print("|---" * (len(rows) + 1) + "|")
    for key, fmt in COLUMNS[1:]:
        print(f"| {key} | " + " | ".join(fmt.format(r[key]) for r in rows) + " |")
    base, last = rows[0]["stroke_med_ms"], rows[-1]["stroke_med_ms"]
    print(f"\nstroke median, largest / smallest volume: {last / base:.2f}x")


if __name__ == "__main__":
    main()
