"""Measuring masks: exact volumes and centroids, 26-connectivity, hemispheres, real masks."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from adjudication.lesions import Hemisphere
from tests.lesions.conftest import MNI_MASK, SourceSeries, rotation
from workbench.imaging.nifti import load_nifti
from workbench.lesions.errors import LesionMaskError
from workbench.lesions.measure import (
    findings_from_labels,
    hemisphere_of,
    measure_labels,
    measure_mask_file,
    split_connected,
)


def oblique_affine() -> np.ndarray:
    """Anisotropic (0.7 x 1.1 x 3.5 mm), rotated about all axes, off-origin."""
    affine = np.eye(4)
    affine[:3, :3] = rotation(10.0, -20.0, 35.0) @ np.diag([0.7, 1.1, 3.5])
    affine[:3, 3] = (-40.0, 12.5, 7.0)
    return affine


def test_volume_centroid_and_bbox_exact_on_an_oblique_anisotropic_grid() -> None:
    affine = oblique_affine()
    labels = np.zeros((30, 20, 10), dtype=np.uint16)
    labels[2:5, 3:7, 1:3] = 7  # 3 x 4 x 2 = 24 voxels
    labels[20, 10, 5] = 300
    labels[21, 10, 5] = 300
    measured = measure_labels(labels, affine)
    assert [m.label for m in measured] == [7, 300]
    voxel_ml = 0.7 * 1.1 * 3.5 / 1000
    first, second = measured
    assert first.voxel_count == 24
    assert math.isclose(first.volume_ml, 24 * voxel_ml, rel_tol=1e-12)
    centre = affine @ np.array([3.0, 4.5, 1.5, 1.0])
    np.testing.assert_allclose(first.centroid_lps, centre[:3], atol=1e-9)
    assert first.bbox_min == (2, 3, 1)
    assert first.bbox_max == (4, 6, 2)
    np.testing.assert_allclose(
        second.centroid_lps, (affine @ np.array([20.5, 10.0, 5.0, 1.0]))[:3], atol=1e-9
    )
    assert (second.bbox_min, second.bbox_max) == ((20, 10, 5), (21, 10, 5))


def test_measurement_does_not_depend_on_memory_layout_or_dtype() -> None:
    rng = np.random.default_rng(3)
    labels = rng.integers(0, 6, size=(17, 13, 9)).astype(np.uint8)
    affine = oblique_affine()
    reference = measure_labels(labels, affine)
    assert measure_labels(np.asfortranarray(labels), affine) == reference
    assert measure_labels(labels.astype(np.int32), affine) == reference
    transposed_view = np.ascontiguousarray(labels.transpose(2, 1, 0)).transpose(2, 1, 0)
    assert measure_labels(transposed_view, affine) == reference


def test_large_label_values_are_measured() -> None:
    labels = np.zeros((8, 8, 8), dtype=np.uint32)
    labels[1, 1, 1] = 4_000_000_000
    labels[2:4, 2, 2] = 70_000
    measured = measure_labels(labels, np.eye(4))
    assert [(m.label, m.voxel_count) for m in measured] == [(70_000, 2), (4_000_000_000, 1)]


def test_refuses_what_is_not_a_label_map() -> None:
    with pytest.raises(LesionMaskError, match="negative label"):
        measure_labels(np.full((2, 2, 2), -1, dtype=np.int8), np.eye(4))
    with pytest.raises(LesionMaskError, match="must be integers"):
        measure_labels(np.ones((2, 2, 2), dtype=np.float32), np.eye(4))
    with pytest.raises(LesionMaskError, match="3-D"):
        measure_labels(np.ones((2, 2), dtype=np.uint8), np.eye(4))
    with pytest.raises(ValueError, match="singular"):
        measure_labels(np.ones((2, 2, 2), dtype=np.uint8), np.zeros((4, 4)))
    assert measure_labels(np.zeros((3, 3, 3), dtype=np.uint8), np.eye(4)) == []


def test_split_connected_uses_26_connectivity_and_orders_by_size_then_position() -> None:
    mask = np.zeros((12, 12, 12), dtype=bool)
    mask[1, 1, 1] = mask[2, 2, 2] = True  # corner-touching: one lesion under 26-connectivity
    mask[8:11, 8:11, 8:11] = True  # 27 voxels: the largest
    mask[5, 9, 1] = True  # single voxel, x = 5
    mask[9, 1, 9] = True  # single voxel, x = 9
    labels = split_connected(mask, np.eye(4))
    assert labels.dtype == np.uint8
    assert labels[9, 9, 9] == 1
    assert labels[1, 1, 1] == labels[2, 2, 2] == 2
    # Equal sizes: ordered by LPS x of the centroid.
    assert labels[5, 9, 1] == 3
    assert labels[9, 1, 9] == 4
    flipped = np.eye(4)
    flipped[0, 0] = -1.0  # x reversed in the world: the order of the single voxels turns
    relabelled = split_connected(mask, flipped)
    assert relabelled[9, 1, 9] == 3
    assert relabelled[5, 9, 1] == 4
    assert np.array_equal(split_connected(np.asfortranarray(mask), np.eye(4)), labels)


def test_hemisphere_sign_lps_x_positive_is_the_patients_left() -> None:
    assert hemisphere_of((12.0, 0.0, 0.0)) is Hemisphere.LEFT
    assert hemisphere_of((-12.0, 0.0, 0.0)) is Hemisphere.RIGHT
    assert hemisphere_of((0.0, 5.0, 5.0)) is Hemisphere.MIDLINE
    assert hemisphere_of((1.0, 0.0, 0.0), tolerance_mm=2.0) is Hemisphere.MIDLINE
    assert hemisphere_of((1.0, 0.0, 0.0), midline_x=3.0) is Hemisphere.RIGHT


def test_findings_from_labels_suggest_the_hemisphere(axial_series: SourceSeries) -> None:
    volume = axial_series.volume
    labels = np.zeros(volume.shape, dtype=np.uint8)
    labels[0:2, 5, 3] = 1  # x = -8.0 .. -7.2: the patient's right
    labels[19, 5, 3] = 2  # x = -8 + 19 * 0.8 = 7.2: the patient's left
    first, second = findings_from_labels(labels, volume)
    assert first.suggested_hemisphere is Hemisphere.RIGHT
    assert second.suggested_hemisphere is Hemisphere.LEFT
    assert first.hemisphere is None
    assert first.series.series_instance_uid == volume.identity.series_instance_uid
    assert first.series.frame_of_reference_uid == volume.identity.frame_of_reference_uid
    np.testing.assert_allclose(np.array(first.series.affine), volume.affine)
    with pytest.raises(LesionMaskError, match="differs from the series grid"):
        findings_from_labels(labels[:5], volume)


def _mni(shared_data: Path, patient: str) -> Path:
    return shared_data / "open_ms_data/cross_sectional/MNI" / patient / MNI_MASK


@pytest.mark.shared_data
def test_patient26_mask_19_lesions_8227_ml_mostly_right(shared_data: Path) -> None:
    report = measure_mask_file(_mni(shared_data, "patient26"))
    assert report.kind == "binary"
    assert len(report.lesions) == 19
    assert report.total_voxels == 8227
    assert math.isclose(report.total_ml, 8.227, abs_tol=5e-4)
    sides = report.hemisphere_ml()
    # A left-right flip would give 6.661 mL on the left.
    assert math.isclose(sides[Hemisphere.RIGHT], 6.661, abs_tol=5e-4)
    assert math.isclose(sides[Hemisphere.LEFT], 1.566, abs_tol=5e-4)
    right = sum(r.ml for r in report.lesions if r.centroid_ras_mm[0] > 0)
    assert math.isclose(right, 6.661, abs_tol=5e-4)  # RAS x > 0 is the right
    assert [r.voxels for r in report.lesions] == sorted(
        (r.voxels for r in report.lesions), reverse=True
    )


@pytest.mark.shared_data
def test_patient07_mask_37_small_lesions_1300_ml(shared_data: Path) -> None:
    report = measure_mask_file(_mni(shared_data, "patient07"))
    assert len(report.lesions) == 37
    assert math.isclose(report.total_ml, 1.300, abs_tol=5e-4)
    sides = report.hemisphere_ml()
    assert math.isclose(sides[Hemisphere.LEFT], 0.644, abs_tol=5e-4)
    assert math.isclose(sides[Hemisphere.RIGHT], 0.656, abs_tol=5e-4)


@pytest.mark.shared_data
def test_split_of_the_real_mask_matches_the_whole(shared_data: Path) -> None:
    volume = load_nifti(_mni(shared_data, "patient26"))
    labels = split_connected(volume.array, volume.affine)
    assert int(labels.max()) == 19
    assert np.array_equal(labels != 0, volume.array != 0)
