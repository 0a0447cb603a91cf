"""Seed 000's study, run as designed: ``python benchmarks/bench_seed000.py [--quick]``.

The coordinator's steps on the phantom cohort after seed 000 (31 patients, 727
lesions; ``--quick``: 8 patients), each timed: the cohort written; a ``reference``
study created with readers r1, r2, r3 and adjudicator adj; the three readers rate
the reference lesions through the store (r2 calls every ring-like lesion focal, r3
reads every QSM rim absent and leaves one lesion unrated: ``cohort_readers``);
the agreement computed; every disputed item adjudicated as the truth says; and the
study analysis of the consensus. Then the analysis beside seed 000: lesions per
class, patients per group, MTR per class against the planted means, the tests.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from napari_uspio.core.agreement.study_stats import compute_agreement
from napari_uspio.core.analysis import run_analysis
from napari_uspio.core.study.manifest import init_study
from napari_uspio.phantom.cohort import SEED000, make_cohort
from napari_uspio.phantom.lesions import MTR_BY_CLASS
from napari_uspio.testing import adjudicate_by_truth, cohort_readers, read_study

READERS = ("r1", "r2", "r3")


def _timed(what: str, times: dict, fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    times[what] = time.perf_counter() - start
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="8 patients instead of 31")
    args = parser.parse_args()
    n_patients = 8 if args.quick else 31
    times: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        cohort = _timed("cohort written", times, make_cohort, root / "cohort", n_patients, 0)
        study = _timed(
            "study created",
            times,
            init_study,
            root / "study",
            cohort.folder,
            list(READERS),
            adjudicators=["adj"],
            seed=0,
            lesion_source="reference",
        )
        readers = cohort_readers(cohort.lesions)
        _timed("3 readers rate every case", times, read_study, study, readers)
        agreement = _timed("agreement", times, compute_agreement, study.folder, n_boot=500)
        decided = _timed("adjudication", times, adjudicate_by_truth, study)
        result = _timed("study analysis", times, run_analysis, study.folder, root / "analysis")
    print(
        f"{n_patients} patients, {len(cohort.lesions)} lesions, 3 readers, lesion source reference"
    )
    for what, seconds in times.items():
        print(f"  {what:28s} {seconds:6.1f} s")
    detection = agreement.detection.iloc[0]
    print(f"detection: {detection['reason']}")
    kappa = agreement.kappa[agreement.kappa["readers"] == "all"].set_index("field")["kappa"]
    print("Fleiss kappa: " + ", ".join(f"{f} {k:.2f}" for f, k in kappa.items()))
    print(f"items adjudicated: {decided}")
    classes = result.classes.set_index("lesion_class")
    groups = result.groups.set_index("group")
    mtr = result.measures[result.measures["measure"] == "mtr_mean"].set_index("group")
    print("lesion class   n (seed 000)   MTR mean +- SD (planted)")
    for cls, n in SEED000["classes"].items():
        planted = MTR_BY_CLASS.get(cls, (np.nan, np.nan))[0]
        expected = n if n_patients == 31 else "-"
        mean, sd = mtr.loc[cls, ["mean", "sd"]]
        n_found = classes.loc[cls, "n_lesions"]
        print(f"  {cls:12s} {n_found:4d} ({expected})   {mean:.3f} +- {sd:.3f} ({planted:.2f})")
    for group, n in SEED000["groups"].items():
        expected = n if n_patients == 31 else "-"
        print(f"  {group}: {groups.loc[group, 'n_cases']} patients ({expected})")
    for row in result.pairwise[result.pairwise["measure"] == "mtr_mean"].itertuples(index=False):
        print(f"  Steel-Dwass MTR {row.group_a} vs {row.group_b}: p = {row.p_value:.3g}")
    for row in result.tests.itertuples(index=False):
        print(f"  {row.test:16s} {row.family:14s} {row.measure:22s} n={row.n:<4d} "
              f"{row.statistic_name}={row.statistic:.3g} p={row.p_value:.3g}")  # fmt: skip


if __name__ == "__main__":
    main()
