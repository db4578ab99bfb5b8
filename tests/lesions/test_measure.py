"""Measuring masks: exact volumes and centroids, 26-connectivity, hemispheres, real masks.

The measurement is :mod:`viewers.measure`; :func:`lesion_measurements` is the registry's path
to it and :func:`viewers.measure.label_stats` the lesion table's, and both must agree.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from adjudication.lesions import Hemisphere, hemisphere_of
from tests.lesions.conftest import MNI_MASK, SourceSeries, rotation
from viewers.measure import components, connected_lesions, label_stats
from workbench.imaging.nifti import load_nifti
from workbench.lesions.errors import LesionMaskError
from workbench.lesions.measure import (
    findings_from_labels,
    lesion_measurements,
    measure_mask_file,
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
    measured = lesion_measurements(labels, affine)
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
    reference = lesion_measurements(labels, affine)
    assert lesion_measurements(np.asfortranarray(labels), affine) == reference
    assert lesion_measurements(labels.astype(np.int32), affine) == reference
    transposed_view = np.ascontiguousarray(labels.transpose(2, 1, 0)).transpose(2, 1, 0)
    assert lesion_measurements(transposed_view, affine) == reference


def _brute_force(labels: np.ndarray, affine: np.ndarray, label: int) -> tuple[float, np.ndarray]:
    """Volume (mL) and LPS centroid of one label, voxel by voxel: the definition."""
    voxels = np.argwhere(labels == label).astype(np.float64)
    centres = voxels @ affine[:3, :3].T + affine[:3, 3]
    return len(voxels) * abs(np.linalg.det(affine[:3, :3])) / 1000.0, centres.mean(axis=0)


def test_the_lesion_table_and_the_registry_give_the_same_numbers() -> None:
    """The table (``label_stats`` on the editor's array) and the registry
    (``lesion_measurements`` on the saved draft) measure alike, on a Fortran-ordered mask
    (a transposed view, as volumes read from DICOM or NIfTI are) on an oblique grid."""
    affine = oblique_affine()
    rng = np.random.default_rng(11)
    c_ordered = np.zeros((21, 16, 9), dtype=np.uint16)
    c_ordered[3:9, 2:7, 1:4] = 4
    c_ordered[12:15, 10:14, 5:8] = 9
    c_ordered[rng.random(c_ordered.shape) < 0.02] = 600
    fortran = np.ascontiguousarray(c_ordered.transpose(2, 1, 0)).transpose(2, 1, 0)
    assert fortran.flags.f_contiguous
    assert not fortran.flags.c_contiguous
    table = label_stats(fortran, affine)
    registry = lesion_measurements(fortran, affine)
    assert [s.label for s in table] == [m.label for m in registry] == [4, 9, 600]
    for stats, stored in zip(table, registry, strict=True):
        assert stats.voxel_count == stored.voxel_count
        assert stats.volume_ml == stored.volume_ml
        assert stats.centroid_mm == stored.centroid_lps
        assert stats.box.lo == stored.bbox_min
        assert tuple(h - 1 for h in stats.box.hi) == stored.bbox_max
        volume, centroid = _brute_force(c_ordered, affine, stats.label)
        assert math.isclose(stored.volume_ml, volume, rel_tol=1e-12)
        np.testing.assert_allclose(stored.centroid_lps, centroid, atol=1e-9)
    assert label_stats(c_ordered, affine) == table
    assert lesion_measurements(c_ordered, affine) == registry


def test_large_label_values_are_measured() -> None:
    labels = np.zeros((8, 8, 8), dtype=np.uint32)
    labels[1, 1, 1] = 4_000_000_000
    labels[2:4, 2, 2] = 70_000
    measured = lesion_measurements(labels, np.eye(4))
    assert [(m.label, m.voxel_count) for m in measured] == [(70_000, 2), (4_000_000_000, 1)]


def test_refuses_what_is_not_a_label_map() -> None:
    with pytest.raises(LesionMaskError, match="negative label"):
        lesion_measurements(np.full((2, 2, 2), -1, dtype=np.int8), np.eye(4))
    with pytest.raises(LesionMaskError, match="must be integers"):
        lesion_measurements(np.ones((2, 2, 2), dtype=np.float32), np.eye(4))
    with pytest.raises(LesionMaskError, match="3-D"):
        lesion_measurements(np.ones((2, 2), dtype=np.uint8), np.eye(4))
    with pytest.raises(ValueError, match="singular"):
        lesion_measurements(np.ones((2, 2, 2), dtype=np.uint8), np.zeros((4, 4)))
    assert lesion_measurements(np.zeros((3, 3, 3), dtype=np.uint8), np.eye(4)) == []


def test_connected_lesions_use_26_connectivity_and_orders_by_size_then_position() -> None:
    mask = np.zeros((12, 12, 12), dtype=bool)
    mask[1, 1, 1] = mask[2, 2, 2] = True  # corner-touching: one lesion under 26-connectivity
    mask[8:11, 8:11, 8:11] = True  # 27 voxels: the largest
    mask[5, 9, 1] = True  # single voxel, x = 5
    mask[9, 1, 9] = True  # single voxel, x = 9
    labels = connected_lesions(mask, np.eye(4))
    assert labels.dtype == np.uint8
    assert labels[9, 9, 9] == 1
    assert labels[1, 1, 1] == labels[2, 2, 2] == 2
    # Equal sizes: ordered by LPS x of the centroid.
    assert labels[5, 9, 1] == 3
    assert labels[9, 1, 9] == 4
    flipped = np.eye(4)
    flipped[0, 0] = -1.0  # x reversed in the world: the order of the single voxels turns
    relabelled = connected_lesions(mask, flipped)
    assert relabelled[9, 1, 9] == 3
    assert relabelled[5, 9, 1] == 4
    assert np.array_equal(connected_lesions(np.asfortranarray(mask), np.eye(4)), labels)


def test_components_drop_small_parts_and_keep_the_memory_order() -> None:
    mask = np.zeros((10, 9, 8), dtype=np.uint8)
    mask[1:4, 1:4, 1:4] = 1  # 27 voxels
    mask[6:8, 6:8, 6] = 1  # 4 voxels
    mask[8, 1, 7] = 1  # 1 voxel
    labelled, sizes = components(mask, min_voxels=2)
    assert sizes.tolist() == [27, 4]
    assert (labelled[2, 2, 2], labelled[6, 6, 6], labelled[8, 1, 7]) == (1, 2, 0)
    transposed, again = components(np.asfortranarray(mask), min_voxels=2)
    assert transposed.flags.f_contiguous
    assert np.array_equal(transposed, labelled)
    assert again.tolist() == [27, 4]
    with pytest.raises(ValueError, match="3D"):
        components(np.ones((3, 3), dtype=bool))


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
def test_connected_lesions_of_the_real_mask_matches_the_whole(shared_data: Path) -> None:
    volume = load_nifti(_mni(shared_data, "patient26"))
    labels = connected_lesions(volume.array, volume.affine)
    assert int(labels.max()) == 19
    assert np.array_equal(labels != 0, volume.array != 0)
