"""Memory of a loaded case: six 512 x 512 x 300 float32 volumes vs their raw bytes.

Run: ``python benchmarks/bench_load.py [--quick]``. Each format is measured in a
fresh subprocess: resident memory after imports, peak (ru_maxrss) and resident
memory after ``load_case``; the target is retained and peak <= 1.5x raw bytes.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import nibabel as nib
import numpy as np
from scipy import ndimage

ROLES = ("t1_pre_gd", "t1_post_gd", "t1_pre_uspio", "t1_post_uspio", "qsm", "flair")


def rss_bytes() -> int:
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * resource.getpagesize()


def write_case(folder: Path, shape_xyz, suffix: str) -> int:
    rng = np.random.default_rng(0)
    smooth = ndimage.zoom(
        rng.normal(size=(16, 16, 10)), np.divide(shape_xyz, (16, 16, 10)), order=1
    )
    raw = 0
    for i, role in enumerate(ROLES):
        data = (800 + 100 * smooth + rng.normal(scale=20, size=shape_xyz) + i).astype(np.float32)
        nib.save(nib.Nifti1Image(data, np.diag([1.0, 1.0, 1.0, 1.0])), folder / f"{role}{suffix}")
        raw += data.nbytes
    return raw


def child(folder: str) -> None:
    from napari_uspio import load_case

    before = rss_bytes()
    peak_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    t0 = time.perf_counter()
    case = load_case(folder)
    seconds = time.perf_counter() - t0
    after = rss_bytes()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    held = sum(case[r].nbytes for r in case.roles)
    json.dump(
        {
            "before": before,
            "peak_before": peak_before,
            "after": after,
            "peak": peak,
            "held": held,
            "seconds": seconds,
            "dtypes": sorted({str(case[r].dtype) for r in case.roles}),
        },
        sys.stdout,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--quick", action="store_true", help="256 x 256 x 180 instead")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child)
        return
    shape = (256, 256, 180) if args.quick else (512, 512, 300)
    print(f"case of {len(ROLES)} float32 volumes of {shape[0]} x {shape[1]} x {shape[2]} voxels")
    print(
        f"{'format':8} {'raw MB':>8} {'held MB':>8} {'retained MB':>12} {'peak MB':>8} "
        f"{'retained/raw':>13} {'peak/raw':>9} {'load s':>7}"
    )
    for suffix in (".nii", ".nii.gz"):
        with tempfile.TemporaryDirectory() as tmp:
            raw = write_case(Path(tmp), shape, suffix)
            out = subprocess.run(
                [sys.executable, __file__, "--child", tmp],
                capture_output=True,
                text=True,
                check=True,
            ).stdout
            r = json.loads(out)
        retained = r["after"] - r["before"]
        peak = r["peak"] - r["before"]
        mb = 1 / 2**20
        print(
            f"{suffix:8} {raw * mb:8.0f} {r['held'] * mb:8.0f} {retained * mb:12.0f} "
            f"{peak * mb:8.0f} {retained / raw:13.2f} {peak / raw:9.2f} {r['seconds']:7.1f}"
            f"   dtypes {r['dtypes']}"
        )
    print("target: retained and peak <= 1.50 x raw")


if __name__ == "__main__":
    main()
