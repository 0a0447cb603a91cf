"""Study analysis (seed 000): tables, tests equal to scipy / scikit-posthocs, files, CLI."""

from __future__ import annotations

import hashlib
import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import scikit_posthocs
from helpers import write_nifti
from scipy import stats

from napari_uspio.cli import main
from napari_uspio.core.analysis import ANALYSIS_FILES, run_analysis
from napari_uspio.core.analysis.collect import gm_mtr
from napari_uspio.core.analysis.hypothesis import fisher_tests, group_tests
from napari_uspio.core.case import load_case
from napari_uspio.core.study.records import StudyError
from napari_uspio.phantom import TRUTH_CSV, TRUTH_DIR
from napari_uspio.testing.simulate import SimulatedReader

SHAPE, N_LESIONS = (64, 64, 12), 8
#: Cases read as UEL (the truth), GEL (every USPIO rated none), NEL (every lesion none).
PLAN = {"sub-01": "UEL", "sub-02": "UEL", "sub-03": "GEL", "sub-04": "GEL",
        "sub-05": "NEL", "sub-06": "NEL"}  # fmt: skip
TESTED = ("USPIO+/Gd+", "USPIO-/Gd+", "USPIO-/Gd-")


def read_csv(path):
    return pd.read_csv(path, keep_default_na=False, na_values=[""])


def _planned(truth: dict[str, pd.DataFrame]):
    """The readers' changes that make PLAN's groups, and the lesions' expected classes."""
    changes, classes = {}, []
    for case_id, group in PLAN.items():
        for row in truth[case_id].itertuples(index=False):
            gd, uspio = row.gd, row.uspio
            if group != "UEL":
                uspio = "none"
                gd = "none" if group == "NEL" else gd
                changes[case_id, row.lesion] = {"gd": gd, "uspio": uspio, "overlap": "n/a"}
            u = "-" if uspio == "none" else "+"
            classes.append(f"USPIO{u}/Gd{'-' if gd == 'none' else '+'}")
    return changes, pd.Series(classes).value_counts().to_dict()


@pytest.fixture(scope="module")
def planned(phantom_cases, simulated_study, tmp_path_factory):
    """Two readers who agree on the planned ratings; the consensus analysed by the CLI."""
    cases = phantom_cases(len(PLAN), SHAPE, N_LESIONS)
    truth = {c: pd.read_csv(cases / c / TRUTH_DIR / TRUTH_CSV) for c in PLAN}
    changes, expected = _planned(truth)
    readers = [SimulatedReader("r1", changes=changes), SimulatedReader("r2", changes=changes)]
    study = simulated_study(
        "analysis-planned", readers, n_cases=len(PLAN), shape_xyz=SHAPE, n_lesions=N_LESIONS
    )
    out = tmp_path_factory.mktemp("analysis") / "out"
    code = main(["study", "analysis", str(study.folder), "-o", str(out)])
    tables = {k: read_csv(out / n) for k, n in ANALYSIS_FILES.items() if n.endswith(".csv")}
    return SimpleNamespace(study=study, out=out, code=code, expected=expected, **tables)


def test_cli_writes_every_file_and_class_counts_equal_the_truth(planned, capsys):
    assert planned.code == 0
    assert sorted(p.name for p in planned.out.iterdir()) == sorted(ANALYSIS_FILES.values())
    counts = planned.classes.set_index("lesion_class")["n_lesions"]
    assert {c: counts[c] for c in planned.expected} == planned.expected
    assert set(planned.expected) == {"USPIO+/Gd+", "USPIO-/Gd+", "USPIO-/Gd-", "USPIO+/Gd-"}
    assert counts["all"] == len(PLAN) * N_LESIONS == len(planned.lesions)
    groups = planned.groups.set_index("group")["n_cases"].to_dict()
    assert groups == {"UEL": 2, "GEL": 2, "NEL": 2, "all": 6}
    assert set(planned.lesions["reader"]) == {"consensus"}


def test_kruskal_and_steel_dwass_equal_scipy_and_scikit_posthocs(planned):
    lesions, patients = planned.lesions, planned.patients
    parts = (
        ("lesion class", lesions, "lesion_class", TESTED, ("mtr_mean", "qsm_rel_ppb")),
        ("patient group", patients, "group", ("UEL", "GEL", "NEL"), ("lesion_load_cm3",)),
    )
    for family, table, by, order, measures in parts:
        for measure in measures:
            rows = table[table[by].isin(order)].dropna(subset=[measure])
            samples = [rows.loc[rows[by] == g, measure].to_numpy() for g in order]
            expected = stats.kruskal(*samples)
            got = planned.tests.set_index(["family", "measure"]).loc[(family, measure)]
            assert got["test"] == "Kruskal-Wallis" and got["statistic_name"] == "H"
            assert got["n"] == sum(s.size for s in samples) and got["df"] == len(order) - 1
            assert got["statistic"] == pytest.approx(expected.statistic, rel=1e-12)
            assert got["p_value"] == pytest.approx(expected.pvalue, rel=1e-12)
            dscf = scikit_posthocs.posthoc_dscf(rows, val_col=measure, group_col=by)
            pairs = planned.pairwise[planned.pairwise["measure"] == measure]
            assert len(pairs) == 3
            for pair in pairs.itertuples(index=False):
                assert pair.test == "Dwass-Steel-Critchlow-Fligner"
                assert pair.p_value == pytest.approx(dscf.loc[pair.group_a, pair.group_b])
    # the USPIO+/Gd- lesions are left out of the class tests (as in seed 000)
    n_mtr = planned.tests.set_index("measure").loc["mtr_mean", "n"]
    assert n_mtr == lesions["lesion_class"].isin(TESTED).sum() < len(lesions)


def test_fisher_exact_equals_scipy_on_the_lesion_table(planned):
    lesions = planned.lesions
    uspio_pos = lesions[lesions["uspio"] != "none"]
    ring = uspio_pos["uspio"] == "ring"
    gd_pos = uspio_pos["gd"] != "none"
    table = [[(ring & gd_pos).sum(), (ring & ~gd_pos).sum()],
             [(~ring & gd_pos).sum(), (~ring & ~gd_pos).sum()]]  # fmt: skip
    expected = stats.fisher_exact(table)
    got = planned.tests.set_index("measure").loc["ring-like by Gd+"]
    assert got["test"] == "Fisher's exact" and got["statistic_name"] == "odds ratio"
    assert json.loads(got["counts"]) == [[int(v) for v in r] for r in table]
    assert got["n"] == len(uspio_pos)
    assert got["p_value"] == pytest.approx(expected.pvalue)
    assert got["statistic"] == pytest.approx(expected.statistic)
    black_hole = planned.tests.set_index("measure").loc["black hole by USPIO+"]
    assert math.isnan(black_hole["p_value"]) and "empty" in black_hole["reason"]


def test_measures_are_mean_and_sample_sd(planned):
    lesions = planned.lesions[planned.lesions["lesion_class"].notna()]
    expected = lesions.groupby("lesion_class")["mtr_mean"].agg(["count", "mean", "std"])
    got = planned.measures[planned.measures["measure"] == "mtr_mean"].set_index("group")
    for cls, row in expected.iterrows():
        assert got.loc[cls, "n"] == row["count"]
        assert got.loc[cls, ["mean", "sd"]].tolist() == pytest.approx([row["mean"], row["std"]])
    load = planned.patients.groupby("group")["lesion_load_cm3"].mean()
    got = planned.measures[planned.measures["measure"] == "lesion_load_cm3"].set_index("group")
    assert got.loc[list(load.index), "mean"].tolist() == pytest.approx(load.tolist())
    assert (planned.patients["gm_mtr"].isna()).all()  # the phantoms have no gm_mask
    gm = planned.tests.set_index("measure").loc["gm_mtr"]
    assert math.isnan(gm["p_value"]) and gm["reason"] == "not run: no gm_mtr value in any group"


def test_page_is_self_contained_and_provenance_hashes_every_file(planned):
    page = (planned.out / "analysis.html").read_text("utf-8")
    assert "http" not in page and page.count("data:image/png") == 2
    assert "USPIO+/Gd+" in page and "Steel-Dwass" in page
    provenance = json.loads((planned.out / "provenance.json").read_text("utf-8"))
    assert provenance["source"] == "consensus" and provenance["settings"]["adjudicator"] == "adj"
    assert set(provenance["files"]) == set(ANALYSIS_FILES.values()) - {"provenance.json"}
    for name, digest in provenance["files"].items():
        assert hashlib.sha256((planned.out / name).read_bytes()).hexdigest() == digest
    assert provenance["software"]["scikit_posthocs"] == scikit_posthocs.__version__


def test_one_readers_readings_and_refusals(simulated_study, tmp_path, capsys):
    study = simulated_study("analysis-demo", n_cases=2, shape_xyz=SHAPE)  # r2 calls lesion 1 focal
    assert main(["study", "analysis", str(study.folder), "-o", str(tmp_path / "c")]) == 2
    err = capsys.readouterr().err
    assert "not adjudicated yet" in err and "--source READER" in err
    assert not (tmp_path / "c").exists()
    r1 = run_analysis(study.folder, tmp_path / "r1", "r1").classes.set_index("lesion_class")
    r2 = run_analysis(study.folder, tmp_path / "r2", "r2").classes.set_index("lesion_class")
    assert r2.loc["all", "n_uspio_focal"] == r1.loc["all", "n_uspio_focal"] + 2
    assert r2.loc["all", "n_uspio_ring"] == r1.loc["all", "n_uspio_ring"] - 2
    with pytest.raises(StudyError, match="'adj' is an adjudicator"):
        run_analysis(study.folder, tmp_path / "x", "adj")
    with pytest.raises(StudyError, match="no reader 'zz'"):
        run_analysis(study.folder, tmp_path / "x", "zz")


def test_a_failed_write_leaves_the_previous_analysis(planned, tmp_path, monkeypatch):
    out = tmp_path / "again"
    run_analysis(planned.study.folder, out)
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr("napari_uspio.core.analysis.write.box_points_png", broken)
    with pytest.raises(RuntimeError, match="disk full"):
        run_analysis(planned.study.folder, out)
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_small_groups_are_left_out_or_the_test_skipped_with_its_reason():
    lesions = pd.DataFrame(
        {
            "patient": ["p"] * 6,
            "lesion_class": ["USPIO+/Gd+", "USPIO+/Gd+", "USPIO-/Gd+", "USPIO-/Gd+",
                             "USPIO-/Gd-", "USPIO+/Gd-"],
            "mtr_mean": [0.30, 0.32, 0.40, 0.41, 0.45, 0.2],
            "qsm_rel_ppb": [5.0] * 6,
            "volume_mm3": [np.nan] * 6,
            "gd": ["nodular", "shell", "nodular", "shell", "none", "none"],
            "uspio": ["ring", "iso", "none", "none", "none", "focal"],
        }
    )  # fmt: skip
    patients = pd.DataFrame(
        {"patient": ["a", "b", "c"], "group": ["UEL", "UEL", "GEL"],
         "lesion_load_cm3": [1.0, 2.0, 3.0], "nawm_mtr": [0.4] * 3, "gm_mtr": [np.nan] * 3}
    )  # fmt: skip
    tests, pairs = group_tests(lesions, patients)
    tests = tests.set_index("measure")
    mtr = tests.loc["mtr_mean"]  # USPIO-/Gd- has 1 lesion: left out, 2 classes compared
    assert mtr["groups"] == "USPIO+/Gd+ | USPIO-/Gd+" and mtr["n"] == 4 and mtr["df"] == 1
    assert mtr["p_value"] == pytest.approx(stats.kruskal([0.30, 0.32], [0.40, 0.41]).pvalue)
    assert mtr["reason"] == "USPIO-/Gd- left out: fewer than 2 values (USPIO-/Gd- 1)"
    assert "every value is equal" in tests.loc["qsm_rel_ppb", "reason"]
    assert tests.loc["volume_mm3", "reason"] == "not run: no volume_mm3 value in any group"
    load = tests.loc["lesion_load_cm3"]
    assert math.isnan(load["p_value"]) and "fewer than 2 groups" in load["reason"]
    assert "UEL 2, GEL 1, NEL 0" in load["reason"]
    mtr_pairs = pairs[pairs["measure"] == "mtr_mean"].set_index(["group_a", "group_b"])
    assert mtr_pairs.loc[("USPIO+/Gd+", "USPIO-/Gd-"), "reason"].startswith("left out")
    assert not math.isnan(mtr_pairs.loc[("USPIO+/Gd+", "USPIO-/Gd+"), "p_value"])
    fisher = fisher_tests(lesions.assign(qsm_rim="absent", black_hole=None)).set_index("measure")
    assert fisher.loc["QSM rim+ by USPIO+", "reason"].startswith("not run: a row or column")
    assert fisher.loc["ring-like by Gd+", "counts"] == "[[1, 0], [1, 1]]"


def test_gm_mtr_is_the_grey_matter_outside_lesions(tmp_path):
    mtr = np.full((4, 4, 2), 0.4, np.float32)
    mtr[0, 0, 0], mtr[1, 0, 0], mtr[2, 0, 0] = 0.1, np.nan, 0.3
    gm = np.zeros((4, 4, 2), np.uint8)
    gm[:3, 0, 0] = 1
    gm[3, 0, 0] = 1
    write_nifti(tmp_path / "mtr.nii.gz", mtr)
    write_nifti(tmp_path / "gm_mask.nii.gz", gm)
    case = load_case(tmp_path)
    labels = np.zeros(case.grid.shape, np.int32)
    assert gm_mtr(case, labels) == pytest.approx((0.1 + 0.3 + 0.4) / 3)
    labels[0, 0, 0] = 1  # (z, y, x): file voxel (0, 0, 0) is a lesion now
    assert gm_mtr(case, labels) == pytest.approx((0.3 + 0.4) / 2)
    (tmp_path / "gm_mask.nii.gz").unlink()
    assert math.isnan(gm_mtr(load_case(tmp_path), labels))
