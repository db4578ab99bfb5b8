"""Bad DICOM input: each refusal names the file and the problem; nothing half-loaded.

Broken files are made in tmp_path from the real series (never committed).
"""

from __future__ import annotations

import shutil
import struct
from pathlib import Path

import numpy as np
import pydicom
import pytest

from workbench.imaging import (
    CorruptImageError,
    ImagingError,
    NotDicomError,
    SeriesGeometryError,
    discover,
    load_dicom,
)

S1 = "dcm_qa_cs_dl/In/Philips/501_T1W_FFE_Sno_CS4"  # classic, 24 axial slices, 5.5 mm


def _copy_series(shared_data: Path, tmp_path: Path, skip: frozenset[str] = frozenset()) -> Path:
    target = tmp_path / "series"
    target.mkdir()
    for source in sorted((shared_data / S1).iterdir()):
        if source.name not in skip:
            shutil.copy(source, target / source.name)
    return target


def _sorted_by_position(folder: Path) -> list[Path]:
    files = sorted(folder.iterdir())
    return sorted(
        files,
        key=lambda p: float(pydicom.dcmread(p, stop_before_pixels=True).ImagePositionPatient[2]),
    )


@pytest.mark.shared_data
def test_truncated_file_is_named(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / S1 / "0001.dcm"
    raw = source.read_bytes()
    cut = tmp_path / "half.dcm"
    cut.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(CorruptImageError) as caught:
        load_dicom(cut)
    message = str(caught.value)
    assert str(cut) in message
    assert "truncated" in message


@pytest.mark.shared_data
def test_truncated_header_is_named(shared_data: Path, tmp_path: Path) -> None:
    raw = (shared_data / S1 / "0001.dcm").read_bytes()
    cut = tmp_path / "head.dcm"
    cut.write_bytes(raw[:700])
    with pytest.raises(CorruptImageError, match="truncated") as caught:
        load_dicom(cut)
    assert str(cut) in str(caught.value)


def _tiny_dicom(path: Path) -> None:
    ds = pydicom.Dataset()
    ds.file_meta = pydicom.dataset.FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = pydicom.uid.ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = pydicom.uid.MRImageStorage
    ds.file_meta.MediaStorageSOPInstanceUID = pydicom.uid.generate_uid()
    ds.SOPClassUID = pydicom.uid.MRImageStorage
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID
    ds.SeriesInstanceUID = pydicom.uid.generate_uid()
    ds.Modality = "MR"
    ds.ImagePositionPatient = [0, 0, 0]
    ds.ImageOrientationPatient = [1, 0, 0, 0, 1, 0]
    ds.PixelSpacing = [1, 1]
    ds.Rows, ds.Columns = 4, 4
    ds.SamplesPerPixel = 1
    ds.PhotometricInterpretation = "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 1
    ds.PixelData = np.arange(16, dtype=np.int16).tobytes()
    ds.save_as(path, enforce_file_format=True)


def test_tiny_synthetic_file_loads(tmp_path: Path) -> None:
    path = tmp_path / "tiny.dcm"
    _tiny_dicom(path)
    (volume,) = load_dicom(path)
    assert volume.shape == (4, 4, 1)
    assert volume.array[1, 0, 0] == 1
    assert volume.array[0, 1, 0] == 4


def test_gigabyte_length_claim_fails_fast(tmp_path: Path) -> None:
    path = tmp_path / "liar.dcm"
    _tiny_dicom(path)
    raw = bytearray(path.read_bytes())
    at = raw.index(b"\xe0\x7f\x10\x00OW\x00\x00") + 8
    struct.pack_into("<I", raw, at, 0xF0000000)  # ~4 GB claimed, 32 bytes present
    path.write_bytes(bytes(raw))
    with pytest.raises(CorruptImageError) as caught:
        load_dicom(path)
    message = str(caught.value)
    assert str(path) in message
    assert "4,026,531,840 bytes" in message


def test_folder_of_jpegs_is_not_dicom(tmp_path: Path) -> None:
    for name in ("a.jpg", "b.jpg"):
        (tmp_path / name).write_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + bytes(64) + b"\xff\xd9")
    with pytest.raises(NotDicomError) as caught:
        load_dicom(tmp_path)
    message = str(caught.value)
    assert "no DICOM image found" in message
    assert str(tmp_path / "a.jpg") in message
    assert "JPEG" in message


def test_missing_path_is_named(tmp_path: Path) -> None:
    with pytest.raises(NotDicomError, match="no such file"):
        load_dicom(tmp_path / "nothing-here")


@pytest.mark.shared_data
def test_missing_slice_names_the_gap(shared_data: Path, tmp_path: Path) -> None:
    files = _sorted_by_position(shared_data / S1)
    removed = files[10]
    z_before = float(pydicom.dcmread(files[9], stop_before_pixels=True).ImagePositionPatient[2])
    folder = _copy_series(shared_data, tmp_path, skip=frozenset({removed.name}))
    with pytest.raises(SeriesGeometryError) as caught:
        load_dicom(folder)
    message = str(caught.value)
    assert "missing slice" in message
    assert str(folder / files[9].name) in message
    assert str(folder / files[11].name) in message
    assert f"{z_before:.2f} mm" in message
    assert "gap of 11.00 mm" in message


@pytest.mark.shared_data
def test_duplicated_slice_is_refused(shared_data: Path, tmp_path: Path) -> None:
    folder = _copy_series(shared_data, tmp_path)
    shutil.copy(folder / "0005.dcm", folder / "0005_copy.dcm")
    with pytest.raises(SeriesGeometryError) as caught:
        load_dicom(folder)
    message = str(caught.value)
    assert "duplicated slice" in message
    assert str(folder / "0005.dcm") in message
    assert str(folder / "0005_copy.dcm") in message


@pytest.mark.shared_data
def test_uneven_spacing_is_refused(shared_data: Path, tmp_path: Path) -> None:
    folder = _copy_series(shared_data, tmp_path)
    victim = _sorted_by_position(folder)[12]
    ds = pydicom.dcmread(victim)
    ds.ImagePositionPatient[2] = float(ds.ImagePositionPatient[2]) + 1.5
    ds.save_as(victim)
    with pytest.raises(SeriesGeometryError, match="uneven slice spacing") as caught:
        load_dicom(folder)
    assert str(victim) in str(caught.value)


@pytest.mark.shared_data
def test_mixed_orientation_is_refused(shared_data: Path, tmp_path: Path) -> None:
    folder = _copy_series(shared_data, tmp_path)
    victim = _sorted_by_position(folder)[3]
    ds = pydicom.dcmread(victim)
    angle = np.deg2rad(1.0)  # a one-degree tilt: same stack, not parallel
    ds.ImageOrientationPatient = [np.cos(angle), np.sin(angle), 0, -np.sin(angle), np.cos(angle), 0]
    ds.save_as(victim)
    with pytest.raises(SeriesGeometryError, match="mixed orientations") as caught:
        load_dicom(folder)
    assert str(victim) in str(caught.value)


@pytest.mark.shared_data
def test_mixed_sizes_are_refused(shared_data: Path, tmp_path: Path) -> None:
    folder = _copy_series(shared_data, tmp_path)
    victim = folder / "0007.dcm"
    ds = pydicom.dcmread(victim)
    ds.PixelData = ds.pixel_array[:128, :].tobytes()
    ds.Rows = 128
    ds.save_as(victim)
    with pytest.raises(SeriesGeometryError, match="mixed sizes") as caught:
        load_dicom(folder)
    assert str(victim) in str(caught.value)


@pytest.mark.shared_data
def test_non_image_and_non_dicom_files_are_noted(shared_data: Path) -> None:
    raw_folder = discover(shared_data / "dcm_qa_cs_dl/In/Philips/201_T1W_TSE_Sno_CSno_CSAIno")
    assert not raw_folder.errors
    assert raw_folder.n_volumes == 1
    (note,) = raw_folder.notes
    assert "0001_Raw.dcm" in note
    assert "Raw Data Storage" in note
    readme = discover(shared_data / "dcm_qa_nih/In/20180918GE/mr_0004")
    assert any("README-Series.txt" in n and "not DICOM" in n for n in readme.notes)
    assert readme.n_volumes == 1


@pytest.mark.shared_data
def test_one_bad_file_loads_nothing(shared_data: Path, tmp_path: Path) -> None:
    folder = _copy_series(shared_data, tmp_path)
    victim = folder / "0003.dcm"
    victim.write_bytes(victim.read_bytes()[:5000])
    found = discover(folder)
    assert len(found.errors) == 1
    assert str(victim) in str(found.errors[0])
    with pytest.raises(ImagingError, match=r"0003\.dcm"):
        load_dicom(folder)


@pytest.mark.shared_data
def test_incomplete_4d_series_names_the_slice(shared_data: Path, tmp_path: Path) -> None:
    source = shared_data / "dcm_qa_nih/In/20180918GE/mr_0004"  # 15 slices x 10 volumes
    folder = tmp_path / "fmri"
    shutil.copytree(source, folder)
    victim = folder / "axial_epi_fmri_interleaved_i_to_s-00020.dcm"
    victim.unlink()
    with pytest.raises(SeriesGeometryError) as caught:
        load_dicom(folder)
    message = str(caught.value)
    assert "incomplete series" in message
    assert "9 of 10 images" in message
    assert str(folder) in message


@pytest.mark.shared_data
def test_a_study_folder_gives_every_series(shared_data: Path) -> None:
    found = discover(shared_data / "dcm_qa_xa30/In")
    assert [s.series_number for s in found.series] == [5, 11, 12, 14]
    assert found.n_volumes == 4
    assert not found.errors
    field_map = discover(shared_data / "dcm_qa_enh/In/Philips")
    assert any("2 volumes" in note for note in field_map.notes)
