"""The study store, the study manifest, the study CLI and the study export."""

from __future__ import annotations

import json
import sqlite3

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from napari_uspio.cli.study import main as study_main
from napari_uspio.core.fields import RATINGS
from napari_uspio.core.ratings import RatingError, Ratings
from napari_uspio.core.study import (
    CaseLockedError,
    Reader,
    SQLiteStore,
    StudyError,
    init_study,
    load_study,
    reading_order,
)
from napari_uspio.core.study.order import OrderEntry
from napari_uspio.core.study.sqlite import schema as schema_mod
from napari_uspio.core.study.sqlite.schema import RATING_COLUMNS_V1, SCHEMA_VERSION

SHAPE = (8, 32, 32)
FIELDS = RATINGS.columns


@pytest.fixture
def store(backend):
    """A store of each backend with readers r1 (a repeat) and r2."""
    with backend.open(create=True) as s:
        s.add_reader("r1", "reader", reading_order(["a", "b", "c"], "r1", 7, 0.34))
        s.add_reader("r2", "reader", reading_order(["a", "b", "c"], "r2", 7))
        yield s


@pytest.fixture
def sqlite_store(tmp_path):
    """A SQLite store with the readers of ``store`` (tests of the file itself)."""
    with SQLiteStore(tmp_path / "study.sqlite", create=True) as s:
        s.add_reader("r1", "reader", reading_order(["a", "b", "c"], "r1", 7, 0.34))
        s.add_reader("r2", "reader", reading_order(["a", "b", "c"], "r2", 7))
        yield s


def code_of(store, reader, case_id, repeat=False):
    return next(e.code for e in store.order(reader) if (e.case_id, e.repeat) == (case_id, repeat))


def random_stroke(rng, size):
    idx = rng.choice(size, int(rng.integers(1, 120)), replace=False)
    if rng.random() < 0.5:
        return idx, int(rng.integers(0, 6))  # paint / erase: one value
    return idx, rng.integers(0, 300, idx.size)  # undo / fill of several lesions


# ------------------------------------------------------------------ masks
@pytest.mark.parametrize("dtype", [np.uint8, np.int32])
def test_strokes_compaction_and_replay_equal_numpy(backend, dtype):
    rng = np.random.default_rng(11)
    with backend.open(create=True, compact_strokes=17) as store:
        store.add_reader("r1", "reader", reading_order(["a"], "r1", 1))
        code = store.order("r1")[0].code
        expected = np.zeros(SHAPE, dtype)
        seqs = []
        for k in range(160):
            idx, values = random_stroke(rng, expected.size)
            values = np.asarray(values) % (np.iinfo(dtype).max + 1)
            expected.reshape(-1)[idx] = values
            # every other stroke lets the store compact with the caller's labels
            labels_now = (lambda: expected) if k % 2 else None
            seqs.append(store.append_stroke("r1", code, idx, values, labels_now=labels_now))
            if k == 40:
                store.compact("r1", code, expected)  # explicit compaction
            if k % 23 == 0:
                np.testing.assert_array_equal(store.labels("r1", code, SHAPE, dtype), expected)
        assert seqs == list(range(1, 161))
        n_journal, _ = store.journal_size("r1", code)
        assert 0 < n_journal < 40  # compacted: the journal does not hold every stroke
        np.testing.assert_array_equal(store.labels("r1", code, SHAPE, dtype), expected)
        assert store.last_seq("r1", code) == 160
        tail = store.strokes("r1", code)
        assert [s for s, _, _ in tail] == list(range(161 - n_journal, 161))
    with backend.open() as again:  # reopened: the same label map
        np.testing.assert_array_equal(again.labels("r1", code, SHAPE, dtype), expected)


def test_compaction_keeps_later_strokes(store):
    code = code_of(store, "r1", "a")
    labels = np.zeros(SHAPE, np.int16)
    store.append_stroke("r1", code, [1, 2, 3], 4)
    labels.reshape(-1)[[1, 2, 3]] = 4
    snapshot_of_1 = labels.copy()
    store.append_stroke("r1", code, [3, 5], 7)
    labels.reshape(-1)[[3, 5]] = 7
    assert store.compact("r1", code, snapshot_of_1, upto_seq=1) == 1
    assert [s for s, _, _ in store.strokes("r1", code)] == [2]
    np.testing.assert_array_equal(store.labels("r1", code, SHAPE, np.int16), labels)
    with pytest.raises(StudyError, match="cannot snapshot"):
        store.compact("r1", code, labels, upto_seq=0)  # older than the snapshot
    with pytest.raises(StudyError, match="cannot snapshot"):
        store.compact("r1", code, labels, upto_seq=3)  # no stroke 3 yet
    assert store.append_stroke("r1", code, [9], 1) == 3  # seqs go on after a snapshot


def test_a_stroke_costs_its_size_not_the_volume(store):
    code = code_of(store, "r1", "a")
    # a brush stroke on a 512 x 512 x 300 map: the store never sees the volume
    z, y, x = np.meshgrid(150, np.arange(200, 210), np.arange(300, 310), indexing="ij")
    flat = np.ravel_multi_index((z.ravel(), y.ravel(), x.ravel()), (300, 512, 512))
    store.append_stroke("r1", code, flat, 3)
    n, nbytes = store.journal_size("r1", code)
    assert n == 1 and nbytes < 200  # 100 voxels, delta-encoded and compressed
    _, idx, values = store.strokes("r1", code)[0]
    np.testing.assert_array_equal(idx, flat)
    np.testing.assert_array_equal(values, np.full(100, 3))


def test_repeated_index_keeps_its_last_value(store):
    code = code_of(store, "r1", "a")
    store.append_stroke("r1", code, [5, 6, 5, 7], [1, 2, 3, 4])
    labels = store.labels("r1", code, SHAPE, np.uint8)
    assert labels.reshape(-1)[[5, 6, 7]].tolist() == [3, 2, 4]


def test_bad_strokes_and_grids_are_refused(store):
    code = code_of(store, "r1", "a")
    with pytest.raises(ValueError, match=">= 0"):
        store.append_stroke("r1", code, [-1], 1)
    with pytest.raises(ValueError, match="2 voxel indices but 3 values"):
        store.append_stroke("r1", code, [1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="integers"):
        store.append_stroke("r1", code, [1.5], 1)
    store.append_stroke("r1", code, [SHAPE[0] * SHAPE[1] * SHAPE[2]], 1)
    with pytest.raises(ValueError, match="outside the label map"):
        store.labels("r1", code, SHAPE, np.uint8)
    other = code_of(store, "r1", "b")
    store.compact("r1", other, np.ones(SHAPE, np.uint8))
    with pytest.raises(StudyError, match="shape"):
        store.labels("r1", other, (4, 4, 4), np.uint8)


def test_writes_outside_the_readers_order_are_refused(store):
    theirs = code_of(store, "r2", "a")
    assert theirs not in {e.code for e in store.order("r1")}
    with pytest.raises(StudyError, match="no case"):
        store.append_stroke("r1", theirs, [1], 1)
    with pytest.raises(StudyError, match="no case"):
        store.set_rating("r1", theirs, 1, {"gd": "none"})
    with pytest.raises(StudyError, match="no case"):
        store.append_stroke("r9", theirs, [1], 1)
    assert store.last_seq("r2", theirs) == 0 and store.ratings("r2", theirs) == {}


# ------------------------------------------------------------------ ratings, state, time
def test_ratings_round_trip_and_validation(store):
    code = code_of(store, "r1", "b")
    store.set_rating("r1", code, 2, {"gd": "shell", "uspio": "ring"})
    store.set_rating("r1", code, 2, {"overlap": "20-80%", "comment": 'a "quoted" NA'})
    store.set_rating("r1", code, 5, {"confidence": "low"})
    stored = store.ratings("r1", code)
    assert stored[2] | {} == {
        **dict.fromkeys(FIELDS),
        "gd": "shell",
        "uspio": "ring",
        "overlap": "20-80%",
        "comment": 'a "quoted" NA',
    }
    assert Ratings(stored).get(2).lesion_class == "USPIO+/Gd+"
    with pytest.raises(RatingError, match="overlap"):
        store.set_rating("r1", code, 2, {"gd": "none"})  # overlap graded: clear it first
    with pytest.raises(RatingError, match="not a rating value"):
        store.set_rating("r1", code, 2, {"uspio": "maybe"})
    with pytest.raises(RatingError, match="unknown rating field"):
        store.set_rating("r1", code, 2, {"colour": "red"})
    with pytest.raises(RatingError, match="lesion ids"):
        store.set_rating("r1", code, 0, {"gd": "none"})
    assert store.ratings("r1", code) == stored  # refused changes left it as it was
    store.set_rating("r1", code, 5, {"confidence": None})
    assert list(store.ratings("r1", code)) == [2]  # nothing left: the rating is gone
    assert store.ratings("r2", code_of(store, "r2", "b")) == {}


def test_done_locks_and_reopen_is_explicit_and_audited(store):
    order = store.order("r1")
    code = order[0].code
    assert store.case_state("r1", code).status == "new"
    assert store.open_case("r1", code).status == "open"
    store.append_stroke("r1", code, [1], 2)
    store.mark_done("r1", code)
    assert store.case_state("r1", code).done_at is not None
    assert store.next_case("r1") == order[1]
    for write in (
        lambda: store.append_stroke("r1", code, [2], 2),
        lambda: store.set_rating("r1", code, 2, {"gd": "none"}),
        lambda: store.add_time("r1", code, 1.0),
        lambda: store.compact("r1", code, np.zeros(SHAPE, np.uint8)),
        lambda: store.mark_done("r1", code),
    ):
        with pytest.raises(CaseLockedError, match="reopen"):
            write()
    assert store.open_case("r1", code).status == "done"  # opening does not unlock
    with pytest.raises(StudyError, match="reason"):
        store.reopen("r1", code, "  ")
    store.reopen("r1", code, "lesion 2 missed")
    assert store.case_state("r1", code).status == "open"
    with pytest.raises(StudyError, match="not done"):
        store.reopen("r1", code, "again")
    store.append_stroke("r1", code, [2], 2)
    actions = [(a.reader, a.action, a.case_code, a.detail) for a in store.audit_log("r1")]
    assert actions == [
        ("r1", "open", code, ""),
        ("r1", "done", code, ""),
        ("r1", "open", code, ""),
        ("r1", "reopen", code, "lesion 2 missed"),
    ]
    assert [a.action for a in store.audit_log()][:2] == ["add reader", "add reader"]


def test_status_time_and_next_case(store):
    order = store.order("r1")
    assert len(order) == 4 and order[-1].repeat
    store.add_time("r1", order[0].code, 30.0)
    store.add_time("r1", order[0].code, 12.5, lesion=3)
    store.add_time("r1", order[0].code, 2.5, lesion=3)
    store.mark_done("r1", order[0].code)
    store.add_time("r1", order[1].code, 5.0)
    assert store.lesion_times("r1", order[0].code) == {3: 15.0}
    status = {p.reader: p for p in store.status()}
    assert (status["r1"].done, status["r1"].total, status["r1"].seconds_spent) == (1, 4, 50.0)
    assert status["r1"].next_code == order[1].code
    assert (status["r2"].done, status["r2"].total, status["r2"].seconds_spent) == (0, 3, 0.0)
    with pytest.raises(ValueError):
        store.add_time("r1", order[1].code, -1)
    for entry in order[1:]:
        store.mark_done("r1", entry.code)
    assert store.next_case("r1") is None
    assert store.status()[0].next_code is None


# ------------------------------------------------------------------ schema and migrations
def test_schema_holds_every_rating_field():
    assert tuple(FIELDS) == RATING_COLUMNS_V1  # a new field needs a migration


def test_new_file_is_created_at_the_current_version(tmp_path):
    with SQLiteStore(tmp_path / "study.sqlite", create=True) as store:
        assert store.schema_version() == SCHEMA_VERSION == 4
        assert store.integrity_check() == "ok"
    con = sqlite3.connect(tmp_path / "study.sqlite")
    assert con.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    con.close()


def test_older_file_is_migrated_and_keeps_its_data(sqlite_store, monkeypatch):
    code = code_of(sqlite_store, "r1", "a")
    sqlite_store.append_stroke("r1", code, [4], 9)
    sqlite_store.set_rating("r1", code, 9, {"gd": "nodular"})
    path = sqlite_store.path
    sqlite_store.close()

    def add_email(con):
        con.execute("ALTER TABLE readers ADD COLUMN email TEXT")

    monkeypatch.setattr(schema_mod, "MIGRATIONS", [*schema_mod.MIGRATIONS, add_email])
    with SQLiteStore(path) as migrated:
        assert migrated.schema_version() == SCHEMA_VERSION + 1
        assert migrated.labels("r1", code, SHAPE, np.uint8).reshape(-1)[4] == 9
        assert migrated.ratings("r1", code)[9]["gd"] == "nodular"
    con = sqlite3.connect(path)
    assert "email" in [row[1] for row in con.execute("PRAGMA table_info(readers)")]
    con.close()


def test_failed_migration_leaves_the_file_as_it_was(sqlite_store, monkeypatch):
    path = sqlite_store.path
    sqlite_store.close()

    def half_done(con):
        con.execute("ALTER TABLE readers ADD COLUMN email TEXT")
        raise RuntimeError("disk full")

    monkeypatch.setattr(schema_mod, "MIGRATIONS", [*schema_mod.MIGRATIONS, half_done])
    with pytest.raises(RuntimeError, match="disk full"):
        SQLiteStore(path)
    monkeypatch.undo()
    with SQLiteStore(path) as again:
        assert again.schema_version() == SCHEMA_VERSION and list(again.readers()) == ["r1", "r2"]
    con = sqlite3.connect(path)
    assert "email" not in [row[1] for row in con.execute("PRAGMA table_info(readers)")]
    con.close()


def test_version_0_file_is_migrated(tmp_path):
    path = tmp_path / "old.sqlite"
    sqlite3.connect(path).close()  # an empty SQLite file: schema version 0
    with SQLiteStore(path) as store:
        assert store.schema_version() == SCHEMA_VERSION and store.readers() == {}


def test_version_1_study_gains_the_adjudication_table(tmp_path, monkeypatch):
    monkeypatch.setattr(schema_mod, "MIGRATIONS", schema_mod.MIGRATIONS[:1])
    with SQLiteStore(tmp_path / "s.sqlite", create=True) as old:
        old.add_reader("r1", "reader", [OrderEntry("a", "C-1", False)])
        old.append_stroke("r1", "C-1", [4], 9)
        assert old.schema_version() == 1
    monkeypatch.undo()
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.labels("r1", "C-1", SHAPE, np.uint8).reshape(-1)[4] == 9
        assert store.adjudications() == []
        assert store.integrity_check() == "ok"


def test_version_2_study_gains_pins_and_its_readers_choose_one(tmp_path, monkeypatch):
    monkeypatch.setattr(schema_mod, "MIGRATIONS", schema_mod.MIGRATIONS[:2])
    with SQLiteStore(tmp_path / "s.sqlite", create=True) as old:
        old.add_reader("r1", "reader", [OrderEntry("a", "C-1", False)])
        old.set_rating("r1", "C-1", 2, {"gd": "nodular"})
        assert old.schema_version() == 2
    monkeypatch.undo()
    with SQLiteStore(tmp_path / "s.sqlite") as store:
        assert store.schema_version() == SCHEMA_VERSION
        assert store.ratings("r1", "C-1")[2]["gd"] == "nodular"
        assert store.pin_hash("r1") is None  # chosen at the next sign-in


def test_pin_hash_is_stored_replaced_and_reset_audited(store):
    assert store.pin_hash("r1") is None
    store.set_pin_hash("r1", "scrypt$1$1$1$00$00", by="r1")
    store.set_pin_hash("r1", "scrypt$1$1$1$01$01", by="r1")
    assert store.pin_hash("r1") == "scrypt$1$1$1$01$01" and store.pin_hash("r2") is None
    store.set_pin_hash("r1", None, by="coordinator")
    assert store.pin_hash("r1") is None
    actions = [(e.action, e.detail) for e in store.audit_log("r1")]
    assert ("set pin", "by r1") in actions and ("reset pin", "by coordinator") in actions
    with pytest.raises(StudyError, match="no reader 'r9'"):
        store.pin_hash("r9")


def test_newer_file_is_refused_untouched(sqlite_store):
    path = sqlite_store.path
    sqlite_store.close()
    con = sqlite3.connect(path)
    con.execute("PRAGMA user_version = 99")
    con.close()
    with pytest.raises(StudyError, match="schema version 99 is newer.*update napari-uspio"):
        SQLiteStore(path)
    con = sqlite3.connect(path)
    assert con.execute("PRAGMA user_version").fetchone()[0] == 99
    con.close()


def test_missing_or_foreign_file_is_refused(tmp_path):
    with pytest.raises(StudyError, match="no study store"):
        SQLiteStore(tmp_path / "study.sqlite")
    (tmp_path / "junk.sqlite").write_bytes(b"not a database at all" * 100)
    with pytest.raises(StudyError, match="not a readable study store"):
        SQLiteStore(tmp_path / "junk.sqlite")


# ------------------------------------------------------------------ manifest
@pytest.fixture
def fake_cases(tmp_path):
    """Case folders recognised by name only (init never reads an image)."""
    root = tmp_path / "cases"
    for name in ("sub-01", "sub-02", "sub-03", "sub-04"):
        (root / name).mkdir(parents=True)
        (root / name / f"{name}_FLAIR.nii.gz").write_bytes(b"")
    (root / "notes").mkdir()
    (root / "notes" / "readme.txt").write_text("no image")
    (root / ".cache").mkdir()
    return root


def test_init_study_writes_manifest_and_orders(tmp_path, fake_cases):
    skipped = {}
    study = init_study(
        tmp_path / "study",
        fake_cases,
        readers=["r1", "r2"],
        adjudicators=["adj"],
        seed=42,
        repeat_fraction=0.5,
        on_skip=skipped.__setitem__,
    )
    assert list(skipped) == ["notes"] and "no role recognised" in skipped["notes"]
    assert list(study.cases) == ["sub-01", "sub-02", "sub-03", "sub-04"]
    loaded = load_study(tmp_path / "study")
    assert (loaded.seed, loaded.repeat_fraction, loaded.readers) == (42, 0.5, study.readers)
    assert loaded.readers[-1] == Reader("adj", "adjudicator")
    assert loaded.cases == study.cases and loaded.cases["sub-01"] == "../cases/sub-01"
    assert loaded.case_folder("sub-02") == (fake_cases / "sub-02").resolve()
    with loaded.open_store() as store:
        for reader in ("r1", "r2", "adj"):
            assert store.order(reader) == loaded.order(reader)
        assert len(store.order("r1")) == 6 and len(store.order("adj")) == 4  # no repeats
        assert store.readers() == {"r1": "reader", "r2": "reader", "adj": "adjudicator"}
        assert "seed 42" in store.audit_log()[-1].detail


def test_init_study_refusals(tmp_path, fake_cases):
    init_study(tmp_path / "s", fake_cases, readers=["r1"], seed=1)
    with pytest.raises(StudyError, match="already exists"):
        init_study(tmp_path / "s", fake_cases, readers=["r1"], seed=1)
    for readers, message in (
        (["r1", "r1"], "twice"),
        (["r/1"], "reader id"),
        ([], "at least one reader"),
    ):
        with pytest.raises(StudyError, match=message):
            init_study(tmp_path / "t", fake_cases, readers=readers)
    with pytest.raises(StudyError, match="no case folder"):
        init_study(tmp_path / "t", fake_cases / "notes", readers=["r1"])
    with pytest.raises(StudyError, match="unknown role"):
        init_study(tmp_path / "t", fake_cases, readers=["r1"], shown_roles=["pet"])
    with pytest.raises(StudyError, match="not a study folder"):
        load_study(tmp_path / "t")


def test_seed_is_drawn_and_recorded(tmp_path, fake_cases):
    study = init_study(tmp_path / "s", fake_cases, readers=["r1"])
    assert load_study(tmp_path / "s").seed == study.seed


# ------------------------------------------------------------------ CLI and export on phantoms
@pytest.fixture(scope="module")
def cohort(phantom_cases):
    return phantom_cases(3, (64, 64, 12), 5)


def test_cli_init_status_export(cohort, tmp_path, capsys):
    from napari_uspio import load_case

    study_dir, out = tmp_path / "study", tmp_path / "export"
    argv = ["study", "init", str(study_dir), "--cases", str(cohort), "--readers", "r1,r2"]
    assert (
        study_main([*argv, "--adjudicators", "r3", "--seed", "5", "--repeat-fraction", "0.34"])
        == 0
    )
    assert "3 cases" in capsys.readouterr().out
    study = load_study(study_dir)
    painted = {}
    with study.open_store() as store:
        for reader, n_done in (("r1", 4), ("r2", 1)):  # r1 reads all 4 (one repeat), r2 one
            for entry in store.order(reader)[:n_done]:
                case = load_case(study.case_folder(entry.case_id))
                truth = case.read_labels(
                    study.case_folder(entry.case_id) / "truth" / "lesions_truth.nii.gz"
                ).data
                store.open_case(reader, entry.code)
                labels = np.zeros(case.grid.shape, np.int32)
                for lesion in (1, 2, 4):
                    flat = np.flatnonzero(truth == lesion)
                    labels.reshape(-1)[flat] = lesion
                    store.append_stroke(reader, entry.code, flat, lesion)
                store.set_rating(
                    reader, entry.code, 1, {"gd": "nodular", "uspio": "none", "overlap": "n/a"}
                )
                store.set_rating(reader, entry.code, 2, {"gd": "none", "comment": reader})
                store.set_rating(reader, entry.code, 2, {"uspio": "none"})
                store.set_rating(reader, entry.code, 4, {"gd": "none", "uspio": "none"})
                store.set_rating(reader, entry.code, 3, {"gd": "shell"})  # dormant: no lesion 3
                store.add_time(reader, entry.code, 60.0)
                store.add_time(reader, entry.code, 20.0, lesion=2)
                if reader == "r1":
                    store.mark_done(reader, entry.code)
                painted[reader, entry.code] = labels
        empty = store.order("r2")[1]  # opened, nothing painted yet
        store.open_case("r2", empty.code)
        painted["r2", empty.code] = np.zeros(painted["r2", store.order("r2")[0].code].shape)
    assert study_main(["study", "status", str(study_dir)]) == 0
    text = capsys.readouterr().out
    lines = {line.split()[0]: line for line in text.splitlines()[2:]}
    assert "4 of 4" in lines["r1"] and "0:05:20" in lines["r1"]
    assert "0 of 4" in lines["r2"] and "0 of 3" in lines["r3"] and "adjudicator" in lines["r3"]

    assert study_main(["study", "export", str(study_dir), "-o", str(out)]) == 0
    lesions = pd.read_csv(out / "lesions.csv")
    assert sorted(set(lesions["reader"])) == ["r1", "r2"]
    assert list(lesions.columns[:3]) == ["case", "reader", "lesion"]
    assert {"code", "repeat", "status", "reading_s", "volume_mm3", "gd"} <= set(lesions.columns)
    assert len(lesions) == 3 * 5 and set(lesions["lesion"]) == {1, 2, 4}
    assert lesions["repeat"].sum() == 3 and set(lesions["status"]) == {"done", "open"}
    assert lesions.loc[lesions["lesion"] == 2, "reading_s"].eq(20.0).all()
    assert (lesions.loc[lesions["lesion"] == 1, "overlap"] == "not applicable").all()
    summary = pd.read_csv(out / "summary.csv")
    read, blank = summary[summary["n_lesions"] > 0], summary[summary["n_lesions"] == 0]
    assert len(read) == 5 and read["group"].eq("GEL").all()  # lesion 1 Gd+, no USPIO+
    assert read["reading_s"].eq(80.0).all() and read["n_lesions"].eq(3).all()
    assert blank[["case", "reader", "code", "group", "status"]].values.tolist() == [
        [empty.case_id, "r2", empty.code, "NEL", "open"]
    ]
    r3 = pd.read_csv(out / "readers" / "r3" / "lesions.csv")  # nothing read: header only
    assert len(r3) == 0 and {"case", "reader", "lesion", "gd", "code"} <= set(r3.columns)
    for reader in ("r1", "r2"):
        per_reader = pd.read_csv(out / "readers" / reader / "lesions.csv")
        pd.testing.assert_frame_equal(
            per_reader, lesions[lesions["reader"] == reader].reset_index(drop=True)
        )
    with study.open_store() as store:
        for (reader, code), labels in painted.items():
            entry = next(e for e in store.order(reader) if e.code == code)
            name = f"{entry.case_id}_repeat" if entry.repeat else entry.case_id
            mask = out / "readers" / reader / "cases" / f"{name}_{reader}_labels.nii.gz"
            case = load_case(study.case_folder(entry.case_id))
            np.testing.assert_array_equal(case.read_labels(mask).data, labels)  # on the case grid
            image = nib.load(mask)
            assert image.shape == (64, 64, 12)
            np.testing.assert_allclose(image.affine, case.grid.file_affine)
    provenance = json.loads((out / "provenance.json").read_text())
    assert provenance["study"]["seed"] == 5
    for reader in ("r1", "r2", "r3"):
        order = provenance["readers"][reader]["order"]
        assert [(o["case"], o["code"], o["repeat"]) for o in order] == [
            tuple(e) for e in study.order(reader)
        ]
        assert provenance["readers"][reader]["order_reproduced_from_seed"] is True
    assert "lesions.csv" in provenance["files"] and "readers/r1/summary.csv" in provenance["files"]
    orders = pd.read_csv(out / "orders.csv")
    assert len(orders) == 4 + 4 + 3 and orders["status"].eq("new").sum() == 2 + 3


def test_cli_reports_bad_input(tmp_path, capsys):
    assert study_main(["study", "status", str(tmp_path)]) == 2
    assert "not a study folder" in capsys.readouterr().err


# ------------------------------------------------------------------ one session per reader
def test_one_session_per_reader_refused_elsewhere_taken_over_once_expired(store):
    from napari_uspio.core.study.records import LeaseError

    first = store.acquire_lease("r1", "s-1", "ws-1", 111)
    assert store.lease("r1") == first and store.lease("r2") is None
    with pytest.raises(LeaseError, match="r1 is signed in on workstation ws-1 since") as fresh:
        store.acquire_lease("r1", "s-2", "ws-2", 222, take_over=True)  # fresh: never
    assert not fresh.value.expired
    store.renew_lease("r1", "s-1")
    store._db.execute("UPDATE leases SET heartbeat = '2026-01-01T00:00:00+00:00'")  # silent
    with pytest.raises(LeaseError, match="has expired.*take it over") as expired:
        store.acquire_lease("r1", "s-2", "ws-2", 222)
    assert expired.value.expired
    taken = store.acquire_lease("r1", "s-2", "ws-2", 222, take_over=True)
    assert (taken.holder, taken.host) == ("s-2", "ws-2")
    with pytest.raises(LeaseError, match="taken over by ws-2"):
        store.renew_lease("r1", "s-1")  # the first session learns it lost its lease
    log = [(e.action, e.detail) for e in store.audit_log("r1")]
    assert ("take over session", "from ws-1 pid 111 (expired)") in log
    store.release_lease("r1", "s-1")  # not its lease any more: nothing
    assert store.lease("r1").holder == "s-2"
    store.release_lease("r1", "s-2")
    assert store.lease("r1") is None


def test_a_lease_of_a_gone_process_on_this_host_is_taken_over(store):
    import os
    import socket
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    host = socket.gethostname()
    store.acquire_lease("r1", "crashed", host, int(gone.stdout))  # napari killed, say
    lease = store.acquire_lease("r1", "again", host, os.getpid())
    assert lease.holder == "again"
    assert store.audit_log("r1")[-1].detail.endswith("(process gone)")
