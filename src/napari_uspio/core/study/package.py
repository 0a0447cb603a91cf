"""Blinded case packages: what a reader's workstation needs of a server study, and no more.

:func:`write_package` writes, for one reader of a study on a PostgreSQL server, every
reading of their order under its code only::

    DIR/study.toml          format "napari-uspio package": the store URL, the reader,
                            the study's reading settings, the codes; no case id
    DIR/cases/C-7F3A2/      one folder per code (a repeated reading has its own copy)
        flair.nii.gz ...    one file per role, named by the role
        case.toml           [roles] role = "file"
    DIR/SHA256SUMS          the checksum of every file above (``sha256sum -c`` reads it)

Images keep their data, data type, scaling and placement (qform, sform) exactly;
the NIfTI header's text fields (descrip, aux_file, db_name, intent_name) are
blanked and header extensions dropped, so no subject, session or folder name
is left anywhere. :func:`~.manifest.load_study` reads a package's ``study.toml``
as a :class:`~.manifest.Study` whose cases are the codes: a reading session
opens from a package folder as from the study folder.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import nibabel as nib

from ..case import MANIFEST_NAME as CASE_MANIFEST
from ..case import Progress, find_case_files
from ..files import atomic_path, write_text
from ..provenance import sha256_file
from .manifest import MANIFEST_NAME, PACKAGE_FORMAT, Reader, Study, load_study
from .records import StudyError
from .tomltext import toml_value

__all__ = ["BLANKED", "SUMS_NAME", "write_package"]

SUMS_NAME = "SHA256SUMS"
#: NIfTI header text fields emptied in a package.
BLANKED = ("descrip", "aux_file", "db_name", "intent_name")


def write_package(study_dir, reader: str, out_dir, progress: Progress | None = None) -> Path:
    """Write ``reader``'s blinded package of a server study into ``out_dir`` (empty or new)."""
    study = load_study(study_dir)
    role = study.reader(reader).role
    if study.store is None:
        raise StudyError(
            f"{study.manifest_path}: a package is for a study on a server (store = URL); this "
            "study's store is study.sqlite in its folder. Fix: read at this workstation."
        )
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise StudyError(f"{out}: not empty. Fix: pick a new folder for the package.")
    with study.open_store() as store:
        order = store.order(reader)
    files: list[Path] = []
    for k, entry in enumerate(order, start=1):
        if progress is not None:
            progress(k, len(order), f"case {k} of {len(order)}")
        folder = out / "cases" / entry.code
        folder.mkdir(parents=True)
        roles = find_case_files(study.case_folder(entry.case_id))
        for name, source in sorted(roles.items()):
            files.append(_blinded_copy(source, folder / f"{name}.nii.gz"))
        lines = ["[roles]", *(f"{n} = {toml_value(f'{n}.nii.gz')}" for n in sorted(roles))]
        write_text(folder / CASE_MANIFEST, "\n".join(lines) + "\n")
        files.append(folder / CASE_MANIFEST)
    write_text(
        out / MANIFEST_NAME, _manifest(study, Reader(reader, role), [e.code for e in order])
    )
    files.append(out / MANIFEST_NAME)
    sums = [f"{sha256_file(p)}  {p.relative_to(out).as_posix()}" for p in files]
    write_text(out / SUMS_NAME, "\n".join(sums) + "\n")
    return out


def _blinded_copy(source: Path, target: Path) -> Path:
    """``source`` as ``target`` with its header's text fields blanked and no extension."""
    img = nib.load(source)
    header = img.header.copy()
    for name in BLANKED:
        header[name] = b""
    header.extensions.clear()
    copy = type(img)(img.dataobj.get_unscaled(), None, header=header)
    copy.set_qform(*img.get_qform(coded=True))
    copy.set_sform(*img.get_sform(coded=True))
    with atomic_path(target) as tmp:
        nib.save(copy, tmp)
    return target


def _manifest(study: Study, reader: Reader, codes: list[str]) -> str:
    top = {
        "format": PACKAGE_FORMAT,
        "format_version": 1,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "store": study.store,
        "shell_width_mm": study.shell_width_mm,
        "shown_roles": list(study.shown_roles),
        "lesions": study.lesion_source,
        "reference_editable": study.reference_editable,
    }
    lines = [
        "# napari-uspio case package: one reader's cases under their codes only.",
        *(f"{k} = {toml_value(v)}" for k, v in top.items()),
        "",
        "[[readers]]",
        f"id = {toml_value(reader.id)}",
        f"role = {toml_value(reader.role)}",
    ]
    for code in codes:
        lines += ["", "[[cases]]", f"code = {toml_value(code)}", f'folder = "cases/{code}"']
    return "\n".join(lines) + "\n"
