"""The agreement report: CSV round trips, one self-contained HTML page, the CLI, the widget."""

from __future__ import annotations

import base64
import dataclasses
import json
import pickle
import re
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from napari_uspio.cli import main
from napari_uspio.core import fields as spec
from napari_uspio.core.agreement.readings import compared_fields
from napari_uspio.core.agreement.report import (
    REPORT_FILES,
    format_ci,
    format_percent,
    report_html,
    report_tables,
    write_report,
)
from napari_uspio.core.agreement.study_stats import compute_agreement
from napari_uspio.core.provenance import sha256_file
from napari_uspio.testing.simulate import simulate_study

N_BOOT, SEED = 200, 3
PAIRS = ("r1 vs r2", "r1 vs r3", "r2 vs r3")
CSV_READ = {"keep_default_na": False, "na_values": [""]}

COMPARED_FIELDS = compared_fields()


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("agreement_report")
    return simulate_study(
        root / "study",
        root / "cases",
        n_cases=3,
        shape_xyz=(64, 64, 12),
        n_lesions=8,
        repeat_fraction=0.34,
    )


@pytest.fixture(scope="module")
def agreement(study):
    return compute_agreement(study, n_boot=N_BOOT, seed=SEED)


@pytest.fixture(scope="module")
def report(agreement, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    calls = []
    paths = write_report(agreement, out, progress=lambda k, n, m: calls.append((k, n, m)))
    return out, paths, calls


def _text(values) -> list:
    """Text cells as compared: missing -> None, ``not applicable`` -> ``n/a``."""
    out = []
    for v in values:
        if v is None or v is pd.NA or (isinstance(v, float) and np.isnan(v)):
            out.append(None)
        else:
            out.append("n/a" if v == "not applicable" else str(v))
    return out


def _assert_same_table(expected: pd.DataFrame, read: pd.DataFrame, name: str):
    assert list(read.columns) == list(expected.columns), name
    assert len(read) == len(expected), name
    for col in expected.columns:
        want = expected[col]
        if pd.api.types.is_bool_dtype(want):
            assert read[col].tolist() == want.tolist(), (name, col)
        elif pd.api.types.is_numeric_dtype(want):
            got = read[col].to_numpy(dtype=float)
            np.testing.assert_array_equal(
                got, want.astype("Float64").to_numpy(dtype=float, na_value=np.nan), err_msg=col
            )
        else:
            assert _text(read[col].tolist()) == _text(want.tolist()), (name, col)


def test_number_formats():
    assert format_ci(0.7249, 0.5512, 0.88) == "0.72 [0.55, 0.88]"
    assert format_ci(float("nan"), float("nan"), float("nan")) == "n/a"
    assert format_ci(0.5, float("nan"), float("nan")) == "0.50"  # no interval: estimate only
    assert format_ci(-1.3e-15, -1.3e-15, 0.0) == "0.00 [0.00, 0.00]"  # never "-0.00"
    assert format_ci(-0.25, -0.5, 0.1) == "-0.25 [-0.50, 0.10]"
    assert format_percent(0.8696) == "87 %" and format_percent(pd.NA) == "n/a"


# ------------------------------------------------------------------ files
def test_report_writes_every_file_with_progress(report, agreement):
    out, paths, calls = report
    assert set(paths) == set(REPORT_FILES)
    for key, path in paths.items():
        assert path == out / REPORT_FILES[key] and path.is_file() and path.stat().st_size > 0
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no temporary left
    assert [k for k, _, _ in calls] == list(range(1, len(calls) + 1))
    assert {n for _, n, _ in calls} == {len(calls)}
    assert any("report.html" in m for *_, m in calls)
    assert agreement.readers == ["r1", "r2", "r3"]


def test_csv_tables_round_trip(report, agreement):
    _, paths, _ = report
    for key, table in report_tables(agreement).items():
        assert len(table), f"{key} is empty: the round trip would prove little"
        read = pd.read_csv(paths[key], **CSV_READ)
        _assert_same_table(table, read, key)


def test_confusion_csv_rebuilds_every_matrix(report, agreement):
    _, paths, _ = report
    text = paths["confusion"].read_text(encoding="utf-8")
    assert "not applicable" in text and ",n/a," not in text  # overlap's n/a survives read_csv
    long = pd.read_csv(paths["confusion"], **CSV_READ)
    long[["value_a", "value_b"]] = long[["value_a", "value_b"]].replace("not applicable", "n/a")
    assert set(long["field"]) == {*COMPARED_FIELDS, "patient_group"}
    for (name, a, b), matrix in agreement.confusion.items():
        part = long[(long["field"] == name) & (long["reader_a"] == a) & (long["reader_b"] == b)]
        rebuilt = part.pivot(index="value_a", columns="value_b", values="count")
        rebuilt = rebuilt.loc[list(matrix.index), list(matrix.columns)]
        np.testing.assert_array_equal(rebuilt.to_numpy(), matrix.to_numpy())


def test_provenance_hashes_every_file(report, agreement):
    _, paths, _ = report
    prov = json.loads(paths["provenance"].read_text(encoding="utf-8"))
    files = {k: p for k, p in paths.items() if k != "provenance"}
    assert prov["files"] == {p.name: sha256_file(p) for p in files.values()}
    assert {"napari_uspio", "matplotlib", "pandas", "python"} <= set(prov["software"])
    assert prov["settings"]["n_boot"] == N_BOOT and prov["settings"]["seed"] == SEED


# ------------------------------------------------------------------ HTML
def _images(page: str) -> dict[str, list[bytes]]:
    found: dict[str, list[bytes]] = {}
    for kind, data in re.findall(
        r'<img class="(\w+)" alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page
    ):
        found.setdefault(kind, []).append(base64.b64decode(data, validate=True))
    return found


def test_html_is_self_contained_with_plots(report, agreement):
    _, paths, _ = report
    page = paths["report"].read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    assert "<link" not in page and "<script" not in page and "url(" not in page
    sources = re.findall(r'src="([^"]*)"', page)
    assert sources and all(s.startswith("data:image/png;base64,") for s in sources)
    images = _images(page)
    assert len(images["forest"]) == 1
    assert len(images["confusion"]) == len(COMPARED_FIELDS) + 1  # per field, patient group
    assert sum(len(v) for v in images.values()) == len(sources)
    for png in (png for pngs in images.values() for png in pngs):
        assert png[:8] == b"\x89PNG\r\n\x1a\n"
        width, height = np.frombuffer(png[16:24], dtype=">u4")
        assert width >= 400 and height >= 200


def test_html_lists_fields_pairs_values_and_the_nan_note(report, agreement):
    _, paths, _ = report
    page = paths["report"].read_text(encoding="utf-8")
    for name in COMPARED_FIELDS:
        assert f"{spec.derived_or_rating(name).title} ({name})" in page
    for pair in PAIRS:
        assert pair in page
    for row in agreement.kappa.itertuples(index=False):
        assert format_ci(row.kappa, row.low, row.high) in page
    assert "written n/a with its reason, never as a number" in page
    assert "kappa when every rating falls in one category (see percent agreement" in page
    for row in agreement.kappa[agreement.kappa["kappa"].isna()].itertuples(index=False):
        assert f"n/a ({row.reason}" in page.replace("&#39;", "'")
    for case in agreement.patients["case"].unique():
        assert case in page


def test_html_says_what_was_left_out(tmp_path):
    from napari_uspio.testing.simulate import SimulatedReader

    readers = [SimulatedReader("r1"), SimulatedReader("r2"), SimulatedReader("r3", done=False)]
    study = simulate_study(
        tmp_path / "study",
        tmp_path / "cases",
        n_cases=2,
        readers=readers,
        shape_xyz=(64, 64, 12),
        n_lesions=4,
    )
    partial = compute_agreement(study, n_boot=10)
    assert partial.readers == ["r1", "r2"]
    page = report_html(partial, {}, "partial")
    assert "<td>first readings left out (not done)</td>\n      <td>r3: 2</td>" in page
    assert "<td>readers left out (no done reading)</td>\n      <td>r3</td>" in page
    assert f"<td>bootstrap seed</td>\n      <td>{study.seed}</td>" in page  # the study's


def test_html_escapes_table_text(agreement):
    detection = agreement.detection.copy()
    detection.loc[0, "readers"] = "r1 <b>bold</b> & r2"
    odd = dataclasses.replace(
        agreement, detection=detection, settings={**agreement.settings, "note": "<i>x</i>"}
    )
    page = report_html(odd, {}, "Agreement <of> 'study'")
    assert "<h1>Agreement &lt;of&gt; &#x27;study&#x27;</h1>" in page
    assert "r1 &lt;b&gt;bold&lt;/b&gt; &amp; r2" in page and "<b>bold</b>" not in page
    assert "&lt;i&gt;x&lt;/i&gt;" in page and "<i>x</i>" not in page


def test_report_leaves_pyplot_and_the_backend_alone(agreement, tmp_path):
    blob = tmp_path / "agreement.pickle"
    blob.write_bytes(pickle.dumps(agreement))
    code = (
        "import pickle, sys, matplotlib\n"
        "before = matplotlib.rcParams._get('backend')\n"
        "from napari_uspio.core.agreement.report import write_report\n"
        f"write_report(pickle.loads(open({str(blob)!r}, 'rb').read()), {str(tmp_path / 'o')!r})\n"
        "after = matplotlib.rcParams._get('backend')\n"
        "print('matplotlib.pyplot' in sys.modules, before == after)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "True"]


# ------------------------------------------------------------------ CLI
def test_cli_agreement_end_to_end(study, agreement, tmp_path, capsys):
    out = tmp_path / "cli_report"
    code = main(
        [
            "study",
            "agreement",
            str(study.folder),
            "-o",
            str(out),
            "--n-boot",
            str(N_BOOT),
            "--seed",
            str(SEED),
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    for k in (1, 2, 3):
        assert f"case {k} of 3" in captured.err
    assert "report.html" in captured.err  # a line per report step
    assert str(out / "report.html") in captured.out
    for row in agreement.kappa[agreement.kappa["readers"] == "all"].itertuples(index=False):
        assert f"{row.field}: fleiss kappa {format_ci(row.kappa, row.low, row.high)}" in (
            captured.out
        )
    for name in REPORT_FILES.values():
        assert (out / name).is_file()
    kappa = pd.read_csv(out / "kappa.csv", **CSV_READ)
    _assert_same_table(agreement.kappa, kappa, "kappa")  # same seed, same numbers


def test_cli_agreement_limits_the_readers(study, tmp_path, capsys):
    out = tmp_path / "two"
    code = main(
        [
            "study",
            "agreement",
            str(study.folder),
            "-o",
            str(out),
            "--readers",
            "r1,r2",
            "--n-boot",
            "20",
        ]
    )
    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert pd.read_csv(out / "detection.csv")["readers"].tolist() == ["r1 vs r2"]
    assert "gd: cohen kappa" in captured.out  # two readers: the pair is the overall kappa
    assert "r3" not in pd.read_csv(out / "kappa.csv")["readers"].str.cat(sep=" ")


def test_cli_agreement_bad_input_exits_2(study, tmp_path, capsys):
    missing = tmp_path / "no_such_study"
    assert main(["study", "agreement", str(missing), "-o", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert str(missing) in err and "study.toml" in err
    assert not (tmp_path / "o").exists()
    not_a_study = tmp_path / "empty"
    not_a_study.mkdir()
    assert main(["study", "agreement", str(not_a_study), "-o", str(tmp_path / "o")]) == 2
    assert str(not_a_study) in capsys.readouterr().err
    code = main(
        ["study", "agreement", str(study.folder), "-o", str(tmp_path / "o"), "--readers", "r1,zz"]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "zz" in err and "r1, r2, r3" in err
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------ widget
def _table_rows(widget) -> list[tuple[str, ...]]:
    table = widget.table
    return [
        tuple(table.item(i, j).text() for j in range(table.columnCount()))
        for i in range(table.rowCount())
    ]


def test_widget_computes_shows_and_writes_the_report(
    make_napari_viewer, qtbot, study, agreement, tmp_path
):
    from napari.utils.notifications import notification_manager
    from qtpy.QtCore import Qt

    from napari_uspio._widgets.agreement_widget import AgreementWidget

    viewer = make_napari_viewer()
    _, widget = viewer.window.add_plugin_dock_widget("napari-uspio", "Agreement")  # manifest
    assert isinstance(widget, AgreementWidget)
    assert not widget.report_button.isEnabled()
    widget.study.setText(str(study.folder))
    widget.n_boot.setValue(N_BOOT)
    widget.seed.setValue(SEED)
    qtbot.mouseClick(widget.compute_button, Qt.MouseButton.LeftButton)
    assert not widget.compute_button.isEnabled()  # a worker computes; the viewer stays live
    qtbot.waitUntil(widget.compute_button.isEnabled, timeout=60_000)

    assert widget.progress.value() == widget.progress.maximum() > 1
    rows = {(r[0], r[1]): r for r in _table_rows(widget)}
    assert len(rows) == widget.table.rowCount()  # (measure, readers) names a row
    for row in agreement.kappa.itertuples(index=False):
        shown = rows[f"{spec.derived_or_rating(row.field).short} κ", row.readers]
        why = {"reason": row.reason, "ci_reason": row.ci_reason}
        assert shown[2] == format_ci(row.kappa, row.low, row.high, **why)
        assert shown[3] == f"{100 * row.percent_agreement:.0f} %"
        assert shown[4] == str(row.n)
    for row in agreement.detection.itertuples(index=False):
        assert rows["Detection F1", row.readers][2] == format_ci(row.f1, row.f1_low, row.f1_high)
    icc = agreement.patient[agreement.patient["measure"] == "lesion_count"].iloc[0]
    assert rows["Lesion count ICC", icc["readers"]][2] == format_ci(
        icc["estimate"], icc["low"], icc["high"]
    )
    intra = agreement.intra.set_index(["reader", "field"])
    gd = intra.loc[("r1", "gd")]
    assert rows["Intra Gd κ", "r1"][2] == format_ci(
        gd["kappa"], gd["low"], gd["high"], ci_reason=gd["ci_reason"]
    )
    assert rows["Intra Gd κ", "r1"][2].endswith(
        "(no interval: one patient only: a cluster bootstrap needs at least 2 patients)"
    )
    assert "readers r1, r2, r3" in widget.status.text()

    out = tmp_path / "widget_report"
    widget.report_dir.setText(str(out))
    qtbot.mouseClick(widget.report_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: "Report written" in widget.status.text(), timeout=60_000)
    assert (out / "report.html").is_file() and (out / "kappa.csv").is_file()
    assert str(out / "report.html") in widget.status.text()

    first_note = len(notification_manager.records)
    missing = tmp_path / "not_here"
    widget.study.setText(str(missing))
    qtbot.mouseClick(widget.compute_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: widget.status.text().startswith("Not done:"), timeout=10_000)
    assert widget.status.text().startswith("Not done:") and str(missing) in widget.status.text()
    assert any(str(missing) in str(n.message) for n in notification_manager.records[first_note:])
    assert widget.compute_button.isEnabled()
    assert len(_table_rows(widget)) == len(rows)  # the last summary stays shown
