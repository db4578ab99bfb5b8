"""Lesion measurements: exact on synthetic masks, and the README's numbers on real masks.

The real masks are the consensus lesion masks of the Ljubljana MS datasets (CC-BY; Lesjak Ž
et al., Neuroinformatics 2018), in MNI space, as mirrored in muschellij2/open_ms_data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from adjudication.lesions import Hemisphere, hemisphere_of
from tests.viewers.conftest import load_lps
from viewers.labels_edit import VoxelBox
from viewers.measure import connected_lesions, label_stats

MNI = Path("open_ms_data/cross_sectional/MNI")
MASK = "GOLD_STANDARD_N4_noneck_reduced_winsor_regtoFLAIR_regtoMNI.nii.gz"


def oblique_affine() -> np.ndarray:
    angle = np.deg2rad(17.0)
    rotation = np.array(
        [[np.cos(angle), -np.sin(angle), 0], [np.sin(angle), np.cos(angle), 0], [0, 0, 1]]
    )
    affine = np.eye(4)
    affine[:3, :3] = rotation @ np.diag([0.9, 1.1, 3.0])
    affine[:3, 3] = (-30.0, 12.0, -40.0)
    return affine


def test_label_stats_volumes_centroids_and_boxes_are_exact():
    affine = oblique_affine()
    labels = np.zeros((40, 30, 20), dtype=np.uint16)
    labels[2:6, 3:8, 1:4] = 3  # 60 voxels
    labels[30:31, 10:12, 15:19] = 1  # 8 voxels
    labels[20, 20, 10] = 700
    stats = label_stats(labels, affine)
    assert [s.label for s in stats] == [1, 3, 700]
    by_label = {s.label: s for s in stats}
    voxel_ml = 0.9 * 1.1 * 3.0 / 1000.0
    three = by_label[3]
    assert three.voxel_count == 60
    assert three.volume_ml == pytest.approx(60 * voxel_ml, rel=1e-12)
    assert three.centroid_voxel == pytest.approx((3.5, 5.0, 2.0))
    expected = affine[:3, :3] @ np.array([3.5, 5.0, 2.0]) + affine[:3, 3]
    assert three.centroid_mm == pytest.approx(tuple(expected), abs=1e-9)
    assert three.box == VoxelBox((2, 3, 1), (6, 8, 4))
    one = by_label[1]
    assert one.voxel_count == 8
    assert one.centroid_voxel == pytest.approx((30.0, 10.5, 16.5))
    assert by_label[700].box == VoxelBox((20, 20, 10), (21, 21, 11))
    assert label_stats(np.zeros((3, 3, 3), dtype=np.uint8), affine) == []


def test_hemisphere_follows_the_lps_x_of_the_centroid():
    # LPS: x grows to the patient's LEFT. The side is the registry's vocabulary
    # (adjudication.lesions); the measurement gives the centroid it is decided from.
    assert hemisphere_of((12.0, 0.0, 0.0)) is Hemisphere.LEFT
    assert hemisphere_of((-12.0, 0.0, 0.0)) is Hemisphere.RIGHT
    assert hemisphere_of((0.0, 0.0, 0.0)) is Hemisphere.MIDLINE
    assert hemisphere_of((3.0, 0.0, 0.0), midline_x=5.0) is Hemisphere.RIGHT
    assert hemisphere_of((5.5, 0.0, 0.0), midline_x=5.0, tolerance_mm=1.0) is Hemisphere.MIDLINE
    affine = np.diag([1.0, 1.0, 1.0, 1.0])
    affine[:3, 3] = (-10.0, 0.0, 0.0)  # voxel i = 10 is x = 0
    labels = np.zeros((21, 5, 5), dtype=np.uint8)
    labels[14:17, 2, 2] = 1  # x = 4..6 mm: patient's left
    labels[2:5, 2, 2] = 2  # x = -8..-6 mm: patient's right
    stats = {s.label: s for s in label_stats(labels, affine)}
    assert stats[1].centroid_mm[0] == pytest.approx(5.0)
    assert hemisphere_of(stats[1].centroid_mm) is Hemisphere.LEFT
    assert hemisphere_of(stats[2].centroid_mm) is Hemisphere.RIGHT
    assert hemisphere_of(stats[1].centroid_mm, midline_x=10.0) is Hemisphere.RIGHT


def test_connected_lesions_uses_26_connectivity_and_numbers_by_size():
    mask = np.zeros((12, 12, 12), dtype=bool)
    mask[1:3, 1:3, 1:3] = True
    mask[3, 3, 3] = True  # corner contact: the same lesion with 26-connectivity
    mask[7:11, 7:11, 7:11] = True
    labelled = connected_lesions(mask)
    assert labelled.dtype == np.uint8  # the smallest unsigned type that holds the count
    assert labelled.max() == 2
    assert np.all(labelled[7:11, 7:11, 7:11] == 1)  # the largest is 1
    assert labelled[3, 3, 3] == labelled[1, 1, 1] == 2
    assert connected_lesions(mask, fully_connected=False).max() == 3
    assert np.array_equal(labelled > 0, mask)


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("patient", "count", "total_ml", "left_ml", "right_ml"),
    [("patient26", 19, 8.227, 1.566, 6.661), ("patient07", 37, 1.300, 0.644, 0.656)],
)
def test_real_masks_give_the_readme_numbers(
    shared_data: Path, patient, count, total_ml, left_ml, right_ml
):
    mask, affine = load_lps(shared_data / MNI / patient / MASK, np.uint8)
    assert affine[0, 0] > 0  # stored LAS: i runs to the patient's left, as LPS x
    lesions = connected_lesions(mask > 0)
    stats = label_stats(lesions, affine)
    assert len(stats) == count
    assert sum(s.volume_ml for s in stats) == pytest.approx(total_ml, abs=5e-4)
    sides = {s.label: hemisphere_of(s.centroid_mm) for s in stats}
    left = sum(s.volume_ml for s in stats if sides[s.label] is Hemisphere.LEFT)
    right = sum(s.volume_ml for s in stats if sides[s.label] is Hemisphere.RIGHT)
    assert left == pytest.approx(left_ml, abs=5e-4)
    assert right == pytest.approx(right_ml, abs=5e-4)
    assert all(s.centroid_mm[0] > 0 for s in stats if sides[s.label] is Hemisphere.LEFT)
