"""``napari-uspio study ...``: reading studies from the shell.

Subcommands: init, status, reset-pin, export, agreement, consensus, analysis.

Wired into the ``napari-uspio`` command by :func:`add_study_parser`; each
subcommand sets ``run`` (returns the exit code: 0, or 2 with a message on
stderr for bad input).
"""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from ..core.study.manifest import LESION_SOURCES
from ..core.study.records import parse_ids
from ..core.volume import CaseError


def _init(args: argparse.Namespace) -> int:
    from ..core.study import init_study

    def skipped(name: str, why: str) -> None:
        sys.stdout.write(f"  skipped {name}: {why}\n")

    study = init_study(
        args.study_dir,
        args.cases,
        readers=parse_ids(args.readers),
        seed=args.seed,
        repeat_fraction=args.repeat_fraction,
        adjudicators=parse_ids(args.adjudicators or ""),
        shell_width_mm=args.shell_width_mm,
        shown_roles=parse_ids(args.roles or ""),
        on_skip=skipped,
        lesion_source=args.lesions,
        reference_editable=args.reference_editable,
        store=args.store,
    )
    readers = ", ".join(f"{r.id} ({r.role})" for r in study.readers)
    sys.stdout.write(
        f"study created in {study.folder}: {len(study.cases)} cases, readers {readers}, "
        f"seed {study.seed}, lesions: {study.lesion_source}, "
        f"store: {study.store or 'study.sqlite'}\n"
    )
    return 0


def _status(args: argparse.Namespace) -> int:
    from ..core.adjudication.status import status_lines
    from ..core.study import load_study

    sys.stdout.write("\n".join(status_lines(load_study(args.study_dir))) + "\n")
    return 0


def _reset_pin(args: argparse.Namespace) -> int:
    from ..core.study.pins import reset_pin

    reset_pin(args.study_dir, args.reader)
    sys.stdout.write(f"PIN of {args.reader} reset: they choose a new one at their next sign-in\n")
    return 0


def _export(args: argparse.Namespace) -> int:
    from ..core.study import export_study

    written = export_study(
        args.study_dir, args.output, readers=parse_ids(args.readers or "") or None
    )
    sys.stdout.write(
        f"study exported to {args.output} ({', '.join(p.name for p in written.values())})\n"
    )
    return 0


def _add_reader(args: argparse.Namespace) -> int:
    from ..core.study.readers import add_reader

    role = "adjudicator" if args.adjudicator else "reader"
    study = add_reader(args.study_dir, args.reader, role)
    n = len(study.order(args.reader))
    sys.stdout.write(f"{args.reader} ({role}) added to {study.folder}: {n} readings\n")
    return 0


def _pack(args: argparse.Namespace) -> int:
    from ..core.study.package import write_package

    out = write_package(args.study_dir, args.reader, args.output)
    n = len(list((out / "cases").iterdir()))
    sys.stdout.write(f"package of {args.reader} written to {out}: {n} readings under codes\n")
    return 0


def _consensus(args: argparse.Namespace) -> int:
    from ..core.adjudication.consensus import export_consensus

    written = export_consensus(args.study_dir, args.output, args.adjudicator, partial=args.partial)
    sys.stdout.write(
        f"consensus exported to {args.output} ({', '.join(p.name for p in written.values())})\n"
    )
    return 0


def _agreement(args: argparse.Namespace) -> int:
    from ..core.agreement.matching import MIN_DICE
    from ..core.agreement.report import format_ci, format_percent, write_report
    from ..core.agreement.study_stats import compute_agreement
    from ..core.study import MANIFEST_NAME, StudyError, load_study

    folder = Path(args.study_dir)
    if not (folder / MANIFEST_NAME).is_file():
        what = "is not a study folder (no study.toml)" if folder.is_dir() else "does not exist"
        raise StudyError(
            f"study folder {folder} {what}; pass the folder holding study.toml "
            "(the one given to 'napari-uspio study init')"
        )
    study = load_study(folder)
    readers = parse_ids(args.readers or "") or None  # compute_agreement names unknown ones
    if args.n_boot < 1:
        raise StudyError(f"--n-boot must be at least 1, not {args.n_boot}")
    min_dice = MIN_DICE if args.min_dice is None else args.min_dice
    if not 0 < min_dice <= 1:
        raise StudyError(f"--min-dice must be in (0, 1], not {min_dice}")

    def progress(k: int, n: int, message: str = "") -> None:
        sys.stderr.write(f"{message or f'case {k} of {n}'}\n")
        sys.stderr.flush()

    def report_progress(k: int, n: int, message: str) -> None:
        sys.stderr.write(f"report {k} of {n}: {message}\n")
        sys.stderr.flush()

    start = time.perf_counter()
    agreement = compute_agreement(
        study,
        readers=readers,
        n_boot=args.n_boot,
        seed=args.seed,
        min_dice=min_dice,
        progress=progress,
    )
    title = f"Inter-reader agreement: {study.folder.name}"
    computed = time.perf_counter()
    paths = write_report(agreement, args.output, progress=report_progress, title=title)
    sys.stdout.write(f"agreement report written to {paths['report']}\n")
    sys.stdout.write(f"readers {', '.join(agreement.readers)}; tables in {args.output}\n")
    for row in agreement.detection.itertuples(index=False):
        f1 = format_ci(row.f1, row.f1_low, row.f1_high, reason=row.reason, ci_reason=row.ci_reason)
        sys.stdout.write(f"  detection {row.readers}: F1 {f1}\n")
    overall = agreement.kappa[agreement.kappa["readers"] == "all"]
    if not len(overall):  # two readers: the pair is the overall agreement
        overall = agreement.kappa.drop_duplicates("field")
    for row in overall.itertuples(index=False):
        kappa = format_ci(row.kappa, row.low, row.high, reason=row.reason, ci_reason=row.ci_reason)
        sys.stdout.write(
            f"  {row.field}: {row.statistic} kappa {kappa} on {row.n} lesions, "
            f"{format_percent(row.percent_agreement)} agreement\n"
        )
    for row in agreement.patient[agreement.patient["measure"] == "lesion_count"].itertuples():
        icc = format_ci(
            row.estimate, row.low, row.high, reason=row.reason, ci_reason=row.ci_reason
        )
        sys.stdout.write(f"  lesion count per case: ICC(2,1) {icc} on {row.n} cases\n")
    end = time.perf_counter()
    sys.stderr.write(
        f"done in {end - start:.1f} s (statistics {computed - start:.1f} s, "
        f"report {end - computed:.1f} s)\n"
    )
    return 0


def _analysis(args: argparse.Namespace) -> int:
    from ..core.analysis import run_analysis

    def progress(k: int, n: int, message: str) -> None:
        sys.stderr.write(f"{message or f'{k} of {n}'}\n")
        sys.stderr.flush()

    start = time.perf_counter()
    analysis = run_analysis(
        args.study_dir, args.output, args.source, adjudicator=args.adjudicator, progress=progress
    )
    sys.stdout.write(f"analysis written to {analysis.paths['page']}\n")
    sys.stdout.write(
        f"{len(analysis.patients)} cases, {len(analysis.lesions)} lesions from "
        f"{analysis.source}; tables in {args.output}\n"
    )
    for row in analysis.tests.itertuples(index=False):
        result = row.reason if math.isnan(row.p_value) else f"p = {row.p_value:.3g}"
        sys.stdout.write(f"  {row.test} {row.family} {row.measure}: n {row.n}, {result}\n")
    sys.stderr.write(f"done in {time.perf_counter() - start:.1f} s\n")
    return 0


def _guarded(run):
    def wrapper(args: argparse.Namespace) -> int:
        from ..core.study import StudyError

        try:
            return run(args)
        except (StudyError, CaseError) as exc:
            sys.stderr.write(f"error: {exc}\n")
            return 2

    return wrapper


def add_study_parser(subparsers) -> argparse.ArgumentParser:
    """Add ``study`` and its subcommands (init ... analysis); return its parser."""
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
    i.add_argument(
        "--lesions",
        choices=list(LESION_SOURCES),
        default="reader",
        help="where lesions come from: each reader paints (reader), every reading starts "
        "from the case's lesions map (reference), or the case's candidates are proposed",
    )
    i.add_argument(
        "--reference-editable",
        action="store_true",
        help="reference studies: readers may edit the reference (journaled, reported)",
    )
    i.add_argument(
        "--store",
        metavar="URL",
        help="keep the study in this empty PostgreSQL database, postgresql://HOST:PORT/DBNAME "
        "(password from PGPASSWORD, ~/.pgpass or a service file; default: study.sqlite)",
    )
    i.set_defaults(run=_guarded(_init))

    s = sub.add_parser("status", help="progress per reader: cases done of N, time")
    s.add_argument("study_dir", type=Path)
    s.set_defaults(run=_guarded(_status))

    r = sub.add_parser("reset-pin", help="clear a reader's forgotten PIN (audited)")
    r.add_argument("study_dir", type=Path)
    r.add_argument("reader", help="the reader id; they choose a new PIN at their next sign-in")
    r.set_defaults(run=_guarded(_reset_pin))

    e = sub.add_parser("export", help="tables, masks and provenance of every reading")
    e.add_argument("study_dir", type=Path)
    e.add_argument("-o", "--output", type=Path, required=True, help="export folder")
    e.add_argument("--readers", help="only these readers, comma-separated (default: all)")
    e.set_defaults(run=_guarded(_export))

    a = sub.add_parser(
        "agreement", help="inter-reader agreement: CSV tables and a self-contained HTML report"
    )
    a.add_argument("study_dir", type=Path)
    a.add_argument("-o", "--output", type=Path, required=True, help="report folder")
    a.add_argument("--readers", help="only these readers, comma-separated (default: all)")
    a.add_argument(
        "--n-boot",
        type=int,
        default=2000,
        help="cluster bootstrap resamples (patients) of the 95 %% CIs",
    )
    a.add_argument(
        "--min-dice", type=float, help="minimum Dice to match two lesions (default 0.1)"
    )
    a.add_argument("--seed", type=int, help="bootstrap seed (default: the study seed)")
    a.set_defaults(run=_guarded(_agreement))

    d = sub.add_parser("add-reader", help="add a reader (or adjudicator) to a study")
    d.add_argument("study_dir", type=Path)
    d.add_argument("reader", help="the new reader's id")
    d.add_argument("--adjudicator", action="store_true", help="an adjudicator, not a reader")
    d.set_defaults(run=_guarded(_add_reader))

    k = sub.add_parser("pack", help="a reader's blinded case package (server studies)")
    k.add_argument("study_dir", type=Path)
    k.add_argument("--reader", required=True, help="the reader (or adjudicator) id")
    k.add_argument("-o", "--output", type=Path, required=True, help="new package folder")
    k.set_defaults(run=_guarded(_pack))

    c = sub.add_parser("consensus", help="the adjudicated consensus: tables, masks, log")
    c.add_argument("study_dir", type=Path)
    c.add_argument("-o", "--output", type=Path, required=True, help="export folder")
    c.add_argument("--adjudicator", help="adjudicator id (default: the study's only one)")
    c.add_argument("--partial", action="store_true", help="export even with pending items")
    c.set_defaults(run=_guarded(_consensus))

    n = sub.add_parser(
        "analysis",
        help="seed 000 statistics: lesions per class, patients per group, tests, figures",
    )
    n.add_argument("study_dir", type=Path)
    n.add_argument("-o", "--output", type=Path, required=True, help="analysis folder")
    n.add_argument(
        "--source",
        default="consensus",
        help="the adjudicated consensus (default), or a reader id: that reader's done readings",
    )
    n.add_argument("--adjudicator", help="adjudicator of the consensus (default: the only one)")
    n.set_defaults(run=_guarded(_analysis))
    return study


def main(argv: list[str] | None = None) -> int:
    """Run ``study ...`` alone (``napari-uspio`` wires the same parser)."""
    parser = argparse.ArgumentParser(prog="napari-uspio")
    add_study_parser(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.run(args)
