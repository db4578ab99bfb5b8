"""NIfTI loading: real qform-only / LPS-stored files, round trips, and broken files."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from tests.imaging.conftest import entry_params
from workbench.domain import SequenceClass, SourceKind
from workbench.imaging import CorruptImageError, ImagingError
from workbench.imaging.nifti import load_nifti


def _nifti_references() -> list[Any]:
    """``(entry, reference)`` params; one skipping placeholder where the data is absent."""
    params: list[Any] = []
    for param in entry_params(lambda e: e["dicom_dir"] is None):
        entry = param.values[0]
        if entry is None:  # two values, as the test takes two: it skips when set up
            return [pytest.param(None, None, id=param.id)]
        params.extend(
            pytest.param(entry, ref, id=f"{entry['id']}-{Path(ref['nifti']).name[:24]}")
            for ref in entry["references"]
        )
    return params


@pytest.mark.shared_data
@pytest.mark.parametrize(("entry", "reference"), _nifti_references())
def test_open_ms_nifti_matches_nibabel(
    entry: dict[str, Any] | None, reference: dict[str, Any], shared_data: Path
) -> None:
    assert entry is not None
    path = shared_data / reference["nifti"]
    volume = load_nifti(path)
    image: Any = nib.load(path)
    np.testing.assert_allclose(volume.ras_affine(), image.affine, atol=1e-6)
    np.testing.assert_allclose(volume.affine[:2], -image.affine[:2], atol=1e-6)
    assert volume.shape == tuple(reference["shape"])
    assert np.array_equal(volume.array, np.asanyarray(image.dataobj))
    np.testing.assert_allclose(volume.spacing, reference["zooms"][:3], atol=1e-3)
    assert volume.identity.kind is SourceKind.NIFTI
    assert volume.meta["affine_source"] == ("sform" if reference["sform_code"] else "qform")
    if "nonzero_voxels" in reference:
        assert int(np.count_nonzero(volume.array)) == reference["nonzero_voxels"]
    expected = {"FLAIR": SequenceClass.FLAIR, "T1w": SequenceClass.T1, "T2w": SequenceClass.T2}
    assert volume.sequence_class is expected.get(reference.get("contrast", ""), SequenceClass.OTHER)
    assert volume.sequence_evidence["source"] == "file name"


@pytest.mark.shared_data
def test_qform_only_nan_slope_file_keeps_float_values(shared_data: Path) -> None:
    path = (
        shared_data / "open_ms_data/cross_sectional/MNI/patient26/"
        "FLAIR_N4_noneck_reduced_winsor_regtoFLAIR_brain_N4_regtoMNI.nii.gz"
    )
    image: Any = nib.load(path)
    assert image.header["sform_code"] == 0
    assert np.isnan(image.header["scl_slope"])
    volume = load_nifti(path)
    assert volume.array.dtype == np.float32
    assert float(volume.array.min()) == pytest.approx(-12.731, abs=1e-3)


@pytest.mark.shared_data
def test_round_trip_through_to_nibabel(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "open_ms_data/longitudinal/raw/patient01/study1_FLAIR.nii.gz"
    volume = load_nifti(path)
    image = volume.to_nibabel()
    assert int(image.header["sform_code"]) == 1
    assert int(image.header["qform_code"]) == 1
    np.testing.assert_allclose(image.affine, volume.ras_affine(), atol=1e-6)
    out = tmp_path / "copy.nii.gz"
    nib.save(image, out)
    again = load_nifti(out)
    assert np.array_equal(again.array, volume.array)
    np.testing.assert_allclose(again.affine, volume.affine, atol=1e-4)
    assert again.identity.content_sha256 != volume.identity.content_sha256


def _write(tmp_path: Path, data: np.ndarray, name: str = "image.nii") -> Path:
    path = tmp_path / name
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 3.0, 1.0])), path)
    return path


def test_sidecar_gives_the_sequence_class(tmp_path: Path) -> None:
    path = _write(tmp_path, np.zeros((4, 4, 4), np.int16), "sub-01_run-1.nii")
    (tmp_path / "sub-01_run-1.json").write_text(
        '{"SeriesDescription": "AX T2 FLAIR", "SeriesInstanceUID": "1.2.3"}'
    )
    volume = load_nifti(path)
    assert volume.sequence_class is SequenceClass.FLAIR
    assert volume.sequence_evidence["source"] == "JSON sidecar"
    assert volume.identity.series_instance_uid == "1.2.3"


def test_no_codes_falls_back_with_a_note(tmp_path: Path) -> None:
    image = nib.Nifti1Image(np.zeros((3, 3, 3), np.uint8), np.eye(4))
    image.set_sform(None, code=0)
    image.set_qform(None, code=0)
    path = tmp_path / "nocodes.nii"
    nib.save(image, path)
    volume = load_nifti(path)
    assert volume.meta["affine_source"] == "pixdim fallback"
    assert "both 0" in volume.meta["notes"][0]


def test_nan_voxels_are_refused_with_the_count(tmp_path: Path) -> None:
    data = np.ones((5, 5, 5), np.float32)
    data[1, 1, 1] = np.nan
    data[2, 2, 2] = np.nan
    data[3, 3, 3] = np.inf
    path = _write(tmp_path, data, "nans.nii.gz")
    with pytest.raises(CorruptImageError) as caught:
        load_nifti(path)
    message = str(caught.value)
    assert str(path) in message
    assert "3 NaN or infinite" in message
    assert "2 NaN" in message


def _corrupt(path: Path, offset: int, fmt: str, value: Any) -> None:
    raw = bytearray(path.read_bytes())
    struct.pack_into(fmt, raw, offset, value)
    path.write_bytes(bytes(raw))


def test_wrong_sizeof_hdr_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, np.zeros((4, 4, 4), np.int16))
    _corrupt(path, 0, "<i", 123)
    with pytest.raises(CorruptImageError, match="sizeof_hdr is 123") as caught:
        load_nifti(path)
    assert str(path) in str(caught.value)


def test_negative_dimension_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, np.zeros((4, 4, 4), np.int16))
    _corrupt(path, 44, "<h", -4)  # dim[2]
    with pytest.raises(CorruptImageError, match="zero or negative") as caught:
        load_nifti(path)
    assert str(path) in str(caught.value)


def test_vox_offset_beyond_the_file_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, np.zeros((4, 4, 4), np.int16))
    _corrupt(path, 108, "<f", 1e6)
    with pytest.raises(CorruptImageError, match="truncated NIfTI") as caught:
        load_nifti(path)
    assert str(path) in str(caught.value)


def test_truncated_gzip_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, np.arange(4096, dtype=np.int16).reshape(16, 16, 16), "x.nii.gz")
    raw = path.read_bytes()
    path.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CorruptImageError, match="gzip") as caught:
        load_nifti(path)
    assert str(path) in str(caught.value)


def test_truncated_data_is_refused(tmp_path: Path) -> None:
    path = _write(tmp_path, np.arange(4096, dtype=np.int16).reshape(16, 16, 16))
    raw = path.read_bytes()
    path.write_bytes(raw[:2000])
    with pytest.raises(CorruptImageError, match="truncated NIfTI"):
        load_nifti(path)
    gz = tmp_path / "y.nii.gz"
    gz.write_bytes(gzip.compress(raw[:2000]))
    with pytest.raises(CorruptImageError, match="truncated NIfTI"):
        load_nifti(gz)


def test_not_a_nifti_name_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "notes.txt"
    path.write_text("hello")
    with pytest.raises(ImagingError, match="not a NIfTI file name"):
        load_nifti(path)


def test_rgb_nifti_becomes_a_channel_axis(tmp_path: Path) -> None:
    rgb = np.zeros((3, 4, 5), dtype=[("R", "u1"), ("G", "u1"), ("B", "u1")])
    rgb["G"] = 7
    path = tmp_path / "rgb.nii"
    nib.save(nib.Nifti1Image(rgb, np.eye(4)), path)
    volume = load_nifti(path)
    assert volume.is_rgb
    assert volume.array.shape == (3, 4, 5, 3)
    assert volume.shape == (3, 4, 5)
    assert np.all(volume.array[..., 1] == 7)
    back = volume.to_nibabel()
    assert np.array_equal(np.asanyarray(back.dataobj)["G"], rgb["G"])
