"""The ``lesions`` command: text and JSON reports, and clear errors with exit codes."""

from __future__ import annotations

import io
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest

from tests.lesions.conftest import MNI_MASK, SourceSeries, paint
from workbench.lesions.commands import lesions_main
from workbench.lesions.nifti_io import export_label_nifti
from workbench.lesions.seg_io import export_seg, source_datasets_of


def run(path: Path, as_json: bool = False) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = lesions_main(path, as_json, out, err)
    return code, out.getvalue(), err.getvalue()


def binary_mask(tmp_path: Path) -> Path:
    """Two blobs in a 0/1 float mask, 2 x 2 x 2 mm voxels (0.008 mL each), RAS identity."""
    data = np.zeros((10, 10, 10), dtype=np.float32)
    data[1:3, 1:3, 1:3] = 1.0  # 8 voxels at RAS x = 2..4 mm: the right
    data[7, 7, 7] = 1.0
    path = tmp_path / "mask.nii.gz"
    nib.save(nib.Nifti1Image(data, np.diag([2.0, 2.0, 2.0, 1.0])), path)
    return path


def test_text_table(tmp_path: Path) -> None:
    code, out, err = run(binary_mask(tmp_path))
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert "binary mask split into 2 connected lesions (26-connectivity)" in lines[0]
    assert "grid 10 x 10 x 10, voxel 2.000 x 2.000 x 2.000 mm (nifti)" in lines[1]
    assert lines[3].split() == ["label", "voxels", "mL", "centroid", "RAS", "(mm)"]
    assert lines[4].split()[:3] == ["1", "8", "0.064"]
    assert "(     3.0,      3.0,      3.0)" in lines[4]
    assert lines[5].split()[:3] == ["2", "1", "0.008"]
    assert lines[6].split() == ["total", "9", "0.072", "mL"]
    assert lines[7] == "by centroid (world x): right 0.072 mL, left 0.000 mL"


def test_json_report(tmp_path: Path) -> None:
    code, out, _ = run(binary_mask(tmp_path), as_json=True)
    assert code == 0
    data = json.loads(out)
    assert data["total_ml"] == pytest.approx(0.072)
    assert data["lesions"] == [
        {"label": 1, "voxels": 8, "ml": 0.064, "centroid_ras_mm": [3.0, 3.0, 3.0]},
        {"label": 2, "voxels": 1, "ml": 0.008, "centroid_ras_mm": [14.0, 14.0, 14.0]},
    ]
    assert data["kind"] == "binary"


def test_label_maps_keep_their_labels_and_seg_files_are_measured(
    oblique_series: SourceSeries, tmp_path: Path
) -> None:
    volume = oblique_series.volume
    labels = paint(volume.shape)
    nifti = export_label_nifti(labels, volume.affine, tmp_path / "labels.nii.gz")
    seg = export_seg(labels, source_datasets_of(volume), [], tmp_path / "labels.dcm")
    reports = [json.loads(run(path, as_json=True)[1]) for path in (nifti, seg)]
    for report in reports:
        assert [lesion["label"] for lesion in report["lesions"]] == [1, 2, 5]
        assert [lesion["voxels"] for lesion in report["lesions"]] == [40, 18, 3]
    assert reports[0]["total_ml"] == pytest.approx(reports[1]["total_ml"], rel=1e-6)
    assert reports[1]["source"] == "dicom-seg"
    code, out, _ = run(seg)
    assert code == 0
    assert "label map with 3 labels" in out


def test_errors_name_the_file(tmp_path: Path, axial_series: SourceSeries) -> None:
    missing = tmp_path / "nowhere.nii.gz"
    code, out, err = run(missing)
    assert (code, out) == (2, "")
    assert err.strip() == f"error: {missing}: no such file"

    def save(data: np.ndarray, name: str) -> Path:
        path = tmp_path / name
        nib.save(nib.Nifti1Image(data, np.eye(4)), path)
        return path

    grid = np.zeros((4, 4, 4), dtype=np.float32)
    nan = grid.copy()
    nan[0, 0, 0] = np.nan
    fractional = grid.copy()
    fractional[1, 1, 1] = 0.25
    twos = grid.copy()
    twos[1, 1, 1] = 2.0
    broken = tmp_path / "broken.nii"
    broken.write_bytes(b"\x5c\x01\x00\x00" + b"\x00" * 100)
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    cases = [
        (save(nan, "nan.nii"), "NaN"),
        (save(fractional, "fractional.nii"), "non-integer mask values (e.g. 0.25)"),
        (save(twos, "twos.nii"), "a float mask must hold only 0 and 1"),
        (save(np.zeros((4, 4, 4, 2), dtype=np.uint8), "four_d.nii"), "must be 3-D"),
        (broken, "truncated NIfTI"),
        (text, "expected NIfTI (.nii, .nii.gz) or DICOM SEG"),
        (axial_series.paths[0], "a DICOM file but not a Segmentation"),
    ]
    for path, problem in cases:
        code, out, err = run(path)
        assert code == 1, path
        assert out == ""
        assert err.startswith(f"error: {path}"), err
        assert problem in err, err


@pytest.mark.shared_data
def test_real_mask_json(shared_data: Path) -> None:
    path = shared_data / "open_ms_data/cross_sectional/MNI/patient26" / MNI_MASK
    code, out, _ = run(path, as_json=True)
    assert code == 0
    data = json.loads(out)
    assert len(data["lesions"]) == 19
    assert data["total_ml"] == pytest.approx(8.227, abs=5e-4)
    right = sum(lesion["ml"] for lesion in data["lesions"] if lesion["centroid_ras_mm"][0] > 0)
    assert right == pytest.approx(6.661, abs=5e-4)
