"""The study manifest ``study.toml``: seed, settings, readers and cases; creating a study.

A study folder holds ``study.toml`` (written once by :func:`init_study`, read by
:func:`load_study`) and the store ``study.sqlite`` (:class:`~.sqlite.SQLiteStore`),
or names a PostgreSQL database that holds it (``store``,
:class:`~.postgres.PostgresStore`; no password in the file)::

    format = "napari-uspio study"
    format_version = 1
    created_at = "2026-05-09T10:00:00+00:00"
    seed = 1234
    shell_width_mm = 3.0
    repeat_fraction = 0.1
    shown_roles = []          # image roles shown to readers; empty: every role a case has
    lesions = "reader"        # lesion source: "reader", "reference" or "candidates"
    reference_editable = false  # reference studies: may readers edit the reference?
    store = "postgresql://db.example.org:5432/ms_uspio"  # optional; default study.sqlite

    [[readers]]
    id = "r1"
    role = "reader"           # or "adjudicator"

    [[cases]]
    id = "sub-01_ses-01"      # stable case id: the folder's name in the cases folder
    folder = "../cases/sub-01_ses-01"   # relative to the study folder, or absolute

Each reader's order (:func:`~.order.reading_order` of the case ids, the reader
id and the seed; adjudicators read every case once, no repeats) is stored in
the store when the study is created and never changes afterwards.

The lesion source (:data:`LESION_SOURCES`) says where a reading's lesions come
from: ``reader``, each reader paints from an empty map; ``reference``, every
reading starts from the case's ``lesions`` map (shared ids; readers rate it);
``candidates``, the case's ``candidates`` map is proposed and the reader accepts,
rejects or paints their own (:mod:`.sources`).
"""

from __future__ import annotations

import logging
import os
import re
import secrets
import tomllib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ..case import find_case_files
from ..files import write_text
from ..lesions import DEFAULT_SHELL_WIDTH_MM
from ..roles import DERIVED, ROLES
from ..volume import CaseError
from .backends import check_store, open_reader_store, open_store
from .order import OrderEntry, n_repeats, reading_order
from .records import READER_ROLES, StudyError
from .sqlite import STORE_NAME
from .store import StudyStore
from .tomltext import toml_value

__all__ = [
    "LESION_SOURCES",
    "MANIFEST_NAME",
    "PACKAGE_FORMAT",
    "Reader",
    "Study",
    "find_cases",
    "init_study",
    "check_readers",
    "load_study",
    "manifest_text",
]

log = logging.getLogger(__name__)

MANIFEST_NAME = "study.toml"
FORMAT = "napari-uspio study"
FORMAT_VERSION = 1
#: A reader's blinded case package (:mod:`.package`): its cases are keyed by code.
PACKAGE_FORMAT = "napari-uspio package"
#: Reader ids: a letter or digit, then letters, digits, ``.``, ``_`` or ``-`` (file-name safe).
READER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
_UNSAFE_CASE_ID = re.compile(r'[\\/:*?"<>|\x00-\x1f]')
#: Where a reading's lesions come from -> the case role it needs (None: none).
LESION_SOURCES: dict[str, str | None] = {
    "reader": None,
    "reference": "lesions",
    "candidates": "candidates",
}


@dataclass(frozen=True)
class Reader:
    """A reader of the study: id and role (``reader`` or ``adjudicator``)."""

    id: str
    role: str = "reader"


@dataclass(frozen=True, eq=False)
class Study:
    """A study as written in ``study.toml`` (see the module docstring)."""

    folder: Path
    seed: int
    readers: tuple[Reader, ...]
    cases: dict[str, str]  # case id -> folder as written (relative to ``folder`` or absolute)
    shell_width_mm: float = DEFAULT_SHELL_WIDTH_MM
    repeat_fraction: float = 0.0
    shown_roles: tuple[str, ...] = ()
    created_at: str | None = None
    lesion_source: str = "reader"
    reference_editable: bool = False
    store: str | None = None  # a PostgreSQL URL; None: study.sqlite in the folder
    package: bool = False  # a reader's case package: ``cases`` maps codes to folders

    @property
    def editable(self) -> bool:
        """Whether readers may paint (every source but a reference not editable)."""
        return self.lesion_source != "reference" or self.reference_editable

    @property
    def manifest_path(self) -> Path:
        """The ``study.toml`` file."""
        return self.folder / MANIFEST_NAME

    def reader(self, reader_id: str) -> Reader:
        """The reader with this id (StudyError naming the readers otherwise)."""
        for reader in self.readers:
            if reader.id == reader_id:
                return reader
        known = ", ".join(r.id for r in self.readers)
        raise StudyError(f"no reader {reader_id!r} in this study (readers: {known})")

    def case_folder(self, case_id: str) -> Path:
        """The folder of a case (a relative entry is relative to the study folder)."""
        if case_id not in self.cases:
            raise StudyError(f"no case {case_id!r} in {self.manifest_path}")
        return (self.folder / self.cases[case_id]).resolve()

    def reading_folder(self, entry: OrderEntry) -> Path:
        """The folder of a reading's case (in a package, the folder of its code)."""
        return self.case_folder(entry.code if self.package else entry.case_id)

    def order(self, reader_id: str) -> list[OrderEntry]:
        """The reader's order computed from the manifest (adjudicators: no repeats)."""
        reader = self.reader(reader_id)
        fraction = self.repeat_fraction if reader.role == "reader" else 0.0
        return reading_order(self.cases, reader.id, self.seed, fraction)

    def open_store(self, *, create: bool = False, **options) -> StudyStore:
        """The study's store: study.sqlite, or the PostgreSQL database of :attr:`store`.

        ``options`` go to the backend (:func:`~.backends.open_store`).
        """
        return open_store(self.folder, self.store, create=create, **options)

    def open_reader_store(self, reader: str) -> StudyStore:
        """The store a reader's session writes to (:func:`~.backends.open_reader_store`)."""
        return open_reader_store(self.folder, self.store, reader)


def find_cases(cases_dir: str | Path) -> tuple[dict[str, Path], dict[str, str]]:
    """Case folders among the subfolders of ``cases_dir``: ``(id -> folder, name -> why not)``.

    A subfolder is a case when :func:`~napari_uspio.core.case.find_case_files`
    accepts it (a cheap test: names and ``case.toml``, no image is read).
    Hidden folders (``.name``) are ignored.
    """
    cases_dir = Path(cases_dir)
    if not cases_dir.is_dir():
        raise StudyError(f"{cases_dir}: cases folder not found. Fix: check the path.")
    found: dict[str, Path] = {}
    skipped: dict[str, str] = {}
    for sub in sorted(p for p in cases_dir.iterdir() if p.is_dir() and p.name[0] != "."):
        if _UNSAFE_CASE_ID.search(sub.name):
            skipped[sub.name] = "folder name has characters unsafe in file names"
            continue
        try:
            find_case_files(sub)
        except CaseError as exc:
            skipped[sub.name] = str(exc)
            continue
        found[sub.name] = sub.resolve()
    return found, skipped


def init_study(
    study_dir: str | Path,
    cases_dir: str | Path,
    readers: Iterable[str | Reader],
    seed: int | None = None,
    repeat_fraction: float = 0.0,
    adjudicators: Iterable[str] = (),
    shell_width_mm: float = DEFAULT_SHELL_WIDTH_MM,
    shown_roles: Iterable[str] = (),
    on_skip: Callable[[str, str], None] | None = None,
    lesion_source: str = "reader",
    reference_editable: bool = False,
    store: str | None = None,
) -> Study:
    """Create a study: write the store with every reader's order, then ``study.toml``.

    Every subfolder of ``cases_dir`` that is a case (:func:`find_cases`) is
    in the study; the others are passed to ``on_skip(name, reason)`` (default:
    logged). ``seed`` None draws one (recorded in the manifest). ``store`` names
    an empty PostgreSQL database to hold the study (default: ``study.sqlite`` in
    ``study_dir``). Refused if ``study_dir`` already holds a study or a store,
    if the database already holds a study, or if ``lesion_source`` needs a role
    (``lesions``, ``candidates``) that a case lacks.
    """
    study_dir = Path(study_dir)
    for name in (MANIFEST_NAME, STORE_NAME):
        if (study_dir / name).exists():
            raise StudyError(
                f"{study_dir / name}: already exists. Fix: pick an empty folder for the new "
                "study (a half-created study.sqlite without study.toml can be deleted)."
            )
    people = [r if isinstance(r, Reader) else Reader(str(r).strip()) for r in readers]
    people += [Reader(str(r).strip(), "adjudicator") for r in adjudicators]
    check_readers(people)
    n_repeats(1, repeat_fraction)  # validates the fraction
    roles = tuple(shown_roles)
    unknown = [r for r in roles if r not in ROLES and r not in DERIVED]
    if unknown:
        raise StudyError(f"unknown role(s) {', '.join(unknown)}; roles: {', '.join(ROLES)}")
    if not float(shell_width_mm) > 0:
        raise StudyError(f"shell_width_mm must be > 0, got {shell_width_mm}")
    found, skipped = find_cases(cases_dir)
    for name, why in skipped.items():
        (on_skip or _log_skip)(name, why)
    if not found:
        raise StudyError(f"{cases_dir}: no case folder found among its subfolders.")
    _check_source(lesion_source, found)
    if store is not None:
        check_store(store)
    study_dir.mkdir(parents=True, exist_ok=True)
    study = Study(
        folder=study_dir.resolve(),
        seed=secrets.randbits(31) if seed is None else int(seed),
        readers=tuple(people),
        cases={cid: _relative(folder, study_dir.resolve()) for cid, folder in found.items()},
        shell_width_mm=float(shell_width_mm),
        repeat_fraction=float(repeat_fraction),
        shown_roles=roles,
        created_at=datetime.now(UTC).isoformat(timespec="seconds"),
        lesion_source=lesion_source,
        reference_editable=bool(reference_editable),
        store=store,
    )
    with study.open_store(create=True) as opened:
        if opened.readers():
            raise StudyError(
                f"{store}: this database already holds a study. Fix: create an empty "
                "database for the new study (one study per database)."
            )
        for reader in study.readers:
            opened.add_reader(reader.id, reader.role, study.order(reader.id))
        if study.store is not None:  # one database role per reader, the server's policies
            opened.set_up_access([r.id for r in study.readers])
        opened.record(
            "init study",
            detail=f"seed {study.seed}, {len(found)} cases, readers "
            + ", ".join(f"{r.id} ({r.role})" for r in study.readers)
            + f"; lesions: {lesion_source}",
        )
    write_text(study.manifest_path, manifest_text(study))
    return study


def load_study(study_dir: str | Path) -> Study:
    """Read ``study.toml`` of a study folder (errors name the file and the fix)."""
    folder = Path(study_dir)
    path = folder / MANIFEST_NAME
    if not path.is_file():
        raise StudyError(f"{path}: not found; {folder} is not a study folder.")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise StudyError(f"{path}: not valid TOML ({exc}). Fix: correct the syntax.") from exc
    if data.get("format") == PACKAGE_FORMAT:
        return _package_study(folder, data)
    if data.get("format") != FORMAT or data.get("format_version", 0) > FORMAT_VERSION:
        raise StudyError(
            f"{path}: not a napari-uspio study manifest of a version this code reads "
            f"(format {data.get('format')!r}, version {data.get('format_version')!r})"
        )
    try:
        readers = tuple(
            Reader(str(r["id"]), str(r.get("role", "reader"))) for r in data["readers"]
        )
        cases = {str(c["id"]): str(c["folder"]) for c in data["cases"]}
        study = Study(
            folder=folder.resolve(),
            seed=int(data["seed"]),
            readers=readers,
            cases=cases,
            shell_width_mm=float(data.get("shell_width_mm", DEFAULT_SHELL_WIDTH_MM)),
            repeat_fraction=float(data.get("repeat_fraction", 0.0)),
            shown_roles=tuple(str(r) for r in data.get("shown_roles", ())),
            created_at=data.get("created_at"),
            lesion_source=str(data.get("lesions", "reader")),
            reference_editable=bool(data.get("reference_editable", False)),
            store=str(data["store"]) if "store" in data else None,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StudyError(f"{path}: missing or malformed entry ({exc!r}).") from exc
    check_readers(list(study.readers), where=f"{path}: ")
    if study.lesion_source not in LESION_SOURCES:
        raise StudyError(
            f"{path}: lesions = {study.lesion_source!r} is not one of "
            f"{', '.join(LESION_SOURCES)}. Fix: correct the entry."
        )
    if study.store is not None:
        check_store(study.store, where=f"{path}: ")
    return study


# ------------------------------------------------------------------ internals
def _package_study(folder: Path, data: dict) -> Study:
    """The study of a package's ``study.toml`` (cases keyed by code, the server's store)."""
    try:
        return Study(
            folder=folder.resolve(),
            seed=0,  # orders come from the server: a package needs no seed
            readers=tuple(Reader(str(r["id"]), str(r["role"])) for r in data["readers"]),
            cases={str(c["code"]): str(c["folder"]) for c in data["cases"]},
            shell_width_mm=float(data["shell_width_mm"]),
            shown_roles=tuple(str(r) for r in data.get("shown_roles", ())),
            created_at=data.get("created_at"),
            lesion_source=str(data.get("lesions", "reader")),
            reference_editable=bool(data.get("reference_editable", False)),
            store=str(data["store"]),
            package=True,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise StudyError(f"{folder / MANIFEST_NAME}: malformed package ({exc!r}).") from exc


def _log_skip(name: str, why: str) -> None:
    log.warning("not a case, skipped: %s (%s)", name, why)


def check_readers(readers: list[Reader], where: str = "") -> None:
    """Refuse a study's readers: none of role reader, a malformed or repeated id, a bad role."""
    if not any(r.role == "reader" for r in readers):
        raise StudyError(f"{where}a study needs at least one reader")
    seen: set[str] = set()
    for reader in readers:
        if not READER_ID.match(reader.id):
            raise StudyError(
                f"{where}reader id {reader.id!r}: use 1-64 letters, digits, '.', '_' or '-', "
                "starting with a letter or digit"
            )
        if reader.role not in READER_ROLES:
            raise StudyError(
                f"{where}reader {reader.id}: role {reader.role!r} is not one of "
                f"{', '.join(READER_ROLES)}"
            )
        if reader.id in seen:
            raise StudyError(f"{where}reader id {reader.id!r} is given twice")
        seen.add(reader.id)


def _check_source(source: str, cases: Mapping[str, Path]) -> None:
    if source not in LESION_SOURCES:
        raise StudyError(f"lesion source {source!r}: use one of {', '.join(LESION_SOURCES)}")
    role = LESION_SOURCES[source]
    lacking = [
        cid for cid, folder in cases.items() if role and role not in find_case_files(folder)
    ]
    if lacking:
        shown = ", ".join(lacking[:5]) + (" ..." if len(lacking) > 5 else "")
        raise StudyError(
            f"a {source} study needs a {role!r} map in every case; {len(lacking)} case(s) "
            f"have none ({shown}). Fix: add the {role} files, or choose another lesion source."
        )


def _relative(folder: Path, base: Path) -> str:
    try:
        return Path(os.path.relpath(folder, base)).as_posix()
    except ValueError:  # another drive (Windows)
        return str(folder)


def manifest_text(study: Study) -> str:
    """The ``study.toml`` text of a study."""
    top: Mapping[str, object] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "created_at": study.created_at or "",
        "seed": study.seed,
        "shell_width_mm": study.shell_width_mm,
        "repeat_fraction": study.repeat_fraction,
        "shown_roles": list(study.shown_roles),
        "lesions": study.lesion_source,
        "reference_editable": study.reference_editable,
        **({"store": study.store} if study.store is not None else {}),
    }
    lines = [
        "# napari-uspio study. Each reader's order is stored in the study store when the",
        "# study is created; do not edit readers, cases or the seed once reading has started.",
        *(f"{k} = {toml_value(v)}" for k, v in top.items()),
    ]
    for reader in study.readers:
        lines += ["", "[[readers]]", f"id = {toml_value(reader.id)}"]
        lines += [f"role = {toml_value(reader.role)}"]
    for case_id, folder in study.cases.items():
        lines += ["", "[[cases]]", f"id = {toml_value(case_id)}"]
        lines += [f"folder = {toml_value(folder)}"]
    return "\n".join(lines) + "\n"
