"""Planes, grids and reslicing: the picture is the right slice, the right way round."""

from __future__ import annotations

import numpy as np
import pytest

from tests.viewers.conftest import axial_layer, ramp_volume, rotation
from viewers.geometry import (
    Interpolation,
    Plane,
    ScreenMapping,
    SliceGrid,
    aligned_axes,
    as_contiguous,
    layer_grid,
    orientation_letters,
    plan_slice,
    reslice,
    slice_count,
    slice_index,
    slice_range,
    slice_step_mm,
)
from viewers.image import ImageLayer


def test_plane_axes_are_radiological():
    assert np.array_equal(Plane.AXIAL.right, [1, 0, 0])  # patient Left on screen right
    assert np.array_equal(Plane.AXIAL.down, [0, 1, 0])  # Posterior down
    assert np.array_equal(Plane.CORONAL.right, [1, 0, 0])
    assert np.array_equal(Plane.CORONAL.down, [0, 0, -1])  # Inferior down
    assert np.array_equal(Plane.SAGITTAL.right, [0, 1, 0])  # Posterior right
    assert np.array_equal(Plane.SAGITTAL.down, [0, 0, -1])
    for plane in Plane:
        assert plane.right @ plane.down == 0
        assert abs(plane.normal @ plane.right) + abs(plane.normal @ plane.down) == 0


@pytest.mark.parametrize(
    ("plane", "left", "right", "top", "bottom"),
    [
        (Plane.AXIAL, "R", "L", "A", "P"),
        (Plane.CORONAL, "R", "L", "S", "I"),
        (Plane.SAGITTAL, "A", "P", "S", "I"),
    ],
)
def test_edge_letters(plane, left, right, top, bottom):
    labels = plane.edge_labels()
    assert (labels.left, labels.right, labels.top, labels.bottom) == (left, right, top, bottom)


def test_oblique_orientation_letters_name_the_dominant_axes():
    assert orientation_letters(np.array([0.9, -0.3, 0.05])) == "LA"
    assert orientation_letters(np.array([0.0, 0.0, -1.0])) == "I"


@pytest.mark.parametrize("fast_path", [True, False])
def test_axial_slice_of_an_axial_volume_is_the_numpy_slice(fast_path):
    layer = axial_layer()
    k = 7
    grid = layer_grid(layer, Plane.AXIAL, layer.voxel_to_world([3, 4, k]))
    assert grid.shape == (30, 20)  # rows run along j (posterior), columns along i (left)
    values = reslice(layer, grid, fast_path=fast_path)
    assert np.array_equal(values, layer.array[:, :, k].T)
    assert plan_slice(layer, grid).is_fast


def test_fast_path_is_a_view_without_interpolation():
    layer = axial_layer()
    grid = layer_grid(layer, Plane.SAGITTAL, layer.voxel_to_world([5, 0, 0]))
    values = reslice(layer, grid)
    assert np.shares_memory(values, layer.array)
    # sagittal: columns run posterior (+j), rows run inferior (-k)
    assert np.array_equal(values, layer.array[5, :, ::-1].T)


def _sagittal_copy(axial: ImageLayer) -> ImageLayer:
    """The same content stored as a sagittal acquisition: (i, j, k) → (A→P, S→I, R→L)."""
    data = axial.array
    _nx, _ny, nz = data.shape
    stored = np.ascontiguousarray(
        data[:, :, ::-1].transpose(1, 2, 0)
    )  # [a, b, c] = A[c, a, nz-1-b]
    dx, dy, dz = axial.spacing
    affine = np.zeros((4, 4))
    affine[:3, 0] = (0, dy, 0)  # i: anterior → posterior
    affine[:3, 1] = (0, 0, -dz)  # j: superior → inferior
    affine[:3, 2] = (dx, 0, 0)  # k: right → left
    affine[:3, 3] = axial.voxel_to_world([0, 0, nz - 1])
    affine[3, 3] = 1
    return ImageLayer("sagittal", stored, affine)


@pytest.mark.parametrize("fast_path", [True, False])
@pytest.mark.parametrize("plane", list(Plane))
def test_sagittal_acquisition_shows_the_same_pictures_as_the_axial_one(plane, fast_path):
    axial = axial_layer()
    sagittal = _sagittal_copy(axial)
    assert np.allclose(sagittal.world_corners().min(0), axial.world_corners().min(0))
    point = axial.voxel_to_world([6, 11, 4])
    assert sagittal.nearest_voxel(point) is not None
    expected = reslice(axial, layer_grid(axial, plane, point))
    grid = layer_grid(sagittal, plane, point)
    got = reslice(sagittal, grid, fast_path=fast_path)
    assert np.array_equal(got, expected)
    if plane is Plane.AXIAL:
        assert np.array_equal(got, axial.array[:, :, 4].T)


def test_general_path_matches_fast_path_in_both_interpolations_at_voxel_centres():
    layer = axial_layer()
    for plane in Plane:
        grid = layer_grid(layer, plane, layer.voxel_to_world([5, 6, 7]))
        fast = reslice(layer, grid)
        for interpolation in Interpolation:
            slow = reslice(layer, grid, interpolation, fast_path=False)
            assert np.allclose(slow, fast), (plane, interpolation)


def test_linear_interpolation_between_slices_and_fill_outside():
    layer = axial_layer()
    halfway = layer.voxel_to_world([0, 0, 2.25])
    grid = layer_grid(layer, Plane.AXIAL, halfway)
    linear = reslice(layer, grid, Interpolation.LINEAR)
    expected = 0.75 * layer.array[:, :, 2].T + 0.25 * layer.array[:, :, 3].T
    assert np.allclose(linear, expected, atol=1e-3)
    assert np.allclose(
        reslice(layer, grid, Interpolation.LINEAR, fast_path=False), expected, atol=1e-2
    )
    outside = layer_grid(layer, Plane.AXIAL, layer.voxel_to_world([0, 0, -3]))
    assert (reslice(layer, outside, fill=-7) == -7).all()


def test_oblique_layer_is_resampled_onto_a_world_axial_grid_matching_simpleitk():
    sitk = pytest.importorskip("SimpleITK")
    from viewers.registration import to_sitk_image

    affine = np.eye(4)
    affine[:3, :3] = rotation("x", 20) @ rotation("z", 7) @ np.diag([0.8, 0.9, 2.5])
    affine[:3, 3] = (-8.0, -13.0, -14.0)
    layer = ImageLayer("oblique", ramp_volume(), affine)
    assert aligned_axes(layer.affine, Plane.AXIAL) is None
    image = to_sitk_image(layer, pixel_type="int16")
    for plane in Plane:
        grid = layer_grid(layer, plane, layer.center_world + 0.37)
        assert np.allclose(grid.col_step / np.linalg.norm(grid.col_step), plane.right)
        reference = sitk.Image([grid.shape[1], grid.shape[0], 1], image.GetPixelID())
        reference.SetOrigin(grid.origin.tolist())
        reference.SetSpacing([*grid.pixel_size, 1.0])
        reference.SetDirection(np.stack([plane.right, plane.down, grid.normal], 1).ravel().tolist())
        for interpolation, itk in (
            (Interpolation.NEAREST, sitk.sitkNearestNeighbor),
            (Interpolation.LINEAR, sitk.sitkLinear),
        ):
            source = (
                image
                if interpolation is Interpolation.NEAREST
                else sitk.Cast(image, sitk.sitkFloat32)
            )
            theirs = sitk.GetArrayFromImage(
                sitk.Resample(source, reference, sitk.Transform(), itk, 0.0)
            )[0]
            ours = reslice(layer, grid, interpolation)
            if interpolation is Interpolation.NEAREST:
                assert (ours == theirs).mean() > 0.999
            else:
                assert np.allclose(ours, theirs, atol=0.05)


def test_slice_step_count_and_index():
    layer = axial_layer()  # 12 slices of 2.5 mm along z
    assert slice_step_mm(layer, Plane.AXIAL) == pytest.approx(2.5)
    assert slice_step_mm(layer, Plane.CORONAL) == pytest.approx(0.9)
    assert slice_count(layer, Plane.AXIAL) == 12
    assert slice_count(layer, Plane.SAGITTAL) == 20
    low, high = slice_range(layer, Plane.AXIAL)
    assert (low, high) == pytest.approx((-14.0, -14.0 + 11 * 2.5))
    assert slice_index(layer, Plane.AXIAL, float(layer.voxel_to_world([0, 0, 5])[2])) == 5
    tilted = ImageLayer("t", layer.array, np.diag([1.0, 1.0, 1.0, 1.0]))
    tilted_affine = np.eye(4)
    tilted_affine[:3, :3] = rotation("x", 20) @ np.diag([1.0, 1.0, 4.0])
    tilted = ImageLayer("t", layer.array, tilted_affine)
    # one voxel step along the fastest-changing index: 1 / max|A⁻¹ n| = 1 / sin 20°
    assert slice_step_mm(tilted, Plane.AXIAL) == pytest.approx(1.0 / np.sin(np.deg2rad(20)))


def test_screen_mapping_round_trip_and_grid_rectangle():
    layer = axial_layer()
    grid = layer_grid(layer, Plane.AXIAL, layer.center_world)
    mapping = ScreenMapping(Plane.AXIAL, layer.center_world, 10.0, 400, 300)
    points = mapping.to_world(np.array([0.0, 123.4, 399.0]), np.array([5.0, 150.0, 299.5]))
    assert np.allclose(mapping.to_screen(points), np.array([[0, 5], [123.4, 150], [399, 299.5]]))
    left, top, width, height = mapping.grid_rect(grid)
    assert width == pytest.approx(20 * 0.8 * 10)
    assert height == pytest.approx(30 * 0.9 * 10)
    # the centre of pixel (0, 0) of the grid is half a pixel inside the rectangle's corner
    corner = mapping.to_screen(grid.pixel_to_world(0, 0))
    assert corner == pytest.approx([left + 4.0, top + 4.5])


def test_slice_grid_from_plane_and_projection():
    grid = SliceGrid.from_plane(Plane.CORONAL, np.array([1.0, 2.0, 3.0]), 0.5, (10.0, 4.0))
    assert grid.shape == (8, 20)
    centre = grid.pixel_to_world((grid.shape[1] - 1) / 2, (grid.shape[0] - 1) / 2)
    assert np.allclose(centre, [1, 2, 3])
    assert np.allclose(grid.world_to_pixel(grid.pixel_to_world(3.0, 5.0)), [3, 5])
    moved = grid.with_depth(np.array([0.0, 7.0, 0.0]))
    assert moved.origin[1] == pytest.approx(7.0)


def test_as_contiguous_copies_strided_views_exactly():
    volume = np.asarray(ramp_volume((20, 30, 12)))
    view = volume[:, :, 5].T
    copied = as_contiguous(view)
    assert copied.flags.c_contiguous
    assert np.array_equal(copied, view)
    contiguous = np.ascontiguousarray(view)
    assert as_contiguous(contiguous) is contiguous
