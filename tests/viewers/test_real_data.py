"""Geometry on real scans from ../shared/data (skipped, with the reason, where it is absent).

The MS data are from the Ljubljana MS lesion datasets (CC-BY; Lesjak Ž et al., Neuroinformatics
2018, and Lesjak Ž et al., "Validation of white-matter lesion change detection methods on a
novel publicly available MRI image database", Neuroinformatics 2016), mirrored in
muschellij2/open_ms_data; the MPRAGE is from neurolabusc/dcm_qa_xa30 (BSD-2).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tests.viewers.conftest import load_lps
from viewers.geometry import Interpolation, Plane, layer_grid, plan_slice, reslice
from viewers.image import ImageLayer, LabelLayer
from viewers.interaction import Buttons, PointerEvent, PointerKind
from viewers.linking import ViewLink
from viewers.view import SliceView

pytestmark = pytest.mark.shared_data

LONGITUDINAL = Path("open_ms_data/longitudinal/raw/patient01")
MNI = Path("open_ms_data/cross_sectional/MNI/patient26")
MASK = "GOLD_STANDARD_N4_noneck_reduced_winsor_regtoFLAIR_regtoMNI.nii.gz"


def test_click_on_oblique_flair_lands_on_the_same_point_of_the_t2(shared_data: Path):
    flair_array, flair_affine = load_lps(
        shared_data / LONGITUDINAL / "study1_FLAIR.nii.gz", np.uint16
    )
    t2_array, t2_affine = load_lps(shared_data / LONGITUDINAL / "study1_T2W.nii.gz", np.uint16)
    flair = SliceView(
        Plane.AXIAL, image=ImageLayer("FLAIR", flair_array, flair_affine), viewport=(600, 600)
    )
    t2 = SliceView(Plane.AXIAL, image=ImageLayer("T2", t2_array, t2_affine), viewport=(500, 700))
    ViewLink([flair, t2])
    assert flair.image is not None
    assert t2.image is not None
    # both are oblique (3.2°) on different grids: neither view may use the voxel grid as is
    assert not plan_slice(flair.image, flair.slice_grid()).is_fast  # type: ignore[arg-type]
    flair.go_to_slice(flair.slice_info().count // 2)  # type: ignore[union-attr]
    x, y = 330.0, 260.0
    flair.handle_pointer(PointerEvent(PointerKind.PRESS, x, y, Buttons.LEFT, Buttons.LEFT))
    world = flair.cursor
    assert flair.world_to_view(world) == pytest.approx((x, y))
    flair_voxel = flair.readout_at(x, y).voxel
    assert flair_voxel is not None
    assert np.all(np.abs(flair.image.world_to_voxel(world) - flair_voxel) <= 0.5 + 1e-9)
    assert flair.image.volume[flair_voxel] > 0  # inside the head
    # the T2 view shows the slice through that world point ...
    assert np.allclose(t2.cursor, world)
    grid = t2.slice_grid()
    assert grid is not None
    assert abs((world - grid.origin) @ grid.normal) < 1e-9
    # ... and its voxel under the point is within one voxel of it
    tx, ty = t2.world_to_view(world)
    readout = t2.readout_at(tx, ty)
    assert np.allclose(readout.world, world)
    assert readout.voxel is not None
    offset = t2.image.world_to_voxel(world) - np.array(readout.voxel)
    assert np.all(np.abs(offset) <= 0.5 + 1e-9)
    assert np.linalg.norm(t2.image.voxel_to_world(readout.voxel) - world) < np.linalg.norm(
        t2.image.spacing
    )
    assert t2.image.volume[readout.voxel] > 0
    assert t2.render().shape[2] == 4


def test_axial_view_of_a_sagittal_mprage_matches_simpleitk(shared_data: Path):
    sitk = pytest.importorskip("SimpleITK")
    path = shared_data / "dcm_qa_xa30/Ref/5_anat-T1w_acq-tfl.nii"
    array, affine = load_lps(path, np.int16)
    layer = ImageLayer("MPRAGE", array, affine)
    image = sitk.ReadImage(str(path))
    assert np.allclose(image.GetOrigin(), affine[:3, 3], atol=1e-3)
    view = SliceView(Plane.AXIAL, image=layer)
    assert view.slice_info().count == 128  # type: ignore[union-attr]
    for fraction in (0.3, 0.5, 0.7):
        view.go_to_slice(round(fraction * 127))
        grid = view.slice_grid()
        assert grid is not None
        reference = sitk.Image([grid.shape[1], grid.shape[0], 1], image.GetPixelID())
        reference.SetOrigin(grid.origin.tolist())
        reference.SetSpacing([*grid.pixel_size, 1.0])
        reference.SetDirection(
            np.stack([Plane.AXIAL.right, Plane.AXIAL.down, grid.normal], 1).ravel().tolist()
        )
        theirs = sitk.GetArrayFromImage(
            sitk.Resample(image, reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
        )[0]
        for ours in (
            view.base_slice(),
            reslice(layer, grid, Interpolation.NEAREST, fast_path=False),
        ):
            assert ours is not None
            assert ours.shape == theirs.shape
            inner = (slice(2, -2), slice(2, -2))
            assert (ours[inner] == theirs[inner]).mean() >= 0.99
        assert (theirs > 0).mean() > 0.2  # a real slice through the head, not empty space


def test_lesions_of_the_right_hemisphere_are_on_the_screen_left(shared_data: Path):
    """Radiological display: the README's 6.661 mL right / 1.566 mL left must show R on the left."""
    mask_array, mask_affine = load_lps(shared_data / MNI / MASK, np.uint8)
    flair_array, flair_affine = load_lps(
        shared_data / MNI / "FLAIR_N4_noneck_reduced_winsor_regtoFLAIR_brain_N4_regtoMNI.nii.gz"
    )
    view = SliceView(Plane.AXIAL, image=ImageLayer("FLAIR", flair_array, flair_affine))
    mask = LabelLayer("lesions", mask_array, mask_affine)
    count = view.slice_info().count  # type: ignore[union-attr]
    screen_left = screen_right = 0
    for index in range(count):
        view.go_to_slice(index)
        grid = view.slice_grid()
        assert grid is not None
        rows, columns = np.nonzero(reslice(mask, grid))
        screen_x = view.screen_mapping().to_screen(grid.pixel_to_world(columns, rows))[:, 0]
        midline = view.world_to_view(np.zeros(3))[0]  # MNI x = 0
        screen_left += int((screen_x < midline).sum())
        screen_right += int((screen_x > midline).sum())
    voxel_ml = abs(np.linalg.det(mask_affine[:3, :3])) / 1000.0
    assert (screen_left + screen_right) * voxel_ml == pytest.approx(8.227, abs=0.001)
    assert screen_left * voxel_ml == pytest.approx(6.661, abs=0.01)
    assert screen_right * voxel_ml == pytest.approx(1.566, abs=0.01)
    assert layer_grid(mask, Plane.AXIAL, mask.center_world).shape == (218, 182)
