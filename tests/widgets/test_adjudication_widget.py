"""The Adjudication dock widget driven like an adjudicator would, in a real viewer.

The study is :func:`simulate_study` with its demo readers: r2 calls lesion 1 of every
case focal instead of ring-like, r3 misses lesion 5 of sub-01 and reads the QSM rim of
lesion 1 absent everywhere. So the queue holds exactly three disputed items: sub-01
item 1 (uspio, qsm_rim), sub-01 item 5 (detection, 2 of 3 readers), sub-02 item 1.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from helpers import ui_strings
from napari.utils.notifications import notification_manager
from qtpy.QtCore import QEvent, Qt
from qtpy.QtGui import QColor
from qtpy.QtWidgets import (
    QApplication,
    QComboBox,
    QPushButton,
    QTableWidget,
    QWidget,
)

from napari_uspio._napari.desk import desk_for
from napari_uspio._widgets.adjudication_widget import AdjudicationWidget
from napari_uspio.core.study.manifest import load_study

ADJ = "adj"
PIN = "4711"  # the adjudicator's, chosen at their first sign-in
READERS = ("r1", "r2", "r3")
CASE_IDS = ("sub-01", "sub-02")
DISPUTED = [  # as shown: the field names of the Ratings widget
    ("sub-01", 1, "USPIO, QSM rim"),
    ("sub-01", 5, "detection (2 of 3 readers)"),
    ("sub-02", 1, "USPIO, QSM rim"),
]
RED = QColor(Qt.GlobalColor.darkRed)


# ---------------------------------------------------------------- helpers
@pytest.fixture
def study_dir(simulated_study):
    """A fresh copy of the session's two-case demo study (its phantoms are shared)."""
    return simulated_study("adjudication", copy=True, n_cases=2, shape_xyz=(64, 64, 12)).folder


def _cases_dir(study_dir):
    return load_study(study_dir).case_folder(CASE_IDS[0]).parent


@pytest.fixture
def flair_study(study_dir):
    """The same study, set by its coordinator to show FLAIR only (a case opens in ~1 s
    instead of ~5 s with its 17 image layers)."""
    manifest = study_dir / "study.toml"
    text = manifest.read_text(encoding="utf-8")
    assert "\nshown_roles = []\n" in text
    manifest.write_text(text.replace("\nshown_roles = []\n", '\nshown_roles = ["flair"]\n'))
    return study_dir


def _open(make_napari_viewer, qtbot, study_dir, who=ADJ, show=True):
    """A viewer with the Adjudication dock; study and id typed, Sign in clicked."""
    viewer = make_napari_viewer(show=show)
    viewer.window._qt_window.resize(1500, 950)
    widget = AdjudicationWidget(viewer)
    viewer.window.add_dock_widget(widget, name="Adjudication", area="right")
    qtbot.keyClicks(widget.study, str(study_dir))
    qtbot.keyClicks(widget.adjudicator, who)
    _sign_in(qtbot, widget)
    return viewer, widget


def _sign_in(qtbot, widget, pin: str = PIN) -> None:
    """Type the PIN, click Sign in, wait for the queue built on the worker thread (or the
    refusal)."""
    widget.pin.clear()
    qtbot.keyClicks(widget.pin, pin)
    _click(qtbot, widget, "Sign in")
    qtbot.waitUntil(widget.sign_in_button.isEnabled, timeout=60000)


def _button(widget: QWidget, text: str) -> QPushButton:
    # the event loop a real click returns to: buttons of the last item (deleteLater) go
    QApplication.sendPostedEvents(None, QEvent.Type.DeferredDelete)
    found = [b for b in widget.findChildren(QPushButton) if b.text() == text]
    assert len(found) == 1, f"{text!r}: {[b.text() for b in widget.findChildren(QPushButton)]}"
    return found[0]


def _click(qtbot, widget: QWidget, text: str) -> None:
    button = _button(widget, text)
    assert button.isEnabled(), f"{text!r} is disabled"
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)


def _double_click(qtbot, table: QTableWidget, row: int) -> None:
    """A real double click on a row: press-release, then the double click."""
    pos = table.visualItemRect(table.item(row, 0)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=pos)
    qtbot.mouseDClick(table.viewport(), Qt.MouseButton.LeftButton, pos=pos)


def _queue(widget) -> list[tuple[str, ...]]:
    q = widget.queue
    return [
        tuple(q.item(r, c).text() for c in range(q.columnCount())) for r in range(q.rowCount())
    ]


def _final(widget, field: str) -> QComboBox:
    box = widget.compare.cellWidget(widget.fields.index(field), widget.compare.columnCount() - 1)
    assert isinstance(box, QComboBox)
    return box


def _set_final(widget, field: str, value: str | None) -> None:
    box = _final(widget, field)
    index = box.findData(value)
    assert index >= 0, f"{field}: no {value!r} in the Final combo"
    box.setCurrentIndex(index)


def _type_rationale(qtbot, widget, text: str) -> None:
    widget.rationale.clear()
    qtbot.keyClicks(widget.rationale, text)


def _cell(widget, field: str, letter: str):
    header = [
        widget.compare.horizontalHeaderItem(c).text() for c in range(widget.compare.columnCount())
    ]
    return widget.compare.item(widget.fields.index(field), header.index(f"Reader {letter}"))


def _reader_code(store, reader: str, case_id: str) -> str:
    return next(e.code for e in store.order(reader) if e.case_id == case_id)


def _reader_mask(widget, reader: str, lesion: int, shape) -> np.ndarray:
    store, case_id = widget.session.store, widget.session.current.case_id
    labels = store.labels(reader, _reader_code(store, reader, case_id), shape, np.int32)
    return labels == lesion


def _leaks(strings: list[str], study_dir) -> list[tuple[str, str]]:
    """(what leaked, where) for reader ids as whole tokens, case ids, the cases folder."""
    cases = _cases_dir(study_dir)
    plain = [str(cases), str(cases.resolve()), "sub-", "phantom", *CASE_IDS]
    plain += [p.name.split(".")[0] for p in (cases / CASE_IDS[0]).glob("*.nii.gz")]
    token = re.compile(r"(?<![A-Za-z0-9_])(r1|r2|r3)(?![A-Za-z0-9_])")
    found = [(leak, text) for text in strings for leak in plain if leak in text]
    found += [(m.group(1), text) for text in strings for m in token.finditer(text)]
    return found


# ---------------------------------------------------------------- 1. the whole flow
# (3. blinding is scanned here, at each of the three items: a case opens in ~5 s)
def test_adjudicator_clears_the_queue_blinded_and_exports(
    make_napari_viewer, qtbot, study_dir, tmp_path
):
    first_note = len(notification_manager.records)
    viewer, widget = _open(make_napari_viewer, qtbot, study_dir)
    session = widget.session
    assert session is not None and session.reader == ADJ
    store = session.store
    code1, code2 = (_reader_code(store, ADJ, c) for c in CASE_IDS)

    # the queue: exactly the three disputed items, all pending, in the adjudicator's order
    code_of = {"sub-01": code1, "sub-02": code2}
    assert _queue(widget) == [(code_of[c], str(i), d, "pending") for c, i, d in DISPUTED]
    assert code1 != code2 and not any(c in code1 + code2 for c in CASE_IDS)
    assert widget.state.text() == "Adjudicator adj: 3 of 3 disputed items pending."

    # the first item is open: consensus + one outline layer per reader, blinded letters
    assert session.current.case_id == "sub-01" and session.item.item == 1
    compare = desk_for(viewer).compare  # two disputed fields: their images side by side
    assert compare.panels == ["t1_post_uspio", "qsm"] and viewer.canvas.grid.enabled
    assert desk_for(viewer).press("Y") and not compare.active  # the single view, readers shown
    names = [layer.name for layer in viewer.layers]
    assert names[-4:] == ["Reader C", "Reader B", "Reader A", "consensus"]
    assert viewer.layers.selection.active is viewer.layers["consensus"]
    assert viewer.layers["consensus"].selected_label == 1
    assert code1 in viewer.title
    assert widget.item_label.text() == f"<b>Case {code1} · item 1</b> · USPIO, QSM rim"
    consensus = viewer.layers["consensus"]
    assert set(np.unique(consensus.data)) == set(range(9))  # the proposal: all 8 items
    letters = dict(session.current.letters)  # reader -> letter (the test's eyes only)
    assert sorted(letters) == list(READERS) and sorted(letters.values()) == ["A", "B", "C"]
    compare = widget.compare
    headers = [compare.horizontalHeaderItem(c).text() for c in range(compare.columnCount())]
    assert headers == ["Reader A", "Reader B", "Reader C", "Final"]
    # disputed cells differ (and are red); agreed ones are the same (and are not)
    uspio = {r: _cell(widget, "uspio", letters[r]).text() for r in READERS}
    rim = {r: _cell(widget, "qsm_rim", letters[r]).text() for r in READERS}
    gd = {r: _cell(widget, "gd", letters[r]).text() for r in READERS}
    assert uspio == {"r1": "ring-like", "r2": "focal", "r3": "ring-like"}
    assert rim == {"r1": "present", "r2": "present", "r3": "absent"}
    assert gd == {"r1": "shell", "r2": "shell", "r3": "shell"}
    for r in READERS:
        assert _cell(widget, "uspio", letters[r]).background().color() == RED
        assert _cell(widget, "gd", letters[r]).background().color() != RED
    # Final starts from what all readers agree on; the disputed fields are left unset
    assert _final(widget, "gd").currentData() == "shell"
    assert _final(widget, "overlap").currentData() == ">80%"
    assert _final(widget, "uspio").currentData() is None
    assert _final(widget, "qsm_rim").currentData() is None
    assert _final(widget, "confidence").currentData() is None

    # Resolve with nothing decided: refused, naming the disputed fields, item still pending
    _click(qtbot, widget, "Resolve item and open the next")
    assert widget.state.text().startswith(
        "Not done: choose the final USPIO enhancement, QSM rim first"
    )
    assert store.adjudications(ADJ) == []

    # an inconsistent Final is refused and the combo shows the rating as it is
    _set_final(widget, "gd", "none")  # overlap >80% needs Gd enhancing
    assert widget.state.text().startswith("Not done:") and "overlap" in widget.state.text()
    assert _final(widget, "gd").currentData() == "shell"
    assert session.desk.final_rating().gd == "shell"

    _set_final(widget, "uspio", "ring")
    _set_final(widget, "qsm_rim", "present")
    _set_final(widget, "confidence", "medium")
    rating = session.desk.final_rating()
    assert (rating.uspio, rating.qsm_rim, rating.confidence) == ("ring", "present", "medium")
    assert store.ratings(ADJ, code1)[1]["uspio"] == "ring"  # autosaved at once

    # complete rating but no rationale: refused, still pending
    _click(qtbot, widget, "Resolve item and open the next")
    assert widget.state.text() == "Not done: an adjudication needs a written rationale"
    assert store.adjudications(ADJ) == []
    assert _queue(widget)[0][3] == "pending" and session.item.item == 1

    rationale1 = "Ring-like USPIO on post-contrast R2*; rim visible on QSM."
    _type_rationale(qtbot, widget, rationale1)
    qtbot.wait(50)  # let the window lay out the dock before the picture
    viewer.window._qt_window.grab().save("/tmp/adjudication_flow.png")
    strings = ui_strings(viewer, widget, first_note)  # item 1, after two refusals
    _click(qtbot, widget, "Resolve item and open the next")

    [decided] = store.adjudications(ADJ)
    assert (decided.case_code, decided.item, decided.decision) == (code1, 1, "lesion")
    assert decided.rationale == rationale1
    assert decided.rating["uspio"] == "ring" and decided.rating["qsm_rim"] == "present"
    assert decided.letters == letters and decided.disputed == "uspio, qsm_rim"
    assert [row[3] for row in _queue(widget)] == ["adjudicated", "pending", "pending"]
    assert widget.state.text() == "Adjudicator adj: 2 of 3 disputed items pending."

    # the next pending item opened by itself: the detection dispute, same case
    assert session.current.code == code1 and session.item.item == 5
    assert widget.item_label.text() == f"<b>Case {code1} · item 5</b> · detection (2 of 3 readers)"
    assert widget.rationale.toPlainText() == ""
    assert _cell(widget, "gd", letters["r3"]).text() == "not marked"
    assert _cell(widget, "gd", letters["r3"]).background().color() == RED
    assert not _button(widget, f"Use Reader {letters['r3']}'s mask").isEnabled()
    consensus = viewer.layers["consensus"]
    shape = consensus.data.shape
    r1_mask = _reader_mask(widget, "r1", 5, shape)
    assert r1_mask.sum() > 0
    _click(qtbot, widget, "No lesion")
    assert not (consensus.data == 5).any()
    _click(qtbot, widget, f"Use Reader {letters['r1']}'s mask")
    np.testing.assert_array_equal(consensus.data == 5, r1_mask)
    assert (consensus.data == 1).sum() > 0  # the other items are untouched
    # the mask only: the reader's confidence is not copied into the final answer
    assert _final(widget, "confidence").currentData() is None
    assert not session.desk.final_rating().complete
    _set_final(widget, "confidence", "high")
    assert session.desk.final_rating().complete
    strings += ui_strings(viewer, widget, first_note)  # item 5
    rationale5 = "Small T2 lesion clearly present on FLAIR; a reader missed it."
    _type_rationale(qtbot, widget, rationale5)
    _click(qtbot, widget, "Resolve item and open the next")
    assert store.adjudications(ADJ, code1)[1].decision == "lesion"
    saved = store.labels(ADJ, code1, shape, np.int32)
    np.testing.assert_array_equal(saved == 5, r1_mask)

    # the last item is in the second case: it opens with its own layers and letters
    assert session.current.code == code2 and session.item.item == 1
    assert code2 in viewer.title
    names = [layer.name for layer in viewer.layers]
    assert names.count("consensus") == 1 and names.count("Reader A") == 1
    consensus = viewer.layers["consensus"]
    assert (consensus.data == 1).any()
    _click(qtbot, widget, "No lesion")
    assert not (consensus.data == 1).any()
    assert (consensus.data == 2).any()  # only that item went
    strings += ui_strings(viewer, widget, first_note)  # the second case's item 1
    rationale_last = "Mimic: a vessel, not a lesion, on SWI."
    _type_rationale(qtbot, widget, rationale_last)
    _click(qtbot, widget, "Resolve item and open the next")
    last = store.adjudications(ADJ, code2)
    assert [(a.item, a.decision, a.rationale, a.rating) for a in last] == [
        (1, "no lesion", rationale_last, {})
    ]
    assert widget.state.text() == (
        "Queue cleared: every disputed item is decided. Export the consensus."
    )
    assert [row[3] for row in _queue(widget)] == ["adjudicated"] * 3

    # blinding: the scan saw the UI (codes, letters, values, "r2star" layers) and no
    # reader id, case id or cases folder
    for seen in (code1, code2, "Reader A", "Reader C", "Final", "ring-like", "focal"):
        assert any(seen in text for text in strings), seen
    assert "r2star" in strings and any("choose the final USPIO" in t for t in strings)
    assert _leaks(strings, study_dir) == []

    # export
    out = tmp_path / "consensus_out"
    qtbot.keyClicks(widget.out_dir, str(out))
    _click(qtbot, widget, "Export consensus")
    assert widget.state.text() == f"Consensus exported to {out}"
    for name in ("lesions.csv", "summary.csv", "adjudication_log.csv", "provenance.json"):
        assert (out / name).is_file(), name
    assert list((out / "cases").glob("sub-01_consensus_*")), "per-case files"
    lesions = pd.read_csv(out / "lesions.csv")
    got = {
        (row.case, int(row.lesion)): (row.consensus, row.readers_detected)
        for row in lesions.itertuples()
    }
    expected = {("sub-01", k): ("agreed", "3 of 3") for k in range(1, 9)}
    expected |= {("sub-02", k): ("agreed", "3 of 3") for k in range(2, 9)}  # item 1: no lesion
    expected[("sub-01", 1)] = ("adjudicated", "3 of 3")
    expected[("sub-01", 5)] = ("adjudicated", "2 of 3")
    assert got == expected
    first = lesions.set_index(["case", "lesion"]).loc[("sub-01", 1)]
    assert (first.uspio, first.qsm_rim, first.confidence) == ("ring", "present", "medium")
    log = pd.read_csv(out / "adjudication_log.csv").set_index(["case", "item"])
    assert len(log) == 16
    assert log.loc[("sub-01", 1), "rationale"] == rationale1
    assert log.loc[("sub-01", 5), "rationale"] == rationale5
    assert log.loc[("sub-02", 1), "rationale"] == rationale_last
    assert log.loc[("sub-02", 1), "decision"] == "no lesion"
    assert log.loc[("sub-01", 5), "status"] == "adjudicated"
    assert log.loc[("sub-01", 2), "status"] == "agreed"
    assert log["rationale"].notna().sum() == 3


# ---------------------------------------------------------------- 2. autosave and resume
def test_decisions_and_mask_edits_survive_a_crash(make_napari_viewer, qtbot, flair_study):
    viewer, widget = _open(make_napari_viewer, qtbot, flair_study)
    assert [layer.name for layer in viewer.layers] == [
        "flair",
        "wm_mask",
        "Reader C",
        "Reader B",
        "Reader A",
        "consensus",
    ]
    session = widget.session
    code1 = session.current.code
    consensus = viewer.layers["consensus"]
    # the adjudicator paints more of item 1 (one committed brush stroke at its edge)
    edge = np.argwhere(consensus.data == 1).max(axis=0)
    consensus.brush_size = 3
    before = int((consensus.data == 1).sum())
    with consensus.block_history():
        consensus.paint((edge[0], edge[1] + 1, edge[2] + 1), 1)
    assert int((consensus.data == 1).sum()) > before
    _set_final(widget, "uspio", "ring")
    _set_final(widget, "qsm_rim", "present")
    _set_final(widget, "confidence", "low")
    _type_rationale(qtbot, widget, "grown to the full rim")
    _click(qtbot, widget, "Resolve item and open the next")
    assert session.current.code == code1 and session.item.item == 5
    # item 5: No lesion, not resolved yet; then the process dies (nothing closed)
    _click(qtbot, widget, "No lesion")
    assert not (consensus.data == 5).any()
    edited = np.array(consensus.data, copy=True)

    # a new viewer, a new widget, signed in again
    viewer2, widget2 = _open(make_napari_viewer, qtbot, flair_study)
    assert [row[3] for row in _queue(widget2)] == ["adjudicated", "pending", "pending"]
    assert widget2.state.text() == "Adjudicator adj: 2 of 3 disputed items pending."
    # the first pending item opens: item 5, with the mask edits of both items
    assert widget2.session.current.code == code1 and widget2.session.item.item == 5
    np.testing.assert_array_equal(viewer2.layers["consensus"].data, edited)
    assert widget2.rationale.toPlainText() == ""
    # reopen the decided item 1 from the queue: ratings and rationale are back
    widget2.queue.selectRow(0)
    _click(qtbot, widget2, "Open item")
    assert widget2.session.item.item == 1
    assert _final(widget2, "uspio").currentData() == "ring"
    assert _final(widget2, "qsm_rim").currentData() == "present"
    assert _final(widget2, "confidence").currentData() == "low"
    assert widget2.rationale.toPlainText() == "grown to the full rim"
    [decision] = widget2.session.store.adjudications(ADJ, code1)
    assert (decision.item, decision.decision) == (1, "lesion")
    # back to item 5 with a double click on its queue row: still no lesion, still pending
    _double_click(qtbot, widget2.queue, 1)
    assert widget2.session.item.item == 5 and widget2.rationale.toPlainText() == ""
    assert not (viewer2.layers["consensus"].data == 5).any()
    assert _queue(widget2)[1][3] == "pending"


# ---------------------------------------------------------------- 4. bad input
def test_sign_in_refuses_a_reader_and_a_wrong_folder(make_napari_viewer, qtbot, flair_study):
    study_dir = flair_study
    viewer, widget = _open(make_napari_viewer, qtbot, study_dir, who="r1", show=False)
    assert widget.session is None
    text = widget.state.text()
    assert text.startswith("Not done: 'r1' is a reader of this study")
    assert "adjudicator id" in text
    assert len(viewer.layers) == 0 and widget.queue.rowCount() == 0
    assert not widget.resolve_button.isEnabled()

    wrong = study_dir.parent / "no_such_study"
    widget.study.clear()
    qtbot.keyClicks(widget.study, str(wrong))
    widget.adjudicator.clear()
    qtbot.keyClicks(widget.adjudicator, ADJ)
    _sign_in(qtbot, widget)
    assert widget.session is None
    assert widget.state.text().startswith("Not done:")
    assert f"{wrong} is not a study folder" in widget.state.text()

    # the cases folder is a folder, but not a study: named too
    cases = _cases_dir(study_dir)
    widget.study.clear()
    qtbot.keyClicks(widget.study, str(cases))
    _sign_in(qtbot, widget)
    assert widget.session is None and f"{cases} is not a study folder" in widget.state.text()

    # an id that is neither: refused; then the right one works in the same widget
    widget.study.clear()
    qtbot.keyClicks(widget.study, str(study_dir))
    widget.adjudicator.clear()
    qtbot.keyClicks(widget.adjudicator, "nobody")
    _sign_in(qtbot, widget)
    assert widget.session is None and "no reader 'nobody'" in widget.state.text()
    widget.adjudicator.clear()
    qtbot.keyClicks(widget.adjudicator, ADJ)
    _sign_in(qtbot, widget)
    assert widget.session is not None and widget.queue.rowCount() == 3
    assert "consensus" in viewer.layers

    # a wrong PIN is refused, says how to get a new one, and the session stays as it was
    signed_in = widget.session
    _sign_in(qtbot, widget, pin="0000")
    assert "wrong PIN for reader" in widget.state.text() and "reset-pin" in widget.state.text()
    assert widget.session is signed_in and widget.pin.text() == ""


# ---------------------------------------------------------------- 5. found bugs
def _reopen_reading(study_dir, reader: str, case_id: str) -> None:
    """A reader reopens a done reading (their own session, another process)."""
    with load_study(study_dir).open_store() as store:
        store.reopen(reader, _reader_code(store, reader, case_id), "recheck a lesion")


def test_signing_in_twice_keeps_one_set_of_layers(make_napari_viewer, qtbot, flair_study):
    viewer, widget = _open(make_napari_viewer, qtbot, flair_study, show=False)
    names = [layer.name for layer in viewer.layers]
    first = widget.session
    _sign_in(qtbot, widget)  # clicked again: "did it work?"
    assert widget.session is not first and widget.session.item.item == 1
    # the old session is signed out: its layers gone, its autosave disconnected
    assert [layer.name for layer in viewer.layers] == names
    assert first.binding is None and first.autosave is None


def test_the_next_case_is_prefetched_and_shown_in_the_same_layers(
    make_napari_viewer, qtbot, flair_study
):
    viewer, widget = _open(make_napari_viewer, qtbot, flair_study, show=False)
    desk = widget.session.desk
    second = _queue(widget)[2][0]
    assert second != widget.session.current.code
    # the queue's next case is read ahead while the first is adjudicated
    assert desk.prefetcher.folder == desk.study.case_folder(desk.entry_of(second).case_id)
    desk.prefetcher.wait()
    before = list(viewer.layers)
    removed = []
    viewer.layers.events.removed.connect(lambda e: removed.append(e.value.name))
    _double_click(qtbot, widget.queue, 2)
    assert widget.session.current.code == second
    # the same layer objects, their data the second case's: no layer removed or added
    assert list(viewer.layers) == before and removed == []
    # the first case still has pending items: it is the one read ahead now
    assert desk.prefetcher.folder == desk.study.case_folder(CASE_IDS[0])
    for layer in widget.session.reader_layers:
        assert layer.metadata["study_code"] == second
        reader = next(
            r for r, x in widget.session.current.letters.items() if x == layer.metadata["letter"]
        )
        labels = desk.readings.readings[reader].labels
        np.testing.assert_array_equal(layer.data, labels > 0)
    consensus = viewer.layers["consensus"]
    assert consensus is widget.session.binding.layer
    assert consensus.metadata["study_code"] == second


def test_an_item_whose_case_is_no_longer_ready_says_so(make_napari_viewer, qtbot, flair_study):
    viewer, widget = _open(make_napari_viewer, qtbot, flair_study, show=False)
    assert [row[0] for row in _queue(widget)][2] != widget.session.current.code
    _reopen_reading(flair_study, "r1", "sub-02")  # meanwhile r1 reopens the second case
    widget.queue.selectRow(2)
    _click(qtbot, widget, "Open item")
    # refused before anything closes: the open item stays open
    assert widget.session.item.item == 1 and "item 1" in widget.item_label.text()
    assert "no longer ready" in widget.state.text()
    # and the queue is recomputed: only the ready case's items are offered
    assert [row[0] for row in _queue(widget)] == [widget.session.desk.cases[0].code] * 2


def test_editing_a_decided_item_keeps_export_and_log_consistent(
    make_napari_viewer, qtbot, flair_study, tmp_path
):
    viewer, widget = _open(make_napari_viewer, qtbot, flair_study, show=False)
    _set_final(widget, "uspio", "ring")
    _set_final(widget, "qsm_rim", "present")
    _set_final(widget, "confidence", "high")
    _type_rationale(qtbot, widget, "ring-like on R2* post USPIO")
    _click(qtbot, widget, "Resolve item and open the next")
    assert widget.session.item.item == 5
    widget.queue.selectRow(0)
    _click(qtbot, widget, "Open item")  # second thoughts about the decided item 1
    assert widget.session.item.item == 1 and _queue(widget)[0][3] == "adjudicated"
    _set_final(widget, "uspio", "focal")  # accepted and autosaved, no new decision asked
    out = tmp_path / "partial_export"
    qtbot.keyClicks(widget.out_dir, str(out))
    qtbot.mouseClick(widget.partial, Qt.MouseButton.LeftButton)
    assert widget.partial.isChecked()
    _click(qtbot, widget, "Export consensus")
    assert widget.state.text() == f"Consensus exported to {out}"
    lesion = pd.read_csv(out / "lesions.csv").set_index(["case", "lesion"]).loc[("sub-01", 1)]
    log = pd.read_csv(out / "adjudication_log.csv").set_index(["case", "item"])
    assert lesion.consensus == "pending" and lesion.uspio == "focal"
    assert log.loc[("sub-01", 1), "status"] == "pending"
    assert pd.isna(log.loc[("sub-01", 1), "final_rating"])
    assert _queue(widget)[0][3] == "pending"
    with load_study(flair_study).open_store() as store:
        assert "withdraw decision" in [a.action for a in store.audit_log(ADJ)]


# ---------------------------------------------------------------- 6. the desk shows the item
def _pixels(shot: np.ndarray, colour: str, tol: int = 40) -> int:
    rgb = np.array(QColor(colour).getRgb()[:3])
    return int((np.abs(shot[..., :3].astype(int) - rgb).max(axis=-1) <= tol).sum())


def test_an_item_opens_zoomed_highlighted_with_legend_evidence_and_tooltips(
    make_napari_viewer, qtbot, study_dir
):
    from napari_uspio._napari.adjudication_session import READER_COLORS
    from napari_uspio._napari.desk import LESION_COLOUR, SELECTED_COLOUR
    from napari_uspio.core import fields as spec

    viewer, widget = _open(make_napari_viewer, qtbot, study_dir)
    viewer.window._qt_window.resize(1600, 1000)
    session = widget.session
    assert session.item.item == 1 and session.item.disputed_fields == ("uspio", "qsm_rim")
    consensus = viewer.layers["consensus"]
    scale = np.asarray(consensus.scale)

    # zoomed and centred on the item, on its slice; the item stands out in its colour
    box = session.desk.reading.model.lesion_bbox(1)
    centre = consensus.data_to_world([(s.start + s.stop - 1) / 2 for s in box])
    assert viewer.dims.point[0] == pytest.approx(centre[0], abs=scale[0])
    np.testing.assert_allclose(viewer.scene.camera.center[-2:], centre[1:], atol=1.0)
    zoomed = viewer.scene.camera.zoom
    assert consensus.selected_label == 1
    assert not np.allclose(consensus.get_color(1), consensus.get_color(2))

    # every disputed field's evidence image is visible (USPIO: post-USPIO T1; rim: QSM)
    assert session.evidence_roles() == ("t1_post_uspio", "qsm")
    shown = {
        x.name for x in viewer.layers if x.visible and x.metadata.get("role") != "reader mask"
    }
    assert {"t1_post_uspio", "qsm"} <= shown and "flair" not in shown
    assert widget.evidence_label.text() == "Evidence shown: t1_post_uspio, qsm"
    assert desk_for(viewer).compare.panels == ["t1_post_uspio", "qsm"]  # side by side
    desk_for(viewer).press("Y")  # the single view: the readers' outlines under the consensus
    assert viewer.scene.camera.zoom == pytest.approx(2 * zoomed)  # a 2-tile panel's view

    # a colour per reader, none the consensus colours; thicker under thinner
    readers = [viewer.layers[f"Reader {x}"] for x in "ABC"]
    colours = [layer.colormap.color_dict[1] for layer in readers]
    assert len({tuple(np.round(c, 3)) for c in colours}) == 3
    for c in colours:
        for other in (LESION_COLOUR, SELECTED_COLOUR):
            assert not np.allclose(c, QColor(other).getRgbF())
    assert [layer.contour for layer in readers] == [2, 3, 4] and consensus.contour == 1
    order = [layer.name for layer in viewer.layers]
    assert order.index("Reader C") < order.index("Reader B") < order.index("Reader A")
    assert order.index("Reader A") == order.index("consensus") - 1
    # where the outlines coincide (every reader painted lesion 1 alike, 3 x 3 voxels) the
    # item's outline and A's (thicker, under it) both show; each lower one shows once the
    # one above is hidden
    qtbot.wait(100)
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert _pixels(shot, SELECTED_COLOUR) > 10 and _pixels(shot, READER_COLORS[0]) > 10
    for k, layer in enumerate(readers[:2]):
        layer.visible = False
        shot = viewer.screenshot(canvas_only=True, flash=False)
        assert _pixels(shot, READER_COLORS[k + 1]) > 10, layer.name
    for layer in readers:
        layer.visible = True

    # the legend names each reader in its colour, and its toggle hides the outlines
    assert sorted(widget.reader_toggles) == ["A", "B", "C"]
    legend = [widget.legend.itemAt(k).widget().text() for k in range(widget.legend.count())]
    assert any(READER_COLORS[1] in text for text in legend)
    assert "Consensus" in legend and "Open item (consensus)" in legend
    others = [layer for layer in viewer.layers if layer.name in ("Reader A", "Reader C")]
    for layer in others:  # B's outline alone, so nothing covers it
        layer.visible = False
    shown = _pixels(viewer.screenshot(canvas_only=True, flash=False), READER_COLORS[1])
    widget.reader_toggles["B"].click()
    assert not viewer.layers["Reader B"].visible
    shot = viewer.screenshot(canvas_only=True, flash=False)
    assert shown > 10 and _pixels(shot, READER_COLORS[1]) < shown // 10
    widget.reader_toggles["B"].click()
    assert viewer.layers["Reader B"].visible
    for layer in others:
        layer.visible = True

    # every number and field has its definition from the spec as tooltip
    for col, name in enumerate(("code", "item", "readers_detected", "consensus")):
        assert widget.queue.horizontalHeaderItem(col).toolTip() == spec.column(name).tooltip
    assert widget.queue.item(0, 1).toolTip() == spec.column("item").tooltip
    for row, field in enumerate(widget.fields):
        tip = widget.compare.verticalHeaderItem(row).toolTip()
        assert spec.RATINGS[field].description in tip
    measures = [widget.measures.itemAt(k).widget() for k in range(widget.measures.count())]
    tips = {m.toolTip() for m in measures}
    assert spec.COLUMNS["gd_enh_pct"].tooltip in tips
    assert spec.COLUMNS["volume_mm3"].tooltip in tips
    assert any(spec.OUTLINE_NOTE in t for t in tips)  # enhancement depends on the outline

    # the next item (detection, same case) zooms again from wherever the reader left it
    viewer.scene.camera.zoom = zoomed / 4
    _double_click(qtbot, widget.queue, 1)
    assert session.item.item == 5
    assert session.evidence_roles() == ("flair",)
    assert viewer.layers["flair"].visible and not viewer.layers["qsm"].visible
    assert viewer.scene.camera.zoom > zoomed / 2
    qtbot.wait(50)
    viewer.window._qt_window.grab().save("/tmp/adjudication_desk.png")
