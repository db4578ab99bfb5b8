"""NIfTI label maps on the series grid: export, import, refusal of other grids, resampling."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import nibabel as nib
import numpy as np
import pytest

from tests.lesions.conftest import SourceSeries, paint
from workbench.imaging.errors import ImagingError
from workbench.imaging.nifti import load_nifti
from workbench.lesions.errors import GridMismatchError, LesionMaskError
from workbench.lesions.measure import lesion_measurements, measure_mask_file
from workbench.lesions.nifti_io import (
    NIFTI_INTENT_LABEL,
    _resample_numpy,
    export_label_nifti,
    import_label_nifti,
    resample_labels_to,
)

LONG = "open_ms_data/longitudinal/raw/patient01"


@pytest.mark.parametrize("name", ["labels.nii.gz", "labels.nii"])
def test_export_import_round_trip_with_the_ras_affine(
    oblique_series: SourceSeries, tmp_path: Path, name: str
) -> None:
    volume = oblique_series.volume
    labels = paint(volume.shape)
    path = export_label_nifti(labels, volume.affine, tmp_path / name)
    image: Any = nib.load(path)
    header = image.header
    np.testing.assert_allclose(image.affine, volume.ras_affine(), atol=1e-5)
    assert int(header["sform_code"]) == 1
    assert int(header["qform_code"]) == 1
    np.testing.assert_allclose(header.get_qform(), volume.ras_affine(), atol=1e-4)
    assert image.get_data_dtype() == np.uint8
    assert int(header["intent_code"]) == NIFTI_INTENT_LABEL
    back = import_label_nifti(path, volume.affine, volume.shape)
    assert back.dtype == np.uint8
    assert np.array_equal(back, labels)
    # The exported file measures like the labels themselves (the label map is kept).
    # (The file holds its affine in float32: equal to ~1e-5 mm.)
    report = measure_mask_file(path)
    assert report.kind == "labels"
    expected = lesion_measurements(labels, volume.affine)
    assert [(m.label, m.voxel_count, m.bbox_min, m.bbox_max) for m in report.measurements] == [
        (m.label, m.voxel_count, m.bbox_min, m.bbox_max) for m in expected
    ]
    for got, want in zip(report.measurements, expected, strict=True):
        assert math.isclose(got.volume_ml, want.volume_ml, rel_tol=1e-6)
        np.testing.assert_allclose(got.centroid_lps, want.centroid_lps, atol=1e-4)


def test_export_picks_uint16_for_many_labels_and_keeps_a_sheared_grid(tmp_path: Path) -> None:
    labels = np.zeros((10, 12, 6), dtype=np.uint32)
    labels[1, 1, 1] = 1000
    labels[2, 2, 2] = 1
    sheared = np.array(
        [[0.9, 0.0, 0.0, -5.0], [0.0, 0.9, 0.4, 3.0], [0.0, 0.0, 3.0, 1.0], [0, 0, 0, 1]]
    )  # gantry tilt: the slice axis is not normal to the rows and columns
    path = export_label_nifti(labels, sheared, tmp_path / "tilted.nii.gz")
    image: Any = nib.load(path)
    assert image.get_data_dtype() == np.uint16
    assert int(image.header["sform_code"]) == 1
    assert int(image.header["qform_code"]) == 0  # a qform cannot hold a shear
    assert np.array_equal(import_label_nifti(path, sheared, labels.shape), labels)


def test_import_refuses_another_grid(oblique_series: SourceSeries, tmp_path: Path) -> None:
    volume = oblique_series.volume
    labels = paint(volume.shape)
    path = export_label_nifti(labels, volume.affine, tmp_path / "labels.nii.gz")
    moved = volume.affine.copy()
    moved[:3, 3] += (0.0, 0.0, 0.01)
    with pytest.raises(GridMismatchError, match=r"labels\.nii\.gz: .*lies elsewhere.*0\.01 mm"):
        import_label_nifti(path, moved, volume.shape)
    with pytest.raises(GridMismatchError, match="shapes differ"):
        import_label_nifti(path, volume.affine, (20, 24, 8))
    # Within 1e-3 mm is the same grid.
    nudged = volume.affine.copy()
    nudged[:3, 3] += 0.0004
    assert np.array_equal(import_label_nifti(path, nudged, volume.shape), labels)


def test_import_refuses_values_that_are_not_a_mask(tmp_path: Path) -> None:
    affine = np.diag([-1.0, -1.0, 1.0, 1.0])  # LPS of the files' identity RAS affine

    def save(data: np.ndarray, name: str) -> Path:
        path = tmp_path / name
        nib.save(nib.Nifti1Image(data, np.eye(4)), path)
        return path

    grid = (4, 4, 4)
    half = np.zeros(grid, dtype=np.float32)
    half[1, 1, 1] = 0.5
    with pytest.raises(
        LesionMaskError, match=r"half\.nii: non-integer mask values \(e\.g\. 0\.5\)"
    ):
        import_label_nifti(save(half, "half.nii"), affine, grid)
    twos = np.zeros(grid, dtype=np.float32)
    twos[1, 1, 1] = 2.0
    with pytest.raises(LesionMaskError, match=r"twos\.nii: a float mask must hold only 0 and 1"):
        import_label_nifti(save(twos, "twos.nii"), affine, grid)
    nan = np.zeros(grid, dtype=np.float32)
    nan[0, 0, 0] = np.nan
    with pytest.raises(ImagingError, match=r"nan\.nii: 1 NaN"):
        import_label_nifti(save(nan, "nan.nii"), affine, grid)
    negative = np.zeros(grid, dtype=np.int16)
    negative[0, 0, 0] = -1
    with pytest.raises(LesionMaskError, match=r"negative\.nii: negative label"):
        import_label_nifti(save(negative, "negative.nii"), affine, grid)
    binary = np.zeros(grid, dtype=np.float32)
    binary[2, 2, 2] = 1.0
    assert import_label_nifti(save(binary, "binary.nii"), affine, grid).dtype == np.uint8


def test_resampling_is_nearest_neighbour_through_world_space() -> None:
    labels = np.zeros((10, 10, 10), dtype=np.uint16)
    labels[2:4, 2:4, 2:4] = 300
    labels[7, 7, 7] = 2
    src = np.diag([2.0, 2.0, 2.0, 1.0])
    dst = np.diag([1.0, 1.0, 1.0, 1.0])
    dst[:3, 3] = (-0.4, -0.4, -0.4)  # voxel centres 0.4 mm off the source's
    out = resample_labels_to(labels, src, (20, 20, 20), dst)
    assert out.dtype == np.uint16
    assert set(np.unique(out).tolist()) == {0, 2, 300}  # labels never blended
    assert np.count_nonzero(out == 300) == 4**3
    assert out[15, 15, 15] == 2
    # A flipped destination grid gets the same world content.
    flipped = dst.copy()
    flipped[:3, :3] = np.diag([-1.0, 1.0, 1.0])
    flipped[0, 3] = 19 - 0.4
    assert np.array_equal(resample_labels_to(labels, src, (20, 20, 20), flipped), out[::-1])
    # The numpy path (used for sheared grids) agrees with SimpleITK's.
    assert np.array_equal(_resample_numpy(labels, src, (20, 20, 20), dst), out)


@pytest.mark.shared_data
def test_s17_mask_on_another_grid_is_refused_then_resampled(shared_data: Path) -> None:
    gt_path = shared_data / LONG / "gt.nii.gz"
    flair = load_nifti(shared_data / LONG / "study2_FLAIR.nii.gz")
    with pytest.raises(GridMismatchError) as refused:
        import_label_nifti(gt_path, flair.affine, flair.shape)
    message = str(refused.value)
    assert str(gt_path) in message
    assert "325 x 334 x 53" in message
    assert "320 x 320 x 46" in message
    assert "resample" in message
    gt = load_nifti(gt_path)
    resampled = resample_labels_to(gt.array, gt.affine, flair.shape, flair.affine)
    assert resampled.shape == flair.shape
    total = sum(m.volume_ml for m in lesion_measurements(resampled, flair.affine))
    assert math.isclose(total, 3.509, rel_tol=0.15)
    # The numpy path gives the same result on these oblique grids.
    assert np.array_equal(
        _resample_numpy(gt.array, gt.affine, flair.shape, flair.affine), resampled
    )


@pytest.mark.shared_data
def test_a_mask_painted_on_a_real_oblique_series_round_trips(
    shared_data: Path, tmp_path: Path
) -> None:
    """The raw longitudinal FLAIR is stored LPS and oblique: the mask must come back exactly."""
    volume = load_nifti(shared_data / "open_ms_data/longitudinal/raw/patient01/study1_FLAIR.nii.gz")
    labels = np.zeros(volume.shape[:3], dtype=np.uint8)
    labels[150:160, 140:152, 17:20] = 1
    labels[100:104, 200:203, 10] = 2
    path = export_label_nifti(labels, volume.affine, tmp_path / "mask.nii.gz")
    back = import_label_nifti(path, volume.affine, volume.shape[:3])
    assert np.array_equal(back, labels)
    voxel_ml = abs(np.linalg.det(volume.affine[:3, :3])) / 1000
    measured = {m.label: m.volume_ml for m in lesion_measurements(back, volume.affine)}
    assert measured[1] == pytest.approx(10 * 12 * 3 * voxel_ml)
    assert measured[2] == pytest.approx(4 * 3 * 1 * voxel_ml)
