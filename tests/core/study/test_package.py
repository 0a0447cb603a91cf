"""Blinded case packages: a reader's cases under codes only, checksummed, read as a study."""

from __future__ import annotations

import hashlib

import nibabel as nib
import numpy as np
import pytest

from napari_uspio.cli import main
from napari_uspio.core.case import find_case_files
from napari_uspio.core.study import StudyError, init_study, load_study
from napari_uspio.core.study.package import BLANKED, SUMS_NAME, write_package
from napari_uspio.core.study.session import StudySession
from napari_uspio.core.study.spool import SPOOL_ENV


@pytest.fixture
def server_study(phantom_cases, pg_url, tmp_path):
    """A server study whose case files carry identifying header text, with a repeat."""
    cases = tmp_path / "cases"
    for source in sorted(phantom_cases(2, (64, 64, 12), 5).iterdir()):
        target = cases / f"{source.name}_ses-01"
        target.mkdir(parents=True)
        for path in source.glob("*.nii.gz"):
            img = nib.load(path)
            img.header["descrip"] = f"{source.name} Hospital A".encode()
            img.header["db_name"] = b"PATIENT-0042"
            img.header["aux_file"] = source.name.encode()
            nib.save(img, target / path.name)
    return init_study(tmp_path / "study", cases, ["r1"], seed=4, repeat_fraction=0.5,
                      store=pg_url)  # fmt: skip


def test_a_package_holds_codes_only_exact_images_and_checksums(server_study, tmp_path, capsys):
    out = tmp_path / "pack"
    assert main(["study", "pack", str(server_study.folder), "--reader", "r1", "-o", str(out)]) == 0
    assert "3 readings under codes" in capsys.readouterr().out
    with server_study.open_store() as store:
        order = store.order("r1")
    assert sorted(p.name for p in (out / "cases").iterdir()) == sorted(e.code for e in order)
    leaks = [*server_study.cases, "sub-", "ses-", "phantom", "Hospital", "PATIENT-0042",
             str(server_study.folder), str(tmp_path / "cases")]  # fmt: skip
    for path in out.rglob("*"):
        if path.is_dir():
            continue
        raw = path.read_bytes()
        text = nib.load(path).header.binaryblock if path.name.endswith(".nii.gz") else raw
        for leak in leaks:
            assert leak.encode() not in text and leak not in path.name, (leak, path)
    for entry in order:  # data, type and placement exactly those of the study's files
        source = find_case_files(server_study.case_folder(entry.case_id))
        packed = find_case_files(out / "cases" / entry.code)
        assert set(packed) == set(source)
        for role, src in source.items():
            a, b = nib.load(src), nib.load(packed[role])
            assert b.get_data_dtype() == a.get_data_dtype()
            np.testing.assert_array_equal(np.asarray(b.dataobj), np.asarray(a.dataobj))
            np.testing.assert_array_equal(b.affine, a.affine)
            assert b.header.get_qform(coded=True)[1] == a.header.get_qform(coded=True)[1]
            assert all(not bytes(b.header[f]).strip(b"\0") for f in BLANKED)
    sums = dict(line.split("  ")[::-1] for line in (out / SUMS_NAME).read_text().splitlines())
    assert len(sums) == sum(1 for p in out.rglob("*") if p.is_file()) - 1
    for name, digest in sums.items():
        assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest


def test_a_reading_session_opens_from_the_package(server_study, tmp_path, monkeypatch):
    monkeypatch.setenv(SPOOL_ENV, str(tmp_path / "spool"))
    out = write_package(server_study.folder, "r1", tmp_path / "pack")
    package = load_study(out)
    assert package.package and package.store == server_study.store
    assert not set(package.cases) & set(server_study.cases)  # keyed by code only
    session = StudySession(out, "r1", prefetch=False)
    reading = session.open(session.next_entry())
    assert reading.case.grid.shape == (12, 64, 64)
    reading.model.apply_indices((np.array([3]), np.array([20]), np.array([20])), 1)
    session.close()
    with server_study.open_store() as store:
        labels = store.labels("r1", reading.entry.code, (12, 64, 64), np.int32)
    assert labels[3, 20, 20] == 1
    with pytest.raises(StudyError, match="not empty"):
        write_package(server_study.folder, "r1", out)


def test_packing_a_sqlite_study_or_for_an_unknown_reader_is_refused(phantom_cases, tmp_path):
    study = init_study(tmp_path / "s", phantom_cases(2, (64, 64, 12), 5), ["r1"], seed=1)
    with pytest.raises(StudyError, match="a package is for a study on a server"):
        write_package(study.folder, "r1", tmp_path / "p")
    with pytest.raises(StudyError, match="no reader 'r9'"):
        write_package(study.folder, "r9", tmp_path / "p")
