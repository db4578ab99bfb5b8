"""Rigid registration with SimpleITK recovers a known rotation and shift."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from viewers.bench import synthetic_brain
from viewers.image import ImageLayer
from viewers.registration import (
    RegistrationCancelledError,
    rigid_register,
    to_sitk_image,
    transform_to_matrix,
)

sitk = pytest.importorskip("SimpleITK")


@pytest.fixture(scope="module")
def pair() -> tuple[ImageLayer, ImageLayer, np.ndarray]:
    """A phantom, a copy rotated 5° and shifted 4 mm (by SimpleITK), and the true transform."""
    volume, _ = synthetic_brain((64, 64, 64), seed=3)
    affine = np.diag([2.0, 2.0, 2.0, 1.0])
    affine[:3, 3] = (-63.0, -60.0, -66.0)
    fixed = ImageLayer("fixed", volume, affine)
    image = to_sitk_image(fixed)
    motion = sitk.Euler3DTransform()
    motion.SetCenter(fixed.center_world.tolist())
    motion.SetRotation(np.deg2rad(5.0), 0.0, 0.0)
    motion.SetTranslation((4.0, 0.0, 0.0))
    # Resample's transform maps output points to input points: moved(p) = fixed(motion(p))
    moved = sitk.Resample(image, image, motion, sitk.sitkLinear, 0.0)
    moving = ImageLayer("moving", sitk.GetArrayFromImage(moved).T.copy(), affine)
    # so a fixed point p shows the same anatomy as the moving point motion⁻¹(p)
    return fixed, moving, np.linalg.inv(transform_to_matrix(motion))


def test_recovers_a_5_degree_4_mm_motion_within_1_mm_at_50_mm(pair):
    fixed, moving, expected = pair
    progress: list[float] = []
    found = rigid_register(fixed, moving, progress=progress.append)
    centre = fixed.center_world
    directions = np.vstack([np.eye(3), -np.eye(3), np.ones((1, 3)) / np.sqrt(3)])
    for direction in directions:
        point = centre + 50.0 * direction
        error = np.linalg.norm(
            (found[:3, :3] @ point + found[:3, 3]) - (expected[:3, :3] @ point + expected[:3, 3])
        )
        assert error < 1.0, (direction, error)
    assert np.allclose(found[:3, :3] @ found[:3, :3].T, np.eye(3), atol=1e-6)  # rigid
    assert progress
    assert progress[-1] == 1.0
    assert all(b >= a for a, b in itertools.pairwise(progress))


def test_cancel_stops_the_optimizer(pair):
    fixed, moving, _ = pair
    polls: list[int] = []

    def cancelled() -> bool:
        polls.append(1)
        return len(polls) >= 3

    with pytest.raises(RegistrationCancelledError):
        rigid_register(fixed, moving, cancelled=cancelled)
    assert len(polls) < 10


def test_sitk_image_carries_the_lps_geometry(pair):
    fixed, _, _ = pair
    image = to_sitk_image(fixed)
    index = (3, 5, 7)
    assert np.allclose(image.TransformIndexToPhysicalPoint(index), fixed.voxel_to_world(index))
    assert image[index] == pytest.approx(float(fixed.array[index]))
