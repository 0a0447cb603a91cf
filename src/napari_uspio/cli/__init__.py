"""The ``napari-uspio`` command: phantom, demo, measure."""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from ..core.volume import CaseError
from .study import add_study_parser


def _phantom(args: argparse.Namespace) -> int:
    from ..phantom import make_phantom

    shape = tuple(args.shape) if args.shape else None
    out = make_phantom(
        args.out_dir,
        seed=args.seed,
        geometry=args.geometry,
        shape_xyz=shape,
        followup=args.followup,
    )
    sys.stdout.write(f"phantom case written to {out} (ground truth in {out / 'truth'})\n")
    return 0


def _phantom_cohort(args: argparse.Namespace) -> int:
    from ..phantom.cohort import make_cohort

    cohort = make_cohort(args.out_dir, n_patients=args.patients, seed=args.seed)
    sys.stdout.write(
        f"{len(cohort.patients)} phantom cases ({len(cohort.lesions)} lesions) written to "
        f"{cohort.folder} (truth in patients.csv, lesions.csv)\n"
    )
    return 0


def _measure(args: argparse.Namespace) -> int:
    from ..core.case import load_case
    from ..core.csvfiles import write_table
    from ..core.export import read_ratings, reading_table, summary_table
    from ..core.lesions import lesion_model
    from ..core.ratings import Ratings

    case = load_case(args.case_dir)
    labels = case.read_labels(args.labels).data
    model = lesion_model(case, labels, shell_width_mm=args.shell_width_mm)
    ratings = read_ratings(args.ratings) if args.ratings else Ratings()
    code = args.case_code or Path(args.case_dir).resolve().name
    table = reading_table(model.table(), ratings, code, args.reader)
    write_table(table, args.output)
    sys.stdout.write(f"{len(table)} lesions written to {args.output}\n")
    if args.summary:
        write_table(summary_table(table, case, labels, args.shell_width_mm), args.summary)
        sys.stdout.write(f"patient summary written to {args.summary}\n")
    return 0


def _has_display() -> bool:
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def _demo(args: argparse.Namespace) -> int:
    if not _has_display() and not args.no_xvfb:
        xvfb = shutil.which("xvfb-run")
        if xvfb is None:
            sys.stderr.write(
                "no display and no xvfb-run: install it (apt-get install xvfb xauth) "
                "or run on a desktop.\n"
            )
            return 2
        shot = Path(args.screenshot or "napari-uspio-demo.png").resolve()
        cmd = [xvfb, "-a", "-s", "-screen 0 1600x1000x24", sys.executable, "-m", "napari_uspio"]
        cmd += ["demo", "--no-xvfb", "--screenshot", str(shot)]
        return subprocess.call(cmd)
    from .._demo import run_demo

    return run_demo(screenshot=args.screenshot)


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``napari-uspio``."""
    parser = argparse.ArgumentParser(prog="napari-uspio", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("phantom", help="write a synthetic case with ground truth")
    p.add_argument("out_dir", type=Path)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--geometry",
        choices=["default", "iso1mm"],
        default="default",
        help="default: 256x256x44 voxels of 1x1x3 mm; iso1mm: 1 mm isotropic",
    )
    p.add_argument(
        "--shape",
        type=int,
        nargs=3,
        metavar=("X", "Y", "Z"),
        help="voxel count, for larger grids (e.g. 512 512 300)",
    )
    p.add_argument("--followup", action="store_true", help="also write a follow-up visit")
    p.set_defaults(run=_phantom)

    c = sub.add_parser("phantom-cohort", help="write a phantom cohort after seed 000")
    c.add_argument("out_dir", type=Path)
    c.add_argument("--patients", type=int, default=31, help="31 gives seed 000's counts")
    c.add_argument("--seed", type=int, default=0)
    c.set_defaults(run=_phantom_cohort)

    d = sub.add_parser("demo", help="open napari with the sample case and the widgets")
    d.add_argument(
        "--screenshot",
        type=Path,
        help="save a screenshot of the window here and quit (default when headless)",
    )
    d.add_argument("--no-xvfb", action="store_true", help=argparse.SUPPRESS)
    d.set_defaults(run=_demo)

    m = sub.add_parser("measure", help="write the per-lesion table of a case and a label map")
    m.add_argument("case_dir", type=Path)
    m.add_argument("--labels", type=Path, required=True, help="label map NIfTI on the case grid")
    m.add_argument("-o", "--output", type=Path, required=True, help="CSV to write")
    m.add_argument("--shell-width-mm", type=float, default=3.0)
    m.add_argument(
        "--ratings", type=Path, help="a lesion CSV exported by a reading: join its ratings"
    )
    m.add_argument("--summary", type=Path, help="also write the patient summary CSV here")
    m.add_argument("--reader", default="", help="reader id written in the tables")
    m.add_argument("--case-code", help="case code written in the tables (default: folder name)")
    m.set_defaults(run=_measure)
    add_study_parser(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the command line; bad input exits 2 with a message naming the file."""
    args = build_parser().parse_args(argv)
    try:
        return args.run(args)
    except CaseError as exc:
        sys.stderr.write(f"error: {exc}\n")
        return 2
