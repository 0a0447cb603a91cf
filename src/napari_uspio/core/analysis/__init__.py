"""The statistical analysis of seed 000 on a study's consensus, or on one reader's readings.

:func:`run_analysis` reads every case once (:mod:`.collect`), tables lesions per
class and patients per group (:mod:`.tables`), runs the tests of seed 000
(:mod:`.hypothesis`: Kruskal-Wallis, Steel-Dwass post hoc, Fisher's exact) and
writes (:mod:`.write`, all or none) into one folder::

    lesions.csv        every lesion analysed: patient, case, reader, lesion, measures,
                       ratings, lesion_class (the values the tests are run on)
    patients.csv       one row per case: patient, the patient summary, gm_mtr
    classes.csv        per lesion class (and all): lesions, patients, pattern counts
    groups.csv         per patient group (and all): cases, patients, lesions per class
    measures.csv       long: per class / group and measure, n, mean, SD, median
    tests.csv          Kruskal-Wallis and Fisher's exact: name, n, statistic, p or reason
    pairwise.csv       Steel-Dwass (DSCF) p-value of every pair of classes / groups
    mtr_by_class.png   MTR per lesion by class, points over boxes (seed 000, Figure 2)
    load_by_group.png  lesion load per case by patient group
    analysis.html      one self-contained page: the tables and both figures
    provenance.json    study, source, software, methods, SHA-256 of every file above

The CSV files follow :mod:`napari_uspio.core.csvfiles` (an undefined value is an
empty cell; a test not run has an empty p-value and its ``reason``).
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from ..case import Progress
from ..provenance import now_iso, sha256_file
from ..study.manifest import load_study
from .collect import CONSENSUS, collect_readings
from .result import StudyAnalysis, analyse
from .write import ANALYSIS_FILES, write_analysis

__all__ = ["ANALYSIS_FILES", "CONSENSUS", "StudyAnalysis", "analyse", "run_analysis"]


def run_analysis(
    study_dir: str | Path,
    out_dir: str | Path,
    source: str = CONSENSUS,
    *,
    adjudicator: str | None = None,
    progress: Progress | None = None,
) -> StudyAnalysis:
    """Analyse ``source`` (``"consensus"`` or a reader id) of a study; write it into ``out_dir``.

    ``adjudicator`` names the consensus's adjudicator (default: the study's
    only one). ``progress(k, n, message)`` is called before each case and
    each file. Returns the analysis with the files written in ``paths`` (by
    key of :data:`ANALYSIS_FILES`). Raises
    :class:`~napari_uspio.core.study.records.StudyError` for a source that
    cannot be analysed (an unknown reader, pending adjudication, no case).
    """
    study = load_study(study_dir)
    collected = collect_readings(study, source, adjudicator, progress)
    settings = {
        "study": str(study.folder),
        "manifest_sha256": sha256_file(study.manifest_path),
        "seed": study.seed,
        "shell_width_mm": study.shell_width_mm,
        "source": collected.source,
        "adjudicator": collected.adjudicator,
        "left_out": collected.left_out,
        "written_at": now_iso(),
    }
    analysis = analyse(collected, settings)
    title = f"Study analysis: {study.folder.name} ({collected.source})"
    paths = write_analysis(analysis, out_dir, title=title, progress=progress)
    return replace(analysis, paths=paths)
