"""Adjudication: queue, blinding letters, proposal, decision log and consensus export."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import nibabel as nib
import numpy as np
import pandas as pd
import pytest

from napari_uspio.core.adjudication.consensus import export_consensus
from napari_uspio.core.adjudication.items import (
    case_items,
    item_values,
    proposal,
    reader_letters,
)
from napari_uspio.core.adjudication.queue import (
    adjudication_queue,
    adjudicator_of,
    case_adjudication,
    open_consensus,
)
from napari_uspio.core.agreement.matching import group_lesions
from napari_uspio.core.agreement.readings import (
    CaseReadings,
    Reading,
    case_readings,
    done_readings,
    group_table,
)
from napari_uspio.core.case import load_case
from napari_uspio.core.csvfiles import read_lesions_csv
from napari_uspio.core.export import export_paths, load_reading
from napari_uspio.core.fields import RATINGS
from napari_uspio.core.ratings import Rating, Ratings
from napari_uspio.core.study.manifest import Reader, Study
from napari_uspio.core.study.records import CaseLockedError, StudyError
from napari_uspio.core.study.sqlite.schema import SCHEMA_VERSION
from napari_uspio.testing.simulate import SimulatedReader, simulate_study

CASES = ("sub-01", "sub-02", "sub-03")
DISPUTED_FIELDS = RATINGS.disputed
ADJ = "adj"


def _simulate(folder: Path, cases_dir: Path, n_cases: int, readers=None) -> Study:
    """r2: uspio of lesion 1 focal everywhere, only confidence differs on lesion 3 of sub-01;
    r3: misses lesion 5 of sub-01, rates black_hole of lesion 2 of sub-02 (others unrated)."""
    r2 = {(c, 1): {"uspio": "focal"} for c in CASES} | {("sub-01", 3): {"confidence": "low"}}
    r3 = {("sub-02", 2): {"black_hole": "yes"}}
    readers = readers or [
        SimulatedReader("r1"),
        SimulatedReader("r2", changes=r2),
        SimulatedReader("r3", misses=frozenset({("sub-01", 5)}), changes=r3),
    ]
    return simulate_study(folder, cases_dir, n_cases, readers, shape_xyz=(64, 64, 12))


@pytest.fixture(scope="module")
def cases_dir(phantom_cases) -> Path:
    """Three phantoms of 8 lesions as simulate_study names them (it reuses them)."""
    return phantom_cases(len(CASES), (64, 64, 12), 8)


@pytest.fixture(scope="module")
def queue(tmp_path_factory, cases_dir):
    """3 readers, 3 cases; r3 reopened sub-03 (not done) so that case is not ready."""
    study = _simulate(tmp_path_factory.mktemp("queue") / "study", cases_dir, 3)
    with study.open_store() as store:
        r3_code = next(e.code for e in store.order("r3") if e.case_id == "sub-03")
        store.reopen("r3", r3_code, "second look")
        ready, waiting = adjudication_queue(study, store, ADJ)
        adj_codes = {e.case_id: e.code for e in store.order(ADJ)}
        done = done_readings(store)
        cr = case_readings(study, store, "sub-01", done, load_images=False)
    return SimpleNamespace(study=study, ready=ready, waiting=waiting, codes=adj_codes, cr=cr)


def test_queue_lists_exactly_the_disputed_items(queue):
    assert [ca.case_id for ca in queue.ready] == [c for c in queue.codes if c != "sub-03"]
    assert queue.waiting == [queue.codes["sub-03"]]
    expected = {("sub-01", 1): "uspio", ("sub-01", 5): "detection (2 of 3 readers)"}
    expected |= {("sub-02", 1): "uspio", ("sub-02", 2): "black_hole"}
    for ca in queue.ready:
        assert ca.code == queue.codes[ca.case_id]
        assert [i.item for i in ca.items] == list(range(1, 9))
        described = {(ca.case_id, i.item): i.describe() for i in ca.items if not i.agreed}
        assert described == {k: v for k, v in expected.items() if k[0] == ca.case_id}
        assert {i.describe() for i in ca.items if i.agreed} == {"agreed"}
        assert [i.item for i in ca.pending] == [i.item for i in ca.disputed]
        assert ca.decisions == {}
        assert ca.letters == reader_letters(queue.study.seed, ca.case_id, ["r1", "r2", "r3"])
    sub01 = next(ca for ca in queue.ready if ca.case_id == "sub-01")
    item5 = sub01.items[4]
    assert item5.detection_disputed and item5.detected_by == ["r1", "r2"]
    assert item5.lesions == {"r1": 5, "r2": 5, "r3": None} and item5.disputed_fields == ()
    assert sub01.items[2].agreed  # r2's confidence "low" differs only: not disputed
    assert sub01.status(sub01.items[2]) == "agreed" and sub01.status(item5) == "pending"
    assert sub01.items[0].disputed_fields == ("uspio",)


def test_case_readings_without_images_and_group_table(queue):
    cr = queue.cr
    assert cr.case is None and cr.grid.shape == (12, 64, 64)
    assert cr.readers == ["r1", "r2", "r3"] and cr.repeats == {}
    assert "black_hole" in DISPUTED_FIELDS and "confidence" not in DISPUTED_FIELDS
    values = item_values(cr, case_items(cr)[4])
    assert values["r3"] is None and values["r1"] == values["r2"]
    assert values["r1"].uspio == "none" and values["r1"].confidence == "high"
    table = group_table(cr)
    assert len(table) == 8 * 3
    missed = table[(table["item"] == 5) & (table["reader"] == "r3")]
    # pandas 3 infers a str dtype: "None: not detected" reads back as NaN
    assert missed["lesion"].isna().all() and missed["gd"].isna().all()
    item1 = table[table["item"] == 1].set_index("reader")["uspio"].to_dict()
    assert item1 == {"r1": "ring", "r2": "focal", "r3": "ring"}


def test_reader_letters_are_a_seeded_per_case_shuffle():
    readers = ["r1", "r2", "r3"]
    cases = [f"sub-{k:02d}" for k in range(1, 13)]
    maps = [reader_letters(7, c, readers) for c in cases]
    for case, letters in zip(cases, maps, strict=True):
        assert sorted(letters) == readers and sorted(letters.values()) == ["A", "B", "C"]
        assert not set(letters.values()) & set(readers)
        assert letters == reader_letters(7, case, readers[::-1])  # input order irrelevant
    assert len({tuple(m.items()) for m in maps}) > 1  # letters do not follow a reader
    assert any(reader_letters(8, c, readers) != m for c, m in zip(cases, maps, strict=True))


# ------------------------------------------------------------------ proposal
def _as_ratings(records: dict[int, dict]) -> dict[int, Rating]:
    return {k: Rating(**v) for k, v in records.items()}


def _cr(maps: dict[str, np.ndarray], ratings: dict[str, dict[int, Rating]]) -> CaseReadings:
    readings = {r: Reading(f"C-{r}", maps[r], Ratings(ratings.get(r, {}))) for r in maps}
    groups = group_lesions({r: x.labels for r, x in readings.items()})
    return CaseReadings("case", None, readings, groups, {}, None)


_BASE = dict(gd="shell", uspio="ring", qsm_rim="present", central_vein="absent", overlap=">80%")


def test_proposal_majority_ratings_and_confidence():
    maps = {r: np.zeros((1, 4, 8), np.int32) for r in ("r1", "r2", "r3")}
    for r, start in (("r1", 0), ("r2", 1), ("r3", 2)):
        maps[r][0, 0, start : start + 4] = 1  # votes along x: 1 2 3 3 2 1
        maps[r][0, 2, 2:6] = 3  # identical: agreed (confidences differ)
        maps[r][0, 3, 0:3] = 4  # identical: uspio disputed
    maps["r1"][0, 1, 6:8] = 2  # found by r1 only
    conf = {"r1": "high", "r2": "low", "r3": "medium"}
    ratings = {
        r: {
            1: Rating(**_BASE, confidence="high"),
            3: Rating(**_BASE, confidence=conf[r]),
            4: Rating(**_BASE | {"uspio": "focal" if r == "r3" else "ring"}, confidence="high"),
        }
        for r in maps
    }
    ratings["r1"][2] = Rating(gd="none", uspio="none", overlap="n/a", confidence="high")
    cr = _cr(maps, ratings)
    groups = [[1, 1, 1], [2, None, None], [3, 3, 3], [4, 4, 4]]  # r1, r2, r3
    assert [list(g.values()) for g in cr.groups] == groups
    items = case_items(cr)
    assert [i.agreed for i in items] == [True, False, True, False]
    assert items[1].describe() == "detection (1 of 3 readers)"
    assert items[3].describe() == "uspio"
    labels, rated = proposal(cr, items)
    assert labels[0, 0].tolist() == [0, 1, 1, 1, 1, 0, 0, 0]  # 2 of 3 votes
    assert not (labels == 2).any()  # 1 of 3 readers: no voxel
    assert labels[0, 2].tolist() == [0, 0, 3, 3, 3, 3, 0, 0]
    assert labels[0, 3].tolist() == [4, 4, 4, 0, 0, 0, 0, 0]
    assert rated[1] == _BASE | {"confidence": "high"}
    assert rated[3] == _BASE | {"confidence": "low"}  # the lowest of high, low, medium
    assert rated[4] == {k: v for k, v in _BASE.items() if k != "uspio"}  # no confidence
    assert rated[2] == {"gd": "none", "uspio": "none", "overlap": "n/a"}  # r1's, no confidence


def test_proposal_two_readers_union_and_overlap_by_item_number():
    maps = {r: np.zeros((1, 6, 8), np.int32) for r in ("r1", "r2")}
    maps["r1"][0, 0, 0:4] = 1
    maps["r2"][0, 0, 2:6] = 1  # Dice 0.5 with r1's lesion 1: one item, union
    maps["r1"][0, 2, 0:6] = 2
    maps["r2"][0, 2, 5:8] = 3
    maps["r2"][0, 3:, :] = 3  # r2's lesion 3 touches r1's lesion 2 at x = 5 only
    cr = _cr(maps, {})
    assert cr.groups == [{"r1": 1, "r2": 1}, {"r1": 2, "r2": None}, {"r1": None, "r2": 3}]
    labels, rated = proposal(cr, case_items(cr))
    assert labels[0, 0].tolist() == [1, 1, 1, 1, 1, 1, 0, 0]
    assert labels[0, 2].tolist() == [2, 2, 2, 2, 2, 2, 3, 3]  # tie at x = 5: lower item
    assert (labels[0, 3:] == 3).all()
    assert rated == {}  # unrated readings: no proposed rating


# ------------------------------------------------------------------ store
def test_study_status_shows_adjudication_progress(queue, exported, capsys):
    from napari_uspio.cli.study import main as study_main

    assert study_main(["study", "status", str(queue.study.folder)]) == 0
    shown = capsys.readouterr().out
    assert (
        f"adjudication {ADJ}: 0 of 4 disputed items decided, 4 pending; cases ready 2, "
        "waiting for readers 1\n"
    ) in shown
    assert study_main(["study", "status", str(exported.study.folder)]) == 0
    shown = capsys.readouterr().out
    assert f"adjudication {ADJ}: 4 of 4 disputed items decided, 0 pending" in shown


@pytest.fixture(scope="module")
def store_study(tmp_path_factory, cases_dir) -> Study:
    return _simulate(tmp_path_factory.mktemp("store") / "study", cases_dir, 1)


def test_store_proposal_and_decision_log(store_study):
    study = store_study
    with study.open_store() as store:
        assert store.schema_version() == SCHEMA_VERSION
        ready, waiting = adjudication_queue(study, store, ADJ)
        assert [ca.case_id for ca in ready] == ["sub-01"] and len(waiting) == 2
        ca = ready[0]
        _, cr = case_adjudication(study, store, ADJ, "sub-01", done_readings(store))
        assert not store.has_proposal(ADJ, ca.code) and store.last_seq(ADJ, ca.code) == 0
        open_consensus(store, ADJ, ca, cr)
        assert store.has_proposal(ADJ, ca.code)
        seq, before = store.last_seq(ADJ, ca.code), store.ratings(ADJ, ca.code)
        assert seq >= 1
        open_consensus(store, ADJ, ca, cr)  # written once: nothing more
        assert store.last_seq(ADJ, ca.code) == seq and store.ratings(ADJ, ca.code) == before
        want_labels, want_ratings = proposal(cr, ca.items)
        got = store.labels(ADJ, ca.code, cr.grid.shape, np.int32)
        np.testing.assert_array_equal(got, want_labels)
        assert sorted(np.unique(got)) == list(range(9))  # item 5 found by 2 of 3: kept
        assert _as_ratings(before) == _as_ratings(want_ratings)
        args = dict(rating={"uspio": "ring", "confidence": None}, letters=ca.letters)
        args["disputed"] = "uspio"
        with pytest.raises(StudyError, match="rationale"):
            store.resolve_item(ADJ, ca.code, 1, decision="lesion", rationale="  ", **args)
        with pytest.raises(StudyError, match="decision"):
            store.resolve_item(ADJ, ca.code, 1, decision="maybe", rationale="x", **args)
        assert store.adjudications() == []
        store.resolve_item(ADJ, ca.code, 1, decision="no lesion", rationale="first", **args)
        record = store.resolve_item(ADJ, ca.code, 1, decision="lesion", rationale=" ring ", **args)
        assert record.rationale == "ring" and record.rating == {"uspio": "ring"}
        assert store.adjudications(ADJ, ca.code) == [record]  # replaced, not added
        assert store.adjudications(ADJ)[0].letters == ca.letters
        audit = [(e.case_code, e.detail) for e in store.audit_log(ADJ) if e.action == "adjudicate"]
        assert audit == [(ca.code, "item 1: no lesion"), (ca.code, "item 1: lesion")]
        assert sum(e.action == "consensus proposal" for e in store.audit_log(ADJ)) == 1
        r1_code = next(e.code for e in store.order("r1") if e.case_id == "sub-01")
        with pytest.raises(StudyError, match="no case"):  # not a case of the adjudicator
            store.resolve_item(ADJ, r1_code, 1, decision="lesion", rationale="x", **args)
        store.mark_done(ADJ, ca.code)
        with pytest.raises(CaseLockedError):
            store.resolve_item(ADJ, ca.code, 5, decision="lesion", rationale="x", **args)
        assert [a.item for a in store.adjudications(ADJ, ca.code)] == [1]


def test_adjudicator_of():
    def study(*adjudicators: str) -> Study:
        people = (Reader("r1"), Reader("r2"), *(Reader(a, "adjudicator") for a in adjudicators))
        return Study(Path("."), 1, people, {})

    assert adjudicator_of(study("adj"), None) == "adj"
    assert adjudicator_of(study("a1", "a2"), "a2") == "a2"
    with pytest.raises(StudyError, match="'r1' is a reader, not an adjudicator"):
        adjudicator_of(study("adj"), "r1")
    with pytest.raises(StudyError, match=r"2 adjudicators \(a1, a2\).*--adjudicator"):
        adjudicator_of(study("a1", "a2"), None)
    with pytest.raises(StudyError, match=r"0 adjudicators \(none\)"):
        adjudicator_of(study(), None)
    with pytest.raises(StudyError, match="no reader 'zz'"):
        adjudicator_of(study("adj"), "zz")


# ------------------------------------------------------------------ consensus export
@pytest.fixture(scope="module")
def exported(tmp_path_factory, cases_dir):
    """sub-01 and sub-02 read (sub-03 not), refused, partial, adjudicated, exported."""
    base = tmp_path_factory.mktemp("export")
    study = _simulate(base / "study", cases_dir, 2)
    ns = SimpleNamespace(study=study, base=base)
    with pytest.raises(StudyError) as refused:
        export_consensus(study.folder, base / "refused")
    ns.refused, ns.refused_written = str(refused.value), (base / "refused").exists()
    export_consensus(study.folder, base / "partial", partial=True)
    with study.open_store() as store:
        ready, _ = adjudication_queue(study, store, ADJ)
        ns.cas = {ca.case_id: ca for ca in ready}
        done = done_readings(store)
        for ca in ready:
            open_consensus(
                store, ADJ, ca, case_adjudication(study, store, ADJ, ca.case_id, done)[1]
            )
        c1, c2 = ns.cas["sub-01"].code, ns.cas["sub-02"].code
        shape = (12, 64, 64)
        gone = np.flatnonzero(store.labels(ADJ, c1, shape, np.int32) == 5)
        store.append_stroke(ADJ, c1, gone, 0)  # item 5: no lesion
        patch = np.zeros(shape, bool)
        patch[6, 30:32, 30:32] = True  # empty in every reading of sub-02
        assert not store.labels(ADJ, c2, shape, np.int32)[patch].any()
        store.append_stroke(ADJ, c2, np.flatnonzero(patch), 20)  # a lesion no reader found
        negative = dict(gd="none", uspio="none", overlap="n/a", qsm_rim="absent")
        store.set_rating(ADJ, c2, 20, negative | {"central_vein": "absent", "confidence": "low"})
        decisions = {
            ("sub-01", 1): ({"uspio": "ring", "confidence": "medium"}, "lesion"),
            ("sub-01", 5): ({}, "no lesion"),
            ("sub-02", 1): ({"uspio": "focal", "confidence": "low"}, "lesion"),
            ("sub-02", 2): ({"black_hole": "no", "confidence": "medium"}, "lesion"),
        }
        for (case_id, item), (fields, decision) in decisions.items():
            ca = ns.cas[case_id]
            if fields:
                store.set_rating(ADJ, ca.code, item, fields)
            store.resolve_item(
                ADJ, ca.code, item, decision=decision, rationale=f"why {case_id} {item}",
                rating=store.ratings(ADJ, ca.code).get(item, {}), letters=ca.letters,
                disputed=ca.items[item - 1].describe(),
            )  # fmt: skip
        ns.labels = {c: store.labels(ADJ, ns.cas[c].code, shape, np.int32) for c in ns.cas}
        ns.ratings = {c: store.ratings(ADJ, ns.cas[c].code) for c in ns.cas}
        assert 5 in ns.ratings["sub-01"]  # dormant: kept in the store, not exported
    ns.out = base / "final"
    ns.written = export_consensus(study.folder, ns.out)
    return ns


def test_export_refuses_pending_items_and_writes_partial(exported):
    assert "4 disputed item(s)" in exported.refused and "--partial" in exported.refused
    for case_id in ("sub-01", "sub-02"):
        assert exported.cas[case_id].code in exported.refused
    assert not exported.refused_written
    out = exported.base / "partial"
    log = pd.read_csv(out / "adjudication_log.csv")
    assert log["status"].value_counts().to_dict() == {"agreed": 12, "pending": 4}
    assert log["decision"].isna().all()
    lesions = read_lesions_csv(out / "lesions.csv")
    status = {(r.case, r.lesion): r.consensus for r in lesions.itertuples()}
    pending = {("sub-01", 1), ("sub-01", 5), ("sub-02", 1), ("sub-02", 2)}
    assert {k for k, v in status.items() if v == "pending"} == pending
    assert set(status.values()) == {"pending", "agreed"} and len(status) == 16
    row5 = lesions[(lesions["case"] == "sub-01") & (lesions["lesion"] == 5)].iloc[0]
    assert row5["readers_detected"] == "2 of 3" and row5["item"] == 5
    assert row5["uspio"] == "none" and row5["confidence"] is None
    provenance = json.loads((out / "provenance.json").read_text("utf-8"))
    assert provenance["partial"] is True and provenance["pending_items"] == 4
    assert sorted(provenance["cases"]) == ["sub-01", "sub-02"]
    assert provenance["cases_not_ready"] == 1


def test_export_tables_after_adjudication(exported):
    out = exported.out
    lesions = read_lesions_csv(out / "lesions.csv")
    assert set(lesions["reader"]) == {"consensus"}
    painted = (lesions["case"] == "sub-02") & (lesions["lesion"] == 20)
    assert lesions["item"][painted].isna().all()
    assert (lesions["item"][~painted] == lesions["lesion"][~painted]).all()
    got = {(r.case, r.lesion): (r.consensus, r.readers_detected) for r in lesions.itertuples()}
    want = {(c, k): ("agreed", "3 of 3") for c in ("sub-01", "sub-02") for k in range(1, 9)}
    del want["sub-01", 5]  # "no lesion": erased
    for key in (("sub-01", 1), ("sub-02", 1), ("sub-02", 2)):
        want[key] = ("adjudicated", "3 of 3")
    want["sub-02", 20] = ("adjudicated", "0 of 3")  # painted outside any item
    assert got == want
    by_key = lesions.set_index(["case", "lesion"])
    assert by_key.loc[("sub-01", 1), "uspio"] == "ring"
    assert by_key.loc[("sub-02", 2), "black_hole"] == "no"
    assert by_key.loc[("sub-01", 3), "confidence"] == "low"  # lowest of high, low, high
    log = pd.read_csv(out / "adjudication_log.csv", keep_default_na=False, na_values=[""])
    assert len(log) == 16 and list(log.groupby("case").size()) == [8, 8]
    assert {"lesion_r1", "lesion_r2", "lesion_r3"} <= set(log.columns)
    for case_id, ca in exported.cas.items():
        rows = log[log["case"] == case_id].set_index("item")
        assert (rows["code"] == ca.code).all()
        reader_of = {letter: r for r, letter in ca.letters.items()}
        letters = "; ".join(f"{letter}={reader_of[letter]}" for letter in "ABC")
        assert (rows["letters"] == letters).all()
        decided = rows[rows["status"] == "adjudicated"]
        assert (decided["rationale"] == [f"why {case_id} {i}" for i in decided.index]).all()
        assert (decided["adjudicator"] == ADJ).all()
        assert rows["rationale"][rows["status"] == "agreed"].isna().all()
    s1 = log[log["case"] == "sub-01"].set_index("item")
    assert s1.loc[5, "decision"] == "no lesion" and pd.isna(s1.loc[5, "lesion_r3"])
    assert s1.loc[5, "disputed"] == "detection (2 of 3 readers)"
    assert s1.loc[1, "final_rating"].startswith("gd=shell; uspio=ring")
    summary = pd.read_csv(out / "summary.csv").set_index("case")
    assert summary["group"].to_dict() == {"sub-01": "UEL", "sub-02": "UEL"}
    assert summary["n_lesions"].to_dict() == {"sub-01": 7, "sub-02": 9}
    assert summary["n_uspio_ring"].to_dict() == {"sub-01": 2, "sub-02": 1}  # lesions 1, 7
    assert summary["n_uspio_focal"].to_dict() == {"sub-01": 1, "sub-02": 2}  # lesion 2 (+1)


def test_export_files_round_trip_and_hashes(exported):
    out, study = exported.out, exported.study
    for case_id in ("sub-01", "sub-02"):
        paths = export_paths(out / "cases", case_id, "consensus")
        assert all(p.is_file() for p in paths.values())
        case = load_case(study.case_folder(case_id))
        labels, ratings = load_reading(out / "cases", case, "consensus", case_id)
        np.testing.assert_array_equal(labels, exported.labels[case_id])
        present = set(np.unique(labels).tolist()) - {0}
        stored = {k: v for k, v in exported.ratings[case_id].items() if k in present}
        assert dict(ratings.items()) == _as_ratings(stored)
        on_disk = np.asarray(nib.load(paths["labels"]).dataobj)
        assert (5 in np.unique(on_disk)) == (case_id == "sub-02")
    provenance = json.loads((out / "provenance.json").read_text("utf-8"))
    assert provenance["partial"] is False and provenance["pending_items"] == 0
    assert provenance["adjudicator"] == ADJ
    files = provenance["files"]
    assert {"lesions.csv", "summary.csv", "adjudication_log.csv"} <= set(files)
    assert "cases/sub-01_consensus_provenance.json" in files and len(files) == 3 + 2 * 4
    for name, digest in files.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest, name
    assert set(exported.written) == {"lesions", "summary", "adjudication_log", "provenance"}
    with study.open_store() as store:
        audit = [e.detail for e in store.audit_log(ADJ) if e.action == "consensus export"]
    assert audit == [str((exported.base / n).resolve()) for n in ("partial", "final")]


@pytest.fixture(scope="module")
def empty_export(tmp_path_factory, cases_dir) -> Path:
    """Two readers who find nothing in sub-01: no item, an empty NEL consensus."""
    base = tmp_path_factory.mktemp("empty")
    nothing = frozenset(("sub-01", k) for k in range(1, 9))
    readers = [SimulatedReader(r, misses=nothing) for r in ("r1", "r2")]
    study = _simulate(base / "study", cases_dir, 1, readers)
    export_consensus(study.folder, base / "out")
    assert read_lesions_csv(base / "out" / "lesions.csv").empty
    return base / "out"


def test_empty_consensus_summary_names_its_case(empty_export):
    per_case = export_paths(empty_export / "cases", "sub-01", "consensus")["summary"]
    for path in (empty_export / "summary.csv", per_case):
        row = pd.read_csv(path, keep_default_na=False).iloc[0]
        assert (row["group"], row["n_lesions"]) == ("NEL", 0)
        # a reading without lesions still names its case and reader
        assert (row["case"], row["reader"]) == ("sub-01", "consensus"), path.name


def test_adjudication_log_without_items_has_a_header(empty_export):
    # with no item at all the log is a header-only CSV
    log = pd.read_csv(empty_export / "adjudication_log.csv")
    assert log.empty and {"case", "item", "status", "rationale"} <= set(log.columns)


def test_cli_consensus_exports_or_refuses(exported, queue, tmp_path, capsys):
    from napari_uspio.cli.study import main as study_main

    out = tmp_path / "cli"
    assert study_main(["study", "consensus", str(exported.study.folder), "-o", str(out)]) == 0
    assert "consensus exported to" in capsys.readouterr().out
    assert (out / "lesions.csv").read_bytes() == (exported.out / "lesions.csv").read_bytes()
    refused = tmp_path / "refused"
    assert study_main(["study", "consensus", str(queue.study.folder), "-o", str(refused)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "--partial" in err and not refused.exists()
