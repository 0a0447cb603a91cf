"""A reading session switches cases by swapping maps into the same layers."""

from __future__ import annotations

import numpy as np

from napari_uspio._napari.bindings import binding_for
from napari_uspio._napari.desk import desk_for
from napari_uspio._napari.reading_session import ReadingSession
from napari_uspio.core.study.manifest import init_study
from napari_uspio.core.study.session import LABEL_DTYPE, StudySession


def test_ten_case_switches_after_painting_reuse_every_layer(
    make_napari_viewer, phantom_cases, tmp_path
):
    from napari_uspio._widgets.lesions_widget import LesionsWidget

    study = init_study(tmp_path / "study", phantom_cases(4, (64, 64, 12), 2), ["r1"], seed=4)
    viewer = make_napari_viewer(show=True)
    table = LesionsWidget(viewer)
    viewer.window.add_dock_widget(table, name="Lesions")
    session = ReadingSession(StudySession(study.folder, "r1"))
    session.open_next(viewer)
    layers = list(viewer.layers)
    removed = []
    viewer.layers.events.removed.connect(lambda event: removed.append(event.value.name))
    desk_for(viewer).press("Y")  # the compare layout stays across the switches
    mirrors = list(desk_for(viewer).compare.mirrors)
    painted: dict[str, np.ndarray] = {}
    codes = [e.code for e in session.core.store.order("r1")]
    visits = codes + [codes[k % 4] for k in range(7)]  # 3 by Mark case done, 7 by reopening
    for k, code in enumerate(visits):
        if 0 < k < 4:
            session.mark_done(viewer)  # the next case of the order
        elif k >= 4:  # done again, then another done case reopened (audited)
            session.core.mark_done()
            session.reopen(viewer, code, "second look")
        assert session.entry.code == code
        layer = viewer.layers["lesions"]
        shown = {id(lay) for lay in viewer.layers if lay not in mirrors}
        assert shown == {id(lay) for lay in layers} and not removed  # the same layer objects
        assert layer.metadata["study_code"] == code and binding_for(layer) is session.binding
        assert desk_for(viewer).compare.active and desk_for(viewer).compare.mirrors == mirrors
        assert all(np.shares_memory(m.data, layer.data) for m in mirrors)
        if code in painted:  # what the autosave kept is what is shown
            np.testing.assert_array_equal(layer.data, painted[code])
        before = np.array(layer.data, copy=True)
        layer.undo()  # napari's history is this case's: nothing of the last case comes back
        np.testing.assert_array_equal(layer.data, before)
        lesion = k + 1
        layer.brush_size = 2
        layer.paint((6, 10 + 4 * k, 30), lesion)
        painted[code] = np.array(layer.data, copy=True)
        table.refresh()
        assert table.table.rowCount() == len(np.unique(layer.data)) - 1  # the live table
        stored = session.store.labels("r1", code, layer.data.shape, LABEL_DTYPE)
        np.testing.assert_array_equal(stored, painted[code])
    session.close_case(viewer)
    assert len(viewer.layers) == 0
