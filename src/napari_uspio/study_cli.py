"""``napari-uspio study init | status | export``: blinded reading studies from the shell.

Wired into the ``napari-uspio`` command by :func:`add_study_parser`; each
subcommand sets ``run`` (returns the exit code: 0, or 2 with a message on
stderr for bad input).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from .core.volume import CaseError


def _ids(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _duration(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}"


def _init(args: argparse.Namespace) -> int:
    from .core.study import init_study

    def skipped(name: str, why: str) -> None:
        sys.stdout.write(f"  skipped {name}: {why}\n")

    study = init_study(
        args.study_dir,
        args.cases,
        readers=_ids(args.readers),
        seed=args.seed,
        repeat_fraction=args.repeat_fraction,
        adjudicators=_ids(args.adjudicators or ""),
        shell_width_mm=args.shell_width_mm,
        shown_roles=_ids(args.roles or ""),
        on_skip=skipped,
    )
    readers = ", ".join(f"{r.id} ({r.role})" for r in study.readers)
    sys.stdout.write(
        f"study created in {study.folder}: {len(study.cases)} cases, readers {readers}, "
        f"seed {study.seed}\n"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from .core.study import load_study

    study = load_study(args.study_dir)
    with study.open_store() as store:
        progress = store.status()
    sys.stdout.write(f"study {study.folder}: {len(study.cases)} cases, seed {study.seed}\n")
    width = max([6, *(len(p.reader) for p in progress)])
    sys.stdout.write(f"{'reader':<{width}}  {'role':<11}  {'done':>10}  {'time':>8}  next\n")
    for p in progress:
        done = f"{p.done} of {p.total}"
        sys.stdout.write(
            f"{p.reader:<{width}}  {p.role:<11}  {done:>10}  {_duration(p.seconds_spent):>8}  "
            f"{p.next_code or '-'}\n"
        )
    return 0


def _export(args: argparse.Namespace) -> int:
    from .core.study import export_study

    written = export_study(args.study_dir, args.output, readers=_ids(args.readers or "") or None)
    sys.stdout.write(
        f"study exported to {args.output} ({', '.join(p.name for p in written.values())})\n"
    )
    return 0


def _guarded(run):
    def wrapper(args: argparse.Namespace) -> int:
        from .core.study import StudyError

        try:
            return run(args)
        except (StudyError, CaseError) as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 2

    return wrapper


def add_study_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``study`` with its subcommands ``init``, ``status``, ``export``; return its parser."""
    study = subparsers.add_parser("study", help="blinded multi-reader reading studies")
    sub = study.add_subparsers(dest="study_command", required=True)

    i = sub.add_parser("init", help="create a study from a folder of case folders")
    i.add_argument("study_dir", type=Path, help="new (or empty) study folder")
    i.add_argument("--cases", type=Path, required=True, help="folder whose subfolders are cases")
    i.add_argument("--readers", required=True, help="reader ids, comma-separated: r1,r2,r3")
    i.add_argument("--adjudicators", help="adjudicator ids, comma-separated")
    i.add_argument("--seed", type=int, help="study seed (default: drawn and recorded)")
    i.add_argument(
        "--repeat-fraction",
        type=float,
        default=0.0,
        help="fraction of cases each reader reads twice (intra-reader agreement)",
    )
    i.add_argument("--shell-width-mm", type=float, default=3.0, help="NAWM shell width (mm)")
    i.add_argument("--roles", help="image roles shown to readers, comma-separated (default: all)")
    i.set_defaults(run=_guarded(_init))

    s = sub.add_parser("status", help="progress per reader: cases done of N, time")
    s.add_argument("study_dir", type=Path)
    s.set_defaults(run=_guarded(_status))

    e = sub.add_parser("export", help="tables, masks and provenance of every reading")
    e.add_argument("study_dir", type=Path)
    e.add_argument("-o", "--output", type=Path, required=True, help="export folder")
    e.add_argument("--readers", help="only these readers, comma-separated (default: all)")
    e.set_defaults(run=_guarded(_export))
    return study


def main(argv: list[str] | None = None) -> int:
    """Run ``study ...`` alone (``napari-uspio`` wires the same parser)."""
    parser = argparse.ArgumentParser(prog="napari-uspio")
    add_study_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)
