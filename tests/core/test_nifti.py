"""The fast loader: ISA-L decoding identical to nibabel, CRC checked, files read in parallel."""

from __future__ import annotations

import gzip
import threading

import nibabel as nib
import numpy as np
import pytest

from napari_uspio import CaseError, load_case
from napari_uspio.core import nifti
from napari_uspio.core.roles import ROLES
from napari_uspio.core.volume import Volume

SHAPE = (12, 10, 6)
AFFINES = {
    "ras": np.diag([1.0, 1.0, 3.0, 1.0]),
    "las": np.diag([-1.0, 1.0, 3.0, 1.0]),
    "permuted": np.array([[0, 0, 3.0, 0], [1.0, 0, 0, 0], [0, -1.0, 0, 0], [0, 0, 0, 1]]),
}


def _nibabel_zyx(path):
    """What nibabel alone gives: RAS+ float32 data as (z, y, x)."""
    img = nib.as_closest_canonical(nib.load(path))
    return np.transpose(img.get_fdata(dtype=np.float32), (2, 1, 0))


def _write(path, data, affine, slope=None, big_endian=False):
    img = nib.Nifti1Image(data, affine)
    if slope is not None:
        img.header.set_slope_inter(*slope)
    if big_endian:
        img = nib.Nifti1Image(data.astype(data.dtype.newbyteorder(">")), affine, img.header)
    nib.save(img, path)
    return path


@pytest.mark.parametrize("orientation", sorted(AFFINES))
@pytest.mark.parametrize(
    "dtype, slope, big_endian",
    [
        (np.int16, None, False),
        (np.int16, (0.5, 10.0), False),
        (np.float32, None, False),
        (np.float32, None, True),
        (np.uint8, (2.0, -3.0), False),
        (np.float64, None, False),
    ],
)
def test_gzip_is_byte_identical_to_nibabel(tmp_path, orientation, dtype, slope, big_endian):
    data = (np.random.default_rng(1).uniform(0, 200, SHAPE)).astype(dtype)
    gz = _write(tmp_path / "qsm.nii.gz", data, AFFINES[orientation], slope, big_endian)
    plain = _write(tmp_path / "plain.nii", data, AFFINES[orientation], slope, big_endian)
    expected = _nibabel_zyx(gz)
    for path in (gz, plain):
        got = Volume.from_file(path, "qsm").data
        assert got.dtype == np.float32 and got.dtype.isnative
        assert got.tobytes() == np.ascontiguousarray(expected).tobytes()


@pytest.mark.parametrize("dtype, slope", [(np.int16, (0.5, 10.0)), (np.float32, None)])
def test_gzip_decoded_whole_is_what_nibabel_reads(tmp_path, dtype, slope):
    data = np.random.default_rng(3).uniform(0, 200, SHAPE).astype(dtype)
    path = _write(tmp_path / "qsm.nii.gz", data, AFFINES["las"], slope)
    for dtype_out in (None, np.float32):  # as a label map and as an image
        img = nifti.open_nifti(path)
        got = nifti.read_data(img, dtype_out)
        expected = np.asanyarray(nib.load(path).dataobj, dtype=dtype_out)
        assert got.dtype == expected.dtype and got.tobytes() == expected.tobytes()
        if slope is None and dtype_out in (None, dtype):  # nothing to scale: no copy made
            assert not got.flags.owndata  # a view of the decoded buffer, not a copy


def _gz(tmp_path, name="flair.nii.gz"):
    data = np.random.default_rng(2).uniform(100, 1000, SHAPE).astype(np.float32)
    return _write(tmp_path / name, data, AFFINES["ras"])


def test_a_gzip_of_several_members_reads_as_nibabel_reads_it(tmp_path):
    """bgzip and concatenated gzip files: the trailer holds the last member's size only."""
    path = _gz(tmp_path)
    raw = gzip.decompress(path.read_bytes())
    cut = len(raw) // 3
    path.write_bytes(b"".join(gzip.compress(part) for part in (raw[:cut], raw[cut:])))
    got = Volume.from_file(path, "flair").data
    assert got.tobytes() == np.ascontiguousarray(_nibabel_zyx(path)).tobytes()


def test_a_wrong_crc_is_refused(tmp_path):
    path = _gz(tmp_path)
    raw = bytearray(path.read_bytes())
    raw[-8] ^= 0xFF  # the CRC32 of the trailer; the compressed data is intact
    path.write_bytes(bytes(raw))
    with pytest.raises(CaseError, match="flair.nii.gz.*(truncated or corrupt|cannot be read)"):
        load_case(tmp_path)


@pytest.mark.parametrize("cut", [4, 8, 200])
def test_a_truncated_gzip_is_refused(tmp_path, cut):
    path = _gz(tmp_path)
    path.write_bytes(path.read_bytes()[:-cut])
    with pytest.raises(CaseError, match="Fix: copy or re-export"):
        load_case(tmp_path)


def test_a_corrupt_deflate_stream_is_refused(tmp_path):
    path = _gz(tmp_path)
    raw = bytearray(path.read_bytes())
    middle = len(raw) // 2
    raw[middle : middle + 16] = bytes(b ^ 0x5A for b in raw[middle : middle + 16])
    path.write_bytes(bytes(raw))
    with pytest.raises(CaseError, match=str(path)):
        load_case(tmp_path)


def test_float32_nii_is_memory_mapped_read_only_and_labels_are_writable(tmp_path):
    data = np.random.default_rng(3).uniform(0, 1, SHAPE).astype(np.float32)
    image = Volume.from_file(_write(tmp_path / "qsm.nii", data, AFFINES["las"]), "qsm").data
    base = image
    while not isinstance(base, np.memmap) and base.base is not None:
        base = base.base
    assert isinstance(base, np.memmap) and not image.flags.writeable
    assert np.array_equal(image, _nibabel_zyx(tmp_path / "qsm.nii"))
    ids = np.zeros(SHAPE, np.uint8)
    ids[2:4, 2:4, 1:3] = 1
    labels = Volume.from_file(_write(tmp_path / "l.nii", ids, AFFINES["ras"]), "lesions").data
    assert labels.flags.writeable and labels.flags.c_contiguous
    labels[0, 0, 0] = 2  # painted into: never the file
    assert nib.load(tmp_path / "l.nii").get_fdata()[0, 0, 0] == 0


ROLE_FILES = {
    "t1_pre_gd": "acq-preGd_T1w",
    "t1_post_gd": "acq-postGd_T1w",
    "qsm": "Chimap",
    "flair": "FLAIR",
    "t2": "T2w",
    "m0": "mt-off_MTS",
}


def _folder(tmp_path):
    for k, suffix in enumerate(ROLE_FILES.values()):
        data = np.random.default_rng(k).uniform(100, 1000, SHAPE).astype(np.float32)
        _write(tmp_path / f"sub-01_{suffix}.nii.gz", data, AFFINES["ras"])
    return tmp_path


def test_files_are_read_in_parallel_first_shown_first_with_progress(tmp_path):
    calls, seen = [], []
    case = load_case(_folder(tmp_path), lambda k, n, m: calls.append((k, n, m)), seen.append)
    n = len(ROLE_FILES)
    assert [(k, total) for k, total, _ in calls] == [(k, n) for k in range(1, n + 1)]
    assert all(m.startswith("read ") and f"of {n})" in m for *_, m in calls)
    assert seen[0].role == "flair"  # submitted first: the image the viewer shows first
    assert sorted(v.role for v in seen) == sorted(ROLE_FILES)
    assert list(case.volumes) == [r for r in ROLES if r in ROLE_FILES]  # whatever finished first
    for vol in seen:
        assert case.volumes[vol.role] is vol
    assert not [t for t in threading.enumerate() if t.name.startswith("napari-uspio-read")]


def test_one_bad_file_among_many_is_named_and_no_thread_is_left(tmp_path):
    folder = _folder(tmp_path)
    bad = folder / "sub-01_Chimap.nii.gz"
    bad.write_bytes(bad.read_bytes()[:-100])
    with pytest.raises(CaseError, match=str(bad)):
        load_case(folder)
    assert not [t for t in threading.enumerate() if t.name.startswith("napari-uspio-read")]
