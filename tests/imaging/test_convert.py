"""convert(): one .nii.gz + JSON sidecar per volume, named from the series."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from tests.imaging.conftest import canonical
from workbench.imaging import ImagingError, load_dicom
from workbench.imaging.convert import convert


@pytest.mark.shared_data
def test_field_map_gives_two_named_files(shared_data: Path, tmp_path: Path) -> None:
    written = convert(shared_data / "dcm_qa_enh/In/Philips", tmp_path)
    assert [p.name for p in written] == ["801_B0_NS_M.nii.gz", "801_B0_NS_FIELD_MAP.nii.gz"]
    sidecar = json.loads(written[1].with_name("801_B0_NS_FIELD_MAP.json").read_text())
    assert sidecar["SeriesInstanceUID"]
    assert sidecar["SourceFileCount"] == 1
    assert len(sidecar["SourceContentSHA256"]) == 64
    assert sidecar["SequenceClass"] == "field map"
    assert sidecar["SequenceEvidence"]["rule"]
    assert sidecar["Manufacturer"].startswith("Philips")
    magnitude = json.loads(written[0].with_name("801_B0_NS_M.json").read_text())
    assert magnitude["SequenceClass"] == "field map magnitude"
    again = convert(shared_data / "dcm_qa_enh/In/Philips", tmp_path)
    assert [p.name for p in again] == ["801_B0_NS_M_2.nii.gz", "801_B0_NS_FIELD_MAP_2.nii.gz"]


@pytest.mark.shared_data
def test_written_dwi_matches_the_reference(shared_data: Path, tmp_path: Path) -> None:
    (written,) = convert(shared_data / "dcm_qa_ge/In/01_Ax_DWI_TENSOR_R2", tmp_path)
    sidecar = json.loads(written.with_name(written.name.replace(".nii.gz", ".json")).read_text())
    assert sidecar["BValues"] == [0.0] + [1000.0] * 6
    assert sidecar["SequenceClass"] == "DWI"
    ours: Any = nib.load(written)
    ref: Any = nib.load(shared_data / "dcm_qa_ge/Ref/Ax_DWI_TENSOR_R2_1.nii")
    a, a_aff = canonical(np.asanyarray(ours.dataobj), ours.affine)
    b, b_aff = canonical(np.asanyarray(ref.dataobj), ref.affine)
    assert np.array_equal(a, b)
    np.testing.assert_allclose(a_aff, b_aff, atol=1e-3)
    assert int(ours.header["sform_code"]) == 1


@pytest.mark.shared_data
def test_rgb_is_written_as_rgb24(shared_data: Path, tmp_path: Path) -> None:
    (written,) = convert(shared_data / "dcm_qa_xa30/In/14_DWI_dir80_PA", tmp_path)
    image: Any = nib.load(written)
    ref: Any = nib.load(shared_data / "dcm_qa_xa30/Ref/14_DWI_dir80_PA.nii")
    assert image.get_data_dtype() == ref.get_data_dtype()


def test_nothing_to_convert_raises(tmp_path: Path) -> None:
    (tmp_path / "readme.txt").write_text("no images here")
    with pytest.raises(ImagingError, match="no DICOM image found"):
        convert(tmp_path, tmp_path / "out")


@pytest.mark.shared_data
def test_jpeg_lossless_mosaic_decodes_through_simpleitk_too(shared_data: Path) -> None:
    from workbench.imaging import dicom

    folder = shared_data / "dcm_qa/In/Orientation/axmb/AxAsc36mb2a"
    found = dicom.discover(folder)
    info = found.series[0].volumes[0].frames[0][0].file
    by_sitk = dicom._decode_with_simpleitk(info, "forced for the test")
    by_pydicom = dicom._decode_pixels(info)
    assert np.array_equal(by_sitk.reshape(by_pydicom.shape), by_pydicom)
    (volume,) = load_dicom(folder)
    assert volume.shape == (86, 86, 36, 2)
