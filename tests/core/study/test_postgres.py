"""The PostgreSQL backend: schema, refusals, and a whole study on a real server.

The store tests of ``test_store.py`` and the concurrency test run on both backends
(the ``backend`` fixture); here is what only a server study has: its URL, its
schema in PostgreSQL's dialect, its refusals, and every coordinator command on it
giving what the same study gives on SQLite.
"""

from __future__ import annotations

import socket

import pandas as pd
import psycopg
import pytest

from napari_uspio.cli import main
from napari_uspio.core.study import StudyError, init_study, load_study
from napari_uspio.core.study.manifest import MANIFEST_NAME
from napari_uspio.core.study.postgres import PostgresStore
from napari_uspio.core.study.postgres.database import PG_MIGRATIONS, translate
from napari_uspio.core.study.sqlite import SCHEMA_VERSION, STORE_NAME
from napari_uspio.testing import demo_readers, read_study


def test_sqlite_parameters_become_psycopgs():
    assert translate("a = ?1 AND b = ?2 AND c = ?1", ("x", "y")) == (
        "a = %s AND b = %s AND c = %s",
        ["x", "y", "x"],
    )
    assert translate("VALUES (?, ?, ?)", (1, 2, 3)) == ("VALUES (%s, %s, %s)", [1, 2, 3])
    assert translate("x = ?3 AND y = ? AND z LIKE 'a%'", (1, 2, 3, 4))[1] == [3, 4]
    assert translate("z LIKE 'a%'")[0] == "z LIKE 'a%%'"


def test_a_new_database_gets_the_schema_at_the_current_version(pg_url):
    with PostgresStore(pg_url, create=True) as store:
        assert store.schema_version() == SCHEMA_VERSION == len(PG_MIGRATIONS)
    with psycopg.connect(pg_url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE "
                                             "schemaname = 'public'")}  # fmt: skip
        kinds = dict(conn.execute("SELECT column_name, data_type FROM information_schema.columns "
                                  "WHERE table_name = 'strokes'").fetchall())  # fmt: skip
    assert {"readers", "orders", "strokes", "snapshots", "ratings", "audit", "adjudications",
            "pins", "schema_version"} <= tables  # fmt: skip
    assert kinds["data"] == "bytea"


def test_a_database_without_a_study_or_with_a_newer_one_is_refused(pg_url):
    with pytest.raises(StudyError, match="holds no study.*study init --store"):
        PostgresStore(pg_url)
    with PostgresStore(pg_url, create=True):
        pass
    with psycopg.connect(pg_url, autocommit=True) as conn:
        conn.execute("UPDATE schema_version SET version = 99")
    with pytest.raises(StudyError, match="schema version 99 is newer.*update napari-uspio"):
        PostgresStore(pg_url)
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT version FROM schema_version").fetchone()[0] == 99


def test_an_unreachable_server_is_named_with_the_fix():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once the socket is closed
    with pytest.raises(StudyError, match=rf"127.0.0.1:{port}/study: cannot reach the study"):
        PostgresStore(f"postgresql://u@127.0.0.1:{port}/study", connect_timeout_s=2)


def test_a_store_url_with_a_password_or_no_database_is_refused(phantom_cases, tmp_path):
    cases = phantom_cases(2, (64, 64, 12), 5)
    with pytest.raises(StudyError, match="holds a password.*PGPASSWORD, ~/.pgpass"):
        init_study(tmp_path / "s", cases, ["r1"], store="postgresql://u:secret@h:5432/db")
    with pytest.raises(StudyError, match="names no database"):
        init_study(tmp_path / "s", cases, ["r1"], store="postgresql://h:5432")
    with pytest.raises(StudyError, match="give a PostgreSQL URL"):
        init_study(tmp_path / "s", cases, ["r1"], store="mysql://h/db")
    assert not (tmp_path / "s").exists()


@pytest.fixture
def twin_studies(phantom_cases, pg_url, tmp_path):
    """One study created twice, same seed and readers: on SQLite and on the server."""
    cases = phantom_cases(3, (64, 64, 12), 5)
    studies = {}
    for name, store in (("sqlite", None), ("postgresql", pg_url)):
        study = init_study(tmp_path / name, cases, ["r1", "r2", "r3"], seed=5,
                           adjudicators=["adj"], store=store)  # fmt: skip
        studies[name] = read_study(study, demo_readers(list(study.cases)))
    return studies


def test_a_server_study_keeps_nothing_but_its_manifest_in_the_folder(twin_studies, pg_url):
    study = twin_studies["postgresql"]
    assert sorted(p.name for p in study.folder.iterdir()) == [MANIFEST_NAME]
    assert load_study(study.folder).store == pg_url
    assert f'store = "{pg_url}"' in study.manifest_path.read_text()
    cases = study.case_folder(next(iter(study.cases))).parent
    with pytest.raises(StudyError, match="already holds a study.*one study per database"):
        init_study(study.folder.parent / "again", cases, ["r1"], store=pg_url)
    assert (twin_studies["sqlite"].folder / STORE_NAME).is_file()


def test_coordinator_commands_give_the_same_tables_on_either_backend(twin_studies, capsys):
    tables = {}
    for name, study in twin_studies.items():
        out = study.folder.parent / f"{name}-out"
        assert main(["study", "status", str(study.folder)]) == 0
        assert "3 of 3" in capsys.readouterr().out
        assert main(["study", "export", str(study.folder), "-o", str(out / "export")]) == 0
        assert main(["study", "agreement", str(study.folder), "-o", str(out / "agreement"),
                     "--n-boot", "50"]) == 0  # fmt: skip
        capsys.readouterr()
        tables[name] = {
            "lesions": pd.read_csv(out / "export" / "lesions.csv"),
            "kappa": pd.read_csv(out / "agreement" / "kappa.csv"),
            "detection": pd.read_csv(out / "agreement" / "detection.csv"),
        }
    for key in ("lesions", "kappa", "detection"):
        pd.testing.assert_frame_equal(tables["sqlite"][key], tables["postgresql"][key], obj=key)
