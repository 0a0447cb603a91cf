"""Shared fixtures: costly data (phantoms, simulated studies) built once per session.

The factories build each distinct phantom cohort or simulated study once per test
session; a test that changes a study asks for a copy (``copy=True``), so nothing a
test does leaks into another.
"""

from __future__ import annotations

import shutil
from itertools import count
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def phantom_dir(tmp_path_factory) -> Path:
    """The default-geometry phantom case (seed 0) with its follow-up visit, written once."""
    from napari_uspio import make_phantom

    return make_phantom(tmp_path_factory.mktemp("phantom") / "case", seed=0, followup=True)


@pytest.fixture(scope="session")
def phantom_case(phantom_dir):
    from napari_uspio import load_case

    return load_case(phantom_dir)


@pytest.fixture(scope="session")
def phantom_cases(tmp_path_factory):
    """Factory ``phantom_cases(n_cases, shape_xyz, n_lesions) -> folder`` of sub-01 ... sub-NN.

    Case ``k`` is the phantom of seed ``k``, named as ``simulate_study`` names them;
    each distinct cohort is written once per session. Treat it as read-only.
    """
    from napari_uspio import make_phantom

    made: dict[tuple, Path] = {}

    def make(n_cases: int = 3, shape_xyz=(96, 96, 16), n_lesions: int = 8) -> Path:
        key = (n_cases, tuple(shape_xyz), n_lesions)
        if key not in made:
            folder = tmp_path_factory.mktemp("cases")
            for k in range(1, n_cases + 1):
                make_phantom(
                    folder / f"sub-{k:02d}", seed=k, shape_xyz=shape_xyz, n_lesions=n_lesions
                )
            made[key] = folder
        return made[key]

    return make


@pytest.fixture(scope="session")
def simulated_study(tmp_path_factory, phantom_cases):
    """Factory ``simulated_study(name, readers=None, copy=False, **options) -> Study``.

    ``simulate_study`` on a shared phantom cohort, built once per ``name`` (the name
    stands for its readers and options). ``copy=True`` returns a fresh copy of the
    study folder for a test that changes it (cases stay shared).
    """
    from napari_uspio.core.study.manifest import load_study
    from napari_uspio.testing import simulate_study

    root = tmp_path_factory.mktemp("studies")
    built: dict[str, Path] = {}
    copies = count(1)

    def make(name, readers=None, *, copy=False, n_cases=3, shape_xyz=(96, 96, 16),
             n_lesions=8, **options):  # fmt: skip
        if name not in built:
            cases = phantom_cases(n_cases, shape_xyz, n_lesions)
            folder = root / "built" / name / "study"
            simulate_study(folder, cases, n_cases, readers, shape_xyz=shape_xyz,
                           n_lesions=n_lesions, **options)  # fmt: skip
            built[name] = folder
        if not copy:
            return load_study(built[name])
        target = root / "copies" / str(next(copies)) / "study"  # same depth: same case paths
        shutil.copytree(built[name], target)
        return load_study(target)

    return make


@pytest.fixture(scope="session")
def seed000_cohort(tmp_path_factory):
    """The 31-patient phantom cohort after seed 000 (seed 0), written once; read-only.

    Returns a :class:`napari_uspio.phantom.cohort.Cohort`: ``.folder`` (case folders
    ``sub-01`` ... ``sub-31``; ``.case("sub-01")`` is one), ``.patients`` (one row per
    patient: ``patient``, ``group`` UEL / GEL / NEL, ``n_lesions``, counts per class
    ``n_uspio_pos_gd_pos`` ..., ``n_candidates``, ``n_missed``, ``n_false_candidates``)
    and ``.lesions`` (one row per truth lesion: ``patient``, ``group``, ``lesion`` id
    in the case's ``lesions`` map, ``lesion_class``, ``gd``, ``uspio`` (the pattern),
    ``overlap``, ``qsm_rim``, ``central_vein``, ``mtr_true`` (planted), ``volume_mm3``,
    ``candidate`` (0: missed by the candidates)).
    """
    from napari_uspio.phantom.cohort import make_cohort

    return make_cohort(tmp_path_factory.mktemp("seed000") / "cohort", n_patients=31, seed=0)


# ------------------------------------------------------------------ store backends
@pytest.fixture(scope="session")
def pg_server():
    """A throwaway PostgreSQL server on loopback for the whole session (initdb + pg_ctl)."""
    from napari_uspio.testing.postgres import LocalServer

    server = LocalServer().start()
    yield server
    server.close()


_databases = count(1)


@pytest.fixture
def pg_url(pg_server) -> str:
    """The URL of a new, empty database on the session's server."""
    return pg_server.create_database(f"test_{next(_databases)}")


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request, tmp_path):
    """Each store backend in turn: SQLite (a file in tmp_path) and PostgreSQL (a new database)."""
    from helpers import Backend

    if request.param == "sqlite":
        return Backend("sqlite", tmp_path / "study.sqlite")
    return Backend("postgresql", request.getfixturevalue("pg_url"))
