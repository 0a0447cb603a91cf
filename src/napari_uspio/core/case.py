"""A case (one patient visit): its volumes by role on one grid, and derived maps.

Load with :func:`load_case` from a folder (roles from file names, see
:mod:`napari_uspio.core.roles`, overridden by an optional ``case.toml``) or
from a mapping ``role -> path``. Every volume must share one grid; anything
else is refused with one message naming every offending file.
"""

from __future__ import annotations

import logging
import os
import tomllib
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .roles import (
    DERIVED,
    FIRST_SHOWN,
    MEASURED_MAPS,
    NAME_PATTERNS,
    ROLES,
    role_from_filename,
    strip_nifti_suffix,
)
from .volume import CaseError, Grid, ImageVolume, LabelMap, Volume

log = logging.getLogger(__name__)

MANIFEST_NAME = "case.toml"
#: ``progress(k, n, message)``: step k of n (of a load, a report, a queue) is reached.
Progress = Callable[[int, int, str], None]
#: Files decoded at once (each thread holds one file's compressed and raw bytes).
MAX_READ_THREADS = 4


@dataclass(eq=False)
class Case:
    """The volumes of one patient visit on one grid.

    Attributes
    ----------
    volumes : dict
        Acquired volumes by role (``Volume.path`` is the file it came from).
    grid : Grid
        The shared grid.
    folder : Path or None
        The case folder, when loaded from one.
    warnings : list of str
        Non-fatal findings for the reader (constant volume, oblique affine, ...).
    """

    volumes: dict[str, Volume]
    grid: Grid
    folder: Path | None = None
    warnings: list[str] = field(default_factory=list)
    _derived: dict[str, Volume] = field(default_factory=dict, repr=False)

    @property
    def roles(self) -> list[str]:
        """Acquired roles present, in the canonical role order."""
        return [r for r in ROLES if r in self.volumes]

    def path(self, role: str) -> Path | None:
        """The file a role was loaded from."""
        return self.volumes[role].path

    @property
    def derived_available(self) -> list[str]:
        """Derived maps this case can compute and does not hold as a file."""
        return [
            name
            for name, (needs, _) in DERIVED.items()
            if name not in self.volumes and all(r in self.volumes for r in needs)
        ]

    def __contains__(self, name: str) -> bool:
        return name in self.volumes or name in self.derived_available

    def __getitem__(self, name: str) -> np.ndarray:
        """Data of an acquired role or a derived map (computed once, on demand)."""
        return self.volume(name).data

    def volume(self, name: str) -> Volume:
        """The :class:`Volume` of an acquired role or a derived map."""
        if name in self.volumes:
            return self.volumes[name]
        if name not in self.derived_available:
            raise KeyError(f"{name!r}: not in this case (roles: {', '.join(self.roles)})")
        if name not in self._derived:
            self._derived[name] = ImageVolume(name, self._compute(name), self.grid)
        return self._derived[name]

    def compute(self, names: Iterable[str]) -> None:
        """Compute the derived maps named that this case can derive (e.g. on a worker)."""
        for name in names:
            if name in self.derived_available:
                self.volume(name)

    def computed(self, name: str) -> bool:
        """Whether a map's data is at hand: acquired, or derived and computed already."""
        return name in self.volumes or name in self._derived

    def _compute(self, name: str) -> np.ndarray:
        a, b = (self.volumes[r].data for r in DERIVED[name][0])
        if name == "mtr":
            return mtr_from_mt(a, b)
        return np.subtract(a, b, dtype=np.float32)

    def measured_maps(self) -> Iterator[tuple[str, np.ndarray]]:
        """The maps the lesion model measures that this case has."""
        for name in MEASURED_MAPS:
            if name in self:
                yield name, self[name]

    @property
    def wm_mask(self) -> np.ndarray | None:
        """The white-matter mask as bool, or None."""
        return self["wm_mask"] > 0 if "wm_mask" in self.volumes else None

    @property
    def gm_mask(self) -> np.ndarray | None:
        """The grey-matter mask as bool, or None."""
        return self["gm_mask"] > 0 if "gm_mask" in self.volumes else None

    def read_labels(self, path: str | Path) -> LabelMap:
        """Read a label map and check it lies on this case's grid (the error names both)."""
        labels = LabelMap.from_file(path, "lesions")
        diffs = self.grid.mismatch(labels.grid)
        if diffs:
            z, y, x = self.grid.shape
            sz, sy, sx = self.grid.spacing_mm
            raise CaseError(
                f"{path}: label map is not on the case grid ({', '.join(diffs)}); the case grid "
                f"is {x} x {y} x {z} voxels of {sx:g} x {sy:g} x {sz:g} mm "
                f"({self.folder or 'given files'}). Fix: resample the label map to the case grid "
                "(nearest neighbour) or paint it on this case."
            )
        return labels

    def label_map(self, data: np.ndarray) -> LabelMap:
        """A label map of ``data`` on this case's grid (for writing it with ``to_file``)."""
        return LabelMap("lesions", np.asarray(data), self.grid)


def mtr_from_mt(m0: np.ndarray, mmt: np.ndarray) -> np.ndarray:
    """Magnetization transfer ratio ``(m0 - mmt) / m0`` as float32.

    NaN where ``m0 <= 0`` or either input is NaN; never infinite.
    """
    out = np.full(m0.shape, np.nan, dtype=np.float32)
    valid = m0 > 0
    np.subtract(m0, mmt, out=out, where=valid)
    np.divide(out, m0, out=out, where=valid)
    return out


def load_case(
    source: str | Path | Mapping[str, str | Path],
    progress: Progress | None = None,
    loaded: Callable[[Volume], None] | None = None,
    threads: int = MAX_READ_THREADS,
) -> Case:
    """Load a case from a folder or from a mapping ``role -> path``.

    Files are read on up to ``threads`` threads, the role shown first
    (:data:`FIRST_SHOWN`) first. As each of the n files is read (in that order), ``progress(k, n,
    message)`` and ``loaded(volume)`` are called on the calling thread, so a viewer
    can show the first image before the case is complete.

    Raises
    ------
    CaseError
        With one message naming the file(s) at fault and the fix.
    """
    if isinstance(source, Mapping):
        unknown = [r for r in source if r not in ROLES]
        if unknown:
            raise CaseError(
                f"unknown role(s) {', '.join(map(repr, unknown))}. "
                f"Fix: use one of {', '.join(ROLES)}."
            )
        files, folder = {r: Path(p) for r, p in source.items()}, None
    else:
        folder = Path(source)
        files = find_case_files(folder)
    volumes = _read_volumes(files, progress, loaded, threads)
    grid = check_grids(volumes)
    warnings = [text for vol in volumes.values() for text in vol.warnings]
    case = Case(volumes, grid, folder, warnings)
    if "m0" in volumes and "mtr" not in volumes:
        n = int(np.count_nonzero(volumes["m0"].data <= 0))
        if n:
            case.warnings.append(
                f"{files['m0'].name}: m0 <= 0 in {n} voxels "
                f"({100 * n / volumes['m0'].data.size:.1f} %); MTR is NaN there. If these "
                "voxels are inside the brain, check that M0 and Mmt are not swapped."
            )
    for text in case.warnings:
        log.warning(text)
    return case


def _read_volumes(
    files: Mapping[str, Path],
    progress: Progress | None,
    loaded: Callable[[Volume], None] | None,
    threads: int,
) -> dict[str, Volume]:
    """Every file read on a few threads (decoding releases the GIL); the first error raised."""
    roles = [r for r in ROLES if r in files]
    first = next((r for r in FIRST_SHOWN if r in files), None)
    order = sorted(roles, key=lambda r: r != first)
    workers = max(1, min(len(order), os.cpu_count() or 1, threads))
    with ThreadPoolExecutor(workers, thread_name_prefix="napari-uspio-read") as pool:
        futures = {pool.submit(Volume.from_file, files[r], r): r for r in order}
        try:
            for k, future in enumerate(futures, start=1):  # in order: the first shown first
                volume = future.result()
                if progress is not None:
                    progress(k, len(order), f"read {volume.role} ({k} of {len(order)})")
                if loaded is not None:
                    loaded(volume)
        except BaseException:
            for future in futures:
                future.cancel()
            raise
    return {r: f.result() for f, r in sorted(futures.items(), key=lambda i: roles.index(i[1]))}


def find_case_files(folder: Path) -> dict[str, Path]:
    """Map roles to files in a case folder: naming convention, then ``case.toml``."""
    if not folder.is_dir():
        if folder.exists():
            raise CaseError(f"{folder}: is a file, not a case folder. Fix: pick the folder.")
        raise CaseError(f"{folder}: folder not found. Fix: check the path.")
    nifti = sorted(p for p in folder.iterdir() if p.is_file() and strip_nifti_suffix(p.name))
    overrides = _read_manifest(folder)
    claimed = set(overrides.values())
    by_role: dict[str, list[Path]] = {}
    for path in nifti:
        role = role_from_filename(path.name)
        if role and role not in overrides and path not in claimed:
            by_role.setdefault(role, []).append(path)
    dupes = {r: ps for r, ps in by_role.items() if len(ps) > 1}
    if dupes:
        lines = "; ".join(f"{r}: {', '.join(p.name for p in ps)}" for r, ps in dupes.items())
        raise CaseError(
            f"{folder}: more than one file for a role ({lines}). Fix: remove the extra "
            f"files or name the right one in {MANIFEST_NAME} under [roles]."
        )
    files = {r: ps[0] for r, ps in by_role.items()} | overrides
    if not files:
        seen = ", ".join(p.name for p in nifti[:8]) or "no .nii / .nii.gz files"
        raise CaseError(
            f"{folder}: no role recognised (found: {seen}). Fix: name files by the convention "
            f"(e.g. sub-01_ses-01_acq-postUSPIO_T1w.nii.gz, ..._Chimap.nii.gz, qsm.nii.gz) "
            f"or list them in {MANIFEST_NAME} under [roles]."
        )
    return files


def _read_manifest(folder: Path) -> dict[str, Path]:
    manifest = folder / MANIFEST_NAME
    if not manifest.exists():
        return {}
    try:
        roles = tomllib.loads(manifest.read_text(encoding="utf-8")).get("roles", {})
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise CaseError(f"{manifest}: not valid TOML ({exc}). Fix: correct the syntax.") from exc
    if not isinstance(roles, dict) or not all(isinstance(v, str) for v in roles.values()):
        raise CaseError(f'{manifest}: [roles] must map role = "file name". Fix: see README.')
    unknown = [r for r in roles if r not in NAME_PATTERNS]
    if unknown:
        raise CaseError(
            f"{manifest}: unknown role(s) {', '.join(unknown)}. "
            f"Fix: use one of {', '.join(ROLES)}."
        )
    return {role: folder / name for role, name in roles.items()}


def case_grid(folder: str | Path) -> Grid:
    """The grid of a case folder from one file's header (no image data is read)."""
    return Grid.from_file(next(iter(find_case_files(Path(folder)).values())))


def check_grids(volumes: Mapping[str, Volume]) -> Grid:
    """Return the grid every volume shares, or raise naming every offender.

    The reference grid is the one most volumes share (ties: the first role).
    """
    if not volumes:
        raise CaseError("no volume given. Fix: give at least one role -> file.")
    items = list(volumes.values())
    votes: Counter[int] = Counter()
    for i, vol in enumerate(items):
        match = next((j for j in votes if not items[j].grid.mismatch(vol.grid)), i)
        votes[match] += 1
    reference = items[max(votes, key=lambda j: (votes[j], -j))]
    problems = []
    for vol in items:
        diffs = reference.grid.mismatch(vol.grid)
        if diffs:
            problems.append(f"{_name(vol)} ({vol.role}): {', '.join(diffs)}")
    if problems:
        raise CaseError(
            f"volumes are not on one grid; reference is {_name(reference)} "
            f"({reference.role}). Differing: " + "; ".join(problems) + ". Fix: coregister and "
            "resample these volumes to the reference grid first (napari-uspio does not resample)."
        )
    return reference.grid


def _name(vol: Volume) -> str:
    return str(vol.path) if vol.path else vol.role
