"""An undefined statistic is NaN with its reason, never 0.00: stats, tables, CSV, page, summary.

The study: two readers who call every lesion's QSM rim absent (one category: the rim
kappa is undefined), r2 missing the last lesion of every case (every case has the same
lesion count per reader: no between-case variance, the ICC formula would give 0.00).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from napari_uspio.core.agreement.report import summary_rows, write_report
from napari_uspio.core.agreement.report.format import format_ci, format_percent
from napari_uspio.core.agreement.report.page import report_html
from napari_uspio.core.agreement.stats import (
    detection_reason,
    icc,
    icc_reason,
    kappa_reason,
)
from napari_uspio.core.agreement.study_stats import compute_agreement

CASES = ("sub-01", "sub-02", "sub-03")
N_LESIONS = 8
CSV_READ = {"keep_default_na": False, "na_values": [""]}
NO_VARIANCE = "no between-case variance: every case has the same mean count"


def test_icc_without_between_case_variance_is_nan_not_zero():
    offset = np.array([[8, 8, 7]] * 3, dtype=float)  # the formula: exactly 0.0
    assert math.isnan(icc(offset)) and icc_reason(offset) == NO_VARIANCE
    rounding = np.array([[8, 7], [7, 8]], dtype=float)  # same case means: rounding noise
    assert math.isnan(icc(rounding)) and icc_reason(rounding) == NO_VARIANCE
    assert icc_reason(np.full((4, 3), 2.0)) == NO_VARIANCE
    assert icc_reason([[1, 2]]) == "fewer than 2 cases read by every reader (1)"
    assert icc_reason([[1], [2]]) == "fewer than 2 readers"
    varied = np.array([[8, 8, 8], [8, 8, 8], [8, 8, 7]], dtype=float)
    assert icc_reason(varied) is None and icc(varied) == pytest.approx(0.0, abs=1e-12)
    assert format_ci(icc(varied), -0.1, 0.5) == "0.00 [-0.10, 0.50]"  # a true 0 stays 0.00


def test_kappa_and_detection_reasons():
    assert kappa_reason([["none"] * 4, ["none"] * 4]).startswith("every rating is none")
    assert kappa_reason([["a", "b"], ["a", "a"]]) is None  # one reader constant: kappa 0
    assert kappa_reason([[None, "a"], ["a", None]]) == "no lesions rated by every reader compared"
    assert kappa_reason([["x"] * 3] * 3, "cases", repr).startswith("every rating is 'x'")
    assert detection_reason(0, 0, 0, "r1", "r2") == "no case read by both r1 and r2"
    assert detection_reason(2, 0, 0, "r1", "r2") == "neither reading has a lesion"
    assert detection_reason(2, 0, 3, "r1", "r2") == "sensitivity: r1 marked no lesion"
    assert detection_reason(2, 3, 3, "r1", "r2") is None


def test_undefined_text():
    nan = float("nan")
    assert format_ci(nan, nan, nan) == "n/a"
    assert format_ci(nan, 0.1, 0.2, reason="why") == "n/a (why)"  # bounds never shown alone
    assert format_percent(pd.NA, "no case") == "n/a (no case)"


@pytest.fixture(scope="module")
def flat(simulated_study):
    from napari_uspio.testing.simulate import SimulatedReader

    absent = {(c, k): {"qsm_rim": "absent"} for c in CASES for k in range(1, N_LESIONS + 1)}
    readers = [
        SimulatedReader("r1", changes=absent),
        SimulatedReader("r2", changes=absent, misses=frozenset((c, N_LESIONS) for c in CASES)),
    ]
    study = simulated_study("undefined-flat", readers)
    return compute_agreement(study, n_boot=50, seed=1)


def test_tables_carry_nan_and_the_reason(flat):
    [count] = flat.patient[flat.patient["measure"] == "lesion_count"].itertuples(index=False)
    assert math.isnan(count.estimate) and count.reason == NO_VARIANCE
    rim = flat.kappa[flat.kappa["field"] == "qsm_rim"].iloc[0]
    assert math.isnan(rim["kappa"]) and rim["percent_agreement"] == 1.0
    assert rim["reason"].startswith("every rating is 'absent'")
    defined = flat.kappa[flat.kappa["kappa"].notna()]
    assert len(defined) and defined["reason"].isna().all()
    assert flat.detection["reason"].isna().all()


def test_report_writes_na_with_the_reason(flat, tmp_path):
    page = report_html(flat, {}, "flat")
    assert f"n/a ({NO_VARIANCE})" in page
    assert "n/a (every rating is 'absent'" in page
    assert "0.00 [0.00, 0.00]" not in page and "NaN" not in page
    paths = write_report(flat, tmp_path / "report")
    patient = pd.read_csv(paths["patient"], **CSV_READ)
    row = patient[patient["measure"] == "lesion_count"].iloc[0]
    assert pd.isna(row["estimate"]) and row["reason"] == NO_VARIANCE  # empty cell + why
    kappa = pd.read_csv(paths["kappa"], **CSV_READ)
    assert pd.isna(kappa.loc[kappa["field"] == "qsm_rim", "kappa"]).all()
    assert kappa.loc[kappa["field"] == "qsm_rim", "reason"].str.startswith("every rating").all()


def test_summary_rows_say_na_with_the_reason(flat):
    rows = {(r.measure, r.readers): r for r in summary_rows(flat)}
    icc_row = rows["Lesion count ICC", "r1 vs r2"]
    assert icc_row.estimate == f"n/a ({NO_VARIANCE})"
    assert NO_VARIANCE in icc_row.tip
    rim = rows["QSM rim κ", "r1 vs r2"]
    assert rim.estimate.startswith("n/a (every rating is 'absent'") and rim.agree == "100 %"
    assert not any("0.00 [0.00, 0.00]" in r.estimate for r in rows.values())
