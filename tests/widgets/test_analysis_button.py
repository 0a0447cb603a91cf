"""The Analysis button of the Agreement widget: the study analysis on a worker, and its page."""

from __future__ import annotations

from napari_uspio.testing.simulate import SimulatedReader


def test_analysis_button_writes_the_page_and_reports_a_refusal(
    make_napari_viewer, qtbot, simulated_study, tmp_path
):
    from qtpy.QtCore import Qt

    from napari_uspio._widgets.agreement_widget import AgreementWidget

    study = simulated_study(
        "analysis-widget", [SimulatedReader("r1"), SimulatedReader("r2")], n_cases=2,
        shape_xyz=(64, 64, 12),
    )  # fmt: skip
    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Agreement")
    assert isinstance(widget, AgreementWidget)
    widget.study.setText(str(study.folder))
    widget.analysis_dir.setText(str(tmp_path / "analysis"))
    assert widget.source.text() == "consensus"
    qtbot.mouseClick(widget.analysis_button, Qt.MouseButton.LeftButton)
    assert not widget.analysis_button.isEnabled()  # on a worker
    qtbot.waitUntil(lambda: "written" in widget.status.text(), timeout=60_000)
    page = tmp_path / "analysis" / "analysis.html"
    assert page.is_file() and str(page) in widget.status.text()
    assert "consensus (2 cases, 16 lesions)" in widget.status.text()
    assert widget.analysis_button.isEnabled()

    widget.source.setText("adj")
    qtbot.mouseClick(widget.analysis_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.status.text().startswith("Not done:"), timeout=30_000)
    assert "'adj' is an adjudicator" in widget.status.text()
    assert widget.analysis_button.isEnabled()
